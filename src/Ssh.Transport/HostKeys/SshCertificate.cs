using System.Text;
using Ssh.Transport.HostKeys;

namespace Ssh.Transport;

/// <summary>What an OpenSSH certificate certifies its key for (PROTOCOL.certkeys, SSH_CERT_TYPE_*).</summary>
public enum SshCertificateType
{
    /// <summary>A user certificate (1): the key may log in as the listed principals (user names).</summary>
    User = 1,

    /// <summary>A host certificate (2): the key is a host key of the listed principals (host names).</summary>
    Host = 2,
}

/// <summary>
/// The contents of an OpenSSH certificate (PROTOCOL.certkeys): a public key, signed by a certificate authority (CA)
/// together with what it is valid for: a type, principals, a validity window, options. An <see cref="SshPublicKey"/>
/// that is a certificate has one in <see cref="SshPublicKey.Certificate"/>.
/// </summary>
/// <remarks>
/// An instance exists only for a certificate that parsed strictly and whose CA signature verifies: the signature
/// proves that the holder of <see cref="CertificateAuthority"/> issued it, not that anyone should trust that CA.
/// Whether the CA is trusted for a host, and whether the certificate is valid now for that host, is the verifier's
/// decision (<see cref="KnownHostsVerifier"/> does it as ssh does). Instances are immutable and thread-safe.
/// </remarks>
public sealed class SshCertificate
{
    // Bounds on every variable field: OpenSSH's own (256 principals) or generous multiples of what ssh-keygen writes.
    internal const int MaxBlobLength = 64 * 1024;
    private const int MaxNonceLength = 1024;
    private const int MaxTextLength = 4096;
    private const int MaxPrincipals = 256;
    private const int MaxOptions = 64;
    private const int MaxOptionDataLength = 16 * 1024;

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ulong _validAfter;
    private readonly ulong _validBefore;

    private SshCertificate(
        string keyType, SshPublicKey key, ulong serial, SshCertificateType type, string keyId, string[] principals,
        ulong validAfter, ulong validBefore, string[] criticalOptions, string[] extensions, SshPublicKey ca, string signatureAlgorithm)
    {
        KeyType = keyType;
        Key = key;
        Serial = serial;
        Type = type;
        KeyId = keyId;
        Principals = principals;
        _validAfter = validAfter;
        _validBefore = validBefore;
        CriticalOptions = criticalOptions;
        Extensions = extensions;
        CertificateAuthority = ca;
        SignatureAlgorithm = signatureAlgorithm;
    }

    /// <summary>The certified key, as a plain key (e.g. "ssh-ed25519"): the key that signs for the host or user.</summary>
    public SshPublicKey Key { get; }

    /// <summary>The CA's public key (the "signature key" field), which signed the certificate.</summary>
    public SshPublicKey CertificateAuthority { get; }

    /// <summary>The algorithm of the CA's signature, e.g. "ssh-ed25519" or "rsa-sha2-512".</summary>
    public string SignatureAlgorithm { get; }

    /// <summary>User or host certificate.</summary>
    public SshCertificateType Type { get; }

    /// <summary>The CA's serial number (0 when it does not number its certificates).</summary>
    public ulong Serial { get; }

    /// <summary>The CA's free-form identifier of the certificate (ssh-keygen -I), for logs.</summary>
    public string KeyId { get; }

    /// <summary>The names the certificate is valid for: host names (patterns allowed) or user names.</summary>
    public IReadOnlyList<string> Principals { get; }

    /// <summary>The start of the validity window (inclusive); the Unix epoch when the certificate has none.</summary>
    public DateTimeOffset ValidAfter => ToTime(_validAfter);

    /// <summary>The end of the validity window (exclusive); <see cref="DateTimeOffset.MaxValue"/> for "forever".</summary>
    public DateTimeOffset ValidBefore => ToTime(_validBefore);

    /// <summary>The names of the critical options, in the certificate's order (host certificates define none).</summary>
    public IReadOnlyList<string> CriticalOptions { get; }

    /// <summary>The names of the extensions, in the certificate's order (non-critical: unknown ones are ignored).</summary>
    public IReadOnlyList<string> Extensions { get; }

    /// <summary>The certificate's key type, e.g. "ssh-ed25519-cert-v01@openssh.com" or "ssh-rsa-cert-v01@openssh.com".</summary>
    internal string KeyType { get; }

    /// <summary>PROTOCOL.certkeys: valid if valid after &lt;= now &lt; valid before, in seconds since the epoch.</summary>
    internal bool IsNotYetValid(DateTimeOffset now) => ToSeconds(now) < _validAfter;

    internal bool IsExpired(DateTimeOffset now) => ToSeconds(now) >= _validBefore;

    /// <summary>True when <paramref name="keyType"/> names a certificate ("...-cert-v01@openssh.com").</summary>
    internal static bool IsCertificateKeyType(ReadOnlySpan<byte> keyType) => keyType.EndsWith("-cert-v01@openssh.com"u8);

    /// <summary>
    /// Parses a certificate blob strictly and checks the CA's signature over everything before the signature
    /// (PROTOCOL.certkeys, "New public key formats").
    /// </summary>
    /// <exception cref="SshProtocolException">
    /// The blob is malformed, exceeds a bound, or its CA signature does not verify
    /// (<see cref="SshDisconnectReason.ProtocolError"/>); or it certifies a key type this library does not support
    /// (<see cref="SshDisconnectReason.KeyExchangeFailed"/>).
    /// </exception>
    internal static SshCertificate Parse(ReadOnlySpan<byte> blob)
    {
        if (blob.Length > MaxBlobLength)
        {
            throw Invalid($"{blob.Length} bytes (at most {MaxBlobLength}).");
        }

        var reader = new SshReader(blob);
        ReadOnlySpan<byte> typeName = reader.ReadString();
        string keyType = Encoding.ASCII.GetString(typeName);
        string? plainType = PlainKeyType(keyType);
        if (plainType is null || !typeName.SequenceEqual(Encoding.ASCII.GetBytes(keyType)))
        {
            throw PublicKeyParameters.Unsupported(typeName);
        }

        if (reader.ReadString().Length > MaxNonceLength)
        {
            throw Invalid($"the nonce is longer than {MaxNonceLength} bytes.");
        }

        // The certified key's fields follow, as in the plain key's blob (RSA: e, n; ECDSA: curve, Q; Ed25519: pk).
        int keyStart = blob.Length - reader.Remaining;
        _ = plainType switch
        {
            SshHostKeyAlgorithms.Ed25519 => Ed25519PublicKeyParameters.Read(ref reader),
            SshHostKeyAlgorithms.Rsa => RsaPublicKeyParameters.Read(ref reader),
            _ => (PublicKeyParameters)EcdsaPublicKeyParameters.Read(Encoding.ASCII.GetBytes(plainType), ref reader),
        };
        int keyEnd = blob.Length - reader.Remaining;
        byte[] plainBlob = new byte[4 + plainType.Length + (keyEnd - keyStart)];
        var writer = new SshWriter(plainBlob);
        writer.WriteString(plainType);
        writer.WriteBytes(blob[keyStart..keyEnd]);
        SshPublicKey key = SshPublicKey.FromBlob(plainBlob);

        ulong serial = reader.ReadUInt64();
        uint type = reader.ReadUInt32();
        if (type is not ((uint)SshCertificateType.User or (uint)SshCertificateType.Host))
        {
            throw Invalid($"unknown certificate type {type}.");
        }

        string keyId = ReadText(ref reader, "key id");
        string[] principals = ReadPrincipals(reader.ReadString());
        ulong validAfter = reader.ReadUInt64();
        ulong validBefore = reader.ReadUInt64();
        string[] critical = ReadOptions(reader.ReadString(), "critical option");
        string[] extensions = ReadOptions(reader.ReadString(), "extension");
        reader.ReadString(); // reserved: "currently unused and is ignored in this version of the protocol"
        ReadOnlySpan<byte> caBlob = reader.ReadString();
        int signedLength = blob.Length - reader.Remaining;
        ReadOnlySpan<byte> signature = reader.ReadString();
        if (!reader.End)
        {
            throw Invalid($"{reader.Remaining} bytes follow the signature.");
        }

        // "Chained" certificates, where the signature key is itself a certificate, are not supported.
        if (IsCertificateKeyType(new SshReader(caBlob).ReadString()))
        {
            throw Invalid("the CA key is itself a certificate (chained certificates are not supported).");
        }

        SshPublicKey ca;
        try
        {
            ca = SshPublicKey.FromBlob(caBlob);
        }
        catch (SshProtocolException e)
        {
            throw Invalid($"the CA key: {e.Message}", e);
        }

        // SHA-1 (ssh-rsa) is accepted here; the verifier refuses it, as ssh's CASignatureAlgorithms does.
        string signatureAlgorithm = SshHostKeyAlgorithms.Find(new SshReader(signature).ReadString()) is string name && SshHostKeyAlgorithms.GetKeyType(name) == ca.KeyType
            ? name
            : throw Invalid($"the CA's signature is not a {ca.KeyType} signature.");
        if (!ca.VerifySignature(signatureAlgorithm, blob[..signedLength], signature, allowSha1: true))
        {
            throw Invalid($"the CA's signature ({signatureAlgorithm}, CA {ca.GetFingerprint()}) does not verify.");
        }

        return new SshCertificate(keyType, key, serial, (SshCertificateType)type, keyId, principals, validAfter, validBefore, critical, extensions, ca, signatureAlgorithm);
    }

    /// <summary>The plain key type a certificate key type certifies, or null for one this library does not support.</summary>
    private static string? PlainKeyType(string keyType) => keyType switch
    {
        SshHostKeyAlgorithms.RsaCert => SshHostKeyAlgorithms.Rsa,
        _ => SshHostKeyAlgorithms.GetPlainAlgorithm(keyType) is string plain && SshHostKeyAlgorithms.GetKeyType(plain) == plain ? plain : null,
    };

    private static string[] ReadPrincipals(ReadOnlySpan<byte> field)
    {
        var reader = new SshReader(field);
        var principals = new List<string>();
        while (!reader.End)
        {
            if (principals.Count == MaxPrincipals)
            {
                throw Invalid($"more than {MaxPrincipals} principals.");
            }

            principals.Add(ReadText(ref reader, "principal"));
        }

        return [.. principals];
    }

    /// <summary>Critical options and extensions: string name, string data, each name once.</summary>
    private static string[] ReadOptions(ReadOnlySpan<byte> field, string what)
    {
        var reader = new SshReader(field);
        var names = new List<string>();
        while (!reader.End)
        {
            if (names.Count == MaxOptions)
            {
                throw Invalid($"more than {MaxOptions} {what}s.");
            }

            string name = ReadText(ref reader, what + " name");
            if (reader.ReadString().Length > MaxOptionDataLength)
            {
                throw Invalid($"the data of {what} '{name}' is longer than {MaxOptionDataLength} bytes.");
            }

            // "Each named option may only appear once in a certificate."
            if (names.Contains(name, StringComparer.Ordinal))
            {
                throw Invalid($"{what} '{name}' appears twice.");
            }

            names.Add(name);
        }

        return [.. names];
    }

    /// <summary>A string of UTF-8 text without NUL (OpenSSH reads these fields as C strings).</summary>
    private static string ReadText(ref SshReader reader, string what)
    {
        ReadOnlySpan<byte> bytes = reader.ReadString();
        if (bytes.Length > MaxTextLength)
        {
            throw Invalid($"a {what} is longer than {MaxTextLength} bytes.");
        }

        if (bytes.Contains((byte)0))
        {
            throw Invalid($"a {what} contains a NUL byte.");
        }

        try
        {
            return s_strictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw Invalid($"a {what} is not UTF-8.", e);
        }
    }

    private static ulong ToSeconds(DateTimeOffset time) => time.ToUnixTimeSeconds() is long s and >= 0 ? (ulong)s : 0;

    private static DateTimeOffset ToTime(ulong seconds) =>
        seconds > (ulong)DateTimeOffset.MaxValue.ToUnixTimeSeconds() ? DateTimeOffset.MaxValue : DateTimeOffset.FromUnixTimeSeconds((long)seconds);

    private static SshProtocolException Invalid(string message, Exception? inner = null) =>
        new(SshDisconnectReason.ProtocolError, "Invalid certificate: " + message, inner);
}
