using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Ssh.Transport;

/// <summary>
/// Produces the content of a "string" that <see cref="SshWriter.WriteString{TState}(int, TState, SshStringContent{TState})"/>
/// writes in place.
/// </summary>
/// <typeparam name="TState">What the content is made from; may be a ref struct, such as a span.</typeparam>
/// <param name="writer">A writer over the string's content, at most the declared maximum length.</param>
/// <param name="state">The state passed to WriteString.</param>
public delegate void SshStringContent<TState>(ref SshWriter writer, TState state)
    where TState : allows ref struct;

/// <summary>
/// Writes the data types of RFC 4251 §5 into an <see cref="IBufferWriter{T}"/>, typically straight into a packet's
/// payload in the pipe's memory, or into a fixed span.
/// </summary>
/// <remarks>
/// A "string" that itself holds SSH data (a signature blob: string algorithm, string signature) is written in place,
/// with no second buffer, by <see cref="WriteString{TState}(int, TState, SshStringContent{TState})"/>: the content
/// goes straight into the output, and its length is filled in before it.
/// </remarks>
public ref struct SshWriter
{
    private readonly IBufferWriter<byte>? _output;
    private readonly Span<byte> _destination;
    private long _written;

    /// <summary>Creates a writer over <paramref name="output"/>.</summary>
    /// <param name="output">Where the bytes go.</param>
    public SshWriter(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
        _written = 0;
    }

    /// <summary>Creates a writer over a fixed span: writing past its end throws <see cref="InvalidOperationException"/>.</summary>
    /// <param name="destination">Where the bytes go, from its start.</param>
    public SshWriter(Span<byte> destination)
    {
        _output = null;
        _destination = destination;
        _written = 0;
    }

    /// <summary>The number of bytes written by this writer.</summary>
    public readonly long BytesWritten => _written;

    /// <summary>Writes one byte.</summary>
    /// <param name="value">The byte.</param>
    public void WriteByte(byte value)
    {
        GetSpan(1)[0] = value;
        Advance(1);
    }

    /// <summary>Writes a boolean as one byte, 1 or 0.</summary>
    /// <param name="value">The value.</param>
    public void WriteBoolean(bool value) => WriteByte(value ? (byte)1 : (byte)0);

    /// <summary>Writes a big-endian uint32.</summary>
    /// <param name="value">The value.</param>
    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(GetSpan(4), value);
        Advance(4);
    }

    /// <summary>Writes a big-endian uint64.</summary>
    /// <param name="value">The value.</param>
    public void WriteUInt64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(GetSpan(8), value);
        Advance(8);
    }

    /// <summary>Writes raw bytes with no length prefix.</summary>
    /// <param name="value">The bytes.</param>
    public void WriteBytes(scoped ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return;
        }

        Span<byte> span = GetSpan(value.Length);
        value.CopyTo(span);
        Advance(value.Length);
    }

    /// <summary>Writes an RFC 4251 "string": uint32 length, then the bytes.</summary>
    /// <param name="value">The bytes.</param>
    public void WriteString(scoped ReadOnlySpan<byte> value)
    {
        Span<byte> span = GetSpan(4 + value.Length);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)value.Length);
        value.CopyTo(span[4..]);
        Advance(4 + value.Length);
    }

    /// <summary>Writes a "string" holding <paramref name="value"/> encoded as UTF-8.</summary>
    /// <param name="value">The text.</param>
    public void WriteString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        int length = Encoding.UTF8.GetByteCount(value);
        Span<byte> span = GetSpan(4 + length);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)length);
        Encoding.UTF8.GetBytes(value, span[4..]);
        Advance(4 + length);
    }

    /// <summary>
    /// Writes an "mpint" from an unsigned big-endian magnitude: leading zero bytes are dropped and a zero byte is
    /// added where the top bit is set, as RFC 4251 §5 requires.
    /// </summary>
    /// <param name="magnitude">The unsigned number, big-endian.</param>
    public void WriteUnsignedMPInt(scoped ReadOnlySpan<byte> magnitude)
    {
        int first = magnitude.IndexOfAnyExcept((byte)0);
        magnitude = first < 0 ? [] : magnitude[first..];
        bool pad = !magnitude.IsEmpty && (magnitude[0] & 0x80) != 0;
        int length = magnitude.Length + (pad ? 1 : 0);
        Span<byte> span = GetSpan(4 + length);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)length);
        if (pad)
        {
            span[4] = 0;
        }

        magnitude.CopyTo(span[(pad ? 5 : 4)..]);
        Advance(4 + length);
    }

    /// <summary>Writes an "mpint" from a <see cref="BigInteger"/>, in minimal two's complement form.</summary>
    /// <param name="value">The number.</param>
    public void WriteMPInt(BigInteger value)
    {
        if (value.IsZero)
        {
            WriteUInt32(0);
            return;
        }

        int length = value.GetByteCount(isUnsigned: false);
        Span<byte> span = GetSpan(4 + length);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)length);
        value.TryWriteBytes(span.Slice(4, length), out _, isUnsigned: false, isBigEndian: true);
        Advance(4 + length);
    }

    /// <summary>Writes a "name-list" from names (US-ASCII, non-empty, no commas).</summary>
    /// <param name="names">The names, in order.</param>
    /// <exception cref="ArgumentException">A name is empty or contains a comma or non-ASCII character.</exception>
    public void WriteNameList(scoped ReadOnlySpan<string> names)
    {
        int length = names.Length == 0 ? 0 : names.Length - 1;
        foreach (string name in names)
        {
            if (string.IsNullOrEmpty(name) || name.Contains(',', StringComparison.Ordinal) || !Ascii.IsValid(name))
            {
                throw new ArgumentException($"'{name}' is not a valid name for a name-list.", nameof(names));
            }

            length += name.Length;
        }

        Span<byte> span = GetSpan(4 + length);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)length);
        int offset = 4;
        for (int i = 0; i < names.Length; i++)
        {
            if (i > 0)
            {
                span[offset++] = (byte)',';
            }

            offset += Encoding.ASCII.GetBytes(names[i], span[offset..]);
        }

        Advance(4 + length);
    }

    /// <summary>
    /// Writes a "string" whose content <paramref name="content"/> writes in place: no second buffer, the length is
    /// filled in once the content is known. For a string that holds SSH data itself, such as a signature blob.
    /// </summary>
    /// <typeparam name="TState">What the content is made from; may be a ref struct, such as a span.</typeparam>
    /// <param name="maxLength">
    /// The most bytes the content can take. That much room (plus 4) must be found in one piece of the output; only
    /// what is written is committed.
    /// </param>
    /// <param name="state">Passed to <paramref name="content"/>, so that it need capture nothing.</param>
    /// <param name="content">Writes the content with the writer it is given.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is negative or above 2^31 - 5.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="content"/> is null.</exception>
    /// <exception cref="InvalidOperationException">
    /// The content is longer than <paramref name="maxLength"/>, or this writer is over a span with too little room left.
    /// </exception>
    /// <remarks>
    /// If <paramref name="content"/> throws, nothing is committed to the output: the string is written whole or not at all.
    /// </remarks>
    public void WriteString<TState>(int maxLength, TState state, SshStringContent<TState> content)
        where TState : allows ref struct
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLength, int.MaxValue - 4);
        ArgumentNullException.ThrowIfNull(content);

        // One piece for the length and the largest content, then back-fill the length: an IBufferWriter gives no way
        // back to bytes already advanced past.
        Span<byte> span = GetSpan(4 + maxLength);
        var inner = new SshWriter(span.Slice(4, maxLength));
        content(ref inner, state);
        int length = (int)inner._written;
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)length);
        Advance(4 + length);
    }

    /// <summary>
    /// At least <paramref name="sizeHint"/> bytes of room, not yet committed: write into it, then call
    /// <see cref="Advance"/>.
    /// </summary>
    internal readonly Span<byte> GetSpan(int sizeHint)
    {
        if (_output is not null)
        {
            return _output.GetSpan(sizeHint);
        }

        Span<byte> rest = _destination[(int)_written..];
        if (rest.Length < sizeHint)
        {
            throw new InvalidOperationException(
                $"The writer's span is full: {sizeHint} bytes do not fit in the {rest.Length} left of {_destination.Length}.");
        }

        return rest;
    }

    /// <summary>Commits <paramref name="count"/> bytes written into the span of <see cref="GetSpan"/>.</summary>
    internal void Advance(int count)
    {
        _output?.Advance(count);
        _written += count;
    }
}
