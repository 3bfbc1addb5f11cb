using System.Security.Cryptography;
using System.Text.Json;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport.Tests.KeyExchange;

public class NegotiationTests
{
    private static KexInitMessage Init(string[] kex, string[] hostKeys, string[] ciphers, string[]? macs = null, string[]? compression = null) =>
        KexInitMessage.Create(kex, hostKeys, ciphers, macs ?? ["hmac-sha2-256"], compression ?? ["none"]);

    private static bool Aead(string name) => name.Contains("gcm", StringComparison.Ordinal) || name.StartsWith("chacha", StringComparison.Ordinal);

    [Test]
    public void Negotiate_PicksTheFirstOfTheClientsListThatTheServerHas()
    {
        KexInitMessage client = Init(["curve25519-sha256", "ecdh-sha2-nistp256", "ext-info-c", "kex-strict-c-v00@openssh.com"], ["ssh-ed25519", "rsa-sha2-512"], ["aes256-ctr", "aes128-ctr"], ["hmac-sha2-512", "hmac-sha2-256"], ["zlib", "none"]);
        KexInitMessage server = Init(["ecdh-sha2-nistp256", "curve25519-sha256", "kex-strict-s-v00@openssh.com"], ["rsa-sha2-512", "ssh-ed25519"], ["aes128-ctr", "aes256-ctr"], ["hmac-sha2-256", "hmac-sha2-512"], ["none", "zlib"]);
        NegotiatedAlgorithms n = AlgorithmNegotiation.Negotiate(client, server, Aead);
        Assert.That(n.KeyExchange, Is.EqualTo("curve25519-sha256"));
        Assert.That(n.HostKey, Is.EqualTo("ssh-ed25519"));
        Assert.That(n.CipherClientToServer, Is.EqualTo("aes256-ctr"));
        Assert.That(n.MacServerToClient, Is.EqualTo("hmac-sha2-512"));
        Assert.That(n.CompressionClientToServer, Is.EqualTo("zlib"));
    }

    [Test]
    public void Negotiate_MarkersAreNeverChosenAsMethods()
    {
        KexInitMessage client = Init(["ext-info-c", "kex-strict-c-v00@openssh.com"], ["ssh-ed25519"], ["aes128-ctr"]);
        KexInitMessage server = Init(["ext-info-c", "kex-strict-c-v00@openssh.com", "curve25519-sha256"], ["ssh-ed25519"], ["aes128-ctr"]);
        var ex = Assert.Throws<SshAlgorithmNegotiationException>(() => AlgorithmNegotiation.Negotiate(client, server, Aead));
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.KeyExchangeFailed));
    }

    [TestCase("key exchange")]
    [TestCase("host key")]
    [TestCase("cipher")]
    [TestCase("MAC")]
    [TestCase("compression")]
    public void Negotiate_NothingInCommon_IsKeyExchangeFailed(string category)
    {
        KexInitMessage client = Init(
            [category == "key exchange" ? "a" : "curve25519-sha256"],
            [category == "host key" ? "a" : "ssh-ed25519"],
            [category == "cipher" ? "a" : "aes128-ctr"],
            [category == "MAC" ? "a" : "hmac-sha2-256"],
            [category == "compression" ? "a" : "none"]);
        KexInitMessage server = Init(["curve25519-sha256"], ["ssh-ed25519"], ["aes128-ctr"], ["hmac-sha2-256"], ["none"]);
        var ex = Assert.Throws<SshAlgorithmNegotiationException>(() => AlgorithmNegotiation.Negotiate(client, server, Aead));
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.KeyExchangeFailed));
        Assert.That(ex.Message, Does.Contain(category));
        Assert.That(ex.Category, Is.EqualTo(category switch
        {
            "key exchange" => SshAlgorithmCategory.KeyExchange,
            "host key" => SshAlgorithmCategory.HostKey,
            "cipher" => SshAlgorithmCategory.Cipher,
            "MAC" => SshAlgorithmCategory.Mac,
            _ => SshAlgorithmCategory.Compression,
        }));
        Assert.That(ex.ClientAlgorithms, Is.EqualTo(new[] { "a" }));
    }

    [Test]
    public void Negotiate_AeadCipher_NeedsNoCommonMac()
    {
        KexInitMessage client = Init(["curve25519-sha256"], ["ssh-ed25519"], ["aes128-gcm@openssh.com"], ["hmac-sha2-256"]);
        KexInitMessage server = Init(["curve25519-sha256"], ["ssh-ed25519"], ["aes128-gcm@openssh.com"], ["hmac-sha1"]);
        NegotiatedAlgorithms n = AlgorithmNegotiation.Negotiate(client, server, Aead);
        Assert.That(n.MacClientToServer, Is.Null);
        Assert.That(n.MacServerToClient, Is.Null);
    }

    [Test]
    public void IsGuessWrong_ComparesTheFirstKexAndHostKeyOfBothSides()
    {
        KexInitMessage a = Init(["curve25519-sha256", "ecdh-sha2-nistp256"], ["ssh-ed25519"], ["aes128-ctr"]);
        KexInitMessage b = Init(["curve25519-sha256"], ["ssh-ed25519", "rsa-sha2-256"], ["aes128-ctr"]);
        KexInitMessage c = Init(["ecdh-sha2-nistp256", "curve25519-sha256"], ["ssh-ed25519"], ["aes128-ctr"]);
        KexInitMessage d = Init(["curve25519-sha256"], ["rsa-sha2-256", "ssh-ed25519"], ["aes128-ctr"]);
        Assert.That(AlgorithmNegotiation.IsGuessWrong(a, b), Is.False);
        Assert.That(AlgorithmNegotiation.IsGuessWrong(a, c), Is.True);
        Assert.That(AlgorithmNegotiation.IsGuessWrong(a, d), Is.True);
    }

    [Test]
    public void KexInit_RoundTrip_KeepsExactPayload()
    {
        KexInitMessage ours = Init(["curve25519-sha256", "ext-info-c"], ["ssh-ed25519"], ["aes128-ctr"], ["hmac-sha2-256"], ["none", "zlib@openssh.com"]);
        KexInitMessage parsed = KexInitMessage.Parse(ours.Payload, 8192);
        Assert.That(parsed.Payload, Is.EqualTo(ours.Payload));
        Assert.That(parsed.KexAlgorithms, Is.EqualTo(new[] { "curve25519-sha256", "ext-info-c" }));
        Assert.That(parsed.CompressionServerToClient, Is.EqualTo(new[] { "none", "zlib@openssh.com" }));
        Assert.That(parsed.FirstKexPacketFollows, Is.False);
        Assert.That(ours.Payload.AsSpan(1, 16).ToArray(), Is.Not.EqualTo(Init(["a"], ["b"], ["c"]).Payload.AsSpan(1, 16).ToArray()), "random cookie");
    }

    [Test]
    public void KexInit_Truncated_IsProtocolError()
    {
        byte[] payload = Init(["curve25519-sha256"], ["ssh-ed25519"], ["aes128-ctr"]).Payload;
        for (int length = 1; length < payload.Length - 5; length += 7)
        {
            Assert.Throws<SshProtocolException>(() => KexInitMessage.Parse(payload.AsSpan(0, length), 8192), $"length {length}");
        }
    }

    [Test]
    public void KexInit_OversizedNameList_IsProtocolError()
    {
        string[] many = Enumerable.Range(0, 2000).Select(i => $"algorithm{i}").ToArray();
        byte[] payload = Init(many, ["ssh-ed25519"], ["aes128-ctr"]).Payload;
        var ex = Assert.Throws<SshProtocolException>(() => KexInitMessage.Parse(payload, 8192));
        Assert.That(ex!.Message, Does.Contain("exceeds the limit"));
    }

    private static readonly JsonSerializerOptions s_json = new() { PropertyNameCaseInsensitive = true };

    public sealed record KdfVector(string Hash, string K, string H, string Letter, string SessionId, int Length, string Expected);

    private static IEnumerable<TestCaseData> KdfVectors()
    {
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "kdf_vectors.json");
        var vectors = JsonSerializer.Deserialize<KdfVector[]>(File.ReadAllText(path), s_json)!;
        return vectors.Select((v, i) => new TestCaseData(v).SetName($"Derive_KnownAnswer_{v.Hash}_{v.Letter}_{v.Length}_{i}"));
    }

    [TestCaseSource(nameof(KdfVectors))]
    public void Derive_MatchesIndependentImplementation(KdfVector vector)
    {
        byte[] output = new byte[vector.Length];
        KeyDerivation.Derive(new HashAlgorithmName(vector.Hash), Convert.FromHexString(vector.K), Convert.FromHexString(vector.H), (byte)vector.Letter[0], Convert.FromHexString(vector.SessionId), output);
        Assert.That(Convert.ToHexStringLower(output), Is.EqualTo(vector.Expected));
    }
}
