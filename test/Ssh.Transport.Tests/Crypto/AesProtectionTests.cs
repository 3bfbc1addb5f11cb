using System.Buffers.Binary;
using Ssh.Transport.Crypto;
using Ssh.Transport.Crypto.Primitives;
using static Ssh.Transport.Tests.Crypto.AesTestSupport;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>Properties every AES-GCM, CTR+HMAC, CBC+HMAC construction must have, each checked for all of them.</summary>
internal sealed class AesProtectionTests
{
    private static IEnumerable<TestCaseData> Constructions() => Construction.All.Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    private static IEnumerable<TestCaseData> CtrConstructionsAndWidths()
    {
        foreach (Construction c in Construction.All.Where(c => c.Scheme == Scheme.Ctr))
        {
            foreach (XorWidth width in new[] { XorWidth.Scalar, XorWidth.Vector128, XorWidth.Vector256, XorWidth.Vector512 })
            {
                yield return new TestCaseData(c, width).SetArgDisplayNames(c.Name, width.ToString());
            }
        }
    }

    private static int Seed(Construction c) => c.Seed;

    [TestCaseSource(nameof(Constructions))]
    public void Properties_Construction_MatchSpecification(Construction c)
    {
        Keys keys = c.RandomKeys(new Random(1));
        using PacketSealer sealer = c.CreateSealer(keys);
        using PacketOpener opener = c.CreateOpener(keys);
        int cipherBlock = c.Scheme == Scheme.TripleDes ? 8 : 16;
        int tag = c.IsGcm ? 16 : SshHmac.KeySize(c.Mac);
        foreach (PacketProtection p in new PacketProtection[] { sealer, opener })
        {
            Assert.That(p.Name, Is.EqualTo(c.Name));
            Assert.That(p.BlockSize, Is.EqualTo(Math.Max(8, cipherBlock)));
            Assert.That(p.TagSize, Is.EqualTo(tag));
            Assert.That(p.AlignmentIncludesLengthField, Is.EqualTo(c.LengthEncrypted));
            Assert.That(p.IsPassThrough, Is.False);

            // OpenSSH: 2^32 blocks for 16-byte blocks, 1 GiB for 3DES (RFC 4344 §3.2).
            Assert.That(p.MaxBytesPerKey, Is.EqualTo(cipherBlock == 16 ? 64L << 30 : 1L << 30));
        }

        Assert.That(opener.LengthPrefixSize, Is.EqualTo(c.LengthEncrypted ? cipherBlock : 4));
        Assert.That(opener.DiscardsOnBadLength, Is.EqualTo(c.Scheme is Scheme.Cbc or Scheme.TripleDes && !c.Etm));
    }

    /// <summary>
    /// Differential: our sealer produces byte for byte what an independent BouncyCastle implementation does, over a
    /// long run of packets (so streams, chains and counters advance), payloads from 1 byte to 256 KiB, odd sizes
    /// included; our opener opens the reference's packets, alternately in place and out of place.
    /// </summary>
    [TestCaseSource(nameof(Constructions))]
    public void SealAndOpen_RandomPacketsVersusBouncyCastle_Identical(Construction c)
    {
        var random = new Random(Seed(c));
        Keys keys = c.RandomKeys(random);
        using PacketSealer sealer = c.CreateSealer(keys);
        using PacketOpener opener = c.CreateOpener(keys);
        var reference = new ReferenceSealer(c, keys);
        RunDifferential(random, sealer, opener, reference, c.Name);
    }

    /// <summary>The same differential with each XOR loop of the CTR forced: scalar, 128, 256 and 512-bit vectors.</summary>
    [TestCaseSource(nameof(CtrConstructionsAndWidths))]
    public void SealAndOpen_ForcedXorWidthVersusBouncyCastle_Identical(Construction c, XorWidth width)
    {
        var random = new Random(Seed(c) ^ (int)width);
        Keys keys = c.RandomKeys(random);
        using PacketSealer sealer = c.CreateSealer(keys, width);
        using PacketOpener opener = c.CreateOpener(keys, width);
        var reference = new ReferenceSealer(c, keys);
        RunDifferential(random, sealer, opener, reference, $"{c.Name} {width}");
    }

    private static void RunDifferential(Random random, PacketSealer sealer, PacketOpener opener, ReferenceSealer reference, string what)
    {
        int[] sizes = [1, 2, 15, 16, 17, 31, 33, 100, 255, 1000, 4097, 16383, 35000, 65536, 262000, 3, 9];
        uint sequence = (uint)random.Next(int.MinValue, int.MaxValue) | 0xffff_fff0; // wraps within the run
        int index = 0;
        foreach (int size in sizes.Concat(Enumerable.Range(0, 30).Select(_ => random.Next(1, 2000))))
        {
            byte[] plain = BuildPacket(sealer, RandomPayload(random, size), random, extraBlocks: index % 4 == 0 ? 2 : 0);
            byte[] expected = reference.Seal(sequence, plain);
            byte[] wire = Seal(sealer, sequence, plain);
            Assert.That(wire, Is.EqualTo(expected), $"{what}: packet {index} (payload {size}) sealed differently");

            byte[]? opened = Open(opener, sequence, expected, inPlace: index % 2 == 0);
            Assert.That(opened, Is.EqualTo(plain), $"{what}: packet {index} (payload {size}) did not open");
            sequence++;
            index++;
        }
    }

    /// <summary>
    /// Every single-bit flip of a sealed packet is caught. Ciphertext and tag flips always fail TryOpen. A flip of
    /// the length: with GCM and EtM the length is authenticated, so TryOpen of the packet as sent fails; with MtE
    /// the decrypted length changes (a CTR bit flip flips exactly that bit; CBC garbles the block), which the reader
    /// rejects or frames differently, and if it happened to stay the same TryOpen must fail.
    /// </summary>
    [TestCaseSource(nameof(Constructions))]
    public void TryOpen_EverySingleBitFlip_Fails(Construction c)
    {
        var random = new Random(Seed(c));
        Keys keys = c.RandomKeys(random);
        byte[] plain;
        byte[] wire;
        using (PacketSealer sealer = c.CreateSealer(keys))
        {
            plain = BuildPacket(sealer, RandomPayload(random, 20), random);
            wire = Seal(sealer, 77, plain);
        }

        int packetLength = plain.Length - 4;
        using (PacketOpener clean = c.CreateOpener(keys))
        {
            Assert.That(Open(clean, 77, wire, inPlace: true), Is.EqualTo(plain), "the unmodified packet opens");
        }

        int lengthChanged = 0;
        for (int bit = 0; bit < wire.Length * 8; bit++)
        {
            byte[] flipped = (byte[])wire.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            using PacketOpener opener = c.CreateOpener(keys);
            uint length = opener.DecryptLength(77, flipped.AsSpan(0, opener.LengthPrefixSize));
            bool inLengthField = bit < 32;
            if (length != (uint)packetLength)
            {
                Assert.That(c.LengthEncrypted || inLengthField, Is.True, $"bit {bit}: only the length field may change the length");
                lengthChanged++;
                if (c.LengthEncrypted)
                {
                    continue; // The reader rejects or reframes; the framing differs from the packet sent.
                }
            }

            bool inPlace = bit % 2 == 0;
            Assert.That(OpenFramed(opener, 77, flipped, packetLength, inPlace), Is.Null, $"bit {bit} of {wire.Length * 8} went unnoticed");
        }

        // Every length-field bit must have changed the reported length (in clear, or CTR-decrypted).
        Assert.That(lengthChanged, Is.GreaterThanOrEqualTo(32));
    }

    /// <summary>The MAC covers the sequence number: a packet sealed as n opens only as n.</summary>
    [TestCaseSource(nameof(Constructions))]
    public void TryOpen_OtherSequenceNumber_FailsForMacConstructions(Construction c)
    {
        var random = new Random(Seed(c));
        Keys keys = c.RandomKeys(random);
        using PacketSealer sealer = c.CreateSealer(keys);
        byte[] plain = BuildPacket(sealer, RandomPayload(random, 50), random);
        byte[] wire = Seal(sealer, 1000, plain);

        foreach (uint other in new uint[] { 999, 1001, 0, uint.MaxValue })
        {
            using PacketOpener opener = c.CreateOpener(keys);
            byte[]? opened = Open(opener, other, wire, inPlace: false);
            if (c.IsGcm)
            {
                // RFC 5647: the nonce is the invocation counter, not the sequence number.
                Assert.That(opened, Is.EqualTo(plain));
            }
            else
            {
                Assert.That(opened, Is.Null, $"opened as sequence number {other}");
            }
        }

        using PacketOpener right = c.CreateOpener(keys);
        Assert.That(Open(right, 1000, wire, inPlace: false), Is.EqualTo(plain));
    }

    /// <summary>
    /// Per-packet state (GCM invocation counter, CTR keystream, CBC chain) advances exactly once per packet: packet k
    /// opens only after packets 0..k-1 were opened; an opener that skips one does not open (GCM) or does not recover
    /// the plaintext (streams).
    /// </summary>
    [TestCaseSource(nameof(Constructions))]
    public void TryOpen_PacketOutOfOrder_DoesNotRecoverPlaintext(Construction c)
    {
        var random = new Random(Seed(c));
        Keys keys = c.RandomKeys(random);
        var plains = new List<byte[]>();
        var wires = new List<byte[]>();
        using (PacketSealer sealer = c.CreateSealer(keys))
        {
            for (uint i = 0; i < 4; i++)
            {
                plains.Add(BuildPacket(sealer, RandomPayload(random, 40 + (int)i), random));
                wires.Add(Seal(sealer, i, plains[^1]));
            }
        }

        using (PacketOpener inOrder = c.CreateOpener(keys))
        {
            for (int i = 0; i < 4; i++)
            {
                Assert.That(Open(inOrder, (uint)i, wires[i], inPlace: true), Is.EqualTo(plains[i]), $"packet {i} in order");
            }
        }

        using (PacketOpener skipping = c.CreateOpener(keys))
        {
            // Packet 1 first, with its right sequence number: the state is still at packet 0.
            byte[]? opened = Open(skipping, 1, wires[1], inPlace: false);
            Assert.That(opened, Is.Not.EqualTo(plains[1]));
            if (c.IsGcm || c.LengthEncrypted)
            {
                Assert.That(opened, Is.Null, "authentication (GCM nonce, or MAC over the plaintext) must fail");
            }
        }
    }

    [TestCaseSource(nameof(Constructions))]
    public void TryOpen_InPlaceAndOutOfPlace_SamePlaintext(Construction c)
    {
        var random = new Random(Seed(c));
        Keys keys = c.RandomKeys(random);
        using PacketSealer sealer = c.CreateSealer(keys);
        using PacketOpener inPlace = c.CreateOpener(keys);
        using PacketOpener outOfPlace = c.CreateOpener(keys);
        for (uint i = 0; i < 20; i++)
        {
            byte[] plain = BuildPacket(sealer, RandomPayload(random, random.Next(1, 3000)), random);
            byte[] wire = Seal(sealer, i, plain);
            byte[]? a = Open(inPlace, i, wire, inPlace: true);
            byte[]? b = Open(outOfPlace, i, wire, inPlace: false);
            Assert.That(a, Is.EqualTo(plain));
            Assert.That(b, Is.EqualTo(a));
        }
    }

    [TestCaseSource(nameof(Constructions))]
    public void SealAndOpen_ManyPackets_AllocateNothing(Construction c)
    {
        var random = new Random(Seed(c));
        Keys keys = c.RandomKeys(random);
        using PacketSealer sealer = c.CreateSealer(keys);
        using PacketOpener opener = c.CreateOpener(keys);
        byte[] buffer = BuildPacket(sealer, RandomPayload(random, 1000), random);
        int packetLength = buffer.Length - 4;
        byte[] wire = new byte[buffer.Length + sealer.TagSize];
        byte[] destination = new byte[packetLength];

        void RoundTrip(uint sequence)
        {
            buffer.CopyTo(wire, 0);
            sealer.Seal(sequence, wire.AsSpan(0, buffer.Length), wire.AsSpan(buffer.Length));
            opener.DecryptLength(sequence, wire.AsSpan(0, opener.LengthPrefixSize));
            bool ok = opener.TryOpen(sequence, wire.AsSpan(0, buffer.Length), wire.AsSpan(buffer.Length), sequence % 2 == 0 ? wire.AsSpan(4, packetLength) : destination);
            if (!ok)
            {
                throw new AssertionException("round trip failed");
            }
        }

        RoundTrip(0);
        RoundTrip(1);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (uint i = 2; i < 500; i++)
        {
            RoundTrip(i);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [TestCaseSource(nameof(Constructions))]
    public void TryOpen_DestinationPartiallyOverlapping_Throws(Construction c)
    {
        var random = new Random(Seed(c));
        Keys keys = c.RandomKeys(random);
        using PacketSealer sealer = c.CreateSealer(keys);
        using PacketOpener opener = c.CreateOpener(keys);
        byte[] plain = BuildPacket(sealer, RandomPayload(random, 40), random);
        byte[] wire = Seal(sealer, 0, plain);
        int packetLength = plain.Length - 4;
        opener.DecryptLength(0, wire.AsSpan(0, opener.LengthPrefixSize));
        byte[] big = new byte[wire.Length + 8];
        wire.CopyTo(big, 0);
        Assert.Throws<ArgumentException>(() => opener.TryOpen(0, big.AsSpan(0, plain.Length), big.AsSpan(plain.Length, opener.TagSize), big.AsSpan(8, packetLength)));
    }
}
