using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using Ssh.Transport.Crypto;
using Ssh.Transport.Crypto.Primitives;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>
/// <see cref="SshPacketizerOptions.ReceiveBatchHold"/>: a packet of a bulk stream with too few packets behind it for a
/// batch waits for them, on a fake clock, no longer than the hold; a lone reply never waits; a hold that runs out is
/// not tried again at once; other cancellations of the read still throw.
/// </summary>
internal sealed class ReceiveBatchHoldTests
{
    private const int Length = 4000;
    private static readonly TimeSpan Hold = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(16);
    private readonly byte[] _iv = RandomNumberGenerator.GetBytes(16);
    private readonly byte[] _macKey = RandomNumberGenerator.GetBytes(32);
    private FakeTimeProvider _time = null!;
    private Pipe _pipe = null!;
    private SshPacketizer _reader = null!;
    private PacketOpener _opener = null!;
    private byte[] _wire = null!;
    private int[] _ends = null!;
    private int _fed;
    private byte[][] _payloads = null!;

    [SetUp]
    public void RequireHardware() => Assume.That(HmacSha256x16.IsSupported, "no AVX-512 on this machine");

    [TearDown]
    public async Task DisposeReader()
    {
        if (_reader is not null)
        {
            await _reader.DisposeAsync();
        }

        _opener?.Dispose();
    }

    private static CipherAlgorithm Cipher => CipherAlgorithm.Find("aes128-ctr")!;

    private static MacAlgorithm Mac => MacAlgorithm.Find("hmac-sha2-256-etm@openssh.com")!;

    /// <summary>NEWKEYS, then <paramref name="lengths"/>' payloads under aes128-ctr + hmac-sha2-256-etm; nothing fed yet.</summary>
    private async Task StartAsync(int[] lengths, TimeSpan hold, int segment = 4 * 1024 * 1024)
    {
        // NUnit runs a fixture's tests on one instance: nothing carries over.
        (_time, _fed) = (new FakeTimeProvider(), 0);
        var random = new Random(lengths.Length);
        _payloads = lengths.Select(length =>
        {
            byte[] payload = new byte[length];
            random.NextBytes(payload);
            payload[0] = SshMessageNumber.ChannelData;
            return payload;
        }).ToArray();

        var options = new SshPacketizerOptions { RekeyPackets = long.MaxValue, RekeyInterval = Timeout.InfiniteTimeSpan, TimeProvider = _time, ReceiveBatchHold = hold };
        var wire = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        await using (var writer = new SshPacketizer(new DuplexPipe(new Pipe().Reader, wire.Writer), SshRole.Client, options))
        {
            writer.SetPendingOutbound(Cipher.CreateSealer(_key, _iv, Mac, _macKey));
            await writer.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
            foreach (byte[] payload in _payloads)
            {
                await writer.WritePacketAsync(payload);
            }

            Assert.That(wire.Reader.TryRead(out ReadResult all), Is.True);
            _wire = all.Buffer.ToArray();
        }

        // Where each packet ends: NEWKEYS in clear (no tag), then EtM packets, whose lengths are in clear too.
        var ends = new List<int> { 4 + BinaryPrimitives.ReadInt32BigEndian(_wire) };
        while (ends[^1] < _wire.Length)
        {
            ends.Add(ends[^1] + 4 + BinaryPrimitives.ReadInt32BigEndian(_wire.AsSpan(ends[^1])) + 32);
        }

        Assert.That(ends, Has.Count.EqualTo(_payloads.Length + 1));
        _ends = [.. ends];

        // One large segment, as the client's socket pipe has: packets fed one after another lie side by side.
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: segment, useSynchronizationContext: false));
        _opener = Cipher.CreateOpener(_key, _iv, Mac, _macKey);
        _reader = new SshPacketizer(new DuplexPipe(_pipe.Reader, new Pipe().Writer), SshRole.Server, options);
        _reader.SetPendingInbound(_opener);
        await FeedAsync(0);
        Assert.That((await _reader.ReadPacketAsync()).Payload.Span[0], Is.EqualTo(SshMessageNumber.NewKeys));
    }

    /// <summary>Feeds the wire up to the end of the first <paramref name="packets"/> payloads (0: NEWKEYS only).</summary>
    private async Task FeedAsync(int packets)
    {
        int end = _ends[packets];
        await _pipe.Writer.WriteAsync(_wire.AsMemory(_fed, end - _fed));
        _fed = end;
    }

    private async Task ExpectAsync(int from, int to)
    {
        for (int i = from; i < to; i++)
        {
            SshPacket packet = await _reader.ReadPacketAsync().AsTask().WaitAsync(Bound);
            Assert.That(packet.Payload.ToArray(), Is.EqualTo(_payloads[i]), $"payload {i}");
        }
    }

    /// <summary>Reads payload <paramref name="index"/>, which must be there at once: read without any hold.</summary>
    private async Task ExpectAtOnceAsync(int index, string why)
    {
        ValueTask<SshPacket> read = _reader.ReadPacketAsync();
        Assert.That(read.IsCompleted, Is.True, why);
        Assert.That((await read).Payload.ToArray(), Is.EqualTo(_payloads[index]), $"payload {index}");
    }

    private static int[] Same(int count) => Enumerable.Repeat(Length, count).ToArray();

    /// <summary>
    /// <paramref name="count"/> packets of one length; the first sixteen read (one batch, a run long enough to hold
    /// after), then fed up to <paramref name="fedThrough"/>: the next read, too few behind it for a batch, is held.
    /// </summary>
    private async Task<Task<SshPacket>> HeldAfterARunAsync(int count, int fedThrough)
    {
        await StartAsync(Same(count), Hold);
        await FeedAsync(16);
        await ExpectAsync(0, 16);
        Assert.That(_opener.PacketsVerifiedAhead, Is.EqualTo(16));
        await FeedAsync(fedThrough);
        Task<SshPacket> held = _reader.ReadPacketAsync().AsTask();
        await Task.Delay(50);
        Assert.That(held.IsCompleted, Is.False, "held for the packets behind it");
        return held;
    }

    [Test]
    public async Task RunThenFewBehind_WaitsForMore_ThenOneBatch()
    {
        // Four behind the next one: it waits, however long, while the hold has not run out.
        Task<SshPacket> held = await HeldAfterARunAsync(48, fedThrough: 20);
        _time.Advance(Hold / 2);
        await Task.Delay(50);
        Assert.That(held.IsCompleted, Is.False, "held for the packets behind it");

        // Twelve more: together sixteen, one batch.
        await FeedAsync(32);
        SshPacket first = await held.WaitAsync(Bound);
        Assert.That(first.Payload.ToArray(), Is.EqualTo(_payloads[16]));
        await ExpectAsync(17, 32);
        Assert.That(_opener.PacketsVerifiedAhead, Is.EqualTo(32));

        // The hold ended before its time: the timer is stopped, so a later advance of the clock cancels nothing.
        _time.Advance(Hold * 10);
        await FeedAsync(48);
        await ExpectAsync(32, 48);
        Assert.That(_opener.PacketsVerifiedAhead, Is.EqualTo(48));
    }

    [Test]
    public async Task HoldRunsOut_PacketReadThen_NoHoldsForAWhile()
    {
        Task<SshPacket> held = await HeldAfterARunAsync(40, fedThrough: 20);
        _time.Advance(Hold);
        SshPacket first = await held.WaitAsync(Bound);
        Assert.That(first.Payload.ToArray(), Is.EqualTo(_payloads[16]));
        await ExpectAsync(17, 20);
        Assert.That(_opener.PacketsVerifiedAhead, Is.EqualTo(16), "the four went one at a time");

        // Not held again right after: the next packet, alone, is read as soon as it is whole.
        await FeedAsync(21);
        await ExpectAtOnceAsync(20, "no hold after one ran out");
    }

    [Test]
    public async Task LoneReply_NeverHeld()
    {
        // Four packets of one length, then one of another: no run of twelve, nothing waits.
        await StartAsync([Length, Length, Length, Length, 2 * Length], Hold);
        await FeedAsync(5);
        for (int i = 0; i < 5; i++)
        {
            await ExpectAtOnceAsync(i, $"packet {i}");
        }
    }

    [Test]
    public async Task HoldZero_NothingHeld()
    {
        await StartAsync(Same(20), TimeSpan.Zero);
        await FeedAsync(16);
        await ExpectAsync(0, 16);
        await FeedAsync(17);
        await ExpectAtOnceAsync(16, "no hold with ReceiveBatchHold zero");
    }

    /// <summary>A held packet whose next bytes start a new segment cannot batch with them: read at once.</summary>
    [Test]
    public async Task MoreInANewSegment_HeldPacketReadAtOnce()
    {
        Task<SshPacket> held = await HeldAfterARunAsync(20, fedThrough: 17);

        // The segment is 4 MiB: what follows lands in it unless it is bigger than what is left.
        Memory<byte> tail = _pipe.Writer.GetMemory(5 * 1024 * 1024);
        _wire.AsSpan(_fed, _ends[18] - _fed).CopyTo(tail.Span);
        _pipe.Writer.Advance(_ends[18] - _fed);
        _fed = _ends[18];
        await _pipe.Writer.FlushAsync();
        Assert.That((await held.WaitAsync(Bound)).Payload.ToArray(), Is.EqualTo(_payloads[16]));

        // Alone in the new segment, the next may wait for its hold.
        ValueTask<SshPacket> next = _reader.ReadPacketAsync();
        _time.Advance(Hold);
        Assert.That((await next.AsTask().WaitAsync(Bound)).Payload.ToArray(), Is.EqualTo(_payloads[17]));
    }

    /// <summary>Kestrel's 64 KiB blocks cannot hold twelve 4 KiB packets from where the next starts: no hold.</summary>
    [Test]
    public async Task SegmentWithoutRoomForABatch_NothingHeld()
    {
        await StartAsync(Same(20), Hold, segment: 48 * 1024);
        await FeedAsync(11);
        await ExpectAsync(0, 11);
        await FeedAsync(14);
        await ExpectAsync(11, 13);

        // Packet 13 follows a run of thirteen, alone, with less than twelve packets' room left in its segment.
        await ExpectAtOnceAsync(13, "no room for a batch in the segment");
    }

    [Test]
    public async Task EndOfInputWhileHeld_PacketsReadThenEnd()
    {
        Task<SshPacket> held = await HeldAfterARunAsync(20, fedThrough: 18);

        await _pipe.Writer.CompleteAsync();
        Assert.That((await held.WaitAsync(Bound)).Payload.ToArray(), Is.EqualTo(_payloads[16]));
        await ExpectAsync(17, 18);
        Assert.That((await _reader.ReadPacketAsync().AsTask().WaitAsync(Bound)).IsCompleted, Is.True);
    }

    [Test]
    public async Task CancelPendingReadWhileHeld_StillThrows()
    {
        Task<SshPacket> held = await HeldAfterARunAsync(20, fedThrough: 18);
        _reader.CancelPendingRead();
        Assert.That(async () => await held.WaitAsync(Bound), Throws.InstanceOf<OperationCanceledException>());

        // The hold's timer firing afterwards finds nothing to do.
        _time.Advance(Hold);
    }

    [Test]
    public void Validate_HoldOutOfRange_Named()
    {
        Assert.That(() => new SshPacketizerOptions { ReceiveBatchHold = TimeSpan.FromMilliseconds(-1) }.Validate(),
            Throws.ArgumentException.With.Message.Contains(nameof(SshPacketizerOptions.ReceiveBatchHold)));
        Assert.That(() => new SshPacketizerOptions { ReceiveBatchHold = SshPacketizerOptions.MaxReceiveBatchHold + TimeSpan.FromTicks(1) }.Validate(),
            Throws.ArgumentException.With.Message.Contains(nameof(SshPacketizerOptions.ReceiveBatchHold)));
        Assert.That(() => new SshPacketizerOptions { ReceiveBatchHold = TimeSpan.Zero }.Validate(), Throws.Nothing);
    }
}
