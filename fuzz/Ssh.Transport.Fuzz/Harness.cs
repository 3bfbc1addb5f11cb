using System.Buffers;
using System.Buffers.Binary;

namespace Ssh.Transport.Fuzz;

/// <summary>A finding the harness itself detects: a hang, a differential mismatch, an undocumented error.</summary>
public sealed class FuzzFindingException : Exception
{
    public FuzzFindingException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>Shared pieces: input splitting, segmented sequences, what counts as a documented failure.</summary>
internal static class Harness
{
    /// <summary>Fixed key material for the packet targets: 0x01, 0x02, ... (never random, so a crash replays).</summary>
    public static byte[] FixedBytes(int length, byte start = 1)
    {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(start + i);
        }

        return bytes;
    }

    /// <summary>
    /// Splits the input into chunks: uint16 big-endian length, then that many bytes; a truncated last chunk is taken
    /// as it is. Each chunk is one message (payload) in the targets that send several.
    /// </summary>
    public static List<byte[]> Chunks(ReadOnlySpan<byte> input, int maxChunks = 64)
    {
        var chunks = new List<byte[]>();
        while (input.Length >= 2 && chunks.Count < maxChunks)
        {
            int length = BinaryPrimitives.ReadUInt16BigEndian(input);
            input = input[2..];
            length = Math.Min(length, input.Length);
            chunks.Add(input[..length].ToArray());
            input = input[length..];
        }

        return chunks;
    }

    /// <summary>Writes chunks in the form <see cref="Chunks"/> reads.</summary>
    public static byte[] JoinChunks(IEnumerable<byte[]> chunks)
    {
        var buffer = new ArrayBufferWriter<byte>();
        foreach (byte[] chunk in chunks)
        {
            BinaryPrimitives.WriteUInt16BigEndian(buffer.GetSpan(2), (ushort)chunk.Length);
            buffer.Advance(2);
            buffer.Write(chunk);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A sequence over <paramref name="data"/> in segments of <paramref name="segmentSize"/> bytes.</summary>
    public static ReadOnlySequence<byte> Segmented(ReadOnlyMemory<byte> data, int segmentSize)
    {
        if (data.Length <= segmentSize)
        {
            return new ReadOnlySequence<byte>(data);
        }

        var first = new Segment(data[..segmentSize], 0);
        Segment last = first;
        for (int offset = segmentSize; offset < data.Length; offset += segmentSize)
        {
            last = last.Append(data.Slice(offset, Math.Min(segmentSize, data.Length - offset)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>
    /// An SSH binary packet around <paramref name="payload"/> under the "none" cipher (RFC 4253 §6): minimal padding
    /// to 8 bytes, zero padding bytes.
    /// </summary>
    public static void WriteNonePacket(IBufferWriter<byte> output, ReadOnlySpan<byte> payload)
    {
        int padding = 8 - ((5 + payload.Length) % 8);
        if (padding < 4)
        {
            padding += 8;
        }

        int packetLength = 1 + payload.Length + padding;
        Span<byte> span = output.GetSpan(4 + packetLength);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)packetLength);
        span[4] = (byte)padding;
        payload.CopyTo(span[5..]);
        span.Slice(5 + payload.Length, padding).Clear();
        output.Advance(4 + packetLength);
    }

    /// <summary>
    /// True for a failure the library documents for peer input: <see cref="SshProtocolException"/> and its subclasses,
    /// unless it is the receive loop's wrapper of an unexpected exception ("Unexpected error: ..."), or carries an
    /// undocumented exception inside.
    /// </summary>
    public static bool IsDocumentedProtocolFailure(Exception e)
    {
        for (Exception? current = e; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case SshProtocolException protocol when protocol.Message.StartsWith("Unexpected error", StringComparison.Ordinal):
                    return false;
                case SshProtocolException:
                case IOException:
                case ObjectDisposedException:
                case OperationCanceledException:
                case TimeoutException:
                    continue;

                // Deliberately wrapped by the transport (a malformed host key blob is KeyExchangeFailed).
                case FormatException or ArgumentException or System.Security.Cryptography.CryptographicException
                    when e is SshProtocolException && !ReferenceEquals(current, e):
                    continue;
                default:
                    return false;
            }
        }

        return true;
    }

    /// <summary>Waits for <paramref name="task"/>; a task that does not end in time is a hang (a finding).</summary>
    public static void WaitOrHang(Task task, TimeSpan limit, string what)
    {
        if (!task.Wait(limit) && !task.IsCompleted)
        {
            throw new FuzzFindingException($"Hang: {what} did not end within {limit.TotalSeconds} s after the input ended.");
        }
    }

    private static readonly bool s_trace = Environment.GetEnvironmentVariable("SSH_FUZZ_TRACE") == "1";

    /// <summary>With SSH_FUZZ_TRACE=1 (replay only: afl-fuzz reads no output), says how far an input got.</summary>
    public static void Trace(string message)
    {
        if (s_trace)
        {
            Console.Error.WriteLine("  trace: " + message);
        }
    }

    /// <summary>How long a transport-level target waits for the library to finish after the input ended.</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(
        double.TryParse(Environment.GetEnvironmentVariable("SSH_FUZZ_HANG_SECONDS"), System.Globalization.CultureInfo.InvariantCulture, out double seconds) ? seconds : 20);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
