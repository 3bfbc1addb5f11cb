namespace Ssh.Transport.Connection;

/// <summary>
/// The server answered a request with failure (SSH_MSG_CHANNEL_FAILURE or SSH_MSG_REQUEST_FAILURE, RFC 4254 §4,
/// §5.4): e.g. it would not run a command, start a subsystem, allocate a pseudo-terminal or listen on a port.
/// </summary>
public sealed class SshRequestFailedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="requestType">The request the server refused, e.g. "exec" or "tcpip-forward".</param>
    /// <param name="message">What was refused.</param>
    public SshRequestFailedException(string requestType, string message)
        : base(message)
    {
        ArgumentNullException.ThrowIfNull(requestType);
        RequestType = requestType;
    }

    /// <summary>The request the server refused, e.g. "exec", "subsystem", "pty-req" or "tcpip-forward".</summary>
    public string RequestType { get; }
}
