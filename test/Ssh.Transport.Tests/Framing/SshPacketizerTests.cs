using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Ssh.Transport.Crypto;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Framing;

public class SshPacketizerTests
{
    private static (SshPacketizer Client, SshPacketizer Server, PipePair Pipes) Connect(SshPacketizerOptions? client = null, SshPacketizerOptions? server = null, MemoryPool<byte>? pool = null)
    {
        var pipes = new PipePair(pool);
        return (new SshPacketizer(pipes.Client, SshRole.Client, client), new SshPacketizer(pipes.Server, SshRole.Server, server), pipes);
    }

    private static ValueTask<SshWriteResult> WriteIgnore(SshPacketizer packetizer, int length, byte fill = 0x5A) =>
        packetizer.WritePacketAsync(Packets.Payload(SshMessageNumber.Ignore, length, fill));

    [Test]
    public async Task WriteThenRead_PayloadArrivesIntact()
    {
        (SshPacketizer client, SshPacketizer server, _) = Connect();
        foreach (int size in new[] { 1, 2, 7, 8, 64, 1000, 4096, 32768, 200_000 })
        {
            byte[] payload = Packets.Payload(SshMessageNumber.ChannelData, size, (byte)size);
            new Random(size).NextBytes(payload.AsSpan(1));
            await client.WritePacketAsync(payload);
            SshPacket packet = await server.ReadPacketAsync();
            Assert.That(packet.Payload.ToArray(), Is.EqualTo(payload), $"size {size}");
        }
    }

    /// <summary>
    /// A flush's token that fires just as that flush finishes becomes a pending CancelPendingFlush, which cancels the
    /// next flush: another writer's, whose packet is already in the pipe. That stale cancellation must not fail the
    /// write (it ended whole connections of the soak run, mid-stream, when channels closed while data flowed).
    /// </summary>
    [Test]
    public async Task Write_StaleCancelledFlush_FlushedAgain_PacketArrives()
    {
        (SshPacketizer client, SshPacketizer server, PipePair pipes) = Connect();
        for (int i = 0; i < 3; i++)
        {
            pipes.ClientToServer.Writer.CancelPendingFlush(); // no flush pending: the next one reports IsCanceled
            byte[] payload = Packets.Payload(SshMessageNumber.ChannelData, 100 + i, (byte)i);
            await client.WritePacketAsync(payload);
            Assert.That((await server.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(payload));
        }

        pipes.ClientToServer.Writer.CancelPendingFlush();
        await client.FlushAsync();
    }

    /// <summary>
    /// A writer that finds another queued behind it leaves its flush to that one. When the one behind writes with
    /// flush false, it must still flush the first writer's packet: nobody else may ever write again.
    /// </summary>
    [Test]
    public async Task Write_FlushLeftToAWriterWithFlushFalse_StillFlushed()
    {
        (SshPacketizer client, _, PipePair pipes) = Connect();
        ValueTask<SshWriteResult> second = default;
        byte[] first = Packets.Payload(SshMessageNumber.Ignore, 10, 1);
        await client.WritePacketAsync(first, (writer, p) =>
        {
            // Queued behind us while we hold the write lock.
            second = client.WritePacketAsync(Packets.Payload(SshMessageNumber.Ignore, 20, 2), static (w, p) => w.Write(p), 20, flush: false);
            writer.Write(p);
        }, first.Length, flush: true);
        await second;

        Assert.That(pipes.ClientToServer.Reader.TryRead(out ReadResult result), Is.True, "both packets were flushed");
        Assert.That(result.Buffer.Length, Is.EqualTo(24 + 32), "packets with payloads of 10 and 20 bytes, padded to blocks of 8, no MAC");
    }

    /// <summary>With flush false and nobody behind, the packet waits for a flush.</summary>
    [Test]
    public async Task Write_FlushFalse_Alone_WaitsForFlushAsync()
    {
        (SshPacketizer client, _, PipePair pipes) = Connect();
        await client.WritePacketAsync(Packets.Payload(SshMessageNumber.Ignore, 10, 1), static (w, p) => w.Write(p), 10, flush: false);
        Assert.That(pipes.ClientToServer.Reader.TryRead(out _), Is.False);
        await client.FlushAsync();
        Assert.That(pipes.ClientToServer.Reader.TryRead(out ReadResult result), Is.True);
        Assert.That(result.Buffer.Length, Is.EqualTo(24));
    }

    [Test]
    public void Write_OwnTokenCancelled_StillThrows()
    {
        (SshPacketizer client, _, _) = Connect();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.CatchAsync<OperationCanceledException>(async () => await client.WritePacketAsync(Packets.Payload(SshMessageNumber.Ignore, 10, 1), cancelled.Token));
    }

    [Test]
    public async Task Write_PacketIsAlignedPaddedAndRandom()
    {
        (SshPacketizer client, _, PipePair pipes) = Connect();
        await WriteIgnore(client, 10);
        await WriteIgnore(client, 10);
        ReadResult result = await pipes.ClientToServer.Reader.ReadAsync();
        byte[] bytes = result.Buffer.ToArray();
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes);
        int padding = bytes[4];
        Assert.That((length + 4) % 8, Is.Zero);
        Assert.That(padding, Is.InRange(4, 11));
        Assert.That(length, Is.EqualTo(1 + 10 + padding));
        Assert.That(bytes.Length, Is.EqualTo(2 * (4 + length)));
        byte[] firstPadding = bytes.AsSpan(15, padding).ToArray();
        byte[] secondPadding = bytes.AsSpan(4 + length + 15, padding).ToArray();
        Assert.That(firstPadding, Is.Not.EqualTo(secondPadding), "padding is random");
    }

    [Test]
    public async Task Write_PayloadOutgrowsSizeHint_IsMovedIntact()
    {
        (SshPacketizer client, SshPacketizer server, _) = Connect();
        byte[] expected = new byte[50_000];
        new Random(5).NextBytes(expected);
        expected[0] = SshMessageNumber.ChannelData;
        await client.WritePacketAsync(expected, static (w, data) =>
        {
            // Write in small pieces with tiny hints so the writer has to grow several times.
            for (int offset = 0; offset < data.Length; offset += 1000)
            {
                int n = Math.Min(1000, data.Length - offset);
                Span<byte> span = w.GetSpan(n);
                data.AsSpan(offset, n).CopyTo(span);
                w.Advance(n);
            }
        }, payloadSizeHint: 10, flush: true);
        SshPacket packet = await server.ReadPacketAsync();
        Assert.That(packet.Payload.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void Write_EmptyPayload_IsRejectedAndNothingSent()
    {
        (SshPacketizer client, _, PipePair pipes) = Connect();
        Assert.ThrowsAsync<InvalidOperationException>(async () => await client.WritePacketAsync(ReadOnlyMemory<byte>.Empty));
        Assert.That(pipes.ClientToServer.Reader.TryRead(out _), Is.False);
        Assert.That(client.OutboundSequenceNumber, Is.Zero);
    }

    [Test]
    public void Write_PayloadWriterThrows_NothingSent()
    {
        (SshPacketizer client, _, PipePair pipes) = Connect();
        Assert.ThrowsAsync<FormatException>(async () => await client.WritePacketAsync(0, static (w, _) =>
        {
            w.GetSpan(10)[0] = 2;
            w.Advance(10);
            throw new FormatException("boom");
        }));
        Assert.That(pipes.ClientToServer.Reader.TryRead(out _), Is.False);
        Assert.That(client.OutboundSequenceNumber, Is.Zero);
    }

    [Test]
    public void Write_TooLargePayload_IsRejected()
    {
        (SshPacketizer client, _, _) = Connect();
        Assert.ThrowsAsync<InvalidOperationException>(async () => await client.WritePacketAsync(new byte[SshPacketizerOptions.DefaultMaxPacketLength]));
    }

    [Test]
    public void Write_NewKeysWithNothingPending_IsOurBugAndNothingSent()
    {
        (SshPacketizer client, _, PipePair pipes) = Connect();
        Assert.ThrowsAsync<InvalidOperationException>(async () => await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys }));
        Assert.That(pipes.ClientToServer.Reader.TryRead(out _), Is.False);
    }

    [Test]
    public async Task NewKeys_SwitchesEachDirectionAtItsOwnMessage()
    {
        (SshPacketizer client, SshPacketizer server, _) = Connect();
        PacketSealer clientOut = NoneProtection.CreateSealer();
        PacketOpener serverIn = NoneProtection.CreateOpener();
        client.SetPendingOutbound(clientOut);
        server.SetPendingInbound(serverIn);

        await WriteIgnore(client, 5);
        Assert.That(client.State.Outbound.Active, Is.Not.SameAs(clientOut));
        await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        Assert.That(client.State.Outbound.Active, Is.SameAs(clientOut), "outbound switches right after our NEWKEYS");

        Assert.That((await server.ReadPacketAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.Ignore));
        Assert.That(server.State.Inbound.Active, Is.Not.SameAs(serverIn));
        Assert.That((await server.ReadPacketAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.NewKeys));
        Assert.That(server.State.Inbound.Active, Is.SameAs(serverIn), "inbound switches right after the peer's NEWKEYS");
    }

    [Test]
    public async Task StrictKex_BothDirectionsResetAtEveryNewKeys()
    {
        (SshPacketizer client, SshPacketizer server, _) = Connect();
        client.StrictKex = true;
        server.StrictKex = true;
        for (int round = 0; round < 3; round++)
        {
            await WriteIgnore(client, 3);
            await WriteIgnore(client, 3);
            client.SetPendingOutbound(NoneProtection.CreateSealer());
            server.SetPendingInbound(NoneProtection.CreateOpener());
            SshWriteResult newKeys = await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
            Assert.That(newKeys.SequenceNumber, Is.EqualTo(2u));
            Assert.That(client.OutboundSequenceNumber, Is.Zero);
            for (int i = 0; i < 3; i++)
            {
                Assert.That((await server.ReadPacketAsync()).SequenceNumber, Is.EqualTo((uint)i));
            }

            Assert.That(server.InboundSequenceNumber, Is.Zero);
        }
    }

    [Test]
    public async Task NoStrictKex_SequenceNumbersRunOnAcrossNewKeys()
    {
        (SshPacketizer client, SshPacketizer server, _) = Connect();
        client.SetPendingOutbound(NoneProtection.CreateSealer());
        server.SetPendingInbound(NoneProtection.CreateOpener());
        await WriteIgnore(client, 3);
        await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        await WriteIgnore(client, 3);
        var numbers = new List<uint>();
        for (int i = 0; i < 3; i++)
        {
            numbers.Add((await server.ReadPacketAsync()).SequenceNumber);
        }

        Assert.That(numbers, Is.EqualTo(new uint[] { 0, 1, 2 }));
    }

    [Test]
    public async Task OutboundSequenceWrapBeforeFirstNewKeys_IsFatal()
    {
        (SshPacketizer client, _, _) = Connect();
        client.State.Outbound.SequenceNumber = uint.MaxValue;
        var ex = Assert.ThrowsAsync<SshProtocolException>(async () => await WriteIgnore(client, 3));
        Assert.That(ex!.Message, Does.Contain("wrapped"));
        await Task.CompletedTask;
    }

    [Test]
    public async Task Read_EofBetweenPackets_IsCompleted()
    {
        (SshPacketizer client, SshPacketizer server, PipePair pipes) = Connect();
        await WriteIgnore(client, 3);
        await pipes.ClientToServer.Writer.CompleteAsync();
        Assert.That((await server.ReadPacketAsync()).IsCompleted, Is.False);
        Assert.That((await server.ReadPacketAsync()).IsCompleted, Is.True);
        Assert.That((await server.ReadPacketAsync()).IsCompleted, Is.True, "stays completed");
    }

    [TestCase(1)]
    [TestCase(4)]
    [TestCase(10)]
    public async Task Read_EofMidPacket_IsConnectionLost(int bytesOfPacket)
    {
        (_, SshPacketizer server, PipePair pipes) = Connect();
        byte[] packet = Packets.None(Packets.Payload(SshMessageNumber.Ignore, 20, 1));
        await pipes.ClientToServer.Writer.WriteAsync(packet.AsMemory(0, bytesOfPacket));
        await pipes.ClientToServer.Writer.CompleteAsync();
        var ex = Assert.ThrowsAsync<SshProtocolException>(async () => await server.ReadPacketAsync());
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.ConnectionLost));
        Assert.That(ex.Message, Does.Contain("middle of a packet"));
    }

    [Test]
    public async Task Read_PayloadValidUntilNextRead_AndPipeIsReleasedThen()
    {
        (_, SshPacketizer server, PipePair pipes) = Connect();
        byte[] a = Packets.Payload(SshMessageNumber.Ignore, 30, 0xAA);
        byte[] b = Packets.Payload(SshMessageNumber.Ignore, 30, 0xBB);
        await pipes.ClientToServer.Writer.WriteAsync((byte[])[.. Packets.None(a), .. Packets.None(b)]);
        SshPacket first = await server.ReadPacketAsync();
        Assert.That(first.Payload.ToArray(), Is.EqualTo(a));
        SshPacket second = await server.ReadPacketAsync();
        Assert.That(second.Payload.ToArray(), Is.EqualTo(b));
    }

    [Test]
    public async Task Read_CompletesSynchronouslyWhenBuffered()
    {
        (_, SshPacketizer server, PipePair pipes) = Connect();
        await pipes.ClientToServer.Writer.WriteAsync((byte[])[.. Packets.None([2, 0, 0, 0, 0]), .. Packets.None([2, 0, 0, 0, 0])]);
#pragma warning disable CA2012 // Inspecting completion is the point of this test.
        Assert.That(server.ReadPacketAsync().IsCompletedSuccessfully, Is.True);
        Assert.That(server.ReadPacketAsync().IsCompletedSuccessfully, Is.True);
        Assert.That(server.ReadPacketAsync().IsCompleted, Is.False);
#pragma warning restore CA2012
    }

    [Test]
    public async Task ConcurrentWriters_PacketsNeverInterleave()
    {
        (SshPacketizer client, SshPacketizer server, _) = Connect();
        const int writers = 8;
        const int perWriter = 300;
        Task[] tasks = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            for (int i = 0; i < perWriter; i++)
            {
                int length = random.Next(6, 3000);
                await client.WritePacketAsync((Writer: (byte)w, Index: i, Length: length), static (buffer, s) =>
                {
                    Span<byte> span = buffer.GetSpan(s.Length);
                    span[0] = SshMessageNumber.Ignore;
                    span[1] = s.Writer;
                    BinaryPrimitives.WriteInt32BigEndian(span[2..], s.Index);
                    span[6..s.Length].Fill(s.Writer);
                    buffer.Advance(s.Length);
                }, payloadSizeHint: 16, flush: i % 7 != 0);
            }
        })).ToArray();

        var next = new int[writers];
        Task reading = Task.Run(async () =>
        {
            for (int n = 0; n < writers * perWriter; n++)
            {
                SshPacket packet = await server.ReadPacketAsync();
                ReadOnlySpan<byte> p = packet.Payload.Span;
                int writer = p[1];
                Assert.That(BinaryPrimitives.ReadInt32BigEndian(p[2..]), Is.EqualTo(next[writer]++), "each writer's packets in order");
                Assert.That(p[6..].ContainsAnyExcept((byte)writer), Is.False, "no bytes of another writer inside");
            }
        });

        await Task.WhenAll(tasks);
        await client.FlushAsync();
        await reading;
        Assert.That(next, Is.All.EqualTo(perWriter));
    }

    [Test]
    public async Task NeedRekey_RaisedAtExactlyThePacketLimit()
    {
        (SshPacketizer client, SshPacketizer server, _) = Connect(new SshPacketizerOptions { RekeyPackets = 5 }, new SshPacketizerOptions { RekeyPackets = 5 });
        for (int i = 1; i <= 6; i++)
        {
            SshWriteResult written = await WriteIgnore(client, 3);
            Assert.That(written.NeedRekey, Is.EqualTo(i >= 5), $"write {i}");
            SshPacket read = await server.ReadPacketAsync();
            Assert.That(read.NeedRekey, Is.EqualTo(i >= 5), $"read {i}");
        }
    }

    [Test]
    public async Task NeedRekey_RaisedAtExactlyTheByteLimit()
    {
        // Each 3-byte payload makes a 16-byte packet on the wire.
        (SshPacketizer client, _, _) = Connect(new SshPacketizerOptions { RekeyBytes = 16 * 4 });
        for (int i = 1; i <= 5; i++)
        {
            Assert.That((await WriteIgnore(client, 3)).NeedRekey, Is.EqualTo(i >= 4), $"write {i}");
        }

        Assert.That(client.BytesWritten, Is.EqualTo(5 * 16));
    }

    [Test]
    public async Task NeedRekey_InboundLimitAlsoCounts()
    {
        (SshPacketizer client, SshPacketizer server, _) = Connect(server: new SshPacketizerOptions { RekeyPackets = 2 });
        await WriteIgnore(client, 3);
        await WriteIgnore(client, 3);
        Assert.That(server.NeedRekey, Is.False);
        await server.ReadPacketAsync();
        Assert.That(server.NeedRekey, Is.False);
        await server.ReadPacketAsync();
        Assert.That(server.NeedRekey, Is.True, "reading alone raises the flag");
        Assert.That((await WriteIgnore(server, 3)).NeedRekey, Is.True, "and the write results carry it");
    }

    [Test]
    public async Task NeedRekey_RaisedWhenTheTimeLimitPasses()
    {
        var time = new FakeTimeProvider();
        (SshPacketizer client, _, _) = Connect(new SshPacketizerOptions { TimeProvider = time, RekeyInterval = TimeSpan.FromMinutes(10) });
        Assert.That((await WriteIgnore(client, 3)).NeedRekey, Is.False);
        time.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromTicks(1));
        Assert.That((await WriteIgnore(client, 3)).NeedRekey, Is.False);
        Assert.That(client.NeedRekey, Is.False);
        time.Advance(TimeSpan.FromTicks(1));
        Assert.That(client.NeedRekey, Is.True, "without traffic");
        Assert.That((await WriteIgnore(client, 3)).NeedRekey, Is.True);
    }

    [Test]
    public async Task NeedRekey_ClearedOnlyWhenBothDirectionsSwitched()
    {
        (SshPacketizer client, SshPacketizer server, _) = Connect(new SshPacketizerOptions { RekeyPackets = 3 }, new SshPacketizerOptions { RekeyPackets = 3 });
        for (int i = 0; i < 3; i++)
        {
            await WriteIgnore(client, 3);
            await server.ReadPacketAsync();
        }

        Assert.That(client.NeedRekey, Is.True);
        client.SetPendingOutbound(NoneProtection.CreateSealer());
        client.SetPendingInbound(NoneProtection.CreateOpener());
        server.SetPendingOutbound(NoneProtection.CreateSealer());
        server.SetPendingInbound(NoneProtection.CreateOpener());

        await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        Assert.That(client.NeedRekey, Is.True, "only outbound switched");
        Assert.That(client.State.Outbound.Packets, Is.Zero, "outbound counters restart under the new keys");
        await server.ReadPacketAsync();
        await server.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        Assert.That(server.NeedRekey, Is.False, "both switched");
        await client.ReadPacketAsync();
        Assert.That(client.NeedRekey, Is.False, "both switched");
        Assert.That((await WriteIgnore(client, 3)).NeedRekey, Is.False);
    }

    [Test]
    public async Task Overflow_PeerPastLimitAndAllowance_IsDisconnected()
    {
        (SshPacketizer client, SshPacketizer server, _) = Connect(server: new SshPacketizerOptions { RekeyPackets = 3, RekeyOverflowPackets = 4 });
        for (int i = 0; i < 8; i++)
        {
            await WriteIgnore(client, 3);
        }

        for (int i = 1; i <= 7; i++)
        {
            SshPacket packet = await server.ReadPacketAsync();
            Assert.That(packet.NeedRekey, Is.EqualTo(i >= 3));
        }

        var ex = Assert.ThrowsAsync<SshProtocolException>(async () => await server.ReadPacketAsync());
        Assert.That(ex!.Message, Does.Contain("rekey limit"));
    }

    [Test]
    public async Task Overflow_ByteAllowance_IsDisconnected()
    {
        (SshPacketizer client, SshPacketizer server, _) = Connect(server: new SshPacketizerOptions { RekeyBytes = 32, RekeyOverflowBytes = 32 });
        for (int i = 0; i < 5; i++)
        {
            await WriteIgnore(client, 3);
        }

        for (int i = 0; i < 4; i++)
        {
            await server.ReadPacketAsync();
        }

        Assert.ThrowsAsync<SshProtocolException>(async () => await server.ReadPacketAsync());
    }

    [Test]
    public async Task KeepAlive_CalledAfterIdleInterval_AndActivityPostponesIt()
    {
        var time = new FakeTimeProvider();
        (SshPacketizer client, _, _) = Connect(new SshPacketizerOptions { TimeProvider = time });
        int calls = 0;
        client.SetKeepAlive(TimeSpan.FromSeconds(10), _ =>
        {
            Interlocked.Increment(ref calls);
            return ValueTask.CompletedTask;
        });

        time.Advance(TimeSpan.FromSeconds(9));
        Assert.That(calls, Is.Zero);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(calls, Is.EqualTo(1));

        time.Advance(TimeSpan.FromSeconds(6));
        await WriteIgnore(client, 3);
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.That(calls, Is.EqualTo(1), "the write reset the idle clock");
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.That(calls, Is.EqualTo(2));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.That(calls, Is.EqualTo(3), "again after another idle interval");

        client.SetKeepAlive(TimeSpan.Zero, null);
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.That(calls, Is.EqualTo(3), "turned off");
    }

    [Test]
    public async Task KeepAlive_ReadsCountAsActivity()
    {
        var time = new FakeTimeProvider();
        (SshPacketizer client, SshPacketizer server, _) = Connect(server: new SshPacketizerOptions { TimeProvider = time });
        int calls = 0;
        server.SetKeepAlive(TimeSpan.FromSeconds(10), _ =>
        {
            calls++;
            return ValueTask.CompletedTask;
        });
        time.Advance(TimeSpan.FromSeconds(8));
        await WriteIgnore(client, 3);
        await server.ReadPacketAsync();
        time.Advance(TimeSpan.FromSeconds(8));
        Assert.That(calls, Is.Zero);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.That(calls, Is.EqualTo(1));
    }

    [Test]
    public void KeepAlive_CallbackThatThrows_IsLoggedAndRearmed()
    {
        var time = new FakeTimeProvider();
        var logger = new CapturingLogger(LogLevel.Warning);
        (SshPacketizer client, _, _) = Connect(new SshPacketizerOptions { TimeProvider = time, Logger = logger });
        int calls = 0;
        client.SetKeepAlive(TimeSpan.FromSeconds(1), _ =>
        {
            calls++;
            throw new InvalidOperationException("a bug in the callback");
        });
        time.Advance(TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(calls, Is.EqualTo(2));
        Assert.That(logger.Entries.Count(e => e.Level == LogLevel.Warning), Is.EqualTo(2));
    }

    [Test]
    public void KeepAlive_PeerGone_IsDebugNotAWarning()
    {
        var time = new FakeTimeProvider();
        var logger = new CapturingLogger(LogLevel.Debug);
        (SshPacketizer client, _, _) = Connect(new SshPacketizerOptions { TimeProvider = time, Logger = logger });
        client.SetKeepAlive(TimeSpan.FromSeconds(1), _ => throw new IOException("peer gone"));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(logger.Entries.Where(e => e.Level >= LogLevel.Warning), Is.Empty);
        Assert.That(logger.Entries.Select(e => e.Message), Has.Some.Contains("Keepalive not sent"));
    }

    [Test]
    public async Task Handshake_DeadlinePasses_PendingReadTimesOut()
    {
        var time = new FakeTimeProvider();
        (_, SshPacketizer server, _) = Connect(server: new SshPacketizerOptions { TimeProvider = time });
        server.StartHandshake(TimeSpan.FromSeconds(30));
        Task<SshPacket> read = server.ReadPacketAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.That(read.IsCompleted, Is.False);
        Assert.That(server.HandshakeTimedOut, Is.False);
        time.Advance(TimeSpan.FromSeconds(1));
        var ex = Assert.ThrowsAsync<SshTimeoutException>(() => read);
        Assert.That(ex!.Message, Does.Contain("handshake"));
        Assert.That(ex.Kind, Is.EqualTo(SshTimeoutKind.Handshake));
        Assert.That(server.HandshakeTimedOut, Is.True);
        await Task.CompletedTask;
    }

    [Test]
    public async Task Handshake_DeadlinePassesBetweenReads_NextReadTimesOut()
    {
        var time = new FakeTimeProvider();
        (SshPacketizer client, SshPacketizer server, _) = Connect(server: new SshPacketizerOptions { TimeProvider = time });
        server.StartHandshake(TimeSpan.FromSeconds(30));
        time.Advance(TimeSpan.FromSeconds(31));
        await WriteIgnore(client, 3);
        Assert.ThrowsAsync<SshTimeoutException>(async () => await server.ReadPacketAsync());
    }

    [Test]
    public async Task Handshake_CompletedInTime_NeverTimesOut()
    {
        var time = new FakeTimeProvider();
        (SshPacketizer client, SshPacketizer server, _) = Connect(server: new SshPacketizerOptions { TimeProvider = time });
        server.StartHandshake(TimeSpan.FromSeconds(30));
        await WriteIgnore(client, 3);
        await server.ReadPacketAsync();
        server.CompleteHandshake();
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.That(server.HandshakeTimedOut, Is.False);
        Task<SshPacket> read = server.ReadPacketAsync().AsTask();
        await WriteIgnore(client, 3);
        Assert.That((await read).MessageNumber, Is.EqualTo(SshMessageNumber.Ignore));
    }

    [Test]
    public async Task Logging_SummariesAtDebug_DumpsOnlyWhenAskedAndNeverForUserAuth()
    {
        var logger = new CapturingLogger();
        (SshPacketizer client, SshPacketizer server, _) = Connect(new SshPacketizerOptions { Logger = logger });
        await client.WritePacketAsync(new byte[] { SshMessageNumber.Ignore, 0x41, 0x42 });
        Assert.That(logger.Entries.Any(e => e.Level == LogLevel.Debug && e.Message.Contains("IGNORE (2)", StringComparison.Ordinal)), Is.True);
        Assert.That(logger.Entries.Any(e => e.Level == LogLevel.Trace), Is.False, "no dumps unless asked");

        var dumping = new CapturingLogger();
        (SshPacketizer c2, _, _) = Connect(new SshPacketizerOptions { Logger = dumping, LogPacketContents = true });
        await c2.WritePacketAsync(new byte[] { SshMessageNumber.Ignore, 0x41, 0x42 });
        await c2.WritePacketAsync(new byte[] { SshMessageNumber.UserAuthRequest, 0x53, 0x45, 0x43, 0x52, 0x45, 0x54 });
        Assert.That(dumping.Entries.Any(e => e.Level == LogLevel.Trace && e.Message.Contains("02 41 42", StringComparison.Ordinal)), Is.True);
        Assert.That(dumping.Entries.Any(e => e.Message.Contains("SECRET", StringComparison.Ordinal) || e.Message.Contains("53 45 43", StringComparison.Ordinal)), Is.False);
        _ = server;
    }

    [Test]
    public async Task SteadyState_WriteAndReadAllocateNothingPerPacket()
    {
        // The shared pool: the dirty test pool allocates a block per rent by design.
        (SshPacketizer client, SshPacketizer server, _) = Connect(pool: MemoryPool<byte>.Shared);
        byte[] payload = Packets.Payload(SshMessageNumber.ChannelData, 1024, 3);
        var memory = new ReadOnlyMemory<byte>(payload);

        // Warm up: JIT, pools, pipe segments.
        for (int i = 0; i < 200; i++)
        {
            await client.WritePacketAsync(memory);
            await server.ReadPacketAsync();
        }

#pragma warning disable CA2012 // Inspecting synchronous completion is the point of this test.
        long before = GC.GetAllocatedBytesForCurrentThread();
        int asynchronous = 0;
        for (int i = 0; i < 1000; i++)
        {
            // No NUnit asserts inside the measured loop: they allocate.
            ValueTask<SshWriteResult> write = client.WritePacketAsync(memory);
            asynchronous += write.IsCompletedSuccessfully ? 0 : 1;
            ValueTask<SshPacket> read = server.ReadPacketAsync();
            asynchronous += read.IsCompletedSuccessfully ? 0 : 1;
            _ = read.Result;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
#pragma warning restore CA2012
        Assert.That(asynchronous, Is.Zero, "every call completed synchronously");
        Assert.That(allocated, Is.Zero);
    }
}

public class PacketizerDisposeTests
{
    /// <summary>
    /// Both ends over one socket stream, the peer gone, our output unflushed: disposing must not throw (completing the
    /// reader first disposed the stream under the writer's final flush).
    /// </summary>
    [Test]
    public async Task DisposeAsync_SocketPipesWithUnflushedOutputAfterPeerClosed_DoesNotThrow()
    {
        (var clientPipe, _, IDisposable sockets) = await Ssh.Transport.Tests.Session.SessionHarness.LoopbackAsync();
        var packetizer = new SshPacketizer(clientPipe, SshRole.Client);
        await packetizer.WritePacketAsync(new byte[100_000], static (w, p) => { p[0] = SshMessageNumber.Ignore; w.Write(p); }, 100_000, flush: false);
        sockets.Dispose();
        Assert.DoesNotThrowAsync(async () => await packetizer.DisposeAsync());
    }
}
