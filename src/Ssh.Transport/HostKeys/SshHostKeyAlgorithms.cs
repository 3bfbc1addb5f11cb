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
