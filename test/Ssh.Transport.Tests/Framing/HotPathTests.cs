using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Time.Testing;
using Ssh.Transport.Crypto;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Framing;

/// <summary>
/// What the packetizer does per packet and what it does per pipe read or flush: the clock is read and the pipe's lock
/// taken per read and flush, not per packet (issue 14), and nothing the old per-packet work gave is lost (keepalive,
/// the rekey interval, cancellations, the handshake deadline).
/// </summary>
public class HotPathTests
{
    private static (SshPacketizer Client, SshPacketizer Server, CountingPipeReader ServerInput) Connect(TimeProvider? clientTime = null, TimeProvider? serverTime = null, SshPacketizerOptions? serverOptions = null)
    {
        var pipes = new PipePair();
        var serverInput = new CountingPipeReader(pipes.ClientToServer.Reader);
        var client = new SshPacketizer(pipes.Client, SshRole.Client, new SshPacketizerOptions { TimeProvider = clientTime ?? TimeProvider.System });
        serverOptions ??= new SshPacketizerOptions();
        serverOptions.TimeProvider = serverTime ?? serverOptions.TimeProvider;
        var server = new SshPacketizer(new DuplexPipe(serverInput, pipes.ServerToClient.Writer), SshRole.Server, serverOptions);
        return (client, server, serverInput);
    }

    private static async Task WriteMany(SshPacketizer client, int count, int length)
    {
        for (int i = 0; i < count; i++)
        {
            byte[] payload = Packets.Payload(SshMessageNumber.Ignore, length, (byte)i);
            await client.WritePacketAsync(payload, static (w, p) => w.Write(p), payload.Length, flush: i == count - 1);
        }
    }

    [Test]
    public async Task ManyPackets_ClockReadPerFlushAndPerPipeRead_NotPerPacket()
    {
        var clientTime = new CountingTimeProvider();
        var serverTime = new CountingTimeProvider();
        (SshPacketizer client, SshPacketizer server, _) = Connect(clientTime, serverTime);

        long before = clientTime.Reads;
        await WriteMany(client, 64, 40);
        Assert.That(clientTime.Reads - before, Is.EqualTo(1), "64 packets, one flush: one clock read");

        before = serverTime.Reads;
        for (int i = 0; i < 64; i++)
        {
            Assert.That((await server.ReadPacketAsync()).Payload.Span[1], Is.EqualTo((byte)i));
        }

        Assert.That(serverTime.Reads - before, Is.EqualTo(1), "64 packets from one pipe read: one clock read");
    }

    [Test]
    public async Task ManyPackets_OnePipeReadAndAdvancePerHeldBuffer()
    {
        (SshPacketizer client, SshPacketizer server, CountingPipeReader input) = Connect();
        await WriteMany(client, 100, 100);
        for (int i = 0; i < 100; i++)
        {
            Assert.That((await server.ReadPacketAsync()).Payload.Span[1], Is.EqualTo((byte)i));
        }

        Assert.That(input.Reads, Is.EqualTo(1), "100 packets arrived at once");
        Assert.That(input.Advances, Is.Zero, "the buffer is still held for the last packet's payload");

        Task<SshPacket> next = server.ReadPacketAsync().AsTask();
        Assert.That(input.Advances, Is.EqualTo(1), "advanced once, when the held buffer had no whole packet left");
        await WriteMany(client, 1, 5);
        Assert.That((await next).Payload.Length, Is.EqualTo(5));
    }

    [Test]
    public async Task HeldBuffer_AdvancedAtLeastEveryMaxHeldBytes()
    {
        (SshPacketizer client, SshPacketizer server, CountingPipeReader input) = Connect();
        const int Count = 64;
        const int Length = 32 * 1024;
        await WriteMany(client, Count, Length);
        for (int i = 0; i < Count; i++)
        {
            SshPacket packet = await server.ReadPacketAsync();
            Assert.That(packet.Payload.Length, Is.EqualTo(Length));
            Assert.That(packet.Payload.Span[^1], Is.EqualTo((byte)i), "a payload read after an advance is intact");
        }

        // 2 MiB of packets: the pipe is given back what was read at least every 256 KiB.
        Assert.That(input.Advances, Is.GreaterThanOrEqualTo((Count * Length / SshPacketizer.MaxHeldBytes) - 1));
        Assert.That(input.Advances, Is.LessThanOrEqualTo(Count / 4), "but not per packet");
    }

    /// <summary>Packets already in the pipe, with the pipe then given <paramref name="tail"/> and completed.</summary>
    private static async Task<SshPacketizer> ServerWithPacketsThenEnd(int count, byte[] tail)
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        await WriteMany(client, count, 10);
        await pipes.ClientToServer.Writer.WriteAsync(tail);
        await pipes.ClientToServer.Writer.CompleteAsync();
        return new SshPacketizer(pipes.Server, SshRole.Server);
    }

    [Test]
    public async Task HeldBuffer_EndOfStreamAfterThePackets_ReadsThemThenCompletes()
    {
        SshPacketizer server = await ServerWithPacketsThenEnd(3, []);
        for (int i = 0; i < 3; i++)
        {
            Assert.That((await server.ReadPacketAsync()).Payload.Span[1], Is.EqualTo((byte)i));
        }

        Assert.That((await server.ReadPacketAsync()).IsCompleted, Is.True);
        Assert.That((await server.ReadPacketAsync()).IsCompleted, Is.True, "and stays so");
    }

    [Test]
    public async Task HeldBuffer_EndOfStreamInsideAPacket_ReadsTheWholeOnesThenThrows()
    {
        SshPacketizer server = await ServerWithPacketsThenEnd(2, [0, 0, 0, 12, 4]);
        await server.ReadPacketAsync();
        await server.ReadPacketAsync();
        var ex = Assert.ThrowsAsync<SshProtocolException>(async () => await server.ReadPacketAsync());
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.ConnectionLost));
    }

    [Test]
    public async Task HeldBuffer_CancelPendingRead_NextReadThrowsDespiteBufferedPackets()
    {
        (SshPacketizer client, SshPacketizer server, _) = Connect();
        await WriteMany(client, 3, 10);
        await server.ReadPacketAsync();
        server.CancelPendingRead();
        Assert.ThrowsAsync<OperationCanceledException>(async () => await server.ReadPacketAsync());
    }

    [Test]
    public async Task HeldBuffer_HandshakeDeadlinePasses_NextReadTimesOutDespiteBufferedPackets()
    {
        var time = new FakeTimeProvider();
        (SshPacketizer client, SshPacketizer server, _) = Connect(serverTime: time);
        server.StartHandshake(TimeSpan.FromSeconds(30));
        await WriteMany(client, 3, 10);
        await server.ReadPacketAsync();
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.ThrowsAsync<SshTimeoutException>(async () => await server.ReadPacketAsync());
    }

    [Test]
    public async Task KeepAlive_PacketsReadFromTheHeldBuffer_AreNotNewActivity()
    {
        var time = new FakeTimeProvider();
        (SshPacketizer client, SshPacketizer server, _) = Connect(serverTime: time);
        int calls = 0;
        server.SetKeepAlive(TimeSpan.FromSeconds(10), _ =>
        {
            calls++;
            return ValueTask.CompletedTask;
        });

        await WriteMany(client, 2, 10);
        await server.ReadPacketAsync(); // the bytes arrive now
        time.Advance(TimeSpan.FromSeconds(9));
        await server.ReadPacketAsync(); // from what arrived 9 s ago
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(calls, Is.EqualTo(1), "idle since the bytes arrived, not since the packet was parsed");
    }

    [Test]
    public async Task RekeyInterval_RestartsWithEachDirectionsNewKeys()
    {
        var time = new FakeTimeProvider();
        var options = new SshPacketizerOptions { TimeProvider = time, RekeyInterval = TimeSpan.FromMinutes(10) };
        (SshPacketizer client, SshPacketizer server, _) = Connect(serverTime: time, serverOptions: options);
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.That(server.NeedRekey, Is.True);

        server.SetPendingOutbound(NoneProtection.CreateSealer());
        server.SetPendingInbound(NoneProtection.CreateOpener());
        client.SetPendingOutbound(NoneProtection.CreateSealer());
        await server.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        Assert.That(server.NeedRekey, Is.True, "inbound keys are still the old ones");

        time.Advance(TimeSpan.FromMinutes(4));
        await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        Assert.That((await server.ReadPacketAsync()).NeedRekey, Is.False, "both directions have new keys");

        // Outbound keys are 4 minutes older than inbound ones: the flag comes back when they are 10 minutes old.
        time.Advance(TimeSpan.FromMinutes(6) - TimeSpan.FromTicks(1));
        Assert.That(server.NeedRekey, Is.False);
        time.Advance(TimeSpan.FromTicks(1));
        Assert.That(server.NeedRekey, Is.True);
        Assert.That((await server.WritePacketAsync(new byte[] { SshMessageNumber.Ignore, 0 })).NeedRekey, Is.True, "and write results carry it");
    }

    /// <summary>A clock that counts how often it is read.</summary>
    private sealed class CountingTimeProvider : TimeProvider
    {
        private long _reads;

        public long Reads => Interlocked.Read(ref _reads);

        public override long GetTimestamp()
        {
            Interlocked.Increment(ref _reads);
            return TimeProvider.System.GetTimestamp();
        }

        public override long TimestampFrequency => TimeProvider.System.TimestampFrequency;
    }

    /// <summary>A pipe reader that counts the reads and advances it is asked for.</summary>
    private sealed class CountingPipeReader(PipeReader inner) : PipeReader
    {
        public int Reads { get; private set; }

        public int Advances { get; private set; }

        public override bool TryRead(out ReadResult result)
        {
            bool read = inner.TryRead(out result);
            Reads += read ? 1 : 0;
            return read;
        }

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            ReadResult result = await inner.ReadAsync(cancellationToken);
            Reads++;
            return result;
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            Advances++;
            inner.AdvanceTo(consumed, examined);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);
    }
}
