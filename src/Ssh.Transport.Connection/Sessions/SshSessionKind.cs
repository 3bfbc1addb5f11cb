namespace Ssh.Transport.Connection;

/// <summary>What a session channel runs (RFC 4254 §6.5): the request that started it.</summary>
public enum SshSessionKind
{
    /// <summary>"shell": the user's login shell.</summary>
    Shell,

    /// <summary>"exec": a command.</summary>
    Exec,

    /// <summary>"subsystem": a named subsystem, e.g. "sftp".</summary>
    Subsystem,
}
