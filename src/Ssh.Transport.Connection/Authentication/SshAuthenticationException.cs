namespace Ssh.Transport.Connection;

/// <summary>
/// User authentication did not succeed: the client ran out of methods and credentials the server would take, or the
/// server refused the client (too many failures, the client left).
/// </summary>
/// <remarks>
/// On the client the connection stays open after a refusal (<see cref="SshProtocolException.Reason"/> is
/// <see cref="SshDisconnectReason.NoMoreAuthMethodsAvailable"/>): the caller may try again with other credentials, or
/// disconnect. Where the server disconnected, the inner exception is its <see cref="SshPeerDisconnectedException"/>.
/// </remarks>
public sealed class SshAuthenticationException : SshProtocolException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">The disconnect reason that describes the failure.</param>
    /// <param name="message">What happened.</param>
    /// <param name="userName">The user name authentication was for.</param>
    /// <param name="triedMethods">The methods tried, in order.</param>
    /// <param name="allowedMethods">The methods the server would still accept, as its last USERAUTH_FAILURE listed them.</param>
    /// <param name="innerException">The cause, if any.</param>
    public SshAuthenticationException(
        SshDisconnectReason reason,
        string message,
        string userName,
        IReadOnlyList<string> triedMethods,
        IReadOnlyList<string> allowedMethods,
        Exception? innerException = null)
        : base(reason, message, innerException)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(triedMethods);
        ArgumentNullException.ThrowIfNull(allowedMethods);
        UserName = userName;
        TriedMethods = triedMethods;
        AllowedMethods = allowedMethods;
    }

    /// <summary>The user name authentication was for.</summary>
    public string UserName { get; }

    /// <summary>The methods tried, in order, each once (e.g. "publickey", "password").</summary>
    public IReadOnlyList<string> TriedMethods { get; }

    /// <summary>The methods the server would still accept, as its last SSH_MSG_USERAUTH_FAILURE listed them.</summary>
    public IReadOnlyList<string> AllowedMethods { get; }
}
