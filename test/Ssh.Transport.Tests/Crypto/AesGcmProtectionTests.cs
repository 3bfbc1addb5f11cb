using System.Buffers.Binary;
using System.Security.Cryptography;
using Ssh.Transport.Crypto;
using static Ssh.Transport.Tests.Crypto.AesTestSupport;

namespace Ssh.Transport.Tests.Crypto;

internal sealed class AesGcmProtectionTests
{
    private const string McGrewViegaPlaintext =
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";

    private const string McGrewViegaAad = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    private const string McGrewViegaIv = "cafebabefacedbaddecaf888";

    /// <summary>
    /// McGrew and Viega, "The Galois/Counter Mode of Operation", test cases 4 (AES-128) and 16 (AES-256), both with
    /// associated data. Their 20-byte AAD cannot pass through an SSH packet (whose AAD is the 4-byte length), so
    /// this pins the platform primitive in the exact call shape the sealer and opener use: in-place encryption and
    /// decryption of a span with a separate AAD span and 16-byte tag.
    /// </summary>
    [TestCase("feffe9928665731c6d6a8f9467308308",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
        "5bc94fbc3221a5db94fae95ae7121a47", TestName = "AesGcm_McGrewViegaTestCase4_Matches")]
    [TestCase("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b", TestName = "AesGcm_McGrewViegaTestCase16_Matches")]
    public void AesGcm_PublishedVector_Matches(string key, string ciphertext, string tag)
    {
        using var gcm = new AesGcm(Hex(key), 16);
        byte[] data = Hex(McGrewViegaPlaintext);
        byte[] computedTag = new byte[16];
        gcm.Encrypt(Hex(McGrewViegaIv), data, data, computedTag, Hex(McGrewViegaAad));
        Assert.That(Convert.ToHexString(data), Is.EqualTo(ciphertext.ToUpperInvariant()));
        Assert.That(Convert.ToHexString(computedTag), Is.EqualTo(tag.ToUpperInvariant()));
        gcm.Decrypt(Hex(McGrewViegaIv), data, computedTag, data, Hex(McGrewViegaAad));
        Assert.That(Convert.ToHexString(data), Is.EqualTo(McGrewViegaPlaintext.ToUpperInvariant()));
    }

    /// <summary>
    /// A published key and IV through our sealer: its first packet is AES-GCM under exactly that IV as nonce with
    /// the length as AAD, and the next ones under IV + 1, IV + 2 in the last 8 bytes (RFC 5647 §7.1).
    /// </summary>
    [Test]
    public void Seal_PublishedKeyAndIv_UsesIvThenIncrementedInvocationCounter()
    {
        byte[] key = Hex("feffe9928665731c6d6a8f9467308308");
        byte[] iv = Hex(McGrewViegaIv);
        using PacketSealer sealer = AesGcmProtection.CreateSealer(key, iv);
        byte[] plain = [0, 0, 0, 60, .. Hex(McGrewViegaPlaintext)];
        using var gcm = new AesGcm(key, 16);
        for (int i = 0; i < 3; i++)
        {
            byte[] nonce = Hex(McGrewViegaIv);
            BinaryPrimitives.WriteUInt64BigEndian(nonce.AsSpan(4), BinaryPrimitives.ReadUInt64BigEndian(nonce.AsSpan(4)) + (ulong)i);
            byte[] expected = new byte[60];
            byte[] expectedTag = new byte[16];
            gcm.Encrypt(nonce, plain.AsSpan(4), expected, expectedTag, plain.AsSpan(0, 4));

            byte[] wire = Seal(sealer, 0, plain);
            Assert.That(wire.AsSpan(0, 4).ToArray(), Is.EqualTo(plain[..4]), "the length stays in clear");
            Assert.That(wire.AsSpan(4, 60).ToArray(), Is.EqualTo(expected), $"packet {i}");
            Assert.That(wire.AsSpan(64).ToArray(), Is.EqualTo(expectedTag), $"packet {i} tag");
        }
    }

    [Test]
    public void Seal_InvocationCounterAtMaximum_WrapsWithoutTouchingFixedField()
    {
        byte[] key = new byte[16];
        byte[] iv = Hex("01020304ffffffffffffffff");
        using PacketSealer sealer = AesGcmProtection.CreateSealer(key, iv);
        using PacketOpener afterWrap = AesGcmProtection.CreateOpener(key, Hex("010203040000000000000000"));
        byte[] plain = BuildPacket(sealer, [94, 1, 2, 3], new Random(1));
        Seal(sealer, 0, plain);
        byte[] second = Seal(sealer, 1, plain);
        Assert.That(Open(afterWrap, 1, second, inPlace: true), Is.EqualTo(plain));
    }

    /// <summary>A packet sealed with invocation counter n opens only with counter n, and a failure leaves the counter.</summary>
    [Test]
    public void TryOpen_CounterAdvancesOncePerOpenedPacket()
    {
        var random = new Random(5);
        byte[] key = new byte[32];
        byte[] iv = new byte[12];
        random.NextBytes(key);
        random.NextBytes(iv);
        using PacketSealer sealer = AesGcmProtection.CreateSealer(key, iv);
        using PacketOpener opener = AesGcmProtection.CreateOpener(key, iv);
        byte[][] plains = [.. Enumerable.Range(0, 3).Select(i => BuildPacket(sealer, RandomPayload(random, 10 + i), random))];
        byte[][] wires = [.. plains.Select((p, i) => Seal(sealer, (uint)i, p))];

        Assert.That(Open(opener, 1, wires[1], inPlace: false), Is.Null, "counter n+1 packet under counter n");
        byte[] tampered = (byte[])wires[0].Clone();
        tampered[^1] ^= 1;
        Assert.That(Open(opener, 0, tampered, inPlace: true), Is.Null);

        // Neither failure moved the counter.
        Assert.That(Open(opener, 0, wires[0], inPlace: true), Is.EqualTo(plains[0]));
        Assert.That(Open(opener, 1, wires[0], inPlace: true), Is.Null, "the same packet twice");
        Assert.That(Open(opener, 1, wires[1], inPlace: false), Is.EqualTo(plains[1]));
        Assert.That(Open(opener, 2, wires[2], inPlace: true), Is.EqualTo(plains[2]));
    }

    /// <summary>
    /// Our AES-NI implementation (the default where the hardware has it) and the BCL's <see cref="AesGcm"/> seal
    /// byte-identical packets across a run of invocation counters, packet sizes up to 256 KiB and both key sizes,
    /// and each opens what the other sealed.
    /// </summary>
    [Test]
    public void OwnAndBcl_SealIdenticalPackets_AndOpenEachOther([Values(16, 32)] int keySize)
    {
        Assume.That(Ssh.Transport.Crypto.Primitives.AesGcmNi.IsSupported, "AES-NI/PCLMULQDQ not on this machine");
        var random = new Random(keySize);
        byte[] key = new byte[keySize];
        byte[] iv = new byte[12];
        random.NextBytes(key);
        random.NextBytes(iv);
        using PacketSealer own = AesGcmProtection.CreateSealer(key, iv);
        using PacketSealer bcl = AesGcmProtection.CreateSealer(key, iv, useBcl: true);
        using PacketOpener ownOpener = AesGcmProtection.CreateOpener(key, iv);
        using PacketOpener bclOpener = AesGcmProtection.CreateOpener(key, iv, useBcl: true);
        int[] sizes = [1, 2, 11, 12, 100, 200, 1000, 4096, 32768, 40000, 262000];
        for (int i = 0; i < sizes.Length * 2; i++)
        {
            byte[] plain = BuildPacket(own, RandomPayload(random, sizes[i % sizes.Length]), random);
            byte[] ownWire = Seal(own, (uint)i, plain);
            byte[] bclWire = Seal(bcl, (uint)i, plain);
            Assert.That(ownWire, Is.EqualTo(bclWire), $"packet {i}, {plain.Length} bytes");
            Assert.That(Open(bclOpener, (uint)i, ownWire, inPlace: i % 2 == 0), Is.EqualTo(plain), $"BCL opens ours, packet {i}");
            Assert.That(Open(ownOpener, (uint)i, bclWire, inPlace: i % 2 == 1), Is.EqualTo(plain), $"ours opens the BCL's, packet {i}");
        }
    }

    [Test]
    public void Create_BadSizes_Throw()
    {
        Assert.Throws<ArgumentException>(() => AesGcmProtection.CreateSealer(new byte[24], new byte[12]));
        Assert.Throws<ArgumentException>(() => AesGcmProtection.CreateOpener(new byte[16], new byte[16]));
    }
}
