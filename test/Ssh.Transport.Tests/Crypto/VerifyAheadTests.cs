using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Ssh.Transport.Crypto;
using Ssh.Transport.Crypto.Primitives;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>
/// hmac-sha2-256-etm packets that arrive together are authenticated sixteen at a time (<see cref="HmacSha256x16"/>)
/// before any of them is decrypted: every payload comes out as sent, a forged tag or ciphertext anywhere in a batch
/// fails exactly that packet after the ones before it were delivered, and packets that are not contiguous take the
/// one-at-a-time path.
/// </summary>
internal sealed class VerifyAheadTests
{
    private static readonly SshPacketizerOptions s_options = new() { RekeyPackets = long.MaxValue, RekeyInterval = Timeout.InfiniteTimeSpan };
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(16);
    private readonly byte[] _iv = RandomNumberGenerator.GetBytes(16);
    private readonly byte[] _macKey = RandomNumberGenerator.GetBytes(32);

    [SetUp]
    public void RequireHardware() => Assume.That(HmacSha256x16.IsSupported, "no AVX-512 on this machine");

    [TearDown]
    public void RestoreBatches() => SshHmac.UseBatches = true;

    private static CipherAlgorithm Cipher => CipherAlgorithm.Find("aes128-ctr")!;

    private static MacAlgorithm Mac => MacAlgorithm.Find("hmac-sha2-256-etm@openssh.com")!;

    private static byte[][] Payloads(int count, int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i =>
        {
            byte[] payload = new byte[length + (i % 3 == 2 && length < 100 ? i : 0)];
            random.NextBytes(payload);
            payload[0] = SshMessageNumber.ChannelData;
            return payload;
        }).ToArray();
    }

    /// <summary>NEWKEYS in clear, then the payloads under aes128-ctr + hmac-sha2-256-etm, as bytes on the wire.</summary>
    private async Task<byte[]> WireAsync(byte[][] payloads)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        await using var writer = new SshPacketizer(new DuplexPipe(new Pipe().Reader, pipe.Writer), SshRole.Client, s_options);
        writer.SetPendingOutbound(Cipher.CreateSealer(_key, _iv, Mac, _macKey));
        await writer.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        foreach (byte[] payload in payloads)
        {
            await writer.WritePacketAsync(payload);
        }

        Assert.That(pipe.Reader.TryRead(out ReadResult result), Is.True);
        return result.Buffer.ToArray();
    }

    /// <summary>Feeds <paramref name="wire"/> in the given pieces (each its own write) and reads packets until one fails or all are in.</summary>
    private async Task<(List<byte[]> Received, Exception? Error, PacketOpener Opener)> ReadAsync(byte[] wire, int count, int[]? pieces = null, int segment = 4 * 1024 * 1024)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: segment, useSynchronizationContext: false));
        PacketOpener opener = Cipher.CreateOpener(_key, _iv, Mac, _macKey);
        await using var reader = new SshPacketizer(new DuplexPipe(pipe.Reader, new Pipe().Writer), SshRole.Server, s_options);
        reader.SetPendingInbound(opener);
        int at = 0;
        foreach (int piece in pieces ?? [wire.Length])
        {
            await pipe.Writer.WriteAsync(wire.AsMemory(at, piece));
            at += piece;
        }

        var received = new List<byte[]>();
        Assert.That((await reader.ReadPacketAsync()).Payload.Span[0], Is.EqualTo(SshMessageNumber.NewKeys));
        try
        {
            while (received.Count < count)
            {
                received.Add((await reader.ReadPacketAsync()).Payload.ToArray());
            }
        }
        catch (SshProtocolException e)
        {
            return (received, e, opener);
        }

        return (received, null, opener);
    }

    [TestCase(4000)]
    [TestCase(32768)]
    [TestCase(1100)]
    public async Task ManyPacketsTogether_VerifiedInBatches_AllArriveIntact(int length)
    {
        byte[][] payloads = Payloads(40, length, length);
        byte[] wire = await WireAsync(payloads);
        (List<byte[]> received, Exception? error, PacketOpener opener) = await ReadAsync(wire, payloads.Length);
        Assert.That(error, Is.Null);
        Assert.That(received, Is.EqualTo(payloads));

        // Batches of sixteen, sixteen, then eight: too few for a batch, opened one at a time.
        Assert.That(opener.PacketsVerifiedAhead, Is.EqualTo(32));
    }

    [Test]
    public async Task BatchesOff_SameWire_SamePayloads()
    {
        byte[][] payloads = Payloads(20, 5000, 1);
        byte[] wire = await WireAsync(payloads);
        SshHmac.UseBatches = false;
        (List<byte[]> received, Exception? error, PacketOpener opener) = await ReadAsync(wire, payloads.Length);
        Assert.That(error, Is.Null);
        Assert.That(received, Is.EqualTo(payloads));
        Assert.That(opener.PacketsVerifiedAhead, Is.Zero);
    }

    [Test]
    public async Task SmallPackets_NotBatched()
    {
        byte[][] payloads = Payloads(40, 200, 2);
        (List<byte[]> received, Exception? error, PacketOpener opener) = await ReadAsync(await WireAsync(payloads), payloads.Length);
        Assert.That(error, Is.Null);
        Assert.That(received, Is.EqualTo(payloads));
        Assert.That(opener.PacketsVerifiedAhead, Is.Zero);
    }

    /// <summary>
    /// One bit flipped in packet <paramref name="target"/>'s tag, ciphertext or clear length: the packets before it
    /// arrive, it fails authentication (or its length no longer frames a packet), nothing of it is released.
    /// </summary>
    [TestCase(0, "tag")]
    [TestCase(5, "tag")]
    [TestCase(15, "ciphertext")]
    [TestCase(20, "ciphertext")]
    [TestCase(31, "tag")]
    [TestCase(3, "first ciphertext byte")]
    public async Task ForgedPacketInABatch_FailsExactlyThere(int target, string where)
    {
        const int Length = 3000;
        byte[][] payloads = Payloads(40, Length, 3);
        byte[] wire = await WireAsync(payloads);
        int newKeys = wire.Length - payloads.Sum(p => PacketSize(p.Length));
        int start = newKeys + (target * PacketSize(Length));
        int offset = where switch
        {
            "tag" => start + PacketSize(Length) - 1,
            "ciphertext" => start + 4 + 1000,
            _ => start + 4,
        };
        wire[offset] ^= 0x10;

        (List<byte[]> received, Exception? error, _) = await ReadAsync(wire, payloads.Length);
        Assert.That(received, Is.EqualTo(payloads[..target]), "everything before the forged packet arrives");
        Assert.That(error, Is.InstanceOf<SshProtocolException>());
        Assert.That(((SshProtocolException)error!).Reason, Is.EqualTo(SshDisconnectReason.MacError));
    }

    /// <summary>Packets that straddle pipe segments are gathered and opened one at a time, with the same result.</summary>
    [Test]
    public async Task PacketsAcrossSegments_OpenedOneAtATime_AllArrive()
    {
        byte[][] payloads = Payloads(40, 4000, 4);
        byte[] wire = await WireAsync(payloads);
        int[] pieces = [wire.Length / 3, wire.Length / 3, wire.Length - (2 * (wire.Length / 3))];
        (List<byte[]> received, Exception? error, PacketOpener opener) = await ReadAsync(wire, payloads.Length, pieces, segment: 4096);
        Assert.That(error, Is.Null);
        Assert.That(received, Is.EqualTo(payloads));
        Assert.That(opener.PacketsVerifiedAhead, Is.Zero, "no 4 KiB segment holds a whole 4 KiB packet, let alone twelve");
    }

    /// <summary>4 + packet_length + tag for a payload under aes128-ctr + EtM: padding to 16 over padding_length || payload, at least 4.</summary>
    private static int PacketSize(int payload)
    {
        int unpadded = 1 + payload;
        int padding = 16 - (unpadded % 16);
        padding = padding < 4 ? padding + 16 : padding;
        return 4 + unpadded + padding + 32;
    }
}

/// <summary>
/// The sending side: packets of one payload length written as a batch (<see cref="SshPacketizer.WriteBatchGatedAsync"/>)
/// are sealed together and read back, by the batched reader and the one-at-a-time reader, as the same payloads.
/// </summary>
internal sealed class SealBatchTests
{
    private static readonly SshPacketizerOptions s_options = new() { RekeyPackets = long.MaxValue, RekeyInterval = Timeout.InfiniteTimeSpan };

    [SetUp]
    public void RequireHardware() => Assume.That(HmacSha256x16.IsSupported, "no AVX-512 on this machine");

    [TearDown]
    public void RestoreBatches() => SshHmac.UseBatches = true;

    [TestCase(16, 32768, true)]
    [TestCase(13, 1500, true)]
    [TestCase(16, 32768, false)]
    [TestCase(40, 2000, true)]
    public async Task Batch_ReadBack_SamePayloads(int count, int length, bool batchedReader)
    {
        byte[] key = RandomNumberGenerator.GetBytes(16), iv = RandomNumberGenerator.GetBytes(16), macKey = RandomNumberGenerator.GetBytes(32);
        CipherAlgorithm cipher = CipherAlgorithm.Find("aes128-ctr")!;
        MacAlgorithm mac = MacAlgorithm.Find("hmac-sha2-256-etm@openssh.com")!;
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: 4 * 1024 * 1024, useSynchronizationContext: false));
        await using var writer = new SshPacketizer(new DuplexPipe(new Pipe().Reader, pipe.Writer), SshRole.Client, s_options);
        PacketSealer sealer = cipher.CreateSealer(key, iv, mac, macKey);
        Assert.That(sealer.SealsInBatches, Is.True);
        writer.SetPendingOutbound(sealer);
        await writer.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        byte[] data = RandomNumberGenerator.GetBytes(count * length);
        for (int i = 0; i < count; i++)
        {
            data[i * length] = SshMessageNumber.ChannelData;
        }

        await writer.WritePacketAsync(new byte[] { SshMessageNumber.Ignore, 1, 2, 3 }); // one before the batch
        for (int start = 0; start < count; start += 16)
        {
            int n = Math.Min(16, count - start);
            await writer.WriteBatchGatedAsync((data, length, start), n, length, static (output, s, i) => output.Write(s.data.AsSpan((s.start + i) * s.length, s.length)), flush: false, CancellationToken.None);
        }

        await writer.WritePacketAsync(new byte[] { SshMessageNumber.Ignore, 4 }); // and one after, which flushes
        Assert.That(pipe.Reader.TryRead(out ReadResult result), Is.True);
        byte[] wire = result.Buffer.ToArray();

        SshHmac.UseBatches = batchedReader;
        var input = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: 4 * 1024 * 1024, useSynchronizationContext: false));
        await using var reader = new SshPacketizer(new DuplexPipe(input.Reader, new Pipe().Writer), SshRole.Server, s_options);
        PacketOpener opener = cipher.CreateOpener(key, iv, mac, macKey);
        reader.SetPendingInbound(opener);
        await input.Writer.WriteAsync(wire);
        Assert.That((await reader.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(new byte[] { SshMessageNumber.NewKeys }));
        Assert.That((await reader.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(new byte[] { SshMessageNumber.Ignore, 1, 2, 3 }));
        for (int i = 0; i < count; i++)
        {
            SshPacket packet = await reader.ReadPacketAsync();
            Assert.That(packet.SequenceNumber, Is.EqualTo((uint)(i + 2)));
            Assert.That(packet.Payload.ToArray(), Is.EqualTo(data.AsSpan(i * length, length).ToArray()), $"packet {i}");
        }

        Assert.That((await reader.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(new byte[] { SshMessageNumber.Ignore, 4 }));
        Assert.That(opener.PacketsVerifiedAhead, batchedReader && length >= 1024 ? Is.GreaterThan(0) : Is.Zero);
    }

    /// <summary>Keys that do not seal in batches (aes128-gcm): the same call writes the packets one by one, all readable.</summary>
    [Test]
    public async Task KeysWithoutBatches_OneByOne_SamePayloads()
    {
        CipherAlgorithm cipher = CipherAlgorithm.Find("aes128-gcm@openssh.com")!;
        byte[] key = RandomNumberGenerator.GetBytes(16), iv = RandomNumberGenerator.GetBytes(12);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        await using var writer = new SshPacketizer(new DuplexPipe(new Pipe().Reader, pipe.Writer), SshRole.Client, s_options);
        PacketSealer sealer = cipher.CreateSealer(key, iv, null, default);
        Assert.That(sealer.SealsInBatches, Is.False);
        writer.SetPendingOutbound(sealer);
        await writer.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        byte[] data = RandomNumberGenerator.GetBytes(14 * 1000);
        for (int i = 0; i < 14; i++)
        {
            data[i * 1000] = SshMessageNumber.ChannelData;
        }

        await writer.WriteBatchGatedAsync(data, 14, 1000, static (output, d, i) => output.Write(d.AsSpan(i * 1000, 1000)), flush: true, CancellationToken.None);
        Assert.That(sealer.PacketsSealedInBatches, Is.Zero);
        Assert.That(pipe.Reader.TryRead(out ReadResult result), Is.True);
        byte[] wire = result.Buffer.ToArray();

        var input = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        await using var reader = new SshPacketizer(new DuplexPipe(input.Reader, new Pipe().Writer), SshRole.Server, s_options);
        reader.SetPendingInbound(cipher.CreateOpener(key, iv, null, default));
        await input.Writer.WriteAsync(wire);
        await reader.ReadPacketAsync();
        for (int i = 0; i < 14; i++)
        {
            Assert.That((await reader.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(data.AsSpan(i * 1000, 1000).ToArray()));
        }
    }

    /// <summary>A payload of the wrong length, or a NEWKEYS, fails the whole batch before anything is committed; writing goes on.</summary>
    [TestCase("short")]
    [TestCase("newkeys")]
    public async Task BadPayload_NothingCommitted_PacketizerStillUsable(string fault)
    {
        CipherAlgorithm cipher = CipherAlgorithm.Find("aes128-ctr")!;
        MacAlgorithm mac = MacAlgorithm.Find("hmac-sha2-256-etm@openssh.com")!;
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        await using var writer = new SshPacketizer(new DuplexPipe(new Pipe().Reader, pipe.Writer), SshRole.Client, s_options);
        writer.SetPendingOutbound(cipher.CreateSealer(new byte[16], new byte[16], mac, new byte[32]));
        await writer.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        pipe.Reader.TryRead(out ReadResult before);
        pipe.Reader.AdvanceTo(before.Buffer.End);
        Assert.ThrowsAsync<InvalidOperationException>(async () => await writer.WriteBatchGatedAsync(fault, 16, 2000, static (output, f, i) =>
        {
            Span<byte> span = output.GetSpan(2000);
            span[0] = f == "newkeys" && i == 7 ? SshMessageNumber.NewKeys : SshMessageNumber.ChannelData;
            output.Advance(f == "short" && i == 9 ? 1999 : 2000);
        }, flush: true, CancellationToken.None));
        await writer.FlushAsync();
        Assert.That(pipe.Reader.TryRead(out _), Is.False, "nothing of the batch was committed");

        SshWriteResult next = await writer.WritePacketAsync(new byte[] { SshMessageNumber.Ignore });
        Assert.That(next.SequenceNumber, Is.EqualTo(1u), "no sequence number was used up");
    }
}
