using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using Ssh.Transport.Crypto;
using Ssh.Transport.Framing;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Framing;

public class PacketReaderTests
{
    private static (PacketReader Reader, TransportState State) Create(SshPacketizerOptions? options = null)
    {
        var state = new TransportState(options ?? new SshPacketizerOptions(), NullLogger.Instance);
        return (new PacketReader(state), state);
    }

    private static readonly byte[][] s_payloads =
    [
        Packets.Payload(SshMessageNumber.Ignore, 1, 0x11),
        Packets.Payload(SshMessageNumber.KexInit, 37, 0x22),
        Packets.Payload(SshMessageNumber.ChannelData, 300, 0x33),
        Packets.Payload(SshMessageNumber.Debug, 8, 0x44),
    ];

    private static byte[] Stream() => s_payloads.SelectMany(p => Packets.None(p)).ToArray();

    private static List<byte[]> ReadAll(PacketReader reader, ReadOnlySequence<byte> input)
    {
        var result = new List<byte[]>();
        while (reader.TryRead(input, out SequencePosition consumed, out SshPacket packet))
        {
            result.Add(packet.Payload.ToArray());
            input = input.Slice(consumed);
        }

        Assert.That(input.Length, Is.Zero, "bytes left over");
        return result;
    }

    [Test]
    public void TryRead_EverySingleSplitPoint_ReadsEveryPacket()
    {
        byte[] data = Stream();
        for (int cut = 0; cut <= data.Length; cut++)
        {
            (PacketReader reader, _) = Create();
            List<byte[]> payloads = ReadAll(reader, Packets.Split(data, cut));
            Assert.That(payloads, Is.EqualTo(s_payloads), $"split at {cut}");
        }
    }

    [Test]
    public void TryRead_EveryPairOfSplitPoints_ReadsEveryPacket()
    {
        byte[] data = s_payloads.Take(2).SelectMany(p => Packets.None(p)).ToArray();
        for (int a = 1; a < data.Length; a++)
        {
            for (int b = a + 1; b < data.Length; b++)
            {
                (PacketReader reader, _) = Create();
                Assert.That(ReadAll(reader, Packets.Split(data, a, b)), Is.EqualTo(s_payloads.Take(2)), $"splits at {a}, {b}");
            }
        }
    }

    [Test]
    public void TryRead_OneByteSegments_ReadsEveryPacket()
    {
        byte[] data = Stream();
        (PacketReader reader, _) = Create();
        Assert.That(ReadAll(reader, Packets.Split(data, Enumerable.Range(1, data.Length).ToArray())), Is.EqualTo(s_payloads));
    }

    [Test]
    public void TryRead_BytesArriveOneAtATime_ReturnsFalseUntilWholeThenReads()
    {
        byte[] data = Stream();
        (PacketReader reader, _) = Create();
        var payloads = new List<byte[]>();
        int start = 0;
        for (int end = 0; end <= data.Length; end++)
        {
            var available = new ReadOnlySequence<byte>(data, start, end - start);
            while (reader.TryRead(available, out SequencePosition consumed, out SshPacket packet))
            {
                payloads.Add(packet.Payload.ToArray());
                start += (int)available.Slice(0, consumed).Length;
                available = available.Slice(consumed);
            }
        }

        Assert.That(payloads, Is.EqualTo(s_payloads));
    }

    [Test]
    public void TryRead_SingleSegmentNone_PayloadPointsIntoInput()
    {
        byte[] data = Packets.None(s_payloads[1]);
        (PacketReader reader, _) = Create();
        Assert.That(reader.TryRead(new ReadOnlySequence<byte>(data), out _, out SshPacket packet), Is.True);
        Assert.That(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(packet.Payload, out ArraySegment<byte> segment), Is.True);
        Assert.That(segment.Array, Is.SameAs(data), "no copy for none in one segment");
        Assert.That(segment.Offset, Is.EqualTo(5));
    }

    [Test]
    public void TryRead_SequenceNumbersAdvanceOncePerPacket()
    {
        (PacketReader reader, TransportState state) = Create();
        ReadOnlySequence<byte> input = new(Stream());
        uint expected = 0;
        while (reader.TryRead(input, out SequencePosition consumed, out SshPacket packet))
        {
            Assert.That(packet.SequenceNumber, Is.EqualTo(expected++));
            input = input.Slice(consumed);
        }

        Assert.That(state.Inbound.SequenceNumber, Is.EqualTo((uint)s_payloads.Length));
    }

    [TestCase(0xFFFFFFFFu)]
    [TestCase(0x80000000u)]
    [TestCase((uint)SshPacketizerOptions.DefaultMaxPacketLength + 4)]
    public void TryRead_LengthOverCap_ThrowsWithOnlyTheLengthReceived(uint length)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, length);
        (PacketReader reader, _) = Create();
        var ex = Assert.Throws<SshProtocolException>(() => reader.TryRead(new ReadOnlySequence<byte>(bytes), out _, out _));
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError));
        Assert.That(ex.Message, Does.Contain("exceeds the limit"));
    }

    [Test]
    public void TryRead_LengthAtConfiguredCap_IsAccepted()
    {
        var options = new SshPacketizerOptions { MaxPacketLength = 35004 };

        // 35004 + 4 is a multiple of 8: exactly the cap, padding chosen to fit.
        int payloadLength = 35004 - 1 - 7;
        byte[] packet = Packets.None(Packets.Payload(SshMessageNumber.ChannelData, payloadLength, 1), paddingLength: 7);
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(packet), Is.EqualTo(35004u));
        (PacketReader reader, _) = Create(options);
        Assert.That(reader.TryRead(new ReadOnlySequence<byte>(packet), out _, out SshPacket read), Is.True);
        Assert.That(read.Payload.Length, Is.EqualTo(payloadLength));

        byte[] over = Packets.None(Packets.Payload(SshMessageNumber.ChannelData, payloadLength + 8, 1), paddingLength: 7);
        (PacketReader reader2, _) = Create(options);
        Assert.Throws<SshProtocolException>(() => reader2.TryRead(new ReadOnlySequence<byte>(over), out _, out _));
    }

    [Test]
    public void MaxPacketLength_BelowRfcMinimum_IsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new SshPacketizerOptions { MaxPacketLength = 34999 });
    }

    [TestCase(3, TestName = "TryRead_PaddingOfThree_Throws")]
    [TestCase(0, TestName = "TryRead_PaddingOfZero_Throws")]
    public void TryRead_ShortPadding_Throws(int padding)
    {
        // payload chosen so the packet stays aligned to 8 with the short padding
        int payloadLength = 16 - 4 - 1 - padding;
        byte[] packet = Packets.None(Packets.Payload(SshMessageNumber.Ignore, payloadLength, 0), paddingLength: padding);
        (PacketReader reader, _) = Create();
        var ex = Assert.Throws<SshProtocolException>(() => reader.TryRead(new ReadOnlySequence<byte>(packet), out _, out _));
        Assert.That(ex!.Message, Does.Contain("padding"));
    }

    [Test]
    public void TryRead_PaddingLeavesNoPayload_Throws()
    {
        // packet_length 12, padding_length 11: no payload byte at all.
        byte[] packet = new byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(packet, 12);
        packet[4] = 11;
        (PacketReader reader, _) = Create();
        var ex = Assert.Throws<SshProtocolException>(() => reader.TryRead(new ReadOnlySequence<byte>(packet), out _, out _));
        Assert.That(ex!.Message, Does.Contain("no payload"));
    }

    [Test]
    public void TryRead_PaddingLongerThanPacket_Throws()
    {
        byte[] packet = new byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(packet, 12);
        packet[4] = 200;
        (PacketReader reader, _) = Create();
        Assert.Throws<SshProtocolException>(() => reader.TryRead(new ReadOnlySequence<byte>(packet), out _, out _));
    }

    [TestCase(13u)]
    [TestCase(9u)]
    [TestCase(101u)]
    public void TryRead_Misaligned_Throws(uint packetLength)
    {
        byte[] packet = new byte[4 + packetLength];
        BinaryPrimitives.WriteUInt32BigEndian(packet, packetLength);
        packet[4] = 4;
        (PacketReader reader, _) = Create();
        var ex = Assert.Throws<SshProtocolException>(() => reader.TryRead(new ReadOnlySequence<byte>(packet, 0, 4), out _, out _));
        Assert.That(ex!.Message, Does.Contain("aligned"));
    }

    [TestCase(0u)]
    [TestCase(4u)]
    public void TryRead_TooShort_Throws(uint packetLength)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, packetLength);
        (PacketReader reader, _) = Create();
        Assert.Throws<SshProtocolException>(() => reader.TryRead(new ReadOnlySequence<byte>(bytes), out _, out _));
    }

    [Test]
    public void TryRead_NewKeysWithNothingPending_IsPeerProtocolError()
    {
        (PacketReader reader, _) = Create();
        byte[] packet = Packets.None([SshMessageNumber.NewKeys]);
        var ex = Assert.Throws<SshProtocolException>(() => reader.TryRead(new ReadOnlySequence<byte>(packet), out _, out _));
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError));
        Assert.That(ex.Message, Does.Contain("NEWKEYS"));
    }

    [Test]
    public void TryRead_NewKeysWithPending_SwitchesAfterThePacket()
    {
        (PacketReader reader, TransportState state) = Create();
        PacketOpener before = state.Inbound.Active;
        PacketOpener pending = NoneProtection.CreateOpener();
        state.Inbound.Pending = pending;
        byte[] data = [.. Packets.None([SshMessageNumber.NewKeys]), .. Packets.None(s_payloads[0])];
        ReadOnlySequence<byte> input = new(data);

        Assert.That(reader.TryRead(input, out SequencePosition consumed, out SshPacket newKeys), Is.True);
        Assert.That(newKeys.MessageNumber, Is.EqualTo(SshMessageNumber.NewKeys));
        Assert.That(state.Inbound.Active, Is.SameAs(pending));
        Assert.That(state.Inbound.Active, Is.Not.SameAs(before));
        Assert.That(state.Inbound.Pending, Is.Null);
        Assert.That(state.Inbound.SequenceNumber, Is.EqualTo(1u), "no strict kex: numbering goes on");
        Assert.That(reader.TryRead(input.Slice(consumed), out _, out SshPacket next), Is.True);
        Assert.That(next.SequenceNumber, Is.EqualTo(1u));
    }

    [Test]
    public void TryRead_StrictKex_NewKeysResetsSequenceNumber()
    {
        (PacketReader reader, TransportState state) = Create();
        state.StrictKex = true;
        state.Inbound.Pending = NoneProtection.CreateOpener();
        byte[] data = [.. Packets.None(s_payloads[0]), .. Packets.None([SshMessageNumber.NewKeys]), .. Packets.None(s_payloads[0])];
        ReadOnlySequence<byte> input = new(data);
        var numbers = new List<uint>();
        while (reader.TryRead(input, out SequencePosition consumed, out SshPacket packet))
        {
            numbers.Add(packet.SequenceNumber);
            input = input.Slice(consumed);
        }

        Assert.That(numbers, Is.EqualTo(new uint[] { 0, 1, 0 }));
        Assert.That(state.Inbound.SequenceNumber, Is.EqualTo(1u));
    }

    [Test]
    public void TryRead_SequenceWrapBeforeFirstNewKeys_IsFatal()
    {
        (PacketReader reader, TransportState state) = Create();
        state.Inbound.SequenceNumber = uint.MaxValue;
        var ex = Assert.Throws<SshProtocolException>(() => reader.TryRead(new ReadOnlySequence<byte>(Packets.None(s_payloads[0])), out _, out _));
        Assert.That(ex!.Message, Does.Contain("wrapped"));
    }

    [Test]
    public void TryRead_SequenceWrapAfterFirstNewKeys_Wraps()
    {
        (PacketReader reader, TransportState state) = Create();
        state.Inbound.Pending = NoneProtection.CreateOpener();
        ReadOnlySequence<byte> input = new([.. Packets.None([SshMessageNumber.NewKeys]), .. Packets.None(s_payloads[0]), .. Packets.None(s_payloads[0])]);
        Assert.That(reader.TryRead(input, out SequencePosition consumed, out _), Is.True);
        input = input.Slice(consumed);
        state.Inbound.SequenceNumber = uint.MaxValue;
        Assert.That(reader.TryRead(input, out consumed, out SshPacket last), Is.True);
        Assert.That(last.SequenceNumber, Is.EqualTo(uint.MaxValue));
        Assert.That(reader.TryRead(input.Slice(consumed), out _, out SshPacket wrapped), Is.True);
        Assert.That(wrapped.SequenceNumber, Is.Zero);
    }

    [Test]
    public void TryRead_RandomGarbage_ThrowsProtocolErrorOrWaits()
    {
        var random = new Random(1234);
        for (int i = 0; i < 5000; i++)
        {
            var data = new byte[random.Next(4, 300)];
            random.NextBytes(data);
            if (random.Next(2) == 0)
            {
                // A plausible length makes the parser go deeper.
                BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(random.Next(1, 40) * 8 - 4));
            }

            (PacketReader reader, _) = Create();
            ReadOnlySequence<byte> input = Packets.Split(data, random.Next(data.Length));
            try
            {
                while (reader.TryRead(input, out SequencePosition consumed, out _))
                {
                    input = input.Slice(consumed);
                }
            }
            catch (SshProtocolException)
            {
            }
        }
    }
}
