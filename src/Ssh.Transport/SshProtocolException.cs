namespace Ssh.Transport;

/// <summary>
/// The peer broke the SSH protocol, or the connection cannot go on for a reason that RFC 4253 §11.1 names. Derived
/// types say more about particular causes: <see cref="SshAlgorithmNegotiationException"/>,
/// <see cref="SshHostKeyRejectedException"/>, <see cref="SshPeerDisconnectedException"/>, <see cref="SshTimeoutException"/>.
/// </summary>
/// <remarks>
/// <see cref="Reason"/> is the disconnect reason to send to the peer (when the connection still allows it) before
/// closing. Every malformed or hostile input the transport sees surfaces as this type (a protocol violation) or one
/// derived from it.
/// </remarks>
public class SshProtocolException : Exception
{
    /// <summary>Creates an exception with <see cref="SshDisconnectReason.ProtocolError"/>.</summary>
    public SshProtocolException()
        : this(SshDisconnectReason.ProtocolError, "SSH protocol error.")
    {
    }

    /// <summary>Creates an exception with <see cref="SshDisconnectReason.ProtocolError"/> and a message.</summary>
    /// <param name="message">What went wrong.</param>
    public SshProtocolException(string message)
        : this(SshDisconnectReason.ProtocolError, message)
    {
    }

    /// <summary>Creates an exception with <see cref="SshDisconnectReason.ProtocolError"/>, a message and an inner exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public SshProtocolException(string message, Exception? innerException)
        : this(SshDisconnectReason.ProtocolError, message, innerException)
    {
    }

    /// <summary>Creates an exception carrying a disconnect reason.</summary>
    /// <param name="reason">The RFC 4253 §11.1 reason code to send to the peer.</param>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause, if any.</param>
    public SshProtocolException(SshDisconnectReason reason, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
    }

    /// <summary>The disconnect reason (RFC 4253 §11.1) that describes the failure.</summary>
    public SshDisconnectReason Reason { get; }
}
