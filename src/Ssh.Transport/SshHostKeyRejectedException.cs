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

    /// <summary>The key the server presented.</summary>
    public SshPublicKey HostKey { get; }

    /// <summary>The key's SHA-256 fingerprint as <c>ssh-keygen -l</c> prints it, e.g. "SHA256:IxM++a1d...".</summary>
    public string Fingerprint { get; }
}
