using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Ssh.Transport;

/// <summary>
/// Reads the data types of RFC 4251 §5 from a contiguous message payload, without allocating.
/// </summary>
/// <remarks>
/// A truncated or malformed value throws <see cref="SshProtocolException"/> with
/// <see cref="SshDisconnectReason.ProtocolError"/>; nothing is consumed by a failed read. Spans returned by
/// <see cref="ReadString"/> and friends point into the input and live as long as it does.
/// </remarks>
public ref struct SshReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    /// <summary>Creates a reader over <paramref name="data"/>.</summary>
    /// <param name="data">The bytes to read, typically a packet payload.</param>
    public SshReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    /// <summary>The number of bytes read so far.</summary>
    public readonly int Consumed => _position;

    /// <summary>The number of bytes not read yet.</summary>
    public readonly int Remaining => _data.Length - _position;

    /// <summary>True when every byte has been read.</summary>
    public readonly bool End => _position == _data.Length;

    /// <summary>The bytes not read yet.</summary>
    public readonly ReadOnlySpan<byte> UnreadSpan => _data[_position..];

    /// <summary>Reads one byte (RFC 4251 §5 "byte").</summary>
    /// <exception cref="SshProtocolException">The data ends first.</exception>
    public byte ReadByte()
    {
        Need(1, "byte");
        return _data[_position++];
    }

    /// <summary>Reads a boolean: zero is false, any other value true (RFC 4251 §5).</summary>
    /// <exception cref="SshProtocolException">The data ends first.</exception>
    public bool ReadBoolean() => ReadByte() != 0;

    /// <summary>Reads a big-endian uint32.</summary>
    /// <exception cref="SshProtocolException">The data ends first.</exception>
    public uint ReadUInt32()
    {
        Need(4, "uint32");
        uint value = BinaryPrimitives.ReadUInt32BigEndian(_data[_position..]);
        _position += 4;
        return value;
    }

    /// <summary>Reads a big-endian uint64.</summary>
    /// <exception cref="SshProtocolException">The data ends first.</exception>
    public ulong ReadUInt64()
    {
        Need(8, "uint64");
        ulong value = BinaryPrimitives.ReadUInt64BigEndian(_data[_position..]);
        _position += 8;
        return value;
    }

    /// <summary>Reads <paramref name="count"/> raw bytes.</summary>
    /// <param name="count">How many bytes.</param>
    /// <exception cref="SshProtocolException">The data ends first.</exception>
    public ReadOnlySpan<byte> ReadBytes(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        Need(count, "bytes");
        ReadOnlySpan<byte> value = _data.Slice(_position, count);
        _position += count;
        return value;
    }

    /// <summary>Reads an RFC 4251 "string": a uint32 length and that many bytes.</summary>
    /// <returns>The string's bytes, pointing into the input.</returns>
    /// <exception cref="SshProtocolException">The length runs past the end of the data.</exception>
    public ReadOnlySpan<byte> ReadString()
    {
        Need(4, "string length");
        uint length = BinaryPrimitives.ReadUInt32BigEndian(_data[_position..]);
        if (length > (uint)(Remaining - 4))
        {
            throw Truncated($"string of {length} bytes");
        }

        ReadOnlySpan<byte> value = _data.Slice(_position + 4, (int)length);
        _position += 4 + (int)length;
        return value;
    }

    /// <summary>Reads a "string" and decodes it as UTF-8 (allocates the result).</summary>
    /// <exception cref="SshProtocolException">The data is truncated or not valid UTF-8.</exception>
    public string ReadUtf8String()
    {
        ReadOnlySpan<byte> bytes = ReadString();
        try
        {
            return s_strictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "String is not valid UTF-8.", e);
        }
    }

    /// <summary>Reads an "mpint" and returns its two's complement big-endian bytes as sent.</summary>
    /// <exception cref="SshProtocolException">The data is truncated.</exception>
    public ReadOnlySpan<byte> ReadMPInt() => ReadString();

    /// <summary>
    /// Reads an "mpint" that must not be negative and returns its magnitude, big-endian, without leading zero bytes
    /// (zero is the empty span).
    /// </summary>
    /// <exception cref="SshProtocolException">The data is truncated or the number is negative.</exception>
    public ReadOnlySpan<byte> ReadUnsignedMPInt()
    {
        int start = _position;
        ReadOnlySpan<byte> value = ReadString();
        if (!value.IsEmpty && (value[0] & 0x80) != 0)
        {
            _position = start;
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "Negative mpint where a positive number is required.");
        }

        int zeros = value.IndexOfAnyExcept((byte)0);
        return zeros < 0 ? [] : value[zeros..];
    }

    /// <summary>Reads an "mpint" as a <see cref="BigInteger"/> (allocates).</summary>
    /// <exception cref="SshProtocolException">The data is truncated.</exception>
    public BigInteger ReadBigInteger() => new(ReadMPInt(), isUnsigned: false, isBigEndian: true);

    /// <summary>
    /// Reads a "name-list" (RFC 4251 §5): comma-separated US-ASCII names, none empty.
    /// </summary>
    /// <param name="maxLength">The longest list accepted, in bytes; a longer one is a protocol error.</param>
    /// <returns>The list, pointing into the input; enumerate it for the names.</returns>
    /// <exception cref="SshProtocolException">The data is truncated, too long, or not a valid name-list.</exception>
    public SshNameList ReadNameList(int maxLength = SshNameList.DefaultMaxLength)
    {
        int start = _position;
        ReadOnlySpan<byte> value = ReadString();
        if (value.Length > maxLength)
        {
            _position = start;
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Name-list of {value.Length} bytes exceeds the limit of {maxLength}.");
        }

        if (!SshNameList.IsValid(value))
        {
            _position = start;
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "Malformed name-list.");
        }

        return new SshNameList(value);
    }

    /// <summary>Skips <paramref name="count"/> bytes.</summary>
    /// <param name="count">How many bytes.</param>
    /// <exception cref="SshProtocolException">The data ends first.</exception>
    public void Skip(int count) => ReadBytes(count);

    private readonly void Need(int count, string what)
    {
        if (count > Remaining)
        {
            throw Truncated(what);
        }
    }

    private readonly SshProtocolException Truncated(string what) =>
        new(SshDisconnectReason.ProtocolError, $"Truncated SSH message: {what} at offset {_position} runs past the end ({_data.Length} bytes).");

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
