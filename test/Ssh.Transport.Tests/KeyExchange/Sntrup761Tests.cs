using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using Org.BouncyCastle.Crypto.Prng;
using Org.BouncyCastle.Pqc.Crypto.NtruPrime;
using Org.BouncyCastle.Security;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport.Tests.KeyExchange;

/// <summary>
/// Our sntrup761 proven against (1) known answers from the designers' reference code (supercop's sntrup761 as
/// OpenSSH 10.5 ships it; TestData/make_sntrup761_vectors.sh), (2) BouncyCastle's independent implementation on
/// random keys, randomness, and garbage public keys and ciphertexts, and (3) its arithmetic exhaustively against
/// plain definitions. Real peers are the interop suite's OpenSSH runs with sntrup761x25519-sha512.
/// </summary>
public class Sntrup761Tests
{
    private const int P = 761;
    private const int Q = 4591;

    private static readonly JsonSerializerOptions s_json = new() { PropertyNameCaseInsensitive = true };

    public sealed record Case(int Seed, string Pk, string Sk, string Ct, string Ss, int BadIndex, string SsBad);

    public sealed record CaseFile(Case[] Cases);

    private static readonly Lazy<CaseFile> s_vectors = new(() =>
    {
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "sntrup761_vectors.json");
        return JsonSerializer.Deserialize<CaseFile>(File.ReadAllText(path), s_json)!;
    });

    public static IEnumerable<int> Seeds() => Enumerable.Range(0, 8);

    /// <summary>
    /// The generator's randomness: block i is SHA-512(seed || i, 4 bytes little-endian), the blocks concatenated, where
    /// seed is 32 bytes: the case number, 0x76, then zeros.
    /// </summary>
    private sealed class Stream
    {
        private readonly byte[] _seed = new byte[32];
        private readonly byte[] _block = new byte[64];
        private uint _counter;
        private int _used = 64;

        public Stream(byte[] seed) => seed.CopyTo(_seed, 0);

        public static Stream ForCase(int n)
        {
            byte[] seed = new byte[32];
            seed[0] = (byte)n;
            seed[1] = 0x76;
            return new Stream(seed);
        }

        public void Fill(Span<byte> destination)
        {
            for (int i = 0; i < destination.Length; i++)
            {
                if (_used == 64)
                {
                    byte[] input = new byte[36];
                    _seed.CopyTo(input, 0);
                    BinaryPrimitives.WriteUInt32LittleEndian(input.AsSpan(32), _counter++);
                    SHA512.HashData(input, _block);
                    _used = 0;
                }

                destination[i] = _block[_used++];
            }
        }

        /// <summary>The same stream as BouncyCastle randomness.</summary>
        public SecureRandom AsSecureRandom() => new StreamRandom(this);

        private sealed class StreamRandom(Stream stream) : SecureRandom(new Generator(stream))
        {
            private sealed class Generator(Stream stream) : IRandomGenerator
            {
                public void AddSeedMaterial(byte[] seed)
                {
                }

                public void AddSeedMaterial(ReadOnlySpan<byte> seed)
                {
                }

                public void AddSeedMaterial(long seed)
                {
                }

                public void NextBytes(byte[] bytes) => stream.Fill(bytes);

                public void NextBytes(byte[] bytes, int start, int len) => stream.Fill(bytes.AsSpan(start, len));

                public void NextBytes(Span<byte> bytes) => stream.Fill(bytes);
            }
        }
    }

    private static Case Vector(int n) => s_vectors.Value.Cases.Single(c => c.Seed == n);

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    [TestCaseSource(nameof(Seeds))]
    public void KnownAnswers_FromTheReferenceCode_KeyPairEncapsulationDecapsulation(int n)
    {
        Case v = Vector(n);
        var stream = Stream.ForCase(n);
        byte[] pk = new byte[Sntrup761.PublicKeyLength], sk = new byte[Sntrup761.SecretKeyLength];
        Sntrup761.GenerateKeyPair(pk, sk, stream.Fill);
        Assert.That(Hex(pk), Is.EqualTo(v.Pk), "public key");
        Assert.That(Hex(sk), Is.EqualTo(v.Sk), "secret key");

        byte[] ct = new byte[Sntrup761.CiphertextLength], ss = new byte[Sntrup761.SecretLength];
        Sntrup761.Encapsulate(pk, ct, ss, stream.Fill);
        Assert.That(Hex(ct), Is.EqualTo(v.Ct), "ciphertext");
        Assert.That(Hex(ss), Is.EqualTo(v.Ss), "shared secret");

        byte[] decapsulated = new byte[32];
        Sntrup761.Decapsulate(Convert.FromHexString(v.Ct), Convert.FromHexString(v.Sk), decapsulated);
        Assert.That(Hex(decapsulated), Is.EqualTo(v.Ss), "decapsulated");

        // Implicit rejection: a ciphertext with one bit flipped gives the reference's pseudorandom secret.
        byte[] bad = Convert.FromHexString(v.Ct);
        bad[v.BadIndex] ^= 1;
        Sntrup761.Decapsulate(bad, Convert.FromHexString(v.Sk), decapsulated);
        Assert.That(Hex(decapsulated), Is.EqualTo(v.SsBad), "rejected ciphertext");
        Assert.That(v.SsBad, Is.Not.EqualTo(v.Ss));
    }

    [Test]
    public void Differential_AgainstBouncyCastle_OnRandomSeeds()
    {
        var parameters = SNtruPrimeParameters.sntrup761;
        for (int n = 0; n < 24; n++)
        {
            byte[] seed = RandomNumberGenerator.GetBytes(32);

            // Key pairs from the same randomness are the same bytes.
            byte[] pk = new byte[Sntrup761.PublicKeyLength], sk = new byte[Sntrup761.SecretKeyLength];
            Sntrup761.GenerateKeyPair(pk, sk, new Stream(seed).Fill);
            var generator = new SNtruPrimeKeyPairGenerator();
            generator.Init(new SNtruPrimeKeyGenerationParameters(new Stream(seed).AsSecureRandom(), parameters));
            var pair = generator.GenerateKeyPair();
            Assert.That(Hex(((SNtruPrimePublicKeyParameters)pair.Public).GetEncoded()), Is.EqualTo(Hex(pk)), $"seed {Hex(seed)}: public key");
            Assert.That(Hex(((SNtruPrimePrivateKeyParameters)pair.Private).GetEncoded()), Is.EqualTo(Hex(sk)), $"seed {Hex(seed)}: secret key");

            // Encapsulations from the same randomness are the same bytes, and each side decapsulates the other's.
            byte[] encapsulationSeed = RandomNumberGenerator.GetBytes(32);
            byte[] ct = new byte[Sntrup761.CiphertextLength], ss = new byte[32];
            Sntrup761.Encapsulate(pk, ct, ss, new Stream(encapsulationSeed).Fill);
            using var theirs = new SNtruPrimeKemGenerator(new Stream(encapsulationSeed).AsSecureRandom())
                .GenerateEncapsulated(new SNtruPrimePublicKeyParameters(parameters, pk));
            Assert.That(Hex(theirs.GetEncapsulation()), Is.EqualTo(Hex(ct)), "ciphertext");
            Assert.That(Hex(theirs.GetSecret()), Is.EqualTo(Hex(ss)), "secret");

            byte[] fresh = new byte[Sntrup761.CiphertextLength], freshSecret = new byte[32], ours = new byte[32];
            using var bcFresh = new SNtruPrimeKemGenerator(new SecureRandom()).GenerateEncapsulated(new SNtruPrimePublicKeyParameters(parameters, pk));
            Sntrup761.Decapsulate(bcFresh.GetEncapsulation(), sk, ours);
            Assert.That(Hex(ours), Is.EqualTo(Hex(bcFresh.GetSecret())), "ours decapsulates BouncyCastle's");
            Sntrup761.Encapsulate(pk, fresh, freshSecret, Sntrup761.SystemRandom);
            byte[] bcSecret = new SNtruPrimeKemExtractor((SNtruPrimePrivateKeyParameters)pair.Private).ExtractSecret(fresh);
            Assert.That(Hex(bcSecret), Is.EqualTo(Hex(freshSecret)), "BouncyCastle decapsulates ours");
        }
    }

    [Test]
    public void Differential_GarbagePublicKeysAndCiphertexts_AgreeWithBouncyCastle()
    {
        var parameters = SNtruPrimeParameters.sntrup761;
        byte[] pk = new byte[Sntrup761.PublicKeyLength], sk = new byte[Sntrup761.SecretKeyLength];
        byte[] keySeed = RandomNumberGenerator.GetBytes(32);
        Sntrup761.GenerateKeyPair(pk, sk, new Stream(keySeed).Fill);
        var extractor = new SNtruPrimeKemExtractor(new SNtruPrimePrivateKeyParameters(parameters, sk));
        for (int n = 0; n < 24; n++)
        {
            // Any 1158 bytes are a public key (values past q wrap): both sides encapsulate to the same ciphertext.
            byte[] garbageKey = RandomNumberGenerator.GetBytes(Sntrup761.PublicKeyLength);
            if (n % 3 == 0)
            {
                garbageKey.AsSpan().Fill(0xFF);
                garbageKey[n] = (byte)n;
            }

            byte[] seed = RandomNumberGenerator.GetBytes(32);
            byte[] ct = new byte[Sntrup761.CiphertextLength], ss = new byte[32];
            Sntrup761.Encapsulate(garbageKey, ct, ss, new Stream(seed).Fill);
            using var theirs = new SNtruPrimeKemGenerator(new Stream(seed).AsSecureRandom())
                .GenerateEncapsulated(new SNtruPrimePublicKeyParameters(parameters, garbageKey));
            Assert.That(Hex(theirs.GetEncapsulation()), Is.EqualTo(Hex(ct)), "ciphertext to a garbage key");
            Assert.That(Hex(theirs.GetSecret()), Is.EqualTo(Hex(ss)), "secret to a garbage key");

            // Any 1039 bytes are a ciphertext: both sides reject it to the same pseudorandom secret.
            byte[] garbage = RandomNumberGenerator.GetBytes(Sntrup761.CiphertextLength);
            if (n % 3 == 1)
            {
                garbage.AsSpan().Fill(0xFF);
            }

            byte[] ours = new byte[32];
            Sntrup761.Decapsulate(garbage, sk, ours);
            Assert.That(Hex(ours), Is.EqualTo(Hex(extractor.ExtractSecret(garbage))), "secret from a garbage ciphertext");
        }
    }

    [Test]
    public void FreezeQ_EqualsTheCentredRemainder_OverItsWholeRange()
    {
        for (int x = -(1 << 24); x <= 1 << 24; x++)
        {
            int expected = ((x % Q) + Q) % Q;
            if (expected > (Q - 1) / 2)
            {
                expected -= Q;
            }

            if (Sntrup761.FreezeQ(x) != expected)
            {
                Assert.Fail($"FreezeQ({x}) = {Sntrup761.FreezeQ(x)}, expected {expected}");
            }
        }
    }

    [Test]
    public void FreezeThree_EqualsTheCentredRemainder_OverItsWholeRange()
    {
        for (int x = -(1 << 14) + 1; x < 1 << 14; x++)
        {
            int expected = ((x % 3) + 4) % 3 - 1;
            Assert.That((int)Sntrup761.FreezeThree(x), Is.EqualTo(expected), $"FreezeThree({x})");
        }
    }

    [Test]
    public void BitonicSort_SortsLikeArraySort()
    {
        var random = new Random(761);
        for (int n = 0; n < 200; n++)
        {
            uint[] values = new uint[1024];
            for (int i = 0; i < values.Length; i++)
            {
                // Few distinct values in some rounds, so that ties are common.
                values[i] = n % 2 == 0 ? (uint)random.NextInt64(0, 1L << 32) : (uint)random.Next(0, 4);
            }

            uint[] expected = (uint[])values.Clone();
            Array.Sort(expected);
            Sntrup761.BitonicSort(values);
            Assert.That(values, Is.EqualTo(expected));
        }
    }

    [Test]
    public void EveryShortVector_HasWeightW_AndCoefficientsInMinusOneToOne()
    {
        byte[] pk = new byte[Sntrup761.PublicKeyLength], sk = new byte[Sntrup761.SecretKeyLength];
        Sntrup761.GenerateKeyPair(pk, sk, Sntrup761.SystemRandom);

        // f (the first 191 bytes of the secret key) is short: 286 coefficients ±1, the rest 0.
        int weight = 0;
        for (int i = 0; i < P; i++)
        {
            int value = ((sk[i / 4] >> (2 * (i % 4))) & 3) - 1;
            Assert.That(value, Is.InRange(-1, 1));
            weight += value != 0 ? 1 : 0;
        }

        Assert.That(weight, Is.EqualTo(286));
    }
}
