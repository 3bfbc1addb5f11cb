using System.Text;

namespace Ssh.Transport.HostKeys;

/// <summary>
/// The names of the host key and signature algorithms, and which key type each signature algorithm needs.
/// </summary>
/// <remarks>
/// A key type names a public key blob (RFC 4253 §6.6); a signature algorithm names the "server_host_key_algorithms"
/// entry of KEXINIT and the first string of a signature blob. They differ only for RSA: one "ssh-rsa" key signs as
/// rsa-sha2-512, rsa-sha2-256 (RFC 8332) or, when explicitly allowed, "ssh-rsa" with SHA-1.
/// </remarks>
internal static class SshHostKeyAlgorithms
{
    public const string Ed25519 = "ssh-ed25519";
    public const string EcdsaNistP256 = "ecdsa-sha2-nistp256";
    public const string EcdsaNistP384 = "ecdsa-sha2-nistp384";
    public const string EcdsaNistP521 = "ecdsa-sha2-nistp521";
    public const string Rsa = "ssh-rsa";
    public const string RsaSha256 = "rsa-sha2-256";
    public const string RsaSha512 = "rsa-sha2-512";

    /// <summary>"ssh-rsa" as a signature algorithm: RSA with SHA-1, refused unless explicitly allowed.</summary>
    public const string RsaSha1 = Rsa;

    // OpenSSH host certificates (PROTOCOL.certkeys). The key type names the certificate blob; the algorithm names the
    // KEXINIT entry; the signature inside is the certified key's plain one ("ssh-ed25519", "rsa-sha2-512"...).
    public const string Ed25519Cert = "ssh-ed25519-cert-v01@openssh.com";
    public const string EcdsaNistP256Cert = "ecdsa-sha2-nistp256-cert-v01@openssh.com";
    public const string EcdsaNistP384Cert = "ecdsa-sha2-nistp384-cert-v01@openssh.com";
    public const string EcdsaNistP521Cert = "ecdsa-sha2-nistp521-cert-v01@openssh.com";
    public const string RsaSha512Cert = "rsa-sha2-512-cert-v01@openssh.com";
    public const string RsaSha256Cert = "rsa-sha2-256-cert-v01@openssh.com";

    /// <summary>The key type of an RSA certificate blob; as an algorithm it would sign with SHA-1, which is not offered.</summary>
    public const string RsaCert = "ssh-rsa-cert-v01@openssh.com";

    /// <summary>
    /// The signature algorithms a client or server offers by default, strongest first; "ssh-rsa" (SHA-1) is not
    /// among them.
    /// </summary>
    public static IReadOnlyList<string> Default { get; } =
        [Ed25519, EcdsaNistP256, EcdsaNistP384, EcdsaNistP521, RsaSha512, RsaSha256];

    /// <summary>
    /// Every signature algorithm this library signs and verifies with, strongest first; "ssh-rsa" (SHA-1) last.
    /// </summary>
    public static IReadOnlyList<string> All { get; } =
        [Ed25519, EcdsaNistP256, EcdsaNistP384, EcdsaNistP521, RsaSha512, RsaSha256, RsaSha1];

    /// <summary>
    /// The key type a host key algorithm presents: <see cref="GetKeyType(string)"/> for the plain ones, the certificate
    /// key type for a certificate algorithm (which options never list: the transport derives them, see
    /// <see cref="GetCertificateAlgorithm"/>); null for an unknown name.
    /// </summary>
    public static string? GetHostKeyType(string algorithm) => algorithm switch
    {
        Ed25519Cert or EcdsaNistP256Cert or EcdsaNistP384Cert or EcdsaNistP521Cert => algorithm,
        RsaSha512Cert or RsaSha256Cert => RsaCert,
        _ => GetKeyType(algorithm),
    };

    /// <summary>True for a certificate algorithm ("...-cert-v01@openssh.com").</summary>
    public static bool IsCertificate(string algorithm) => GetPlainAlgorithm(algorithm) is not null;

    /// <summary>The certificate algorithm that signs as <paramref name="plainAlgorithm"/>, or null (ssh-rsa, unknown names).</summary>
    public static string? GetCertificateAlgorithm(string plainAlgorithm) => plainAlgorithm switch
    {
        Ed25519 => Ed25519Cert,
        EcdsaNistP256 => EcdsaNistP256Cert,
        EcdsaNistP384 => EcdsaNistP384Cert,
        EcdsaNistP521 => EcdsaNistP521Cert,
        RsaSha512 => RsaSha512Cert,
        RsaSha256 => RsaSha256Cert,
        _ => null,
    };

    /// <summary>
    /// The plain signature algorithm a certificate algorithm signs with (PROTOCOL.certkeys: the signature is the
    /// certified key's), or null for a name that is not a certificate algorithm.
    /// </summary>
    public static string? GetPlainAlgorithm(string certificateAlgorithm) => certificateAlgorithm switch
    {
        Ed25519Cert => Ed25519,
        EcdsaNistP256Cert => EcdsaNistP256,
        EcdsaNistP384Cert => EcdsaNistP384,
        EcdsaNistP521Cert => EcdsaNistP521,
        RsaSha512Cert => RsaSha512,
        RsaSha256Cert => RsaSha256,
        _ => null,
    };

    /// <summary>The signature algorithm named inside the signature blob that <paramref name="algorithm"/> makes.</summary>
    public static string GetSignatureName(string algorithm) => GetPlainAlgorithm(algorithm) ?? algorithm;

    /// <summary>The certificate key type of a plain key type ("ssh-rsa" → "ssh-rsa-cert-v01@openssh.com"), or null.</summary>
    public static string? GetCertificateKeyType(string plainKeyType) => plainKeyType switch
    {
        Rsa => RsaCert,
        Ed25519 or EcdsaNistP256 or EcdsaNistP384 or EcdsaNistP521 => GetCertificateAlgorithm(plainKeyType),
        _ => null,
    };

    /// <summary>True for "ssh-rsa" (SHA-1 signatures): never offered unless configured by name.</summary>
    public static bool IsLegacy(string signatureAlgorithm) => signatureAlgorithm == RsaSha1;

    /// <summary>The key type a signature algorithm signs with, or null for an algorithm this library lacks.</summary>
    public static string? GetKeyType(string signatureAlgorithm) => signatureAlgorithm switch
    {
        Ed25519 or EcdsaNistP256 or EcdsaNistP384 or EcdsaNistP521 => signatureAlgorithm,
        RsaSha512 or RsaSha256 or RsaSha1 => Rsa,
        _ => null,
    };

    /// <summary>The signature algorithm a name from the wire spells, as its constant, or null for one this library lacks.</summary>
    public static string? Find(ReadOnlySpan<byte> name)
    {
        foreach (string algorithm in All)
        {
            if (Ascii.Equals(name, algorithm))
            {
                return algorithm;
            }
        }

        return null;
    }

    /// <summary>The key type of <paramref name="type"/>.</summary>
    public static string GetKeyType(SshHostKeyType type) => type switch
    {
        SshHostKeyType.Ed25519 => Ed25519,
        SshHostKeyType.EcdsaNistP256 => EcdsaNistP256,
        SshHostKeyType.EcdsaNistP384 => EcdsaNistP384,
        SshHostKeyType.EcdsaNistP521 => EcdsaNistP521,
        SshHostKeyType.Rsa => Rsa,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown host key type."),
    };
}
