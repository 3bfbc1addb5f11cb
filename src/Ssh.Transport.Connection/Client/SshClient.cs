using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ssh.Transport.Connection;

/// <summary>
/// An SSH client connection: connected, the server's host key verified, the user authenticated, and the connection
/// protocol (RFC 4254) running in the background. Run commands, open sessions and tunnels, forward ports.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="ConnectAsync(SshClientSettings, CancellationToken)"/> does what ssh does before the prompt: TCP,
/// the transport handshake with host key verification (known_hosts by default), user authentication (publickey with
/// the given keys and then the agent's, password, keyboard-interactive). From then on one background loop reads the
/// connection and serves every channel; each session or tunnel is a channel whose pipes the application reads and
/// writes on tasks of its own. The members are safe to call from several threads at once.
/// </para>
/// <para>
/// <see cref="Completion"/> says how the connection ended. Disposing sends a DISCONNECT and ends every channel.
/// </para>
/// </remarks>
public sealed partial class SshClient : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _maxCapturedOutputBytes;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly KeepAliveMonitor? _keepAlive;
    private readonly Task _loop;
    private SshProtocolException? _failure;
    private int _disposed;

    private SshClient(SshTransport transport, SshAuthenticatedUser user, SshClientSettings settings, ILogger logger)
    {
        Transport = transport;
        User = user;
        _logger = logger;
        _time = settings.TimeProvider;
        _maxCapturedOutputBytes = settings.MaxCapturedOutputBytes;
        SshChannelOptions channels = settings.ChannelOptions;
        Connection = new SshConnection(transport, new SshChannelOptions
        {
            WindowSize = channels.WindowSize,
            MaxPacketSize = channels.MaxPacketSize,
            MaxChannels = channels.MaxChannels,
            MaxWindowSize = channels.MaxWindowSize,
            MaxConnectionWindowSize = channels.MaxConnectionWindowSize,
        })
        {
            TimeProvider = _time,
            ChannelOpenHandler = OnChannelOpenAsync,
        };
        _loop = RunAsync();
        if (settings.KeepAliveInterval > TimeSpan.Zero)
        {
            _keepAlive = new KeepAliveMonitor(this, settings.KeepAliveInterval, settings.KeepAliveCountMax, _time, logger);
        }
    }

    /// <summary>The transport underneath: algorithms, host key, counters, events.</summary>
    public SshTransport Transport { get; }

    /// <summary>The connection protocol underneath, for channel types and requests this class does not cover.</summary>
    public SshConnection Connection { get; }

    /// <summary>Who is logged in, by which methods, with which key.</summary>
    public SshAuthenticatedUser User { get; }

    /// <summary>
    /// Completes when the connection has ended: successfully after a normal end (a DISCONNECT by application from
    /// either side, the server closing the connection, <see cref="DisconnectAsync"/> or disposal); faulted with the
    /// reason otherwise, e.g. <see cref="SshTimeoutException"/> (<see cref="SshTimeoutKind.KeepAlive"/>) when the
    /// server stopped answering, <see cref="SshPeerDisconnectedException"/>, or the <see cref="SshProtocolException"/>
    /// of a broken connection.
    /// </summary>
    public Task Completion => _completion.Task;

    /// <summary>True until the connection has ended.</summary>
    public bool IsConnected => !_completion.Task.IsCompleted;

    /// <summary>Keepalives sent and answered (for tests).</summary>
    internal KeepAliveMonitor? KeepAlive => _keepAlive;

    /// <summary>Connects, verifies the server's host key, authenticates the user and starts the connection protocol.</summary>
    /// <param name="settings">The server, the user, the credentials; checked with <see cref="SshClientSettings.Validate"/>.</param>
    /// <param name="cancellationToken">Cancels connecting (the connection is then closed).</param>
    /// <returns>The connected client; dispose it to disconnect.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="settings"/> is null.</exception>
    /// <exception cref="ArgumentException">The settings are not valid.</exception>
    /// <exception cref="IOException">A key file cannot be read.</exception>
    /// <exception cref="FormatException">A key file is not a private key.</exception>
    /// <exception cref="SshKeyPassphraseException">An encrypted key file's passphrase is missing or wrong.</exception>
    /// <exception cref="SocketException">The TCP connection failed (e.g. refused, or the host name is unknown).</exception>
    /// <exception cref="TimeoutException">The TCP connection took longer than <see cref="SshClientSettings.ConnectTimeout"/>.</exception>
    /// <exception cref="SshHostKeyRejectedException">The server's host key is not trusted (unknown, changed or revoked in known_hosts).</exception>
    /// <exception cref="SshAuthenticationException">
    /// The server accepted none of the credentials; the message and <see cref="SshAuthenticationException.AllowedMethods"/>
    /// say which methods it would accept.
    /// </exception>
    /// <exception cref="SshTimeoutException">The handshake or authentication took too long.</exception>
    /// <exception cref="SshProtocolException">The handshake failed, or the server broke the protocol.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<SshClient> ConnectAsync(SshClientSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        ILoggerFactory? loggerFactory = settings.LoggerFactory ?? settings.TransportOptions.LoggerFactory;
        ILogger logger = (ILogger?)loggerFactory?.CreateLogger<SshClient>() ?? NullLogger.Instance;
        TimeProvider time = settings.TimeProvider;
        string host = settings.Host;
        int port = settings.Port;

        SshClientOptions options = TransportOptionsCopy.Create(settings.TransportOptions);
        options.HostKeyVerifier = ChooseHostKeyVerifier(settings);
        if (settings.HostKeyVerifier is null && !settings.AcceptAnyHostKey && File.Exists(settings.KnownHostsFile))
        {
            // As ssh: with an @cert-authority line for the host, certificate host key algorithms first.
            options.PreferHostCertificates ??= KnownHostsVerifier.Load(settings.KnownHostsFile).HasCertificateAuthority(host, port);
        }

        options.LoggerFactory ??= settings.LoggerFactory;
        if (options.Packetizer is { } packetizer && ReferenceEquals(packetizer.TimeProvider, TimeProvider.System))
        {
            packetizer.TimeProvider = time;
        }

        var auth = new SshClientAuthenticationOptions
        {
            UserName = settings.UserName,
            Password = settings.Password,
            UseAgent = settings.UseAgent,
            AgentSocketPath = settings.AgentSocketPath,
            BannerReceived = settings.BannerReceived,
            Logger = loggerFactory?.CreateLogger("Ssh.Transport.Connection.Authentication"),
        };
        foreach (SshPrivateKey key in settings.PrivateKeys)
        {
            auth.PrivateKeys.Add(key);
        }

        // Key files are read before anything goes on the wire: a wrong passphrase is the caller's to fix first.
        List<SshPrivateKey> loaded = [];
        try
        {
            foreach (string file in settings.PrivateKeyFiles)
            {
                SshPrivateKey key = SshPrivateKey.Load(file, settings.PrivateKeyPassphrase);
                loaded.Add(key);
                auth.PrivateKeys.Add(key);
            }

            Socket socket = await ConnectSocketAsync(host, port, settings.ConnectTimeout, time, cancellationToken).ConfigureAwait(false);
            SshTransport transport;
            try
            {
                transport = await SshTransport.ConnectAsync(SshClientConnector.CreatePipe(socket), options, socket.LocalEndPoint, socket.RemoteEndPoint, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            logger.LogInformation("Connected to {Host}:{Port} ({Identification}), {Algorithms}", host, port, transport.RemoteIdentification, transport.Algorithms);
            SshAuthenticatedUser user = await AuthenticateAsync(transport, auth, settings.AuthenticationTimeout, time, cancellationToken).ConfigureAwait(false);
            return new SshClient(transport, user, settings, logger);
        }
        finally
        {
            foreach (SshPrivateKey key in loaded)
            {
                key.Dispose();
            }
        }
    }

    /// <summary>
    /// Measures the round-trip time to the server with OpenSSH's transport-level ping (SSH2_MSG_PING and PONG,
    /// "ping@openssh.com", OpenSSH 9.5 and later): see <see cref="SshTransport.PingAsync"/>. Unlike a keepalive global
    /// request it involves no channel or request handling on the server, only its transport.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The round-trip time, on the transport's clock (<see cref="SshClientSettings.TimeProvider"/> unless the transport options name another).</returns>
    /// <exception cref="NotSupportedException">The server does not offer ping@openssh.com (<see cref="SshTransport.IsPingSupported"/>).</exception>
    /// <exception cref="SshProtocolException">The connection has ended, or ended before the answer.</exception>
    /// <exception cref="ObjectDisposedException">The client has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfEnded();
        return Transport.PingAsync(cancellationToken);
    }

    /// <summary>
    /// Sends SSH_MSG_DISCONNECT (by application) and waits for the connection to end; the channels still open end
    /// with it. Does nothing once the connection has ended.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for the end.</param>
    public async Task DisconnectAsync(CancellationToken cancellationToken = default)
    {
        _keepAlive?.Dispose();
        await Transport.DisconnectAsync(SshDisconnectReason.ByApplication, "disconnected by the client", cancellationToken).ConfigureAwait(false);
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Disconnects (see <see cref="DisconnectAsync"/>) and releases the connection, its channels and forwards.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _keepAlive?.Dispose();
        await StopForwardingAsync().ConfigureAwait(false);
        try
        {
            await Transport.DisconnectAsync(SshDisconnectReason.ByApplication, "disconnected by the client", CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection is already gone.
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        await Connection.DisposeAsync().ConfigureAwait(false);
        await Transport.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>
    /// Ends the connection for a failure the client found (the keepalive deadline): <see cref="Completion"/> faults
    /// with it, the server gets a DISCONNECT with its reason.
    /// </summary>
    internal async Task FailAsync(SshProtocolException error)
    {
        if (Interlocked.CompareExchange(ref _failure, error, null) is not null || _completion.Task.IsCompleted)
        {
            return;
        }

        _logger.LogWarning("Connection failed: {Message}", error.Message);
        try
        {
            await Transport.DisconnectAsync(error.Reason, error.Message, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // Gone already; the loop ends either way.
        }
    }

    /// <summary>The error for a call made once the connection has ended.</summary>
    internal Exception EndedError()
    {
        if (_disposed != 0)
        {
            return new ObjectDisposedException(nameof(SshClient));
        }

        Exception? cause = _failure ?? (_completion.Task.IsFaulted ? _completion.Task.Exception?.InnerException : null);
        return cause as SshProtocolException ?? new SshProtocolException(SshDisconnectReason.ConnectionLost, "The connection has ended.", cause);
    }

    /// <summary>What ended the connection, when it failed (null after a normal end or while it runs).</summary>
    internal Exception? Failure => _failure ?? (_completion.Task.IsFaulted ? _completion.Task.Exception?.InnerException : null);

    internal void ThrowIfEnded()
    {
        if (_disposed != 0 || _completion.Task.IsCompleted)
        {
            throw EndedError();
        }
    }

    internal TimeProvider Time => _time;

    internal ILogger Logger => _logger;

    private static SshHostKeyVerifier ChooseHostKeyVerifier(SshClientSettings settings)
    {
        if (settings.HostKeyVerifier is { } custom)
        {
            return custom;
        }

        if (settings.AcceptAnyHostKey)
        {
            return static (_, _) => ValueTask.FromResult(true);
        }

        string file = settings.KnownHostsFile;
        string host = settings.Host;
        int port = settings.Port;
        TimeProvider time = settings.TimeProvider;
        return (key, _) =>
        {
            KnownHostsVerifier known = File.Exists(file) ? KnownHostsVerifier.Load(file) : new KnownHostsVerifier();
            known.TimeProvider = time;
            KnownHostsResult result = known.Verify(host, port, key);
            if (result == KnownHostsResult.Trusted)
            {
                return ValueTask.FromResult(true);
            }

            string name = port == SshClientSettings.DefaultPort ? host : $"[{host}]:{port}";
            string why = result switch
            {
                KnownHostsResult.Changed => $"THE HOST KEY OF {name} HAS CHANGED: {file} lists another {key.KeyType} key for it. Someone may be intercepting the connection; if the change is expected, remove the old line.",
                KnownHostsResult.Revoked => $"The host key of {name} is marked @revoked in {file}.",
                KnownHostsResult.Unknown => $"The host key of {name} is not in {file}; add it (e.g. with ssh-keyscan, after checking its fingerprint) or set a verifier.",
                _ => $"The host certificate of {name} is refused ({result}) by the @cert-authority lines of {file}: CA {key.Certificate?.CertificateAuthority.KeyType} {key.Certificate?.CertificateAuthority.GetFingerprint()}, principals {string.Join(",", key.Certificate?.Principals ?? [])}, valid {key.Certificate?.ValidAfter:u} to {key.Certificate?.ValidBefore:u}.",
            };
            throw new SshHostKeyRejectedException(key, result, $"{why} The server's key: {key.KeyType} {key.GetFingerprint()}.");
        };
    }

    private static async Task<Socket> ConnectSocketAsync(string host, int port, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            await socket.ConnectAsync(host, port, linked.Token).ConfigureAwait(false);
            return socket;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"Connecting to {host}:{port} took longer than {timeout}.");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<SshAuthenticatedUser> AuthenticateAsync(
        SshTransport transport, SshClientAuthenticationOptions auth, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            return await SshClientAuthentication.AuthenticateAsync(transport, auth, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            string text = $"User authentication of '{auth.UserName}' did not complete within {timeout}";
            await DisconnectQuietlyAsync(transport, SshDisconnectReason.ConnectionLost, text).ConfigureAwait(false);
            throw new SshTimeoutException(SshTimeoutKind.Authentication, timeout, SshDisconnectReason.ConnectionLost, text + ".");
        }
        catch (SshAuthenticationException)
        {
            await DisconnectQuietlyAsync(transport, SshDisconnectReason.NoMoreAuthMethodsAvailable, "no more authentication methods").ConfigureAwait(false);
            throw;
        }
        catch
        {
            await DisconnectQuietlyAsync(transport, SshDisconnectReason.ByApplication, "authentication did not complete").ConfigureAwait(false);
            throw;
        }
    }

    private static async Task DisconnectQuietlyAsync(SshTransport transport, SshDisconnectReason reason, string text)
    {
        try
        {
            await transport.DisconnectAsync(reason, text, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection is gone already.
        }
        finally
        {
            await transport.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The connection protocol's loop, for the life of the connection; then <see cref="Completion"/>.</summary>
    private async Task RunAsync()
    {
        Exception? loopError = null;
        try
        {
            await Connection.RunAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Disposed.
        }
        catch (Exception e)
        {
            loopError = e;
        }

        _keepAlive?.Dispose();
        Exception? error = _failure;
        if (error is null && Transport.Completion.IsCompleted)
        {
            SshConnectionClosedEventArgs closed = await Transport.Completion.ConfigureAwait(false);
            error = closed.Error;
        }

        error ??= loopError;
        if (error is null)
        {
            _logger.LogInformation("Connection ended");
            _completion.TrySetResult();
        }
        else
        {
            _logger.LogInformation("Connection ended: {Error}", error.Message);
            _completion.TrySetException(error);
            _ = _completion.Task.Exception; // observed: a caller who never looks at Completion is not an unobserved fault
        }

        await StopForwardingAsync().ConfigureAwait(false);
    }
}
