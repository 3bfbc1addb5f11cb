namespace Ssh.Transport;

/// <summary>
/// The peer sent SSH_MSG_DISCONNECT (RFC 4253 §11.1) with a reason other than
/// <see cref="SshDisconnectReason.ByApplication"/>, which ends a connection normally rather than with an exception.
/// </summary>
public sealed class SshPeerDisconnectedException : SshProtocolException
{
    /// <summary>Creates the exception from the peer's message.</summary>
    /// <param name="reason">The reason code the peer sent.</param>
    /// <param name="description">The description the peer sent.</param>
    public SshPeerDisconnectedException(SshDisconnectReason reason, string description)
        : base(reason, $"The peer disconnected ({reason}): {description}")
    {
        Description = description ?? string.Empty;
    }

    /// <summary>The human-readable description the peer sent (may be empty).</summary>
    public string Description { get; }
}
