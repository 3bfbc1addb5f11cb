using System.Buffers;
using System.Buffers.Binary;
using Ssh.Transport.Compression;
using Ssh.Transport.Crypto;

namespace Ssh.Transport.Framing;

/// <summary>
/// Builds SSH binary packets (RFC 4253 §6) directly in the output's memory: the caller writes the payload through
/// this <see cref="IBufferWriter{T}"/>, then <see cref="FinishPacket"/> writes the length and padding and seals the
/// packet in place. No intermediate payload buffer.
/// </summary>
/// <remarks>
/// Not thread-safe: the packetizer serializes writers. Memory is reserved from the output with room for the header
/// (5 bytes), the largest padding and the tag. If the payload outgrows what the output gave, the bytes written so far
/// are moved once to a larger block: a good size hint avoids that.
/// </remarks>
internal sealed class PacketWriter : IBufferWriter<byte>, IDisposable
{
    /// <summary>uint32 packet_length + byte padding_length.</summary>
    private const int HeaderSize = 5;
    private const int DefaultPayloadHint = 256;

    /// <summary>The most packets <see cref="WriteBatch"/> takes at once.</summary>
    public const int MaxBatchPackets = 64;

    private readonly TransportState _transport;
    private readonly RandomPadding _padding = new();
    private readonly int _maxPacketLength;
    private readonly ScratchBufferWriter _scratch = new();
    private readonly FixedBufferWriter _compressed = new();
    private IBufferWriter<byte>? _pipe;
    private IBufferWriter<byte>? _output;
    private Memory<byte> _memory;
    private int _payloadLength;
    private int _tailReserve;

    public PacketWriter(TransportState transport)
    {
        _transport = transport;
        _maxPacketLength = transport.Options.MaxPacketLength;
    }

    /// <summary>The message number of the packet <see cref="FinishPacket"/> last wrote.</summary>
    public byte LastMessageNumber { get; private set; }

    /// <summary>The largest payload one packet may carry.</summary>
    public int MaxPayloadLength => _maxPacketLength - 1 - 4 - 32;

    /// <summary>Starts a packet in <paramref name="output"/>; the payload is then written through this object.</summary>
    /// <param name="output">Where the packet goes (the pipe).</param>
    /// <param name="payloadSizeHint">The expected payload size; 0 for a small default.</param>
    public void BeginPacket(IBufferWriter<byte> output, int payloadSizeHint)
    {
        if (_output is not null)
        {
            throw new InvalidOperationException("A packet is already being written.");
        }

        PacketSealer sealer = _transport.Outbound.Active;

        // Minimal padding is 4..BlockSize+3 bytes.
        _tailReserve = sealer.BlockSize + 3 + sealer.TagSize;
        int hint = Math.Clamp(payloadSizeHint <= 0 ? DefaultPayloadHint : payloadSizeHint, 1, MaxPayloadLength);
        _pipe = output;

        // With compression on, the payload is written to a scratch buffer and deflated into the pipe at the end.
        _output = _transport.Deflater is null ? output : _scratch;
        _memory = _output.GetMemory(HeaderSize + hint + _tailReserve);
        _payloadLength = 0;
    }

    /// <summary>Drops a packet whose payload writer failed; nothing reached the output.</summary>
    public void AbandonPacket()
    {
        _output = null;
        _pipe = null;
        _memory = default;
        _payloadLength = 0;
    }

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count > _memory.Length - _tailReserve - HeaderSize - _payloadLength)
        {
            throw new InvalidOperationException("Advanced past the end of the memory handed out.");
        }

        if (_payloadLength + count > MaxPayloadLength)
        {
            throw new InvalidOperationException($"An SSH packet payload may not exceed {MaxPayloadLength} bytes here.");
        }

        _payloadLength += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureCapacity(sizeHint);
        int start = HeaderSize + _payloadLength;
        return _memory[start..^_tailReserve];
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    private void EnsureCapacity(int sizeHint)
    {
        if (_output is null)
        {
            throw new InvalidOperationException("No packet is being written.");
        }

        int wanted = Math.Max(sizeHint, 1);
        int available = _memory.Length - _tailReserve - HeaderSize - _payloadLength;
        if (wanted <= available)
        {
            return;
        }

        if ((long)_payloadLength + wanted > MaxPayloadLength)
        {
            throw new InvalidOperationException($"An SSH packet payload may not exceed {MaxPayloadLength} bytes here.");
        }

        // Asking the output for a bigger block may hand our current block back to its pool, so the payload written
        // so far is set aside first. Rare: only when the size hint was too small.
        int newPayloadCapacity = (int)Math.Min(MaxPayloadLength, Math.Max((long)_payloadLength + wanted, 2L * _payloadLength));
        byte[] saved = ArrayPool<byte>.Shared.Rent(Math.Max(_payloadLength, 1));
        _memory.Span.Slice(HeaderSize, _payloadLength).CopyTo(saved);
        _memory = _output.GetMemory(HeaderSize + newPayloadCapacity + _tailReserve);
        saved.AsSpan(0, _payloadLength).CopyTo(_memory.Span[HeaderSize..]);
        ArrayPool<byte>.Shared.Return(saved, clearArray: true);
    }

    /// <summary>
    /// Completes the packet: length, padding length, random padding, then seals it in place and commits it to the
    /// output. Switches the outbound keys after a NEWKEYS.
    /// </summary>
    /// <returns>The packet's sequence number.</returns>
    /// <exception cref="InvalidOperationException">The payload is empty, or a NEWKEYS has no keys to switch to.</exception>
    public uint FinishPacket()
    {
        IBufferWriter<byte> output = _pipe ?? throw new InvalidOperationException("No packet is being written.");
        DirectionState<PacketSealer> state = _transport.Outbound;
        PacketSealer sealer = state.Active;
        int payloadLength = _payloadLength;
        Span<byte> span = _memory.Span;
        if (payloadLength == 0)
        {
            AbandonPacket();
            throw new InvalidOperationException("An SSH packet carries at least a message number.");
        }

        byte messageNumber = span[HeaderSize];
        LastMessageNumber = messageNumber;
        if (messageNumber == SshMessageNumber.NewKeys && state.Pending is null)
        {
            AbandonPacket();
            throw new InvalidOperationException("SSH_MSG_NEWKEYS written with no outbound keys prepared.");
        }

        uint sequenceNumber = state.SequenceNumber;
        Log.PacketWritten(_transport, sequenceNumber, messageNumber, span.Slice(HeaderSize, payloadLength));
        if (_transport.Deflater is { } deflater)
        {
            // Deflate from the scratch buffer into the pipe's memory; the bound covers zlib's worst-case growth.
            ReadOnlySpan<byte> uncompressed = span.Slice(HeaderSize, payloadLength);
            int bound = payloadLength + (payloadLength >> 10) + 64;
            _memory = output.GetMemory(HeaderSize + bound + _tailReserve);
            _compressed.Reset(_memory[HeaderSize..^_tailReserve]);
            payloadLength = deflater.Compress(uncompressed, _compressed);
            span = _memory.Span;
        }

        int packetLength = WriteHeaderAndPadding(sealer, span, payloadLength);
        int tagSize = sealer.TagSize;
        sealer.Seal(sequenceNumber, span[..(4 + packetLength)], span.Slice(4 + packetLength, tagSize));

        int total = 4 + packetLength + tagSize;
        output.Advance(total);
        AbandonPacket();
        return Complete(state, messageNumber, sequenceNumber, total);
    }

    /// <summary>
    /// True when <see cref="WritePacketFrom"/> can encrypt a payload straight from the caller's memory: no packet
    /// in progress, no compression, and a sealer that reads its input from elsewhere.
    /// </summary>
    public bool CanWriteFrom => _output is null && _transport.Deflater is null && _transport.Outbound.Active.CanSealFrom;

    /// <summary>
    /// Writes one packet whose payload the caller holds, encrypting it from there into the output's memory: the
    /// payload is never copied in plaintext (only the few bytes of blocks that straddle its edges).
    /// </summary>
    /// <returns>The packet's sequence number.</returns>
    public uint WritePacketFrom(IBufferWriter<byte> output, ReadOnlySpan<byte> payload)
    {
        DirectionState<PacketSealer> state = _transport.Outbound;
        PacketSealer sealer = state.Active;
        int payloadLength = payload.Length;
        if (payloadLength == 0)
        {
            throw new InvalidOperationException("An SSH packet carries at least a message number.");
        }

        if (payloadLength > MaxPayloadLength)
        {
            throw new InvalidOperationException($"An SSH packet payload may not exceed {MaxPayloadLength} bytes here.");
        }

        byte messageNumber = payload[0];
        if (messageNumber == SshMessageNumber.NewKeys && state.Pending is null)
        {
            throw new InvalidOperationException("SSH_MSG_NEWKEYS written with no outbound keys prepared.");
        }

        LastMessageNumber = messageNumber;
        uint sequenceNumber = state.SequenceNumber;
        Log.PacketWritten(_transport, sequenceNumber, messageNumber, payload);

        int tagSize = sealer.TagSize;
        Span<byte> span = output.GetSpan(HeaderSize + payloadLength + sealer.BlockSize + 3 + tagSize);
        int packetLength = WriteHeaderAndPadding(sealer, span, payloadLength);
        int total = 4 + packetLength + tagSize;
        sealer.SealFrom(sequenceNumber, span[..(4 + packetLength)], payload, span.Slice(4 + packetLength, tagSize));
        output.Advance(total);
        return Complete(state, messageNumber, sequenceNumber, total);
    }

    /// <summary>
    /// True when <see cref="WriteBatch"/> can seal packets together: no packet in progress, no compression, and a
    /// sealer that gains from it.
    /// </summary>
    public bool CanWriteBatch => _output is null && _transport.Deflater is null && _transport.Outbound.Active.SealsInBatches;

    /// <summary>
    /// Writes <paramref name="count"/> packets whose payloads are all <paramref name="payloadLength"/> bytes side by side
    /// in one block of <paramref name="output"/>, payload i written by <paramref name="writePayload"/>, then seals
    /// them together (<see cref="PacketSealer.SealBatch"/>) and commits them at once.
    /// </summary>
    /// <returns>The last packet's sequence number.</returns>
    /// <exception cref="InvalidOperationException">A payload writer wrote other than <paramref name="payloadLength"/> bytes, or a NEWKEYS; nothing was committed.</exception>
    public uint WriteBatch<TState>(IBufferWriter<byte> output, TState state, int count, int payloadLength, SshBatchPayloadWriter<TState> writePayload)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxBatchPackets);
        if (payloadLength < 1 || payloadLength > MaxPayloadLength)
        {
            throw new ArgumentOutOfRangeException(nameof(payloadLength), payloadLength, $"A payload of 1 to {MaxPayloadLength} bytes.");
        }

        DirectionState<PacketSealer> direction = _transport.Outbound;
        PacketSealer sealer = direction.Active;
        int packetSize = 4 + 1 + payloadLength + PaddingLength(sealer, payloadLength);
        int stride = packetSize + sealer.TagSize;
        Memory<byte> blockMemory = output.GetMemory(count * stride)[..(count * stride)];
        Span<byte> block = blockMemory.Span;
        Span<int> offsets = stackalloc int[count];
        Span<byte> messageNumbers = stackalloc byte[count]; // read before sealing: afterwards they are ciphertext
        uint first = direction.SequenceNumber;
        for (int i = 0; i < count; i++)
        {
            offsets[i] = i * stride;
            Span<byte> packet = block.Slice(offsets[i], packetSize);
            _compressed.Reset(blockMemory.Slice(offsets[i] + HeaderSize, payloadLength));
            writePayload(_compressed, state, i);
            if (_compressed.Written != payloadLength)
            {
                throw new InvalidOperationException($"Payload {i} of the batch is {_compressed.Written} bytes, not {payloadLength}.");
            }

            messageNumbers[i] = packet[HeaderSize];
            if (messageNumbers[i] == SshMessageNumber.NewKeys)
            {
                throw new InvalidOperationException("SSH_MSG_NEWKEYS cannot be written in a batch.");
            }

            WriteHeaderAndPadding(sealer, packet, payloadLength);
            Log.PacketWritten(_transport, first + (uint)i, packet[HeaderSize], packet.Slice(HeaderSize, payloadLength));
        }

        sealer.SealBatch(first, block, offsets, packetSize);
        output.Advance(count * stride);
        uint last = first;
        for (int i = 0; i < count; i++)
        {
            LastMessageNumber = messageNumbers[i];
            last = Complete(direction, messageNumbers[i], first + (uint)i, stride);
        }

        return last;
    }

    /// <summary>
    /// RFC 4253 §6: 4..255 bytes of random padding make the (length-field-inclusive for none and MtE) packet a
    /// multiple of the block size; we pad minimally, as OpenSSH does. Writes packet_length, padding_length and the
    /// padding around a payload of <paramref name="payloadLength"/> bytes at span[5..].
    /// </summary>
    /// <returns>packet_length.</returns>
    private int WriteHeaderAndPadding(PacketSealer sealer, Span<byte> span, int payloadLength)
    {
        int paddingLength = PaddingLength(sealer, payloadLength);
        int packetLength = 1 + payloadLength + paddingLength;
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)packetLength);
        span[4] = (byte)paddingLength;
        _padding.Fill(span.Slice(HeaderSize + payloadLength, paddingLength));
        return packetLength;
    }

    /// <summary>The minimal padding (4..BlockSize+3 bytes) for a payload of <paramref name="payloadLength"/> bytes.</summary>
    private static int PaddingLength(PacketSealer sealer, int payloadLength)
    {
        int blockSize = sealer.BlockSize;
        int unpadded = 1 + payloadLength + (sealer.AlignmentIncludesLengthField ? 4 : 0);
        int paddingLength = blockSize - (unpadded % blockSize);
        return paddingLength < 4 ? paddingLength + blockSize : paddingLength;
    }

    /// <summary>After a packet went out: sequence number, rekey accounting, key switch at NEWKEYS.</summary>
    private uint Complete(DirectionState<PacketSealer> state, byte messageNumber, uint sequenceNumber, int total)
    {
        state.CountPacket(total, "outbound");
        _transport.Rekey.Check(state, inbound: false);
        if (messageNumber == SshMessageNumber.NewKeys)
        {
            // RFC 4253 §7.3: keys are used from the packet after our NEWKEYS.
            _transport.SwitchOutboundKeys();
        }

        return sequenceNumber;
    }

    public void Dispose()
    {
        _padding.Dispose();
        _scratch.Dispose();
    }
}
