using System.Buffers;
using System.Runtime.InteropServices;
using Ssh.Transport.Crypto;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Framing;

/// <summary>
/// Parses SSH binary packets (RFC 4253 §6) from the front of a <see cref="ReadOnlySequence{T}"/>, for any split of
/// the input across segments.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="TryRead"/> returns false when more bytes are needed and consumes nothing; what it learnt of a partial
/// packet (its length, and for MAC-then-encrypt ciphers its decrypted first block, held by the opener) is kept for
/// the next call, which must start at the same packet.
/// </para>
/// <para>
/// The payload returned points either into the input (the "none" cipher, packet in one segment: no copy) or into
/// this reader's buffer (decrypted there: the one copy of each byte). Either way it is valid until the next call.
/// </para>
/// </remarks>
internal sealed class PacketReader : IDisposable
{
    /// <summary>padding_length (1) + at least 1 byte of payload + at least 4 bytes of padding.</summary>
    private const int MinimumPacketLength = 6;
    private const int MaxLengthPrefix = 32;

    private readonly TransportState _transport;
    private readonly int _maxPacketLength;
    private byte[] _buffer = [];
    private uint _packetLength;
    private bool _hasLength;
    private long _discardRemaining = -1;
    private uint _discardSequenceNumber;

    // The batch of tags the opener computed last (OpenVerifiedAhead): which packets, and where they lay.
    private uint _aheadFirst;
    private int _aheadCount;
    private PacketOpener? _aheadOpener;
    private object? _aheadSegment;
    private int _aheadIndex;
    private int _aheadStride;

    // Holding a packet back for a batch (TryRead's mayHold): the length of the packets read last and how many of that
    // length came in a row, and how many packets to read before holding again after a hold ran out.
    private int _runLength = -1;
    private int _runCount;
    private int _holdSkip;

    /// <summary>
    /// Packets of one length read in a row before the reader holds the next for a batch: only a bulk stream is held
    /// back, never a lone reply.
    /// </summary>
    internal const int RunBeforeHold = HmacSha256x16.MinLanesWorthIt;

    /// <summary>
    /// Packets read one at a time after a hold ran out, before holding again: a sender too slow to fill a batch within
    /// the hold is not held up on every packet.
    /// </summary>
    internal const int PacketsAfterExpiredHold = 256;

    public PacketReader(TransportState transport)
    {
        _transport = transport;
        _maxPacketLength = transport.Options.MaxPacketLength;
    }

    /// <summary>True when the start of a packet has been seen and its length is known, or input is being discarded.</summary>
    public bool InPacket => _hasLength || _discardRemaining >= 0;

    /// <summary>
    /// True when the last <see cref="TryRead"/> returned false holding back a whole packet for a batch; the caller
    /// waits for more input, but no longer than its hold, then calls <see cref="HoldExpired"/>.
    /// </summary>
    public bool Held { get; private set; }

    /// <summary>The hold ran out: the held packet is read now, and packets go one at a time for a while.</summary>
    public void HoldExpired()
    {
        Held = false;
        _holdSkip = PacketsAfterExpiredHold;
    }

    /// <summary>
    /// Whether to hold back the whole packet at the start of <paramref name="input"/> until a batch's worth of
    /// packets has arrived behind it: it belongs to a run of packets of its length (a bulk stream), no batch already
    /// covers it, too few lie behind it for one, and more can still arrive beside them: all input is in one segment,
    /// whose memory has room for a batch from this packet on (packets that start a new segment cannot join the batch,
    /// so there is no point waiting for them; Kestrel's 64 KiB blocks never hold a batch of 32 KiB packets).
    /// </summary>
    private bool ShouldHold(PacketOpener opener, uint sequenceNumber, in ReadOnlySequence<byte> input, int packetLength, int total) =>
        _holdSkip == 0 && _runLength == packetLength && _runCount >= RunBeforeHold && input.IsSingleSegment &&
        MemoryMarshal.TryGetArray(input.First, out ArraySegment<byte> segment) && segment.Array!.Length - segment.Offset >= (long)HmacSha256x16.MinLanesWorthIt * total &&
        !IsCovered(opener, sequenceNumber, input.Start, total) && opener.CountAhead(input.FirstSpan) < HmacSha256x16.MinLanesWorthIt;

    /// <summary>Whether the batch computed last holds the tag of this packet, lying where it did then.</summary>
    private bool IsCovered(PacketOpener opener, uint sequenceNumber, SequencePosition start, int total)
    {
        uint index = sequenceNumber - _aheadFirst;
        return index < (uint)_aheadCount && ReferenceEquals(opener, _aheadOpener) && total == _aheadStride &&
            ReferenceEquals(start.GetObject(), _aheadSegment) && start.GetInteger() == _aheadIndex + ((int)index * _aheadStride);
    }

    /// <summary>
    /// Opens a packet whose tag a batch computed, computing a batch from it when none covers it. A batch is used only
    /// for the very memory it was computed over: the same opener, pipe segment and offset. Received bytes never change
    /// in the pipe, and a segment is not reused until all of it, every packet of the batch included, has been consumed.
    /// </summary>
    private bool OpenVerifiedAhead(PacketOpener opener, uint sequenceNumber, in ReadOnlySequence<byte> input, ReadOnlySpan<byte> received, int packetLength, int tagSize, Span<byte> destination)
    {
        SequencePosition start = input.Start;
        bool covered = IsCovered(opener, sequenceNumber, start, received.Length);
        if (!covered)
        {
            _aheadCount = 0;
            _aheadOpener = null;
            _aheadSegment = null;
            int count = opener.VerifyAhead(sequenceNumber, input.FirstSpan);
            if (count > 0)
            {
                (_aheadFirst, _aheadCount, _aheadOpener, _aheadSegment, _aheadIndex, _aheadStride) = (sequenceNumber, count, opener, start.GetObject(), start.GetInteger(), received.Length);
                covered = true;
            }
        }

        ReadOnlySpan<byte> packet = received[..(4 + packetLength)];
        ReadOnlySpan<byte> tag = received.Slice(4 + packetLength, tagSize);
        return covered ? opener.TryOpenVerifiedAhead(sequenceNumber, packet, tag, destination) : opener.TryOpen(sequenceNumber, packet, tag, destination);
    }

    /// <summary>Tries to read one whole packet from the start of <paramref name="input"/>.</summary>
    /// <param name="input">The received bytes, starting at a packet boundary.</param>
    /// <param name="consumed">
    /// On success, the position just after the packet (MAC included). On false, how far the input may be released:
    /// its start, except while a bogus CBC packet is being discarded.
    /// </param>
    /// <param name="packet">On success, the packet.</param>
    /// <param name="mayHold">
    /// True to let a whole packet of a bulk stream wait for the packets behind it, so that their tags are computed
    /// together (<see cref="Held"/>); the caller bounds the wait.
    /// </param>
    /// <returns>True when a packet was read; false when more bytes are needed, or the packet is held.</returns>
    /// <exception cref="SshProtocolException">The packet is malformed, too long, or fails authentication.</exception>
    public bool TryRead(in ReadOnlySequence<byte> input, out SequencePosition consumed, out SshPacket packet, bool mayHold = false)
    {
        Held = false;
        DirectionState<PacketOpener> state = _transport.Inbound;
        PacketOpener opener = state.Active;
        uint sequenceNumber = state.SequenceNumber;
        if (_discardRemaining >= 0)
        {
            return Discard(input, opener, out consumed, out packet);
        }

        if (_transport.RetiredInflater is { } retired)
        {
            _transport.RetiredInflater = null;
            retired.Dispose();
        }

        if (!_hasLength)
        {
            int prefixSize = opener.LengthPrefixSize;
            if (input.Length < prefixSize)
            {
                return NeedMore(input, out consumed, out packet);
            }

            scoped ReadOnlySpan<byte> prefix = input.FirstSpan;
            Span<byte> copy = stackalloc byte[MaxLengthPrefix];
            if (prefix.Length < prefixSize)
            {
                input.Slice(0, prefixSize).CopyTo(copy);
                prefix = copy;
            }

            _packetLength = opener.DecryptLength(sequenceNumber, prefix[..prefixSize]);
            _hasLength = true;
            string? error = ValidateLength(_packetLength, opener);
            if (error is not null)
            {
                if (!opener.DiscardsOnBadLength)
                {
                    throw new SshProtocolException(SshDisconnectReason.ProtocolError, error);
                }

                // OpenSSH's countermeasure to length probing of CBC (Albrecht et al., 2009): read on to the packet
                // cap and compute a MAC before failing, so a bad length looks and times like a bad MAC.
                StartDiscard(sequenceNumber, alreadyRead: 0);
                return Discard(input, opener, out consumed, out packet);
            }
        }

        int packetLength = (int)_packetLength;
        int tagSize = opener.TagSize;
        int total = 4 + packetLength + tagSize;
        if (input.Length < total)
        {
            return NeedMore(input, out consumed, out packet);
        }

        ReadOnlySequence<byte> whole = input.Slice(0, total);
        if (mayHold && opener.VerifiesAhead && whole.IsSingleSegment && ShouldHold(opener, sequenceNumber, input, packetLength, total))
        {
            Held = true;
            return NeedMore(input, out consumed, out packet);
        }

        ReadOnlyMemory<byte> body;
        if (whole.IsSingleSegment && opener.IsPassThrough)
        {
            // "none": hand out the pipe's own bytes.
            body = whole.First.Slice(4, packetLength);
        }
        else
        {
            EnsureBuffer(total);
            ReadOnlySpan<byte> received;
            if (whole.IsSingleSegment)
            {
                received = whole.FirstSpan;
            }
            else
            {
                // Split across segments: gather once, then open in place.
                whole.CopyTo(_buffer);
                received = _buffer.AsSpan(0, total);
            }

            Span<byte> destination = _buffer.AsSpan(4, packetLength);
            bool authentic = whole.IsSingleSegment && opener.VerifiesAhead
                ? OpenVerifiedAhead(opener, sequenceNumber, input, received[..total], packetLength, tagSize, destination)
                : opener.TryOpen(sequenceNumber, received[..(4 + packetLength)], received.Slice(4 + packetLength, tagSize), destination);
            if (!authentic)
            {
                CryptographicZero(destination);
                if (opener.DiscardsOnBadLength)
                {
                    // CBC: a MAC failure discards like a bad length does, so the two cannot be told apart.
                    StartDiscard(sequenceNumber, alreadyRead: total);
                    return Discard(input.Slice(total), opener, out consumed, out packet);
                }

                throw new SshProtocolException(SshDisconnectReason.MacError, $"Packet {sequenceNumber} failed authentication ({opener.Name}).");
            }

            body = _buffer.AsMemory(4, packetLength);
        }

        _hasLength = false;
        ReadOnlySpan<byte> plain = body.Span;
        int paddingLength = plain[0];

        // RFC 4253 §6: at least four bytes of padding, and at least the message number as payload.
        if (paddingLength < 4)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Packet {sequenceNumber} has {paddingLength} bytes of padding; at least 4 are required.");
        }

        int payloadLength = packetLength - paddingLength - 1;
        if (payloadLength < 1)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Packet {sequenceNumber} has no payload (packet_length {packetLength}, padding_length {paddingLength}).");
        }

        ReadOnlyMemory<byte> payload = body.Slice(1, payloadLength);
        if (_transport.Inflater is { } inflater)
        {
            // RFC 4253 §6.2: compression applies to the payload only; MAC and padding were over the compressed form.
            payload = inflater.Decompress(payload);
            if (payload.IsEmpty)
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Packet {sequenceNumber} inflates to an empty payload.");
            }
        }

        state.CountPacket(total, "inbound");
        _transport.Rekey.Check(state, inbound: true);
        byte messageNumber = payload.Span[0];
        Log.PacketRead(_transport, sequenceNumber, messageNumber, payload.Span);
        if (messageNumber == SshMessageNumber.NewKeys)
        {
            _transport.SwitchInboundKeys();
        }

        if (packetLength == _runLength)
        {
            _runCount = Math.Min(_runCount + 1, RunBeforeHold);
        }
        else
        {
            (_runLength, _runCount) = (packetLength, 1);
        }

        _holdSkip = Math.Max(0, _holdSkip - 1);
        consumed = whole.End;
        packet = new SshPacket(payload, sequenceNumber, _transport.Rekey.NeedRekey);
        return true;
    }

    /// <returns>Null when the length is acceptable, otherwise what is wrong with it.</returns>
    private string? ValidateLength(uint packetLength, PacketOpener opener)
    {
        // Checked before anything is allocated or awaited: a declared 4 GiB costs nothing.
        if (packetLength > (uint)_maxPacketLength)
        {
            return $"Packet length {packetLength} exceeds the limit of {_maxPacketLength} bytes.";
        }

        if (packetLength < MinimumPacketLength)
        {
            return $"Packet length {packetLength} is too short for a packet.";
        }

        // RFC 4253 §6: the length (with the length field for none and MAC-then-encrypt; without it for AEAD and
        // EtM, where it is not encrypted with the payload) is a multiple of max(8, cipher block size).
        uint aligned = opener.AlignmentIncludesLengthField ? packetLength + 4 : packetLength;
        if (aligned % (uint)opener.BlockSize != 0)
        {
            return $"Packet length {packetLength} is not aligned to the {opener.BlockSize}-byte block of {opener.Name}.";
        }

        return null;
    }

    private void StartDiscard(uint sequenceNumber, long alreadyRead)
    {
        _hasLength = false;
        _discardSequenceNumber = sequenceNumber;
        _discardRemaining = Math.Max(0, 4L + _maxPacketLength - alreadyRead);
    }

    /// <summary>Consumes and MACs input until the discard quota is met, then fails as a bad MAC would.</summary>
    private bool Discard(in ReadOnlySequence<byte> input, PacketOpener opener, out SequencePosition consumed, out SshPacket packet)
    {
        ReadOnlySequence<byte> take = input.Slice(0, Math.Min(input.Length, _discardRemaining));
        foreach (ReadOnlyMemory<byte> segment in take)
        {
            opener.ComputeDiscardMac(_discardSequenceNumber, segment.Span);
        }

        _discardRemaining -= take.Length;
        if (_discardRemaining == 0)
        {
            throw new SshProtocolException(SshDisconnectReason.MacError, $"Packet {_discardSequenceNumber} failed authentication ({opener.Name}); its input was discarded.");
        }

        consumed = take.End;
        packet = default;
        return false;
    }

    private static bool NeedMore(in ReadOnlySequence<byte> input, out SequencePosition consumed, out SshPacket packet)
    {
        consumed = input.Start;
        packet = default;
        return false;
    }

    /// <summary>
    /// Takes ownership of the memory behind <paramref name="payload"/>, the payload of the packet this reader returned
    /// last, so it stays valid while reading goes on: the buffer it was decrypted into changes hands (no copy) and the
    /// next packet is decrypted into a fresh one; a payload in memory the reader does not own (the pipe's, under
    /// "none"; the inflater's) is copied once into a pooled array.
    /// </summary>
    /// <returns>The array (from <see cref="ArrayPool{T}.Shared"/>; return it with clearArray) and where the payload lies in it.</returns>
    public (byte[] Array, int Offset) Detach(ReadOnlyMemory<byte> payload)
    {
        if (MemoryMarshal.TryGetArray(payload, out ArraySegment<byte> segment) && ReferenceEquals(segment.Array, _buffer) && _buffer.Length > 0)
        {
            byte[] owned = _buffer;
            _buffer = [];
            return (owned, segment.Offset);
        }

        byte[] copy = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 256));
        payload.Span.CopyTo(copy);
        return (copy, 0);
    }

    private void EnsureBuffer(int size)
    {
        if (_buffer.Length >= size)
        {
            return;
        }

        byte[] old = _buffer;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 4096));
        if (old.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(old, clearArray: true);
        }
    }

    private static void CryptographicZero(Span<byte> span) => System.Security.Cryptography.CryptographicOperations.ZeroMemory(span);

    public void Dispose()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer, clearArray: true);
            _buffer = [];
        }
    }
}
