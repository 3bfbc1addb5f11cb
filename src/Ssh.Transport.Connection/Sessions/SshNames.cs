namespace Ssh.Transport.Connection;

/// <summary>Channel types of RFC 4254 (§6.1, §7.1, §7.2).</summary>
public static class SshChannelTypes
{
    /// <summary>"session": a command, a shell or a subsystem (RFC 4254 §6.1).</summary>
    public const string Session = "session";

    /// <summary>"direct-tcpip": a connection the client asks the server to make (ssh -L, RFC 4254 §7.2).</summary>
    public const string DirectTcpIp = "direct-tcpip";

    /// <summary>"forwarded-tcpip": a connection to a port the client asked the server to listen on (ssh -R, RFC 4254 §7.2).</summary>
    public const string ForwardedTcpIp = "forwarded-tcpip";
}

/// <summary>Channel request types of RFC 4254 §6 and OpenSSH's PROTOCOL.</summary>
public static class SshChannelRequestTypes
{
    /// <summary>"pty-req": allocate a pseudo-terminal (§6.2).</summary>
    public const string PseudoTerminal = "pty-req";

    /// <summary>"x11-req": X11 forwarding (§6.3.1).</summary>
    public const string X11 = "x11-req";

    /// <summary>"env": set an environment variable (§6.4).</summary>
    public const string Environment = "env";

    /// <summary>"shell": start the user's shell (§6.5).</summary>
    public const string Shell = "shell";

    /// <summary>"exec": run a command (§6.5).</summary>
    public const string Exec = "exec";

    /// <summary>"subsystem": start a named subsystem, e.g. "sftp" (§6.5).</summary>
    public const string Subsystem = "subsystem";

    /// <summary>"window-change": the terminal's size changed (§6.7).</summary>
    public const string WindowChange = "window-change";

    /// <summary>"xon-xoff": whether the client may do flow control (§6.8).</summary>
    public const string XonXoff = "xon-xoff";

    /// <summary>"signal": deliver a signal to the remote process (§6.9).</summary>
    public const string Signal = "signal";

    /// <summary>"exit-status": the command's exit status (§6.10).</summary>
    public const string ExitStatus = "exit-status";

    /// <summary>"exit-signal": the command was killed by a signal (§6.10).</summary>
    public const string ExitSignal = "exit-signal";

    /// <summary>"auth-agent-req@openssh.com": agent forwarding (OpenSSH PROTOCOL).</summary>
    public const string AgentForwarding = "auth-agent-req@openssh.com";

    /// <summary>"eow@openssh.com": no more writes, the reads continue (OpenSSH PROTOCOL §2.1).</summary>
    public const string EndOfWrite = "eow@openssh.com";

    /// <summary>"keepalive@openssh.com": OpenSSH's liveness probe on a channel; any answer proves liveness.</summary>
    public const string KeepAlive = "keepalive@openssh.com";
}

/// <summary>Global request names of RFC 4254 §4, §7.1 and OpenSSH's PROTOCOL.</summary>
public static class SshGlobalRequestTypes
{
    /// <summary>"tcpip-forward": listen on an address and port for the client (ssh -R, RFC 4254 §7.1).</summary>
    public const string TcpIpForward = "tcpip-forward";

    /// <summary>"cancel-tcpip-forward": stop a "tcpip-forward" listener (RFC 4254 §7.1).</summary>
    public const string CancelTcpIpForward = "cancel-tcpip-forward";

    /// <summary>"keepalive@openssh.com": a liveness probe; any answer (success or failure) proves liveness.</summary>
    public const string KeepAlive = "keepalive@openssh.com";

    /// <summary>"no-more-sessions@openssh.com": the client will open no further session channels (OpenSSH PROTOCOL §2.2).</summary>
    public const string NoMoreSessions = "no-more-sessions@openssh.com";

    /// <summary>"hostkeys-00@openssh.com": the server's host keys, for the client to learn (OpenSSH PROTOCOL §2.5).</summary>
    public const string HostKeys = "hostkeys-00@openssh.com";
}
