using System.Buffers;
using System.Buffers.Binary;
using Ssh.Transport.Crypto;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Framing;

/// <summary>
/// OpenSSH's discard behaviour for CBC: a bogus length or a bad MAC is not reported until input up to the packet
/// cap has been read and MACed, so an attacker probing the length check learns nothing from when we hang up.
/// </summary>
public class DiscardTests
{
    /// <summary>A CBC-like opener: the length is whatever the first 4 bytes say, the MAC is never right.</summary>
    private sealed class FakeCbcOpener : PacketOpener
    {
        public long MacedBytes { get; private set; }

        public override string Name => "fake-cbc";
        public override int BlockSize => 16;
        public override int TagSize => 32;
        public override int LengthPrefixSize => 16;
        public override bool AlignmentIncludesLengthField => true;
        public override bool DiscardsOnBadLength => true;

        public override uint DecryptLength(uint sequenceNumber, ReadOnlySpan<byte> prefix) => BinaryPrimitives.ReadUInt32BigEndian(prefix);

        public override bool TryOpen(uint sequenceNumber, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> tag, Span<byte> destination) => false;

        public override void ComputeDiscardMac(uint sequenceNumber, ReadOnlySpan<byte> data) => MacedBytes += data.Length;
    }

    private static async Task<(SshPacketizer Server, FakeCbcOpener Opener, PipePair Pipes)> ServerWithFakeCbcAsync()
    {
        var pipes = new PipePair();
        var server = new SshPacketizer(pipes.Server, SshRole.Server, new SshPacketizerOptions { MaxPacketLength = 40_000 });
        var opener = new FakeCbcOpener();
        server.SetPendingInbound(opener);
        await pipes.ClientToServer.Writer.WriteAsync(Packets.None([SshMessageNumber.NewKeys]));
        Assert.That((await server.ReadPacketAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.NewKeys));
        return (server, opener, pipes);
    }

    [TestCase(0xFFFFFFF0u, TestName = "Discard_HugeLength_ReadsToTheCapThenFailsAsMac")]
    [TestCase(17u, TestName = "Discard_MisalignedLength_ReadsToTheCapThenFailsAsMac")]
    public async Task Discard_BogusLength(uint bogusLength)
    {
        (SshPacketizer server, FakeCbcOpener opener, PipePair pipes) = await ServerWithFakeCbcAsync();
        Task<SshPacket> read = server.ReadPacketAsync().AsTask();
        var first = new byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(first, bogusLength);
        await pipes.ClientToServer.Writer.WriteAsync(first);

        // 4 + cap bytes are taken in all; stop one chunk short and nothing is reported yet.
        long total = 4 + 40_000;
        long sent = first.Length;
        var chunk = new byte[1000];
        while (sent + chunk.Length < total)
        {
            await pipes.ClientToServer.Writer.WriteAsync(chunk);
            sent += chunk.Length;
        }

        await Task.Delay(20);
        Assert.That(read.IsCompleted, Is.False, "still discarding");
        await pipes.ClientToServer.Writer.WriteAsync(chunk);
        var ex = Assert.ThrowsAsync<SshProtocolException>(() => read);
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.MacError));
        Assert.That(opener.MacedBytes, Is.EqualTo(total), "a MAC was computed over everything discarded");
    }

    [Test]
    public async Task Discard_BadMac_AlsoReadsToTheCap()
    {
        (SshPacketizer server, FakeCbcOpener opener, PipePair pipes) = await ServerWithFakeCbcAsync();
        Task<SshPacket> read = server.ReadPacketAsync().AsTask();
        var packet = new byte[4 + 60 + 32];
        BinaryPrimitives.WriteUInt32BigEndian(packet, 60);
        await pipes.ClientToServer.Writer.WriteAsync(packet);
        await Task.Delay(20);
        Assert.That(read.IsCompleted, Is.False, "a bad MAC does not fail at once either");
        await pipes.ClientToServer.Writer.WriteAsync(new byte[40_004 - packet.Length]);
        var ex = Assert.ThrowsAsync<SshProtocolException>(() => read);
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.MacError));
        Assert.That(opener.MacedBytes, Is.EqualTo(40_004 - packet.Length));
    }

    [Test]
    public async Task Discard_ConnectionClosedWhileDiscarding_IsConnectionLost()
    {
        (SshPacketizer server, _, PipePair pipes) = await ServerWithFakeCbcAsync();
        var first = new byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(first, 17);
        await pipes.ClientToServer.Writer.WriteAsync(first);
        await pipes.ClientToServer.Writer.CompleteAsync();
        var ex = Assert.ThrowsAsync<SshProtocolException>(async () => await server.ReadPacketAsync());
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.ConnectionLost));
    }

    [Test]
    public void NonDiscardingOpener_BadLength_FailsAtOnce()
    {
        var reader = new Ssh.Transport.Framing.PacketReader(new Ssh.Transport.Framing.TransportState(new SshPacketizerOptions(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, 17);
        Assert.Throws<SshProtocolException>(() => reader.TryRead(new ReadOnlySequence<byte>(bytes), out _, out _));
    }
}
