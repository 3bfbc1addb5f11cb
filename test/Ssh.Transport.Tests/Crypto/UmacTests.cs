using System.Buffers.Binary;
using System.Reflection;
using System.Text;
using Ssh.Transport.Crypto;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>UMAC (RFC 4418) as umac-64/umac-128@openssh.com use it: the RFC's vectors, streaming, the SSH nonce, keys.</summary>
internal sealed class UmacTests
{
    private static readonly byte[] s_key = Encoding.ASCII.GetBytes("abcdefghijklmnop");
    private static readonly byte[] s_nonce = Encoding.ASCII.GetBytes("bcdefghi");

    /// <summary>
    /// RFC 4418 Appendix: K = "abcdefghijklmnop", N = "bcdefghi", the 32-, 64- and 96-bit tags. The 'a' * 2^25 row,
    /// corrected by the errata, is in <see cref="Compute_PastTheRamp_MatchesErrataAndNettle"/>.
    /// </summary>
    private static IEnumerable<TestCaseData> Rfc4418Vectors()
    {
        (string Name, string Part, int Count, string Tag32, string Tag64, string Tag96)[] rows =
        [
            ("<empty>", "", 0, "113145FB", "6E155FAD26900BE1", "32FEDB100C79AD58F07FF764"),
            ("'a' * 3", "a", 3, "3B91D102", "44B5CB542F220104", "185E4FE905CBA7BD85E4C2DC"),
            ("'a' * 2^10", "a", 1 << 10, "599B350B", "26BF2F5D60118BD9", "7A54ABE04AF82D60FB298C3C"),
            ("'a' * 2^15", "a", 1 << 15, "58DCF532", "27F8EF643B0D118D", "7B136BD911E4B734286EF2BE"),
            ("'a' * 2^20", "a", 1 << 20, "DB6364D1", "A4477E87E9F55853", "F8ACFA3AC31CFEEA047F7B11"),
            ("'abc' * 1", "abc", 1, "ABF3A3A0", "D4D7B9F6BD4FBFCF", "883C3D4B97A61976FFCF2323"),
            ("'abc' * 500", "abc", 500, "ABEB3C8B", "D4CF26DDEFD5C01A", "8824A260C53C66A36C9260A6"),
        ];
        foreach (var row in rows)
        {
            byte[] message = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(row.Part, row.Count)));
            yield return new TestCaseData(message, 4, row.Tag32).SetArgDisplayNames(row.Name, "32");
            yield return new TestCaseData(message, 8, row.Tag64).SetArgDisplayNames(row.Name, "64");
            yield return new TestCaseData(message, 12, row.Tag96).SetArgDisplayNames(row.Name, "96");

            // UMAC-128 runs one more UHASH iteration than UMAC-96 and takes the whole pad block, of which UMAC-96
            // takes the first 12 bytes: its first 12 bytes are the 96-bit tag (the last 4 come from the C oracle).
            yield return new TestCaseData(message, 16, row.Tag96).SetArgDisplayNames(row.Name, "128 (first 96 bits)");
        }
    }

    [TestCaseSource(nameof(Rfc4418Vectors))]
    public void Compute_Rfc4418Vector_MatchesTag(byte[] message, int tagSize, string expected)
    {
        foreach (SimdPath path in new[] { SimdPath.Scalar, SimdPath.Vector256 }.Where(Umac.IsSupported))
        {
            using var umac = new Umac(s_key, tagSize) { Path = path };
            byte[] tag = new byte[tagSize];
            umac.Compute(s_nonce, message, tag);
            Assert.That(Convert.ToHexString(tag)[..expected.Length], Is.EqualTo(expected), path.ToString());
        }
    }

    [Test]
    public void Compute_SameInstanceReused_EachTagAsFromAFreshInstance()
    {
        // The PDF keeps its last AES block (umac-64 shares one between nonces 2n and 2n+1); the hash state is reset
        // per message. Tags in any order from one instance equal those of fresh instances.
        var random = new Random(4418);
        foreach (int tagSize in new[] { 8, 16 })
        {
            using var reused = new Umac(s_key, tagSize);
            foreach (ulong nonce in new ulong[] { 0, 1, 2, 3, 3, 2, 7, 6, 0x1_0000_0001, 0x1_0000_0000, ulong.MaxValue, 5 })
            {
                byte[] message = new byte[random.Next(0, 3000)];
                random.NextBytes(message);
                byte[] tag = new byte[tagSize];
                byte[] fresh = new byte[tagSize];
                reused.Compute(nonce, message, default, tag);
                using (var once = new Umac(s_key, tagSize))
                {
                    once.Compute(nonce, message, default, fresh);
                }

                Assert.That(tag, Is.EqualTo(fresh), $"umac-{tagSize * 8}, nonce {nonce}, {message.Length} bytes");
            }
        }
    }

    [TestCase(8)]
    [TestCase(16)]
    public void Compute_ScalarAndVectorPaths_SameTags(int tagSize)
    {
        if (!Umac.IsSupported(SimdPath.Vector256))
        {
            Assert.Ignore("No AVX2 here: only the scalar NH loop runs.");
        }

        var random = new Random(256 + tagSize);
        byte[] key = new byte[16];
        random.NextBytes(key);
        using var scalar = new Umac(key, tagSize) { Path = SimdPath.Scalar };
        using var vector = new Umac(key, tagSize) { Path = SimdPath.Vector256 };
        for (int length = 0; length < 4200; length += random.Next(1, 40))
        {
            byte[] message = new byte[length];
            random.NextBytes(message);
            byte[] a = new byte[tagSize];
            byte[] b = new byte[tagSize];
            scalar.Compute((ulong)length, message, default, a);
            vector.Compute((ulong)length, message, default, b);
            Assert.That(b, Is.EqualTo(a), $"{length} bytes");
        }
    }

    [TestCase(8)]
    [TestCase(16)]
    public void Compute_MessageSplitAnywhere_SameTag(int tagSize)
    {
        // SSH gives the MAC the packet in two parts (the MtE opener: the kept first block, then the rest).
        var random = new Random(tagSize);
        using var umac = new Umac(s_key, tagSize);
        foreach (int length in new[] { 0, 1, 31, 32, 33, 63, 64, 65, 1023, 1024, 1025, 2048, 2049, 3100 })
        {
            byte[] message = new byte[length];
            random.NextBytes(message);
            byte[] whole = new byte[tagSize];
            umac.Compute(42, message, default, whole);
            for (int split = 0; split <= length; split += length > 100 ? 7 : 1)
            {
                byte[] parts = new byte[tagSize];
                umac.Compute(42, message.AsSpan(0, split), message.AsSpan(split), parts);
                Assert.That(parts, Is.EqualTo(whole), $"{length} bytes split at {split}");
            }
        }
    }

    [TestCase(8)]
    [TestCase(16)]
    public void Compute_SshSequenceNumber_IsTheBigEndian64BitNonce(int tagSize)
    {
        // OpenSSH mac.c: nonce = put_u64(seqno), the tag over the packet alone (no seqno prefix, unlike HMAC).
        using var umac = new Umac(s_key, tagSize);
        byte[] packet = Encoding.ASCII.GetBytes("a packet of some length, say forty bytes");
        foreach (uint sequence in new uint[] { 0, 1, 2, 0x01020304, uint.MaxValue })
        {
            byte[] nonce = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(nonce, sequence);
            byte[] expected = new byte[tagSize];
            umac.Compute(nonce, packet, expected);
            byte[] tag = new byte[tagSize];
            umac.Compute(sequence, packet, default, tag);
            Assert.That(tag, Is.EqualTo(expected), $"sequence {sequence}");
            Assert.That(umac.Verify(sequence, packet, default, tag), Is.True);
            Assert.That(umac.Verify(sequence + 1, packet, default, tag), Is.False);
        }
    }

    [TestCase(8)]
    [TestCase(16)]
    public void Verify_AnyBitFlipped_ReturnsFalse(int tagSize)
    {
        using var umac = new Umac(s_key, tagSize);
        byte[] message = new byte[1500];
        new Random(7).NextBytes(message);
        byte[] tag = new byte[tagSize];
        umac.Compute(9, message, default, tag);
        Assert.That(umac.Verify(9, message, default, tag), Is.True);
        for (int bit = 0; bit < tagSize * 8; bit++)
        {
            tag[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.That(umac.Verify(9, message, default, tag), Is.False, $"tag bit {bit}");
            tag[bit / 8] ^= (byte)(1 << (bit % 8));
        }

        foreach (int index in new[] { 0, 31, 32, 1023, 1024, 1499 })
        {
            message[index] ^= 1;
            Assert.That(umac.Verify(9, message, default, tag), Is.False, $"message byte {index}");
            message[index] ^= 1;
        }

        Assert.That(umac.Verify(9, message, default, tag.AsSpan(0, tagSize - 1)), Is.False, "short tag");
    }

    /// <summary>
    /// Past 16 MiB (2^14 NH chunks) POLY switches to the 128-bit prime (§5.3), which OpenSSH's umac.c lacks. The
    /// expected tags are those of Nettle's umac32/64/96/128 (an independent implementation that has this switch), K
    /// and N as in the RFC, on both sides of the switch. For 'a' * 2^25 the RFC's appendix prints 2E2DBC36860A0A5F
    /// (64-bit); Nettle gives FACA46F856E9B45F, the value implementations that cite the RFC's errata for that row
    /// test against, and so do we.
    /// </summary>
    [TestCase(1 << 24, "A1B74376", "DE9359204D2ECB26", "8278DD9D67C76D9F9A3C5386EF92298C")]
    [TestCase((1 << 24) + 1, "6C8A252C", "13AE3F7A2D2255B8", "4F45BBC707CBF301094B6F7A9950E945")]
    [TestCase((1 << 24) + 1024, "264012C8", "5964089EBB9D26F0", "058F8C2391748049C4E3D65D48FD95FD")]
    [TestCase((1 << 24) + 2048, "B12CBEFD", "CE08A4AB1F08E3F0", "92E3201635E14549D7AEABF60AA16B09")]
    [TestCase(16780000, "5818003F", "273C1A69EDBB290A", "7BD79ED4C7528FB3A99D0137161196D7")]
    [TestCase(1 << 25, "85EE5CAE", "FACA46F856E9B45F", "A621C2457C0012E64F3FDAE9E7E1870C")]
    public void Compute_PastTheRamp_MatchesErrataAndNettle(int length, string tag32, string tag64, string tag128)
    {
        byte[] message = new byte[length];
        message.AsSpan().Fill((byte)'a');
        foreach ((int size, string expected) in new[] { (4, tag32), (8, tag64), (12, tag128[..24]), (16, tag128) })
        {
            using var umac = new Umac(s_key, size);
            byte[] tag = new byte[size];
            umac.Compute(s_nonce, message, tag);
            Assert.That(Convert.ToHexString(tag), Is.EqualTo(expected), $"{size * 8}-bit tag");

            // Streamed in two parts, split off the chunk grid, the same.
            umac.Compute(BinaryPrimitives.ReadUInt64BigEndian(s_nonce), message.AsSpan(0, (length / 2) + 13), message.AsSpan((length / 2) + 13), tag);
            Assert.That(Convert.ToHexString(tag), Is.EqualTo(expected), $"{size * 8}-bit tag, in two parts");
        }
    }

    [Test]
    public void Constructor_WrongSizes_Throw()
    {
        Assert.That(() => new Umac(new byte[15], 8), Throws.ArgumentException);
        Assert.That(() => new Umac(new byte[32], 8), Throws.ArgumentException);
        Assert.That(() => new Umac(new byte[16], 10), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [TestCase(8)]
    [TestCase(16)]
    public void Compute_Repeated_AllocatesNothing(int tagSize)
    {
        using var umac = new Umac(s_key, tagSize);
        byte[] data = new byte[1500];
        byte[] output = new byte[tagSize];
        static long Run(Umac mac, byte[] data, byte[] output)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (uint i = 0; i < 1000; i++)
            {
                mac.Compute(i, data, data.AsSpan(0, 33), output);
                mac.Verify(i, data, default, output);
            }

            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Run(umac, data, output);
        Assert.That(Run(umac, data, output), Is.Zero);
    }

    [TestCase("umac-64@openssh.com")]
    [TestCase("umac-128@openssh.com")]
    [TestCase("umac-64-etm@openssh.com")]
    [TestCase("umac-128-etm@openssh.com")]
    public void SealAndOpen_UmacSuite_AllocateNothingPerPacket(string macName)
    {
        MacAlgorithm mac = MacAlgorithm.Find(macName)!;
        CipherAlgorithm cipher = CipherAlgorithm.Find("aes128-ctr")!;
        using PacketSealer sealer = cipher.CreateSealer(new byte[16], new byte[16], mac, new byte[16]);
        using PacketOpener opener = cipher.CreateOpener(new byte[16], new byte[16], mac, new byte[16]);
        var random = new Random(3);
        byte[] plain = AesTestSupport.BuildPacket(sealer, AesTestSupport.RandomPayload(random, 1200), random);
        byte[] packet = new byte[plain.Length];
        byte[] tag = new byte[sealer.TagSize];
        uint sequence = 0;
        int opened = 0;
        long Run()
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 200; i++)
            {
                plain.CopyTo(packet, 0);
                sealer.Seal(sequence, packet, tag);
                opener.DecryptLength(sequence, packet.AsSpan(0, opener.LengthPrefixSize));
                opened += opener.TryOpen(sequence, packet, tag, packet.AsSpan(4)) ? 1 : 0;
                sequence++;
            }

            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Run();
        Assert.That(Run(), Is.Zero);
        Assert.That(opened, Is.EqualTo(400));
    }

    [Test]
    public void Dispose_ZeroesEverySubkey()
    {
        var umac = new Umac(s_key, 16);
        byte[] tag = new byte[16];
        umac.Compute(1, new byte[100], default, tag);
        string[] fields = ["_nhKey", "_polyKey", "_polyKey128", "_ipKey", "_ipTranslate", "_pdfInput", "_pdfOutput", "_nh", "_poly", "_pending"];
        bool AllZero(string name) =>
            ((Array)typeof(Umac).GetField(name, BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(umac)!)
                .Cast<object>().All(v => v is UInt128 wide ? wide == 0 : Convert.ToUInt64(v, null) == 0);
        Assert.That(fields.Take(5).Where(AllZero), Is.Empty, "subkeys before Dispose");

        umac.Dispose();

        Assert.That(fields.Where(name => !AllZero(name)), Is.Empty, "not zeroed by Dispose");

        Assert.That(() => umac.Compute(1, new byte[1], default, tag), Throws.InstanceOf<ObjectDisposedException>());
    }

    [Test]
    public void MacTable_Umac_SizesAndNamesAsOpenSsh()
    {
        // OpenSSH mac.c: { "umac-64@openssh.com", SSH_UMAC, 0, 0, 128, 64, 0 } -- key 128 bits, tag 64 bits.
        (string Name, int Tag, bool Etm)[] expected =
        [
            ("umac-64@openssh.com", 8, false), ("umac-128@openssh.com", 16, false),
            ("umac-64-etm@openssh.com", 8, true), ("umac-128-etm@openssh.com", 16, true),
        ];
        foreach ((string name, int tagSize, bool etm) in expected)
        {
            MacAlgorithm mac = MacAlgorithm.Find(name)!;
            Assert.That((mac.KeySize, mac.TagSize, mac.IsEtm, mac.IsLegacy), Is.EqualTo((16, tagSize, etm, false)), name);
            using PacketSealer sealer = CipherAlgorithm.Find("aes128-ctr")!.CreateSealer(new byte[16], new byte[16], mac, new byte[16]);
            Assert.That((sealer.Name, sealer.TagSize, sealer.AlignmentIncludesLengthField), Is.EqualTo(($"aes128-ctr {name}", tagSize, !etm)));
        }
    }

    [TestCase("umac-64-etm@openssh.com")]
    [TestCase("umac-128-etm@openssh.com")]
    public void EtmOpener_BadTag_RejectsBeforeDecrypting(string macName)
    {
        // PROTOCOL §1.5: the tag over seqnr-nonce and length || ciphertext is checked before anything is decrypted.
        MacAlgorithm mac = MacAlgorithm.Find(macName)!;
        CipherAlgorithm cipher = CipherAlgorithm.Find("aes128-ctr")!;
        var random = new Random(11);
        byte[] key = new byte[16], iv = new byte[16], macKey = new byte[16];
        random.NextBytes(key);
        random.NextBytes(iv);
        random.NextBytes(macKey);
        using PacketSealer sealer = cipher.CreateSealer(key, iv, mac, macKey);
        using PacketOpener opener = cipher.CreateOpener(key, iv, mac, macKey);
        byte[] plain = AesTestSupport.BuildPacket(sealer, AesTestSupport.RandomPayload(random, 100), random);
        byte[] wire = AesTestSupport.Seal(sealer, 5, plain);
        byte[] bad = (byte[])wire.Clone();
        bad[^1] ^= 0x80;

        byte[] destination = new byte[plain.Length - 4];
        Assert.That(opener.DecryptLength(5, bad.AsSpan(0, 4)), Is.EqualTo((uint)(plain.Length - 4)));
        Assert.That(opener.TryOpen(5, bad.AsSpan(0, plain.Length), bad.AsSpan(plain.Length), destination), Is.False);
        Assert.That(destination, Is.All.Zero, "nothing was decrypted");

        // The cipher stream did not move either: the genuine packet still opens.
        Assert.That(AesTestSupport.Open(opener, 5, wire, inPlace: false), Is.EqualTo(plain));
    }
}
