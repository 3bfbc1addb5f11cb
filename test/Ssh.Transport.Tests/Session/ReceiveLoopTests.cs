using System.Buffers.Binary;
using Ssh.Transport.Tests.Framing;
using static Ssh.Transport.Tests.Session.SessionHarness;

namespace Ssh.Transport.Tests.Session;

/// <summary>
/// The transport owns its receive loop: a consumer that awaits writes inside its message loop never deadlocks on a
/// key exchange, whichever side rekeys; an exchange the peer never answers fails at its deadline.
/// </summary>
[CancelAfter(120_000)]
public class ReceiveLoopTests
{
    private static void Fast(SshTransportOptions options)
    {
        // curve25519 keeps thousands of exchanges quick; the point here is the scheduling, not the math.
        options.KeyExchangeAlgorithms.Clear();
        options.KeyExchangeAlgorithms.Add("curve25519-sha256");
    }

    /// <summary>
    /// The hang of issue 9: the echoing side awaits its reply inside its read loop while *it* rekeys every 2 KiB. In
    /// the old design the reply waited for the exchange and only that same loop could carry the exchange on.
    /// </summary>
    [TestCase(SshRole.Server)]
    [TestCase(SshRole.Client)]
    public async Task EchoLoop_AwaitingWritesWhileItsOwnSideRekeys_NeverStalls(SshRole echoing)
    {
        SshClientOptions clientOptions = ClientOptions();
        SshServerOptions serverOptions = ServerOptions();
        Fast(clientOptions);
        Fast(serverOptions);
        SshTransportOptions echoOptions = echoing == SshRole.Server ? serverOptions : clientOptions;
        echoOptions.Packetizer.RekeyBytes = 2 * 1024;
        echoOptions.MaxQueuedPacketsDuringKeyExchange = 2;
        (SshTransport client, SshTransport server) = await ConnectAsync(clientOptions, serverOptions);
        SshTransport echo = echoing == SshRole.Server ? server : client;
        SshTransport asker = echoing == SshRole.Server ? client : server;
        const int count = 10000;
        const int outstanding = 8;

        async Task EchoAsync()
        {
            while (true)
            {
                SshPacket request = await echo.ReadMessageAsync();
                if (request.IsCompleted)
                {
                    return;
                }

                // Awaited inside the loop, payload still held: exactly what deadlocked.
                await echo.WriteMessageAsync(request.Payload);
            }
        }

        async Task AskAsync()
        {
            var random = new Random(7);
            int next = 0;
            for (int answered = 0; answered < count; answered++)
            {
                while (next < count && next - answered < outstanding)
                {
                    await WriteNumberedAsync(asker, next, random.Next(16, 1500));
                    next++;
                }

                SshPacket reply = await asker.ReadMessageAsync();
                Assert.That(CheckNumbered(reply), Is.EqualTo(answered), "every reply, in order, intact");
            }

            await asker.DisconnectAsync(SshDisconnectReason.ByApplication, "done");
        }

        Task echoing_ = EchoAsync();
        await AskAsync().WaitAsync(TimeSpan.FromSeconds(90));
        await echoing_.WaitAsync(TimeSpan.FromSeconds(10));
        TestContext.Out.WriteLine($"{echo.KeyExchangeCount} key exchanges");
        Assert.That(echo.KeyExchangeCount, Is.GreaterThan(1000), "a thousand and more rekeys under the echo loop");
        SshConnectionClosedEventArgs end = await echo.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That((end.ClosedBy, end.Reason, end.Error), Is.EqualTo((SshInitiator.Remote, SshDisconnectReason.ByApplication, (Exception?)null)));
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Test]
    public async Task KeyExchangeNeverAnswered_FailsAtTheDeadline_WithDisconnect_AndReleasesWaitingWriters()
    {
        (SshPacketizer peer, SshTransport server) = await PacketizerKeyInstallationTests.ConnectBareClientAsync(
            "aes128-gcm@openssh.com", null, "none", strictKex: true, configure: static o =>
            {
                o.KeyExchangeTimeout = TimeSpan.FromMilliseconds(500);
                o.MaxQueuedPacketsDuringKeyExchange = 1;
            });
        var events = new List<string>();
        server.KeyExchangeStarted += (_, e) => events.Add($"started {e.Number} {e.InitiatedBy}");
        server.KeyExchangeCompleted += (_, e) => events.Add($"completed {e.Number}");

        Task rekey = server.RekeyAsync();
        SshPacket kexInit = await peer.ReadPacketAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(kexInit.MessageNumber, Is.EqualTo(SshMessageNumber.KexInit));

        // During the exchange: one write is queued, the next waits for the exchange.
        await server.WriteMessageAsync(new byte[] { SshMessageNumber.ChannelData, 1 });
        Task waiting = server.WriteMessageAsync(new byte[] { SshMessageNumber.ChannelData, 2 }).AsTask();
        Assert.That(waiting.IsCompleted, Is.False);

        // The peer never answers.
        var timeout = Assert.ThrowsAsync<SshTimeoutException>(async () => await rekey.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.That((timeout!.Kind, timeout.Reason, timeout.Timeout), Is.EqualTo((SshTimeoutKind.KeyExchange, SshDisconnectReason.KeyExchangeFailed, TimeSpan.FromMilliseconds(500))));
        Assert.ThrowsAsync<SshTimeoutException>(async () => await server.ReadMessageAsync());
        Assert.That(async () => await waiting.WaitAsync(TimeSpan.FromSeconds(10)), Throws.InstanceOf<SshProtocolException>(), "the waiting writer is released with the failure");
        SshConnectionClosedEventArgs end = await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That((end.ClosedBy, end.Reason, end.Error), Is.EqualTo((SshInitiator.Local, SshDisconnectReason.KeyExchangeFailed, (Exception?)timeout)));
        Assert.That(events, Is.EqualTo(new[] { "started 2 Local" }));

        // The peer is told why: DISCONNECT with KeyExchangeFailed, under the keys in use, and then the end.
        SshPacket disconnect = await peer.ReadPacketAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(disconnect.MessageNumber, Is.EqualTo(SshMessageNumber.Disconnect));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(disconnect.Payload.Span[1..]), Is.EqualTo((uint)SshDisconnectReason.KeyExchangeFailed));
        Assert.That((await peer.ReadPacketAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10))).IsCompleted, Is.True);
        await server.DisposeAsync();
        await peer.DisposeAsync();
    }

    [Test]
    public async Task ConsumerThatDoesNotRead_StillLetsThePeersKeyExchangeComplete()
    {
        (SshTransport client, SshTransport server) = await ConnectAsync(ClientOptions(), ServerOptions());
        int completed = 0;
        server.KeyExchangeCompleted += (_, e) =>
        {
            Assert.That(e.InitiatedBy, Is.EqualTo(SshInitiator.Remote));
            Assert.That(e.Algorithms, Is.Not.Null);
            Interlocked.Increment(ref completed);
        };

        // Nobody calls server.ReadMessageAsync: the server's loop answers the client's rekeys on its own.
        for (int i = 0; i < 5; i++)
        {
            await client.RekeyAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.That((client.KeyExchangeCount, server.KeyExchangeCount, Volatile.Read(ref completed)), Is.EqualTo((6, 6, 5)));
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Test]
    public async Task SlowConsumer_BoundsWhatTheLoopReadsAhead()
    {
        SshServerOptions serverOptions = ServerOptions();
        serverOptions.MaxBufferedInboundBytes = 64 * 1024;

        // Pipes that push back like a socket's buffers do: 64 KiB in flight at most.
        var pipes = new Ssh.Transport.Tests.Infrastructure.PipePair(pauseWriterThreshold: 64 * 1024);
        (SshTransport client, SshTransport server) = await ConnectAsync(ClientOptions(), serverOptions, pipes.Client, pipes.Server);

        // 4 MiB offered while the server's consumer reads nothing: the client's writes stall on backpressure.
        var payload = new byte[16 * 1024];
        payload[0] = SshMessageNumber.ChannelData;
        Task sending = Task.Run(async () =>
        {
            for (int i = 0; i < 256; i++)
            {
                await client.WriteMessageAsync(payload);
            }
        });
        await Task.Delay(500);
        Assert.That(sending.IsCompleted, Is.False, "the socket is not read past the bound");
        long readAhead = server.BytesRead;
        Assert.That(readAhead, Is.LessThan(256 * 1024), "the server read a bounded amount ahead");

        for (int i = 0; i < 256; i++)
        {
            Assert.That((await server.ReadMessageAsync()).Payload.Length, Is.EqualTo(payload.Length));
        }

        await sending.WaitAsync(TimeSpan.FromSeconds(10));
        await client.DisposeAsync();
        await server.DisposeAsync();
    }
}
