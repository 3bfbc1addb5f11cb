using System.Security.Cryptography;
using System.Text.Json;
using Org.BouncyCastle.Crypto.Prng;
using Org.BouncyCastle.Crypto.Kems;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;
using Ssh.Transport.KeyExchange;
using static Ssh.Transport.Tests.KeyExchange.KexAlgorithmTests;

namespace Ssh.Transport.Tests.KeyExchange;

/// <summary>
/// mlkem768nistp256-sha256 (OpenSSH 10.5 kexmlkem768ecdh.c, draft-ietf-sshm-mlkem-hybrid-kex): known answers for both
/// roles with the randomness fixed (the ML-KEM seed or m, the P-256 scalars) against values computed without our code
/// (TestData/make_hybrid_kex_vectors.py: OpenSSL through python3-cryptography, and NIST's ACVP ML-KEM vector), the
/// exchange hash over them, and the refusals.
/// </summary>
public class KexAlgorithmMlKemNistTests
{
    private const string Name = "mlkem768nistp256-sha256";
    private const int MlKemPublic = 1184, MlKemCiphertext = 1088, Point = 65;

    private static readonly JsonSerializerOptions s_json = new() { PropertyNameCaseInsensitive = true };

    public sealed record Case(string Role, string? Seed, string? M, string DC, string DS, string CInit, string SReply, string K,
        string VC, string VS, string IC, string IS, string KS, string H);

    public sealed record CaseFile(string Method, Case[] Cases);

    private static readonly Lazy<CaseFile> s_vectors = new(() =>
    {
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "hybrid_kex_vectors.json");
        return JsonSerializer.Deserialize<CaseFile>(File.ReadAllText(path), s_json)!;
    });

    private static Case Vector(string role) => s_vectors.Value.Cases.Single(c => c.Role == role);

    private static KexAlgorithm Algorithm => KexAlgorithm.Find(Name)!;

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    [Test]
    public void Find_MlKem768NistP256_IsAnEcdhFamilySha256Hybrid()
    {
        Assert.That(s_vectors.Value.Method, Is.EqualTo(Name));
        Assert.That(Algorithm.Hash, Is.EqualTo(HashAlgorithmName.SHA256));
        Assert.That(Algorithm.Family, Is.EqualTo(KexFamily.Ecdh));
        Assert.That(Algorithm.IsLegacy, Is.False);
    }

    [Test]
    public void KnownAnswer_Client_InitAndSharedSecretAndExchangeHash()
    {
        Case v = Vector("client");
        using KexAgreement client = Algorithm.CreateWithPrivateKey(server: false, Hex(v.DC), kemRandom: new FixedRandom(Hex(v.Seed!)));
        Assert.That(Convert.ToHexStringLower(client.LocalPublic.Span), Is.EqualTo(v.CInit), "C_INIT = ML-KEM-768 ek(seed) || Q_C");

        byte[] k = SharedSecret(client, Hex(v.SReply));
        Assert.That(Convert.ToHexStringLower(k), Is.EqualTo(v.K), "K = string(SHA-256(ML-KEM secret || P-256 x))");
        AssertExchangeHash(v, k);
    }

    [Test]
    public void KnownAnswer_Server_ReplyAndSharedSecretAndExchangeHash()
    {
        Case v = Vector("server");
        using KexAgreement server = Algorithm.CreateWithPrivateKey(server: true, Hex(v.DS), kemRandom: new FixedRandom(Hex(v.M!)));
        byte[] k = SharedSecret(server, Hex(v.CInit));
        Assert.That(Convert.ToHexStringLower(server.LocalPublic.Span), Is.EqualTo(v.SReply), "S_REPLY = ML-KEM-768 ct(ek, m) || Q_S");
        Assert.That(Convert.ToHexStringLower(k), Is.EqualTo(v.K), "K = string(SHA-256(ML-KEM secret || P-256 x))");
        AssertExchangeHash(v, k);
    }

    [Test]
    public void KnownAnswer_ClientVector_ServerSideP256HalfAgrees()
    {
        // The same client vector seen from the server: its ECDH half with the fixed scalar gives the recorded Q_S.
        Case v = Vector("client");
        using KexAgreement ecdh = KexAlgorithm.Find("ecdh-sha2-nistp256")!.CreateWithPrivateKey(server: true, Hex(v.DS));
        Assert.That(Convert.ToHexStringLower(ecdh.LocalPublic.Span), Is.EqualTo(v.SReply[(2 * MlKemCiphertext)..]));
    }

    [Test]
    public void ComputeSharedSecret_BothRolesOfOurs_Agree([Values] bool platformMlKem)
    {
        bool previous = PostQuantumKem.UsePlatformMlKem;
        PostQuantumKem.UsePlatformMlKem = platformMlKem;
        try
        {
            (byte[] clientK, byte[] serverK, byte[] init, byte[] reply) = Exchange(Algorithm);
            Assert.That(clientK, Is.EqualTo(serverK));
            Assert.That(clientK, Has.Length.EqualTo(4 + 32));
            Assert.That(init, Has.Length.EqualTo(MlKemPublic + Point));
            Assert.That(reply, Has.Length.EqualTo(MlKemCiphertext + Point));
            Assert.That((init[MlKemPublic], reply[MlKemCiphertext]), Is.EqualTo(((byte)4, (byte)4)), "uncompressed points");
        }
        finally
        {
            PostQuantumKem.UsePlatformMlKem = previous;
        }
    }

    [Test]
    public void ComputeSharedSecret_Client_AgainstBouncyCastleEncapsulationAndBclEcdh()
    {
        // The test plays the server with BouncyCastle's ML-KEM and the BCL's P-256.
        using KexAgreement client = Algorithm.CreateClient();
        byte[] init = client.LocalPublic.ToArray();
        var encapsulator = new MLKemEncapsulator(MLKemParameters.ml_kem_768);
        encapsulator.Init(MLKemPublicKeyParameters.FromEncoding(MLKemParameters.ml_kem_768, init[..MlKemPublic]));
        byte[] ciphertext = new byte[MlKemCiphertext], kemSecret = new byte[32];
        encapsulator.Encapsulate(ciphertext, kemSecret);
        using var serverEcdh = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        ECParameters q = serverEcdh.ExportParameters(false);
        byte[] reply = [.. ciphertext, 4, .. q.Q.X!, .. q.Q.Y!];
        using var clientPoint = ECDiffieHellman.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = init[(MlKemPublic + 1)..(MlKemPublic + 33)], Y = init[(MlKemPublic + 33)..] },
        });
        byte[] x = serverEcdh.DeriveRawSecretAgreement(clientPoint.PublicKey);

        byte[] expected = [0, 0, 0, 32, .. SHA256.HashData([.. kemSecret, .. x])];
        Assert.That(SharedSecret(client, reply), Is.EqualTo(expected));
    }

    [Test]
    public void ComputeSharedSecret_WrongLength_KeyExchangeFailed([Values] bool server, [Values(-1, 1, -65, -33)] int delta)
    {
        using KexAgreement agreement = server ? Algorithm.CreateServer() : Algorithm.CreateClient();
        byte[] value = new byte[(server ? MlKemPublic : MlKemCiphertext) + Point + delta];
        RandomNumberGenerator.Fill(value);
        AssertKeyExchangeFailed(() => SharedSecret(agreement, value));
    }

    [Test]
    public void ComputeSharedSecret_PointNotOnCurveOrCompressed_KeyExchangeFailed([Values] bool server, [Values] bool compressed)
    {
        using KexAgreement client = Algorithm.CreateClient();
        using KexAgreement agreement = server ? Algorithm.CreateServer() : client;
        byte[] value = new byte[(server ? MlKemPublic : MlKemCiphertext) + Point];
        if (server)
        {
            client.LocalPublic.Span[..MlKemPublic].CopyTo(value);
        }

        int at = server ? MlKemPublic : MlKemCiphertext;
        value[at] = compressed ? (byte)2 : (byte)4;
        value[at + 1] = 1; // x = 2^256-ish garbage, y = 0: not on P-256
        AssertKeyExchangeFailed(() => SharedSecret(agreement, value));
    }

    [Test]
    public void ComputeSharedSecret_MlKemKeyFailingModulusCheck_KeyExchangeFailed()
    {
        using KexAgreement client = Algorithm.CreateClient();
        byte[] init = client.LocalPublic.ToArray();
        init[0] = 0xFF;
        init[1] |= 0x0F; // first coefficient 0xFFF >= q (FIPS 203 §7.2)
        using KexAgreement server = Algorithm.CreateServer();
        AssertKeyExchangeFailed(() => SharedSecret(server, init));
    }

    private static void AssertExchangeHash(Case v, byte[] k)
    {
        byte[] h = ExchangeHash.Compute(
            HashAlgorithmName.SHA256, ExchangeHashForm.Strings, Hex(v.VC), Hex(v.VS), Hex(v.IC), Hex(v.IS), Hex(v.KS), Hex(v.CInit), Hex(v.SReply), k);
        Assert.That(Convert.ToHexStringLower(h), Is.EqualTo(v.H), "H over string C_INIT, string S_REPLY, K");
    }

    /// <summary>BouncyCastle randomness that hands out fixed bytes, in order, and fails when they run out.</summary>
    private sealed class FixedRandom(byte[] fixedBytes) : SecureRandom(new FixedGenerator(fixedBytes))
    {
        private sealed class FixedGenerator(byte[] fixedBytes) : IRandomGenerator
        {
            private int _position;

            public void AddSeedMaterial(byte[] seed)
            {
            }

            public void AddSeedMaterial(ReadOnlySpan<byte> seed)
            {
            }

            public void AddSeedMaterial(long seed)
            {
            }

            public void NextBytes(byte[] bytes) => NextBytes(bytes.AsSpan());

            public void NextBytes(byte[] bytes, int start, int len) => NextBytes(bytes.AsSpan(start, len));

            public void NextBytes(Span<byte> bytes)
            {
                if (_position + bytes.Length > FixedBytes.Length)
                {
                    throw new InvalidOperationException($"The test supplied {FixedBytes.Length} random bytes; {_position + bytes.Length} were asked for.");
                }

                FixedBytes.AsSpan(_position, bytes.Length).CopyTo(bytes);
                _position += bytes.Length;
            }

            private byte[] FixedBytes { get; } = fixedBytes;
        }
    }
}
