namespace Ssh.Transport.Connection;

/// <summary>How a session starts (RFC 4254 §6): environment variables and a pseudo-terminal, sent before the command, shell or subsystem.</summary>
public sealed class SshSessionOptions
{
    /// <summary>
    /// Environment variables for the remote process ("env" requests, §6.4). Servers accept only the names they
    /// allow (sshd: AcceptEnv, by default none) and ignore the others silently: a refused variable is not an error.
    /// </summary>
    public IDictionary<string, string> EnvironmentVariables { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// A pseudo-terminal to allocate ("pty-req", §6.2), for interactive programs; null (the default) for none. With
    /// one, the remote process's standard error arrives on standard output, as on a terminal.
    /// </summary>
    public SshPseudoTerminal? PseudoTerminal { get; set; }
}
