using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;
using Ssh.Transport.Crypto.Primitives;
using static Ssh.Transport.Tests.Crypto.AesTestSupport;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>
/// Our AES-GCM (AES-NI + PCLMULQDQ) proven three ways: the published McGrew–Viega vectors, differential runs against
/// both the BCL's <see cref="AesGcm"/> (OpenSSL) and BouncyCastle's <see cref="GcmBlockCipher"/> on random inputs,
/// each GHASH path forced; the real peers in the interop suite are the third.
/// </summary>
internal sealed class AesGcmNiTests
{
    private static readonly TestPath[] Paths = [TestPath.Vector128, TestPath.Vector256];

    // Lengths around the eight-block stride and the block size, empty, odd, and up to 256 KiB.
    private static readonly int[] Lengths = [0, 1, 15, 16, 17, 31, 32, 100, 127, 128, 129, 143, 144, 255, 256, 257, 1000, 1024, 4099, 32768, 35000, 65537, 262144];

    [SetUp]
    public void RequireHardware() => Assume.That(AesGcmNi.IsSupported, "AES-NI/PCLMULQDQ not on this machine");

    [Test]
    public void BestPath_IsTheDefault()
    {
        Assert.That(AesGcmNi.Path, Is.EqualTo(AesGcmNi.BestPath));
        Assert.That(AesGcmNi.IsPathSupported(AesGcmNi.BestPath), Is.True);
        Assert.That(AesGcmNi.IsPathSupported(SimdPath.Scalar), Is.False);
        TestContext.Out.WriteLine($"AES-GCM GHASH path on this machine: {AesGcmNi.BestPath}");
    }

    [Test]
    public void WidePathSelfTest_PassesWhereTheHardwareHasIt_SoItIsChosen()
    {
        // The self-test falls back to 128 bits only when the 256-bit kernels compute something else: on correct
        // code generation (this JIT) it must pass, or the fast path would be lost without anyone noticing.
        Assume.That(AesGcmNi.IsPathSupported(SimdPath.Vector256), "no VPCLMULQDQ/AVX2 on this machine");
        Assert.That(AesGcmNi.WidePathAgrees(), Is.True);
        Assert.That(AesGcmNi.BestPath, Is.EqualTo(SimdPath.Vector256));
    }

    /// <summary>McGrew and Viega, "The Galois/Counter Mode of Operation", the test cases with a 96-bit IV.</summary>
    [TestCase("00000000000000000000000000000000", "000000000000000000000000", "", "", "", "58e2fccefa7e3061367f1d57a4e7455a", TestName = "McGrewViega_Case1")]
    [TestCase("00000000000000000000000000000000", "000000000000000000000000", "00000000000000000000000000000000", "", "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf", TestName = "McGrewViega_Case2")]
    [TestCase("feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255", "",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
        "4d5c2af327cd64a62cf35abd2ba6fab4", TestName = "McGrewViega_Case3")]
    [TestCase("feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
        "5bc94fbc3221a5db94fae95ae7121a47", TestName = "McGrewViega_Case4")]
    [TestCase("0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b", TestName = "McGrewViega_Case13")]
    [TestCase("0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "00000000000000000000000000000000", "",
        "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919", TestName = "McGrewViega_Case14")]
    [TestCase("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255", "",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        "b094dac5d93471bdec1a502270e3cc6c", TestName = "McGrewViega_Case15")]
    [TestCase("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b", TestName = "McGrewViega_Case16")]
    public void PublishedVector_EncryptsAndDecrypts(string key, string iv, string plaintext, string aad, string ciphertext, string tag)
    {
        foreach (TestPath path in SupportedPaths())
        {
            using var forced = ForcedGcmPath.Use(path);
            using var gcm = new AesGcmNi(Hex(key));
            byte[] data = Hex(plaintext);
            byte[] computedTag = new byte[16];
            gcm.Encrypt(Hex(iv), data, data, computedTag, Hex(aad));
            Assert.That(Convert.ToHexString(data), Is.EqualTo(ciphertext.ToUpperInvariant()), $"{path} ciphertext");
            Assert.That(Convert.ToHexString(computedTag), Is.EqualTo(tag.ToUpperInvariant()), $"{path} tag");
            Assert.That(gcm.TryDecrypt(Hex(iv), data, computedTag, data, Hex(aad)), Is.True, $"{path} opens");
            Assert.That(Convert.ToHexString(data), Is.EqualTo(plaintext.ToUpperInvariant()), $"{path} plaintext");
        }
    }

    /// <summary>Random keys, nonces, associated data and plaintexts: byte-for-byte what OpenSSL (via the BCL) produces.</summary>
    [Test]
    public void Encrypt_RandomInputs_MatchesBclAesGcm([ValueSource(nameof(Paths))] TestPath path, [Values(16, 32)] int keySize)
    {
        Assume.That(AesGcmNi.IsPathSupported((SimdPath)path), $"{path} not on this machine");
        using var forced = ForcedGcmPath.Use(path);
        var random = new Random(keySize * 1000 + (int)path);
        foreach (int length in Lengths)
        {
            for (int trial = 0; trial < 3; trial++)
            {
                byte[] key = RandomBytes(random, keySize);
                byte[] nonce = RandomBytes(random, 12);
                byte[] aad = RandomBytes(random, trial == 0 ? 4 : random.Next(0, 70));
                byte[] plaintext = RandomBytes(random, length);

                byte[] expected = new byte[length];
                byte[] expectedTag = new byte[16];
                using (var reference = new AesGcm(key, 16))
                {
                    reference.Encrypt(nonce, plaintext, expected, expectedTag, aad);
                }

                using var gcm = new AesGcmNi(key);
                byte[] actual = new byte[length];
                byte[] actualTag = new byte[16];
                gcm.Encrypt(nonce, plaintext, actual, actualTag, aad);
                Assert.That(actual, Is.EqualTo(expected), $"ciphertext, length {length}, trial {trial}");
                Assert.That(actualTag, Is.EqualTo(expectedTag), $"tag, length {length}, trial {trial}");

                // In place, and back.
                byte[] inPlace = (byte[])plaintext.Clone();
                gcm.Encrypt(nonce, inPlace, inPlace, actualTag, aad);
                Assert.That(inPlace, Is.EqualTo(expected), $"in place, length {length}");
                Assert.That(gcm.TryDecrypt(nonce, inPlace, actualTag, inPlace, aad), Is.True);
                Assert.That(inPlace, Is.EqualTo(plaintext), $"decrypted in place, length {length}");
            }
        }
    }

    /// <summary>An independent software implementation (BouncyCastle's GcmBlockCipher over its AesEngine) as the oracle.</summary>
    [Test]
    public void EncryptAndDecrypt_RandomInputs_MatchBouncyCastle([ValueSource(nameof(Paths))] TestPath path, [Values(16, 32)] int keySize)
    {
        Assume.That(AesGcmNi.IsPathSupported((SimdPath)path), $"{path} not on this machine");
        using var forced = ForcedGcmPath.Use(path);
        var random = new Random(7 + keySize + (int)path);
        foreach (int length in Lengths)
        {
            byte[] key = RandomBytes(random, keySize);
            byte[] nonce = RandomBytes(random, 12);
            byte[] aad = RandomBytes(random, random.Next(0, 40));
            byte[] plaintext = RandomBytes(random, length);

            var oracle = new GcmBlockCipher(new AesEngine());
            oracle.Init(true, new AeadParameters(new KeyParameter(key), 128, nonce, aad));
            byte[] sealedByOracle = new byte[oracle.GetOutputSize(length)];
            int written = oracle.ProcessBytes(plaintext, 0, length, sealedByOracle, 0);
            oracle.DoFinal(sealedByOracle, written);

            using var gcm = new AesGcmNi(key);
            byte[] ciphertext = new byte[length];
            byte[] tag = new byte[16];
            gcm.Encrypt(nonce, plaintext, ciphertext, tag, aad);
            Assert.That((byte[])[.. ciphertext, .. tag], Is.EqualTo(sealedByOracle), $"length {length}");

            byte[] opened = new byte[length];
            Assert.That(gcm.TryDecrypt(nonce, sealedByOracle.AsSpan(0, length), sealedByOracle.AsSpan(length), opened, aad), Is.True);
            Assert.That(opened, Is.EqualTo(plaintext), $"opened, length {length}");
        }
    }

    /// <summary>Encrypting with the payload read from elsewhere gives exactly the in-place result.</summary>
    [Test]
    public void EncryptWithInsert_MatchesEncryptOfTheAssembledPlaintext([ValueSource(nameof(Paths))] TestPath path)
    {
        Assume.That(AesGcmNi.IsPathSupported((SimdPath)path), $"{path} not on this machine");
        using var forced = ForcedGcmPath.Use(path);
        var random = new Random(31 + (int)path);
        using var gcm = new AesGcmNi(RandomBytes(random, 16));
        foreach (int length in Lengths)
        {
            for (int trial = 0; trial < 4; trial++)
            {
                int insertAt = trial == 0 ? Math.Min(1, length) : random.Next(0, length + 1);
                int insertLength = trial == 0 ? Math.Max(0, length - insertAt - 7) : random.Next(0, length - insertAt + 1);
                byte[] nonce = RandomBytes(random, 12);
                byte[] aad = RandomBytes(random, 4);
                byte[] plaintext = RandomBytes(random, length);
                byte[] insert = plaintext.AsSpan(insertAt, insertLength).ToArray();

                byte[] expected = new byte[length];
                byte[] expectedTag = new byte[16];
                gcm.Encrypt(nonce, plaintext, expected, expectedTag, aad);

                byte[] body = (byte[])plaintext.Clone();
                body.AsSpan(insertAt, insertLength).Fill(0xEE);
                byte[] tag = new byte[16];
                gcm.EncryptWithInsert(nonce, body, insertAt, insert, tag, aad);
                Assert.That(body, Is.EqualTo(expected), $"length {length}, insert {insertLength} at {insertAt}");
                Assert.That(tag, Is.EqualTo(expectedTag), $"tag, length {length}, insert {insertLength} at {insertAt}");
            }
        }
    }

    /// <summary>
    /// The inserted middle starts at every block offset across one wrap of the counter's low byte, so each eight-block
    /// run begins at every counter phase: the vector increment, the per-block byte swap when the low byte wraps inside
    /// a run, and the rebuild when it wraps between runs, all against the BCL.
    /// </summary>
    [Test]
    public void EncryptWithInsert_EveryCounterPhase_MatchesBcl([ValueSource(nameof(Paths))] TestPath path, [Values(16, 32)] int keySize)
    {
        Assume.That(AesGcmNi.IsPathSupported((SimdPath)path), $"{path} not on this machine");
        using var forced = ForcedGcmPath.Use(path);
        var random = new Random(57 + keySize);
        byte[] key = RandomBytes(random, keySize);
        using var gcm = new AesGcmNi(key);
        using var bcl = new AesGcm(key, 16);
        const int Length = 9000; // more than 256 blocks: the counter's low byte wraps at least once
        for (int startBlock = 0; startBlock <= 16; startBlock++)
        {
            int insertAt = startBlock * 16 - (startBlock == 0 ? 0 : 5);
            byte[] nonce = RandomBytes(random, 12);
            byte[] aad = RandomBytes(random, 4);
            byte[] plaintext = RandomBytes(random, Length);
            byte[] expected = new byte[Length];
            byte[] expectedTag = new byte[16];
            bcl.Encrypt(nonce, plaintext, expected, expectedTag, aad);

            byte[] body = (byte[])plaintext.Clone();
            byte[] insert = plaintext.AsSpan(insertAt, Length - insertAt - 3).ToArray();
            body.AsSpan(insertAt, insert.Length).Clear();
            byte[] tag = new byte[16];
            gcm.EncryptWithInsert(nonce, body, insertAt, insert, tag, aad);
            Assert.That(body, Is.EqualTo(expected), $"insert at {insertAt}");
            Assert.That(tag, Is.EqualTo(expectedTag), $"tag, insert at {insertAt}");
        }
    }

    /// <summary>Any single flipped bit of associated data, ciphertext or tag fails, and nothing is written.</summary>
    [Test]
    public void TryDecrypt_AnyBitFlipped_FailsWithoutWriting([ValueSource(nameof(Paths))] TestPath path)
    {
        Assume.That(AesGcmNi.IsPathSupported((SimdPath)path), $"{path} not on this machine");
        using var forced = ForcedGcmPath.Use(path);
        var random = new Random(99);
        byte[] key = RandomBytes(random, 16);
        byte[] nonce = RandomBytes(random, 12);
        byte[] aad = RandomBytes(random, 4);
        byte[] plaintext = RandomBytes(random, 160);
        using var gcm = new AesGcmNi(key);
        byte[] ciphertext = new byte[plaintext.Length];
        byte[] tag = new byte[16];
        gcm.Encrypt(nonce, plaintext, ciphertext, tag, aad);

        byte[] all = [.. aad, .. ciphertext, .. tag];
        for (int bit = 0; bit < all.Length * 8; bit++)
        {
            byte[] tampered = (byte[])all.Clone();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            byte[] destination = new byte[plaintext.Length];
            destination.AsSpan().Fill(0xA5);
            bool opened = gcm.TryDecrypt(nonce, tampered.AsSpan(4, 160), tampered.AsSpan(164), destination, tampered.AsSpan(0, 4));
            Assert.That(opened, Is.False, $"bit {bit}");
            Assert.That(destination.All(b => b == 0xA5), Is.True, $"bit {bit}: nothing written before the tag is verified");
        }

        byte[] wrongNonce = (byte[])nonce.Clone();
        wrongNonce[11] ^= 1;
        Assert.That(gcm.TryDecrypt(wrongNonce, ciphertext, tag, new byte[160], aad), Is.False, "another nonce");
    }

    [Test]
    public void Arguments_Invalid_Throw()
    {
        Assert.Throws<ArgumentException>(() => new AesGcmNi(new byte[24]));
        using var gcm = new AesGcmNi(new byte[16]);
        Assert.Throws<ArgumentException>(() => gcm.Encrypt(new byte[8], new byte[16], new byte[16], new byte[16], default));
        Assert.Throws<ArgumentException>(() => gcm.Encrypt(new byte[12], new byte[16], new byte[15], new byte[16], default));
        Assert.Throws<ArgumentException>(() => gcm.Encrypt(new byte[12], new byte[16], new byte[16], new byte[12], default));
        gcm.Dispose();
        Assert.Throws<ObjectDisposedException>(() => gcm.Encrypt(new byte[12], new byte[16], new byte[16], new byte[16], default));
    }

    private static IEnumerable<TestPath> SupportedPaths() => Paths.Where(p => AesGcmNi.IsPathSupported((SimdPath)p));

    private static byte[] RandomBytes(Random random, int length)
    {
        byte[] bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}

/// <summary>Narrows <see cref="AesGcmNi.Path"/> for the life of a test.</summary>
internal sealed class ForcedGcmPath : IDisposable
{
    private readonly SimdPath _previous;

    private ForcedGcmPath(SimdPath path)
    {
        _previous = AesGcmNi.Path;
        AesGcmNi.Path = path;
    }

    public static ForcedGcmPath Use(TestPath path) => new((SimdPath)path);

    public void Dispose() => AesGcmNi.Path = _previous;
}
