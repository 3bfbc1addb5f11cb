using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ssh.Transport;

/// <summary>
/// An SSH transport-layer connection (RFC 4253), client or server: identification, algorithm negotiation, key
/// exchange, host authentication, service request, and then the messages of the layers above, with rekeying in
/// either direction underneath.
/// </summary>
/// <remarks>
/// <para>
/// Threading: one reader, any number of concurrent writers. Transport messages (IGNORE, DEBUG, UNIMPLEMENTED,
/// DISCONNECT, EXT_INFO, SERVICE_*) and every key-exchange message are handled inside
/// <see cref="ReadMessageAsync"/>; only the layers above see what it returns. A key exchange progresses as the
/// reader reads, so keep a read loop running: writes issued between our KEXINIT and our NEWKEYS wait (RFC 4253 §7.1)
/// until that read loop has carried the exchange through.
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
    private ITimer? _rekeyTimer;
    private TaskCompletionSource<string>? _serviceAccept;
    private string? _service;
    private int _disposed;
    private bool _disconnectSent;

    private SshTransport(IDuplexPipe transport, SshRole role, SshTransportOptions options)
    {
        _options = options;
        _clientOptions = options as SshClientOptions;
        _serverOptions = options as SshServerOptions;
        _logger = options.Packetizer.Logger ?? NullLogger.Instance;
        _packetizer = new SshPacketizer(transport, role, options.Packetizer);
    }

    /// <summary>
    /// Runs the client side of the handshake over <paramref name="transport"/>: identification, key exchange, host
    /// key verification. Request a service next (<see cref="RequestServiceAsync"/>).
    /// </summary>
    /// <param name="transport">The connection, e.g. from <see cref="SshClientConnector"/> or a Kestrel client.</param>
    /// <param name="options">Client settings; <see cref="SshClientOptions.HostKeyVerifier"/> is required.</param>
    /// <param name="cancellationToken">Cancels the handshake.</param>
    /// <returns>The connected transport.</returns>
    /// <exception cref="SshProtocolException">The peer broke the protocol, no algorithms matched, or the host key was refused.</exception>
    /// <exception cref="TimeoutException">The handshake took longer than <see cref="SshTransportOptions.HandshakeTimeout"/>.</exception>
    public static async Task<SshTransport> ConnectAsync(IDuplexPipe transport, SshClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);
        if (options.HostKeyVerifier is null)
        {
            throw new ArgumentException("A host key verifier is required; use KnownHostsVerifier, or a callback that decides.", nameof(options));
        }

        var session = new SshTransport(transport, SshRole.Client, options);
        await session.HandshakeAsync(cancellationToken).ConfigureAwait(false);
        return session;
    }

    /// <summary>
    /// Runs the server side of the handshake over <paramref name="transport"/>, e.g. a Kestrel connection's pipe.
    /// </summary>
    /// <param name="transport">The accepted connection.</param>
    /// <param name="options">Server settings; at least one host key is required.</param>
    /// <param name="cancellationToken">Cancels the handshake.</param>
    /// <returns>The connected transport; service requests are answered inside <see cref="ReadMessageAsync"/>.</returns>
    /// <exception cref="SshProtocolException">The peer broke the protocol or no algorithms matched.</exception>
    /// <exception cref="TimeoutException">The handshake took longer than <see cref="SshTransportOptions.HandshakeTimeout"/>.</exception>
    public static async Task<SshTransport> AcceptAsync(IDuplexPipe transport, SshServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);
        if (options.HostKeys.Count == 0)
        {
            throw new ArgumentException("A server needs at least one host key.", nameof(options));
        }

        var session = new SshTransport(transport, SshRole.Server, options);
        await session.HandshakeAsync(cancellationToken).ConfigureAwait(false);
        return session;
    }

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

    /// <summary>The server's host key: verified (client) or ours (server).</summary>
    public SshPublicKey HostKey => _hostKey ?? throw new InvalidOperationException("No key exchange has completed.");

    /// <summary>True when strict key exchange (kex-strict-*-v00@openssh.com) is on.</summary>
    public bool IsStrictKeyExchange => _strictKex;

    /// <summary>How many key exchanges have completed, the first one included.</summary>
    public int KeyExchangeCount => Volatile.Read(ref _kexCount);

    /// <summary>The RFC 8308 extensions the peer sent (name → value), e.g. "server-sig-algs".</summary>
    public IReadOnlyDictionary<string, byte[]> RemoteExtensions => _remoteExtensions;

    /// <summary>The server-sig-algs extension the server sent (client side), or null.</summary>
    public IReadOnlyList<string>? ServerSignatureAlgorithms =>
        _remoteExtensions.TryGetValue("server-sig-algs", out byte[]? value) ? Encoding.ASCII.GetString(value).Split(',', StringSplitOptions.RemoveEmptyEntries) : null;

    /// <summary>The service accepted: requested by this client, or by the peer of this server.</summary>
    public string? Service => _service;

    /// <summary>The packetizer underneath, for its counters and limits.</summary>
    public SshPacketizer Packetizer => _packetizer;

    /// <summary>
    /// Reads the next message of the layers above (message numbers 50 and up), handling every transport and
    /// key-exchange message on the way.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The message, valid until the next read; <see cref="SshPacket.IsCompleted"/> when the peer closed the connection cleanly.</returns>
    /// <exception cref="SshProtocolException">The peer broke the protocol or disconnected; a DISCONNECT has been sent where possible.</exception>
    public ValueTask<SshPacket> ReadMessageAsync(CancellationToken cancellationToken = default)
    {
        ValueTask<SshPacket> reading;
        try
        {
            reading = _packetizer.ReadPacketAsync(cancellationToken);
        }
        catch (SshProtocolException e)
        {
            // A malformed packet found synchronously: tell the peer, like every other failure.
            return ReadFailedAsync(e);
        }

        if (reading.IsCompletedSuccessfully)
        {
            SshPacket packet = reading.Result;
            if (packet.MessageNumber >= 50 && !packet.NeedRekey && _peerNewKeysSeen && !_kexPeerInitReceived)
            {
                // The common case: an upper-layer message, keys in place, nothing to do.
                return new ValueTask<SshPacket>(packet);
            }

            return ReadMessageSlowAsync(packet, cancellationToken);
        }

        return ReadMessageSlowAsync(reading, cancellationToken);
    }

    private async ValueTask<SshPacket> ReadFailedAsync(SshProtocolException error)
    {
        await DisconnectAfterErrorAsync(error).ConfigureAwait(false);
        throw error;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<SshPacket> ReadMessageSlowAsync(ValueTask<SshPacket> reading, CancellationToken cancellationToken)
    {
        SshPacket packet;
        try
        {
            packet = await reading.ConfigureAwait(false);
        }
        catch (SshProtocolException e)
        {
            await DisconnectAfterErrorAsync(e).ConfigureAwait(false);
            throw;
        }

        return await ReadMessageSlowAsync(packet, cancellationToken).ConfigureAwait(false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<SshPacket> ReadMessageSlowAsync(SshPacket packet, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                if (packet.IsCompleted)
                {
                    if (_kexPeerInitReceived || !_peerNewKeysSeen)
                    {
                        throw new SshProtocolException(SshDisconnectReason.ConnectionLost, "The connection closed during a key exchange.");
                    }

                    return packet;
                }

                if (packet.NeedRekey)
                {
                    await StartKeyExchangeAsync(cancellationToken).ConfigureAwait(false);
                }

                if (!await HandleTransportMessageAsync(packet, cancellationToken).ConfigureAwait(false))
                {
                    return packet;
                }

                packet = await _packetizer.ReadPacketAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (SshProtocolException e)
        {
            await DisconnectAfterErrorAsync(e).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Writes a message of the layers above. Between our KEXINIT and our NEWKEYS it waits, then goes out in order.
    /// </summary>
    /// <typeparam name="TState">The payload writer's state.</typeparam>
    /// <param name="state">Passed to <paramref name="writePayload"/>.</param>
    /// <param name="writePayload">Writes the payload, message number first, into the pipe's memory.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="InvalidOperationException">No key exchange has completed yet.</exception>
    public ValueTask WriteMessageAsync<TState>(TState state, SshPayloadWriter<TState> writePayload, CancellationToken cancellationToken = default) =>
        WriteMessageAsync(state, writePayload, payloadSizeHint: 0, cancellationToken);

    /// <summary>
    /// Writes a message of the layers above. Between our KEXINIT and our NEWKEYS it waits, then goes out in order.
    /// </summary>
    /// <typeparam name="TState">The payload writer's state.</typeparam>
    /// <param name="state">Passed to <paramref name="writePayload"/>.</param>
    /// <param name="writePayload">Writes the payload, message number first, into the pipe's memory.</param>
    /// <param name="payloadSizeHint">The expected payload size.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="InvalidOperationException">No key exchange has completed yet.</exception>
    public ValueTask WriteMessageAsync<TState>(TState state, SshPayloadWriter<TState> writePayload, int payloadSizeHint, CancellationToken cancellationToken = default)
    {
        if (!_ourNewKeysSent)
        {
            throw new InvalidOperationException("Messages of the layers above may be written only after the first key exchange.");
        }

        ValueTask<SshWriteResult> writing = _packetizer.WriteGatedAsync(state, writePayload, payloadSizeHint, cancellationToken);
        if (writing.IsCompletedSuccessfully)
        {
            return writing.Result.NeedRekey ? new ValueTask(StartKeyExchangeAsync(cancellationToken)) : ValueTask.CompletedTask;
        }

        return AfterWriteAsync(writing, cancellationToken);
    }

    /// <summary>Writes a message of the layers above that the caller already holds.</summary>
    /// <param name="payload">The payload, message number first.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public ValueTask WriteMessageAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        WriteMessageAsync(payload, static (w, p) => w.Write(p.Span), payload.Length, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AfterWriteAsync(ValueTask<SshWriteResult> writing, CancellationToken cancellationToken)
    {
        SshWriteResult written = await writing.ConfigureAwait(false);
        if (written.NeedRekey)
        {
            await StartKeyExchangeAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends SSH_MSG_IGNORE with <paramref name="data"/> (RFC 4253 §11.2); allowed at any time.</summary>
    /// <param name="data">Any bytes.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public async ValueTask SendIgnoreAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        SshWriteResult written = await _packetizer.WritePacketAsync(data, static (w, d) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.Ignore);
            writer.WriteString(d.Span);
        }, data.Length + 5, flush: true, cancellationToken).ConfigureAwait(false);
        if (written.NeedRekey)
        {
            await StartKeyExchangeAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Requests a service (RFC 4253 §10), e.g. "ssh-userauth", and waits for SERVICE_ACCEPT. Client only; call it
    /// before starting a read loop, since it reads until the answer arrives.
    /// </summary>
    /// <param name="serviceName">The service.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="SshProtocolException">The server refused (it disconnects with ServiceNotAvailable) or broke the protocol.</exception>
    public async Task RequestServiceAsync(string serviceName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        if (Role != SshRole.Client)
        {
            throw new InvalidOperationException("Only a client requests a service.");
        }

        _serviceAccept = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _packetizer.WriteGatedAsync(serviceName, static (w, name) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.ServiceRequest);
            writer.WriteString(name);
        }, serviceName.Length + 9, cancellationToken).ConfigureAwait(false);

        try
        {
            // Read (handling EXT_INFO, IGNORE, rekeys...) until the answer; nothing of the layers above may come first.
            await ReadTransportMessagesUntilAsync(static t => t._serviceAccept!.Task.IsCompleted, "before SERVICE_ACCEPT", cancellationToken).ConfigureAwait(false);
        }
        catch (SshProtocolException e)
        {
            await DisconnectAfterErrorAsync(e).ConfigureAwait(false);
            throw;
        }

        string accepted = await _serviceAccept.Task.ConfigureAwait(false);
        if (accepted != serviceName)
        {
            var error = new SshProtocolException(SshDisconnectReason.ProtocolError, $"The server accepted service '{accepted}' when '{serviceName}' was requested.");
            await DisconnectAfterErrorAsync(error).ConfigureAwait(false);
            throw error;
        }

        _service = accepted;
    }

    /// <summary>
    /// Starts a key exchange now and waits until it completes. The read loop must keep running meanwhile.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (not the exchange).</param>
    public async Task RekeyAsync(CancellationToken cancellationToken = default)
    {
        Task done = await StartKeyExchangeAsync(cancellationToken).ConfigureAwait(false);
        await done.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Tells the transport user authentication succeeded; see <see cref="SshPacketizer.EnableDelayedCompression"/>.</summary>
    public void EnableDelayedCompression() => _packetizer.EnableDelayedCompression();

    /// <summary>Sends SSH_MSG_DISCONNECT (RFC 4253 §11.1) and closes the connection.</summary>
    /// <param name="reason">The reason code.</param>
    /// <param name="description">A human-readable description.</param>
    /// <param name="cancellationToken">Cancels sending.</param>
    public async ValueTask DisconnectAsync(SshDisconnectReason reason = SshDisconnectReason.ByApplication, string description = "", CancellationToken cancellationToken = default)
    {
        await SendDisconnectAsync(reason, description, cancellationToken).ConfigureAwait(false);
        await DisposeAsync().ConfigureAwait(false);
    }

    private async ValueTask SendDisconnectAsync(SshDisconnectReason reason, string description, CancellationToken cancellationToken)
    {
        if (_disconnectSent || _disposed != 0)
        {
            return;
        }

        _disconnectSent = true;
        await _packetizer.WritePacketAsync((reason, description), static (w, s) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.Disconnect);
            writer.WriteUInt32((uint)s.reason);
            writer.WriteString(s.description);
            writer.WriteString(string.Empty);
        }, 64 + description.Length * 3, flush: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Tells the peer why we hang up, if we still can; never throws.</summary>
    private async ValueTask DisconnectAfterErrorAsync(SshProtocolException error)
    {
        if (_peerDisconnected || error.Reason is SshDisconnectReason.ConnectionLost or SshDisconnectReason.None)
        {
            return;
        }

        Log.SendingDisconnect(_logger, error.Reason, error.Message);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await SendDisconnectAsync(error.Reason, error.Message, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or OperationCanceledException or InvalidOperationException or ObjectDisposedException or IOException)
        {
            // The connection is going down anyway.
        }
    }

    /// <summary>
    /// Reads and handles transport and key-exchange messages until <paramref name="done"/> holds; any message of the
    /// layers above, or the end of the connection, is an error <paramref name="when"/>.
    /// </summary>
    private async ValueTask ReadTransportMessagesUntilAsync(Func<SshTransport, bool> done, string when, CancellationToken cancellationToken)
    {
        while (!done(this))
        {
            SshPacket packet = await _packetizer.ReadPacketAsync(cancellationToken).ConfigureAwait(false);
            if (packet.IsCompleted)
            {
                throw new SshProtocolException(SshDisconnectReason.ConnectionLost, $"The connection closed {when}.");
            }

            if (packet.NeedRekey)
            {
                await StartKeyExchangeAsync(cancellationToken).ConfigureAwait(false);
            }

            if (!await HandleTransportMessageAsync(packet, cancellationToken).ConfigureAwait(false))
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Unexpected {SshMessageNumber.GetName(packet.MessageNumber)} ({packet.MessageNumber}) {when}.");
            }
        }
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        _packetizer.StartHandshake(_options.HandshakeTimeout);
        try
        {
            await _packetizer.ExchangeIdentificationAsync(cancellationToken).ConfigureAwait(false);
            await StartKeyExchangeAsync(cancellationToken).ConfigureAwait(false);
            await ReadTransportMessagesUntilAsync(static t => t._peerNewKeysSeen && t._ourNewKeysSent && !t._kexPeerInitReceived, "during the first key exchange", cancellationToken).ConfigureAwait(false);

            _packetizer.CompleteHandshake();
        }
        catch (SshProtocolException e)
        {
            await DisconnectAfterErrorAsync(e).ConfigureAwait(false);
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }
        catch
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }

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
        if (_disposed == 0 && _packetizer.NeedRekey)
        {
            _ = StartKeyExchangeQuietlyAsync();
        }
    }

    private async Task StartKeyExchangeQuietlyAsync()
    {
        try
        {
            await StartKeyExchangeAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or InvalidOperationException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            Log.RekeyStartFailed(_logger, e);
        }
    }

    /// <summary>Completes the pipe, stops timers and zeroes keys. Does not send DISCONNECT; see <see cref="DisconnectAsync"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _rekeyTimer?.Dispose();
        _kexCompletion?.TrySetException(new ObjectDisposedException(nameof(SshTransport)));
        _serviceAccept?.TrySetException(new ObjectDisposedException(nameof(SshTransport)));
        _agreement?.Dispose();
        await _packetizer.DisposeAsync().ConfigureAwait(false);
        _kexMutex.Dispose();
    }
}
