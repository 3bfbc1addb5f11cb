using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Ssh.Transport.Framing;

namespace Ssh.Transport.Benchmarks;

/// <summary>
/// One packet with the "none" protection through the packetizer, beside a plain pipe copy of the same bytes
/// (the baseline): what framing costs on top of moving the bytes through a pipe.
/// </summary>
[MemoryDiagnoser]
public class PacketizerBenchmarks
{
    private Pipe _toServer = null!;
    private Pipe _toClient = null!;
    private SshPacketizer _client = null!;
    private SshPacketizer _server = null!;
    private byte[] _payload = null!;
    private byte[] _packet = null!;

    [Params(64, 1024, 32768)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false);
        _toServer = new Pipe(options);
        _toClient = new Pipe(options);
        _client = new SshPacketizer(new Duplex(_toClient.Reader, _toServer.Writer), SshRole.Client);
        _server = new SshPacketizer(new Duplex(_toServer.Reader, _toClient.Writer), SshRole.Server);
        _payload = new byte[PayloadSize];
        _payload[0] = SshMessageNumber.ChannelData;
        _packet = NonePackets.Build(_payload);
    }

    /// <summary>The same packet bytes written into the pipe and read back out, with no framing at all.</summary>
    [Benchmark(Baseline = true)]
    public long PipeCopy()
    {
        PipeWriter writer = _toServer.Writer;
        Span<byte> span = writer.GetSpan(_packet.Length);
        _packet.CopyTo(span);
        writer.Advance(_packet.Length);
        _ = writer.FlushAsync().GetAwaiter().GetResult();
        _toServer.Reader.TryRead(out ReadResult result);
        long length = result.Buffer.Length;
        _toServer.Reader.AdvanceTo(result.Buffer.End);
        return length;
    }

    /// <summary>Payload serialized into the pipe's memory, framed, padded and "sealed"; drained raw.</summary>
    [Benchmark]
    public long WritePacket()
    {
        _ = _client.WritePacketAsync(_payload, static (w, p) => w.Write(p), PayloadSize, flush: true).GetAwaiter().GetResult();
        _toServer.Reader.TryRead(out ReadResult result);
        long length = result.Buffer.Length;
        _toServer.Reader.AdvanceTo(result.Buffer.End);
        return length;
    }

    /// <summary>Raw packet bytes into the pipe, parsed and validated by the packetizer.</summary>
    [Benchmark]
    public int ReadPacket()
    {
        PipeWriter writer = _toServer.Writer;
        Span<byte> span = writer.GetSpan(_packet.Length);
        _packet.CopyTo(span);
        writer.Advance(_packet.Length);
        _ = writer.FlushAsync().GetAwaiter().GetResult();
        return _server.ReadPacketAsync().GetAwaiter().GetResult().Payload.Length;
    }

    /// <summary>Client packetizer writes, server packetizer reads.</summary>
    [Benchmark]
    public int WriteAndReadPacket()
    {
        _ = _client.WritePacketAsync(_payload, static (w, p) => w.Write(p), PayloadSize, flush: true).GetAwaiter().GetResult();
        return _server.ReadPacketAsync().GetAwaiter().GetResult().Payload.Length;
    }

}

/// <summary>
/// The parsing core over a sequence in one or several segments, beside copying the same sequence out (the
/// baseline): the cost of reassembly for packets that straddle pipe segments.
/// </summary>
[MemoryDiagnoser]
public class PacketParseBenchmarks
{
    private ReadOnlySequence<byte> _input;
    private byte[] _scratch = null!;
    private PacketReader _reader = null!;

    [Params(64, 1024, 32768)]
    public int PayloadSize { get; set; }

    [Params(1, 3)]
    public int Segments { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var payload = new byte[PayloadSize];
        payload[0] = SshMessageNumber.ChannelData;
        byte[] packet = NonePackets.Build(payload);
        _input = Split(packet, Segments);
        _scratch = new byte[packet.Length];
        var options = new SshPacketizerOptions { RekeyPackets = long.MaxValue, RekeyInterval = Timeout.InfiniteTimeSpan };
        _reader = new PacketReader(new TransportState(options, NullLogger.Instance));
    }

    [Benchmark(Baseline = true)]
    public int CopyOut()
    {
        _input.CopyTo(_scratch);
        return _scratch.Length;
    }

    [Benchmark]
    public int TryRead()
    {
        _reader.TryRead(_input, out _, out SshPacket packet);
        return packet.Payload.Length;
    }

    private static ReadOnlySequence<byte> Split(byte[] data, int segments)
    {
        if (segments == 1)
        {
            return new ReadOnlySequence<byte>(data);
        }

        int size = (data.Length + segments - 1) / segments;
        Segment first = new(data.AsMemory(0, Math.Min(size, data.Length)), 0);
        Segment last = first;
        for (int offset = size; offset < data.Length; offset += size)
        {
            last = last.Append(data.AsMemory(offset, Math.Min(size, data.Length - offset)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
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

/// <summary>
/// Sixteen packets per pipe read and per flush, as a bulk stream brings them, beside a plain pipe copy of the same
/// bytes: what the packetizer does per packet once the pipe's lock and the clock are taken per read and per flush.
/// Results are per packet.
/// </summary>
[MemoryDiagnoser]
public class PacketBurstBenchmarks
{
    private const int Burst = 16;
    private Pipe _pipe = null!;
    private SshPacketizer _client = null!;
    private SshPacketizer _server = null!;
    private byte[] _payload = null!;
    private byte[] _packets = null!;

    [Params(64, 1024, 32768)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false);
        _pipe = new Pipe(options);
        var back = new Pipe(options);
        _client = new SshPacketizer(new Duplex(back.Reader, _pipe.Writer), SshRole.Client);
        _server = new SshPacketizer(new Duplex(_pipe.Reader, back.Writer), SshRole.Server);
        _payload = new byte[PayloadSize];
        _payload[0] = SshMessageNumber.ChannelData;
        _packets = NonePackets.Build(_payload, Burst);
    }

    /// <summary>The sixteen packets' bytes written into the pipe at once and read back out, with no framing.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Burst)]
    public long PipeCopy()
    {
        WriteRaw();
        _pipe.Reader.TryRead(out ReadResult result);
        long length = result.Buffer.Length;
        _pipe.Reader.AdvanceTo(result.Buffer.End);
        return length;
    }

    /// <summary>Sixteen packets written, one flush; drained raw.</summary>
    [Benchmark(OperationsPerInvoke = Burst)]
    public long WritePackets()
    {
        for (int i = 0; i < Burst; i++)
        {
            _ = _client.WritePacketAsync(_payload, static (w, p) => w.Write(p), PayloadSize, flush: i == Burst - 1).GetAwaiter().GetResult();
        }

        _pipe.Reader.TryRead(out ReadResult result);
        long length = result.Buffer.Length;
        _pipe.Reader.AdvanceTo(result.Buffer.End);
        return length;
    }

    /// <summary>Sixteen raw packets in the pipe at once, parsed and validated by the packetizer.</summary>
    [Benchmark(OperationsPerInvoke = Burst)]
    public int ReadPackets()
    {
        WriteRaw();
        int total = 0;
        for (int i = 0; i < Burst; i++)
        {
            total += _server.ReadPacketAsync().GetAwaiter().GetResult().Payload.Length;
        }

        return total;
    }

    private void WriteRaw()
    {
        PipeWriter writer = _pipe.Writer;
        Span<byte> span = writer.GetSpan(_packets.Length);
        _packets.CopyTo(span);
        writer.Advance(_packets.Length);
        _ = writer.FlushAsync().GetAwaiter().GetResult();
    }

}
