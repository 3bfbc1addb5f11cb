using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ssh.Transport.Connection;

/// <summary>The server role of SSH above the transport: user authentication, then the connection protocol, for one connection.</summary>
public static class SshServer
{
    /// <summary>
    /// Serves one accepted connection: authenticates the client (RFC 4252) with <paramref name="handler"/>'s methods,
    /// then runs the connection protocol (RFC 4254) until the client disconnects: sessions go to
    /// <see cref="SshServerHandler.RunSessionAsync"/>, forwardings as the handler decides, global requests as OpenSSH
    /// answers them.
    /// </summary>
    /// <remarks>
    /// <para>
    /// The runner owns the connection's message loop; each session runs on a task of its own, each forwarded
    /// connection on two. When the connection ends every session's token is cancelled, every listener of a
    /// "tcpip-forward" closes, and the call returns once the sessions have returned.
    /// </para>
    /// <para>
    /// Global requests: "keepalive@openssh.com" and unknown ones are answered with REQUEST_FAILURE (any answer proves
    /// liveness); after "no-more-sessions@openssh.com" a session open is a protocol error that disconnects, as in sshd.
    /// Unknown channel types are refused with UnknownChannelType.
    /// </para>
    /// <para>The transport stays the caller's to dispose.</para>
    /// </remarks>
    /// <param name="transport">A server's transport from <see cref="SshTransport.AcceptAsync(System.IO.Pipelines.IDuplexPipe, SshServerOptions, CancellationToken)"/>, before user authentication.</param>
    /// <param name="handler">The application's decisions and sessions.</param>
    /// <param name="settings">Limits and policies; shared by connections.</param>
    /// <param name="remoteEndPoint">The client's end point (for authorized_keys <c>from=</c>, logs and sessions); null for <see cref="SshTransport.RemoteEndPoint"/>.</param>
    /// <param name="cancellationToken">Ends the connection: the client is sent DISCONNECT (by application).</param>
    /// <returns>A task that completes when the client has disconnected normally.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="settings"/> are not valid, or require a method <paramref name="handler"/> does not implement.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="transport"/> is a client's.</exception>
    /// <exception cref="SshAuthenticationException">The client did not authenticate: too many failures (it was disconnected), or it gave up.</exception>
    /// <exception cref="SshTimeoutException">Authentication took longer than <see cref="SshServerSettings.LoginGraceTime"/>; the client was disconnected.</exception>
    /// <exception cref="SshProtocolException">The client broke the protocol (it was disconnected with the reason), disconnected with an error, or the connection failed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the client was disconnected.</exception>
    public static Task RunAsync(SshTransport transport, SshServerHandler handler, SshServerSettings settings, EndPoint? remoteEndPoint = null, CancellationToken cancellationToken = default) =>
        Run(transport, handler, settings, remoteEndPoint, admission: null, cancellationToken);

    /// <summary>
    /// Serves one accepted connection, as <see cref="RunAsync(SshTransport, SshServerHandler, SshServerSettings, EndPoint?, CancellationToken)"/>,
    /// for a connection admitted by an <see cref="SshServerAdmission"/>: authentication gets what is left of the
    /// ticket's login grace time (one deadline from accept to authenticated, sshd's LoginGraceTime, rather than
    /// <see cref="SshServerSettings.LoginGraceTime"/> from now), and the ticket learns how authentication went: success
    /// (the connection leaves MaxStartups' count), failed attempts, the deadline passing, or a server fault.
    /// </summary>
    /// <param name="transport">A server's transport, before user authentication.</param>
    /// <param name="handler">The application's decisions and sessions.</param>
    /// <param name="settings">Limits and policies; shared by connections.</param>
    /// <param name="admission">The connection's ticket from <see cref="SshServerAdmission.TryAdmit"/>; the caller disposes it when the connection ends.</param>
    /// <param name="remoteEndPoint">The client's end point; null for <see cref="SshTransport.RemoteEndPoint"/>.</param>
    /// <param name="cancellationToken">Ends the connection: the client is sent DISCONNECT (by application).</param>
    /// <returns>A task that completes when the client has disconnected normally.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="settings"/> are not valid, or require a method <paramref name="handler"/> does not implement.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="transport"/> is a client's.</exception>
    /// <exception cref="SshAuthenticationException">The client did not authenticate: too many failures (it was disconnected), or it gave up.</exception>
    /// <exception cref="SshTimeoutException">The login grace time ran out before authentication completed; the client was disconnected.</exception>
    /// <exception cref="SshProtocolException">The client broke the protocol (it was disconnected with the reason), disconnected with an error, or the connection failed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the client was disconnected.</exception>
    public static Task RunAdmittedAsync(SshTransport transport, SshServerHandler handler, SshServerSettings settings, SshAdmissionTicket admission, EndPoint? remoteEndPoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(admission);
        return Run(transport, handler, settings, remoteEndPoint, admission, cancellationToken);
    }

    private static Task Run(SshTransport transport, SshServerHandler handler, SshServerSettings settings, EndPoint? remoteEndPoint, SshAdmissionTicket? admission, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(settings);
        if (transport.Role != SshRole.Server)
        {
            throw new InvalidOperationException("The server runs on a server's transport.");
        }

        settings.Validate();
        SshServerHandler.Capabilities capabilities = handler.GetCapabilities();
        foreach (string method in settings.RequiredAuthenticationMethods)
        {
            if ((method == SshAuthenticationMethods.Password && !capabilities.Password) || (method == SshAuthenticationMethods.PublicKey && !capabilities.PublicKey))
            {
                throw new ArgumentException($"RequiredAuthenticationMethods lists '{method}', which {handler.GetType().Name} does not implement.", nameof(settings));
            }
        }

        return RunCoreAsync(new ServerConnection(transport, handler, settings, capabilities, remoteEndPoint ?? transport.RemoteEndPoint, admission), cancellationToken);
    }

    private static async Task RunCoreAsync(ServerConnection connection, CancellationToken cancellationToken)
    {
        await using (connection.ConfigureAwait(false))
        {
            await connection.RunAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>One connection of <see cref="SshServer.RunAsync"/>: its sessions, forwardings and policies.</summary>
internal sealed class ServerConnection : IAsyncDisposable
{
    internal const string LoggerCategory = "Ssh.Transport.Connection.Server";

    private readonly SshTransport _transport;
    private readonly SshServerHandler _handler;
    private readonly SshServerSettings _settings;
    private readonly SshServerHandler.Capabilities _capabilities;
    private readonly EndPoint? _remoteEndPoint;
    private readonly Lock _lock = new();
    private readonly Dictionary<SshChannel, SshServerSession> _sessions = [];
    private readonly HashSet<Task> _work = [];
    private readonly CancellationTokenSource _ended = new();
    private readonly CancellationToken _endedToken;
    private SshServerContext? _context;
    private SshConnection? _connection;
    private RemoteForwarding? _forwards;
    private readonly SshAdmissionTicket? _admission;
    private bool _noMoreSessions;

    public ServerConnection(SshTransport transport, SshServerHandler handler, SshServerSettings settings, SshServerHandler.Capabilities capabilities, EndPoint? remoteEndPoint, SshAdmissionTicket? admission = null)
    {
        _admission = admission;
        _transport = transport;
        _handler = handler;
        _settings = settings;
        _capabilities = capabilities;
        _remoteEndPoint = remoteEndPoint;
        Logger = settings.LoggerFactory?.CreateLogger(LoggerCategory) ?? NullLogger.Instance;
        _endedToken = _ended.Token;
    }

    public ILogger Logger { get; }

    public SshServerSettings Settings => _settings;

    public SshServerHandler Handler => _handler;

    public SshServerContext Context => _context!;

    public bool RunsSessions => _capabilities.Sessions;

    /// <summary>Cancelled when the connection ends.</summary>
    public CancellationToken Ended => _endedToken;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        SshAuthenticatedUser user;
        try
        {
            user = await SshServerAuthentication.AuthenticateAsync(_transport, AuthenticationOptions(), _remoteEndPoint, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await DisconnectAsync().ConfigureAwait(false);
            throw;
        }
        catch (Exception e) when (_admission is not null)
        {
            // How sshd's listener classifies a pre-authentication child's exit, for the source's penalty.
            switch (e)
            {
                case SshTimeoutException { Kind: SshTimeoutKind.Authentication } timeout:
                    // Reported as the whole grace time, which is what ran out (authentication had what the handshake left).
                    _admission.MarkLoginGraceExceeded();
                    throw new SshTimeoutException(SshTimeoutKind.Authentication, _admission.LoginGraceTime, timeout.Reason,
                        $"Authentication did not complete within the login grace time ({_admission.LoginGraceTime.TotalSeconds:0.###} s from accept).");
                case SshAuthenticationException { TriedMethods.Count: > 0 }:
                    _admission.MarkAuthenticationFailed();
                    break;
                case SshProtocolException or IOException or OperationCanceledException or ObjectDisposedException:
                    break; // noauth
                default:
                    _admission.MarkFault();
                    break;
            }

            throw;
        }

        _admission?.MarkAuthenticated();
        _context = new SshServerContext(_transport, user, _transport.LocalEndPoint, _remoteEndPoint);
        _connection = new SshConnection(_transport, _settings.Channels)
        {
            TimeProvider = _settings.TimeProvider,
            ChannelOpenHandler = OnChannelOpenAsync,
            GlobalRequestHandler = OnGlobalRequestAsync,
            ChannelRequestAnswered = OnChannelRequestAnswered,
        };
        _forwards = new RemoteForwarding(this, _connection);
        Logger.LogInformation("Connection of {User} from {RemoteEndPoint} open", user, _remoteEndPoint);
        try
        {
            await _connection.RunAsync(cancellationToken).ConfigureAwait(false);
            Logger.LogInformation("Connection of {User} from {RemoteEndPoint} ended: {End}", user.UserName, _remoteEndPoint, _transport.Completion.IsCompleted ? await _transport.Completion.ConfigureAwait(false) : "closed");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Logger.LogInformation("Connection of {User} from {RemoteEndPoint} ended by the server", user.UserName, _remoteEndPoint);
            await DisconnectAsync().ConfigureAwait(false);
            throw;
        }
        catch (Exception e)
        {
            Logger.LogInformation(e, "Connection of {User} from {RemoteEndPoint} failed", user.UserName, _remoteEndPoint);
            throw;
        }
    }

    /// <summary>Runs work that belongs to the connection (a session, a forwarded connection); the end waits for it.</summary>
    public void Track(Task work)
    {
        lock (_lock)
        {
            _work.Add(work);
        }

        work.ContinueWith(
            static (task, state) =>
            {
                var owner = (ServerConnection)state!;
                lock (owner._lock)
                {
                    owner._work.Remove(task);
                }
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private SshServerAuthenticationOptions AuthenticationOptions()
    {
        var options = new SshServerAuthenticationOptions
        {
            NoneValidator = _handler.AuthenticateNoneAsync,
            PasswordValidator = !_capabilities.Password ? null : _admission is null ? _handler.AuthenticatePasswordAsync : CheckPasswordAsync,
            PublicKeyValidator = !_capabilities.PublicKey ? null : _admission is null ? _handler.AuthenticatePublicKeyAsync : CheckPublicKeyAsync,
            AllowHostBoundPublicKey = _settings.AllowHostBoundPublicKey,
            Banner = _settings.Banner,
            MaxAttempts = _settings.MaxAuthTries,
            // With a ticket, one deadline from accept to authenticated: what the handshake left of the grace time.
            Timeout = _admission is null ? _settings.LoginGraceTime : Max(_admission.RemainingLoginGraceTime, TimeSpan.FromMilliseconds(1)),
            TimeProvider = _settings.TimeProvider,
            Logger = _settings.LoggerFactory?.CreateLogger("Ssh.Transport.Connection.Authentication"),
        };
        if (_settings.AllowSshRsaSha1)
        {
            options.PublicKeyAlgorithms.Add("ssh-rsa");
        }

        foreach (string method in _settings.RequiredAuthenticationMethods)
        {
            options.RequiredMethods.Add(method);
        }

        return options;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    // With a ticket: a refused password or key is a failed attempt (sshd's authfail penalty when the connection then ends unauthenticated).
    private async ValueTask<bool> CheckPasswordAsync(SshAuthenticationContext context, string password, CancellationToken cancellationToken)
    {
        bool accepted = await _handler.AuthenticatePasswordAsync(context, password, cancellationToken).ConfigureAwait(false);
        if (!accepted)
        {
            _admission!.MarkAuthenticationFailed();
        }

        return accepted;
    }

    private async ValueTask<SshAuthorizedKey?> CheckPublicKeyAsync(SshAuthenticationContext context, SshPublicKey key, CancellationToken cancellationToken)
    {
        SshAuthorizedKey? accepted = await _handler.AuthenticatePublicKeyAsync(context, key, cancellationToken).ConfigureAwait(false);
        if (accepted is null)
        {
            _admission!.MarkAuthenticationFailed();
        }

        return accepted;
    }

    /// <summary>The end of the connection: sessions cancelled, listeners closed, channels ended; waits for the sessions.</summary>
    public async ValueTask DisposeAsync()
    {
        await _ended.CancelAsync().ConfigureAwait(false);
        if (_forwards is not null)
        {
            await _forwards.DisposeAsync().ConfigureAwait(false);
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }

        Task[] work;
        lock (_lock)
        {
            work = [.. _work];
        }

        // Sessions were cancelled and their channels ended: they return (a process is killed); their errors were logged.
        await Task.WhenAll(work).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _ended.Dispose();
    }

    private async Task DisconnectAsync()
    {
        try
        {
            await _transport.DisconnectAsync(SshDisconnectReason.ByApplication, "The server is shutting down.", CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or IOException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    // --- Channels (RFC 4254 §6.1, §7.2)

    private ValueTask OnChannelOpenAsync(SshChannelOpenRequest request, CancellationToken cancellationToken)
    {
        switch (request.Type)
        {
            case SshChannelTypes.Session:
                OpenSession(request);
                return ValueTask.CompletedTask;
            case SshChannelTypes.DirectTcpIp:
                return OpenDirectTcpIpAsync(request, SessionWire.ReadTcpIpChannel(request.Data.Span), cancellationToken);
            default:
                Logger.LogDebug("Channel type {Type} refused: unknown", request.Type);
                request.Reject(SshChannelOpenFailureReason.UnknownChannelType, $"Unknown channel type '{request.Type}'.");
                return ValueTask.CompletedTask;
        }
    }

    private void OpenSession(SshChannelOpenRequest request)
    {
        if (Volatile.Read(ref _noMoreSessions))
        {
            // OpenSSH PROTOCOL §2.2; sshd's words and its answer: a disconnect.
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "Possible attack: attempt to open a session after additional sessions disabled");
        }

        if (!_capabilities.Sessions)
        {
            request.Reject(SshChannelOpenFailureReason.AdministrativelyProhibited, "This server runs no sessions.");
            return;
        }

        lock (_lock)
        {
            if (_sessions.Count >= _settings.MaxSessions)
            {
                Logger.LogInformation("Session refused for {User}: {Count} open, MaxSessions {MaxSessions}", Context.User.UserName, _sessions.Count, _settings.MaxSessions);
                request.Reject(SshChannelOpenFailureReason.AdministrativelyProhibited, $"No more than {_settings.MaxSessions} sessions per connection.");
                return;
            }

            SshChannel channel;
            try
            {
                channel = request.Accept();
            }
            catch (InvalidOperationException)
            {
                request.Reject(SshChannelOpenFailureReason.ResourceShortage, "No channel number is free.");
                return;
            }

            var session = new SshServerSession(this, channel);
            _sessions.Add(channel, session);
            _ = ForgetWhenClosedAsync(channel);
        }
    }

    private async Task ForgetWhenClosedAsync(SshChannel channel)
    {
        await channel.Completion.ConfigureAwait(false);
        lock (_lock)
        {
            _sessions.Remove(channel);
        }
    }

    private void OnChannelRequestAnswered(SshChannel channel)
    {
        SshServerSession? session;
        lock (_lock)
        {
            _sessions.TryGetValue(channel, out session);
        }

        session?.OnRequestAnswered();
    }

    private async ValueTask OpenDirectTcpIpAsync(SshChannelOpenRequest request, SshTcpIpChannelInfo target, CancellationToken cancellationToken)
    {
        SshAuthorizedKey? key = Context.User.AuthorizedKey;
        if (key is { PermitPortForwarding: false })
        {
            Refuse(request, target, "port forwarding is not permitted for this key (authorized_keys)");
            return;
        }

        if (key is { PermitOpen.Count: > 0 } && !ForwardingPermissions.IsOpenPermitted(key.PermitOpen, target.Host, target.Port))
        {
            Refuse(request, target, "the destination is not in the key's permitopen (authorized_keys)");
            return;
        }

        if (!await _handler.AllowDirectTcpIpAsync(Context, target, cancellationToken).ConfigureAwait(false))
        {
            Refuse(request, target, "the handler did not allow it");
            return;
        }

        Socket? socket = await TcpForwarding.ConnectAsync(target.Host, target.Port, _settings.ForwardingConnectTimeout, _settings.TimeProvider, cancellationToken).ConfigureAwait(false);
        if (socket is null)
        {
            Logger.LogInformation("direct-tcpip to {Host}:{Port} for {User}: connect failed", target.Host, target.Port, Context.User.UserName);
            request.Reject(SshChannelOpenFailureReason.ConnectFailed, $"Could not connect to {target.Host} port {target.Port}.");
            return;
        }

        SshChannel channel;
        try
        {
            channel = request.Accept();
        }
        catch (InvalidOperationException)
        {
            socket.Dispose();
            request.Reject(SshChannelOpenFailureReason.ResourceShortage, "No channel number is free.");
            return;
        }

        Logger.LogDebug("direct-tcpip to {Host}:{Port} for {User} from {Originator}:{OriginatorPort}", target.Host, target.Port, Context.User.UserName, target.OriginatorAddress, target.OriginatorPort);
        Track(TcpForwarding.PumpAsync(socket, channel, Logger, Ended));
    }

    private void Refuse(SshChannelOpenRequest request, SshTcpIpChannelInfo target, string why)
    {
        Logger.LogInformation("direct-tcpip to {Host}:{Port} refused for {User}: {Reason}", target.Host, target.Port, Context.User.UserName, why);
        request.Reject(SshChannelOpenFailureReason.AdministrativelyProhibited, "Port forwarding refused.");
    }

    // --- Global requests (RFC 4254 §4, §7.1; OpenSSH PROTOCOL §2)

    private async ValueTask<byte[]?> OnGlobalRequestAsync(string name, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        switch (name)
        {
            case SshGlobalRequestTypes.NoMoreSessions:
                Volatile.Write(ref _noMoreSessions, true);
                return [];
            case SshGlobalRequestTypes.TcpIpForward:
            {
                (string address, int port) = SessionWire.ReadForward(data.Span);
                return await ForwardAsync(address, port, cancellationToken).ConfigureAwait(false);
            }

            case SshGlobalRequestTypes.CancelTcpIpForward:
            {
                (string address, int port) = SessionWire.ReadForward(data.Span);
                bool cancelled = await _forwards!.CancelAsync(address, port).ConfigureAwait(false);
                Logger.LogDebug("cancel-tcpip-forward {Address}:{Port}: {Result}", address, port, cancelled ? "stopped" : "no such forwarding");
                return cancelled ? [] : null;
            }

            default:
                // keepalive@openssh.com among them: REQUEST_FAILURE, as sshd answers it (any answer proves liveness).
                return null;
        }
    }

    private async ValueTask<byte[]?> ForwardAsync(string address, int port, CancellationToken cancellationToken)
    {
        SshAuthorizedKey? key = Context.User.AuthorizedKey;
        string? refusal = key switch
        {
            { PermitPortForwarding: false } => "port forwarding is not permitted for this key (authorized_keys)",
            { PermitListen.Count: > 0 } when !ForwardingPermissions.IsListenPermitted(key.PermitListen, address, port) => "the address is not in the key's permitlisten (authorized_keys)",
            _ => null,
        };
        if (refusal is null && !await _handler.AllowTcpIpForwardAsync(Context, address, port, cancellationToken).ConfigureAwait(false))
        {
            refusal = "the handler did not allow it";
        }

        if (refusal is not null)
        {
            Logger.LogInformation("tcpip-forward {Address}:{Port} refused for {User}: {Reason}", address, port, Context.User.UserName, refusal);
            return null;
        }

        int? bound = await _forwards!.StartAsync(address, port, cancellationToken).ConfigureAwait(false);
        if (bound is not int boundPort)
        {
            return null;
        }

        // RFC 4254 §7.1: the port the server chose is the answer's data when the client asked for port 0.
        return port == 0 ? SessionWire.WriteBoundPort(boundPort) : [];
    }
}
