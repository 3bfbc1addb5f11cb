using System.Buffers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Tasks.Sources;

namespace Ssh.Transport;

/// <summary>
/// The receive loop and the hand-over of upper-layer messages to the consumer.
/// </summary>
/// <remarks>
/// The loop reads packets for as long as the connection lives. Transport and key-exchange messages are handled on
/// the loop; every other message is detached from the packet reader (the buffer it was decrypted into changes hands,
/// no copy) and queued for <see cref="ReadMessageAsync"/>. The loop waits while the queued messages, and the one the
/// consumer holds, occupy <see cref="SshTransportOptions.MaxBufferedInboundBytes"/> or more: that is the consumer's
/// backpressure on the socket. If a key exchange is in progress and the loop stays at its limit for 100 ms, writers
/// are allowed to queue past their limit, so that a consumer stuck in a write can go on and drain.
/// </remarks>
public sealed partial class SshTransport
{
    private readonly Lock _deliveryLock = new();
    private readonly Queue<InboundMessage> _inbound = new();
    private readonly MessageWaiter _consumerWaiter = new();
    private readonly long _maxBufferedInboundBytes;
    private Task? _receiveLoop;
    private long _inboundBytes;
    private InboundMessage _current;
    private bool _hasCurrent;
    private bool _consumerWaiting;
    private bool _inboundEnded;
    private TaskCompletionSource? _roomForLoop;
    private CancellationToken _consumerToken;
    private volatile SshProtocolException? _failure;
    private volatile bool _discarding;

    /// <summary>
    /// Reads the next message of the layers above (message numbers 50 and up). Transport and key-exchange messages,
    /// and OpenSSH's PING (192) and PONG (193), never reach the consumer: the receive loop handles them.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait; the connection goes on.</param>
    /// <returns>
    /// The message, valid until the next read; <see cref="SshPacket.IsCompleted"/> when the connection ended normally
    /// (the peer's DISCONNECT by application, the peer closing between packets, or our own disconnect).
    /// </returns>
    /// <exception cref="SshProtocolException">The connection failed; the exception says why (a derived type where one fits).</exception>
    /// <exception cref="InvalidOperationException">Another read is in progress.</exception>
    public ValueTask<SshPacket> ReadMessageAsync(CancellationToken cancellationToken = default)
    {
        TaskCompletionSource? wakeLoop;
        SshPacket packet;
        lock (_deliveryLock)
        {
            if (_consumerWaiting)
            {
                throw new InvalidOperationException("Another ReadMessageAsync is in progress; one consumer reads at a time.");
            }

            wakeLoop = ReleaseCurrentUnsynchronized();
            if (_inbound.TryDequeue(out InboundMessage message))
            {
                packet = TakeUnsynchronized(message);
            }
            else if (_failure is { } failure)
            {
                wakeLoop?.TrySetResult();
                return ValueTask.FromException<SshPacket>(failure);
            }
            else if (_inboundEnded)
            {
                packet = default;
            }
            else if (cancellationToken.IsCancellationRequested)
            {
                wakeLoop?.TrySetResult();
                return ValueTask.FromCanceled<SshPacket>(cancellationToken);
            }
            else
            {
                _consumerWaiting = true;
                _consumerToken = cancellationToken;
                wakeLoop?.TrySetResult();
                return WaitForMessage(cancellationToken);
            }
        }

        wakeLoop?.TrySetResult();
        return new ValueTask<SshPacket>(packet);
    }

    /// <summary>Whether the layers above should also continue inline on the receive path (<see cref="SshTransportOptions.UnsafePreferInlineScheduling"/>).</summary>
    internal bool PrefersInlineScheduling => _options.UnsafePreferInlineScheduling;

    private ValueTask<SshPacket> WaitForMessage(CancellationToken cancellationToken)
    {
        ValueTask<SshPacket> waiting = _consumerWaiter.Wait();
        if (cancellationToken.CanBeCanceled)
        {
            // Disposed by the waiter when the consumer takes the result.
            _consumerWaiter.Registration = cancellationToken.UnsafeRegister(static (s, token) => ((SshTransport)s!).CancelConsumerWait(token), this);
        }

        return waiting;
    }

    private void CancelConsumerWait(CancellationToken token)
    {
        lock (_deliveryLock)
        {
            if (!_consumerWaiting || _consumerToken != token)
            {
                return;
            }

            _consumerWaiting = false;
        }

        _consumerWaiter.SetException(new OperationCanceledException(token));
    }

    /// <summary>Gives the consumer its message: runs under the lock, after <see cref="ReleaseCurrentUnsynchronized"/>.</summary>
    private SshPacket TakeUnsynchronized(InboundMessage message)
    {
        _current = message;
        _hasCurrent = true;
        return new SshPacket(message.Array.AsMemory(message.Offset, message.Length), message.SequenceNumber, message.NeedRekey);
    }

    /// <summary>The consumer is done with its message: its buffer goes back, and the loop may read on.</summary>
    private TaskCompletionSource? ReleaseCurrentUnsynchronized()
    {
        if (!_hasCurrent)
        {
            return null;
        }

        _hasCurrent = false;
        _inboundBytes -= _current.Array.Length;
        ReturnCleared(_current);
        _current = default;
        if (_roomForLoop is { } room && _inboundBytes < InboundLimit)
        {
            _roomForLoop = null;
            return room;
        }

        return null;
    }

    /// <summary>From now on upper-layer messages are dropped as they arrive (we have disconnected) and the loop never waits for room.</summary>
    private void DiscardInbound()
    {
        _discarding = true;
        ReleaseInbound();
        StopReceivingWait();
    }

    /// <summary>Hands an upper-layer packet over: to a waiting consumer, or into the queue.</summary>
    private void Deliver(in SshPacket packet)
    {
        if (_discarding)
        {
            return;
        }

        (byte[] array, int offset) = _packetizer.DetachPayload(packet.Payload);
        var message = new InboundMessage(array, offset, packet.Payload.Length, packet.SequenceNumber, packet.NeedRekey);
        SshPacket handOver;
        lock (_deliveryLock)
        {
            _inboundBytes += array.Length;
            if (!_consumerWaiting)
            {
                _inbound.Enqueue(message);
                return;
            }

            _consumerWaiting = false;
            handOver = TakeUnsynchronized(message);
        }

        // Inline when the application asked for it: the consumer goes on on this thread, no wake-up of another.
        _consumerWaiter.SetResult(handOver, inline: _options.UnsafePreferInlineScheduling);
    }

    /// <summary>
    /// How far the loop may read ahead now: <see cref="SshTransportOptions.MaxBufferedInboundBytes"/>, or four times
    /// that while a key exchange is in progress, so that the exchange's messages behind a consumer's backlog (the
    /// peer's data in flight when it saw our KEXINIT) are still read.
    /// </summary>
    private long InboundLimit => IsKeyExchangeInProgress ? _maxBufferedInboundBytes * 4 : _maxBufferedInboundBytes;

    /// <summary>Completes without waiting while there is room for more inbound messages.</summary>
    private ValueTask WaitForRoomAsync()
    {
        TaskCompletionSource room;
        lock (_deliveryLock)
        {
            if (_inboundBytes < InboundLimit || _failure is not null || _disposed != 0 || _discarding)
            {
                return ValueTask.CompletedTask;
            }

            room = _roomForLoop ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        return IsKeyExchangeInProgress ? WaitForRoomDuringExchangeAsync(room.Task) : new ValueTask(room.Task);
    }

    /// <summary>
    /// How long the loop waits at its limit during a key exchange before it lets writers queue past theirs: a consumer
    /// that drains makes room sooner; one that does not may be stuck in a write that waits for this very exchange.
    /// </summary>
    private static readonly TimeSpan s_stuckConsumerDelay = TimeSpan.FromMilliseconds(100);

    private async ValueTask WaitForRoomDuringExchangeAsync(Task room)
    {
        Task delay = Task.Delay(s_stuckConsumerDelay, _options.Packetizer.TimeProvider);
        if (await Task.WhenAny(room, delay).ConfigureAwait(false) != room)
        {
            // The exchange needs this loop, and a consumer stuck in a write cannot drain: let writers queue instead
            // of waiting for the exchange (RFC 4253 §7.1 still holds: they go out after our NEWKEYS).
            _packetizer.LiftHeldPacketLimit();
            await room.ConfigureAwait(false);
        }
    }

    /// <summary>A key exchange started: the loop may read further ahead, so wake it if it waits for room.</summary>
    private void WakeLoopForExchange()
    {
        TaskCompletionSource? room;
        lock (_deliveryLock)
        {
            room = _roomForLoop;
            _roomForLoop = null;
        }

        // The loop re-checks against the larger limit and waits again if it is still over.
        room?.TrySetResult();
    }

    private async Task ReceiveLoopAsync()
    {
        // Off the caller's stack: the handshake's caller goes on to await the first exchange.
        await Task.Yield();
        try
        {
            while (true)
            {
                await WaitForRoomAsync().ConfigureAwait(false);
                if (_failure is not null || _disposed != 0)
                {
                    return;
                }

                SshPacket packet = await _packetizer.ReadPacketAsync(CancellationToken.None).ConfigureAwait(false);
                if (packet.IsCompleted)
                {
                    OnEndOfStream();
                    return;
                }

                if (packet.NeedRekey && !IsKeyExchangeInProgress)
                {
                    await StartKeyExchangeAsync(SshInitiator.Local, CancellationToken.None).ConfigureAwait(false);
                }

                if (!await HandleTransportMessageAsync(packet).ConfigureAwait(false))
                {
                    Deliver(packet);
                }
                else if (_peerDisconnected)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (_failure is not null || _disposed != 0)
        {
            // Stopped: by a failure found elsewhere (a deadline, a writer) or by disposal.
            _ = e;
        }
        catch (Exception e)
        {
            await FailAsync(Normalize(e)).ConfigureAwait(false);
        }
        finally
        {
            EndInbound();
            if (_disposed == 0)
            {
                // The connection is over: close it so the peer sees the end too, and zero the keys.
                await _packetizer.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The peer closed the connection between packets.</summary>
    private void OnEndOfStream()
    {
        if (IsKeyExchangeInProgress || !_peerNewKeysSeen)
        {
            throw new SshProtocolException(SshDisconnectReason.ConnectionLost, "The connection closed during a key exchange.");
        }

        SetClosed(SshInitiator.Remote, SshDisconnectReason.ConnectionLost, "The peer closed the connection.", error: null);
    }

    /// <summary>No more messages will arrive: a waiting consumer gets the end (or the failure).</summary>
    private void EndInbound()
    {
        TaskCompletionSource? room;
        bool wake;
        lock (_deliveryLock)
        {
            _inboundEnded = true;
            room = _roomForLoop;
            _roomForLoop = null;
            wake = _consumerWaiting;
            _consumerWaiting = false;
        }

        room?.TrySetResult();
        if (wake)
        {
            if (_failure is { } failure)
            {
                _consumerWaiter.SetException(failure);
            }
            else
            {
                _consumerWaiter.SetResult(default);
            }
        }
    }

    /// <summary>
    /// Fails the connection once: tells the peer why (when a DISCONNECT makes sense and can still be sent), records
    /// how it ended, and fails every waiter. Safe from any thread; later calls do nothing.
    /// </summary>
    private async Task FailAsync(SshProtocolException error)
    {
        if (_closed.Task.IsCompleted || Interlocked.CompareExchange(ref _failure, error, null) is not null)
        {
            return;
        }

        bool byPeer = error is SshPeerDisconnectedException || error.Reason == SshDisconnectReason.ConnectionLost;
        if (byPeer)
        {
            Log.ConnectionEndedByPeer(_logger, error.Reason, error.Message);
        }
        else
        {
            Log.ConnectionFailed(_logger, error.Reason, error);
        }

        // Recorded, and waiters told, before the DISCONNECT goes out: a caller woken by it (the handshake) disposes,
        // and the peer may close on reading it; neither must read as the cause.
        SetClosed(byPeer ? SshInitiator.Remote : SshInitiator.Local, error.Reason, error is SshPeerDisconnectedException peer ? peer.Description : error.Message, error);
        StopKeyExchangeTimer();
        _kexCompletion?.TrySetException(error);
        _serviceAccept?.TrySetException(error);
        if (!byPeer && error.Reason != SshDisconnectReason.None)
        {
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

        _packetizer.FailHeldWrites(error);
        StopReceiving();
    }

    /// <summary>Wakes the loop wherever it waits, so it sees the failure or the disposal and ends.</summary>
    private void StopReceiving()
    {
        StopReceivingWait();
        try
        {
            _packetizer.CancelPendingRead();
        }
        catch (InvalidOperationException)
        {
            // The reader is already completed.
        }

        if (_receiveLoop is null)
        {
            EndInbound();
        }
    }

    /// <summary>Wakes the loop if it waits for room.</summary>
    private void StopReceivingWait()
    {
        TaskCompletionSource? room;
        lock (_deliveryLock)
        {
            room = _roomForLoop;
            _roomForLoop = null;
        }

        room?.TrySetResult();
    }

    /// <summary>Records how the connection ended, once, and raises <see cref="Closed"/>.</summary>
    private void SetClosed(SshInitiator closedBy, SshDisconnectReason reason, string description, Exception? error)
    {
        var args = new SshConnectionClosedEventArgs(closedBy, reason, description, error);
        if (!_closed.TrySetResult(args))
        {
            return;
        }

        FailPendingPings();
        Raise(Closed, args);
    }

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        if (handler is null)
        {
            return;
        }

        try
        {
            handler(this, args);
        }
#pragma warning disable CA1031 // A subscriber's bug must not take the receive loop down; it is logged.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.EventHandlerFailed(_logger, typeof(T).Name, e);
        }
    }

    /// <summary>Maps what can surface from the pipe or a socket to the protocol's terms.</summary>
    private static SshProtocolException Normalize(Exception e) => e switch
    {
        SshProtocolException protocol => protocol,
        IOException or SocketException or ObjectDisposedException => new SshProtocolException(SshDisconnectReason.ConnectionLost, $"The connection was lost: {e.Message}", e),
        OperationCanceledException => new SshProtocolException(SshDisconnectReason.ConnectionLost, "The connection was closed.", e),
        _ => new SshProtocolException(SshDisconnectReason.ProtocolError, $"Unexpected error: {e.Message}", e),
    };

    /// <summary>Returns every buffer still queued or held (after the loop has ended).</summary>
    private void ReleaseInbound()
    {
        lock (_deliveryLock)
        {
            ReleaseCurrentUnsynchronized();
            while (_inbound.TryDequeue(out InboundMessage message))
            {
                ReturnCleared(message);
            }

            _inboundBytes = 0;
        }
    }

    /// <summary>
    /// Wipes the message's plaintext (the peer's upper-layer messages, passwords among them) and returns its buffer.
    /// Only the packet's own span is cleared: its header and payload, plus room for the padding (at most 255 bytes)
    /// and MAC (at most 64) that follow them. The rest of the rented array, which can be twice as long, holds no
    /// upper-layer plaintext (each such packet leaves with its buffer), and clearing it all was a visible share of the
    /// cost of receiving (docs/performance.md).
    /// </summary>
    private static void ReturnCleared(in InboundMessage message)
    {
        int end = (int)Math.Min(message.Array.Length, (long)message.Offset + message.Length + 255 + 64);
        CryptographicOperations.ZeroMemory(message.Array.AsSpan(0, end));
        ArrayPool<byte>.Shared.Return(message.Array);
    }

    private readonly record struct InboundMessage(byte[] Array, int Offset, int Length, uint SequenceNumber, bool NeedRekey);

    /// <summary>One consumer's wait for a message, reused: no allocation per message.</summary>
    private sealed class MessageWaiter : IValueTaskSource<SshPacket>
    {
        private ManualResetValueTaskSourceCore<SshPacket> _core = new() { RunContinuationsAsynchronously = true };

        public CancellationTokenRegistration Registration { get; set; }

        public ValueTask<SshPacket> Wait() => new(this, _core.Version);

        /// <summary>Completes the wait; <paramref name="inline"/> runs the consumer's continuation on this thread, before returning.</summary>
        public void SetResult(SshPacket packet, bool inline = false)
        {
            _core.RunContinuationsAsynchronously = !inline;
            _core.SetResult(packet);
        }

        /// <summary>Fails the wait; the consumer always goes on on another thread (the caller may hold a lock or be a cancellation callback).</summary>
        public void SetException(Exception error)
        {
            _core.RunContinuationsAsynchronously = true;
            _core.SetException(error);
        }

        public SshPacket GetResult(short token)
        {
            Registration.Dispose();
            Registration = default;
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                _core.Reset();
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
