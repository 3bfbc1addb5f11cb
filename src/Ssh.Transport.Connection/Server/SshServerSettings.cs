using Microsoft.Extensions.Logging;

namespace Ssh.Transport.Connection;

/// <summary>
/// What <see cref="SshServer.RunAsync"/> allows a connection, with OpenSSH's sshd defaults: authentication limits,
/// channel windows, sessions per connection, accepted environment variables, forwarding timeouts.
/// </summary>
/// <remarks>
/// One settings object may serve many connections; do not change it while connections run. Transport settings (host
/// keys, algorithms, rekey limits, the host-bound publickey extension) are the <see cref="SshServerOptions"/> the
/// transport was accepted with.
/// </remarks>
public sealed class SshServerSettings
{
    /// <summary>
    /// Failed authentication attempts allowed per connection (sshd's MaxAuthTries); at the last one the client is
    /// disconnected. The client's first <c>none</c> request does not count. Default 6.
    /// </summary>
    public int MaxAuthTries { get; set; } = 6;

    /// <summary>
    /// How long a client has to authenticate (sshd's LoginGraceTime); past it the client is disconnected. Default 120
    /// seconds. With an <see cref="SshAdmissionTicket"/> (the Kestrel host and serve admit every connection) it counts
    /// from accept, the handshake included, as sshd's does; without one, from the start of authentication.
    /// </summary>
    public TimeSpan LoginGraceTime { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Text sent in SSH_MSG_USERAUTH_BANNER before the first answer (sshd's Banner); null for none.</summary>
    public string? Banner { get; set; }

    /// <summary>
    /// Methods that must all succeed, in this order (sshd's AuthenticationMethods with one list), e.g. "publickey" then
    /// "password". Empty, the default: any one method the handler implements suffices.
    /// </summary>
    public IList<string> RequiredAuthenticationMethods { get; } = [];

    /// <summary>
    /// Accept publickey-hostbound-v00@openssh.com, where the client's signature also covers our host key. Default true.
    /// Clients use it only when the transport announces it:
    /// <c>SshServerOptions.Extensions[SshAuthenticationMethods.PublicKeyHostBoundExtension] = "0"</c>.
    /// </summary>
    public bool AllowHostBoundPublicKey { get; set; } = true;

    /// <summary>
    /// Accept "ssh-rsa" publickey signatures, which hash with SHA-1. Default false, as in OpenSSH since 8.8; RSA keys
    /// still sign with rsa-sha2-256 and rsa-sha2-512.
    /// </summary>
    public bool AllowSshRsaSha1 { get; set; }

    /// <summary>Window, packet size and channel count of each connection (<see cref="SshConnection"/>).</summary>
    public SshChannelOptions Channels { get; set; } = new();

    /// <summary>Session channels open at once per connection (sshd's MaxSessions); more are refused. Default 10.</summary>
    public int MaxSessions { get; set; } = 10;

    /// <summary>The most <see cref="ProcessPipeSize"/> can be: Linux's default limit for unprivileged processes (/proc/sys/fs/pipe-max-size).</summary>
    public const int MaxProcessPipeSize = 1024 * 1024;

    /// <summary>
    /// Bytes the pipes to a session process's standard input and from its standard output hold
    /// (<see cref="SshServerSession.RunProcessAsync"/>, Linux only; elsewhere the system's size stays). Default 256 KiB,
    /// four times Linux's 64 KiB: a bulk transfer then waits on the process and wakes it a quarter as often
    /// (docs/performance.md). 0 keeps the system's size; at most <see cref="MaxProcessPipeSize"/>.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Under keys that seal packets in batches (hmac-sha2-256-etm on a processor with AVX-512), standard output is read
    /// sixteen packets at a time and its pipe holds two such reads (1 MiB with 32 KiB packets), if this is not 0.
    /// </para>
    /// <para>
    /// Linux counts pipe memory per user, and past /proc/sys/fs/pipe-user-pages-soft it makes every new pipe of that
    /// user small, the sessions' own pipelines included. Session processes run as the server's user, so the server
    /// enlarges pipes only while its enlarged pipes together stay within half of that limit; further sessions keep the
    /// system's size.
    /// </para>
    /// </remarks>
    public int ProcessPipeSize { get; set; } = 256 * 1024;

    /// <summary>
    /// Names of the environment variables a client may set with "env" requests (sshd's AcceptEnv), with the wildcards
    /// <c>*</c> and <c>?</c>; others are refused. Default <c>LANG</c> and <c>LC_*</c>, as Debian's sshd_config.
    /// </summary>
    public IList<string> AcceptEnvironment { get; } = ["LANG", "LC_*"];

    /// <summary>
    /// How long a "direct-tcpip" channel (ssh -L) may wait for its connection to the target; past it the channel is
    /// refused with ConnectFailed. Default 10 seconds.
    /// </summary>
    public TimeSpan ForwardingConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The clock of the timeouts.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Where the server logs: "Ssh.Transport.Connection.Server" (connections, sessions, forwardings, refusals with
    /// reasons) and "Ssh.Transport.Connection.Authentication". Null for none.
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message lists every problem.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (MaxAuthTries < 1)
        {
            problems.Add($"MaxAuthTries is {MaxAuthTries}; at least 1.");
        }

        if (LoginGraceTime <= TimeSpan.Zero || LoginGraceTime.TotalMilliseconds > uint.MaxValue - 1)
        {
            problems.Add($"LoginGraceTime is {LoginGraceTime}; it must be positive and at most about 49 days.");
        }

        if (ForwardingConnectTimeout <= TimeSpan.Zero || ForwardingConnectTimeout.TotalMilliseconds > uint.MaxValue - 1)
        {
            problems.Add($"ForwardingConnectTimeout is {ForwardingConnectTimeout}; it must be positive and at most about 49 days.");
        }

        if (MaxSessions < 0)
        {
            problems.Add($"MaxSessions is {MaxSessions}; 0 or more.");
        }

        if (ProcessPipeSize is < 0 or > MaxProcessPipeSize)
        {
            problems.Add($"ProcessPipeSize is {ProcessPipeSize}; 0 (the system's size) to {MaxProcessPipeSize}.");
        }

        foreach (string method in RequiredAuthenticationMethods)
        {
            if (method is not (SshAuthenticationMethods.PublicKey or SshAuthenticationMethods.Password))
            {
                problems.Add($"RequiredAuthenticationMethods lists '{method}'; only publickey and password can be required.");
            }
        }

        foreach (string pattern in AcceptEnvironment)
        {
            if (string.IsNullOrEmpty(pattern))
            {
                problems.Add("AcceptEnvironment has an empty pattern.");
            }
        }

        if (Channels is null || TimeProvider is null)
        {
            problems.Add("Channels and TimeProvider are required.");
        }
        else
        {
            try
            {
                Channels.Validate();
            }
            catch (ArgumentException e)
            {
                problems.Add(e.Message);
            }
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("Server settings are not valid: " + string.Join(" ", problems));
        }
    }
}
