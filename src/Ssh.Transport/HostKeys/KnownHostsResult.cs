namespace Ssh.Transport;

/// <summary>What a known_hosts file says about a server's host key (see <see cref="KnownHostsVerifier.Verify"/>).</summary>
public enum KnownHostsResult
{
    /// <summary>A line for the host lists this very key: go on.</summary>
    Trusted,

    /// <summary>
    /// No line for the host has a key of this type (there may be keys of other types): the host is new, or new with
    /// this key type. Ask the user, or refuse; trust on first use adds the key with <see cref="KnownHostsVerifier.Add"/>.
    /// </summary>
    Unknown,

    /// <summary>
    /// Lines for the host list other keys of the same type, and none this one: the host key has changed. Someone may
    /// be intercepting the connection (a man in the middle); refuse, as ssh does, unless the user fixes the file.
    /// </summary>
    Changed,

    /// <summary>
    /// The key is marked @revoked for the host: refuse, whatever other lines say. For a certificate, the line may name
    /// the certificate, its certified key or its CA.
    /// </summary>
    Revoked,

    /// <summary>
    /// The server presented a host certificate (<see cref="SshPublicKey.Certificate"/>) whose CA no @cert-authority
    /// line for the host lists, and no line lists the certified key itself: refuse, or trust the key as for
    /// <see cref="Unknown"/>.
    /// </summary>
    CertificateUnknownAuthority,

    /// <summary>The certificate's CA is trusted for the host, but it is a user certificate, not a host certificate.</summary>
    CertificateWrongType,

    /// <summary>The certificate's CA is trusted for the host, but its validity starts later (valid after &gt; now).</summary>
    CertificateNotYetValid,

    /// <summary>The certificate's CA is trusted for the host, but it has expired (valid before &lt;= now).</summary>
    CertificateExpired,

    /// <summary>
    /// The certificate's CA is trusted for the host, but no principal of the certificate names the host connected to
    /// (or it lists none: OpenSSH refuses host certificates without principals).
    /// </summary>
    CertificateWrongPrincipal,

    /// <summary>The certificate carries a critical option; host certificates define none, so it cannot be honoured.</summary>
    CertificateUnsupportedCriticalOption,

    /// <summary>The CA signed the certificate with ssh-rsa (RSA with SHA-1), which ssh refuses by default (CASignatureAlgorithms).</summary>
    CertificateWeakSignature,
}
