using System.Buffers.Binary;
using System.Reflection;
using System.Text;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>The instruction paths, as a public type for test case arguments (<see cref="SimdPath"/> is internal).</summary>
public enum TestPath
{
    Scalar = SimdPath.Scalar,
    Vector128 = SimdPath.Vector128,
    Vector256 = SimdPath.Vector256,
    Vector512 = SimdPath.Vector512,
}

/// <summary>Runs a test on one forced instruction path and restores the default afterwards.</summary>
internal sealed class ForcedPath : IDisposable
{
    private readonly SimdPath _previousChaCha;
    private readonly SimdPath _previousPoly;

    private ForcedPath(SimdPath path)
    {
        _previousChaCha = ChaCha20.Path;
        _previousPoly = Poly1305.Path;
        ChaCha20.Path = path;
        Poly1305.Path = path;
    }

    /// <summary>Every path; those the hardware lacks end the test as inconclusive.</summary>
    public static IEnumerable<TestPath> All => [TestPath.Scalar, TestPath.Vector128, TestPath.Vector256, TestPath.Vector512];

    public static bool IsSupported(TestPath path) => ChaCha20.IsSupported((SimdPath)path);

    public static ForcedPath Use(TestPath path)
    {
        Assume.That(IsSupported(path), Is.True, $"{path} is not supported on this machine.");
        return new ForcedPath((SimdPath)path);
    }

    public void Dispose()
    {
        ChaCha20.Path = _previousChaCha;
        Poly1305.Path = _previousPoly;
    }
}

internal static class TestBytes
{
    /// <summary>Fast equality for large buffers; on a mismatch, NUnit's report of where they differ.</summary>
    public static void AssertEqual(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> expected, string message)
    {
        if (!actual.SequenceEqual(expected))
        {
            Assert.That(actual.ToArray(), Is.EqualTo(expected.ToArray()), message);
        }
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal).Replace(":", "", StringComparison.Ordinal));

    public static byte[] Random(Random random, int length)
    {
        byte[] bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Lengths around 64-byte blocks and 256/512/1024-byte batches, up to 256 KiB, plus random ones.</summary>
    public static IEnumerable<int> InterestingLengths(Random random, int randomCount)
    {
        int[] fixedLengths =
        [
            0, 1, 3, 4, 15, 16, 17, 63, 64, 65, 127, 128, 129, 191, 192, 193, 255, 256, 257, 319, 320, 321, 511, 512, 513,
            767, 768, 769, 1023, 1024, 1025, 1279, 1280, 1281, 1535, 1536, 1537, 1791, 1792, 1793, 2047, 2048, 2049,
            3071, 3072, 3073, 4095, 4096, 4097, 35000, 65535, 65536, 65537, 131071, 262143, 262144,
        ];
        foreach (int length in fixedLengths)
        {
            yield return length;
        }

        for (int i = 0; i < randomCount; i++)
        {
            yield return random.Next(0, i % 2 == 0 ? 4096 : 262145);
        }
    }
}

[NonParallelizable]
public class ChaCha20Tests
{
    private static readonly byte[] s_sequentialKey = TestBytes.Hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    private static readonly byte[] s_rfcKey = TestBytes.Hex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
    private static readonly byte[] s_keyOne = TestBytes.Hex("0000000000000000000000000000000000000000000000000000000000000001");

    internal const string IetfText =
        "Any submission to the IETF intended by the Contributor for publication as all or part of an IETF " +
        "Internet-Draft or RFC and any statement made within the context of an IETF activity is considered an " +
        "\"IETF Contribution\". Such statements include oral statements in IETF sessions, as well as written and " +
        "electronic communications made at any time or place, which are addressed to";

    internal const string Jabberwocky =
        "'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\nAll mimsy were the borogoves,\nAnd the mome raths outgrabe.";

    internal const string Sunscreen =
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

    private static IEnumerable<TestPath> Paths => ForcedPath.All;

    [Test]
    public void BestPath_IsSupportedAndIsTheDefault()
    {
        Assert.That(ChaCha20.IsSupported(ChaCha20.BestPath), Is.True);
        Assert.That(ChaCha20.Path, Is.EqualTo(ChaCha20.BestPath));
        TestContext.Out.WriteLine($"ChaCha20 best path on this machine: {ChaCha20.BestPath}");
    }

    [Test]
    public void Path_Unsupported_Throws()
    {
        Assert.That(() => ChaCha20.Path = (SimdPath)64, Throws.TypeOf<PlatformNotSupportedException>());
    }

    // RFC 8439 §2.3.2.
    [TestCaseSource(nameof(Paths))]
    public void BlockRfc8439_Section232_MatchesPublishedVector(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        byte[] expected = TestBytes.Hex(
            "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e" +
            "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
        byte[] nonce = TestBytes.Hex("000000090000004a00000000");

        byte[] block = new byte[64];
        ChaCha20.BlockRfc8439(s_sequentialKey, nonce, 1, block);
        Assert.That(block, Is.EqualTo(expected));

        byte[] stream = new byte[64];
        ChaCha20.XorRfc8439(s_sequentialKey, nonce, 1, new byte[64], stream);
        Assert.That(stream, Is.EqualTo(expected));
    }

    // RFC 8439 §2.4.2.
    [TestCaseSource(nameof(Paths))]
    public void XorRfc8439_Section242_MatchesPublishedVector(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        byte[] plaintext = Encoding.ASCII.GetBytes(Sunscreen);
        byte[] expected = TestBytes.Hex(
            "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b" +
            "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8" +
            "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736" +
            "5af90bbf74a35be6b40b8eedf2785e42874d");

        byte[] ciphertext = new byte[plaintext.Length];
        ChaCha20.XorRfc8439(s_sequentialKey, TestBytes.Hex("000000000000004a00000000"), 1, plaintext, ciphertext);

        Assert.That(ciphertext, Is.EqualTo(expected));
    }

    // RFC 8439 Appendix A.1.
    [TestCaseSource(nameof(Paths))]
    public void BlockRfc8439_AppendixA1_MatchesPublishedVectors(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        byte[] zeroKey = new byte[32];
        byte[] keyFf = new byte[32];
        keyFf[1] = 0xff;
        byte[] zeroNonce = new byte[12];
        byte[] nonce2 = TestBytes.Hex("000000000000000000000002");
        (byte[] Key, byte[] Nonce, uint Counter, string Block)[] vectors =
        [
            (zeroKey, zeroNonce, 0, "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"),
            (zeroKey, zeroNonce, 1, "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"),
            (s_keyOne, zeroNonce, 1, "3aeb5224ecf849929b9d828db1ced4dd832025e8018b8160b82284f3c949aa5a8eca00bbb4a73bdad192b5c42f73f2fd4e273644c8b36125a64addeb006c13a0"),
            (keyFf, zeroNonce, 2, "72d54dfbf12ec44b362692df94137f328fea8da73990265ec1bbbea1ae9af0ca13b25aa26cb4a648cb9b9d1be65b2c0924a66c54d545ec1b7374f4872e99f096"),
            (zeroKey, nonce2, 0, "c2c64d378cd536374ae204b9ef933fcd1a8b2288b3dfa49672ab765b54ee27c78a970e0e955c14f3a88e741b97c286f75f8fc299e8148362fa198a39531bed6d"),
        ];

        for (int i = 0; i < vectors.Length; i++)
        {
            (byte[] key, byte[] nonce, uint counter, string blockHex) = vectors[i];
            byte[] block = new byte[64];
            ChaCha20.BlockRfc8439(key, nonce, counter, block);
            Assert.That(block, Is.EqualTo(TestBytes.Hex(blockHex)), $"A.1 test vector #{i + 1} (Block)");

            // The same block as the first of a long keystream, so that every vector path computes it.
            byte[] stream = new byte[4096];
            ChaCha20.XorRfc8439(key, nonce, counter, new byte[stream.Length], stream);
            Assert.That(stream.AsSpan(0, 64).ToArray(), Is.EqualTo(TestBytes.Hex(blockHex)), $"A.1 test vector #{i + 1} (stream)");
        }
    }

    // RFC 8439 Appendix A.2.
    [TestCaseSource(nameof(Paths))]
    public void XorRfc8439_AppendixA2_MatchesPublishedVectors(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        byte[] nonce2 = TestBytes.Hex("000000000000000000000002");
        (byte[] Key, byte[] Nonce, uint Counter, byte[] Plaintext, string Ciphertext)[] vectors =
        [
            (new byte[32], new byte[12], 0, new byte[64],
                "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"),
            (s_keyOne, nonce2, 1, Encoding.ASCII.GetBytes(IetfText),
                "a3fbf07df3fa2fde4f376ca23e82737041605d9f4f4f57bd8cff2c1d4b7955ec2a97948bd3722915c8f3d337f7d370050e9e96d647b7c39f56e031ca5eb6250d" +
                "4042e02785ececfa4b4bb5e8ead0440e20b6e8db09d881a7c6132f420e52795042bdfa7773d8a9051447b3291ce1411c680465552aa6c405b7764d5e87bea85a" +
                "d00f8449ed8f72d0d662ab052691ca66424bc86d2df80ea41f43abf937d3259dc4b2d0dfb48a6c9139ddd7f76966e928e635553ba76c5c879d7b35d49eb2e62b" +
                "0871cdac638939e25e8a1e0ef9d5280fa8ca328b351c3c765989cbcf3daa8b6ccc3aaf9f3979c92b3720fc88dc95ed84a1be059c6499b9fda236e7e818b04b0b" +
                "c39c1e876b193bfe5569753f88128cc08aaa9b63d1a16f80ef2554d7189c411f5869ca52c5b83fa36ff216b9c1d30062bebcfd2dc5bce0911934fda79a86f6e6" +
                "98ced759c3ff9b6477338f3da4f9cd8514ea9982ccafb341b2384dd902f3d1ab7ac61dd29c6f21ba5b862f3730e37cfdc4fd806c22f221"),
            (s_rfcKey, nonce2, 42, Encoding.ASCII.GetBytes(Jabberwocky),
                "62e6347f95ed87a45ffae7426f27a1df5fb69110044c0d73118effa95b01e5cf166d3df2d721caf9b21e5fb14c616871fd84c54f9d65b283196c7fe4f60553eb" +
                "f39c6402c42234e32a356b3e764312a61a5532055716ead6962568f87d3f3f7704c6a8d1bcd1bf4d50d6154b6da731b187b58dfd728afa36757a797ac188d1"),
        ];

        for (int i = 0; i < vectors.Length; i++)
        {
            (byte[] key, byte[] nonce, uint counter, byte[] plaintext, string ciphertextHex) = vectors[i];
            byte[] expected = TestBytes.Hex(ciphertextHex);
            byte[] ciphertext = new byte[plaintext.Length];
            ChaCha20.XorRfc8439(key, nonce, counter, plaintext, ciphertext);
            Assert.That(ciphertext, Is.EqualTo(expected), $"A.2 test vector #{i + 1}");

            // Decrypt in place.
            ChaCha20.XorRfc8439(key, nonce, counter, ciphertext, ciphertext);
            Assert.That(ciphertext, Is.EqualTo(plaintext), $"A.2 test vector #{i + 1}, decrypted in place");
        }
    }

    // RFC 8439 §2.6.2 and Appendix A.4: the Poly1305 one-time key is the first 32 bytes of block 0.
    [TestCaseSource(nameof(Paths))]
    public void BlockRfc8439_PolyKeyGeneration_MatchesPublishedVectors(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        byte[] key80 = TestBytes.Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        byte[] nonce2 = TestBytes.Hex("000000000000000000000002");
        (byte[] Key, byte[] Nonce, string PolyKey)[] vectors =
        [
            (key80, TestBytes.Hex("000000000001020304050607"), "8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646"),
            (new byte[32], new byte[12], "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"),
            (s_keyOne, nonce2, "ecfa254f845f647473d3cb140da9e87606cb33066c447b87bc2666dde3fbb739"),
            (s_rfcKey, nonce2, "965e3bc6f9ec7ed9560808f4d229f94b137ff275ca9b3fcbdd59deaad23310ae"),
        ];

        foreach ((byte[] key, byte[] nonce, string polyKeyHex) in vectors)
        {
            byte[] block = new byte[64];
            ChaCha20.BlockRfc8439(key, nonce, 0, block);
            Assert.That(block.AsSpan(0, 32).ToArray(), Is.EqualTo(TestBytes.Hex(polyKeyHex)));
        }
    }

    [Test]
    public void XorRfc8439_CounterWouldWrap_Throws()
    {
        byte[] key = new byte[32];
        byte[] nonce = new byte[12];
        Assert.That(() => ChaCha20.XorRfc8439(key, nonce, uint.MaxValue, new byte[65], new byte[65]), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => ChaCha20.XorRfc8439(key, nonce, uint.MaxValue, new byte[64], new byte[64]), Throws.Nothing);
    }

    [Test]
    public void Xor_PartiallyOverlappingDestination_Throws()
    {
        byte[] buffer = new byte[200];
        Assert.That(() => ChaCha20.Xor(new byte[32], 0, 0, buffer.AsSpan(0, 100), buffer.AsSpan(1, 100)), Throws.ArgumentException);
        Assert.That(() => ChaCha20.Xor(new byte[32], 0, 0, buffer.AsSpan(0, 100), buffer.AsSpan(0, 99)), Throws.ArgumentException);
        Assert.That(() => ChaCha20.Xor(new byte[31], 0, 0, buffer.AsSpan(0, 100), buffer.AsSpan(100, 100)), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    /// <summary>The original layout (64-bit counter, 8-byte IV) against BouncyCastle's ChaChaEngine, as OpenSSH uses it.</summary>
    [TestCaseSource(nameof(Paths))]
    public void Xor_RandomInputs_MatchesBouncyCastleChaChaEngine(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        var random = new Random(8439 + (int)path);
        foreach (int length in TestBytes.InterestingLengths(random, 24))
        {
            byte[] key = TestBytes.Random(random, 32);
            byte[] iv = TestBytes.Random(random, 8);
            ulong counter = (ulong)random.Next(0, 70);
            byte[] plaintext = TestBytes.Random(random, length);

            byte[] expected = BouncyCastleOriginal(key, iv, counter, plaintext);
            byte[] actual = new byte[length];
            ChaCha20.Xor(key, BinaryPrimitives.ReadUInt64BigEndian(iv), counter, plaintext, actual);
            TestBytes.AssertEqual(actual, expected, $"length {length}, counter {counter}");

            // In place gives the same bytes.
            ChaCha20.Xor(key, BinaryPrimitives.ReadUInt64BigEndian(iv), counter, plaintext, plaintext);
            TestBytes.AssertEqual(plaintext, expected, $"length {length}, counter {counter}, in place");
        }
    }

    /// <summary>The 64-bit counter carries from word 12 into word 13 inside a vector batch, as in the original ChaCha.</summary>
    [TestCaseSource(nameof(Paths))]
    public void Xor_CounterCrossesTwoToThe32_MatchesBouncyCastleChaChaEngine(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        var random = new Random(1 + (int)path);
        foreach (ulong counter in new[] { 0xFFFFFFF0UL, 0xFFFFFFFFUL, 0x1_FFFFFFFDUL, 0xFFFFFFFF_FFFFFFF8UL })
        {
            foreach (int length in new[] { 64, 300, 1000, 2048 + 65, 5000 })
            {
                byte[] key = TestBytes.Random(random, 32);
                byte[] iv = TestBytes.Random(random, 8);
                byte[] plaintext = TestBytes.Random(random, length);

                byte[] expected = BouncyCastleOriginal(key, iv, counter, plaintext);
                byte[] actual = new byte[length];
                ChaCha20.Xor(key, BinaryPrimitives.ReadUInt64BigEndian(iv), counter, plaintext, actual);
                Assert.That(actual, Is.EqualTo(expected), $"length {length}, counter 0x{counter:x}");
            }
        }
    }

    /// <summary>The RFC 8439 layout (32-bit counter, 12-byte nonce) against BouncyCastle's ChaCha7539Engine.</summary>
    [TestCaseSource(nameof(Paths))]
    public void XorRfc8439_RandomInputs_MatchesBouncyCastleChaCha7539Engine(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        var random = new Random(7539 + (int)path);
        foreach (int length in TestBytes.InterestingLengths(random, 16))
        {
            byte[] key = TestBytes.Random(random, 32);
            byte[] nonce = TestBytes.Random(random, 12);
            uint counter = (uint)random.Next(0, 5);
            byte[] plaintext = TestBytes.Random(random, length);

            var engine = new ChaCha7539Engine();
            engine.Init(true, new ParametersWithIV(new KeyParameter(key), nonce));
            byte[] skipped = new byte[64 * counter];
            engine.ProcessBytes(skipped, 0, skipped.Length, skipped, 0);
            byte[] expected = new byte[length];
            engine.ProcessBytes(plaintext, 0, length, expected, 0);

            byte[] actual = new byte[length];
            ChaCha20.XorRfc8439(key, nonce, counter, plaintext, actual);
            TestBytes.AssertEqual(actual, expected, $"length {length}, counter {counter}");
        }
    }

    [TestCaseSource(nameof(Paths))]
    public void BlockAndKeyStream_AgreeWithXorOverZeros(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        var random = new Random(5 + (int)path);
        byte[] key = TestBytes.Random(random, 32);
        const ulong nonce = 0x0102030405060708;
        byte[] xored = new byte[3000];
        ChaCha20.Xor(key, nonce, 7, new byte[xored.Length], xored);

        byte[] stream = new byte[xored.Length];
        ChaCha20.KeyStream(key, nonce, 7, stream);
        Assert.That(stream, Is.EqualTo(xored));

        byte[] block = new byte[64];
        ChaCha20.Block(key, nonce, 9, block);
        Assert.That(block, Is.EqualTo(xored.AsSpan(128, 64).ToArray()));
    }

    [TestCaseSource(nameof(Paths))]
    public void Xor_EveryPathAgreesWithScalar(TestPath path)
    {
        var random = new Random(99);
        byte[] key = TestBytes.Random(random, 32);
        byte[] input = TestBytes.Random(random, 20000);
        byte[] scalar = new byte[input.Length];
        using (ForcedPath.Use(TestPath.Scalar))
        {
            ChaCha20.Xor(key, 42, 3, input, scalar);
        }

        using var forced = ForcedPath.Use(path);
        for (int length = 0; length <= 2100; length += 7)
        {
            byte[] actual = new byte[length];
            ChaCha20.Xor(key, 42, 3, input.AsSpan(0, length), actual);
            TestBytes.AssertEqual(actual, scalar.AsSpan(0, length), $"length {length}");
        }
    }

    /// <summary>BouncyCastle's ChaChaEngine: 8-byte IV, 64-bit counter in words 12-13 (set through its state for large counters).</summary>
    internal static byte[] BouncyCastleOriginal(byte[] key, byte[] iv, ulong counter, byte[] input)
    {
        var engine = new ChaChaEngine(20);
        engine.Init(true, new ParametersWithIV(new KeyParameter(key), iv));
        if (counter < 64)
        {
            byte[] skipped = new byte[64 * (int)counter];
            engine.ProcessBytes(skipped, 0, skipped.Length, skipped, 0);
        }
        else
        {
            // No public seek: set state words 12-13 directly (Salsa20Engine.engineState, the engine's own counter).
            FieldInfo field = typeof(Salsa20Engine).GetField("engineState", BindingFlags.Instance | BindingFlags.NonPublic)
                ?? throw new InvalidOperationException("BouncyCastle's Salsa20Engine.engineState was not found.");
            uint[] state = (uint[])field.GetValue(engine)!;
            state[12] = (uint)counter;
            state[13] = (uint)(counter >> 32);
        }

        byte[] output = new byte[input.Length];
        engine.ProcessBytes(input, 0, input.Length, output, 0);
        return output;
    }
}
