using System.Buffers;
using System.IO.Pipelines;
using Ssh.Transport.Crypto;
using static Ssh.Transport.Tests.Crypto.AesTestSupport;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>
/// Each construction end to end: two packetizers, connected by pipes and relays that pass bytes on in random
/// chunks, prepare keys, exchange NEWKEYS (RFC 4253 §7.3), then send packets of many sizes both ways, flushed one by
/// one and in batches. Packets arrive in pieces (a MtE opener's first block is decrypted once and kept while the
/// reader waits) and are opened both out of place (whole in one segment) and in place (gathered from several).
/// </summary>
internal sealed class AesPacketizerRoundTripTests
{
    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>Passes everything to the real opener and counts how the reader called it.</summary>
    private sealed class RecordingOpener(PacketOpener inner) : PacketOpener
    {
        public int InPlace { get; private set; }

        public int OutOfPlace { get; private set; }

        public override string Name => inner.Name;
        public override int BlockSize => inner.BlockSize;
        public override int TagSize => inner.TagSize;
        public override int LengthPrefixSize => inner.LengthPrefixSize;
        public override bool AlignmentIncludesLengthField => inner.AlignmentIncludesLengthField;
        public override long MaxBytesPerKey => inner.MaxBytesPerKey;
        public override bool DiscardsOnBadLength => inner.DiscardsOnBadLength;

        public override uint DecryptLength(uint sequenceNumber, ReadOnlySpan<byte> prefix) => inner.DecryptLength(sequenceNumber, prefix);

        public override bool TryOpen(uint sequenceNumber, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> tag, Span<byte> destination)
        {
            if (packet[4..].Overlaps(destination))
            {
                InPlace++;
            }
            else
            {
                OutOfPlace++;
            }

            return inner.TryOpen(sequenceNumber, packet, tag, destination);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private static IEnumerable<TestCaseData> Constructions() => Construction.All.Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [TestCaseSource(nameof(Constructions))]
    public async Task Packetizer_NewKeysThenPackets_ArriveIntact(Construction c)
    {
        var random = new Random(c.Seed);
        var options = new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: 4096);
        var (clientOut, toServer, serverOut, toClient) = (new Pipe(options), new Pipe(options), new Pipe(options), new Pipe(options));

        // Bytes travel in random chunks, each flushed: packets straddle segments and arrive in pieces.
        Task relays = Task.WhenAll(
            RelayAsync(clientOut.Reader, toServer.Writer, new Random(c.Seed + 1)),
            RelayAsync(serverOut.Reader, toClient.Writer, new Random(c.Seed + 2)));
        await using (var client = new SshPacketizer(new DuplexPipe(toClient.Reader, clientOut.Writer), SshRole.Client))
        await using (var server = new SshPacketizer(new DuplexPipe(toServer.Reader, serverOut.Writer), SshRole.Server))
        {
            await ExchangeAsync(c, random, client, server);
        }

        await relays.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static async Task RelayAsync(PipeReader from, PipeWriter to, Random random)
    {
        while (true)
        {
            ReadResult result = await from.ReadAsync();
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool peerGone = false;
            while (!buffer.IsEmpty && !peerGone)
            {
                ReadOnlySequence<byte> chunk = buffer.Slice(0, Math.Min(buffer.Length, random.Next(1, 3000)));
                foreach (ReadOnlyMemory<byte> segment in chunk)
                {
                    to.Write(segment.Span);
                }

                peerGone = (await to.FlushAsync()).IsCompleted;
                buffer = buffer.Slice(chunk.End);
            }

            from.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted || peerGone)
            {
                await from.CompleteAsync();
                await to.CompleteAsync();
                return;
            }
        }
    }

    private static async Task ExchangeAsync(Construction c, Random random, SshPacketizer client, SshPacketizer server)
    {
        await Task.WhenAll(client.ExchangeIdentificationAsync().AsTask(), server.ExchangeIdentificationAsync().AsTask());

        Keys clientToServer = c.RandomKeys(random);
        Keys serverToClient = c.RandomKeys(random);
        client.SetPendingOutbound(c.CreateSealer(clientToServer));
        var serverInbound = new RecordingOpener(c.CreateOpener(clientToServer));
        var clientInbound = new RecordingOpener(c.CreateOpener(serverToClient));
        server.SetPendingInbound(serverInbound);
        server.SetPendingOutbound(c.CreateSealer(serverToClient));
        client.SetPendingInbound(clientInbound);

        await client.WritePacketAsync(new byte[] { 21 });
        await server.WritePacketAsync(new byte[] { 21 });
        Assert.That((await server.ReadPacketAsync()).MessageNumber, Is.EqualTo(21));
        Assert.That((await client.ReadPacketAsync()).MessageNumber, Is.EqualTo(21));
        Assert.That(client.State.Outbound.Active.Name, Is.EqualTo(c.Name));
        Assert.That(client.State.Inbound.Active, Is.SameAs(clientInbound));
        Assert.That(server.State.Outbound.Active.Name, Is.EqualTo(c.Name));
        Assert.That(server.State.Inbound.Active, Is.SameAs(serverInbound));

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

        // The reader opened packets both ways: out of place from one pipe segment, in place after gathering.
        foreach (RecordingOpener opener in new[] { serverInbound, clientInbound })
        {
            Assert.That(opener.InPlace, Is.GreaterThan(0), "in place");
            Assert.That(opener.OutOfPlace, Is.GreaterThan(0), "out of place");
        }

        Assert.That(client.InboundSequenceNumber, Is.EqualTo(server.OutboundSequenceNumber));
        Assert.That(server.InboundSequenceNumber, Is.EqualTo(client.OutboundSequenceNumber));
    }
}
