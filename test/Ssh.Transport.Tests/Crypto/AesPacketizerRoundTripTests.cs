using System.Buffers;
using System.IO.Pipelines;
using Ssh.Transport.Crypto;
using static Ssh.Transport.Tests.Crypto.AesTestSupport;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>
/// Each construction end to end: two packetizers over a pair of pipes prepare keys, exchange NEWKEYS (RFC 4253
/// §7.3), then send packets of many sizes both ways, flushed one by one and in batches (so the reader sees packets
/// whole in one segment, opened out of place, and split across segments, opened in place).
/// </summary>
internal sealed class AesPacketizerRoundTripTests
{
    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    private static IEnumerable<TestCaseData> Constructions() => Construction.All.Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [TestCaseSource(nameof(Constructions))]
    public async Task Packetizer_NewKeysThenPackets_ArriveIntact(Construction c)
    {
        var random = new Random(StringComparer.Ordinal.GetHashCode(c.Name));
        var toServer = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: 4096));
        var toClient = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: 4096));
        await using var client = new SshPacketizer(new DuplexPipe(toClient.Reader, toServer.Writer), SshRole.Client);
        await using var server = new SshPacketizer(new DuplexPipe(toServer.Reader, toClient.Writer), SshRole.Server);
        await Task.WhenAll(client.ExchangeIdentificationAsync().AsTask(), server.ExchangeIdentificationAsync().AsTask());

        Keys clientToServer = c.RandomKeys(random);
        Keys serverToClient = c.RandomKeys(random);
        client.SetPendingOutbound(c.CreateSealer(clientToServer));
        server.SetPendingInbound(c.CreateOpener(clientToServer));
        server.SetPendingOutbound(c.CreateSealer(serverToClient));
        client.SetPendingInbound(c.CreateOpener(serverToClient));

        await client.WritePacketAsync(new byte[] { 21 });
        await server.WritePacketAsync(new byte[] { 21 });
        Assert.That((await server.ReadPacketAsync()).MessageNumber, Is.EqualTo(21));
        Assert.That((await client.ReadPacketAsync()).MessageNumber, Is.EqualTo(21));
        Assert.That(client.State.Outbound.Active.Name, Is.EqualTo(c.Name));
        Assert.That(client.State.Inbound.Active.Name, Is.EqualTo(c.Name));
        Assert.That(server.State.Outbound.Active.Name, Is.EqualTo(c.Name));
        Assert.That(server.State.Inbound.Active.Name, Is.EqualTo(c.Name));

        int[] sizes = [1, 2, 15, 16, 17, 100, 1000, 4096, 5000, 35000, 100_000, client.MaxPayloadLength];
        foreach ((SshPacketizer from, SshPacketizer to) in new[] { (client, server), (server, client) })
        {
            // One by one, flushed each time.
            foreach (int size in sizes)
            {
                byte[] payload = RandomPayload(random, size);
                await from.WritePacketAsync(payload);
                SshPacket packet = await to.ReadPacketAsync();
                Assert.That(packet.Payload.ToArray(), Is.EqualTo(payload), $"{c.Name}: {size} bytes");
            }

            // A batch in one flush: several packets per read buffer, spanning segments.
            var batch = sizes.Concat(sizes).Select(size => RandomPayload(random, Math.Min(size, 40_000))).ToList();
            foreach (byte[] payload in batch)
            {
                await from.WritePacketAsync(payload, static (writer, p) => writer.Write(p), payloadSizeHint: 16, flush: false);
            }

            await from.FlushAsync();
            foreach (byte[] payload in batch)
            {
                SshPacket packet = await to.ReadPacketAsync();
                Assert.That(packet.Payload.ToArray(), Is.EqualTo(payload), $"{c.Name}: batched {payload.Length} bytes");
            }
        }

        Assert.That(client.InboundSequenceNumber, Is.EqualTo(server.OutboundSequenceNumber));
        Assert.That(server.InboundSequenceNumber, Is.EqualTo(client.OutboundSequenceNumber));
    }
}
