using System.Buffers.Binary;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Kems;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Math.EC.Rfc7748;
using Org.BouncyCastle.Pqc.Crypto.NtruPrime;
using Org.BouncyCastle.Security;
using Ssh.Transport.KeyExchange;
using static Ssh.Transport.Tests.KeyExchange.KexAlgorithmTests;

namespace Ssh.Transport.Tests.KeyExchange;

/// <summary>
/// mlkem768x25519-sha256 and sntrup761x25519-sha512: exact sizes, and K recomputed from BouncyCastle pieces playing
/// the other side (draft-ietf-sshm-mlkem-hybrid-kex, draft-ietf-sshm-ntruprime-ssh; OpenSSH's kexmlkem768x25519.c
/// and kexsntrup761x25519.c).
/// </summary>
public class KexAlgorithmHybridTests
{
    private const int MlKemPublic = 1184, MlKemCiphertext = 1088, SntrupPublic = 1158, SntrupCiphertext = 1039;

    private static readonly SecureRandom s_random = new();

    private static KexAlgorithm Get(string name) => KexAlgorithm.Find(name)!;

    private static (byte[] Private, byte[] Public) NewX25519()
    {
        byte[] privateKey = new byte[32], publicKey = new byte[32];
        RandomNumberGenerator.Fill(privateKey);
        X25519.GeneratePublicKey(privateKey, publicKey);
        return (privateKey, publicKey);
    }

    private static byte[] X25519Secret(byte[] privateKey, ReadOnlySpan<byte> peer)
    {
        byte[] secret = new byte[32];
        Assert.That(X25519.CalculateAgreement(privateKey, peer, secret), Is.True);
        return secret;
    }

    /// <summary>string(HASH(kem_secret || x25519_secret)).</summary>
    private static byte[] ExpectedK(HashAlgorithmName hash, byte[] kemSecret, byte[] x25519Secret)
    {
        byte[] digest = CryptographicOperations.HashData(hash, [.. kemSecret, .. x25519Secret]);
        byte[] k = new byte[4 + digest.Length];
        BinaryPrimitives.WriteUInt32BigEndian(k, (uint)digest.Length);
        digest.CopyTo(k, 4);
        return k;
    }

    // ---- BouncyCastle as the other side -------------------------------------------------------------------------------

    private static (byte[] Ciphertext, byte[] Secret) MlKemEncapsulate(ReadOnlySpan<byte> publicKey)
    {
        var encapsulator = new MLKemEncapsulator(MLKemParameters.ml_kem_768);
        encapsulator.Init(MLKemPublicKeyParameters.FromEncoding(MLKemParameters.ml_kem_768, publicKey.ToArray()));
        byte[] ciphertext = new byte[encapsulator.EncapsulationLength], secret = new byte[encapsulator.SecretLength];
        encapsulator.Encapsulate(ciphertext, secret);
        return (ciphertext, secret);
    }

    private static (byte[] Public, Func<byte[], byte[]> Decapsulate) MlKemKeyPair()
    {
        var generator = new MLKemKeyPairGenerator();
        generator.Init(new MLKemKeyGenerationParameters(s_random, MLKemParameters.ml_kem_768));
        var pair = generator.GenerateKeyPair();
        return (((MLKemPublicKeyParameters)pair.Public).GetEncoded(), ciphertext =>
        {
            var decapsulator = new MLKemDecapsulator(MLKemParameters.ml_kem_768);
            decapsulator.Init(pair.Private);
            byte[] secret = new byte[decapsulator.SecretLength];
            decapsulator.Decapsulate(ciphertext, secret);
            return secret;
        });
    }

    private static (byte[] Ciphertext, byte[] Secret) SntrupEncapsulate(ReadOnlySpan<byte> publicKey)
    {
        using var result = new SNtruPrimeKemGenerator(s_random).GenerateEncapsulated(new SNtruPrimePublicKeyParameters(SNtruPrimeParameters.sntrup761, publicKey.ToArray()));
        return (result.GetEncapsulation(), result.GetSecret());
    }

    private static (byte[] Public, Func<byte[], byte[]> Decapsulate) SntrupKeyPair()
    {
        var generator = new SNtruPrimeKeyPairGenerator();
        generator.Init(new SNtruPrimeKeyGenerationParameters(s_random, SNtruPrimeParameters.sntrup761));
        var pair = generator.GenerateKeyPair();
        return (((SNtruPrimePublicKeyParameters)pair.Public).GetEncoded(), ciphertext =>
            new SNtruPrimeKemExtractor((SNtruPrimePrivateKeyParameters)pair.Private).ExtractSecret(ciphertext));
    }

    private static IEnumerable<TestCaseData> Hybrids()
    {
        yield return new TestCaseData("mlkem768x25519-sha256", MlKemPublic, MlKemCiphertext);
        yield return new TestCaseData("sntrup761x25519-sha512", SntrupPublic, SntrupCiphertext);
        yield return new TestCaseData("sntrup761x25519-sha512@openssh.com", SntrupPublic, SntrupCiphertext);
    }

    [TestCaseSource(nameof(Hybrids))]
    public void LocalPublic_Hybrid_HasExactLengths(string name, int publicLength, int ciphertextLength)
    {
        (_, _, byte[] clientValue, byte[] serverValue) = Exchange(Get(name));
        Assert.That(clientValue, Has.Length.EqualTo(publicLength + 32));
        Assert.That(serverValue, Has.Length.EqualTo(ciphertextLength + 32));
    }

    [TestCaseSource(nameof(Hybrids))]
    public void LocalPublic_HybridServerBeforeEncapsulation_Throws(string name, int publicLength, int ciphertextLength)
    {
        using KexAgreement server = Get(name).CreateServer();
        Assert.Throws<InvalidOperationException>(() => _ = server.LocalPublic);
    }

    [TestCaseSource(nameof(Hybrids))]
    public void ComputeSharedSecret_HybridClient_IsHashOfKemSecretAndX25519Secret(string name, int publicLength, int ciphertextLength)
    {
        KexAlgorithm algorithm = Get(name);
        (byte[] clientX25519, byte[] clientX25519Public) = NewX25519();
        using KexAgreement client = algorithm.CreateWithPrivateKey(false, clientX25519);
        byte[] init = client.LocalPublic.ToArray();
        Assert.That(init.AsSpan(publicLength).ToArray(), Is.EqualTo(clientX25519Public), "C_INIT ends with the X25519 key");

        // The test plays the server with BouncyCastle.
        (byte[] ciphertext, byte[] kemSecret) = publicLength == MlKemPublic
            ? MlKemEncapsulate(init.AsSpan(0, publicLength))
            : SntrupEncapsulate(init.AsSpan(0, publicLength));
        (byte[] serverX25519, byte[] serverX25519Public) = NewX25519();
        byte[] reply = [.. ciphertext, .. serverX25519Public];

        byte[] k = SharedSecret(client, reply);
        Assert.That(k, Is.EqualTo(ExpectedK(algorithm.Hash, kemSecret, X25519Secret(serverX25519, init.AsSpan(publicLength)))));
    }

    [TestCaseSource(nameof(Hybrids))]
    public void ComputeSharedSecret_HybridServer_IsHashOfKemSecretAndX25519Secret(string name, int publicLength, int ciphertextLength)
    {
        KexAlgorithm algorithm = Get(name);

        // The test plays the client with BouncyCastle.
        (byte[] kemPublic, Func<byte[], byte[]> decapsulate) = publicLength == MlKemPublic ? MlKemKeyPair() : SntrupKeyPair();
        (byte[] clientX25519, byte[] clientX25519Public) = NewX25519();
        byte[] init = [.. kemPublic, .. clientX25519Public];

        (byte[] serverX25519, byte[] serverX25519Public) = NewX25519();
        using KexAgreement server = algorithm.CreateWithPrivateKey(true, serverX25519);
        byte[] k = SharedSecret(server, init);
        byte[] reply = server.LocalPublic.ToArray();
        Assert.That(reply, Has.Length.EqualTo(ciphertextLength + 32));
        Assert.That(reply.AsSpan(ciphertextLength).ToArray(), Is.EqualTo(serverX25519Public), "S_REPLY ends with the X25519 key");

        byte[] kemSecret = decapsulate(reply[..ciphertextLength]);
        Assert.That(k, Is.EqualTo(ExpectedK(algorithm.Hash, kemSecret, X25519Secret(clientX25519, reply.AsSpan(ciphertextLength)))));
    }

    [Test]
    public void ComputeSharedSecret_HybridWrongLength_KeyExchangeFailed(
        [Values("mlkem768x25519-sha256", "sntrup761x25519-sha512")] string name,
        [Values] bool server,
        [Values(-1, 1, -32)] int delta)
    {
        KexAlgorithm algorithm = Get(name);
        int kem = name.StartsWith("mlkem", StringComparison.Ordinal)
            ? (server ? MlKemPublic : MlKemCiphertext)
            : (server ? SntrupPublic : SntrupCiphertext);
        using KexAgreement agreement = server ? algorithm.CreateServer() : algorithm.CreateClient();
        byte[] value = new byte[kem + 32 + delta];
        RandomNumberGenerator.Fill(value);
        AssertKeyExchangeFailed(() => SharedSecret(agreement, value));
        if (server)
        {
            Assert.Throws<InvalidOperationException>(() => _ = agreement.LocalPublic, "no reply after a failure");
        }
    }

    [Test]
    public void ComputeSharedSecret_HybridLowOrderX25519_KeyExchangeFailed(
        [Values("mlkem768x25519-sha256", "sntrup761x25519-sha512")] string name,
        [Values] bool server)
    {
        KexAlgorithm algorithm = Get(name);
        using KexAgreement client = algorithm.CreateClient();
        using KexAgreement agreement = server ? algorithm.CreateServer() : client;
        int kem = server ? client.LocalPublic.Length - 32 : (name.StartsWith("mlkem", StringComparison.Ordinal) ? MlKemCiphertext : SntrupCiphertext);
        byte[] value = new byte[kem + 32];
        if (server)
        {
            client.LocalPublic.Span[..kem].CopyTo(value);
        }

        AssertKeyExchangeFailed(() => SharedSecret(agreement, value));
    }

    [Test]
    public void ComputeSharedSecret_MlKemKeyFailingModulusCheck_KeyExchangeFailed()
    {
        KexAlgorithm algorithm = Get("mlkem768x25519-sha256");
        using KexAgreement client = algorithm.CreateClient();
        byte[] init = client.LocalPublic.ToArray();

        // Make the first 12-bit coefficient 0xFFF >= q = 3329 (FIPS 203 §7.2).
        init[0] = 0xFF;
        init[1] |= 0x0F;
        using KexAgreement server = algorithm.CreateServer();
        AssertKeyExchangeFailed(() => SharedSecret(server, init));
    }

    [Test]
    public void IsValidMlKem768EncapsulationKey_ChecksEveryCoefficient()
    {
        (byte[] publicKey, _) = MlKemKeyPair();
        Assert.That(PostQuantumKem.IsValidMlKem768EncapsulationKey(publicKey), Is.True);

        byte[] high = (byte[])publicKey.Clone();
        high[1150] = 0xFF; // second coefficient of the last triple: (b1 >> 4) | (b2 << 4) >= 3329
        high[1151] = 0xFF;
        Assert.That(PostQuantumKem.IsValidMlKem768EncapsulationKey(high), Is.False);

        byte[] rho = (byte[])publicKey.Clone();
        rho.AsSpan(1152).Fill(0xFF); // the seed rho is not checked
        Assert.That(PostQuantumKem.IsValidMlKem768EncapsulationKey(rho), Is.True);
        Assert.That(PostQuantumKem.IsValidMlKem768EncapsulationKey(publicKey.AsSpan(1)), Is.False);
    }

    [Test]
    public void ComputeSharedSecret_MlKemBouncyCastleBackend_RoundTrips()
    {
        bool previous = PostQuantumKem.UsePlatformMlKem;
        PostQuantumKem.UsePlatformMlKem = false;
        try
        {
            (byte[] clientK, byte[] serverK, _, _) = Exchange(Get("mlkem768x25519-sha256"));
            Assert.That(clientK, Is.EqualTo(serverK));
        }
        finally
        {
            PostQuantumKem.UsePlatformMlKem = previous;
        }
    }

    [Test]
    public void ComputeSharedSecret_MlKemPlatformAndBouncyCastle_Interoperate()
    {
        Assume.That(MLKem.IsSupported, Is.True, "the platform has no ML-KEM (OpenSSL < 3.5)");
        KexAlgorithm algorithm = Get("mlkem768x25519-sha256");
        for (int i = 0; i < 2; i++)
        {
            PostQuantumKem.UsePlatformMlKem = i == 0;
            using KexAgreement client = algorithm.CreateClient();
            PostQuantumKem.UsePlatformMlKem = i != 0;
            using KexAgreement server = algorithm.CreateServer();
            PostQuantumKem.UsePlatformMlKem = true;
            byte[] serverK = SharedSecret(server, client.LocalPublic.Span);
            Assert.That(SharedSecret(client, server.LocalPublic.Span), Is.EqualTo(serverK));
        }
    }
}
