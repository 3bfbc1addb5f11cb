using System.Net;
using Microsoft.Extensions.Logging;

namespace Ssh.Transport.Connection;

/// <summary>
/// What <see cref="SshClient.ConnectAsync(SshClientSettings, CancellationToken)"/> needs: the server, the user and
/// their credentials, how the server's host key is checked, and the connection's limits and timers.
/// </summary>
/// <remarks>
/// The defaults follow OpenSSH's ssh: port 22, the local user's name, the keys of a running ssh-agent when
/// SSH_AUTH_SOCK is set, host keys checked against ~/.ssh/known_hosts (an unknown or changed key is refused). One
/// settings object may serve several connections; <see cref="SshClient.ConnectAsync(SshClientSettings, CancellationToken)"/>
/// reads it when it starts and does not change it.
/// </remarks>
public sealed class SshClientSettings
{
    /// <summary>Creates settings with the defaults; <see cref="Host"/> is still to be set.</summary>
    public SshClientSettings()
    {
    }

    /// <summary>Creates settings for a server, with the defaults otherwise.</summary>
    /// <param name="host">The server's host name or address.</param>
    /// <param name="port">The server's port.</param>
    public SshClientSettings(string host, int port = DefaultPort)
    {
        Host = host;
        Port = port;
    }

    /// <summary>The SSH port, 22.</summary>
    public const int DefaultPort = 22;

    /// <summary>The server's host name or address; required.</summary>
    public string Host { get; set; } = string.Empty;

    /// <summary>The server's port. Default 22.</summary>
    public int Port { get; set; } = DefaultPort;

    /// <summary>The user to log in as. Default: the local user's name (<see cref="Environment.UserName"/>).</summary>
    public string UserName { get; set; } = Environment.UserName;

    /// <summary>
    /// The password, for the <c>password</c> method or for <c>keyboard-interactive</c> prompts that ask for it. Null
    /// (the default): neither method is used.
    /// </summary>
    public string? Password { get; set; }

    /// <summary>Keys for <c>publickey</c>, tried in order before <see cref="PrivateKeyFiles"/> and the agent. The caller keeps ownership.</summary>
    public IList<SshPrivateKey> PrivateKeys { get; } = [];

    /// <summary>
    /// Private key files (OpenSSH or PEM, as <see cref="SshPrivateKey.Load"/> reads them) for <c>publickey</c>, tried
    /// after <see cref="PrivateKeys"/>; an encrypted one is opened with <see cref="PrivateKeyPassphrase"/>. They are
    /// read when connecting: a file that cannot be read or opened fails the connection before it starts.
    /// </summary>
    public IList<string> PrivateKeyFiles { get; } = [];

    /// <summary>The passphrase of the encrypted files among <see cref="PrivateKeyFiles"/>; null for none.</summary>
    public string? PrivateKeyPassphrase { get; set; }

    /// <summary>
    /// Whether to offer the keys of a running ssh-agent, after the keys above. Default: true when the SSH_AUTH_SOCK
    /// environment variable is set.
    /// </summary>
    public bool UseAgent { get; set; } = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SSH_AUTH_SOCK"));

    /// <summary>The agent's Unix socket; null (the default) for SSH_AUTH_SOCK.</summary>
    public string? AgentSocketPath { get; set; }

    /// <summary>
    /// The known_hosts file the server's host key is checked against when no <see cref="HostKeyVerifier"/> is set:
    /// the key must be listed for <see cref="Host"/> (as "[host]:port" for a port other than 22); an unknown,
    /// changed or revoked key is refused with <see cref="SshHostKeyRejectedException"/>. A missing file knows no
    /// host. Default: ~/.ssh/known_hosts.
    /// </summary>
    public string KnownHostsFile { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh", "known_hosts");

    /// <summary>Decides whether the server's host key is trusted, in place of <see cref="KnownHostsFile"/>. Default null.</summary>
    public SshHostKeyVerifier? HostKeyVerifier { get; set; }

    /// <summary>
    /// Trust any host key, without checking it: for tests and tools only. A man in the middle can then read and
    /// change everything, passwords included. Default false.
    /// </summary>
    public bool AcceptAnyHostKey { get; set; }

    /// <summary>
    /// The transport's settings: algorithms, rekey limits, handshake timeout. Used as a template: the client
    /// connects with a copy, with the host key verifier these settings choose (its own
    /// <see cref="SshClientOptions.HostKeyVerifier"/> is not used), and with <see cref="LoggerFactory"/> and
    /// <see cref="TimeProvider"/> where the template sets none.
    /// </summary>
    public SshClientOptions TransportOptions { get; set; } = new();

    /// <summary>Window and packet sizes of the channels, and how many may be open at once.</summary>
    public SshChannelOptions ChannelOptions { get; set; } = new();

    /// <summary>How long the TCP connection may take to be established. Default 30 seconds.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long user authentication may take, as sshd's LoginGraceTime bounds it on the other side; past it the
    /// connection ends with <see cref="SshTimeoutException"/> (<see cref="SshTimeoutKind.Authentication"/>).
    /// Default 2 minutes.
    /// </summary>
    public TimeSpan AuthenticationTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// After this long without a packet from the server, ask it for an answer (a keepalive@openssh.com global
    /// request), as ssh's ServerAliveInterval. <see cref="TimeSpan.Zero"/> (the default) for never.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// How many keepalives may go unanswered; when one more interval passes in silence, the connection fails with
    /// <see cref="SshTimeoutException"/> (<see cref="SshTimeoutKind.KeepAlive"/>) and a DISCONNECT, as ssh's
    /// ServerAliveCountMax. Default 3.
    /// </summary>
    public int KeepAliveCountMax { get; set; } = 3;

    /// <summary>
    /// The most bytes <see cref="SshClient.RunCommandAsync(string, CancellationToken)"/> keeps of each of a command's
    /// outputs; more is an error (not a silent truncation). Default 16 MiB.
    /// </summary>
    public int MaxCapturedOutputBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Called with the text of each banner the server shows before authentication (RFC 4252 §5.4).</summary>
    public Action<string>? BannerReceived { get; set; }

    /// <summary>Creates the loggers: "Ssh.Transport.Connection.SshClient" and the transport's. Default null: no logging.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The clock of the client's timers (connect, authentication, keepalive) and, where its template sets none, the transport's. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Checks every setting at once, as connecting does first.</summary>
    /// <exception cref="ArgumentException">A setting is not valid; the message lists every problem.</exception>
    public void Validate()
    {
        List<string> problems = [];
        if (string.IsNullOrWhiteSpace(Host))
        {
            problems.Add($"{nameof(Host)} is empty.");
        }

        if (Port is < 1 or > IPEndPoint.MaxPort)
        {
            problems.Add($"{nameof(Port)} ({Port}) is not in 1-65535.");
        }

        if (string.IsNullOrEmpty(UserName))
        {
            problems.Add($"{nameof(UserName)} is empty.");
        }

        if (PrivateKeys.Contains(null!) || PrivateKeyFiles.Any(string.IsNullOrEmpty))
        {
            problems.Add($"{nameof(PrivateKeys)} or {nameof(PrivateKeyFiles)} holds a null or empty entry.");
        }

        if (HostKeyVerifier is null && !AcceptAnyHostKey && string.IsNullOrEmpty(KnownHostsFile))
        {
            problems.Add($"No way to check the host key: set {nameof(KnownHostsFile)}, {nameof(HostKeyVerifier)} or (for tests) {nameof(AcceptAnyHostKey)}.");
        }

        if (TransportOptions is null || ChannelOptions is null || TimeProvider is null)
        {
            problems.Add($"{nameof(TransportOptions)}, {nameof(ChannelOptions)} and {nameof(TimeProvider)} may not be null.");
        }

        CheckTimeout(problems, nameof(ConnectTimeout), ConnectTimeout);
        CheckTimeout(problems, nameof(AuthenticationTimeout), AuthenticationTimeout);
        if (KeepAliveInterval < TimeSpan.Zero || KeepAliveInterval.TotalMilliseconds > int.MaxValue)
        {
            problems.Add($"{nameof(KeepAliveInterval)} ({KeepAliveInterval}) must be zero (off) or positive, and at most about 24 days.");
        }

        if (KeepAliveCountMax < 1)
        {
            problems.Add($"{nameof(KeepAliveCountMax)} ({KeepAliveCountMax}) must be at least 1.");
        }

        if (MaxCapturedOutputBytes < 0)
        {
            problems.Add($"{nameof(MaxCapturedOutputBytes)} ({MaxCapturedOutputBytes}) may not be negative.");
        }

        if (ChannelOptions is not null)
        {
            try
            {
                ChannelOptions.Validate();
            }
            catch (ArgumentException e)
            {
                problems.Add(e.Message);
            }
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException($"{nameof(SshClientSettings)} are not valid: {string.Join(" ", problems)}");
        }
    }

    private static void CheckTimeout(List<string> problems, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
        {
            problems.Add($"{name} ({value}) must be positive and at most about 24 days.");
        }
    }
}
