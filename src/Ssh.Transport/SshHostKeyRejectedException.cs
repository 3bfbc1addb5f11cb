namespace Ssh.Transport;

/// <summary>
/// The client did not accept the server's host key: the verifier refused it, or it changed during a rekey. The
/// reason is <see cref="SshDisconnectReason.HostKeyNotVerifiable"/>.
/// </summary>
public sealed class SshHostKeyRejectedException : SshProtocolException
{
    /// <summary>Creates the exception for a refused key.</summary>
    /// <param name="hostKey">The key the server presented (and proved it holds).</param>
    /// <param name="message">Why it was refused.</param>
    public SshHostKeyRejectedException(SshPublicKey hostKey, string message)
        : base(SshDisconnectReason.HostKeyNotVerifiable, message)
    {
        ArgumentNullException.ThrowIfNull(hostKey);
        HostKey = hostKey;
        Fingerprint = hostKey.GetFingerprint();
    }

    /// <summary>Creates the exception for a key a known_hosts file refused.</summary>
    /// <param name="hostKey">The key the server presented (and proved it holds).</param>
    /// <param name="knownHostsResult">What the file says about it (<see cref="KnownHostsVerifier.Verify"/>).</param>
    /// <param name="message">Why it was refused.</param>
    public SshHostKeyRejectedException(SshPublicKey hostKey, KnownHostsResult knownHostsResult, string message)
        : this(hostKey, message)
    {
        KnownHostsResult = knownHostsResult;
    }

    /// <summary>The key the server presented; a host certificate when <see cref="Certificate"/> is not null.</summary>
    public SshPublicKey HostKey { get; }

    /// <summary>The host certificate the server presented, with its CA key, or null for a plain host key.</summary>
    public SshCertificate? Certificate => HostKey.Certificate;

    /// <summary>
    /// The key's SHA-256 fingerprint as <c>ssh-keygen -l</c> prints it, e.g. "SHA256:IxM++a1d..." (for a certificate,
    /// its certified key's).
    /// </summary>
    public string Fingerprint { get; }

    /// <summary>
    /// Why a known_hosts file refused the key (e.g. <see cref="Transport.KnownHostsResult.Changed"/> or
    /// <see cref="Transport.KnownHostsResult.CertificateExpired"/>), when the verifier was
    /// <see cref="KnownHostsVerifier.ForHost"/>'s; null when another verifier refused it or it changed in a rekey.
    /// </summary>
    public KnownHostsResult? KnownHostsResult { get; }
}
