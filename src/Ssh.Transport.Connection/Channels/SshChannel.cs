using System.Buffers;
using System.IO.Pipelines;

namespace Ssh.Transport.Connection;

/// <summary>
/// Handles a request the peer sent on a channel (RFC 4254 §5.4), e.g. "exec", "pty-req", "exit-status".
/// </summary>
/// <param name="channel">The channel.</param>
/// <param name="request">The request; its <see cref="SshChannelRequest.Data"/> is valid only until the handler returns or awaits.</param>
/// <param name="cancellationToken">Cancelled when the connection ends.</param>
/// <returns>True to answer SUCCESS, false for FAILURE (sent only when the peer asked for a reply).</returns>
public delegate ValueTask<bool> SshChannelRequestHandler(SshChannel channel, SshChannelRequest request, CancellationToken cancellationToken);

/// <summary>A request received on a channel.</summary>
public readonly struct SshChannelRequest
{
    internal SshChannelRequest(string type, bool wantReply, ReadOnlyMemory<byte> data)
    {
        Type = type;
        WantReply = wantReply;
        Data = data;
    }

    /// <summary>The request type, e.g. "exec".</summary>
    public string Type { get; }

    /// <summary>Whether the peer waits for SUCCESS or FAILURE.</summary>
    public bool WantReply { get; }

    /// <summary>The type-specific data after want-reply (RFC 4254 §6); read it with <see cref="SshReader"/>.</summary>
    public ReadOnlyMemory<byte> Data { get; }
}

/// <summary>
/// One channel of an <see cref="SshConnection"/> (RFC 4254 §5) as a duplex pipe: <see cref="Input"/> carries the peer's
/// data, <see cref="Output"/> ours. The windows are the pipes' backpressure: the peer may send only as much as the
/// application has read (plus the window), and writes wait while the peer's window is closed.
/// </summary>
/// <remarks>
/// Extended data type 1 (stderr) has its own pair: <see cref="ExtendedInput"/> and <see cref="ExtendedOutput"/>; it
/// shares the window, so read it (or complete it) too. Completing <see cref="Output"/> sends EOF once what was
/// written to both outputs has gone out; <see cref="CloseAsync"/> ends the channel. The peer's EOF completes the inputs; its CLOSE ends the channel.
/// </remarks>
public sealed class SshChannel : IDuplexPipe, IAsyncDisposable
{
    // Segments of a whole default packet: a 32 KiB payload lands in one segment instead of eight 4 KiB ones, so a
    // reader gets large contiguous spans (one write(2) each) and the pipe rents an eighth as many buffers.
    // Inbound segments come from a pool of 32 KiB blocks shared by every channel (16 MiB kept at most): from the
    // shared ArrayPool a download allocated fresh arrays at a third of its rate (docs/performance.md).
    private static readonly SshBlockMemoryPool s_inboundPool = new(32 * 1024, maxRetainedBlocks: 512);
    private static readonly PipeOptions s_inboundOptions = InboundOptions(PipeScheduler.ThreadPool);

    // SshTransportOptions.UnsafePreferInlineScheduling: the reader continues in the connection loop's flush.
    private static readonly PipeOptions s_inlineInboundOptions = InboundOptions(PipeScheduler.Inline);

    private readonly SshConnection _connection;
    private readonly Pipe _input;
    private readonly Pipe _extendedInput;
    private readonly Pipe _output;
    private readonly Pipe _extendedOutput;
    private readonly WindowedPipeReader _inputReader;
    private readonly WindowedPipeReader _extendedInputReader;
    private readonly Lock _lock = new();
    private readonly Queue<TaskCompletionSource<bool>> _pendingRequests = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _confirmed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _sending;
    private SendWindow? _sendWindow;
    private uint _remoteMaxPacket;
    private long _receiveWindow;
    private long _consumedSinceAdjust;
    private long _consumedInEpoch;
    private long _windowTarget;
    private long _adjustEpochStart;
    private long _trialGrowth;
    private double _rateBeforeTrial;
    private int _epochsBeforeNextTrial;
    private int _unpaidTrials;
    private long _spanBytes;
    private long _spanTicks;
    private int _spanEpochs;
    private double _lastSpanRate;
    private long _growthFrom;
    private int _epochsToSettle;
    private bool _windowReleased;
    private int _closeSent;
    private bool _closeReceived;
    private bool _eofReceived;

    private static PipeOptions InboundOptions(PipeScheduler reader) =>
        new(pool: s_inboundPool, readerScheduler: reader, pauseWriterThreshold: 0, minimumSegmentSize: 32 * 1024, useSynchronizationContext: false);

    internal SshChannel(SshConnection connection, uint localId, string type)
    {
        _connection = connection;
        LocalId = localId;
        Type = type;
        _receiveWindow = connection.Options.WindowSize;
        _windowTarget = connection.Options.WindowSize;
        _adjustEpochStart = connection.TimeProvider.GetTimestamp();
        bool inline = connection.Transport.PrefersInlineScheduling;
        PipeOptions inbound = inline ? s_inlineInboundOptions : s_inboundOptions;
        _input = new Pipe(inbound);
        _extendedInput = new Pipe(inbound);
        // The reader is our send pump: run it inline in the application's FlushAsync rather than handing each flush to
        // another thread-pool thread (a wake-up per write was the largest cost of sending; docs/performance.md). The
        // pump only seals and writes into the transport's pipe and awaits asynchronously, so the caller is never blocked.
        // With UnsafePreferInlineScheduling a writer let go after backpressure continues where the pump let it go (the
        // pump may run on the connection's loop, after a window adjust): no thread-pool hop per resume either.
        var outbound = new PipeOptions(
            readerScheduler: PipeScheduler.Inline, writerScheduler: inline ? PipeScheduler.Inline : PipeScheduler.ThreadPool,
            pauseWriterThreshold: connection.Options.MaxPacketSize * 4L, resumeWriterThreshold: connection.Options.MaxPacketSize * 2L, useSynchronizationContext: false);
        _output = new Pipe(outbound);
        _extendedOutput = new Pipe(outbound);
        _inputReader = new WindowedPipeReader(_input.Reader, OnConsumed);
        _extendedInputReader = new WindowedPipeReader(_extendedInput.Reader, OnConsumed);
        _sending = SendAsync();
    }

    /// <summary>The channel type, e.g. "session" or "direct-tcpip".</summary>
    public string Type { get; }

    /// <summary>Our channel number.</summary>
    public uint LocalId { get; }

    /// <summary>The peer's channel number.</summary>
    public uint RemoteId { get; private set; }

    /// <summary>The peer's data. Completes at the peer's EOF or CLOSE.</summary>
    public PipeReader Input => _inputReader;

    /// <summary>Our data to the peer. Complete it to send EOF (after what both outputs hold).</summary>
    public PipeWriter Output => _output.Writer;

    /// <summary>The peer's extended data of type 1 (stderr).</summary>
    public PipeReader ExtendedInput => _extendedInputReader;

    /// <summary>Our extended data of type 1 (stderr).</summary>
    public PipeWriter ExtendedOutput => _extendedOutput.Writer;

    /// <summary>Handles the peer's requests on this channel; without one, every request is refused.</summary>
    public SshChannelRequestHandler? RequestHandler { get; set; }

    /// <summary>Completes when the channel has ended: CLOSE sent and received, or the connection gone.</summary>
    public Task Completion => _closed.Task;

    /// <summary>True once the peer sent EOF.</summary>
    public bool IsEofReceived => Volatile.Read(ref _eofReceived);

    /// <summary>True once the peer sent CLOSE (false when the channel ended with the connection).</summary>
    internal bool IsCloseReceived
    {
        get
        {
            lock (_lock)
            {
                return _closeReceived;
            }
        }
    }

    /// <summary>
    /// Sends a channel request (RFC 4254 §5.4), e.g. "exec" with the command, and waits for the answer if
    /// <paramref name="wantReply"/>.
    /// </summary>
    /// <typeparam name="TState">The data writer's state.</typeparam>
    /// <param name="type">The request type.</param>
    /// <param name="wantReply">Whether to ask for SUCCESS or FAILURE.</param>
    /// <param name="state">Passed to <paramref name="writeData"/>.</param>
    /// <param name="writeData">Writes the type-specific data; null for none.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>True for SUCCESS (or when no reply was asked for), false for FAILURE.</returns>
    public async Task<bool> SendRequestAsync<TState>(string type, bool wantReply, TState state, SshDataWriter<TState>? writeData, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        TaskCompletionSource<bool>? reply = null;
        if (wantReply)
        {
            reply = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                if (_closeReceived)
                {
                    throw new InvalidOperationException("The channel is closed.");
                }

                _pendingRequests.Enqueue(reply);
            }
        }

        await _connection.Transport.WriteMessageAsync((RemoteId, type, wantReply, state, writeData), static (buffer, s) =>
        {
            var writer = new SshWriter(buffer);
            writer.WriteByte(SshMessageNumber.ChannelRequest);
            writer.WriteUInt32(s.RemoteId);
            writer.WriteString(s.type);
            writer.WriteBoolean(s.wantReply);
            s.writeData?.Invoke(ref writer, s.state);
        }, cancellationToken).ConfigureAwait(false);
        return reply is null || await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a channel request without data.</summary>
    /// <param name="type">The request type.</param>
    /// <param name="wantReply">Whether to ask for SUCCESS or FAILURE.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>True for SUCCESS (or when no reply was asked for), false for FAILURE.</returns>
    public Task<bool> SendRequestAsync(string type, bool wantReply, CancellationToken cancellationToken = default) =>
        SendRequestAsync<object?>(type, wantReply, null, null, cancellationToken);

    /// <summary>
    /// Ends the channel: what was written goes out, then EOF and CLOSE; waits (at most <paramref name="cancellationToken"/>)
    /// for the peer's CLOSE.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        await _extendedOutput.Writer.CompleteAsync().ConfigureAwait(false);

        // Also before the peer knows the channel (an accepted channel's confirmation goes out when the open handler
        // returns): what was written, then EOF and CLOSE, all after the confirmation.
        try
        {
            await _sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or OperationCanceledException or InvalidOperationException or IOException)
        {
            // The connection is going down; the close below is best effort.
        }

        await SendCloseAsync(cancellationToken).ConfigureAwait(false);
        await _closed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the channel (see <see cref="CloseAsync"/>), waiting at most two seconds for the peer.</summary>
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await CloseAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SshProtocolException or InvalidOperationException or IOException)
        {
            // The peer did not answer in time or the connection is gone: the channel ends here anyway.
            OnConnectionEnded(e);
        }
    }

    /// <summary>The peer confirmed (or opened) the channel: its number, window and maximum packet.</summary>
    internal void Open(uint remoteId, uint remoteWindow, uint remoteMaxPacket)
    {
        RemoteId = remoteId;
        _remoteMaxPacket = Math.Max(1, Math.Min(remoteMaxPacket, (uint)(_connection.Transport.MaxPayloadLength - 64)));
        _sendWindow = new SendWindow(remoteWindow, _connection.Transport.PrefersInlineScheduling);
    }

    /// <summary>Starts moving the application's writes: only once the peer knows the channel (after the confirmation).</summary>
    internal void StartSending() => _confirmed.TrySetResult();

    /// <summary>
    /// Runs both pumps. Completing <see cref="Output"/> ends the data: what <see cref="ExtendedOutput"/> already holds
    /// still goes out, then EOF (RFC 4254 §5.3: no data of either kind after it).
    /// </summary>
    private async Task SendAsync()
    {
        try
        {
            await _confirmed.Task.WaitAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e)
        {
            // Never confirmed (refused, or the connection ended first): writers fail rather than wait.
            await _output.Reader.CompleteAsync(e).ConfigureAwait(false);
            await _extendedOutput.Reader.CompleteAsync(e).ConfigureAwait(false);
            throw;
        }

        Task extended = PumpAsync(_extendedOutput.Reader, extended: true);
        await PumpAsync(_output.Reader, extended: false).ConfigureAwait(false);
        _extendedOutput.Reader.CancelPendingRead();
        await extended.ConfigureAwait(false);
        await SendEofAsync().ConfigureAwait(false);
    }

    /// <summary>Completes once both outputs have been sent and EOF with them (faults if the channel or connection ended first).</summary>
    internal Task OutputsSent => _sending;

    internal void OnWindowAdjust(uint bytes) => _sendWindow!.Add(bytes);

    /// <summary>
    /// How much a writer of bulk data should hand the channel at once: a whole batch of full packets
    /// (<see cref="SshTransport.MaxBatchMessages"/>) under keys that seal faster in batches, else <paramref name="otherwise"/>.
    /// Follows the keys, which a key exchange may change; at most 1 MiB.
    /// </summary>
    internal int BulkWriteSize(int otherwise) =>
        _connection.Transport.SealsInBatches ? Math.Max(otherwise, SshTransport.MaxBatchMessages * (int)Math.Min(_remoteMaxPacket, 64 * 1024)) : otherwise;

    /// <summary>DATA or EXTENDED_DATA: checked against our window, then copied into the inbound pipe (the one copy).</summary>
    internal ValueTask<FlushResult> OnDataAsync(ReadOnlySpan<byte> data, bool extended)
    {
        if (_eofReceived || _closeReceived)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Channel {LocalId}: data after EOF or CLOSE.");
        }

        if (data.Length > _connection.Options.MaxPacketSize)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Channel {LocalId}: {data.Length} data bytes in one message, more than the maximum packet of {_connection.Options.MaxPacketSize}.");
        }

        lock (_lock)
        {
            if (data.Length > _receiveWindow)
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Channel {LocalId}: {data.Length} data bytes beyond the window ({_receiveWindow} left).");
            }

            _receiveWindow -= data.Length;
        }

        PipeWriter target = extended ? _extendedInput.Writer : _input.Writer;
        target.Write(data);

        // No backpressure here (the pipe never pauses: the window bounds what it holds); the flush wakes the reader.
        return target.FlushAsync(CancellationToken.None);
    }

    internal void OnEof()
    {
        Volatile.Write(ref _eofReceived, true);
        _input.Writer.Complete();
        _extendedInput.Writer.Complete();
    }

    internal async ValueTask OnRequestAsync(SshChannelRequest request, CancellationToken cancellationToken)
    {
        bool success = false;
        if (RequestHandler is { } handler)
        {
            success = await handler(this, request, cancellationToken).ConfigureAwait(false);
        }

        if (request.WantReply)
        {
            await _connection.Transport.WriteMessageAsync((RemoteId, success), static (buffer, s) =>
            {
                var writer = new SshWriter(buffer);
                writer.WriteByte(s.success ? SshMessageNumber.ChannelSuccess : SshMessageNumber.ChannelFailure);
                writer.WriteUInt32(s.RemoteId);
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    internal void OnRequestReply(bool success)
    {
        TaskCompletionSource<bool>? reply;
        lock (_lock)
        {
            if (!_pendingRequests.TryDequeue(out reply))
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Channel {LocalId}: a request reply with no request outstanding.");
            }
        }

        reply.TrySetResult(success);
    }

    /// <summary>The peer's CLOSE: the inputs end, sending stops, our CLOSE answers if not sent yet (then the number may be reused).</summary>
    internal async ValueTask OnCloseAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _closeReceived = true;
        }

        await _input.Writer.CompleteAsync().ConfigureAwait(false);
        await _extendedInput.Writer.CompleteAsync().ConfigureAwait(false);
        var closed = new InvalidOperationException("The peer closed the channel.");
        _sendWindow?.Fail(closed);
        await _stop.CancelAsync().ConfigureAwait(false);
        FailPendingRequests(closed);
        await SendCloseAsync(cancellationToken).ConfigureAwait(false);
        ReleaseWindow();
        _closed.TrySetResult();
    }

    /// <summary>The connection ended: everything fails or completes.</summary>
    internal void OnConnectionEnded(Exception? error)
    {
        var ended = error ?? new InvalidOperationException("The connection ended.");
        _input.Writer.Complete(error);
        _extendedInput.Writer.Complete(error);
        _sendWindow?.Fail(ended);
        _stop.Cancel();
        FailPendingRequests(ended);
        ReleaseWindow();
        _closed.TrySetResult();
    }

    private void FailPendingRequests(Exception error)
    {
        lock (_lock)
        {
            while (_pendingRequests.TryDequeue(out TaskCompletionSource<bool>? reply))
            {
                reply.TrySetException(error);
            }
        }
    }

    private async ValueTask SendCloseAsync(CancellationToken cancellationToken)
    {
        // RFC 4254 §5.1: nothing about a channel before its confirmation.
        if (!_confirmed.Task.IsCompleted || Interlocked.Exchange(ref _closeSent, 1) != 0)
        {
            return;
        }

        try
        {
            await _connection.Transport.WriteMessageAsync(RemoteId, static (buffer, id) =>
            {
                var writer = new SshWriter(buffer);
                writer.WriteByte(SshMessageNumber.ChannelClose);
                writer.WriteUInt32(id);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or ObjectDisposedException)
        {
            // The connection is gone: there is nobody left to tell.
        }
    }

    /// <summary>What the peer may still send before our next WINDOW_ADJUST.</summary>
    internal long ReceiveWindowLeft
    {
        get
        {
            lock (_lock)
            {
                return _receiveWindow;
            }
        }
    }

    /// <summary>The window we grant now (it follows the path: see <see cref="SshChannelOptions.MaxWindowSize"/>).</summary>
    internal long WindowTarget
    {
        get
        {
            lock (_lock)
            {
                return _windowTarget;
            }
        }
    }

    /// <summary>
    /// How much consumption a WINDOW_ADJUST gives back at once. Half the window while it is at its initial size (a
    /// short path: few, large adjusts, so that the peer sends in large bursts); an eighth of it (at least three
    /// packets) once it has grown, which only a long path makes it do: credit returned in halves keeps only half a
    /// window in flight over the path (the second half waits at the receiver until it is whole), an eighth keeps 7/8.
    /// </summary>
    internal long CreditStep
    {
        get
        {
            lock (_lock)
            {
                return CreditStepUnsynchronized;
            }
        }
    }

    private long CreditStepUnsynchronized => _windowTarget > _connection.Options.WindowSize
        ? Math.Min(_windowTarget / 2, Math.Max(_windowTarget / 8, 3L * _connection.Options.MaxPacketSize))
        : _windowTarget / 2;

    /// <summary>
    /// The application consumed inbound bytes: give the window back (RFC 4254 §5.2) in <see cref="CreditStep"/>s, and
    /// at every half window consumed resize it: grown when the half went by within two round trips (the window, not the
    /// peer or the reader, limits the rate), shrunk when it took longer and the application left a quarter of it unread.
    /// </summary>
    private void OnConsumed(long bytes)
    {
        uint adjust = 0;
        lock (_lock)
        {
            _consumedSinceAdjust += bytes;
            _consumedInEpoch += bytes;
            if (_closeReceived)
            {
                return;
            }

            if (_consumedInEpoch >= _windowTarget / 2)
            {
                long now = _connection.TimeProvider.GetTimestamp();
                TimeSpan epoch = _connection.TimeProvider.GetElapsedTime(_adjustEpochStart, now);
                long consumed = _consumedInEpoch;
                _adjustEpochStart = now;
                _consumedInEpoch = 0;

                // Invariant: _receiveWindow + unread + _consumedSinceAdjust == _windowTarget. A shrink larger than
                // what is due leaves _consumedSinceAdjust negative: a debt later consumption pays before any credit.
                long unread = _windowTarget - _receiveWindow - _consumedSinceAdjust;
                long resize = !_windowReleased ? ResizeUnsynchronized(epoch, consumed, unread) : 0;
                _windowTarget += resize;
                _consumedSinceAdjust += resize;
            }

            if (_consumedSinceAdjust >= CreditStepUnsynchronized)
            {
                adjust = (uint)_consumedSinceAdjust;
                _receiveWindow += _consumedSinceAdjust;
                _consumedSinceAdjust = 0;
            }
        }

        if (adjust > 0)
        {
            _ = SendWindowAdjustAsync(adjust);
        }
    }

    /// <summary>
    /// The shortest round trip trusted as the path's. Below it the probe measures the peers' own handling as much as
    /// the path (2 to 12 ms on loopback, where the path is 0.1 ms), so a window grown on its word must prove itself.
    /// </summary>
    internal static readonly TimeSpan TrustedRoundTrip = TimeSpan.FromMilliseconds(20);

    /// <summary>A growth is kept only when the rate after it is at least this many times the rate before.</summary>
    internal const double GrowthPayoff = 1.25;

    /// <summary>
    /// Epochs (half windows) a rate is measured over, unless <see cref="RateSpan"/> passes first. One epoch on a short
    /// path lasts a millisecond or two, and data that waited in buffers arrives in bursts: one epoch's rate is noise
    /// there. On a long path an epoch lasts half a round trip or more, and waiting for four would slow the growth.
    /// </summary>
    internal const int RateEpochs = 4;

    /// <summary>Epochs after a growth that no rate counts: the round trip in which the peer starts to use it.</summary>
    internal const int SettleEpochs = 2;

    /// <summary>The time after which a rate's measurement ends even before <see cref="RateEpochs"/>.</summary>
    internal static readonly TimeSpan RateSpan = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Epochs after a growth that did not pay before the window may grow again; doubled after each such growth in a
    /// row (up to 64 times this), so that a channel whose window does not limit it soon stops trying.
    /// </summary>
    internal const int EpochsAfterUnpaidGrowth = 16;

    /// <summary>The shortest time a rate is computed over (a clock that did not move still gives a finite rate).</summary>
    private const double MinRateSeconds = 1e-6;

    /// <summary>
    /// Resizes the window at the end of an epoch (<paramref name="consumed"/> bytes, half the window, in
    /// <paramref name="epoch"/>). On a path whose round trip is at least <see cref="TrustedRoundTrip"/>, as
    /// <see cref="SshConnection.ResizeReceiveWindow"/> decides. On a shorter one a growth is a trial: kept only if the
    /// rate over the next <see cref="RateEpochs"/> epochs is <see cref="GrowthPayoff"/> times the rate over the ones
    /// before it, as it is when the window held the data back. Otherwise it is given back, and the window stays for
    /// <see cref="EpochsAfterUnpaidGrowth"/> epochs or more: the peer, the processors or the reader limit the rate, and
    /// a larger window would only fill the peer's buffers (`ssh` then pays in page faults: docs/performance.md).
    /// </summary>
    private long ResizeUnsynchronized(TimeSpan epoch, long consumed, long unread)
    {
        if (_trialGrowth == 0 && _connection.MinRoundTrip is { } roundTrip && roundTrip >= TrustedRoundTrip)
        {
            // A long path: the probe's round trip is the path's, so "half the window within two round trips" means
            // the window holds the data back, and it grows at once.
            return _connection.ResizeReceiveWindow(_windowTarget, epoch, unread);
        }

        long now = _adjustEpochStart;
        if (_growthFrom == 0)
        {
            // The first epoch runs from the open, so it holds the peer's start (a command's, say): not a rate.
            _growthFrom = now + (long)(_connection.WindowGrowthDelay.TotalSeconds * _connection.TimeProvider.TimestampFrequency);
            return _connection.ResizeReceiveWindow(_windowTarget, epoch, unread, mayGrow: false);
        }

        if (_epochsToSettle > 0)
        {
            // Just after a growth: the peer learns of it half a round trip later, and its data at the new rate arrives
            // a round trip later. These epochs are neither the old rate nor the new one.
            _epochsToSettle--;
            return 0;
        }

        _spanBytes += consumed;
        _spanTicks += epoch.Ticks;
        bool spanEnded = ++_spanEpochs >= RateEpochs || _spanTicks >= RateSpan.Ticks;
        if (spanEnded)
        {
            _lastSpanRate = _spanBytes / Math.Max(TimeSpan.FromTicks(_spanTicks).TotalSeconds, MinRateSeconds);
            RestartSpan();
        }

        if (_trialGrowth > 0)
        {
            if (!spanEnded)
            {
                return 0;
            }

            long growth = _trialGrowth;
            _trialGrowth = 0;
            if (_lastSpanRate >= _rateBeforeTrial * GrowthPayoff)
            {
                _unpaidTrials = 0;
                return 0;
            }

            _epochsBeforeNextTrial = EpochsAfterUnpaidGrowth << Math.Min(_unpaidTrials, 6);
            _unpaidTrials++;
            _lastSpanRate = 0; // measured afresh at the size the window goes back to
            _connection.ReleaseReceiveWindow(growth);
            return -growth;
        }

        bool mayGrow = _epochsBeforeNextTrial == 0 && _lastSpanRate > 0 && now >= _growthFrom;
        if (_epochsBeforeNextTrial > 0)
        {
            _epochsBeforeNextTrial--;
        }

        long resize = _connection.ResizeReceiveWindow(_windowTarget, epoch, unread, mayGrow);
        if (resize != 0)
        {
            // The next rate is measured at the new size only.
            _trialGrowth = Math.Max(resize, 0);
            _epochsToSettle = resize > 0 ? SettleEpochs : 0;
            _rateBeforeTrial = _lastSpanRate;
            _lastSpanRate = resize > 0 ? _lastSpanRate : 0;
            RestartSpan();
        }

        return resize;
    }

    private void RestartSpan()
    {
        _spanBytes = 0;
        _spanTicks = 0;
        _spanEpochs = 0;
    }

    /// <summary>The channel ended: its window leaves the connection's total (once).</summary>
    private void ReleaseWindow()
    {
        long target;
        lock (_lock)
        {
            if (_windowReleased)
            {
                return;
            }

            _windowReleased = true;
            target = _windowTarget;
        }

        _connection.ReleaseReceiveWindow(target);
    }

    private async Task SendWindowAdjustAsync(uint bytes)
    {
        try
        {
            await _connection.Transport.WriteMessageAsync((RemoteId, bytes), static (buffer, s) =>
            {
                var writer = new SshWriter(buffer);
                writer.WriteByte(SshMessageNumber.ChannelWindowAdjust);
                writer.WriteUInt32(s.RemoteId);
                writer.WriteUInt32(s.bytes);
            }, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or OperationCanceledException or ObjectDisposedException)
        {
            // The channel or the connection is closing.
        }
    }

    /// <summary>Moves what the application writes to the peer: within the peer's window and maximum packet.</summary>
    private async Task PumpAsync(PipeReader reader, bool extended)
    {
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync(_stop.Token).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                try
                {
                    // Every packet of what is here goes out in one flush (several packets per send), unless the
                    // window runs out first: what was written is flushed before waiting for credit.
                    bool unflushed = false;
                    while (!buffer.IsEmpty)
                    {
                        // Enough for a run of full packets, under keys that seal faster in batches (hmac-sha2-256-etm):
                        // they go together; with the window short of the whole run, packet by packet below.
                        int full = (int)_remoteMaxPacket;
                        long wholePackets = buffer.Length / full;
                        if (wholePackets >= SshTransport.MinBatchMessages && _connection.Transport.SealsInBatches)
                        {
                            int count = (int)Math.Min(wholePackets, SshTransport.MaxBatchMessages);
                            if (await TakeBatchCreditAsync(count * full, unflushed).ConfigureAwait(false))
                            {
                                bool rest = buffer.Length > (long)count * full;
                                await _connection.Transport.WriteMessagesAsync((RemoteId, buffer, extended, full), count, (extended ? 13 : 9) + full, static (output, s, i) =>
                                    WriteData(output, s.RemoteId, s.extended, s.buffer.Slice((long)i * s.full, s.full)), flush: !rest, _stop.Token).ConfigureAwait(false);
                                unflushed = rest;
                                buffer = buffer.Slice((long)count * full);
                                continue;
                            }
                        }

                        int wanted = (int)Math.Min(buffer.Length, _remoteMaxPacket);
                        if (!_sendWindow!.TryTake(wanted, out int granted))
                        {
                            if (unflushed)
                            {
                                await _connection.Transport.FlushAsync(_stop.Token).ConfigureAwait(false);
                                unflushed = false;
                            }

                            granted = await _sendWindow.TakeAsync(wanted, _stop.Token).ConfigureAwait(false);
                        }

                        ReadOnlySequence<byte> chunk = buffer.Slice(0, granted);
                        bool last = granted == buffer.Length;
                        await _connection.Transport.WriteMessageAsync((RemoteId, chunk, extended), static (output, s) => WriteData(output, s.RemoteId, s.extended, s.chunk),
                            granted + 16, flush: last, _stop.Token).ConfigureAwait(false);
                        unflushed = !last;
                        buffer = buffer.Slice(granted);
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start);
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }

            await reader.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or SshProtocolException or ObjectDisposedException)
        {
            await reader.CompleteAsync(e).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The most a run of full packets waits for the peer's window to take all of it (<see cref="TakeBatchCreditAsync"/>).
    /// </summary>
    internal static readonly TimeSpan BatchCreditHold = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Takes window credit for a run of full packets, so they go as one batch. OpenSSH returns credit three or four
    /// packets at a time, so with a window of several runs (at least four) it waits a little for credit to add up:
    /// no longer than <see cref="BatchCreditHold"/>, after which the packets go as the credit allows. The peer
    /// still holds most of the window in flight then, so throughput does not wait on it; with a smaller window
    /// (a peer may shrink it, RFC 4254 §5.2) there is no wait at all.
    /// </summary>
    /// <param name="bytes">The run's data.</param>
    /// <param name="unflushed">Packets written but not flushed: flushed before any wait.</param>
    private async ValueTask<bool> TakeBatchCreditAsync(int bytes, bool unflushed)
    {
        if (_sendWindow!.TryTakeExactly(bytes))
        {
            return true;
        }

        if (_sendWindow.Largest < 4L * bytes)
        {
            return false;
        }

        if (unflushed)
        {
            await _connection.Transport.FlushAsync(_stop.Token).ConfigureAwait(false);
        }

        return await _sendWindow.WaitForAsync(bytes, BatchCreditHold, _connection.TimeProvider, _stop.Token).ConfigureAwait(false) &&
            _sendWindow.TryTakeExactly(bytes);
    }

    /// <summary>SSH_MSG_CHANNEL_DATA, or EXTENDED_DATA for stderr (RFC 4254 §5.2), carrying <paramref name="data"/>.</summary>
    private static void WriteData(IBufferWriter<byte> output, uint remoteId, bool extended, ReadOnlySequence<byte> data)
    {
        var writer = new SshWriter(output);
        writer.WriteByte(extended ? SshMessageNumber.ChannelExtendedData : SshMessageNumber.ChannelData);
        writer.WriteUInt32(remoteId);
        if (extended)
        {
            writer.WriteUInt32(1); // SSH_EXTENDED_DATA_STDERR
        }

        writer.WriteUInt32((uint)data.Length);
        foreach (ReadOnlyMemory<byte> segment in data)
        {
            writer.WriteBytes(segment.Span);
        }
    }

    private async Task SendEofAsync()
    {
        if (_closeReceived || _closeSent != 0)
        {
            return;
        }

        await _connection.Transport.WriteMessageAsync(RemoteId, static (buffer, id) =>
        {
            var writer = new SshWriter(buffer);
            writer.WriteByte(SshMessageNumber.ChannelEof);
            writer.WriteUInt32(id);
        }, _stop.Token).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Type} channel {LocalId} (peer {RemoteId})";
}

/// <summary>Writes the type-specific data of a request or a channel open, in place.</summary>
/// <typeparam name="TState">The caller's state.</typeparam>
/// <param name="writer">Where the data goes.</param>
/// <param name="state">The caller's state.</param>
public delegate void SshDataWriter<TState>(ref SshWriter writer, TState state);
