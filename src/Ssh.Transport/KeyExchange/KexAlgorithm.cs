using System.Collections.Frozen;
using System.Security.Cryptography;
using Org.BouncyCastle.Security;

namespace Ssh.Transport.KeyExchange;

/// <summary>How a key-exchange method's messages look on the wire.</summary>
internal enum KexFamily
{
    /// <summary>
    /// curve25519, ecdh-sha2-* and the post-quantum hybrids: SSH_MSG_KEX_ECDH_INIT/REPLY (30/31) carrying strings
    /// (RFC 5656 §4, RFC 8731 §3).
    /// </summary>
    Ecdh,

    /// <summary>SSH_MSG_KEXDH_INIT/REPLY (30/31) carrying mpints e and f over a fixed group (RFC 4253 §8).</summary>
    FixedDh,

    /// <summary>Diffie-Hellman group exchange (RFC 4419): the server picks the group.</summary>
    GroupExchange,
}

/// <summary>
/// A key-exchange method: its name, hash, message family, and a factory for the per-exchange agreements.
/// </summary>
internal sealed class KexAlgorithm
{
    private static readonly KexAlgorithm[] s_all =
    [
        new("mlkem768x25519-sha256", HashAlgorithmName.SHA256, Method.MlKem768X25519),
        new("sntrup761x25519-sha512", HashAlgorithmName.SHA512, Method.Sntrup761X25519),
        new("sntrup761x25519-sha512@openssh.com", HashAlgorithmName.SHA512, Method.Sntrup761X25519),

        // Below the X25519 hybrids (which OpenSSH 10.5 prefers, and offers by default where this one it does not),
        // above every classical method: against a peer whose only hybrid is this one (P-256 for FIPS-bound peers), a
        // post-quantum exchange still beats a classical one.
        new("mlkem768nistp256-sha256", HashAlgorithmName.SHA256, Method.MlKem768NistP256, fieldBytes: 32),
        new("curve25519-sha256", HashAlgorithmName.SHA256, Method.Curve25519),
        new("curve25519-sha256@libssh.org", HashAlgorithmName.SHA256, Method.Curve25519),
        new("ecdh-sha2-nistp256", HashAlgorithmName.SHA256, Method.Nist, fieldBytes: 32),
        new("ecdh-sha2-nistp384", HashAlgorithmName.SHA384, Method.Nist, fieldBytes: 48),
        new("ecdh-sha2-nistp521", HashAlgorithmName.SHA512, Method.Nist, fieldBytes: 66),
        new("diffie-hellman-group-exchange-sha256", HashAlgorithmName.SHA256, Method.GroupExchange),
        new("diffie-hellman-group16-sha512", HashAlgorithmName.SHA512, Method.FixedDh, group: DhGroup.Group16),
        new("diffie-hellman-group18-sha512", HashAlgorithmName.SHA512, Method.FixedDh, group: DhGroup.Group18),
        new("diffie-hellman-group14-sha256", HashAlgorithmName.SHA256, Method.FixedDh, group: DhGroup.Group14),
        new("diffie-hellman-group14-sha1", HashAlgorithmName.SHA1, Method.FixedDh, group: DhGroup.Group14),
        new("diffie-hellman-group1-sha1", HashAlgorithmName.SHA1, Method.FixedDh, group: DhGroup.Oakley2),
        new("diffie-hellman-group-exchange-sha1", HashAlgorithmName.SHA1, Method.GroupExchange),
    ];

    private static readonly FrozenDictionary<string, KexAlgorithm> s_byName =
        s_all.ToFrozenDictionary(a => a.Name, StringComparer.Ordinal);

    private static readonly string[] s_defaultOrder = [.. s_all.Where(a => !a.IsLegacy).Select(a => a.Name)];

    private readonly Method _method;
    private readonly int _fieldBytes;
    private readonly DhGroup? _group;

    private KexAlgorithm(string name, HashAlgorithmName hash, Method method, int fieldBytes = 0, DhGroup? group = null)
    {
        Name = name;
        Hash = hash;
        _method = method;
        _fieldBytes = fieldBytes;
        _group = group;
        Family = method switch
        {
            Method.FixedDh => KexFamily.FixedDh,
            Method.GroupExchange => KexFamily.GroupExchange,
            _ => KexFamily.Ecdh,
        };
        IsLegacy = hash == HashAlgorithmName.SHA1;
    }

    private enum Method
    {
        MlKem768X25519,
        MlKem768NistP256,
        Sntrup761X25519,
        Curve25519,
        Nist,
        FixedDh,
        GroupExchange,
    }

    /// <summary>The method's name as it appears in KEXINIT.</summary>
    public string Name { get; }

    /// <summary>The hash used for the exchange hash H and the key derivation (RFC 4253 §7.2).</summary>
    public HashAlgorithmName Hash { get; }

    /// <summary>Which messages carry the exchange.</summary>
    public KexFamily Family { get; }

    /// <summary>True for the SHA-1 methods: never offered unless configured by name.</summary>
    public bool IsLegacy { get; }

    /// <summary>The fixed group of a <see cref="KexFamily.FixedDh"/> method, else null.</summary>
    public DhGroup? FixedGroup => _group;

    /// <summary>
    /// The size of DH private exponents: twice the security strength of the hash, at least 256 bits (short
    /// exponents: RFC 4419 §6.2, RFC 3526 §8), so 512 bits for the SHA-512 groups instead of the full group size.
    /// </summary>
    internal int DhExponentBits => Math.Max(256, HashBits(Hash));

    /// <summary>Every supported method, legacy ones included.</summary>
    public static IReadOnlyList<KexAlgorithm> All => s_all;

    /// <summary>The methods offered by default, in order of preference (no SHA-1).</summary>
    public static IReadOnlyList<string> DefaultOrder => s_defaultOrder;

    /// <summary>The method called <paramref name="name"/>, or null.</summary>
    /// <param name="name">A method name from a KEXINIT.</param>
    public static KexAlgorithm? Find(string name) => s_byName.GetValueOrDefault(name);

    /// <summary>A client agreement for an <see cref="KexFamily.Ecdh"/> or <see cref="KexFamily.FixedDh"/> method.</summary>
    public KexAgreement CreateClient() => Create(server: false, group: null, privateKey: null);

    /// <summary>A server agreement for an <see cref="KexFamily.Ecdh"/> or <see cref="KexFamily.FixedDh"/> method.</summary>
    public KexAgreement CreateServer() => Create(server: true, group: null, privateKey: null);

    /// <summary>A client agreement for a <see cref="KexFamily.GroupExchange"/> method over the server's group.</summary>
    /// <param name="group">The group from <see cref="DhGroup.FromOffer"/>.</param>
    public KexAgreement CreateClient(DhGroup group) => Create(server: false, RequireGroup(group), privateKey: null);

    /// <summary>A server agreement for a <see cref="KexFamily.GroupExchange"/> method.</summary>
    /// <param name="group">The group from <see cref="DhGroup.Choose"/>.</param>
    public KexAgreement CreateServer(DhGroup group) => Create(server: true, RequireGroup(group), privateKey: null);

    /// <summary>
    /// An agreement with a fixed private key, for known-answer tests only: the DH exponent x (big-endian), the
    /// NIST scalar d (big-endian), or the X25519 private key; for a hybrid, the key of its ECDH half, and the KEM's
    /// randomness from <paramref name="kemRandom"/> (ML-KEM only) or fresh.
    /// </summary>
    /// <param name="server">True for the server side.</param>
    /// <param name="privateKey">The private key bytes.</param>
    /// <param name="group">The group, for a <see cref="KexFamily.GroupExchange"/> method.</param>
    /// <param name="kemRandom">The ML-KEM randomness: the key pair's seed d || z (client), m (server).</param>
    internal KexAgreement CreateWithPrivateKey(bool server, ReadOnlySpan<byte> privateKey, DhGroup? group = null, SecureRandom? kemRandom = null) =>
        Create(server, group is null ? null : RequireGroup(group), privateKey.ToArray(), kemRandom);

    /// <inheritdoc/>
    public override string ToString() => Name;

    private DhGroup RequireGroup(DhGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (Family != KexFamily.GroupExchange)
        {
            throw new InvalidOperationException($"{Name} uses no negotiated group.");
        }

        return group;
    }

    private KexAgreement Create(bool server, DhGroup? group, byte[]? privateKey, SecureRandom? kemRandom = null)
    {
        try
        {
            Func<PostQuantumKem> mlKem = kemRandom is null ? PostQuantumKem.CreateMlKem768 : () => PostQuantumKem.CreateMlKem768(kemRandom);
            switch (_method)
            {
                case Method.Curve25519:
                    return CreateCurve25519(privateKey);
                case Method.Nist:
                    return CreateNist(privateKey);
                case Method.MlKem768X25519:
                    return HybridKemAgreement.Create(mlKem, () => CreateCurve25519(privateKey), Hash, server);
                case Method.MlKem768NistP256:
                    return HybridKemAgreement.Create(mlKem, () => CreateNist(privateKey), Hash, server);
                case Method.Sntrup761X25519:
                    return HybridKemAgreement.Create(PostQuantumKem.CreateSntrup761, () => CreateCurve25519(privateKey), Hash, server);
                default:
                    DhGroup dhGroup = _group ?? group ?? throw new InvalidOperationException($"{Name} needs the group from the group exchange.");
                    return privateKey is null ? new DhAgreement(dhGroup, DhExponentBits) : DhAgreement.WithPrivateKey(dhGroup, privateKey);
            }
        }
        finally
        {
            if (privateKey is not null)
            {
                CryptographicOperations.ZeroMemory(privateKey);
            }
        }
    }

    private static Curve25519Agreement CreateCurve25519(byte[]? privateKey) =>
        privateKey is null ? new Curve25519Agreement() : Curve25519Agreement.WithPrivateKey(privateKey);

    private EcdhAgreement CreateNist(byte[]? privateKey)
    {
        ECCurve curve = _fieldBytes switch
        {
            32 => ECCurve.NamedCurves.nistP256,
            48 => ECCurve.NamedCurves.nistP384,
            _ => ECCurve.NamedCurves.nistP521,
        };
        return privateKey is null ? new EcdhAgreement(curve, _fieldBytes) : EcdhAgreement.WithPrivateKey(curve, _fieldBytes, privateKey);
    }

    private static int HashBits(HashAlgorithmName hash) =>
        hash == HashAlgorithmName.SHA512 ? 512 : hash == HashAlgorithmName.SHA384 ? 384 : hash == HashAlgorithmName.SHA256 ? 256 : 160;
}
