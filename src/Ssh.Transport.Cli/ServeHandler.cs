using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Net;
using System.Text;
using Ssh.Transport.Connection;

namespace Ssh.Transport.Cli;

/// <summary>
/// What a logged-in client may do in serve (--allow-exec, --subsystem, --allow-tcp-forwarding, --gateway-ports).
/// Everything is off by default: sessions then get a one-line refusal on stderr and exit status 1, forwardings are
/// refused.
/// </summary>
internal sealed class ServeSessions
{
    /// <summary>Nothing allowed.</summary>
    public static readonly ServeSessions None = new();

    /// <summary>--allow-exec: "exec" and "shell" run the account's login shell (a forced command too).</summary>
    public bool AllowExec { get; init; }

    /// <summary>--subsystem NAME=COMMAND: the commands of the subsystems, by name; they run without --allow-exec, as in sshd.</summary>
    public IReadOnlyDictionary<string, string> Subsystems { get; init; } = ReadOnlyDictionary<string, string>.Empty;

    /// <summary>--allow-tcp-forwarding: ssh -L (direct-tcpip) and ssh -R (tcpip-forward), within the key's restrictions.</summary>
    public bool AllowTcpForwarding { get; init; }

    /// <summary>--gateway-ports: remote forwardings may listen on other addresses than loopback.</summary>
    public bool GatewayPorts { get; init; }

    /// <summary>The account commands and subsystems run as (read at start); null when neither is configured.</summary>
    public ServeAccount? Account { get; init; }

    /// <summary>serve's start-up line: "exec, shell (as root, /bin/bash in /root); subsystem sftp; TCP forwarding (loopback)".</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (AllowExec && Account is { } account)
        {
            parts.Add($"exec and shell as {account.UserName} ({account.Shell} in {account.Home})");
        }

        foreach ((string name, string command) in Subsystems)
        {
            parts.Add($"subsystem {name} ({command})");
        }

        if (AllowTcpForwarding)
        {
            parts.Add(GatewayPorts ? "TCP forwarding (remote forwardings on any address)" : "TCP forwarding (remote forwardings on loopback)");
        }

        return parts.Count == 0 ? "none (see --allow-exec, --subsystem, --allow-tcp-forwarding)" : string.Join("; ", parts);
    }
}

/// <summary>
/// serve's side of the library's server role, for one connection: authentication from the authorized_keys and password
/// files, sessions as the account's processes, forwarding as the options allow. The runner (<see cref="SshServer.RunAsync"/>)
/// enforces the authorized_keys restrictions of the key that let the user in (command=, no-pty, no-port-forwarding,
/// permitopen, permitlisten, environment=) before asking.
/// </summary>
/// <remarks>
/// The runner offers a client the authentication methods the handler's type overrides, so there is one type per
/// combination of files: a server with only --authorized-keys offers only publickey.
/// </remarks>
internal abstract class ServeHandler : SshServerHandler
{
    /// <summary>The prefix of the lines serve writes to a session's stderr.</summary>
    public const string ErrorPrefix = "ssh-transport serve: ";

    private ServeHandler(ServeAuthentication authentication, ServeSessions sessions, ServeConnectionLog log)
    {
        Authentication = authentication;
        Sessions = sessions;
        Log = log;
    }

    private ServeAuthentication Authentication { get; }

    private ServeSessions Sessions { get; }

    private ServeConnectionLog Log { get; }

    /// <summary>A handler for one connection that offers the methods <paramref name="authentication"/> has files for.</summary>
    public static ServeHandler Create(ServeAuthentication authentication, ServeSessions sessions, ServeConnectionLog log) =>
        (authentication.AuthorizedKeys, authentication.Passwords) switch
        {
            (not null, null) => new PublicKeyHandler(authentication, sessions, log),
            (null, not null) => new PasswordHandler(authentication, sessions, log),
            _ => new PublicKeyAndPasswordHandler(authentication, sessions, log),
        };

    /// <summary>
    /// A session: a subsystem of --subsystem, a command or a shell with --allow-exec, each run by the account's login
    /// shell (<see cref="ServeAccount.StartInfo"/>) with its standard streams and exit status carried. Anything else
    /// gets one line on stderr and exit status 1.
    /// </summary>
    public override async Task RunSessionAsync(SshServerSession session, CancellationToken cancellationToken)
    {
        Log.Authenticated(session.User);
        string what = Describe(session);
        string user = session.User.UserName;
        ProcessStartInfo? start = null;
        string? refusal = null;
        if (session.Kind == SshSessionKind.Subsystem)
        {
            // As sshd: configured subsystems run for any logged-in user; --allow-exec is about commands.
            if (Sessions.Subsystems.TryGetValue(session.SubsystemName!, out string? command) && Sessions.Account is { } account)
            {
                start = account.StartInfo(command);
            }
            else
            {
                refusal = $"subsystem '{session.SubsystemName}' is not configured (--subsystem)";
            }
        }
        else if (Sessions.AllowExec && Sessions.Account is { } account)
        {
            // A forced command (command= of the key) is an exec too: SSH_ORIGINAL_COMMAND is what the client asked for.
            start = account.StartInfo(session.Kind == SshSessionKind.Shell ? null : session.Command);
        }
        else
        {
            refusal = "command execution is disabled (--allow-exec)";
        }

        if (refusal is not null)
        {
            Log.Line($"refused {what} for {user}: {refusal}");
            await session.ErrorOutput.WriteAsync(Encoding.UTF8.GetBytes(ErrorPrefix + refusal + "\n"), cancellationToken).ConfigureAwait(false);
            await session.ExitAsync(1, CancellationToken.None).ConfigureAwait(false);
            return;
        }

        string terminal = session.PseudoTerminal is { } pty ? $" (pty-req {pty.TerminalType}: no terminal allocated)" : "";
        Log.Line($"{what} for {user}{terminal}");
        SshExitStatus status;
        try
        {
            // Not the session's token: the client's CLOSE that answers ours cancels it, and would race the session's
            // end after its exit status went out. The process is still killed when the session ends early (the
            // session's own token), and every wait ends with the connection.
            status = await session.RunProcessAsync(start!, CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.Line($"{what} for {user} ended: the session was closed before the process exited (killed)");
            throw;
        }

        Log.Line($"{what} for {user} ended: {status}");
    }

    /// <summary>ssh -L: with --allow-tcp-forwarding, to any destination the key's permitopen allows.</summary>
    public override ValueTask<bool> AllowDirectTcpIpAsync(SshServerContext context, SshTcpIpChannelInfo target, CancellationToken cancellationToken)
    {
        Log.Authenticated(context.User);
        string what = $"direct-tcpip to {target.Host}:{target.Port} for {context.User.UserName}";
        if (!Sessions.AllowTcpForwarding)
        {
            Log.Line($"refused {what}: TCP forwarding is disabled (--allow-tcp-forwarding)");
            return ValueTask.FromResult(false);
        }

        Log.Line(what);
        return ValueTask.FromResult(true);
    }

    /// <summary>
    /// ssh -R: with --allow-tcp-forwarding, on the loopback addresses ("localhost", ssh's default, 127.0.0.1, ::1), or
    /// with --gateway-ports on any; within the key's permitlisten.
    /// </summary>
    /// <remarks>
    /// sshd's GatewayPorts=no binds a forwarding asked for another address to loopback anyway; the runner's decision
    /// is yes or no, so serve refuses it instead.
    /// </remarks>
    public override ValueTask<bool> AllowTcpIpForwardAsync(SshServerContext context, string address, int port, CancellationToken cancellationToken)
    {
        Log.Authenticated(context.User);
        string what = $"tcpip-forward {(address.Length == 0 ? "*" : address)}:{port} for {context.User.UserName}";
        string? refusal = !Sessions.AllowTcpForwarding ? "TCP forwarding is disabled (--allow-tcp-forwarding)"
            : !Sessions.GatewayPorts && !IsLoopback(address) ? "not a loopback address (--gateway-ports allows others)"
            : null;
        Log.Line(refusal is null ? what : $"refused {what}: {refusal}");
        return ValueTask.FromResult(refusal is null);
    }

    /// <summary>True for the addresses a forwarding without --gateway-ports may listen on.</summary>
    internal static bool IsLoopback(string address) =>
        address.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(address.Trim('[', ']'), out IPAddress? ip) && IPAddress.IsLoopback(ip));

    /// <summary>What the session runs, for the log: "exec 'echo hi'", "shell", "subsystem sftp", "forced command 'x' (client: exec 'y')".</summary>
    private static string Describe(SshServerSession session)
    {
        if (session.IsCommandForced)
        {
            return $"forced command '{session.Command}' (client: {(session.OriginalCommand is { } original ? $"'{original}'" : "shell")})";
        }

        return session.Kind switch
        {
            SshSessionKind.Exec => $"exec '{session.Command}'",
            SshSessionKind.Subsystem => $"subsystem {session.SubsystemName}",
            _ => "shell",
        };
    }

    private ValueTask<SshAuthorizedKey?> FindKeyAsync(SshAuthenticationContext context, SshPublicKey key) =>
        ValueTask.FromResult(Authentication.FindKey(context, key, Log));

    private ValueTask<bool> VerifyPasswordAsync(SshAuthenticationContext context, string password) =>
        ValueTask.FromResult(Authentication.VerifyPassword(context, password, Log));

    /// <summary>--authorized-keys alone: publickey.</summary>
    private sealed class PublicKeyHandler(ServeAuthentication authentication, ServeSessions sessions, ServeConnectionLog log)
        : ServeHandler(authentication, sessions, log)
    {
        public override ValueTask<SshAuthorizedKey?> AuthenticatePublicKeyAsync(SshAuthenticationContext context, SshPublicKey key, CancellationToken cancellationToken) =>
            FindKeyAsync(context, key);
    }

    /// <summary>--password-file alone: password.</summary>
    private sealed class PasswordHandler(ServeAuthentication authentication, ServeSessions sessions, ServeConnectionLog log)
        : ServeHandler(authentication, sessions, log)
    {
        public override ValueTask<bool> AuthenticatePasswordAsync(SshAuthenticationContext context, string password, CancellationToken cancellationToken) =>
            VerifyPasswordAsync(context, password);
    }

    /// <summary>Both files: publickey and password.</summary>
    private sealed class PublicKeyAndPasswordHandler(ServeAuthentication authentication, ServeSessions sessions, ServeConnectionLog log)
        : ServeHandler(authentication, sessions, log)
    {
        public override ValueTask<SshAuthorizedKey?> AuthenticatePublicKeyAsync(SshAuthenticationContext context, SshPublicKey key, CancellationToken cancellationToken) =>
            FindKeyAsync(context, key);

        public override ValueTask<bool> AuthenticatePasswordAsync(SshAuthenticationContext context, string password, CancellationToken cancellationToken) =>
            VerifyPasswordAsync(context, password);
    }
}
