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
    private static readonly PipeOptions s_inboundOptions = new(pool: s_inboundPool, pauseWriterThreshold: 0, minimumSegmentSize: 32 * 1024, useSynchronizationContext: false);

    private readonly SshConnection _connection;
    private readonly Pipe _input = new(s_inboundOptions);
    private readonly Pipe _extendedInput = new(s_inboundOptions);
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
    private bool _windowReleased;
    private int _closeSent;
    private bool _closeReceived;
    private bool _eofReceived;

    internal SshChannel(SshConnection connection, uint localId, string type)
    {
        _connection = connection;
        LocalId = localId;
        Type = type;
        _receiveWindow = connection.Options.WindowSize;
        _windowTarget = connection.Options.WindowSize;
        _adjustEpochStart = connection.TimeProvider.GetTimestamp();
        // The reader is our send pump: run it inline in the application's FlushAsync rather than handing each flush to
        // another thread-pool thread (a wake-up per write was the largest cost of sending; docs/performance.md). The
        // pump only seals and writes into the transport's pipe and awaits asynchronously, so the caller is never blocked.
        var outbound = new PipeOptions(readerScheduler: PipeScheduler.Inline, pauseWriterThreshold: connection.Options.MaxPacketSize * 4L, resumeWriterThreshold: connection.Options.MaxPacketSize * 2L, useSynchronizationContext: false);
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
        _sendWindow = new SendWindow(remoteWindow);
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
                _adjustEpochStart = now;
                _consumedInEpoch = 0;

                // Invariant: _receiveWindow + unread + _consumedSinceAdjust == _windowTarget. A shrink larger than
                // what is due leaves _consumedSinceAdjust negative: a debt later consumption pays before any credit.
                long unread = _windowTarget - _receiveWindow - _consumedSinceAdjust;
                long resize = !_windowReleased ? _connection.ResizeReceiveWindow(_windowTarget, epoch, unread) : 0;
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
                    while (!buffer.IsEmpty)
                    {
                        int wanted = (int)Math.Min(buffer.Length, _remoteMaxPacket);
                        int granted = await _sendWindow!.TakeAsync(wanted, _stop.Token).ConfigureAwait(false);
                        ReadOnlySequence<byte> chunk = buffer.Slice(0, granted);
                        await _connection.Transport.WriteMessageAsync((RemoteId, chunk, extended), static (output, s) =>
                        {
                            var writer = new SshWriter(output);
                            writer.WriteByte(s.extended ? SshMessageNumber.ChannelExtendedData : SshMessageNumber.ChannelData);
                            writer.WriteUInt32(s.RemoteId);
                            if (s.extended)
                            {
                                writer.WriteUInt32(1); // SSH_EXTENDED_DATA_STDERR
                            }

                            writer.WriteUInt32((uint)s.chunk.Length);
                            foreach (ReadOnlyMemory<byte> segment in s.chunk)
                            {
                                writer.WriteBytes(segment.Span);
                            }
                        }, granted + 16, _stop.Token).ConfigureAwait(false);
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
