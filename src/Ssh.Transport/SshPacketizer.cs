using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Ssh.Transport.Compression;
using Ssh.Transport.Crypto;
using Ssh.Transport.Framing;

namespace Ssh.Transport;

/// <summary>
/// Reads and writes SSH binary packets (RFC 4253 §4.2, §6) over a duplex pipe: the identification exchange, packet
/// framing, per-direction keys switched at NEWKEYS, sequence numbers, rekey accounting, keepalive and the handshake
/// deadline.
/// </summary>
/// <remarks>
/// <para>
/// Threading: one reader at a time (<see cref="ReadPacketAsync"/> is not re-entrant); any number of concurrent
/// writers, whose packets are serialized whole and whose flushes are coalesced.
/// </para>
/// <para>
/// Memory: a payload returned by <see cref="ReadPacketAsync"/> stays valid until the next read. Payloads are written
/// straight into the pipe's memory and sealed there.
/// </para>
/// <para>
/// The packetizer owns the pipe it is given: <see cref="DisposeAsync"/> completes both of its ends.
/// </para>
/// </remarks>
public sealed partial class SshPacketizer : IAsyncDisposable
{
    private const int Idle = 0;
    private const int Running = 1;
    private const int Expired = 2;
    private const int Done = 3;

    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly SshRole _role;
    private readonly SshPacketizerOptions _options;
    private readonly TransportState _transport;
    private readonly PacketReader _reader;
    private readonly PacketWriter _writer;
    private readonly PacketWriteLock _writeLock = new();
    private readonly byte[] _localIdentification;
    private byte[]? _remoteIdentification;
    private int _queuedWriters;

    // A writer that left its flush to a writer queued behind it (under the write lock): the last one out flushes
    // even when it wrote with flush false itself, so that packet never waits for some later write.
    private bool _flushOwed;
    private KeyExchangeHold? _kexHold;
    private uint _lastKexInitSequence;

    // The last pipe read's buffer, held until the packets read from it are used up: whole packets still in it are
    // parsed from it without going back to the pipe, whose TryRead and AdvanceTo each take the pipe's lock.
    private bool _holdingBuffer;
    private ReadOnlySequence<byte> _heldBuffer;
    private bool _heldBufferCompleted;
    private SequencePosition _heldConsumed;
    private bool _endOfStream;

    private ITimer? _identificationTimer;
    private int _identificationDeadline;
    private ITimer? _handshakeTimer;
    private int _handshakeDeadline;
    private TimeSpan _handshakeTimeout;

    // A packet held back for a batch (PacketReader.Held): the timer that ends the hold, and its state (Idle; Running
    // while a hold waits; Expired from the timer's firing until the read it cancelled has been seen).
    private ITimer? _batchHoldTimer;
    private int _batchHold;
    private int _readCancelRequested;

    private ITimer? _keepAliveTimer;
    private TimeSpan _keepAliveInterval;
    private Func<CancellationToken, ValueTask>? _keepAliveCallback;
    private readonly CancellationTokenSource _disposeCts = new();
    private int _disposed;

    /// <summary>Creates a packetizer over a duplex pipe, e.g. a Kestrel connection's transport or a socket's pipes.</summary>
    /// <param name="transport">The connection's byte streams.</param>
    /// <param name="role">Which end of the connection this side is.</param>
    /// <param name="options">Limits and settings; copied, so later changes have no effect. Null for defaults.</param>
    /// <exception cref="ArgumentException">
    /// A setting of <paramref name="options"/> is not valid, e.g. the software version or comments
    /// (<see cref="SshPacketizerOptions.Validate"/>).
    /// </exception>
    public SshPacketizer(IDuplexPipe transport, SshRole role, SshPacketizerOptions? options = null)
        : this(transport, role, options, logger: null)
    {
    }

    /// <summary>A transport's packetizer: logs to <paramref name="logger"/> (a category of its own) when not null.</summary>
    internal SshPacketizer(IDuplexPipe transport, SshRole role, SshPacketizerOptions? options, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(transport);
        _input = transport.Input;
        _output = transport.Output;
        _role = role;
        _options = (options ?? new SshPacketizerOptions()).Clone();
        _options.ValidateArgument(nameof(options)); // the copy: what is checked is what is used
        _localIdentification = IdentificationReader.Format(_options.SoftwareVersion, _options.Comments);
        _transport = new TransportState(_options, logger ?? _options.Logger ?? NullLogger.Instance);
        _reader = new PacketReader(_transport);
        _writer = new PacketWriter(_transport);
    }

    /// <summary>Which end of the connection this side is.</summary>
    public SshRole Role => _role;

    /// <summary>
    /// Set by <see cref="SshTransport"/>: delayed compression switches on at USERAUTH_SUCCESS by itself (server: after
    /// writing it; client: inbound, after reading it), as OpenSSH's packet layer does. A bare packetizer leaves it
    /// to <see cref="EnableDelayedCompression"/>.
    /// </summary>
    internal bool SwitchesCompressionAtUserAuthSuccess { get; set; }

    /// <summary>Our identification line, without CR LF.</summary>
    public string LocalIdentification => Encoding.ASCII.GetString(_localIdentification);

    /// <summary>The peer's identification line, without CR LF; null before <see cref="ExchangeIdentificationAsync"/>.</summary>
    public string? RemoteIdentification => _remoteIdentification is null ? null : Encoding.Latin1.GetString(_remoteIdentification);

    /// <summary>Our identification line's exact bytes (V_C or V_S of the exchange hash).</summary>
    internal ReadOnlySpan<byte> LocalIdentificationBytes => _localIdentification;

    /// <summary>The peer's identification line's exact bytes, without CR LF.</summary>
    internal ReadOnlySpan<byte> RemoteIdentificationBytes => _remoteIdentification;

    /// <summary>
    /// True once a byte, packet or time limit of either direction was reached under the current keys; false again
    /// when both directions have switched to new keys.
    /// </summary>
    public bool NeedRekey => _transport.Rekey.NeedRekey || _transport.Inbound.TimeLimitReached || _transport.Outbound.TimeLimitReached;

    /// <summary>
    /// Strict key exchange (kex-strict-*-v00@openssh.com, the Terrapin countermeasure): when on, every NEWKEYS
    /// resets the sequence number of its direction to 0.
    /// </summary>
    public bool StrictKex
    {
        get => _transport.StrictKex;
        set => _transport.StrictKex = value;
    }

    /// <summary>The sequence number the next packet read will have.</summary>
    public uint InboundSequenceNumber => _transport.Inbound.SequenceNumber;

    /// <summary>The sequence number the next packet written will have.</summary>
    public uint OutboundSequenceNumber => _transport.Outbound.SequenceNumber;

    /// <summary>Packets read since the connection started.</summary>
    public long PacketsRead => _transport.Inbound.TotalPackets;

    /// <summary>Packets written since the connection started.</summary>
    public long PacketsWritten => _transport.Outbound.TotalPackets;

    /// <summary>Bytes of packets read since the connection started (length fields and MACs included).</summary>
    public long BytesRead => _transport.Inbound.TotalBytes;

    /// <summary>Bytes of packets written since the connection started (length fields and MACs included).</summary>
    public long BytesWritten => _transport.Outbound.TotalBytes;

    /// <summary>The largest payload <see cref="WritePacketAsync{TState}(TState, SshPayloadWriter{TState}, int, bool, CancellationToken)"/> accepts.</summary>
    public int MaxPayloadLength => _writer.MaxPayloadLength;

    /// <summary>True when the handshake deadline set by <see cref="StartHandshake"/> passed before <see cref="CompleteHandshake"/>.</summary>
    public bool HandshakeTimedOut => Volatile.Read(ref _handshakeDeadline) == Expired;

    internal TransportState State => _transport;

    /// <summary>
    /// Sends our identification line and reads the peer's (RFC 4253 §4.2). A client skips the lines a server may
    /// send first, within <see cref="SshPacketizerOptions.MaxPreBannerLines"/> and
    /// <see cref="SshPacketizerOptions.MaxPreBannerBytes"/>. Bytes after the peer's line stay buffered for
    /// <see cref="ReadPacketAsync"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the exchange.</param>
    /// <exception cref="SshProtocolException">The peer's line is malformed, too long, of another protocol version, or the connection closed first.</exception>
    /// <exception cref="SshTimeoutException">The line did not arrive within the identification timeout or the handshake deadline.</exception>
    public async ValueTask ExchangeIdentificationAsync(CancellationToken cancellationToken = default)
    {
        if (_remoteIdentification is not null)
        {
            throw new InvalidOperationException("The identification lines were already exchanged.");
        }

        await _writeLock.EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Span<byte> span = _output.GetSpan(_localIdentification.Length + 2);
            _localIdentification.CopyTo(span);
            "\r\n"u8.CopyTo(span[_localIdentification.Length..]);
            _output.Advance(_localIdentification.Length + 2);
            await FlushOutputAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Exit();
        }

        StartIdentificationDeadline();
        try
        {
            var lines = new IdentificationReader(peerIsServer: _role == SshRole.Client, _options.MaxPreBannerLines, _options.MaxPreBannerBytes);
            Action<int, ReadOnlySequence<byte>>? onPreBanner = null;
            if (_transport.Logger.IsEnabled(LogLevel.Debug))
            {
                onPreBanner = (number, line) =>
                    Log.PreBannerLine(_transport.Logger, number, Encoding.Latin1.GetString(line.Length > 255 ? line.Slice(0, 255) : line));
            }

            while (true)
            {
                ReadResult result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                if (result.IsCanceled)
                {
                    _input.AdvanceTo(buffer.Start);
                    ThrowReadCanceled();
                }

                bool found;
                try
                {
                    found = lines.TryRead(ref buffer, out byte[] identification, onPreBanner);
                    if (found)
                    {
                        _remoteIdentification = identification;
                    }
                }
                catch
                {
                    _input.AdvanceTo(buffer.Start);
                    throw;
                }

                if (found)
                {
                    // Examined only up to the line: what follows (the first KEXINIT) stays for ReadPacketAsync.
                    _input.AdvanceTo(buffer.Start);
                    break;
                }

                if (result.IsCompleted)
                {
                    _input.AdvanceTo(buffer.End);
                    throw new SshProtocolException(SshDisconnectReason.ConnectionLost, "The connection closed before the peer sent its identification line.");
                }

                _input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            StopIdentificationDeadline();
        }

        Log.RemoteIdentification(_transport.Logger, RemoteIdentification!);
        Touch();
    }

    /// <summary>
    /// Reads the next packet. Completes synchronously when a whole packet is already buffered.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait for bytes.</param>
    /// <returns>
    /// The packet, whose payload is valid until the next call; or, when the peer closed the connection between
    /// packets, a result with <see cref="SshPacket.IsCompleted"/> set.
    /// </returns>
    /// <exception cref="SshProtocolException">The packet is malformed, too long, fails authentication, or the connection closed in its middle.</exception>
    /// <exception cref="SshTimeoutException">The handshake deadline passed.</exception>
    public ValueTask<SshPacket> ReadPacketAsync(CancellationToken cancellationToken = default)
    {
        SshPacket packet;
        if (_holdingBuffer)
        {
            _holdingBuffer = false;
            ReadOnlySequence<byte> held = _heldBuffer;
            _heldBuffer = default;
            if (!_heldConsumed.Equals(held.End) && MayReadFromHeldBuffer(held))
            {
                if (TryTakePacket(held.Slice(_heldConsumed), _heldBufferCompleted, out packet))
                {
                    if (_holdingBuffer)
                    {
                        _heldBuffer = held; // the whole of it, so that MaxHeldBytes counts from the pipe read
                    }

                    return new ValueTask<SshPacket>(packet);
                }
            }
            else
            {
                _input.AdvanceTo(_heldConsumed);
            }
        }

        if (_endOfStream)
        {
            return new ValueTask<SshPacket>(default(SshPacket));
        }

        if (_input.TryRead(out ReadResult result) && TryTakePacket(result, out packet))
        {
            return new ValueTask<SshPacket>(packet);
        }

        return ReadPacketSlowAsync(cancellationToken);
    }

    /// <summary>
    /// Whether the next packet may come from the rest of the held buffer without the pipe: not when a cancellation is to be seen
    /// (a stopped reader loop, the handshake deadline; the pipe reports them), and not once
    /// <see cref="MaxHeldBytes"/> of the buffer have been read, so that the pipe's writer gets its memory back.
    /// </summary>
    private bool MayReadFromHeldBuffer(in ReadOnlySequence<byte> held) =>
        Volatile.Read(ref _readCancelRequested) == 0 && Volatile.Read(ref _handshakeDeadline) != Expired &&
        held.Slice(held.Start, _heldConsumed).Length < MaxHeldBytes;

    /// <summary>
    /// The most of a pipe read's bytes that packets are read from before the pipe is advanced: one TryRead and one
    /// AdvanceTo per eight 32 KiB packets at least, and the pipe's writer (the socket loop) sees its memory consumed
    /// at least this often.
    /// </summary>
    internal const int MaxHeldBytes = 256 * 1024;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<SshPacket> ReadPacketSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (TryTakePacket(result, out SshPacket packet))
            {
                return packet;
            }
        }
    }

    /// <summary>Parses a packet from a pipe read's result; the bytes it brought are activity (keepalive).</summary>
    private bool TryTakePacket(in ReadResult result, out SshPacket packet)
    {
        ReadOnlySequence<byte> buffer = result.Buffer;
        if (result.IsCanceled && !TakeBatchHoldExpiry())
        {
            _input.AdvanceTo(buffer.Start);
            ThrowReadCanceled();
        }

        Touch();
        return TryTakePacket(buffer, result.IsCompleted, out packet);
    }

    /// <summary>
    /// Parses a packet from the front of <paramref name="buffer"/> (a pipe read's, or the rest of the held one). On
    /// success the buffer is held for the next read; otherwise the pipe is advanced past what was used.
    /// </summary>
    private bool TryTakePacket(in ReadOnlySequence<byte> buffer, bool completed, out SshPacket packet)
    {
        bool read;
        SequencePosition consumed;
        try
        {
            bool mayHold = !completed && _options.ReceiveBatchHold > TimeSpan.Zero && Volatile.Read(ref _batchHold) != Expired;
            read = _reader.TryRead(buffer, out consumed, out packet, mayHold);
        }
        catch
        {
            _input.AdvanceTo(buffer.Start);
            throw;
        }

        if (_reader.Held)
        {
            StartBatchHold();
        }
        else if (Volatile.Read(ref _batchHold) == Running)
        {
            StopBatchHold();
        }

        if (read)
        {
            if (packet.MessageNumber == SshMessageNumber.UserAuthSuccess && SwitchesCompressionAtUserAuthSuccess && _role == SshRole.Client)
            {
                // The server compresses from the packet after USERAUTH_SUCCESS; a loop reading ahead of the
                // consumer must inflate it. Outbound waits for EnableDelayedCompression (the writers' side).
                _transport.EnableDelayedCompression(inbound: true, outbound: false);
            }

            _holdingBuffer = true;
            _heldBuffer = buffer;
            _heldBufferCompleted = completed;
            _heldConsumed = consumed;
            return true;
        }

        if (completed)
        {
            _input.AdvanceTo(buffer.End);
            if (buffer.IsEmpty && !_reader.InPacket)
            {
                // EOF between packets: a normal end.
                _endOfStream = true;
                packet = default;
                return true;
            }

            throw new SshProtocolException(SshDisconnectReason.ConnectionLost, $"The connection closed in the middle of a packet ({buffer.Length} bytes of it received).");
        }

        _input.AdvanceTo(consumed, buffer.End);
        return false;
    }

    /// <summary>Starts the hold's timer, unless a hold already runs (a read that brought too few packets to end it).</summary>
    private void StartBatchHold()
    {
        if (Interlocked.CompareExchange(ref _batchHold, Running, Idle) != Idle)
        {
            return;
        }

        if (_batchHoldTimer is null)
        {
            _batchHoldTimer = _options.TimeProvider.CreateTimer(
                static s =>
                {
                    var self = (SshPacketizer)s!;
                    if (Interlocked.CompareExchange(ref self._batchHold, Expired, Running) == Running)
                    {
                        try
                        {
                            self._input.CancelPendingRead();
                        }
                        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
                        {
                            // The reader is already completed: nothing waits.
                        }
                    }
                },
                this,
                _options.ReceiveBatchHold,
                Timeout.InfiniteTimeSpan);
        }
        else
        {
            ChangeBatchHoldTimer(_options.ReceiveBatchHold);
        }
    }

    /// <summary>Re-arms or stops the hold's timer; one disposed with the packetizer (a read racing disposal) is left be.</summary>
    private void ChangeBatchHoldTimer(TimeSpan dueTime)
    {
        try
        {
            _batchHoldTimer!.Change(dueTime, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // The packetizer is being disposed: the read fails on its own.
        }
    }

    /// <summary>
    /// Ends a hold the packets ended before its time. If the timer fired meanwhile, its cancelled read is still to be
    /// seen, and <see cref="TakeBatchHoldExpiry"/> takes it for what it is.
    /// </summary>
    private void StopBatchHold()
    {
        if (Interlocked.CompareExchange(ref _batchHold, Idle, Running) == Running)
        {
            ChangeBatchHoldTimer(Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// True when a cancelled read was the batch hold's timer and nothing else: the held packet is read now. A read
    /// cancelled for any other reason (<see cref="CancelPendingRead"/>, a deadline) still throws.
    /// </summary>
    private bool TakeBatchHoldExpiry()
    {
        if (Volatile.Read(ref _readCancelRequested) != 0 || Volatile.Read(ref _handshakeDeadline) == Expired ||
            Volatile.Read(ref _identificationDeadline) == Expired || Interlocked.CompareExchange(ref _batchHold, Idle, Expired) != Expired)
        {
            return false;
        }

        _reader.HoldExpired();
        return true;
    }

    private void ReleaseHeldBuffer()
    {
        if (_holdingBuffer)
        {
            _holdingBuffer = false;
            _heldBuffer = default;
            _input.AdvanceTo(_heldConsumed);
        }
    }

    /// <summary>
    /// Writes one packet whose payload <paramref name="writePayload"/> writes straight into the pipe's memory, then
    /// seals it in place. Concurrent calls are serialized whole.
    /// </summary>
    /// <typeparam name="TState">The payload writer's state.</typeparam>
    /// <param name="state">Passed to <paramref name="writePayload"/>.</param>
    /// <param name="writePayload">Writes the payload, message number first. Must not hold on to the buffer writer.</param>
    /// <param name="cancellationToken">Cancels waiting for other writers and for the flush.</param>
    /// <returns>The packet's sequence number and whether a rekey is due.</returns>
    public ValueTask<SshWriteResult> WritePacketAsync<TState>(TState state, SshPayloadWriter<TState> writePayload, CancellationToken cancellationToken = default) =>
        WritePacketAsync(state, writePayload, payloadSizeHint: 0, flush: true, cancellationToken);

    /// <summary>
    /// Writes one packet whose payload <paramref name="writePayload"/> writes straight into the pipe's memory, then
    /// seals it in place. Concurrent calls are serialized whole.
    /// </summary>
    /// <typeparam name="TState">The payload writer's state.</typeparam>
    /// <param name="state">Passed to <paramref name="writePayload"/>.</param>
    /// <param name="writePayload">Writes the payload, message number first. Must not hold on to the buffer writer.</param>
    /// <param name="payloadSizeHint">The payload's expected size; an accurate hint avoids moving the payload when it outgrows the first block.</param>
    /// <param name="flush">
    /// False to leave the packet buffered for a later flush. When true, the flush is still skipped if another writer
    /// is already waiting: that writer's flush sends both packets.
    /// </param>
    /// <param name="cancellationToken">Cancels waiting for other writers and for the flush.</param>
    /// <returns>The packet's sequence number and whether a rekey is due.</returns>
    /// <exception cref="InvalidOperationException">The payload is empty or too long, or a NEWKEYS has no keys prepared.</exception>
    /// <exception cref="SshProtocolException">The connection was closed.</exception>
    public ValueTask<SshWriteResult> WritePacketAsync<TState>(TState state, SshPayloadWriter<TState> writePayload, int payloadSizeHint, bool flush, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writePayload);
        return WriteCore(state, writePayload, payloadSizeHint, flush, Gate.None, cancellationToken);
    }

    /// <summary>
    /// Writes an upper-layer packet. While the session holds upper-layer writes for a key exchange
    /// (<see cref="HoldUpperLayerWrites"/>; RFC 4253 §7.1: from our KEXINIT to our NEWKEYS only transport and
    /// key-exchange messages may be sent) the payload is queued, up to the hold's limit, and goes out right after our
    /// NEWKEYS in order; past the limit the writer waits for room. The decision is made under the write lock, so no
    /// upper-layer packet slips between the hold and the KEXINIT.
    /// </summary>
    /// <returns>Whether a rekey is due (false for a queued packet: it goes out under new keys).</returns>
    /// <param name="state">Passed to <paramref name="writePayload"/>.</param>
    /// <param name="writePayload">Writes the payload.</param>
    /// <param name="payloadSizeHint">The payload's expected size.</param>
    /// <param name="cancellationToken">Cancels waiting for the lock, for room in the queue and for the flush.</param>
    /// <param name="unbounded">
    /// True for the session's own replies written from its reader (SERVICE_ACCEPT): queued whatever the limit, since
    /// the reader must never wait for an exchange that only it can carry on.
    /// </param>
    /// <param name="flush">False to leave the packet in the pipe for a later flush (see <see cref="FlushAsync"/>).</param>
    internal ValueTask<bool> WriteGatedAsync<TState>(TState state, SshPayloadWriter<TState> writePayload, int payloadSizeHint, CancellationToken cancellationToken, bool unbounded = false, bool flush = true)
    {
        ValueTask<SshWriteResult> writing = WriteCore(state, writePayload, payloadSizeHint, flush, unbounded ? Gate.Unbounded : Gate.Bounded, cancellationToken);
        return NeedRekeyOf(writing);
    }

    /// <summary>True once user authentication has succeeded (see <see cref="EnableDelayedCompression"/>).</summary>
    internal bool IsAuthenticated => _transport.Authenticated;

    /// <summary>True while upper-layer writes are held for a key exchange.</summary>
    internal bool IsHoldingUpperLayerWrites => Volatile.Read(ref _kexHold) is not null;

    /// <summary>Upper-layer packets queued for after our NEWKEYS.</summary>
    internal int HeldPacketCount => Volatile.Read(ref _kexHold)?.Count ?? 0;

    /// <summary>
    /// Starts holding upper-layer writes (the session's explicit §7.1 state): from now until <see cref="WriteNewKeysAsync(CancellationToken)"/>
    /// gated writes are queued, up to <paramref name="queueLimit"/> packets, and then wait. Call it before writing
    /// our KEXINIT, or on receiving the peer's. Does nothing if a hold is already in place.
    /// </summary>
    internal void HoldUpperLayerWrites(int queueLimit)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        Interlocked.CompareExchange(ref _kexHold, new KeyExchangeHold(queueLimit), null);
    }

    /// <summary>
    /// Lets every gated writer of the current hold queue its packet instead of waiting: used when waiting could
    /// deadlock (the session's reader is stopped by inbound backpressure while the exchange still needs it).
    /// </summary>
    internal void LiftHeldPacketLimit() => Volatile.Read(ref _kexHold)?.Lift();

    /// <summary>
    /// Writes NEWKEYS (the pending outbound keys take effect after it), then every upper-layer packet queued during
    /// the exchange, in order and under the new keys, and ends the hold; all under the write lock, then flushed.
    /// </summary>
    internal ValueTask WriteNewKeysAsync(CancellationToken cancellationToken) => WriteNewKeysAsync(null, CompressionMethod.None, null, cancellationToken);

    /// <param name="sealer">The keys NEWKEYS switches to, prepared under the same hold of the lock; null when already prepared.</param>
    /// <param name="compression">The compression that starts with them.</param>
    /// <param name="written">Called under the lock right after NEWKEYS is in the pipe, before any byte of it can reach the peer.</param>
    /// <param name="cancellationToken">Cancels waiting for the lock and the flush.</param>
    internal async ValueTask WriteNewKeysAsync(PacketSealer? sealer, CompressionMethod compression, Action? written, CancellationToken cancellationToken)
    {
        await _writeLock.EnterAsync(cancellationToken).ConfigureAwait(false);
        KeyExchangeHold? hold = null;
        try
        {
            if (sealer is not null)
            {
                PacketSealer? old = _transport.Outbound.Pending;
                _transport.Outbound.Pending = sealer;
                _transport.Outbound.PendingCompression = compression;
                old?.Dispose();
            }

            WriteUnsynchronized(s_newKeysPayload, s_copyPayload, 1);
            written?.Invoke();
            hold = _kexHold;
            _kexHold = null;
            if (hold is not null)
            {
                while (hold.TryDequeue(out byte[]? array, out int length))
                {
                    try
                    {
                        WriteUnsynchronized(new ReadOnlyMemory<byte>(array, 0, length), s_copyPayload, length);
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(array, clearArray: true);
                    }
                }
            }

            await FlushOutputAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            hold?.Fail(e);
            throw;
        }
        finally
        {
            _writeLock.Exit();
            hold?.End();
        }
    }

    /// <summary>Fails every writer waiting on the hold and drops what was queued (the connection is going down).</summary>
    internal void FailHeldWrites(Exception error) => Interlocked.Exchange(ref _kexHold, null)?.Fail(error);

    private static readonly ReadOnlyMemory<byte> s_newKeysPayload = new byte[] { SshMessageNumber.NewKeys };

    /// <summary>How a write relates to the key-exchange hold.</summary>
    private enum Gate
    {
        /// <summary>A transport or key-exchange message: never held.</summary>
        None,

        /// <summary>An upper-layer message: queued up to the hold's limit, then waits.</summary>
        Bounded,

        /// <summary>An upper-layer message that must not wait: always queued.</summary>
        Unbounded,
    }

    private ValueTask<SshWriteResult> WriteCore<TState>(TState state, SshPayloadWriter<TState> writePayload, int payloadSizeHint, bool flush, Gate gate, CancellationToken cancellationToken)
    {
        bool gated = gate != Gate.None;
        if (gated && Volatile.Read(ref _kexHold) is not null)
        {
            return WriteContendedAsync(state, writePayload, payloadSizeHint, flush, gate, counted: false, holdsLock: false, cancellationToken);
        }

        Interlocked.Increment(ref _queuedWriters);
        if (!_writeLock.TryEnter())
        {
            return WriteContendedAsync(state, writePayload, payloadSizeHint, flush, gate, counted: true, holdsLock: false, cancellationToken);
        }

        if (gated && _kexHold is not null)
        {
            return WriteContendedAsync(state, writePayload, payloadSizeHint, flush, gate, counted: true, holdsLock: true, cancellationToken);
        }

        SshWriteResult written;
        try
        {
            written = WriteUnsynchronized(state, writePayload, payloadSizeHint);
        }
        catch
        {
            Interlocked.Decrement(ref _queuedWriters);
            _writeLock.Exit();
            throw;
        }

        return ReleaseAfterWrite(written, flush, cancellationToken);
    }

    /// <summary>
    /// Writes <paramref name="count"/> packets of <paramref name="payloadLength"/>-byte payloads sealed together where
    /// the sealer gains from it (<see cref="PacketWriter.WriteBatch"/>): taken when the lock is free and no key exchange
    /// holds writes, otherwise the packets are written one by one. Gated like <see cref="WriteGatedAsync"/>.
    /// </summary>
    /// <returns>Whether a rekey is due.</returns>
    internal ValueTask<bool> WriteBatchGatedAsync<TState>(TState state, int count, int payloadLength, SshBatchPayloadWriter<TState> writePayload, bool flush, CancellationToken cancellationToken)
    {
        if (count > 1 && count <= PacketWriter.MaxBatchPackets && _writer.CanWriteBatch && Volatile.Read(ref _kexHold) is null)
        {
            Interlocked.Increment(ref _queuedWriters);
            if (_writeLock.TryEnter())
            {
                if (_kexHold is null && _writer.CanWriteBatch)
                {
                    SshWriteResult written;
                    try
                    {
                        ObjectDisposedException.ThrowIf(_disposed != 0, this);
                        uint last = _writer.WriteBatch(_output, state, count, payloadLength, writePayload);
                        written = new SshWriteResult(last, _transport.Rekey.NeedRekey);
                    }
                    catch
                    {
                        Interlocked.Decrement(ref _queuedWriters);
                        _writeLock.Exit();
                        throw;
                    }

                    return NeedRekeyOf(ReleaseAfterWrite(written, flush, cancellationToken));
                }

                _writeLock.Exit();
            }

            // Whoever left its flush to us on seeing our count is served by the last write below, which flushes.
            Interlocked.Decrement(ref _queuedWriters);
        }

        return WriteOneByOneAsync(state, count, payloadLength, writePayload, flush, cancellationToken);
    }

    /// <summary>Whether a write reported a rekey due, without an await when it completed at once.</summary>
    private static ValueTask<bool> NeedRekeyOf(ValueTask<SshWriteResult> writing)
    {
        return writing.IsCompletedSuccessfully ? new ValueTask<bool>(writing.Result.NeedRekey) : AwaitNeedRekeyAsync(writing);

        static async ValueTask<bool> AwaitNeedRekeyAsync(ValueTask<SshWriteResult> writing) => (await writing.ConfigureAwait(false)).NeedRekey;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> WriteOneByOneAsync<TState>(TState state, int count, int payloadLength, SshBatchPayloadWriter<TState> writePayload, bool flush, CancellationToken cancellationToken)
    {
        bool needRekey = false;
        for (int i = 0; i < count; i++)
        {
            needRekey |= await WriteGatedAsync((state, i, writePayload), static (w, s) => s.writePayload(w, s.state, s.i), payloadLength, cancellationToken, flush: flush && i == count - 1).ConfigureAwait(false);
        }

        return needRekey;
    }

    /// <summary>
    /// After a write under the lock: flush unless a writer queued behind us will (coalesced flushes), then release.
    /// </summary>
    private ValueTask<SshWriteResult> ReleaseAfterWrite(SshWriteResult written, bool flush, CancellationToken cancellationToken)
    {
        // Coalesce flushes: a writer already queued behind us will flush this packet with its own.
        bool othersWaiting = Interlocked.Decrement(ref _queuedWriters) > 0;
        if (othersWaiting || !(flush || _flushOwed))
        {
            _flushOwed |= othersWaiting && flush;
            _writeLock.Exit();
            return new ValueTask<SshWriteResult>(written);
        }

        ValueTask<FlushResult> flushing;
        try
        {
            _flushOwed = false;
            Touch();
            flushing = _output.FlushAsync(cancellationToken);
        }
        catch
        {
            _writeLock.Exit();
            throw;
        }

        if (flushing.IsCompletedSuccessfully)
        {
            FlushResult flushed = flushing.Result;
            if (IsStaleCancel(flushed, cancellationToken))
            {
                return AwaitFlushAndReleaseAsync(_output.FlushAsync(cancellationToken), written, cancellationToken);
            }

            _writeLock.Exit();
            ThrowIfOutputClosed(flushed);
            return new ValueTask<SshWriteResult>(written);
        }

        return AwaitFlushAndReleaseAsync(flushing, written, cancellationToken);
    }

    /// <summary>Writes one packet with a payload the caller already holds (copied once, into the pipe's memory).</summary>
    /// <param name="payload">The payload, message number first.</param>
    /// <param name="cancellationToken">Cancels waiting for other writers and for the flush.</param>
    /// <returns>The packet's sequence number and whether a rekey is due.</returns>
    public ValueTask<SshWriteResult> WritePacketAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        WritePacketAsync(payload, s_copyPayload, payload.Length, flush: true, cancellationToken);

    /// <summary>
    /// The payload writer of <see cref="WritePacketAsync(ReadOnlyMemory{byte}, CancellationToken)"/>; recognized by
    /// identity so a sealer that can read its input from elsewhere encrypts the payload straight from the caller's
    /// memory into the pipe's (no plaintext copy).
    /// </summary>
    private static readonly SshPayloadWriter<ReadOnlyMemory<byte>> s_copyPayload = static (writer, p) => writer.Write(p.Span);

    /// <summary>Sends whatever packets were written without a flush.</summary>
    /// <param name="cancellationToken">Cancels waiting for writers and for the flush.</param>
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        await _writeLock.EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await FlushOutputAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Exit();
        }
    }

    /// <summary>
    /// The slow path: wait for the lock; a gated write under a key-exchange hold is queued, or, with the queue full,
    /// waits for room. Whoever leaves the writer count last while holding the lock flushes, so a coalesced flush is
    /// never lost, not even when a gated writer queues or backs off.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<SshWriteResult> WriteContendedAsync<TState>(TState state, SshPayloadWriter<TState> writePayload, int payloadSizeHint, bool flush, Gate gate, bool counted, bool holdsLock, CancellationToken cancellationToken)
    {
        bool gated = gate != Gate.None;
        while (true)
        {
            if (!holdsLock)
            {
                if (!counted)
                {
                    Interlocked.Increment(ref _queuedWriters);
                    counted = true;
                }

                try
                {
                    await _writeLock.EnterAsync(cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    Interlocked.Decrement(ref _queuedWriters);
                    throw;
                }
            }

            holdsLock = false;
            Task room;
            try
            {
                ObjectDisposedException.ThrowIf(_disposed != 0, this);
                if (!gated || _kexHold is not { } hold)
                {
                    SshWriteResult written;
                    try
                    {
                        written = WriteUnsynchronized(state, writePayload, payloadSizeHint);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _queuedWriters);
                    }

                    bool othersWaiting = Volatile.Read(ref _queuedWriters) > 0;
                    if (othersWaiting)
                    {
                        _flushOwed |= flush;
                    }
                    else if (flush || _flushOwed)
                    {
                        await FlushOutputAsync(cancellationToken).ConfigureAwait(false);
                    }

                    return written;
                }

                counted = false;
                bool last = Interlocked.Decrement(ref _queuedWriters) == 0;
                bool queued = hold.TryEnqueue(state, writePayload, payloadSizeHint, MaxPayloadLength, force: gate == Gate.Unbounded);
                if (last)
                {
                    // Packets written by writers that left their flush to us still go out now.
                    await FlushOutputAsync(cancellationToken).ConfigureAwait(false);
                }

                if (queued)
                {
                    return new SshWriteResult(0, needRekey: false);
                }

                room = hold.Room;
            }
            finally
            {
                _writeLock.Exit();
            }

            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<SshWriteResult> AwaitFlushAndReleaseAsync(ValueTask<FlushResult> flushing, SshWriteResult written, CancellationToken cancellationToken)
    {
        try
        {
            FlushResult flushed = await flushing.ConfigureAwait(false);
            while (IsStaleCancel(flushed, cancellationToken))
            {
                flushed = await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            ThrowIfOutputClosed(flushed);
            return written;
        }
        finally
        {
            _writeLock.Exit();
        }
    }

    private SshWriteResult WriteUnsynchronized<TState>(TState state, SshPayloadWriter<TState> writePayload, int payloadSizeHint)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        uint sequenceNumber;
        if (typeof(TState) == typeof(ReadOnlyMemory<byte>) && ReferenceEquals(writePayload, s_copyPayload) && _writer.CanWriteFrom)
        {
            sequenceNumber = _writer.WritePacketFrom(_output, Unsafe.As<TState, ReadOnlyMemory<byte>>(ref state).Span);
        }
        else
        {
            _writer.BeginPacket(_output, payloadSizeHint);
            try
            {
                writePayload(_writer, state);
            }
            catch
            {
                _writer.AbandonPacket();
                throw;
            }

            sequenceNumber = _writer.FinishPacket();
        }

        if (_writer.LastMessageNumber == SshMessageNumber.KexInit)
        {
            Volatile.Write(ref _lastKexInitSequence, sequenceNumber);
        }
        else if (_writer.LastMessageNumber == SshMessageNumber.UserAuthSuccess && SwitchesCompressionAtUserAuthSuccess && _role == SshRole.Server)
        {
            // zlib@openssh.com starts with the packet after USERAUTH_SUCCESS, both ways: switched here, under the
            // write lock, so neither a queued SUCCESS nor a reply racing the caller's own call can miss it.
            _transport.EnableDelayedCompression(inbound: true, outbound: true);
        }

        // The per-packet accounting already checked the time limit: no second clock read here.
        return new SshWriteResult(sequenceNumber, _transport.Rekey.NeedRekey);
    }

    /// <summary>
    /// Takes the memory behind the payload of the packet read last, so it stays valid while reading goes on; see
    /// <see cref="PacketReader.Detach"/>. The array comes from <see cref="ArrayPool{T}.Shared"/>.
    /// </summary>
    internal (byte[] Array, int Offset) DetachPayload(ReadOnlyMemory<byte> payload) => _reader.Detach(payload);

    /// <summary>Wakes a pending read, which then throws <see cref="OperationCanceledException"/>; used to stop a reader loop.</summary>
    internal void CancelPendingRead()
    {
        Volatile.Write(ref _readCancelRequested, 1);
        _input.CancelPendingRead();
    }

    /// <summary>The sequence number our last KEXINIT went out with (set under the write lock, before the flush).</summary>
    internal uint LastKexInitSequenceNumber => Volatile.Read(ref _lastKexInitSequence);

    /// <summary>Prepares the keys the peer's next NEWKEYS switches to (set_inbound_cipher); replaces any prepared before.</summary>
    internal void SetPendingInbound(PacketOpener opener, CompressionMethod compression = CompressionMethod.None)
    {
        ArgumentNullException.ThrowIfNull(opener);
        PacketOpener? old = _transport.Inbound.Pending;
        _transport.Inbound.Pending = opener;
        _transport.Inbound.PendingCompression = compression;
        old?.Dispose();
    }

    /// <summary>Prepares the keys our next NEWKEYS switches to (set_outbound_cipher); replaces any prepared before.</summary>
    internal void SetPendingOutbound(PacketSealer sealer, CompressionMethod compression = CompressionMethod.None)
    {
        ArgumentNullException.ThrowIfNull(sealer);
        _writeLock.Enter();
        try
        {
            PacketSealer? old = _transport.Outbound.Pending;
            _transport.Outbound.Pending = sealer;
            _transport.Outbound.PendingCompression = compression;
            old?.Dispose();
        }
        finally
        {
            _writeLock.Exit();
        }
    }

    /// <summary>
    /// Tells the transport that user authentication succeeded, which starts "zlib@openssh.com" compression where it
    /// was negotiated. Call it on the server right after writing SSH_MSG_USERAUTH_SUCCESS, and on the client right
    /// after reading it, before the next read (OpenSSH does the same).
    /// </summary>
    public void EnableDelayedCompression()
    {
        _writeLock.Enter();
        try
        {
            _transport.EnableDelayedCompression(inbound: true, outbound: true);
        }
        finally
        {
            _writeLock.Exit();
        }
    }

    /// <summary>
    /// Calls <paramref name="callback"/> whenever <paramref name="interval"/> passes in which no bytes arrived and
    /// nothing was flushed (the set_keepalive of paramiko's Packetizer). Packets parsed later from bytes that arrived
    /// earlier are not new activity. The callback typically sends an SSH_MSG_IGNORE or a global
    /// request; exceptions it throws are logged. <see cref="TimeSpan.Zero"/> or
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns keepalive off.
    /// </summary>
    /// <param name="interval">The idle time that triggers the callback.</param>
    /// <param name="callback">What to do; given a token that is cancelled when the packetizer is disposed.</param>
    public void SetKeepAlive(TimeSpan interval, Func<CancellationToken, ValueTask>? callback)
    {
        _keepAliveTimer?.Dispose();
        _keepAliveTimer = null;
        if (callback is null || interval <= TimeSpan.Zero || interval == Timeout.InfiniteTimeSpan)
        {
            _keepAliveCallback = null;
            return;
        }

        _keepAliveInterval = interval;
        _keepAliveCallback = callback;
        _keepAliveTimer = _options.TimeProvider.CreateTimer(static s => ((SshPacketizer)s!).OnKeepAliveTimer(), this, interval, Timeout.InfiniteTimeSpan);
    }

    private void OnKeepAliveTimer()
    {
        ITimer? timer = _keepAliveTimer;
        Func<CancellationToken, ValueTask>? callback = _keepAliveCallback;
        if (timer is null || callback is null || _disposed != 0)
        {
            return;
        }

        TimeSpan idle = _options.TimeProvider.GetElapsedTime(Volatile.Read(ref _transport.LastActivity));
        if (idle < _keepAliveInterval)
        {
            timer.Change(_keepAliveInterval - idle, Timeout.InfiniteTimeSpan);
            return;
        }

        Log.KeepAlive(_transport.Logger, idle);
        Touch();
        _ = RunKeepAliveAsync(callback, timer);
    }

    private async Task RunKeepAliveAsync(Func<CancellationToken, ValueTask> callback, ITimer timer)
    {
        try
        {
            await callback(_disposeCts.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.KeepAliveFailed(_transport.Logger, e);
        }

        if (_disposed == 0 && ReferenceEquals(timer, _keepAliveTimer))
        {
            try
            {
                timer.Change(_keepAliveInterval, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // SetKeepAlive or dispose replaced the timer meanwhile.
            }
        }
    }

    /// <summary>
    /// Starts the handshake deadline (start_handshake): if <see cref="CompleteHandshake"/> is not called within
    /// <paramref name="timeout"/>, the pending or next read fails with <see cref="SshTimeoutException"/>.
    /// </summary>
    /// <param name="timeout">The time the handshake may take.</param>
    public void StartHandshake(TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        if (Interlocked.CompareExchange(ref _handshakeDeadline, Running, Idle) != Idle)
        {
            throw new InvalidOperationException("The handshake deadline was already started.");
        }

        _handshakeTimeout = timeout;
        _handshakeTimer = _options.TimeProvider.CreateTimer(static s => ((SshPacketizer)s!).OnHandshakeTimeout(), this, timeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Stops the handshake deadline (complete_handshake). Has no effect if it already passed.</summary>
    public void CompleteHandshake()
    {
        Interlocked.CompareExchange(ref _handshakeDeadline, Done, Running);
        _handshakeTimer?.Dispose();
        _handshakeTimer = null;
    }

    private void OnHandshakeTimeout()
    {
        if (Interlocked.CompareExchange(ref _handshakeDeadline, Expired, Running) == Running)
        {
            Log.HandshakeTimedOut(_transport.Logger, _handshakeTimeout);
            _input.CancelPendingRead();
        }
    }

    private void StartIdentificationDeadline()
    {
        TimeSpan timeout = _options.IdentificationTimeout;
        if (timeout == Timeout.InfiniteTimeSpan || timeout <= TimeSpan.Zero || Volatile.Read(ref _handshakeDeadline) == Running)
        {
            return;
        }

        _identificationDeadline = Running;
        _identificationTimer = _options.TimeProvider.CreateTimer(
            static s =>
            {
                var self = (SshPacketizer)s!;
                if (Interlocked.CompareExchange(ref self._identificationDeadline, Expired, Running) == Running)
                {
                    self._input.CancelPendingRead();
                }
            },
            this,
            timeout,
            Timeout.InfiniteTimeSpan);
    }

    private void StopIdentificationDeadline()
    {
        _identificationTimer?.Dispose();
        _identificationTimer = null;
        if (Interlocked.CompareExchange(ref _identificationDeadline, Done, Running) == Expired)
        {
            // The timer fired as the line arrived: a cancellation is pending on the pipe, so end here cleanly.
            throw IdentificationTimeoutError();
        }
    }

    [DoesNotReturn]
    private void ThrowReadCanceled()
    {
        if (Volatile.Read(ref _handshakeDeadline) == Expired)
        {
            throw HandshakeTimeoutError();
        }

        if (Volatile.Read(ref _identificationDeadline) == Expired)
        {
            throw IdentificationTimeoutError();
        }

        throw new OperationCanceledException("The read was cancelled.");
    }

    // Neither sends DISCONNECT: before the identification exchange a binary packet means nothing to the peer, and
    // OpenSSH's LoginGraceTime closes silently too.
    private SshTimeoutException IdentificationTimeoutError() =>
        new(SshTimeoutKind.Identification, _options.IdentificationTimeout, SshDisconnectReason.ConnectionLost, $"The peer's identification line did not arrive within {_options.IdentificationTimeout}.");

    private SshTimeoutException HandshakeTimeoutError() =>
        new(SshTimeoutKind.Handshake, _handshakeTimeout, SshDisconnectReason.ConnectionLost, $"The SSH handshake did not complete within {_handshakeTimeout}.");

    /// <summary>Flushes the output; a stale cancellation (see <see cref="IsStaleCancel"/>) is flushed again.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushOutputAsync(CancellationToken cancellationToken)
    {
        _flushOwed = false;
        Touch();
        FlushResult flushed = await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        while (IsStaleCancel(flushed, cancellationToken))
        {
            flushed = await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        ThrowIfOutputClosed(flushed);
    }

    /// <summary>
    /// A flush that reports cancellation although neither disposal nor this caller's token asked for it. A pipe writer
    /// turns a flush's token into CancelPendingFlush, which, when the token fires just as that flush finishes, stays
    /// pending and cancels the next flush: another writer's, whose packet is in the pipe and must still go out.
    /// </summary>
    private bool IsStaleCancel(FlushResult flushed, CancellationToken cancellationToken) =>
        flushed.IsCanceled && Volatile.Read(ref _disposed) == 0 && !cancellationToken.IsCancellationRequested;

    private static void ThrowIfOutputClosed(FlushResult flushed)
    {
        if (flushed.IsCanceled)
        {
            throw new OperationCanceledException("The flush was cancelled.");
        }

        if (flushed.IsCompleted)
        {
            throw new SshProtocolException(SshDisconnectReason.ConnectionLost, "The connection was closed by the peer.");
        }
    }

    private void Touch() => _transport.Touch();

    /// <summary>Stops the timers, completes both ends of the pipe, and zeroes keys and buffers.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _disposeCts.CancelAsync().ConfigureAwait(false);
        _keepAliveTimer?.Dispose();
        _handshakeTimer?.Dispose();
        _identificationTimer?.Dispose();
        _batchHoldTimer?.Dispose();
        _output.CancelPendingFlush();
        FailHeldWrites(new ObjectDisposedException(nameof(SshPacketizer)));
        await _writeLock.EnterAsync().ConfigureAwait(false);
        try
        {
            ReleaseHeldBufferQuietly();

            // Output first: both ends often wrap one stream (a socket), and completing the reader disposes it, after
            // which the writer's final flush would throw. A connection already gone must not make disposal throw.
            await CompleteQuietlyAsync(_output.CompleteAsync()).ConfigureAwait(false);
            await CompleteQuietlyAsync(_input.CompleteAsync()).ConfigureAwait(false);
            _reader.Dispose();
            _writer.Dispose();
            _transport.Dispose();
        }
        finally
        {
            _writeLock.Exit();
            _disposeCts.Dispose();
        }
    }

    private static async ValueTask CompleteQuietlyAsync(ValueTask completing)
    {
        try
        {
            await completing.ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The transport underneath is already closed or broken; there is nothing left to flush to.
        }
    }

    private void ReleaseHeldBufferQuietly()
    {
        try
        {
            ReleaseHeldBuffer();
        }
        catch (InvalidOperationException)
        {
            // The reader was already completed by its owner.
        }
    }
}
