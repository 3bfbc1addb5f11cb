using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Ssh.Transport.Tests.Infrastructure;

/// <summary>Client and server ends joined by two in-memory pipes.</summary>
internal sealed class PipePair
{
    public PipePair(MemoryPool<byte>? pool = null, int minimumSegmentSize = -1, long pauseWriterThreshold = 0)
    {
        var options = new PipeOptions(
            pool: pool ?? new DirtyMemoryPool(),
            minimumSegmentSize: minimumSegmentSize,
            useSynchronizationContext: false,
            pauseWriterThreshold: pauseWriterThreshold,
            resumeWriterThreshold: pauseWriterThreshold / 2);
        ClientToServer = new Pipe(options);
        ServerToClient = new Pipe(options);
        Client = new DuplexPipe(ServerToClient.Reader, ClientToServer.Writer);
        Server = new DuplexPipe(ClientToServer.Reader, ServerToClient.Writer);
    }

    public Pipe ClientToServer { get; }

    public Pipe ServerToClient { get; }

    public IDuplexPipe Client { get; }

    public IDuplexPipe Server { get; }
}

internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;
}

/// <summary>
/// A memory pool whose blocks are filled with 0xCA when rented and 0xFF when returned, so code that reads memory it
/// did not write, or after it gave it back, sees garbage rather than lucky zeros.
/// </summary>
internal sealed class DirtyMemoryPool : MemoryPool<byte>
{
    public override int MaxBufferSize => 1024 * 1024;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => new Block(minBufferSize <= 0 ? 4096 : minBufferSize);

    protected override void Dispose(bool disposing)
    {
    }

    private sealed class Block : IMemoryOwner<byte>
    {
        private byte[]? _array;

        public Block(int size)
        {
            _array = new byte[size];
            _array.AsSpan().Fill(0xCA);
        }

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Block));

        public void Dispose()
        {
            _array?.AsSpan().Fill(0xFF);
            _array = null;
        }
    }
}

/// <summary>Builds packets and sequences by hand, independently of the code under test.</summary>
internal static class Packets
{
    /// <summary>A "none" packet: uint32 length, padding length, payload, padding (aligned to 8 with the length field).</summary>
    public static byte[] None(ReadOnlySpan<byte> payload, int? paddingLength = null, byte paddingByte = 0x77)
    {
        int padding = paddingLength ?? MinimalPadding(payload.Length);
        int packetLength = 1 + payload.Length + padding;
        var packet = new byte[4 + packetLength];
        BinaryPrimitives.WriteUInt32BigEndian(packet, (uint)packetLength);
        packet[4] = (byte)padding;
        payload.CopyTo(packet.AsSpan(5));
        packet.AsSpan(5 + payload.Length).Fill(paddingByte);
        return packet;
    }

    public static int MinimalPadding(int payloadLength)
    {
        int padding = 8 - ((5 + payloadLength) % 8);
        return padding < 4 ? padding + 8 : padding;
    }

    public static byte[] Payload(byte messageNumber, int length, byte fill)
    {
        var payload = new byte[length];
        payload.AsSpan().Fill(fill);
        payload[0] = messageNumber;
        return payload;
    }

    /// <summary>A sequence over <paramref name="data"/> cut into segments at the given offsets.</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, params int[] cuts)
    {
        var bounds = cuts.Where(c => c > 0 && c < data.Length).Distinct().Order().Append(data.Length).ToArray();
        Segment? first = null;
        Segment? last = null;
        int start = 0;
        foreach (int end in bounds)
        {
            // Each segment gets its own array so no segment can be read past its end by accident.
            var chunk = data.AsSpan(start, end - start).ToArray();
            last = last is null ? first = new Segment(chunk, 0) : last.Append(chunk);
            start = end;
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

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
