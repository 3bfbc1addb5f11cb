using System.Text;

namespace Ssh.Transport.Connection;

/// <summary>
/// The connection protocol (RFC 4254) over an authenticated <see cref="SshTransport"/>, for either role: channels
/// multiplexed on the connection, each an <see cref="SshChannel"/> (a duplex pipe whose windows are its
/// backpressure), global requests, channel requests.
/// </summary>
/// <remarks>
/// <see cref="RunAsync"/> is the connection's message loop: it reads the transport and dispatches every message by
/// channel. Keep it running for the life of the connection; serve each channel on a task of its own. Handlers
/// (<see cref="ChannelOpenHandler"/>, <see cref="GlobalRequestHandler"/>, <see cref="SshChannel.RequestHandler"/>)
/// run on the loop: keep them short (decide, start work elsewhere). A channel-open handler that awaits (connecting to
/// a forwarding target, say) does not hold the loop: the answer goes out when it has decided, and the loop reads on.
/// </remarks>
public sealed class SshConnection : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, SshChannel> _channels = [];
    private readonly Dictionary<uint, TaskCompletionSource<SshChannel>> _pendingOpens = [];
    private readonly Queue<TaskCompletionSource<byte[]?>> _pendingGlobalRequests = new();
    private readonly CancellationTokenSource _stop = new();
    private uint _nextId;
    private int _openDecisions;
    private bool _ended;
    private long _totalWindow;
    private long _minRoundTripTicks;
    private int _roundTripProbe;
    private Exception? _deferredFailure;

    /// <summary>Creates the connection layer over a transport whose user authentication has succeeded.</summary>
    /// <param name="transport">The transport; the connection reads it from now on.</param>
    /// <param name="options">Window and channel limits; null for defaults.</param>
    public SshConnection(SshTransport transport, SshChannelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        Transport = transport;
        Options = options ?? new SshChannelOptions();
        Options.Validate();
    }

    /// <summary>The transport underneath.</summary>
    public SshTransport Transport { get; }

    /// <summary>Decides channels the peer opens; without one, every open is refused.</summary>
    public SshChannelOpenHandler? ChannelOpenHandler { get; set; }

    /// <summary>
    /// Answers the peer's global requests; without one (or for names it returns null for) the answer is
    /// REQUEST_FAILURE, which is also OpenSSH's answer to keepalive@openssh.com: any answer proves liveness.
    /// </summary>
    public SshGlobalRequestHandler? GlobalRequestHandler { get; set; }

    internal SshChannelOptions Options { get; }

    /// <summary>The clock of window tuning (the client's or server's settings set it; the system clock otherwise).</summary>
    internal TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// How long a channel carries data before its window may grow: rates measured while a process warms up (its code
    /// compiled to the faster tier after 100 ms of calls) rise for reasons other than the window. Tests set zero.
    /// </summary>
    internal TimeSpan WindowGrowthDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The smallest round trip measured on this connection, or null before the first measurement.</summary>
    internal TimeSpan? MinRoundTrip => Volatile.Read(ref _minRoundTripTicks) is > 0 and long ticks ? TimeSpan.FromTicks(ticks) : null;

    /// <summary>The windows all open channels grant now, together.</summary>
    internal long TotalWindow
    {
        get
        {
            lock (_lock)
            {
                return _totalWindow;
            }
        }
    }

    /// <summary>Called on the loop after a channel request has been answered (its reply, if any, is on its way).</summary>
    internal Action<SshChannel>? ChannelRequestAnswered { get; set; }

    /// <summary>
    /// Reads and dispatches messages until the connection ends. Returns when the peer disconnected normally;
    /// channels still open then end too.
    /// </summary>
    /// <param name="cancellationToken">Stops the loop (the connection is not closed).</param>
    /// <exception cref="SshProtocolException">The peer broke the connection protocol (a DISCONNECT is sent) or the transport failed.</exception>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        using CancellationTokenSource linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        CancellationToken token = linked.Token;
        Exception? error = null;
        try
        {
            while (true)
            {
                SshPacket message = await Transport.ReadMessageAsync(token).ConfigureAwait(false);
                if (message.IsCompleted)
                {
                    ThrowIfDeferredFailure();
                    return;
                }

                await DispatchAsync(message.Payload, token).ConfigureAwait(false);
            }
        }
        catch (SshProtocolException e) when (!Transport.Completion.IsCompleted)
        {
            // Our side found the violation: tell the peer, as the transport does for its own.
            error = e;
            await Transport.DisconnectAsync(e.Reason, e.Message, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        catch (OperationCanceledException) when (Volatile.Read(ref _deferredFailure) is { } failure && !cancellationToken.IsCancellationRequested)
        {
            // A deferred channel-open handler failed and stopped the loop: its error is the connection's.
            error = failure;
            ThrowIfDeferredFailure();
            throw;
        }
        catch (Exception e)
        {
            error = e;
            throw;
        }
        finally
        {
            EndAll(error);
        }
    }

    /// <summary>Opens a channel (RFC 4254 §5.1) and waits for the peer's confirmation.</summary>
    /// <typeparam name="TState">The data writer's state.</typeparam>
    /// <param name="type">The channel type, e.g. "session" or "direct-tcpip".</param>
    /// <param name="state">Passed to <paramref name="writeData"/>.</param>
    /// <param name="writeData">Writes the type-specific data (e.g. direct-tcpip's host and ports); null for none.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The open channel.</returns>
    /// <exception cref="SshChannelOpenException">The peer refused.</exception>
    public async Task<SshChannel> OpenChannelAsync<TState>(string type, TState state, SshDataWriter<TState>? writeData, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        SshChannel channel = CreateChannel(type) ?? throw new InvalidOperationException($"No more than {Options.MaxChannels} channels may be open at once.");
        var opened = new TaskCompletionSource<SshChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _pendingOpens[channel.LocalId] = opened;
        }

        await Transport.WriteMessageAsync((type, channel.LocalId, Options, state, writeData), static (buffer, s) =>
        {
            var writer = new SshWriter(buffer);
            writer.WriteByte(SshMessageNumber.ChannelOpen);
            writer.WriteString(s.type);
            writer.WriteUInt32(s.LocalId);
            writer.WriteUInt32((uint)s.Options.WindowSize);
            writer.WriteUInt32((uint)s.Options.MaxPacketSize);
            s.writeData?.Invoke(ref writer, s.state);
        }, cancellationToken).ConfigureAwait(false);
        return await opened.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens a channel without type-specific data, e.g. "session".</summary>
    /// <param name="type">The channel type.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The open channel.</returns>
    public Task<SshChannel> OpenChannelAsync(string type, CancellationToken cancellationToken = default) =>
        OpenChannelAsync<object?>(type, null, null, cancellationToken);

    /// <summary>Sends a global request (RFC 4254 §4) and, if <paramref name="wantReply"/>, waits for the answer.</summary>
    /// <typeparam name="TState">The data writer's state.</typeparam>
    /// <param name="name">The request name, e.g. "tcpip-forward" or "keepalive@openssh.com".</param>
    /// <param name="wantReply">Whether to ask for an answer.</param>
    /// <param name="state">Passed to <paramref name="writeData"/>.</param>
    /// <param name="writeData">Writes the request-specific data; null for none.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Null for REQUEST_FAILURE; the data of REQUEST_SUCCESS otherwise (empty when no reply was asked for).</returns>
    public async Task<byte[]?> SendGlobalRequestAsync<TState>(string name, bool wantReply, TState state, SshDataWriter<TState>? writeData, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        TaskCompletionSource<byte[]?>? reply = null;
        if (wantReply)
        {
            reply = new TaskCompletionSource<byte[]?>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                _pendingGlobalRequests.Enqueue(reply);
            }
        }

        await Transport.WriteMessageAsync((name, wantReply, state, writeData), static (buffer, s) =>
        {
            var writer = new SshWriter(buffer);
            writer.WriteByte(SshMessageNumber.GlobalRequest);
            writer.WriteString(s.name);
            writer.WriteBoolean(s.wantReply);
            s.writeData?.Invoke(ref writer, s.state);
        }, cancellationToken).ConfigureAwait(false);
        return reply is null ? [] : await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the loop and ends every channel; the transport is the caller's to dispose.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        EndAll(null);
        _stop.Dispose();
    }

    /// <summary>Allocates the next free channel number after the last one given, or null when <see cref="SshChannelOptions.MaxChannels"/> are open.</summary>
    /// <param name="type">The channel type.</param>
    /// <param name="reservation">A peer's open whose decision holds a slot (see <see cref="OnChannelOpenAsync"/>): the channel
    /// takes that slot over, in the same step, so that handlers accepting at once never count one slot twice.</param>
    internal SshChannel? CreateChannel(string type, SshChannelOpenRequest? reservation = null)
    {
        lock (_lock)
        {
            // Open channels plus peers' opens still being decided never exceed MaxChannels, so a handler's Accept
            // always finds a number.
            bool reserved = reservation is { HoldsDecisionSlot: true };
            if (_ended || _channels.Count + _openDecisions - (reserved ? 1 : 0) >= Options.MaxChannels)
            {
                return null;
            }

            if (reserved)
            {
                reservation!.HoldsDecisionSlot = false;
                _openDecisions--;
            }

            while (_channels.ContainsKey(_nextId))
            {
                _nextId++;
            }

            var channel = new SshChannel(this, _nextId++, type);
            _channels.Add(channel.LocalId, channel);
            _totalWindow += Options.WindowSize;
            return channel;
        }
    }

    /// <summary>
    /// How much a channel's window changes at a window adjust: <paramref name="target"/> is its window,
    /// <paramref name="epoch"/> the time since its previous adjust (in which half the window was consumed), and
    /// <paramref name="unread"/> what the application has not read yet. Grows (doubles) when half the window went by
    /// within two round trips, so that the window tracks twice the bandwidth-delay product, within
    /// <see cref="SshChannelOptions.MaxWindowSize"/> and <see cref="SshChannelOptions.MaxConnectionWindowSize"/>;
    /// halves (not below <see cref="SshChannelOptions.WindowSize"/>) when the application is the bottleneck (slower
    /// than that, with a quarter of the window still unread).
    /// </summary>
    internal long ResizeReceiveWindow(long target, TimeSpan epoch, long unread, bool mayGrow = true)
    {
        TimeSpan? roundTrip = MinRoundTrip;
        bool quick = roundTrip is { } rtt && epoch < 2 * rtt;

        // Slow (more than two round trips for half a window) with a quarter of the window still unread: the reader,
        // not the path, limits the rate.
        if (!quick && unread >= target / 4)
        {
            long shrink = target - Math.Max(Options.WindowSize, target / 2);
            if (shrink > 0)
            {
                lock (_lock)
                {
                    _totalWindow -= shrink;
                }
            }

            return -shrink;
        }

        if (target >= Options.MaxWindowSize)
        {
            return 0;
        }

        if (roundTrip is null)
        {
            StartRoundTripProbe();
            return 0;
        }

        if (!mayGrow)
        {
            return 0;
        }

        if (!quick)
        {
            return 0;
        }

        lock (_lock)
        {
            long grow = Math.Min(Math.Min(target, Options.MaxWindowSize - target), Options.MaxConnectionWindowSize - _totalWindow);
            if (grow <= 0 || _ended)
            {
                return 0;
            }

            _totalWindow += grow;
            return grow;
        }
    }

    /// <summary>Window a channel no longer grants (it ended, or gave back a growth that did not pay) leaves the connection's total.</summary>
    internal void ReleaseReceiveWindow(long target)
    {
        lock (_lock)
        {
            _totalWindow -= target;
        }
    }

    /// <summary>Records a measured round trip (the minimum is kept: queues only ever add to it).</summary>
    internal void OnRoundTrip(TimeSpan roundTrip)
    {
        long ticks = Math.Max(1, roundTrip.Ticks);
        long current = Volatile.Read(ref _minRoundTripTicks);
        while ((current == 0 || ticks < current) && Interlocked.CompareExchange(ref _minRoundTripTicks, ticks, current) is var seen && seen != current)
        {
            current = seen;
        }
    }

    /// <summary>
    /// Measures the round trip once, the first time a channel carries bulk data: a keepalive@openssh.com global request
    /// that every peer answers (RFC 4254 §4: REQUEST_FAILURE for a name it does not know). Idle and interactive
    /// connections never send it.
    /// </summary>
    private void StartRoundTripProbe()
    {
        if (Interlocked.Exchange(ref _roundTripProbe, 1) == 0)
        {
            _ = ProbeRoundTripAsync();
        }
    }

    private async Task ProbeRoundTripAsync()
    {
        try
        {
            long start = TimeProvider.GetTimestamp();
            await SendGlobalRequestAsync<object?>("keepalive@openssh.com", wantReply: true, null, null, _stop.Token).ConfigureAwait(false);
            OnRoundTrip(TimeProvider.GetElapsedTime(start));
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or InvalidOperationException or SshProtocolException)
        {
            // The connection ended first: windows keep their size.
        }
    }

    private async ValueTask DispatchAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        byte number = payload.Span[0];
        switch (number)
        {
            case SshMessageNumber.GlobalRequest:
                await OnGlobalRequestAsync(payload, cancellationToken).ConfigureAwait(false);
                return;
            case SshMessageNumber.RequestSuccess:
            case SshMessageNumber.RequestFailure:
                OnGlobalReply(payload.Span, number == SshMessageNumber.RequestSuccess);
                return;
            case SshMessageNumber.ChannelOpen:
                await OnChannelOpenAsync(payload, cancellationToken).ConfigureAwait(false);
                return;
            case SshMessageNumber.ChannelOpenConfirmation:
                OnOpenConfirmation(payload.Span);
                return;
            case SshMessageNumber.ChannelOpenFailure:
                OnOpenFailure(payload.Span);
                return;
            case >= SshMessageNumber.ChannelWindowAdjust and <= SshMessageNumber.ChannelFailure:
                await OnChannelMessageAsync(payload, cancellationToken).ConfigureAwait(false);
                return;
            case >= 50 and <= 79:
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"User-authentication message {number} after authentication.");
            default:
                // RFC 4253 §11.4: a message we do not know gets UNIMPLEMENTED with its sequence number; the
                // connection protocol's own range is fully handled above, so this is a peer's extension.
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Unexpected message {SshMessageNumber.GetName(number)} ({number}).");
        }
    }

    private async ValueTask OnGlobalRequestAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var reader = new SshReader(payload.Span[1..]);
        string name = Encoding.ASCII.GetString(reader.ReadString());
        bool wantReply = reader.ReadBoolean();
        int dataStart = 1 + reader.Consumed;
        byte[]? answer = GlobalRequestHandler is { } handler ? await handler(name, payload[dataStart..], cancellationToken).ConfigureAwait(false) : null;
        if (wantReply)
        {
            await Transport.WriteMessageAsync(answer, static (buffer, data) =>
            {
                var writer = new SshWriter(buffer);
                writer.WriteByte(data is null ? SshMessageNumber.RequestFailure : SshMessageNumber.RequestSuccess);
                if (data is not null)
                {
                    writer.WriteBytes(data);
                }
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    private void OnGlobalReply(ReadOnlySpan<byte> payload, bool success)
    {
        TaskCompletionSource<byte[]?>? reply;
        lock (_lock)
        {
            if (!_pendingGlobalRequests.TryDequeue(out reply))
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, "A global request reply with no request outstanding.");
            }
        }

        reply.TrySetResult(success ? payload[1..].ToArray() : null);
    }

    private async ValueTask OnChannelOpenAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var reader = new SshReader(payload.Span[1..]);
        string type = Encoding.ASCII.GetString(reader.ReadString());
        uint sender = reader.ReadUInt32();
        uint window = reader.ReadUInt32();
        uint maxPacket = reader.ReadUInt32();
        var request = new SshChannelOpenRequest(this, type, sender, window, maxPacket, payload[(1 + reader.Consumed)..]);
        SshChannelOpenHandler? handler = ChannelOpenHandler; // read once: the slot reserved below is for this handler
        bool full = false;
        lock (_lock)
        {
            // RFC 4254 §5.1: the sender channel is the peer's number for the channel. The peer frees a number only
            // after both CLOSEs, by which time we have forgotten it too, so one still in use here is the peer's error
            // (our messages for either channel would be ambiguous to it).
            foreach (SshChannel open in _channels.Values)
            {
                if (open.RemoteId == sender && !_pendingOpens.ContainsKey(open.LocalId))
                {
                    throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"CHANNEL_OPEN with sender channel {sender}, a number the peer already uses for our channel {open.LocalId}.");
                }
            }

            // A flood of opens, each waiting on a slow handler (a connect to a black-holed forwarding target, say),
            // would otherwise hold unbounded sockets and tasks: opens being decided count against MaxChannels with
            // the open channels, and past it the peer is refused at once, as for too many open channels.
            if (handler is not null)
            {
                full = _channels.Count + _openDecisions >= Options.MaxChannels;
                if (!full)
                {
                    _openDecisions++;
                    request.HoldsDecisionSlot = true;
                }
            }
        }

        if (handler is null)
        {
            request.Reject(SshChannelOpenFailureReason.UnknownChannelType, $"Channel type '{type}' is not supported.");
        }
        else if (full)
        {
            request.Reject(SshChannelOpenFailureReason.ResourceShortage, $"No more than {Options.MaxChannels} channels at once.");
        }
        else
        {
            ValueTask deciding;
            try
            {
                deciding = handler(request, cancellationToken);
            }
            catch
            {
                EndOpenDecision(request);
                throw;
            }

            if (!deciding.IsCompleted)
            {
                // The handler awaits (e.g. a connect to a forwarding target): answer when it has decided, reading on
                // meanwhile. The peer cannot use the channel before our answer, so nothing is reordered.
                _ = AnswerOpenWhenDecidedAsync(request, deciding, cancellationToken);
                return;
            }

            try
            {
                await deciding.ConfigureAwait(false);
            }
            finally
            {
                EndOpenDecision(request);
            }
        }

        await AnswerOpenAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The handler has decided: a slot the open still holds (it did not accept) is free again.</summary>
    private void EndOpenDecision(SshChannelOpenRequest request)
    {
        lock (_lock)
        {
            if (request.HoldsDecisionSlot)
            {
                request.HoldsDecisionSlot = false;
                _openDecisions--;
            }
        }
    }

    private async Task AnswerOpenWhenDecidedAsync(SshChannelOpenRequest request, ValueTask deciding, CancellationToken cancellationToken)
    {
        try
        {
            try
            {
                await deciding.ConfigureAwait(false);
            }
            finally
            {
                EndOpenDecision(request);
            }

            await AnswerOpenAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Transport.Completion.IsCompleted || cancellationToken.IsCancellationRequested)
        {
            // The connection ended while the handler decided: a channel it accepted ends with it.
            request.Accepted?.OnConnectionEnded(e);
        }
        catch (Exception e)
        {
            // As a handler's exception on the loop would: the connection fails with it (a protocol error is told to the peer).
            request.Accepted?.OnConnectionEnded(e);
            Volatile.Write(ref _deferredFailure, e);
            if (e is SshProtocolException protocolError)
            {
                await Transport.DisconnectAsync(protocolError.Reason, protocolError.Message, CancellationToken.None).ConfigureAwait(false);
            }

            await _stop.CancelAsync().ConfigureAwait(false);
        }
    }

    private void ThrowIfDeferredFailure()
    {
        if (Volatile.Read(ref _deferredFailure) is { } failure)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    private async ValueTask AnswerOpenAsync(SshChannelOpenRequest request, CancellationToken cancellationToken)
    {
        if (request.Accepted is { } channel)
        {
            await Transport.WriteMessageAsync((channel, Options), static (buffer, s) =>
            {
                var writer = new SshWriter(buffer);
                writer.WriteByte(SshMessageNumber.ChannelOpenConfirmation);
                writer.WriteUInt32(s.channel.RemoteId);
                writer.WriteUInt32(s.channel.LocalId);
                writer.WriteUInt32((uint)s.Options.WindowSize);
                writer.WriteUInt32((uint)s.Options.MaxPacketSize);
            }, cancellationToken).ConfigureAwait(false);
            channel.StartSending();
            return;
        }

        (SshChannelOpenFailureReason reason, string description) = request.Rejection ?? (SshChannelOpenFailureReason.AdministrativelyProhibited, "Refused.");
        await Transport.WriteMessageAsync((request.SenderId, reason, description), static (buffer, s) =>
        {
            var writer = new SshWriter(buffer);
            writer.WriteByte(SshMessageNumber.ChannelOpenFailure);
            writer.WriteUInt32(s.SenderId);
            writer.WriteUInt32((uint)s.reason);
            writer.WriteString(s.description);
            writer.WriteString(string.Empty);
        }, cancellationToken).ConfigureAwait(false);
    }

    private void OnOpenConfirmation(ReadOnlySpan<byte> payload)
    {
        var reader = new SshReader(payload[1..]);
        uint recipient = reader.ReadUInt32();
        uint sender = reader.ReadUInt32();
        uint window = reader.ReadUInt32();
        uint maxPacket = reader.ReadUInt32();
        (TaskCompletionSource<SshChannel> opened, SshChannel channel) = TakePendingOpen(recipient);
        channel.Open(sender, window, maxPacket);
        channel.StartSending();
        opened.TrySetResult(channel);
    }

    private void OnOpenFailure(ReadOnlySpan<byte> payload)
    {
        var reader = new SshReader(payload[1..]);
        uint recipient = reader.ReadUInt32();
        var reason = (SshChannelOpenFailureReason)reader.ReadUInt32();
        string description = Encoding.UTF8.GetString(reader.ReadString());
        (TaskCompletionSource<SshChannel> opened, SshChannel channel) = TakePendingOpen(recipient);
        lock (_lock)
        {
            _channels.Remove(recipient);
        }

        var refused = new SshChannelOpenException(reason, description);
        channel.OnConnectionEnded(refused);
        opened.TrySetException(refused);
    }

    private (TaskCompletionSource<SshChannel> Opened, SshChannel Channel) TakePendingOpen(uint recipient)
    {
        lock (_lock)
        {
            if (!_pendingOpens.Remove(recipient, out TaskCompletionSource<SshChannel>? opened) || !_channels.TryGetValue(recipient, out SshChannel? channel))
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"An answer to opening channel {recipient}, which was not being opened.");
            }

            return (opened, channel);
        }
    }

    private async ValueTask OnChannelMessageAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        byte number = payload.Span[0];
        var reader = new SshReader(payload.Span[1..]);
        uint recipient = reader.ReadUInt32();
        SshChannel channel;
        lock (_lock)
        {
            if (!_channels.TryGetValue(recipient, out channel!) || _pendingOpens.ContainsKey(recipient))
            {
                // As OpenSSH (channel_input_window_adjust, channel_input_status_confirm): a late WINDOW_ADJUST or
                // request reply for a channel no longer open is dropped. paramiko sends both after the channel's
                // CLOSE: its reader thread adjusts the window, and a server that starts the command from its request
                // check can close the channel before the request's SUCCESS goes out. Channel numbers are not reused
                // at once (the next free one above the last), so the late message cannot reach a newer channel.
                // Anything else for a channel that is not open is a protocol error.
                if (number is SshMessageNumber.ChannelWindowAdjust or SshMessageNumber.ChannelSuccess or SshMessageNumber.ChannelFailure
                    && !_pendingOpens.ContainsKey(recipient))
                {
                    return;
                }

                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"{SshMessageNumber.GetName(number)} for channel {recipient}, which is not open.");
            }
        }

        switch (number)
        {
            case SshMessageNumber.ChannelWindowAdjust:
                channel.OnWindowAdjust(reader.ReadUInt32());
                break;
            case SshMessageNumber.ChannelData:
                await channel.OnDataAsync(reader.ReadString(), extended: false).ConfigureAwait(false);
                break;
            case SshMessageNumber.ChannelExtendedData:
                // RFC 4254 §5.2: type 1 is stderr, the only one defined; any type counts against the window.
                reader.ReadUInt32();
                await channel.OnDataAsync(reader.ReadString(), extended: true).ConfigureAwait(false);
                break;
            case SshMessageNumber.ChannelEof:
                channel.OnEof();
                break;
            case SshMessageNumber.ChannelClose:
                await channel.OnCloseAsync(cancellationToken).ConfigureAwait(false);
                lock (_lock)
                {
                    _channels.Remove(recipient);
                }

                break;
            case SshMessageNumber.ChannelRequest:
                string type = Encoding.ASCII.GetString(reader.ReadString());
                bool wantReply = reader.ReadBoolean();
                await channel.OnRequestAsync(new SshChannelRequest(type, wantReply, payload[(1 + reader.Consumed)..]), cancellationToken).ConfigureAwait(false);
                ChannelRequestAnswered?.Invoke(channel);
                break;
            case SshMessageNumber.ChannelSuccess:
            case SshMessageNumber.ChannelFailure:
                channel.OnRequestReply(number == SshMessageNumber.ChannelSuccess);
                break;
        }
    }

    private void EndAll(Exception? error)
    {
        SshChannel[] channels;
        TaskCompletionSource<SshChannel>[] opens;
        TaskCompletionSource<byte[]?>[] requests;
        lock (_lock)
        {
            channels = [.. _channels.Values];
            opens = [.. _pendingOpens.Values];
            requests = [.. _pendingGlobalRequests];
            _ended = true;
            _channels.Clear();
            _pendingOpens.Clear();
            _pendingGlobalRequests.Clear();
        }

        var ended = error ?? new InvalidOperationException("The connection ended.");
        foreach (SshChannel channel in channels)
        {
            channel.OnConnectionEnded(error);
        }

        foreach (TaskCompletionSource<SshChannel> open in opens)
        {
            open.TrySetException(ended);
        }

        foreach (TaskCompletionSource<byte[]?> request in requests)
        {
            request.TrySetException(ended);
        }
    }
}
