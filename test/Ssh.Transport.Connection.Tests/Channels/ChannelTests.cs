using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;

namespace Ssh.Transport.Connection.Tests.Channels;

/// <summary>RFC 4254 channels between two connections of ours: data both ways, windows as backpressure, requests, EOF/CLOSE.</summary>
[CancelAfter(120_000)]
public class ChannelTests
{
    private static async Task<byte[]> ReadAllAsync(PipeReader reader)
    {
        using var all = new MemoryStream();
        while (true)
        {
            ReadResult result = await reader.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                all.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return all.ToArray();
            }
        }
    }

    /// <summary>A connection whose server accepts the "session" channel the client opens on it: both ends of that channel.</summary>
    private static async Task<(ConnectionHarness Harness, SshChannel Client, SshChannel Server)> OpenAcceptedChannelAsync(
        Action<SshTransportOptions>? configure = null, SshChannelOptions? serverChannels = null)
    {
        var accepted = new TaskCompletionSource<SshChannel>();
        ConnectionHarness h = await ConnectionHarness.StartAsync(
            configure: configure,
            serverChannels: serverChannels,
            beforeRun: h => h.Server.ChannelOpenHandler = (request, _) =>
            {
                accepted.SetResult(request.Accept());
                return ValueTask.CompletedTask;
            });
        try
        {
            SshChannel client = await h.Client.OpenChannelAsync("session");
            return (h, client, await accepted.Task);
        }
        catch
        {
            await h.DisposeAsync();
            throw;
        }
    }

    private static async Task WriteAllAsync(PipeWriter writer, byte[] data, int chunk = 7919)
    {
        for (int offset = 0; offset < data.Length; offset += chunk)
        {
            await writer.WriteAsync(data.AsMemory(offset, Math.Min(chunk, data.Length - offset)));
        }

        await writer.CompleteAsync();
    }

    /// <summary>Echo: what comes in goes back out, then EOF.</summary>
    internal static async Task EchoAsync(SshChannel channel)
    {
        while (true)
        {
            ReadResult result = await channel.Input.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                await channel.Output.WriteAsync(segment);
            }

            channel.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await channel.Output.CompleteAsync();
        await channel.ExtendedOutput.CompleteAsync();
    }

    private static byte[] Random(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Test]
    public async Task Session_DataBothWays_ArrivesWhole_ThenEofAndClose()
    {
        byte[] up = Random(8 * 1024 * 1024, 1);
        byte[] down = Random(8 * 1024 * 1024, 2);
        var serverReceived = new TaskCompletionSource<byte[]>();
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(beforeRun: ConnectionHarness.ServerAccepts(async channel =>
        {
            Task<byte[]> reading = ReadAllAsync(channel.Input);
            await WriteAllAsync(channel.Output, down);
            await channel.ExtendedOutput.CompleteAsync();
            serverReceived.SetResult(await reading);
            await channel.CloseAsync();
        }));

        SshChannel channel = await h.Client.OpenChannelAsync("session");
        Task<byte[]> downloaded = ReadAllAsync(channel.Input);
        await WriteAllAsync(channel.Output, up);
        await channel.ExtendedOutput.CompleteAsync();
        Assert.That(SHA256.HashData(await downloaded.WaitAsync(TimeSpan.FromSeconds(60))), Is.EqualTo(SHA256.HashData(down)));
        Assert.That(SHA256.HashData(await serverReceived.Task.WaitAsync(TimeSpan.FromSeconds(60))), Is.EqualTo(SHA256.HashData(up)));
        Assert.That(channel.IsEofReceived, Is.True);
        await channel.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        await channel.CloseAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// An accepted channel's confirmation goes out when the open handler returns. A server that writes and closes
    /// before that (a forwarding target that answers at once) must still send confirmation, data, EOF, CLOSE in that
    /// order: closing first lost the data (and told the peer about a channel it did not know yet).
    /// </summary>
    [Test]
    public async Task AcceptedChannel_WrittenAndClosedBeforeConfirmation_DataArrivesFirst()
    {
        Task? serving = null;
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(beforeRun: h => h.Server.ChannelOpenHandler = async (request, cancellationToken) =>
        {
            SshChannel channel = request.Accept();
            serving = Task.Run(async () =>
            {
                await channel.Output.WriteAsync(new byte[] { 1, 2, 3 });
                await channel.CloseAsync();
            }, CancellationToken.None);

            // Still deciding as far as the peer knows, while the channel above is written and closed.
            await Task.WhenAny(serving, Task.Delay(300, cancellationToken));
        });

        SshChannel channel = await h.Client.OpenChannelAsync("session").WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(await ReadAllAsync(channel.Input).WaitAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(channel.IsEofReceived, Is.True);
        await channel.CloseAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await serving!.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [TestCase(1, false)]
    [TestCase(1, true)]
    [TestCase(8, false)]
    [TestCase(8, true)]
    public async Task Channels_AtOnce_WithRekeys_EachWhole(int count, bool rekeys)
    {
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(
            configure: o => o.Packetizer.RekeyBytes = rekeys ? 1024 * 1024 : 1L << 40,
            beforeRun: ConnectionHarness.ServerAccepts(EchoAsync));

        async Task OneAsync(int seed)
        {
            byte[] data = Random(2 * 1024 * 1024, seed);
            SshChannel channel = await h.Client.OpenChannelAsync("session");
            Task<byte[]> echoed = ReadAllAsync(channel.Input);
            await WriteAllAsync(channel.Output, data, chunk: 1000 + seed).WaitAsync(TimeSpan.FromSeconds(20));
            TestContext.Out.WriteLine($"{seed} written");
            Assert.That(SHA256.HashData(await echoed.WaitAsync(TimeSpan.FromSeconds(20))), Is.EqualTo(SHA256.HashData(data)), $"channel {seed}");
            TestContext.Out.WriteLine($"{seed} echoed");
            await channel.CloseAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }

        await Task.WhenAll(Enumerable.Range(1, count).Select(OneAsync)).WaitAsync(TimeSpan.FromSeconds(90));
        if (rekeys)
        {
            Assert.That(h.ClientTransport.KeyExchangeCount, Is.GreaterThan(count), "rekeys in the middle");
        }
    }

    [Test]
    public async Task ReaderThatStops_BoundsWhatThePeerSends_ToTheWindow()
    {
        var channels = new SshChannelOptions { WindowSize = 256 * 1024, MaxPacketSize = 32 * 1024 };
        (ConnectionHarness h, SshChannel client, SshChannel server) = await OpenAcceptedChannelAsync(serverChannels: channels);
        await using ConnectionHarness owned = h;
        byte[] data = Random(4 * 1024 * 1024, 3);
        long before = h.ClientTransport.BytesWritten;
        Task writing = WriteAllAsync(client.Output, data);
        await Task.Delay(500);
        Assert.That(writing.IsCompleted, Is.False, "the writer waits for window");
        long sent = h.ClientTransport.BytesWritten - before;
        Assert.That(sent, Is.InRange(channels.WindowSize, channels.WindowSize + (16 * 1024)), "the peer's window is all that went out");

        // Reading opens the window again, and everything arrives.
        byte[] received = await ReadAllAsync(server.Input).WaitAsync(TimeSpan.FromSeconds(60));
        await writing;
        Assert.That(SHA256.HashData(received), Is.EqualTo(SHA256.HashData(data)));
    }

    /// <summary>
    /// One application write of many packets, larger than the window: the packets written before the window ran out
    /// must be flushed before the sender waits for credit (they are written unflushed to leave in one send), or the
    /// peer never sees them, never adjusts, and both wait forever.
    /// </summary>
    [Test]
    public async Task OneWriteLargerThanTheWindow_AllArrives()
    {
        var channels = new SshChannelOptions { WindowSize = 100_000, MaxPacketSize = 16 * 1024 };
        (ConnectionHarness h, SshChannel client, SshChannel server) = await OpenAcceptedChannelAsync(serverChannels: channels);
        await using ConnectionHarness owned = h;
        byte[] data = Random(1024 * 1024, 5);
        Task writing = WriteAllAsync(client.Output, data, chunk: data.Length);
        byte[] received = await ReadAllAsync(server.Input).WaitAsync(TimeSpan.FromSeconds(60));
        await writing;
        Assert.That(SHA256.HashData(received), Is.EqualTo(SHA256.HashData(data)));
    }

    /// <summary>
    /// Writes of many full packets with the window to take them all at once go as batches: sealed together under
    /// hmac-sha2-256-etm (on AVX-512), one by one under the other suites; either way every byte arrives in order.
    /// </summary>
    [TestCase("aes128-gcm@openssh.com", null)]
    [TestCase("chacha20-poly1305@openssh.com", null)]
    [TestCase("aes128-ctr", "hmac-sha2-256-etm@openssh.com")]
    [TestCase("aes256-ctr", "hmac-sha2-512-etm@openssh.com")]
    public async Task RunsOfFullPackets_GoAsBatches_AllArriveInOrder(string cipher, string? mac)
    {
        var channels = new SshChannelOptions { WindowSize = 16 * 1024 * 1024, MaxPacketSize = 32 * 1024 };
        (ConnectionHarness h, SshChannel client, SshChannel server) = await OpenAcceptedChannelAsync(
            configure: o =>
            {
                o.Ciphers.Clear();
                o.Ciphers.Add(cipher);
                if (mac is not null)
                {
                    o.Macs.Clear();
                    o.Macs.Add(mac);
                }
            },
            serverChannels: channels);
        await using ConnectionHarness owned = h;
        byte[] data = Random(6 * 1024 * 1024 + 12345, 6);
        Task writing = WriteAllAsync(client.Output, data, chunk: 1024 * 1024);
        byte[] received = await ReadAllAsync(server.Input).WaitAsync(TimeSpan.FromSeconds(60));
        await writing;
        Assert.That(SHA256.HashData(received), Is.EqualTo(SHA256.HashData(data)));
        long batched = h.ClientTransport.Packetizer.State.Outbound.Active.PacketsSealedInBatches;
        bool batches = mac == "hmac-sha2-256-etm@openssh.com" && Ssh.Transport.Crypto.Primitives.HmacSha256x16.IsSupported;
        Assert.That(batched, batches ? Is.GreaterThanOrEqualTo(16 * 6) : Is.Zero);
    }

    /// <summary>
    /// A channel whose reader stops holds only its own window: another channel on the same connection still moves all
    /// its data (the connection's loop never waits for an application's reads).
    /// </summary>
    [Test]
    public async Task SlowChannel_DoesNotStallTheOthers()
    {
        var accepted = new List<SshChannel>();
        var second = new TaskCompletionSource<SshChannel>();
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(beforeRun: h => h.Server.ChannelOpenHandler = (request, _) =>
        {
            SshChannel channel = request.Accept();
            accepted.Add(channel);
            if (accepted.Count == 2)
            {
                second.SetResult(channel);
            }

            return ValueTask.CompletedTask;
        });

        SshChannel stalled = await h.Client.OpenChannelAsync("session");
        SshChannel flowing = await h.Client.OpenChannelAsync("session");
        SshChannel flowingServer = await second.Task.WaitAsync(TimeSpan.FromSeconds(20));

        // The first channel's server side never reads: its writer fills the window and waits.
        Task stalledWriting = WriteAllAsync(stalled.Output, Random(8 * 1024 * 1024, 4));
        byte[] data = Random(16 * 1024 * 1024, 5);
        Task<byte[]> received = ReadAllAsync(flowingServer.Input);
        await WriteAllAsync(flowing.Output, data).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.That(SHA256.HashData(await received.WaitAsync(TimeSpan.FromSeconds(60))), Is.EqualTo(SHA256.HashData(data)));
        Assert.That(stalledWriting.IsCompleted, Is.False, "the stalled channel still waits for its window");
    }

    /// <summary>
    /// While one channel streams in bulk, an interactive channel's small messages still get through: round trips
    /// complete one after another before the bulk transfer ends (each data message takes its turn at the transport; no
    /// channel holds it for more than a packet).
    /// </summary>
    [Test]
    public async Task BulkChannel_DoesNotStarveAnInteractiveOne()
    {
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(beforeRun: ConnectionHarness.ServerAccepts(EchoAsync));

        SshChannel bulk = await h.Client.OpenChannelAsync("session");
        SshChannel interactive = await h.Client.OpenChannelAsync("session");
        using var stopBulk = new CancellationTokenSource();
        byte[] block = Random(64 * 1024, 6);
        long echoedBulk = 0;
        Task draining = Task.Run(async () =>
        {
            while (true)
            {
                ReadResult result = await bulk.Input.ReadAsync();
                Interlocked.Add(ref echoedBulk, result.Buffer.Length);
                bulk.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        });
        Task streaming = Task.Run(async () =>
        {
            while (!stopBulk.IsCancellationRequested)
            {
                await bulk.Output.WriteAsync(block);
            }

            await bulk.Output.CompleteAsync();
        });

        // Let the bulk channel fill both windows first.
        while (Interlocked.Read(ref echoedBulk) < 8L * 1024 * 1024)
        {
            await Task.Delay(10);
        }

        for (int i = 0; i < 50; i++)
        {
            byte[] ping = Encoding.ASCII.GetBytes($"ping {i}\n");
            await interactive.Output.WriteAsync(ping).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            int got = 0;
            while (got < ping.Length)
            {
                ReadResult result = await interactive.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
                got += (int)result.Buffer.Length;
                interactive.Input.AdvanceTo(result.Buffer.End);
            }
        }

        Assert.That(streaming.IsCompleted, Is.False, "the bulk channel was streaming all along");
        await stopBulk.CancelAsync();
        await streaming.WaitAsync(TimeSpan.FromSeconds(30));
        await draining.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Test]
    public async Task Requests_AreAnsweredInOrder_UnknownOnesRefused()
    {
        var seen = new List<string>();
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(beforeRun: h => h.Server.ChannelOpenHandler = (request, _) =>
        {
            SshChannel channel = request.Accept();
            channel.RequestHandler = (c, r, _) =>
            {
                var reader = new SshReader(r.Data.Span);
                seen.Add(r.Type == "exec" ? "exec " + Encoding.UTF8.GetString(reader.ReadString()) : r.Type);
                return ValueTask.FromResult(r.Type is "exec" or "env");
            };
            return ValueTask.CompletedTask;
        });

        SshChannel channel = await h.Client.OpenChannelAsync("session");
        Task<bool> env = channel.SendRequestAsync("env", wantReply: true, ("LANG", "C"), static (ref SshWriter w, (string Name, string Value) s) =>
        {
            w.WriteString(s.Name);
            w.WriteString(s.Value);
        });
        Task<bool> unknown = channel.SendRequestAsync("x-unknown@example.com", wantReply: true);
        Task<bool> exec = channel.SendRequestAsync("exec", wantReply: true, "echo hi", static (ref SshWriter w, string command) => w.WriteString(command));
        Assert.That(await env, Is.True);
        Assert.That(await unknown, Is.False);
        Assert.That(await exec, Is.True);
        Assert.That(seen, Is.EqualTo(new[] { "env", "x-unknown@example.com", "exec echo hi" }));
    }

    [Test]
    public async Task ChannelOpen_Refused_IsAnExceptionWithTheReason()
    {
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(beforeRun: h => h.Server.ChannelOpenHandler = (request, _) =>
        {
            if (request.Type == "direct-tcpip")
            {
                request.Reject(SshChannelOpenFailureReason.ConnectFailed, "nothing listens there");
            }

            return ValueTask.CompletedTask;
        });

        var refused = Assert.ThrowsAsync<SshChannelOpenException>(() => h.Client.OpenChannelAsync("direct-tcpip"));
        Assert.That((refused!.Reason, refused.Description), Is.EqualTo((SshChannelOpenFailureReason.ConnectFailed, "nothing listens there")));
        var undecided = Assert.ThrowsAsync<SshChannelOpenException>(() => h.Client.OpenChannelAsync("x11"));
        Assert.That(undecided!.Reason, Is.EqualTo(SshChannelOpenFailureReason.AdministrativelyProhibited));

        // The client itself has no handler: the server's forwarded-tcpip is an unknown channel type to it.
        var unknown = Assert.ThrowsAsync<SshChannelOpenException>(() => h.Server.OpenChannelAsync("forwarded-tcpip"));
        Assert.That(unknown!.Reason, Is.EqualTo(SshChannelOpenFailureReason.UnknownChannelType));
    }

    [Test]
    public async Task GlobalRequests_AnsweredInOrder_WithData()
    {
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(beforeRun: h => h.Server.GlobalRequestHandler = (name, data, _) =>
            ValueTask.FromResult(name == "tcpip-forward" ? new byte[] { 0, 0, 0x1F, 0x90 } : null));

        Task<byte[]?> keepalive = h.Client.SendGlobalRequestAsync<object?>("keepalive@openssh.com", wantReply: true, null, null);
        Task<byte[]?> forward = h.Client.SendGlobalRequestAsync("tcpip-forward", wantReply: true, ("127.0.0.1", 0u), static (ref SshWriter w, (string Address, uint Port) s) =>
        {
            w.WriteString(s.Address);
            w.WriteUInt32(s.Port);
        });
        Assert.That(await keepalive, Is.Null, "refused, as OpenSSH answers keepalive@openssh.com");
        Assert.That(await forward, Is.EqualTo(new byte[] { 0, 0, 0x1F, 0x90 }), "the bound port (8080) comes back");
    }

    [Test]
    public async Task PeerClosesFirst_OurSideEndsToo()
    {
        (ConnectionHarness h, SshChannel client, SshChannel server) = await OpenAcceptedChannelAsync();
        await using ConnectionHarness owned = h;
        await server.CloseAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await client.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        ReadResult end = await client.Input.ReadAsync();
        Assert.That(end.IsCompleted, Is.True);
        Assert.ThrowsAsync<InvalidOperationException>(() => client.SendRequestAsync("exec", wantReply: true));
    }

    [Test]
    public async Task LateRequestReplies_ForAClosedChannel_Ignored_AsOpenSsh()
    {
        var accepted = new TaskCompletionSource<SshChannel>();
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(beforeRun: h => h.Server.ChannelOpenHandler = (request, _) =>
        {
            accepted.TrySetResult(request.Accept());
            return ValueTask.CompletedTask;
        });
        SshChannel client = await h.Client.OpenChannelAsync("session");
        SshChannel server = await accepted.Task;
        uint closedId = server.RemoteId;
        await server.CloseAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await client.Completion.WaitAsync(TimeSpan.FromSeconds(10));

        // A paramiko server whose command thread closed the channel before the reader thread answered "exec".
        foreach (byte reply in new[] { SshMessageNumber.ChannelSuccess, SshMessageNumber.ChannelFailure })
        {
            await h.ServerTransport.WriteMessageAsync((reply, closedId), static (buffer, s) =>
            {
                var writer = new SshWriter(buffer);
                writer.WriteByte(s.reply);
                writer.WriteUInt32(s.closedId);
            });
        }

        accepted = new TaskCompletionSource<SshChannel>();
        SshChannel next = await h.Client.OpenChannelAsync("session").WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(next.LocalId, Is.Not.EqualTo(closedId), "the closed channel's number is not reused at once");
        await (await accepted.Task).Output.WriteAsync("still here"u8.ToArray());
        ReadResult read = await next.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(read.Buffer.ToArray(), Is.EqualTo("still here"u8.ToArray()));
        Assert.That(h.ClientLoop!.IsCompleted, Is.False, "the connection lives on");
    }

    [Test]
    public async Task LateRequestReply_ForAChannelBeingOpened_IsAProtocolError()
    {
        var opening = new TaskCompletionSource<uint>();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(beforeRun: h => h.Server.ChannelOpenHandler = async (request, _) =>
        {
            // Not answered until the end: the client's channel stays pending while a reply for it arrives.
            opening.TrySetResult(request.SenderId);
            await release.Task;
        });
        Task<SshChannel> open = h.Client.OpenChannelAsync("session");
        uint id = await opening.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await h.ServerTransport.WriteMessageAsync(id, static (buffer, recipient) =>
        {
            var writer = new SshWriter(buffer);
            writer.WriteByte(SshMessageNumber.ChannelSuccess);
            writer.WriteUInt32(recipient);
        });
        var error = Assert.ThrowsAsync<SshProtocolException>(() => h.ClientLoop!.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.That(error!.Message, Does.Contain("not open"));
        Assert.That(async () => await open.WaitAsync(TimeSpan.FromSeconds(10)), Throws.Exception);
        release.SetResult();
    }

    [Test]
    public async Task DataBeyondTheWindow_IsAProtocolError()
    {
        var channels = new SshChannelOptions { WindowSize = 64 * 1024, MaxPacketSize = 32 * 1024 };
        (ConnectionHarness h, SshChannel client, _) = await OpenAcceptedChannelAsync(serverChannels: channels);
        await using ConnectionHarness owned = h;

        // A hostile peer: raw CHANNEL_DATA straight through the transport, ignoring the window.
        var chunk = new byte[32 * 1024];
        for (int i = 0; i < 3; i++)
        {
            await h.ClientTransport.WriteMessageAsync((client.RemoteId, chunk), static (buffer, s) =>
            {
                var writer = new SshWriter(buffer);
                writer.WriteByte(SshMessageNumber.ChannelData);
                writer.WriteUInt32(s.RemoteId);
                writer.WriteString(s.chunk);
            });
        }

        var error = Assert.ThrowsAsync<SshProtocolException>(() => h.ServerLoop!.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.That(error!.Message, Does.Contain("beyond the window"));
        SshConnectionClosedEventArgs end = await h.ClientTransport.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(end.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError), "the peer was told");
    }
}
