using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;

namespace Ssh.Transport.Connection.Tests.Channels;

/// <summary>
/// Peers that break RFC 4254's rules or flood the connection layer: each ends with a clear protocol error told to the
/// peer, or is absorbed with bounded memory while the connection keeps working (docs/reliability.md lists them).
/// The peer is our client transport without its connection loop: the test writes and reads its messages itself.
/// </summary>
[CancelAfter(120_000)]
public class MisbehavingPeerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Test]
    public async Task IgnoreFlood_IsAbsorbed_MemoryFlat_TheChannelKeepsWorking()
    {
        // RFC 4253 §11.2: IGNORE must be ignored, so there is no error; the bound is that nothing is kept per message
        // (before authentication the login deadline ends such a peer: see the server admission tests).
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(beforeRun: ConnectionHarness.ServerAccepts(ChannelTests.EchoAsync));
        SshChannel channel = await h.Client.OpenChannelAsync("session");
        await EchoOnceAsync(channel, "before");

        const int Count = 20_000, Size = 4096;
        var junk = new byte[Size];
        long retainedBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < Count; i++)
        {
            await h.ClientTransport.SendIgnoreAsync(junk);
        }

        await EchoOnceAsync(channel, "after");
        long retainedAfter = GC.GetTotalMemory(forceFullCollection: true);
        TestContext.Out.WriteLine($"{Count} IGNOREs of {Size} bytes: retained heap {retainedBefore / 1024} KiB -> {retainedAfter / 1024} KiB");
        Assert.That(retainedAfter - retainedBefore, Is.LessThan(4 * 1024 * 1024), "80 MiB of IGNORE leave nothing behind");
        Assert.That(h.ServerLoop!.IsCompleted, Is.False);
    }

    [Test]
    public async Task WindowAdjust_PastTwoToThe32Minus1_IsAProtocolError()
    {
        await using ConnectionHarness h = await StartRawAsync();
        uint recipient = await OpenRawAsync(h, sender: 1);

        // RFC 4254 §5.2: the window must not grow past 2^32-1; our window for the peer is already 2 MiB.
        await WriteAsync(h, (ref SshWriter w) =>
        {
            w.WriteByte(SshMessageNumber.ChannelWindowAdjust);
            w.WriteUInt32(recipient);
            w.WriteUInt32(uint.MaxValue);
        });
        await AssertProtocolErrorAsync(h, "past 2^32-1");
    }

    [Test]
    public async Task DataAfterEof_IsAProtocolError()
    {
        await using ConnectionHarness h = await StartRawAsync();
        uint recipient = await OpenRawAsync(h, sender: 1);
        await WriteChannelMessageAsync(h, SshMessageNumber.ChannelEof, recipient);
        await WriteDataAsync(h, recipient, "late"u8.ToArray());
        await AssertProtocolErrorAsync(h, "data after EOF");
    }

    [Test]
    public async Task DataAfterClose_IsAProtocolError()
    {
        await using ConnectionHarness h = await StartRawAsync();
        uint recipient = await OpenRawAsync(h, sender: 1);
        await WriteChannelMessageAsync(h, SshMessageNumber.ChannelClose, recipient);
        Assert.That(await ReadUntilAsync(h, SshMessageNumber.ChannelClose), Is.EqualTo(1u), "our CLOSE answers the peer's");
        await WriteDataAsync(h, recipient, "late"u8.ToArray());
        await AssertProtocolErrorAsync(h, $"CHANNEL_DATA for channel {recipient}, which is not open");
    }

    [Test]
    public async Task DataForAChannelNeverOpened_IsAProtocolError()
    {
        await using ConnectionHarness h = await StartRawAsync();
        await WriteDataAsync(h, 4242, "who?"u8.ToArray());
        await AssertProtocolErrorAsync(h, "CHANNEL_DATA for channel 4242, which is not open");
    }

    [Test]
    public async Task RequestReplies_NeverAskedFor_AreProtocolErrors([Values] bool global)
    {
        await using ConnectionHarness h = await StartRawAsync();
        uint recipient = await OpenRawAsync(h, sender: 1);
        await WriteAsync(h, (ref SshWriter w) =>
        {
            if (global)
            {
                w.WriteByte(SshMessageNumber.RequestSuccess);
            }
            else
            {
                w.WriteByte(SshMessageNumber.ChannelSuccess);
                w.WriteUInt32(recipient);
            }
        });
        await AssertProtocolErrorAsync(h, "no request outstanding");
    }

    [Test]
    public async Task ChannelOpen_WithASenderNumberStillInUse_IsAProtocolError()
    {
        await using ConnectionHarness h = await StartRawAsync();
        uint first = await OpenRawAsync(h, sender: 7);
        await WriteOpenAsync(h, sender: 7);
        await AssertProtocolErrorAsync(h, $"sender channel 7, a number the peer already uses for our channel {first}");
    }

    [Test]
    public async Task ChannelOpen_ASenderNumberFreedByBothCloses_MayBeUsedAgain()
    {
        await using ConnectionHarness h = await StartRawAsync();
        uint first = await OpenRawAsync(h, sender: 7);
        await WriteChannelMessageAsync(h, SshMessageNumber.ChannelClose, first);
        await ReadUntilAsync(h, SshMessageNumber.ChannelClose);
        uint second = await OpenRawAsync(h, sender: 7);
        Assert.That(second, Is.Not.EqualTo(first));
        Assert.That(h.ServerLoop!.IsCompleted, Is.False);
    }

    [Test]
    public async Task ChannelOpenFlood_AcceptedAtOnce_PastMaxChannelsRefused_TheConnectionLives()
    {
        const int Max = 16, Count = 200;
        await using ConnectionHarness h = await StartRawAsync(Max, h => h.Server.ChannelOpenHandler = (request, _) =>
        {
            request.Accept();
            return ValueTask.CompletedTask;
        });
        for (uint i = 0; i < Count; i++)
        {
            await WriteOpenAsync(h, sender: i);
        }

        (int confirmed, int refused) = await CountOpenAnswersAsync(h, Count);
        Assert.That((confirmed, refused), Is.EqualTo((Max, Count - Max)));
        Assert.That(h.ServerLoop!.IsCompleted, Is.False);
    }

    [Test]
    public async Task ChannelOpenFlood_WhileTheHandlerWaits_OpensBeingDecidedAreBounded()
    {
        // A handler that waits (a connect to a black-holed forwarding target, say) for every one of a flood of opens:
        // only MaxChannels wait; the rest are refused at once instead of each holding a task (and a socket).
        const int Max = 16, Count = 1000;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int asked = 0;
        await using ConnectionHarness h = await StartRawAsync(Max, h => h.Server.ChannelOpenHandler = async (request, _) =>
        {
            Interlocked.Increment(ref asked);
            await release.Task;
            request.Accept();
        });
        for (uint i = 0; i < Count; i++)
        {
            await WriteOpenAsync(h, sender: i);
        }

        (int confirmed, int refused) = await CountOpenAnswersAsync(h, Count - Max);
        Assert.That((confirmed, refused, Volatile.Read(ref asked)), Is.EqualTo((0, Count - Max, Max)), "only MaxChannels reach the handler");

        release.SetResult();
        (confirmed, refused) = await CountOpenAnswersAsync(h, Max);
        Assert.That((confirmed, refused), Is.EqualTo((Max, 0)), "each waiting handler accepts: a number is always free for it");

        await WriteOpenAsync(h, sender: Count);
        Assert.That(await CountOpenAnswersAsync(h, 1), Is.EqualTo((0, 1)), "MaxChannels open");
        Assert.That(h.ServerLoop!.IsCompleted, Is.False);
    }

    [Test]
    public async Task HandlersAcceptingAtOnce_AtMaxChannels_EachFindsANumber()
    {
        // MaxChannels opens are being decided; one handler accepts and is still running when the other accepts. The
        // first channel takes over its open's slot in the same step, so the second still finds one: before, the slot
        // counted twice until the first handler returned, and the second Accept threw "No channel number is free".
        const int Max = 2;
        var firstAccepted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        await using ConnectionHarness h = await StartRawAsync(Max, h => h.Server.ChannelOpenHandler = async (request, _) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                request.Accept();
                firstAccepted.SetResult();
                await releaseFirst.Task;
            }
            else
            {
                await firstAccepted.Task;
                request.Accept();
                releaseFirst.SetResult();
            }
        });
        await WriteOpenAsync(h, sender: 0);
        await WriteOpenAsync(h, sender: 1);

        Assert.That(await CountOpenAnswersAsync(h, Max), Is.EqualTo((Max, 0)));
        Assert.That(h.ServerLoop!.IsCompleted, Is.False);
    }

    [Test]
    public async Task GlobalRequestFlood_FromAPeerThatDoesNotRead_StallsAtThePipe_EveryRequestAnsweredInOrder()
    {
        // Answers go out as each request is read, with no queue of our own: while the peer does not read them, our
        // writes stop at the pipe's limit, so does our reading, and so do the peer's writes.
        const int Count = 20_000;
        await using ConnectionHarness h = await StartRawAsync(beforeRun: h => h.Server.GlobalRequestHandler = (name, data, _) =>
            ValueTask.FromResult<byte[]?>(BinaryPrimitives.ReadUInt32BigEndian(data.Span) % 2 == 0 ? data.ToArray() : null));
        int written = 0;
        Task flood = Task.Run(async () =>
        {
            for (uint i = 0; i < Count; i++)
            {
                await WriteAsync(h, (ref SshWriter w) =>
                {
                    w.WriteByte(SshMessageNumber.GlobalRequest);
                    w.WriteString("flood@test"u8);
                    w.WriteBoolean(true);
                    w.WriteUInt32(i);
                });
                Volatile.Write(ref written, (int)i + 1);
            }
        });

        // Wait for the writer to stall (no progress for half a second), or to finish if nothing pushes back.
        int last = -1;
        var deadline = DateTime.UtcNow + Bound;
        while (Volatile.Read(ref written) != last && !flood.IsCompleted && DateTime.UtcNow < deadline)
        {
            last = Volatile.Read(ref written);
            await Task.Delay(500);
        }

        int stalledAt = Volatile.Read(ref written);
        TestContext.Out.WriteLine($"the peer's writes stalled after {stalledAt} of {Count} requests");
        Assert.That(stalledAt, Is.LessThan(Count), "backpressure reached the peer");

        for (uint i = 0; i < Count; i++)
        {
            SshPacket reply = await h.ClientTransport.ReadMessageAsync().AsTask().WaitAsync(Bound);
            if (i % 2 == 0)
            {
                Assert.That(reply.MessageNumber, Is.EqualTo(SshMessageNumber.RequestSuccess), $"reply {i}");
                Assert.That(BinaryPrimitives.ReadUInt32BigEndian(reply.Payload.Span[1..]), Is.EqualTo(i), "answers in order");
            }
            else
            {
                Assert.That(reply.MessageNumber, Is.EqualTo(SshMessageNumber.RequestFailure), $"reply {i}");
            }
        }

        await flood.WaitAsync(Bound);
        Assert.That(h.ServerLoop!.IsCompleted, Is.False);
    }

    // ---- Helpers --------------------------------------------------------------------------------------------------

    private static Task<ConnectionHarness> StartRawAsync(int maxChannels = 64, Action<ConnectionHarness>? beforeRun = null) =>
        ConnectionHarness.StartAsync(
            serverChannels: new SshChannelOptions { MaxChannels = maxChannels },
            beforeRun: beforeRun ?? (h => h.Server.ChannelOpenHandler = (request, _) =>
            {
                request.Accept();
                return ValueTask.CompletedTask;
            }),
            runClient: false);

    private delegate void MessageWriter(ref SshWriter writer);

    private static ValueTask WriteAsync(ConnectionHarness h, MessageWriter write) =>
        h.ClientTransport.WriteMessageAsync(write, static (buffer, write) =>
        {
            var writer = new SshWriter(buffer);
            write(ref writer);
        });

    private static ValueTask WriteOpenAsync(ConnectionHarness h, uint sender) => WriteAsync(h, (ref SshWriter w) =>
    {
        w.WriteByte(SshMessageNumber.ChannelOpen);
        w.WriteString("session"u8);
        w.WriteUInt32(sender);
        w.WriteUInt32(2 * 1024 * 1024);
        w.WriteUInt32(32 * 1024);
    });

    private static ValueTask WriteChannelMessageAsync(ConnectionHarness h, byte number, uint recipient) => WriteAsync(h, (ref SshWriter w) =>
    {
        w.WriteByte(number);
        w.WriteUInt32(recipient);
    });

    private static ValueTask WriteDataAsync(ConnectionHarness h, uint recipient, byte[] data) => WriteAsync(h, (ref SshWriter w) =>
    {
        w.WriteByte(SshMessageNumber.ChannelData);
        w.WriteUInt32(recipient);
        w.WriteString(data);
    });

    /// <summary>Opens a channel as the peer and returns the server's number for it (the recipient of our messages).</summary>
    private static async Task<uint> OpenRawAsync(ConnectionHarness h, uint sender)
    {
        await WriteOpenAsync(h, sender);
        SshPacket answer = await h.ClientTransport.ReadMessageAsync().AsTask().WaitAsync(Bound);
        Assert.That(answer.MessageNumber, Is.EqualTo(SshMessageNumber.ChannelOpenConfirmation));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(answer.Payload.Span[1..]), Is.EqualTo(sender));
        return BinaryPrimitives.ReadUInt32BigEndian(answer.Payload.Span[5..]);
    }

    /// <summary>Reads past anything else to the next message numbered <paramref name="number"/>; returns its recipient.</summary>
    private static async Task<uint> ReadUntilAsync(ConnectionHarness h, byte number)
    {
        while (true)
        {
            SshPacket packet = await h.ClientTransport.ReadMessageAsync().AsTask().WaitAsync(Bound);
            Assert.That(packet.IsCompleted, Is.False, "the connection ended first");
            if (packet.MessageNumber == number)
            {
                return BinaryPrimitives.ReadUInt32BigEndian(packet.Payload.Span[1..]);
            }
        }
    }

    private static async Task<(int Confirmed, int Refused)> CountOpenAnswersAsync(ConnectionHarness h, int count)
    {
        int confirmed = 0, refused = 0;
        while (confirmed + refused < count)
        {
            SshPacket answer = await h.ClientTransport.ReadMessageAsync().AsTask().WaitAsync(Bound);
            if (answer.MessageNumber == SshMessageNumber.ChannelOpenConfirmation)
            {
                confirmed++;
            }
            else
            {
                Assert.That(answer.MessageNumber, Is.EqualTo(SshMessageNumber.ChannelOpenFailure));
                Assert.That(BinaryPrimitives.ReadUInt32BigEndian(answer.Payload.Span[5..]), Is.EqualTo((uint)SshChannelOpenFailureReason.ResourceShortage));
                refused++;
            }
        }

        return (confirmed, refused);
    }

    /// <summary>The server's loop fails with a protocol error naming <paramref name="what"/>, and the peer is told why.</summary>
    private static async Task AssertProtocolErrorAsync(ConnectionHarness h, string what)
    {
        var error = Assert.ThrowsAsync<SshProtocolException>(async () => await h.ServerLoop!.WaitAsync(Bound));
        Assert.That(error!.Message, Does.Contain(what));
        Assert.That(error.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError));
        SshConnectionClosedEventArgs end = await h.ClientTransport.Completion.WaitAsync(Bound);
        Assert.That(end.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError), "the peer was told");
        Assert.That(end.Description, Does.Contain(what));
    }

    private static async Task EchoOnceAsync(SshChannel channel, string text)
    {
        byte[] sent = Encoding.ASCII.GetBytes(text);
        await channel.Output.WriteAsync(sent);
        var received = new ArrayBufferWriter<byte>();
        while (received.WrittenCount < sent.Length)
        {
            ReadResult result = await channel.Input.ReadAsync().AsTask().WaitAsync(Bound);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                received.Write(segment.Span);
            }

            channel.Input.AdvanceTo(result.Buffer.End);
        }

        Assert.That(received.WrittenSpan.ToArray(), Is.EqualTo(sent));
    }
}
