using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Ssh.Transport.AspNetCore;
using Ssh.Transport.Connection;

namespace Ssh.Transport.Cli;

/// <summary>What one served connection did, reported when it ends.</summary>
/// <param name="Peer">The client's endpoint.</param>
/// <param name="KeyExchanges">Completed key exchanges, the first one included.</param>
/// <param name="Messages">Messages of the layers above read (message numbers 50 and up).</param>
/// <param name="MessageBytes">Their payload bytes.</param>
/// <param name="AuthRequests">SSH_MSG_USERAUTH_REQUESTs answered with a failure.</param>
/// <param name="User">Who logged in (user authentication configured), or null.</param>
/// <remarks>Messages, MessageBytes and AuthRequests are counted where every login is refused (no authentication configured).</remarks>
internal sealed record ServedConnection(string Peer, int KeyExchanges, long Messages, long MessageBytes, long AuthRequests, SshAuthenticatedUser? User = null);

/// <summary>
/// The SSH server of 'serve' and 'demo': Kestrel with one endpoint running <see cref="SshConnectionHandler"/> (no
/// HTTP at all), and the per-connection application: without authentication settings it refuses every login; with
/// them it runs the library's server role with serve's handler (<see cref="ServeHandler"/>): user authentication, then
/// sessions and forwardings as <see cref="ServeSessions"/> allow.
/// </summary>
internal sealed class ServeHost : IAsyncDisposable
{
    private WebApplication? _app;
    private ListenOptions? _listen;
    private readonly TextWriter _log;
    private readonly ILogger _logger;
    private readonly Action<ServedConnection>? _onClosed;
    private readonly ServeAuthentication? _authentication;
    private readonly ServeSessions _sessions;
    private int _connections;
    private int _stopped;

    private ServeHost(TextWriter log, Action<ServedConnection>? onClosed, ServeAuthentication? authentication, ServeSessions? sessions)
    {
        _log = log;
        _logger = new LineLogger(log);
        _onClosed = onClosed;
        _authentication = authentication;
        _sessions = sessions ?? ServeSessions.None;
    }

    /// <summary>The bound endpoint (with the real port when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint => _listen?.IPEndPoint ?? throw new InvalidOperationException("Not listening on an IP endpoint.");

    /// <summary>Connections accepted so far (handshakes completed).</summary>
    public int ConnectionCount => Volatile.Read(ref _connections);

    /// <summary>Kestrel's socket buffers (<see cref="SshServerServiceCollectionExtensions.AddSshSocketBuffers"/>).</summary>
    internal const int ServeSocketBlockSize = 1024 * 1024;

    /// <summary>Starts Kestrel on <paramref name="endpoint"/>.</summary>
    /// <param name="endpoint">Where to listen; port 0 for any free port.</param>
    /// <param name="options">The server settings, host keys included.</param>
    /// <param name="log">Where the per-connection lines go.</param>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <param name="onClosed">Called when a connection ends, after its line is logged.</param>
    /// <param name="authentication">Who may log in; null: every login is refused.</param>
    /// <param name="sessions">What a logged-in client may do; null: nothing (sessions get a refusal, forwardings are refused).</param>
    /// <param name="admission">The pre-authentication defences in front of the endpoint; null: none (demo).</param>
    public static async Task<ServeHost> StartAsync(IPEndPoint endpoint, SshServerOptions options, TextWriter log, CancellationToken cancellationToken,
        Action<ServedConnection>? onClosed = null, ServeAuthentication? authentication = null, ServeSessions? sessions = null, ServeAdmission? admission = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseKestrelCore();
        // 1 MiB socket reads: whole packets, no gathering copies, and received hmac-sha2-256-etm packets side by side for
        // batches (64 KiB blocks took 1.26 server CPU-s/GiB on an ssh upload, 1 MiB 1.00; docs/performance.md).
        builder.Services.AddSshSocketBuffers(ServeSocketBlockSize);

        // --inline-io: Kestrel's socket continuations inline too, so a packet goes from the socket to a session's
        // process on one thread (with DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS, which CliMain sets).
        builder.Services.Configure<SocketTransportOptions>(o => o.UnsafePreferInlineScheduling = options.UnsafePreferInlineScheduling);
        builder.Services.AddSingleton<IHostLifetime, QuietLifetime>(); // the tool handles SIGINT/SIGTERM itself
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));

        // Kestrel's own log is off; handshake failures of the connection handler come out as one line each.
        var host = new ServeHost(log, onClosed, authentication, sessions);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(endpoint, l =>
            {
                host._listen = l;
                if (admission is not null)
                {
                    // First: a refused connection is closed before the SSH banner.
                    l.Use(admission.Gate);
                }

                l.UseSsh(options, (transport, connection) => host.RunConnectionAsync(transport, connection), host._logger);
            });
        });

        WebApplication app = builder.Build();
        host._app = app;
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            return host;
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops accepting, tells open connections the server is going away, and waits for them.</summary>
    public async Task StopAsync()
    {
        if (_app is not null && Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One connection, after the handshake, until the peer leaves or the server stops.</summary>
    private async Task RunConnectionAsync(SshTransport transport, ConnectionContext connection)
    {
        Interlocked.Increment(ref _connections);
        string peer = connection.RemoteEndPoint?.ToString() ?? "?";
        var lifetime = connection.Features.Get<IConnectionLifetimeNotificationFeature>();
        _log.WriteLine($"{peer} connected: {transport.RemoteIdentification}; {Summary(transport)}");

        var elapsed = Stopwatch.StartNew();
        using var exchanges = new KeyExchangeTracker(transport);

        // Not ConnectionClosed: when the client hangs up, what it sent before (its DISCONNECT, say) is still in the
        // pipe to be read. The transport ends the read loop; this token is for the server going away.
        CancellationToken stop = lifetime?.ConnectionClosedRequested ?? CancellationToken.None;
        var refused = new RefusedLogins();
        SshAuthenticatedUser? user = null;

        // Admitted by serve's gate: from here the time left of the login grace time bounds authentication.
        ServeAdmission.Admitted? admitted = connection.Features.Get<ServeAdmission.Admitted>();
        admitted?.HandshakeCompleted();
        SshAdmissionTicket? ticket = admitted?.Ticket;
        try
        {
            if (_authentication is null)
            {
                await RefuseLoginsAsync(transport, refused, ticket, stop).ConfigureAwait(false);
            }
            else
            {
                user = await ServeAsync(transport, connection.RemoteEndPoint, peer, ticket, stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await TryDisconnectAsync(transport, SshDisconnectReason.ByApplication, "server shutting down").ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ticket is { LoginGraceExpired.IsCancellationRequested: true })
        {
            // Every login is refused, so the grace time always ends such a connection (sshd: LoginGraceTime).
            ticket.MarkLoginGraceExceeded();
            await TryDisconnectAsync(transport, SshDisconnectReason.ConnectionLost, "Login grace time exceeded").ConfigureAwait(false);
        }
        catch (Exception e) when (CliMain.IsExpected(e))
        {
            // The connection failed: Completion says how.
        }

        string ending = transport.Completion.IsCompleted ? DescribeEnd(transport.Completion.Result) : "connection aborted";
        int keyExchanges = exchanges.Completed;
        string what = _authentication is null
            ? $"{refused.Messages} message(s) read, {refused.AuthRequests} login attempt(s) refused"
            : user is null ? "not authenticated" : $"user {user.UserName}";
        _log.WriteLine($"{peer} closed after {elapsed.Elapsed.TotalSeconds:0.00} s: {ending}; {keyExchanges} key exchange(s), {what}");
        _onClosed?.Invoke(new ServedConnection(peer, keyExchanges, refused.Messages, refused.Bytes, refused.AuthRequests, user));
    }

    /// <summary>Without authentication settings: refuse every login, ignore the rest, until the peer leaves.</summary>
    /// <param name="transport">The connection.</param>
    /// <param name="counts">What was read, counted as it comes (the counts stand if the connection fails).</param>
    /// <param name="ticket">The connection's admission: its grace time ends the connection, each refused login counts as a failure.</param>
    /// <param name="stop">The server is going away.</param>
    private static async Task RefuseLoginsAsync(SshTransport transport, RefusedLogins counts, SshAdmissionTicket? ticket, CancellationToken stop)
    {
        using var until = CancellationTokenSource.CreateLinkedTokenSource(stop, ticket?.LoginGraceExpired ?? CancellationToken.None);
        while (true)
        {
            SshPacket packet = await transport.ReadMessageAsync(until.Token).ConfigureAwait(false);
            if (packet.IsCompleted)
            {
                return;
            }

            counts.Messages++;
            counts.Bytes += packet.Payload.Length;
            if (packet.MessageNumber == SshMessageNumber.UserAuthRequest)
            {
                counts.AuthRequests++;
                ticket?.MarkAuthenticationFailed();

                // Written from the read loop: during a key exchange the transport queues it for after its NEWKEYS.
                await WriteUserAuthFailureAsync(transport, until.Token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// With authentication settings: the library's server role (<see cref="SshServer.RunAsync"/>) with serve's handler,
    /// until the client leaves or the server stops. One line for the login's success (from the connection's log), one
    /// for a failure that ends it (the refused attempts before have a line each, from the handler). Returns who logged
    /// in, or null.
    /// </summary>
    /// <remarks>
    /// Stopping the server cancels the runner, which sends the client a DISCONNECT (by application, "The server is
    /// shutting down."), ends its sessions (their processes are killed) and forwardings, and returns.
    /// </remarks>
    private async Task<SshAuthenticatedUser?> ServeAsync(SshTransport transport, EndPoint? remote, string peer, SshAdmissionTicket? ticket, CancellationToken stop)
    {
        var log = new ServeConnectionLog(_logger, peer);
        ServeHandler handler = ServeHandler.Create(_authentication!, _sessions, log);
        SshServerSettings settings = _authentication!.CreateSettings(log);
        try
        {
            await (ticket is null
                ? SshServer.RunAsync(transport, handler, settings, remote, stop)
                : SshServer.RunAdmittedAsync(transport, handler, settings, ticket, remote, stop)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The server is stopping: the runner told the client.
        }
        catch (Exception e) when (CliMain.IsExpected(e))
        {
            if (log.User is null)
            {
                // Too many failures (the client was disconnected), the grace time passed, the client gave up or broke the protocol.
                log.Line($"not authenticated: {CliMain.Describe(e)}");
            }

            // Otherwise the connection failed after the login: the closing line says how.
        }

        return log.User;
    }

    /// <summary>Who ended the connection, with the reason and description sent or received, or the failure.</summary>
    internal static string DescribeEnd(SshConnectionClosedEventArgs closed)
    {
        string detail = closed.Description.Length == 0 ? "" : ": " + closed.Description;
        return closed switch
        {
            { ClosedBy: SshInitiator.Remote, Reason: SshDisconnectReason.ConnectionLost, Error: null } => "client closed the connection",
            { ClosedBy: SshInitiator.Remote, Reason: SshDisconnectReason.ConnectionLost, Error: { } error } => $"connection lost: {CliMain.Describe(error)}",
            { ClosedBy: SshInitiator.Remote } => $"client disconnected ({closed.Reason}){detail}",
            { Error: null } => $"server disconnected ({closed.Reason}){detail}",
            { Error: { } error } => $"server failed the connection ({closed.Reason}): {CliMain.Describe(error)}",
        };
    }

    /// <summary>SSH_MSG_USERAUTH_FAILURE (RFC 4252 §5.1): name-list of methods that can continue, partial success false.</summary>
    private static ValueTask WriteUserAuthFailureAsync(SshTransport transport, CancellationToken cancellationToken) =>
        transport.WriteMessageAsync(0, static (w, _) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.UserAuthFailure);
            writer.WriteNameList(["publickey", "password"]);
            writer.WriteBoolean(false);
        }, 32, cancellationToken);

    private static async Task TryDisconnectAsync(SshTransport transport, SshDisconnectReason reason, string description)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await transport.DisconnectAsync(reason, description, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (CliMain.IsExpected(e))
        {
            // Going away anyway.
        }
    }

    internal static string Summary(SshTransport transport)
    {
        SshAlgorithms a = transport.Algorithms;
        string cipher = a.CipherClientToServer == a.CipherServerToClient ? a.CipherClientToServer : $"{a.CipherClientToServer}/{a.CipherServerToClient}";
        string c2sMac = a.MacClientToServer ?? "implicit";
        string s2cMac = a.MacServerToClient ?? "implicit";
        string mac = c2sMac == s2cMac ? c2sMac : $"{c2sMac}/{s2cMac}";
        string compression = a.CompressionClientToServer == a.CompressionServerToClient
            ? a.CompressionClientToServer
            : $"{a.CompressionClientToServer}/{a.CompressionServerToClient}";
        return $"kex={a.KeyExchange} hostkey={a.HostKey} cipher={cipher} mac={mac} compression={compression} strict-kex={(transport.IsStrictKeyExchange ? "on" : "off")}";
    }

    /// <summary>What a connection whose logins are all refused read: messages of the layers above, their bytes, login attempts.</summary>
    private sealed class RefusedLogins
    {
        public long Messages { get; set; }

        public long Bytes { get; set; }

        public long AuthRequests { get; set; }
    }

    /// <summary>A host lifetime that does nothing: no console messages, no signal handlers of its own.</summary>
    private sealed class QuietLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>
    /// Writes the connection handler's messages as plain lines, with the exception's message: its handshake failures are
    /// Debug in the library (routine on a public port) but are what serve reports, one line each.
    /// </summary>
    private sealed class LineLogger(TextWriter output) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                string message = formatter(state, exception);
                output.WriteLine(exception is null ? message : $"{message}: {exception.Message}");
            }
        }
    }
}
