using System.Numerics;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>
/// EksBlowfish, the Blowfish inside bcrypt_pbkdf: its tables are the digits of pi, and from the initial state its
/// key expansion is Blowfish's own key schedule, so it must encrypt as a standard Blowfish does.
/// </summary>
public class BlowfishTests
{
    [Test]
    public void Tables_AreTheFractionalHexDigitsOfPi()
    {
        // Machin: pi = 16 atan(1/5) - 4 atan(1/239), in fixed point with 64 guard bits.
        const int Words = 18 + 4 * 256;
        int bits = Words * 32 + 64;
        BigInteger one = BigInteger.One << bits;
        BigInteger pi = 16 * ArctanInverse(5, one) - 4 * ArctanInverse(239, one);
        BigInteger fraction = (pi - 3 * one) >> 64;

        uint[] expected = new uint[Words];
        for (int i = 0; i < Words; i++)
        {
            expected[i] = (uint)((fraction >> (32 * (Words - 1 - i))) & uint.MaxValue);
        }

        uint[] actual = [.. BlowfishTables.P, .. BlowfishTables.S0, .. BlowfishTables.S1, .. BlowfishTables.S2, .. BlowfishTables.S3];
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(actual[0], Is.EqualTo(0x243F6A88), "pi = 3.243F6A88...");
    }

    // Eric Young's Blowfish test data (the ECB vectors distributed with his libdes/SSLeay): key, plaintext, ciphertext.
    [TestCase("0000000000000000", "0000000000000000", "4EF997456198DD78")]
    [TestCase("FFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFF", "51866FD5B85ECB8A")]
    [TestCase("3000000000000000", "1000000000000001", "7D856F9A613063F2")]
    [TestCase("0123456789ABCDEF", "1111111111111111", "61F9C3802281B096")]
    [TestCase("FEDCBA9876543210", "0123456789ABCDEF", "0ACEAB0FC6A0A28D")]
    public void ExpandKeyFromInitialState_IsBlowfish_YoungVectors(string key, string plaintext, string ciphertext)
    {
        Assert.That(Convert.ToHexString(Encrypt(Convert.FromHexString(key), Convert.FromHexString(plaintext))), Is.EqualTo(ciphertext));
    }

    [Test]
    public void ExpandKeyFromInitialState_IsBlowfish_SameAsBouncyCastleOnRandomKeys()
    {
        var random = new Random(1993);
        for (int i = 0; i < 200; i++)
        {
            byte[] key = new byte[random.Next(4, 57)];
            byte[] block = new byte[8];
            random.NextBytes(key);
            random.NextBytes(block);

            var engine = new BlowfishEngine();
            engine.Init(forEncryption: true, new KeyParameter(key));
            byte[] expected = new byte[8];
            engine.ProcessBlock(block, 0, expected, 0);

            Assert.That(Encrypt(key, block), Is.EqualTo(expected), $"key {Convert.ToHexString(key)}");
        }
    }

    [Test]
    public void StreamToWord_BigEndianAndWrapsRound()
    {
        byte[] data = [1, 2, 3, 4, 5, 6];
        int position = 0;
        Assert.That(EksBlowfish.StreamToWord(data, ref position), Is.EqualTo(0x01020304));
        Assert.That(EksBlowfish.StreamToWord(data, ref position), Is.EqualTo(0x05060102));
        Assert.That(position, Is.EqualTo(2));
    }

    [Test]
    public void Dispose_ZeroesTheState()
    {
        var blowfish = new EksBlowfish();
        blowfish.Initialize();
        blowfish.ExpandKey([1, 2, 3, 4]);
        blowfish.Dispose();

        // From a zeroed state every F is 0 and every subkey 0: the block comes out as its halves swapped.
        uint left = 0x01234567, right = 0x89ABCDEF;
        blowfish.Encrypt(ref left, ref right);
        Assert.That((left, right), Is.EqualTo((0x89ABCDEFu, 0x01234567u)));
    }

    private static byte[] Encrypt(byte[] key, byte[] block)
    {
        using var blowfish = new EksBlowfish();
        blowfish.Initialize();
        blowfish.ExpandKey(key);
        uint left = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(block);
        uint right = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(block.AsSpan(4));
        blowfish.Encrypt(ref left, ref right);
        byte[] result = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(result, left);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(4), right);
        return result;
    }

    private static BigInteger ArctanInverse(int x, BigInteger one)
    {
        BigInteger term = one / x;
        BigInteger total = term;
        BigInteger x2 = x * x;
        for (int n = 1; !term.IsZero; n++)
        {
            term /= x2;
            BigInteger part = term / (2 * n + 1);
            total += n % 2 == 1 ? -part : part;
        }

        return total;
    }
}
