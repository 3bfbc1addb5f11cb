using System.Buffers;
using System.Numerics;
using System.Security.Cryptography;
using System.Text.Json;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport.Tests.KeyExchange;

public class KexAlgorithmTests
{
    private static readonly JsonSerializerOptions s_json = new() { PropertyNameCaseInsensitive = true };

    public sealed record DhVector(string Method, string Group, int Bits, string P, int G, string XC, string XS, string E, string F, string K);

    public sealed record EcdhVector(string Method, string DC, string DS, string QC, string QS, string K);

    public sealed record X25519Vector(string Method, string A, string B, string QC, string QS, string K);

    public sealed record VectorFile(DhVector[] Dh, EcdhVector[] Ecdh, X25519Vector[] X25519);

    private static readonly Lazy<VectorFile> s_vectors = new(() =>
    {
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "kex_vectors.json");
        return JsonSerializer.Deserialize<VectorFile>(File.ReadAllText(path), s_json)!;
    });

    internal static byte[] SharedSecret(KexAgreement agreement, ReadOnlySpan<byte> peer)
    {
        var writer = new ArrayBufferWriter<byte>();
        agreement.ComputeSharedSecret(peer, writer);
        return writer.WrittenSpan.ToArray();
    }

    internal static void AssertKeyExchangeFailed(Action action)
    {
        var ex = Assert.Throws<SshProtocolException>(action);
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.KeyExchangeFailed));
    }

    private static KexAlgorithm Get(string name) => KexAlgorithm.Find(name) ?? throw new AssertionException($"{name} is missing");

    // ---- The list of methods ------------------------------------------------------------------------------------

    [Test]
    public void DefaultOrder_IsThePreferenceOrderWithoutSha1()
    {
        Assert.That(KexAlgorithm.DefaultOrder, Is.EqualTo(new[]
        {
            "mlkem768x25519-sha256", "sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com",
            "mlkem768nistp256-sha256", "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
            "ecdh-sha2-nistp521", "diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512",
            "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256",
        }));
    }

    [TestCase("mlkem768x25519-sha256", "SHA256", "Ecdh", false)]
    [TestCase("sntrup761x25519-sha512", "SHA512", "Ecdh", false)]
    [TestCase("sntrup761x25519-sha512@openssh.com", "SHA512", "Ecdh", false)]
    [TestCase("mlkem768nistp256-sha256", "SHA256", "Ecdh", false)]
    [TestCase("curve25519-sha256", "SHA256", "Ecdh", false)]
    [TestCase("curve25519-sha256@libssh.org", "SHA256", "Ecdh", false)]
    [TestCase("ecdh-sha2-nistp256", "SHA256", "Ecdh", false)]
    [TestCase("ecdh-sha2-nistp384", "SHA384", "Ecdh", false)]
    [TestCase("ecdh-sha2-nistp521", "SHA512", "Ecdh", false)]
    [TestCase("diffie-hellman-group-exchange-sha256", "SHA256", "GroupExchange", false)]
    [TestCase("diffie-hellman-group16-sha512", "SHA512", "FixedDh", false)]
    [TestCase("diffie-hellman-group18-sha512", "SHA512", "FixedDh", false)]
    [TestCase("diffie-hellman-group14-sha256", "SHA256", "FixedDh", false)]
    [TestCase("diffie-hellman-group14-sha1", "SHA1", "FixedDh", true)]
    [TestCase("diffie-hellman-group1-sha1", "SHA1", "FixedDh", true)]
    [TestCase("diffie-hellman-group-exchange-sha1", "SHA1", "GroupExchange", true)]
    public void Find_KnownName_HasHashFamilyAndLegacyFlag(string name, string hash, string family, bool legacy)
    {
        KexAlgorithm algorithm = Get(name);
        Assert.That(algorithm.Name, Is.EqualTo(name));
        Assert.That(algorithm.Hash, Is.EqualTo(new HashAlgorithmName(hash)));
        Assert.That(algorithm.Family.ToString(), Is.EqualTo(family));
        Assert.That(algorithm.IsLegacy, Is.EqualTo(legacy));
        Assert.That(KexAlgorithm.All, Does.Contain(algorithm));
    }

    [TestCase("diffie-hellman-group16-sha512", 4096)]
    [TestCase("diffie-hellman-group18-sha512", 8192)]
    [TestCase("diffie-hellman-group14-sha256", 2048)]
    [TestCase("diffie-hellman-group1-sha1", 1024)]
    public void FixedGroup_IsTheNamedGroup(string name, int bits) =>
        Assert.That(Get(name).FixedGroup!.Bits, Is.EqualTo(bits));

    [Test]
    public void Find_UnknownOrMarkerName_IsNull()
    {
        Assert.That(KexAlgorithm.Find("kex-strict-c-v00@openssh.com"), Is.Null);
        Assert.That(KexAlgorithm.Find("CURVE25519-SHA256"), Is.Null);
        Assert.That(KexAlgorithm.All, Has.Count.EqualTo(16));
    }

    [Test]
    public void Create_WrongOverloadForFamily_Throws()
    {
        Assert.Throws<InvalidOperationException>(() => Get("diffie-hellman-group-exchange-sha256").CreateClient());
        Assert.Throws<InvalidOperationException>(() => Get("diffie-hellman-group-exchange-sha256").CreateServer());
        Assert.Throws<InvalidOperationException>(() => Get("curve25519-sha256").CreateClient(DhGroup.Group14));
        Assert.Throws<InvalidOperationException>(() => Get("diffie-hellman-group14-sha256").CreateServer(DhGroup.Group14));
    }

    [TestCase("diffie-hellman-group14-sha256", 256)]
    [TestCase("diffie-hellman-group16-sha512", 512)]
    [TestCase("diffie-hellman-group18-sha512", 512)]
    [TestCase("diffie-hellman-group14-sha1", 256)]
    public void DhExponentBits_IsTwiceTheHashStrength(string name, int bits) =>
        Assert.That(Get(name).DhExponentBits, Is.EqualTo(bits));

    // ---- Both sides agree -----------------------------------------------------------------------------------------

    private static IEnumerable<string> AllNames() => KexAlgorithm.All.Select(a => a.Name);

    /// <summary>Runs one exchange the way the session does: the server answers the client's value.</summary>
    internal static (byte[] ClientK, byte[] ServerK, byte[] ClientValue, byte[] ServerValue) Exchange(KexAlgorithm algorithm, DhGroup? group = null)
    {
        KexAgreement client, server;
        if (algorithm.Family == KexFamily.GroupExchange)
        {
            DhGroup offered = group ?? DhGroup.Choose(2048, 3072, 8192);
            server = algorithm.CreateServer(offered);
            client = algorithm.CreateClient(DhGroup.FromOffer(offered.PMagnitude.Span, offered.GMagnitude.Span, 2048, 8192));
        }
        else
        {
            client = algorithm.CreateClient();
            server = algorithm.CreateServer();
        }

        using (client)
        using (server)
        {
            byte[] clientValue = client.LocalPublic.ToArray();
            byte[] serverK = SharedSecret(server, clientValue);
            byte[] serverValue = server.LocalPublic.ToArray();
            byte[] clientK = SharedSecret(client, serverValue);
            return (clientK, serverK, clientValue, serverValue);
        }
    }

    [TestCaseSource(nameof(AllNames))]
    public void ComputeSharedSecret_ClientAndServer_AgreeOnEncodedK(string name)
    {
        KexAlgorithm algorithm = Get(name);
        int runs = name.Contains("group18", StringComparison.Ordinal) ? 2 : 3;
        var seen = new HashSet<string>();
        for (int run = 0; run < runs; run++)
        {
            (byte[] clientK, byte[] serverK, byte[] clientValue, byte[] serverValue) = Exchange(algorithm);
            Assert.That(clientK, Is.EqualTo(serverK), $"run {run}");
            Assert.That(seen.Add(Convert.ToHexString(clientValue)), Is.True, "a fresh ephemeral key per agreement");
            Assert.That(clientValue, Is.Not.EqualTo(serverValue));
            AssertWellFormedK(algorithm, clientK);
        }
    }

    /// <summary>K is one mpint (positive, minimal), or for the hybrids one string holding a hash.</summary>
    private static void AssertWellFormedK(KexAlgorithm algorithm, byte[] k)
    {
        var reader = new SshReader(k);
        if (algorithm.Name.StartsWith("mlkem", StringComparison.Ordinal) || algorithm.Name.StartsWith("sntrup", StringComparison.Ordinal))
        {
            Assert.That(reader.ReadString().Length, Is.EqualTo(algorithm.Hash == HashAlgorithmName.SHA256 ? 32 : 64));
        }
        else
        {
            ReadOnlySpan<byte> raw = new SshReader(k).ReadMPInt();
            Assert.That(raw[0] == 0 ? raw[1] >= 0x80 : raw[0] < 0x80, Is.True, "minimal positive mpint");
            reader.ReadUnsignedMPInt();
        }

        Assert.That(reader.End, Is.True);
    }

    [Test]
    public void ComputeSharedSecret_GroupExchangeOverEveryBuiltInGroup_Agrees()
    {
        KexAlgorithm algorithm = Get("diffie-hellman-group-exchange-sha256");
        foreach (DhGroup group in DhGroup.ExchangeGroups.Where(g => g.Bits <= 6144))
        {
            (byte[] clientK, byte[] serverK, _, byte[] serverValue) = Exchange(algorithm, group);
            Assert.That(clientK, Is.EqualTo(serverK), $"{group.Bits} bits");
            Assert.That(serverValue, Has.Length.LessThanOrEqualTo(group.Bits / 8));
        }
    }

    [Test]
    public void ComputeSharedSecret_CalledTwice_Throws()
    {
        using KexAgreement client = Get("curve25519-sha256").CreateClient();
        using KexAgreement server = Get("curve25519-sha256").CreateServer();
        SharedSecret(client, server.LocalPublic.Span);
        Assert.Throws<InvalidOperationException>(() => SharedSecret(client, server.LocalPublic.Span));
    }

    [TestCase("curve25519-sha256")]
    [TestCase("ecdh-sha2-nistp256")]
    [TestCase("diffie-hellman-group14-sha256")]
    [TestCase("mlkem768x25519-sha256")]
    public void ComputeSharedSecret_AfterDispose_Throws(string name)
    {
        KexAlgorithm algorithm = Get(name);
        using KexAgreement server = algorithm.CreateServer();
        KexAgreement client = algorithm.CreateClient();
        byte[] value = client.LocalPublic.ToArray();
        client.Dispose();
        client.Dispose();
        Assert.Throws<ObjectDisposedException>(() => SharedSecret(client, value));
    }

    [Test]
    public void Dispose_ZeroesTheDhExponent()
    {
        var agreement = (DhAgreement)Get("diffie-hellman-group14-sha256").CreateWithPrivateKey(false, Enumerable.Repeat((byte)0x5A, 32).ToArray());
        byte[] exponent = (byte[])typeof(DhAgreement).GetField("_privateKey", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(agreement)!;
        Assert.That(exponent, Has.All.EqualTo((byte)0x5A));
        agreement.Dispose();
        Assert.That(exponent, Has.All.EqualTo((byte)0));
    }

    // ---- Known answers (TestData/make_kex_vectors.py) ---------------------------------------------------------------

    private static IEnumerable<TestCaseData> DhVectors() =>
        s_vectors.Value.Dh.Select((v, i) => new TestCaseData(v).SetName($"ComputeSharedSecret_DhKnownAnswer_{v.Method}_{v.Group}_{i}"));

    private static IEnumerable<TestCaseData> EcdhVectors() =>
        s_vectors.Value.Ecdh.Select((v, i) => new TestCaseData(v).SetName($"ComputeSharedSecret_EcdhKnownAnswer_{v.Method}_{i}"));

    private static IEnumerable<TestCaseData> X25519Vectors() =>
        s_vectors.Value.X25519.Select((v, i) => new TestCaseData(v).SetName($"ComputeSharedSecret_X25519KnownAnswer_{v.Method}_{i}"));

    [TestCaseSource(nameof(DhVectors))]
    public void ComputeSharedSecret_DhKnownAnswer_MatchesIndependentImplementation(DhVector v)
    {
        KexAlgorithm algorithm = Get(v.Method);
        byte[] p = Convert.FromHexString(v.P);
        DhGroup? group = null;
        if (algorithm.Family == KexFamily.GroupExchange)
        {
            group = DhGroup.FromOffer(p, [(byte)v.G], 2048, 8192);
            DhGroup builtIn = DhGroup.Choose((uint)v.Bits, (uint)v.Bits, (uint)v.Bits);
            Assert.That(builtIn.PMagnitude.ToArray(), Is.EqualTo(p), "built-in constant = pi formula");
        }
        else
        {
            Assert.That(algorithm.FixedGroup!.PMagnitude.ToArray(), Is.EqualTo(p), "built-in constant = pi formula");
            Assert.That(algorithm.FixedGroup.G, Is.EqualTo(new BigInteger(v.G)));
        }

        using KexAgreement client = algorithm.CreateWithPrivateKey(false, Convert.FromHexString(v.XC), group);
        using KexAgreement server = algorithm.CreateWithPrivateKey(true, Convert.FromHexString(v.XS), group);
        Assert.That(Convert.ToHexStringLower(client.LocalPublic.Span), Is.EqualTo(v.E));
        Assert.That(Convert.ToHexStringLower(server.LocalPublic.Span), Is.EqualTo(v.F));
        Assert.That(Convert.ToHexStringLower(SharedSecret(client, Convert.FromHexString(v.F))), Is.EqualTo(v.K));
        Assert.That(Convert.ToHexStringLower(SharedSecret(server, Convert.FromHexString(v.E))), Is.EqualTo(v.K));
    }

    [TestCaseSource(nameof(EcdhVectors))]
    public void ComputeSharedSecret_EcdhKnownAnswer_MatchesIndependentImplementation(EcdhVector v)
    {
        KexAlgorithm algorithm = Get(v.Method);
        using KexAgreement client = algorithm.CreateWithPrivateKey(false, Convert.FromHexString(v.DC));
        using KexAgreement server = algorithm.CreateWithPrivateKey(true, Convert.FromHexString(v.DS));
        Assert.That(Convert.ToHexStringLower(client.LocalPublic.Span), Is.EqualTo(v.QC));
        Assert.That(Convert.ToHexStringLower(server.LocalPublic.Span), Is.EqualTo(v.QS));
        Assert.That(Convert.ToHexStringLower(SharedSecret(client, Convert.FromHexString(v.QS))), Is.EqualTo(v.K));
        Assert.That(Convert.ToHexStringLower(SharedSecret(server, Convert.FromHexString(v.QC))), Is.EqualTo(v.K));
    }

    [TestCaseSource(nameof(X25519Vectors))]
    public void ComputeSharedSecret_X25519KnownAnswer_MatchesIndependentImplementation(X25519Vector v)
    {
        KexAlgorithm algorithm = Get(v.Method);
        using KexAgreement client = algorithm.CreateWithPrivateKey(false, Convert.FromHexString(v.A));
        using KexAgreement server = algorithm.CreateWithPrivateKey(true, Convert.FromHexString(v.B));
        Assert.That(Convert.ToHexStringLower(client.LocalPublic.Span), Is.EqualTo(v.QC));
        Assert.That(Convert.ToHexStringLower(server.LocalPublic.Span), Is.EqualTo(v.QS));
        Assert.That(Convert.ToHexStringLower(SharedSecret(client, Convert.FromHexString(v.QS))), Is.EqualTo(v.K));
        Assert.That(Convert.ToHexStringLower(SharedSecret(server, Convert.FromHexString(v.QC))), Is.EqualTo(v.K));
    }

    // ---- Invalid peer values ------------------------------------------------------------------------------------------

    public enum DhValue { Zero, One, PMinusOne, P, PPlusOne, TwoToTheBits }

    private static byte[] Magnitude(BigInteger value) => value.IsZero ? [] : value.ToByteArray(isUnsigned: true, isBigEndian: true);

    [Test]
    public void ComputeSharedSecret_DhValueOutOfRange_KeyExchangeFailed(
        [Values("diffie-hellman-group14-sha256", "diffie-hellman-group1-sha1", "diffie-hellman-group-exchange-sha256")] string name,
        [Values] DhValue which,
        [Values] bool server)
    {
        KexAlgorithm algorithm = Get(name);
        DhGroup group = algorithm.FixedGroup ?? DhGroup.Group14;
        BigInteger value = which switch
        {
            DhValue.Zero => BigInteger.Zero,
            DhValue.One => BigInteger.One,
            DhValue.PMinusOne => group.P - 1,
            DhValue.P => group.P,
            DhValue.PPlusOne => group.P + 1,
            _ => BigInteger.One << group.Bits,
        };
        using KexAgreement agreement = algorithm.Family == KexFamily.GroupExchange
            ? (server ? algorithm.CreateServer(group) : algorithm.CreateClient(group))
            : (server ? algorithm.CreateServer() : algorithm.CreateClient());
        AssertKeyExchangeFailed(() => SharedSecret(agreement, Magnitude(value)));
    }

    [Test]
    public void ComputeSharedSecret_DhValueTwoAndPMinusTwo_Accepted()
    {
        KexAlgorithm algorithm = Get("diffie-hellman-group14-sha256");
        using KexAgreement a = algorithm.CreateClient();
        using KexAgreement b = algorithm.CreateClient();
        using KexAgreement c = algorithm.CreateClient();
        Assert.That(SharedSecret(a, [2]), Is.Not.Empty);
        Assert.That(SharedSecret(b, Magnitude(DhGroup.Group14.P - 2)), Is.Not.Empty);
        Assert.That(SharedSecret(c, [0, 0, .. Magnitude(DhGroup.Group14.P - 2)]), Is.Not.Empty, "leading zero bytes are ignored");
    }

    public enum EcdhDefect { OffCurve, Truncated, Extended, Compressed, Infinity, Empty, CoordinateAboveP }

    [Test]
    public void ComputeSharedSecret_BadEcdhPoint_KeyExchangeFailed(
        [Values("ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521")] string name,
        [Values] EcdhDefect defect)
    {
        KexAlgorithm algorithm = Get(name);
        using KexAgreement server = algorithm.CreateServer();
        using KexAgreement peer = algorithm.CreateClient();
        byte[] point = peer.LocalPublic.ToArray();
        int size = (point.Length - 1) / 2;
        byte[] bad = defect switch
        {
            EcdhDefect.OffCurve => Flip(point, point.Length - 1),
            EcdhDefect.Truncated => point[..^1],
            EcdhDefect.Extended => [.. point, 0],
            EcdhDefect.Compressed => [(byte)(2 + (point[^1] & 1)), .. point.AsSpan(1, size)],
            EcdhDefect.Infinity => [0],
            EcdhDefect.Empty => [],
            _ => [0x04, .. Enumerable.Repeat((byte)0xFF, 2 * size)],
        };
        AssertKeyExchangeFailed(() => SharedSecret(server, bad));
    }

    private static byte[] Flip(byte[] data, int index)
    {
        byte[] copy = (byte[])data.Clone();
        copy[index] ^= 0x01;
        return copy;
    }

    // RFC 7748 §6.1 / the low-order points listed by Bernstein: 0, 1, and a point of order 8.
    [TestCase("0000000000000000000000000000000000000000000000000000000000000000")]
    [TestCase("0100000000000000000000000000000000000000000000000000000000000000")]
    [TestCase("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")]
    [TestCase("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")]
    public void ComputeSharedSecret_LowOrderX25519Point_KeyExchangeFailed(string point)
    {
        foreach (string name in new[] { "curve25519-sha256", "curve25519-sha256@libssh.org" })
        {
            using KexAgreement client = Get(name).CreateClient();
            using KexAgreement server = Get(name).CreateServer();
            AssertKeyExchangeFailed(() => SharedSecret(client, Convert.FromHexString(point)));
            AssertKeyExchangeFailed(() => SharedSecret(server, Convert.FromHexString(point)));
        }
    }

    [TestCase(0)]
    [TestCase(31)]
    [TestCase(33)]
    [TestCase(64)]
    public void ComputeSharedSecret_X25519WrongLength_KeyExchangeFailed(int length)
    {
        using KexAgreement server = Get("curve25519-sha256").CreateServer();
        byte[] value = new byte[length];
        RandomNumberGenerator.Fill(value);
        AssertKeyExchangeFailed(() => SharedSecret(server, value));
    }
}
