using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Ssh.Transport.Diagnostics;

namespace Ssh.Transport;

/// <summary>
/// An SSH transport-layer connection (RFC 4253), client or server: identification, algorithm negotiation, key
/// exchange, host authentication, service request, and then the messages of the layers above, with rekeying in
/// either direction underneath.
/// </summary>
/// <remarks>
/// <para>
/// The transport owns its receive loop. From the handshake on, one loop reads every packet: transport and
/// key-exchange messages (IGNORE, DEBUG, UNIMPLEMENTED, DISCONNECT, EXT_INFO, SERVICE_*, KEXINIT ... NEWKEYS, and
/// OpenSSH's PING and PONG) are handled there whether or not the consumer is reading, so a key exchange always
/// progresses; messages of the layers above (50 and up) wait for the consumer in <see cref="ReadMessageAsync"/>, each in the buffer it was decrypted into
/// (no copy). The loop reads ahead of the consumer by at most <see cref="SshTransportOptions.MaxBufferedInboundBytes"/>:
/// a consumer that stops reading stops the socket being read.
/// </para>
/// <para>
/// Threading: one consumer reading at a time, any number of concurrent writers. Writes issued during a key exchange
/// (RFC 4253 §7.1) are queued, up to <see cref="SshTransportOptions.MaxQueuedPacketsDuringKeyExchange"/>, and go out
/// right after our NEWKEYS; past that they wait for the exchange, which the loop completes on its own. So a write
/// awaited while handling a message never deadlocks.
/// </para>
/// <para>
/// Memory: a message returned by <see cref="ReadMessageAsync"/> is valid until the next read.
/// </para>
/// </remarks>
public sealed partial class SshTransport : IAsyncDisposable
{
    private readonly SshPacketizer _packetizer;
    private readonly SshTransportOptions _options;
    private readonly SshClientOptions? _clientOptions;
    private readonly SshServerOptions? _serverOptions;
    private readonly ILogger _logger;
    private readonly Dictionary<string, byte[]> _remoteExtensions = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource<SshConnectionClosedEventArgs> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _rekeyTimer;
    private TaskCompletionSource<string>? _serviceAccept;
    private string? _service;
    private int _disposed;
    private int _disconnectSent;

    private SshTransport(IDuplexPipe transport, SshRole role, SshTransportOptions options, EndPoint? localEndPoint, EndPoint? remoteEndPoint)
    {
        _options = options;
        _clientOptions = options as SshClientOptions;
        _serverOptions = options as SshServerOptions;
        _diagnostics = new ConnectionDiagnostics(this, role, options, localEndPoint, remoteEndPoint);
        _logger = _diagnostics.ConnectionLogger;
        _packetizer = new SshPacketizer(transport, role, options.Packetizer, _diagnostics.PacketizerLogger) { SwitchesCompressionAtUserAuthSuccess = true };
        _maxBufferedInboundBytes = options.MaxBufferedInboundBytes;
    }

    /// <summary>
    /// Runs the client side of the handshake over <paramref name="transport"/>: identification, key exchange, host
    /// key verification. Request a service next (<see cref="RequestServiceAsync"/>).
    /// </summary>
    /// <param name="transport">The connection, e.g. from <see cref="SshClientConnector"/> or a Kestrel client.</param>
    /// <param name="options">Client settings; <see cref="SshClientOptions.HostKeyVerifier"/> is required.</param>
    /// <param name="cancellationToken">Cancels the handshake.</param>
    /// <returns>The connected transport.</returns>
    /// <exception cref="ArgumentException"><paramref name="options"/> are not valid (see <see cref="SshTransportOptions.Validate"/>).</exception>
    /// <exception cref="SshAlgorithmNegotiationException">No algorithm in common for some category.</exception>
    /// <exception cref="SshHostKeyRejectedException">The verifier did not accept the server's host key.</exception>
    /// <exception cref="SshTimeoutException">The handshake took longer than <see cref="SshTransportOptions.HandshakeTimeout"/>.</exception>
    /// <exception cref="SshProtocolException">The peer broke the protocol or disconnected.</exception>
    public static Task<SshTransport> ConnectAsync(IDuplexPipe transport, SshClientOptions options, CancellationToken cancellationToken = default) =>
        ConnectAsync(transport, options, localEndPoint: null, remoteEndPoint: null, cancellationToken);

    /// <summary>
    /// Runs the server side of the handshake over <paramref name="transport"/>, e.g. a Kestrel connection's pipe.
    /// </summary>
    /// <param name="transport">The accepted connection.</param>
    /// <param name="options">Server settings; at least one host key is required.</param>
    /// <param name="cancellationToken">Cancels the handshake.</param>
    /// <returns>The connected transport; service requests are answered by its receive loop.</returns>
    /// <exception cref="ArgumentException"><paramref name="options"/> are not valid (see <see cref="SshTransportOptions.Validate"/>).</exception>
    /// <exception cref="SshAlgorithmNegotiationException">No algorithm in common for some category.</exception>
    /// <exception cref="SshTimeoutException">The handshake took longer than <see cref="SshTransportOptions.HandshakeTimeout"/>.</exception>
    /// <exception cref="SshProtocolException">The peer broke the protocol or disconnected.</exception>
    public static Task<SshTransport> AcceptAsync(IDuplexPipe transport, SshServerOptions options, CancellationToken cancellationToken = default) =>
        AcceptAsync(transport, options, localEndPoint: null, remoteEndPoint: null, cancellationToken);

    /// <summary>Which end of the connection this side is.</summary>
    public SshRole Role => _packetizer.Role;

    /// <summary>Our identification line.</summary>
    public string LocalIdentification => _packetizer.LocalIdentification;

    /// <summary>The peer's identification line, e.g. "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3".</summary>
    public string RemoteIdentification => _packetizer.RemoteIdentification ?? string.Empty;

    /// <summary>The session identifier: the exchange hash H of the first key exchange (RFC 4253 §7.2).</summary>
    public ReadOnlyMemory<byte> SessionId => _sessionId;

    /// <summary>The algorithms of the keys in use.</summary>
    public SshAlgorithms Algorithms => _algorithms ?? throw new InvalidOperationException("No key exchange has completed.");

    /// <summary>
    /// The server's host key: verified (client) or ours (server); a host certificate
    /// (<see cref="SshPublicKey.Certificate"/>) when a certificate algorithm was negotiated.
    /// </summary>
    public SshPublicKey HostKey => _hostKey ?? throw new InvalidOperationException("No key exchange has completed.");

    /// <summary>True when strict key exchange (kex-strict-*-v00@openssh.com) is on.</summary>
    public bool IsStrictKeyExchange => _strictKex;

    /// <summary>How many key exchanges have completed, the first one included.</summary>
    public int KeyExchangeCount => Volatile.Read(ref _kexCount);

    /// <summary>True from the first KEXINIT of an exchange (ours or the peer's) until both NEWKEYS have passed.</summary>
    public bool IsKeyExchangeInProgress => Volatile.Read(ref _kexInProgress);

    /// <summary>The RFC 8308 extensions the peer sent (name → value), e.g. "server-sig-algs".</summary>
    public IReadOnlyDictionary<string, byte[]> RemoteExtensions => _remoteExtensions;

    /// <summary>The server-sig-algs extension the server sent (client side), or null.</summary>
    public IReadOnlyList<string>? ServerSignatureAlgorithms =>
        _remoteExtensions.TryGetValue("server-sig-algs", out byte[]? value) ? Encoding.ASCII.GetString(value).Split(',', StringSplitOptions.RemoveEmptyEntries) : null;

    /// <summary>The service accepted: requested by this client, or by the peer of this server.</summary>
    public string? Service => _service;

    /// <summary>Bytes of packets read since the connection started (length fields and MACs included).</summary>
    public long BytesRead => _packetizer.BytesRead;

    /// <summary>Bytes of packets written since the connection started (length fields and MACs included).</summary>
    public long BytesWritten => _packetizer.BytesWritten;

    /// <summary>Packets read since the connection started.</summary>
    public long PacketsRead => _packetizer.PacketsRead;

    /// <summary>Packets written since the connection started.</summary>
    public long PacketsWritten => _packetizer.PacketsWritten;

    /// <summary>The largest payload a message written through this transport may have.</summary>
    public int MaxPayloadLength => _packetizer.MaxPayloadLength;

    /// <summary>The packetizer underneath; the receive loop owns its reading.</summary>
    internal SshPacketizer Packetizer => _packetizer;

    /// <summary>
    /// Raised when a key exchange starts: ours (a rekey limit, <see cref="RekeyAsync"/>, the handshake) or the peer's.
    /// Raised on the receive loop or on the writer that started it; keep handlers short.
    /// </summary>
    public event EventHandler<SshKeyExchangeEventArgs>? KeyExchangeStarted;

    /// <summary>Raised when a key exchange completes (both NEWKEYS passed), with its algorithms and duration.</summary>
    public event EventHandler<SshKeyExchangeEventArgs>? KeyExchangeCompleted;

    /// <summary>Raised once when the connection ends, however it ends; see <see cref="Completion"/>.</summary>
    public event EventHandler<SshConnectionClosedEventArgs>? Closed;

    /// <summary>
    /// Completes when the connection has ended, with who ended it, the reason and, for a failure, the exception. It
    /// never faults.
    /// </summary>
    public Task<SshConnectionClosedEventArgs> Completion => _closed.Task;

    /// <summary>
    /// Writes a message of the layers above. During a key exchange it is queued and goes out right after our NEWKEYS;
    /// with the queue full, it waits for the exchange to end.
    /// </summary>
    /// <typeparam name="TState">The payload writer's state.</typeparam>
    /// <param name="state">Passed to <paramref name="writePayload"/>.</param>
    /// <param name="writePayload">Writes the payload, message number first, into the pipe's memory.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="InvalidOperationException">No key exchange has completed yet.</exception>
    /// <exception cref="SshProtocolException">The connection has ended.</exception>
    public ValueTask WriteMessageAsync<TState>(TState state, SshPayloadWriter<TState> writePayload, CancellationToken cancellationToken = default) =>
        WriteMessageAsync(state, writePayload, payloadSizeHint: 0, cancellationToken);

    /// <summary>
    /// Writes a message of the layers above. During a key exchange it is queued and goes out right after our NEWKEYS;
    /// with the queue full, it waits for the exchange to end.
    /// </summary>
    /// <typeparam name="TState">The payload writer's state.</typeparam>
    /// <param name="state">Passed to <paramref name="writePayload"/>.</param>
    /// <param name="writePayload">Writes the payload, message number first, into the pipe's memory.</param>
    /// <param name="payloadSizeHint">The expected payload size.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="InvalidOperationException">No key exchange has completed yet.</exception>
    /// <exception cref="SshProtocolException">The connection has ended.</exception>
    public ValueTask WriteMessageAsync<TState>(TState state, SshPayloadWriter<TState> writePayload, int payloadSizeHint, CancellationToken cancellationToken = default) =>
        WriteMessageAsync(state, writePayload, payloadSizeHint, flush: true, cancellationToken);

    /// <summary>
    /// As the public overload; with <paramref name="flush"/> false the packet stays in the pipe until a later write
    /// or <see cref="FlushAsync"/> flushes it, so a writer with several packets ready sends them in one go. The
    /// caller must flush before it waits for anything.
    /// </summary>
    internal ValueTask WriteMessageAsync<TState>(TState state, SshPayloadWriter<TState> writePayload, int payloadSizeHint, bool flush, CancellationToken cancellationToken)
    {
        CheckUpperLayerWrite();
        ValueTask<bool> writing;
        try
        {
            writing = _packetizer.WriteGatedAsync(state, writePayload, payloadSizeHint, cancellationToken, flush: flush);
        }
        catch (Exception e) when (IsClosedError(e))
        {
            throw ClosedError(e);
        }

        return AfterUpperLayerWrite(writing, cancellationToken);
    }

    private void CheckUpperLayerWrite()
    {
        if (!_ourNewKeysSent)
        {
            throw new InvalidOperationException("Messages of the layers above may be written only after the first key exchange.");
        }

        ThrowIfClosed();
    }

    /// <summary>Starts the rekey a write reported due; closed-connection errors become <see cref="SshProtocolException"/>.</summary>
    private ValueTask AfterUpperLayerWrite(ValueTask<bool> writing, CancellationToken cancellationToken)
    {
        if (writing.IsCompletedSuccessfully)
        {
            return writing.Result ? StartRekeyFromWriterAsync(cancellationToken) : ValueTask.CompletedTask;
        }

        return AfterWriteAsync(writing, cancellationToken);
    }

    /// <summary>Writes a message of the layers above that the caller already holds.</summary>
    /// <param name="payload">The payload, message number first.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public ValueTask WriteMessageAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        WriteMessageAsync(payload, static (w, p) => w.Write(p.Span), payload.Length, cancellationToken);

    /// <summary>
    /// True while the outbound keys seal faster in batches (<see cref="WriteMessagesAsync"/>): hmac-sha2-256-etm with
    /// AVX-512. Writers batch, and wait for a batch to gather, only then.
    /// </summary>
    internal bool SealsInBatches => _packetizer.State.Outbound.Active.SealsInBatches;

    /// <summary>The fewest messages worth writing as a batch (<see cref="WriteMessagesAsync"/>).</summary>
    internal const int MinBatchMessages = Crypto.Primitives.HmacSha256x16.MinLanesWorthIt;

    /// <summary>The most messages a writer gives <see cref="WriteMessagesAsync"/> at once: one batch of tags.</summary>
    internal const int MaxBatchMessages = Crypto.Primitives.HmacSha256x16.Lanes;

    /// <summary>
    /// Writes <paramref name="count"/> messages whose payloads are all <paramref name="payloadLength"/> bytes, sealed
    /// together where the keys allow it (hmac-sha2-256-etm on AVX-512: the tags sixteen at a time), else one by one;
    /// as <see cref="WriteMessageAsync{TState}(TState, SshPayloadWriter{TState}, int, bool, CancellationToken)"/> otherwise.
    /// </summary>
    internal ValueTask WriteMessagesAsync<TState>(TState state, int count, int payloadLength, SshBatchPayloadWriter<TState> writePayload, bool flush, CancellationToken cancellationToken)
    {
        CheckUpperLayerWrite();
        ValueTask<bool> writing;
        try
        {
            writing = _packetizer.WriteBatchGatedAsync(state, count, payloadLength, writePayload, flush, cancellationToken);
        }
        catch (Exception e) when (IsClosedError(e))
        {
            throw ClosedError(e);
        }

        return AfterUpperLayerWrite(writing, cancellationToken);
    }

    /// <summary>Sends the packets written with flush false.</summary>
    internal async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _packetizer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsClosedError(e))
        {
            throw ClosedError(e);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AfterWriteAsync(ValueTask<bool> writing, CancellationToken cancellationToken)
    {
        bool needRekey;
        try
        {
            needRekey = await writing.ConfigureAwait(false);
        }
        catch (Exception e) when (IsClosedError(e))
        {
            throw ClosedError(e);
        }

        if (needRekey)
        {
            await StartRekeyFromWriterAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask StartRekeyFromWriterAsync(CancellationToken cancellationToken)
    {
        try
        {
            await StartKeyExchangeAsync(SshInitiator.Local, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsClosedError(e))
        {
            throw ClosedError(e);
        }
    }

    /// <summary>Sends SSH_MSG_IGNORE with <paramref name="data"/> (RFC 4253 §11.2); allowed at any time, also during a key exchange.</summary>
    /// <param name="data">Any bytes.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="SshProtocolException">The connection has ended.</exception>
    public async ValueTask SendIgnoreAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        SshWriteResult written;
        try
        {
            written = await _packetizer.WritePacketAsync(data, static (w, d) =>
            {
                var writer = new SshWriter(w);
                writer.WriteByte(SshMessageNumber.Ignore);
                writer.WriteString(d.Span);
            }, data.Length + 5, flush: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsClosedError(e))
        {
            throw ClosedError(e);
        }

        if (written.NeedRekey)
        {
            await StartRekeyFromWriterAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Requests a service (RFC 4253 §10), e.g. "ssh-userauth", and waits for SERVICE_ACCEPT. Client only.
    /// </summary>
    /// <param name="serviceName">The service.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="SshPeerDisconnectedException">The server refused (it disconnects with ServiceNotAvailable).</exception>
    /// <exception cref="SshProtocolException">The server broke the protocol, or the connection ended.</exception>
    public async Task RequestServiceAsync(string serviceName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        if (Role != SshRole.Client)
        {
            throw new InvalidOperationException("Only a client requests a service.");
        }

        var accept = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _serviceAccept, accept, null) is not null)
        {
            throw new InvalidOperationException("A service was already requested.");
        }

        ThrowIfClosed();
        try
        {
            await _packetizer.WriteGatedAsync(serviceName, static (w, name) =>
            {
                var writer = new SshWriter(w);
                writer.WriteByte(SshMessageNumber.ServiceRequest);
                writer.WriteString(name);
            }, serviceName.Length + 9, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsClosedError(e))
        {
            throw ClosedError(e);
        }

        // The receive loop completes it on SERVICE_ACCEPT, or fails it with the connection.
        string accepted = await accept.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (accepted != serviceName)
        {
            var error = new SshProtocolException(SshDisconnectReason.ProtocolError, $"The server accepted service '{accepted}' when '{serviceName}' was requested.");
            await FailAsync(error).ConfigureAwait(false);
            throw error;
        }

        _service = accepted;
    }

    /// <summary>Starts a key exchange now (unless one is in progress) and waits until it completes.</summary>
    /// <param name="cancellationToken">Cancels the wait (not the exchange).</param>
    /// <exception cref="SshProtocolException">The exchange failed, and with it the connection.</exception>
    public async Task RekeyAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        Task done;
        try
        {
            done = await StartKeyExchangeAsync(SshInitiator.Local, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsClosedError(e))
        {
            throw ClosedError(e);
        }

        await done.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Tells the transport user authentication succeeded; see <see cref="SshPacketizer.EnableDelayedCompression"/>.
    /// The transport already switches zlib@openssh.com on at SSH_MSG_USERAUTH_SUCCESS itself (server: after writing
    /// it; client: inbound, as the receive loop reads it); the call makes it certain for the client's writes and is
    /// harmless when repeated.
    /// </summary>
    public void EnableDelayedCompression() => _packetizer.EnableDelayedCompression();

    /// <summary>
    /// Sends SSH_MSG_DISCONNECT (RFC 4253 §11.1) and closes the connection. A read in progress completes with
    /// <see cref="SshPacket.IsCompleted"/>; <see cref="Completion"/> reports a local close with this reason.
    /// </summary>
    /// <remarks>
    /// After the DISCONNECT the receive loop reads on, discarding, until the peer closes its side (at most two
    /// seconds): closing a socket with unread data makes the kernel reset the connection, and the peer could lose the
    /// DISCONNECT and what preceded it.
    /// </remarks>
    /// <param name="reason">The reason code.</param>
    /// <param name="description">A human-readable description.</param>
    /// <param name="cancellationToken">Cancels sending.</param>
    public async ValueTask DisconnectAsync(SshDisconnectReason reason = SshDisconnectReason.ByApplication, string description = "", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(description);
        if (_closed.Task.IsCompleted || _disposed != 0)
        {
            return;
        }

        // Recorded first: the peer's answer to our DISCONNECT (closing its side) must not read as its own ending.
        SetClosed(SshInitiator.Local, reason, description, error: null);
        bool sent = false;
        try
        {
            await SendDisconnectAsync(reason, description, cancellationToken).ConfigureAwait(false);
            sent = true;
        }
        catch (Exception e) when (IsClosedError(e) || e is IOException or SshProtocolException)
        {
            // The connection went down first.
        }

        if (sent && _receiveLoop is { } loop)
        {
            DiscardInbound();
            await Task.WhenAny(loop, Task.Delay(DisconnectDrainTime, CancellationToken.None)).ConfigureAwait(false);
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    private static readonly TimeSpan DisconnectDrainTime = TimeSpan.FromSeconds(2);

    private async ValueTask SendDisconnectAsync(SshDisconnectReason reason, string description, CancellationToken cancellationToken)
    {
        // Not refused after DisposeAsync has begun: it waits for the receive loop, which may be telling the peer why.
        if (Interlocked.Exchange(ref _disconnectSent, 1) != 0)
        {
            return;
        }

        Log.SendingDisconnect(_logger, reason, description);
        await _packetizer.WritePacketAsync((reason, description), static (w, s) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.Disconnect);
            writer.WriteUInt32((uint)s.reason);
            writer.WriteString(s.description);
            writer.WriteString(string.Empty);
        }, 64 + (description.Length * 3), flush: true, cancellationToken).ConfigureAwait(false);
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        _diagnostics.OnHandshakeStarting();
        _packetizer.StartHandshake(_options.HandshakeTimeout);
        try
        {
            await _packetizer.ExchangeIdentificationAsync(cancellationToken).ConfigureAwait(false);
            Task firstExchange = await StartKeyExchangeAsync(SshInitiator.Local, cancellationToken).ConfigureAwait(false);
            _receiveLoop = ReceiveLoopAsync();
            await firstExchange.WaitAsync(cancellationToken).ConfigureAwait(false);
            _packetizer.CompleteHandshake();
        }
        catch (Exception e)
        {
            Exception error = e is OperationCanceledException && cancellationToken.IsCancellationRequested ? e : Normalize(e);
            _diagnostics.OnHandshakeFailed(error);
            if (error is SshProtocolException protocolError)
            {
                await FailAsync(protocolError).ConfigureAwait(false);
            }

            await DisposeAsync().ConfigureAwait(false);
            if (ReferenceEquals(error, e))
            {
                throw;
            }

            throw error;
        }

        _diagnostics.OnHandshakeCompleted();
        if (_options.KeepAliveInterval > TimeSpan.Zero && _options.KeepAliveInterval != Timeout.InfiniteTimeSpan)
        {
            _packetizer.SetKeepAlive(_options.KeepAliveInterval, ct => SendIgnoreAsync(ReadOnlyMemory<byte>.Empty, ct));
        }

        // Time-based rekeying for idle connections: traffic checks the limit on every packet, this covers silence.
        TimeSpan interval = _options.Packetizer.RekeyInterval;
        if (interval > TimeSpan.Zero && interval != Timeout.InfiniteTimeSpan)
        {
            _rekeyTimer = _options.Packetizer.TimeProvider.CreateTimer(static s => ((SshTransport)s!).OnRekeyTimer(), this, interval, interval);
        }
    }

    private void OnRekeyTimer()
    {
        if (_disposed == 0 && !_closed.Task.IsCompleted && _packetizer.NeedRekey)
        {
            _ = StartKeyExchangeQuietlyAsync();
        }
    }

    private async Task StartKeyExchangeQuietlyAsync()
    {
        try
        {
            await StartKeyExchangeAsync(SshInitiator.Local, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or InvalidOperationException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            Log.RekeyStartFailed(KexLogger, e);
        }
    }

    private void ThrowIfClosed()
    {
        if (_closed.Task.IsCompleted)
        {
            throw ClosedError(null);
        }
    }

    private bool IsClosedError(Exception e) =>
        (_closed.Task.IsCompleted || _disposed != 0) && e is SshProtocolException or ObjectDisposedException or IOException or InvalidOperationException or OperationCanceledException;

    /// <summary>The error a call gets once the connection has ended: what ended it, as the inner exception.</summary>
    private SshProtocolException ClosedError(Exception? e)
    {
        Exception? cause = _failure ?? e;
        SshDisconnectReason reason = _closed.Task.IsCompleted ? _closed.Task.Result.Reason : SshDisconnectReason.ConnectionLost;
        string how = _closed.Task.IsCompleted ? _closed.Task.Result.ToString() : "disposed";
        return new SshProtocolException(reason, $"The connection has ended ({how}).", cause);
    }

    /// <summary>Stops the receive loop, completes the pipe, stops timers and zeroes keys. Does not send DISCONNECT; see <see cref="DisconnectAsync"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        SetClosed(SshInitiator.Local, SshDisconnectReason.ByApplication, "disposed", error: null);
        _rekeyTimer?.Dispose();
        StopKeyExchangeTimer();
        var disposed = new ObjectDisposedException(nameof(SshTransport));
        _kexCompletion?.TrySetException(disposed);
        _serviceAccept?.TrySetException(disposed);
        _packetizer.FailHeldWrites(disposed);
        StopReceiving();
        if (_receiveLoop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }

        _agreement?.Dispose();
        await _packetizer.DisposeAsync().ConfigureAwait(false);
        ReleaseInbound();
        _diagnostics.OnDisposed();
    }
}
