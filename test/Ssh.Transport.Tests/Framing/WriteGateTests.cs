using System.Buffers;
using Ssh.Transport.Crypto;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Framing;

/// <summary>
/// RFC 4253 §7.1: from our KEXINIT to our NEWKEYS, upper-layer writes are queued (then wait) — not fail, not reorder,
/// not slip in — and go out right after NEWKEYS.
/// </summary>
public class WriteGateTests
{
    private static byte[] Data(int i) => [SshMessageNumber.ChannelData, (byte)i, 0, 0, 0, 0];

    private static ValueTask<bool> Gated(SshPacketizer p, int i) => p.WriteGatedAsync(Data(i), static (w, d) => w.Write(d), 8, default);

    [Test]
    public async Task GatedWrites_DuringTheHold_AreQueuedUpToTheLimit_ThenWait_AndFollowNewKeysInOrder()
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        var server = new SshPacketizer(pipes.Server, SshRole.Server);

        await Gated(client, 1);
        client.HoldUpperLayerWrites(queueLimit: 2);
        await client.WritePacketAsync(new byte[] { SshMessageNumber.KexInit, 1, 2, 3 });
        Assert.That(client.IsHoldingUpperLayerWrites, Is.True);

        Assert.That(Gated(client, 2).AsTask().IsCompletedSuccessfully, Is.True, "queued, not waiting");
        Assert.That(Gated(client, 3).AsTask().IsCompletedSuccessfully, Is.True, "queued, not waiting");
        Assert.That(client.HeldPacketCount, Is.EqualTo(2));
        Task waiting = Gated(client, 4).AsTask();
        await Task.Delay(20);
        Assert.That(waiting.IsCompleted, Is.False, "the queue is full: the writer waits for the exchange");

        // Transport and kex messages still go out.
        await client.WritePacketAsync(new byte[] { SshMessageNumber.Ignore, 0, 0, 0, 0 });
        await client.WritePacketAsync(new byte[] { 30, 9, 9 });
        client.SetPendingOutbound(NoneProtection.CreateSealer());
        server.SetPendingInbound(NoneProtection.CreateOpener());
        await client.WriteNewKeysAsync(default);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(client.IsHoldingUpperLayerWrites, Is.False);

        var order = new List<(byte, byte)>();
        for (int i = 0; i < 8; i++)
        {
            SshPacket packet = await server.ReadPacketAsync();
            order.Add((packet.MessageNumber, packet.Payload.Length > 1 ? packet.Payload.Span[1] : (byte)0));
        }

        Assert.That(order, Is.EqualTo(new (byte, byte)[]
        {
            (SshMessageNumber.ChannelData, 1), (SshMessageNumber.KexInit, 1), (SshMessageNumber.Ignore, 0), (30, 9),
            (SshMessageNumber.NewKeys, 0), (SshMessageNumber.ChannelData, 2), (SshMessageNumber.ChannelData, 3), (SshMessageNumber.ChannelData, 4),
        }));
    }

    [Test]
    public async Task LiftingTheLimit_LetsAWaitingWriterQueue()
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        client.HoldUpperLayerWrites(queueLimit: 1);
        await Gated(client, 1);
        Task waiting = Gated(client, 2).AsTask();
        await Task.Delay(20);
        Assert.That(waiting.IsCompleted, Is.False);
        client.LiftHeldPacketLimit();
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(client.HeldPacketCount, Is.EqualTo(2));
        Assert.That(Gated(client, 3).AsTask().IsCompletedSuccessfully, Is.True, "no limit for the rest of this exchange");
    }

    [Test]
    public async Task FailingTheHold_FailsWaitingWriters_AndDropsTheQueue()
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        client.HoldUpperLayerWrites(queueLimit: 1);
        await Gated(client, 1);
        Task waiting = Gated(client, 2).AsTask();
        var error = new SshProtocolException(SshDisconnectReason.KeyExchangeFailed, "gone");
        client.FailHeldWrites(error);
        var thrown = Assert.ThrowsAsync<SshProtocolException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.That(thrown, Is.SameAs(error));
        Assert.That(client.IsHoldingUpperLayerWrites, Is.False);
    }

    [Test]
    public async Task GatedWriters_ManyConcurrent_NoneSlipsInsideTheExchange_AndEachKeepsItsOrder()
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        var server = new SshPacketizer(pipes.Server, SshRole.Server);
        using var stop = new CancellationTokenSource();
        int sent = 0;
        Task[] writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (int n = 0; !stop.IsCancellationRequested; n++)
            {
                await client.WriteGatedAsync((w, n), static (b, x) =>
                {
                    Span<byte> span = b.GetSpan(6);
                    span[0] = SshMessageNumber.ChannelData;
                    span[1] = (byte)x.w;
                    System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(span[2..], x.n);
                    b.Advance(6);
                }, 6, default);
                Interlocked.Increment(ref sent);
            }
        })).ToArray();

        const int exchanges = 30;
        Task kex = Task.Run(async () =>
        {
            for (int i = 0; i < exchanges; i++)
            {
                client.HoldUpperLayerWrites(queueLimit: 8);
                await client.WritePacketAsync(new byte[] { SshMessageNumber.KexInit });
                await Task.Yield();
                await client.WritePacketAsync(new byte[] { 30 });
                await Task.Yield();
                client.SetPendingOutbound(NoneProtection.CreateSealer());
                await client.WriteNewKeysAsync(default);
                await Task.Delay(1);
            }

            await stop.CancelAsync();
        });

        int newKeysSeen = 0;
        bool insideExchange = false;
        int received = 0;
        int[] next = new int[4];
        await kex;
        await Task.WhenAll(writers);
        int total = sent + (exchanges * 3);
        for (int i = 0; i < total; i++)
        {
            if (insideExchange)
            {
                server.SetPendingInbound(NoneProtection.CreateOpener());
            }

            SshPacket packet = await server.ReadPacketAsync();
            switch (packet.MessageNumber)
            {
                case SshMessageNumber.KexInit:
                    insideExchange = true;
                    break;
                case SshMessageNumber.NewKeys:
                    insideExchange = false;
                    newKeysSeen++;
                    break;
                case SshMessageNumber.ChannelData:
                    Assert.That(insideExchange, Is.False, $"upper-layer packet {i} inside a key exchange");
                    int writer = packet.Payload.Span[1];
                    Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(packet.Payload.Span[2..]), Is.EqualTo(next[writer]++), "each writer's packets in its order");
                    received++;
                    break;
            }
        }

        Assert.That(newKeysSeen, Is.EqualTo(exchanges));
        Assert.That(received, Is.EqualTo(sent));
    }
}
