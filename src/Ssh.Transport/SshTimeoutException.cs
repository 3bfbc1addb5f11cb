namespace Ssh.Transport;

/// <summary>Which deadline of a connection passed.</summary>
public enum SshTimeoutKind
{
    /// <summary>The peer's identification line did not arrive in time.</summary>
    Identification,

    /// <summary>The identification exchange and first key exchange did not finish in time.</summary>
    Handshake,

    /// <summary>A later key exchange did not finish in time.</summary>
    KeyExchange,

    /// <summary>User authentication did not finish in time.</summary>
    Authentication,

    /// <summary>The peer stopped answering keepalives.</summary>
    KeepAlive,
}

/// <summary>A deadline of the connection passed; <see cref="SshProtocolException.Reason"/> is what is sent to the peer.</summary>
public sealed class SshTimeoutException : SshProtocolException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="kind">Which deadline passed.</param>
    /// <param name="timeout">The time that was allowed.</param>
    /// <param name="reason">The disconnect reason to send.</param>
    /// <param name="message">What did not happen in time.</param>
    public SshTimeoutException(SshTimeoutKind kind, TimeSpan timeout, SshDisconnectReason reason, string message)
        : base(reason, message)
    {
        Kind = kind;
        Timeout = timeout;
    }

    /// <summary>Which deadline passed.</summary>
    public SshTimeoutKind Kind { get; }

    /// <summary>The time that was allowed.</summary>
    public TimeSpan Timeout { get; }
}
