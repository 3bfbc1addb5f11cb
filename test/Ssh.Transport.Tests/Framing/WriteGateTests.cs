using System.Buffers;
using Ssh.Transport.Crypto;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Framing;

/// <summary>RFC 4253 §7.1: between our KEXINIT and our NEWKEYS, upper-layer writes wait — not fail, not reorder, not slip in.</summary>
public class WriteGateTests
{
    private static byte[] Data(int i) => [SshMessageNumber.ChannelData, (byte)i, 0, 0, 0, 0];

    [Test]
    public async Task GatedWrite_BetweenKexInitAndNewKeys_WaitsThenGoesOutAfterNewKeys()
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        var server = new SshPacketizer(pipes.Server, SshRole.Server);

        await client.WriteGatedAsync(Data(1), static (w, d) => w.Write(d), 8, default);
        await client.WritePacketAsync(new byte[] { SshMessageNumber.KexInit, 1, 2, 3 });
        Assert.That(client.IsHoldingUpperLayerWrites, Is.True);

        Task gated = client.WriteGatedAsync(Data(2), static (w, d) => w.Write(d), 8, default).AsTask();
        await Task.Delay(20);
        Assert.That(gated.IsCompleted, Is.False, "held back");

        // Transport and kex messages still go out.
        await client.WritePacketAsync(new byte[] { SshMessageNumber.Ignore, 0, 0, 0, 0 });
        await client.WritePacketAsync(new byte[] { 30, 9, 9 });
        client.SetPendingOutbound(NoneProtection.CreateSealer());
        server.SetPendingInbound(NoneProtection.CreateOpener());
        await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        await gated;
        Assert.That(client.IsHoldingUpperLayerWrites, Is.False);

        var order = new List<byte>();
        for (int i = 0; i < 6; i++)
        {
            order.Add((await server.ReadPacketAsync()).MessageNumber);
        }

        Assert.That(order, Is.EqualTo(new byte[] { SshMessageNumber.ChannelData, SshMessageNumber.KexInit, SshMessageNumber.Ignore, 30, SshMessageNumber.NewKeys, SshMessageNumber.ChannelData }));
    }

    [Test]
    public async Task GatedWriters_ManyConcurrent_NoneSlipsInsideTheExchange()
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        var server = new SshPacketizer(pipes.Server, SshRole.Server);
        using var stop = new CancellationTokenSource();
        int sent = 0;
        Task[] writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await client.WriteGatedAsync(w, static (b, x) => b.Write(new byte[] { SshMessageNumber.ChannelData, (byte)x }), 4, default);
                Interlocked.Increment(ref sent);
            }
        })).ToArray();

        const int exchanges = 30;
        Task kex = Task.Run(async () =>
        {
            for (int i = 0; i < exchanges; i++)
            {
                await client.WritePacketAsync(new byte[] { SshMessageNumber.KexInit });
                await Task.Yield();
                await client.WritePacketAsync(new byte[] { 30 });
                await Task.Yield();
                client.SetPendingOutbound(NoneProtection.CreateSealer());
                await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
                await Task.Delay(1);
            }

            await stop.CancelAsync();
        });

        int newKeysSeen = 0;
        bool insideExchange = false;
        int received = 0;
        await kex;
        await Task.WhenAll(writers);
        int total = sent + exchanges * 3;
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
                    received++;
                    break;
            }
        }

        Assert.That(newKeysSeen, Is.EqualTo(exchanges));
        Assert.That(received, Is.EqualTo(sent));
    }
}
