using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Ssh.Transport.Crypto;
using Ssh.Transport.KeyExchange;
using Ssh.Transport.Tests.Framing;
using Ssh.Transport.Tests.Infrastructure;
using static Ssh.Transport.Tests.Session.SessionHarness;

namespace Ssh.Transport.Tests.Session;

/// <summary>
/// ping@openssh.com (OpenSSH PROTOCOL §1.8): our client's <see cref="SshTransport.PingAsync"/> against our server, and
/// our server's answers to a bare client that sends PINGs when it likes: not before user authentication, not during a
/// key exchange (deferred to after it), in order, and at most <see cref="SshTransportOptions.MaxQueuedPongs"/> waiting.
/// </summary>
[CancelAfter(120_000)]
public class PingTests
{
    private const byte Marker = 15; // an unassigned transport message: answered with UNIMPLEMENTED, in order
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    // ---- Our client, our server -------------------------------------------------------------------------------------

    [Test]
    public async Task PingAsync_AfterAuthentication_ServerAdvertises_ReturnsTheRoundTrip()
    {
        (SshTransport client, SshTransport server) = await ConnectAuthenticatedAsync(ClientOptions(), ServerOptions());
        await using (client)
        await using (server)
        {
            Assert.That(client.RemoteExtensions[SshTransport.PingExtension], Is.EqualTo("0"u8.ToArray()), "advertised in EXT_INFO as version 0");
            Assert.That((client.IsPingSupported, server.IsPingSupported), Is.EqualTo((true, false)), "servers advertise, clients do not");
            for (int i = 0; i < 5; i++)
            {
                TimeSpan rtt = await client.PingAsync().WaitAsync(s_timeout);
                Assert.That(rtt, Is.GreaterThanOrEqualTo(TimeSpan.Zero));
            }

            Assert.That(client.IsKeyExchangeInProgress || server.IsKeyExchangeInProgress, Is.False);
        }
    }

    [Test]
    public async Task PingAsync_MeasuresOnTheTimeProvider()
    {
        // A clock that never moves: the round trip is exactly zero, which no wall clock would give.
        var clock = new FakeTimeProvider();
        SshClientOptions options = ClientOptions();
        options.Packetizer.TimeProvider = clock;
        (SshTransport client, SshTransport server) = await ConnectAuthenticatedAsync(options, ServerOptions());
        await using (client)
        await using (server)
        {
            Assert.That(await client.PingAsync().WaitAsync(s_timeout), Is.EqualTo(TimeSpan.Zero));
        }
    }

    [Test]
    public async Task PingAsync_ServerAnswersNoPings_NotAdvertised_NotSupported()
    {
        SshServerOptions serverOptions = ServerOptions();
        serverOptions.MaxQueuedPongs = 0;
        (SshTransport client, SshTransport server) = await ConnectAuthenticatedAsync(ClientOptions(), serverOptions);
        await using (client)
        await using (server)
        {
            Assert.That(client.IsPingSupported, Is.False);
            Assert.That(client.RemoteExtensions.ContainsKey(SshTransport.PingExtension), Is.False);
            Assert.That(client.ServerSignatureAlgorithms, Is.Not.Null, "the EXT_INFO itself still went out");
            var e = Assert.ThrowsAsync<NotSupportedException>(() => client.PingAsync());
            Assert.That(e!.Message, Does.Contain("ping@openssh.com"));
        }
    }

    [Test]
    public async Task PingAsync_FromTheServer_ClientsDoNotAdvertise_NotSupported()
    {
        (SshTransport client, SshTransport server) = await ConnectAuthenticatedAsync(ClientOptions(), ServerOptions());
        await using (client)
        await using (server)
        {
            Assert.ThrowsAsync<NotSupportedException>(() => server.PingAsync());
        }
    }

    [Test]
    public async Task PingAsync_BeforeAuthentication_InvalidOperation()
    {
        (SshTransport client, SshTransport server) = await ConnectWithExtInfoAsync(ClientOptions(), ServerOptions());
        await using (client)
        await using (server)
        {
            Assert.That(client.IsPingSupported, Is.True);
            Assert.ThrowsAsync<InvalidOperationException>(() => client.PingAsync());
        }
    }

    [Test]
    public async Task PingAsync_Cancelled_Throws_AndTheNextPingIsAnswered()
    {
        (SshTransport client, SshTransport server) = await ConnectAuthenticatedAsync(ClientOptions(), ServerOptions());
        await using (client)
        await using (server)
        {
            using var cancelled = new CancellationTokenSource();
            await cancelled.CancelAsync();
            Assert.That(async () => await client.PingAsync(cancelled.Token), Throws.InstanceOf<OperationCanceledException>());
            Assert.That(await client.PingAsync().WaitAsync(s_timeout), Is.GreaterThanOrEqualTo(TimeSpan.Zero));
        }
    }

    [Test]
    public async Task PingAsync_ConnectionAlreadyEnded_ProtocolException()
    {
        (SshTransport client, SshTransport server) = await ConnectAuthenticatedAsync(ClientOptions(), ServerOptions());
        await using (server)
        {
            await client.DisconnectAsync();
            Assert.ThrowsAsync<SshProtocolException>(() => client.PingAsync());
        }
    }

    [Test]
    public async Task PingAsync_ManyAtOnceWhileBothSidesRekey_EveryPingIsAnswered()
    {
        SshClientOptions clientOptions = ClientOptions();
        SshServerOptions serverOptions = ServerOptions();
        foreach (SshTransportOptions options in new SshTransportOptions[] { clientOptions, serverOptions })
        {
            options.KeyExchangeAlgorithms.Clear();
            options.KeyExchangeAlgorithms.Add("curve25519-sha256");
        }

        clientOptions.Packetizer.RekeyBytes = 4 * 1024;
        serverOptions.Packetizer.RekeyBytes = 6 * 1024;
        (SshTransport client, SshTransport server) = await ConnectAuthenticatedAsync(clientOptions, serverOptions);
        await using (client)
        await using (server)
        {
            // IGNORE both ways keeps the rekey limits tripping while 4 pingers run 50 pings each.
            using var stop = new CancellationTokenSource();
            Task noise = Task.WhenAll(NoiseAsync(client, stop.Token), NoiseAsync(server, stop.Token));
            Task<TimeSpan[]>[] pingers = [.. Enumerable.Range(0, 4).Select(_ => PingManyAsync(client, 50))];
            TimeSpan[][] results = await Task.WhenAll(pingers).WaitAsync(TimeSpan.FromSeconds(90));
            await stop.CancelAsync();
            await noise;
            Assert.That(results.SelectMany(r => r).Count(), Is.EqualTo(200));
            Assert.That(client.KeyExchangeCount + server.KeyExchangeCount, Is.GreaterThan(4), "the pings crossed key exchanges");
        }

        static async Task<TimeSpan[]> PingManyAsync(SshTransport client, int count)
        {
            var rtts = new TimeSpan[count];
            for (int i = 0; i < count; i++)
            {
                rtts[i] = await client.PingAsync();
            }

            return rtts;
        }

        static async Task NoiseAsync(SshTransport transport, CancellationToken stop)
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await transport.SendIgnoreAsync(new byte[512], stop);
                    await Task.Yield();
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    // ---- A bare client pinging our server ---------------------------------------------------------------------------

    [Test]
    public async Task Server_PingBeforeAuthentication_IsNotAnswered_AfterItIs()
    {
        (SshPacketizer peer, SshTransport server) = await ConnectBareAsync();
        await using (peer)
        await using (server)
        {
            await WritePingAsync(peer, "early"u8.ToArray());
            await WriteMarkerAsync(peer);
            Assert.That((await ReadAsync(peer)).MessageNumber, Is.EqualTo(SshMessageNumber.Unimplemented), "no PONG before authentication (OpenSSH's preauth rule)");

            server.EnableDelayedCompression(); // what the authentication layer calls at USERAUTH_SUCCESS
            byte[][] data = [[], "late"u8.ToArray(), RandomNumberGenerator.GetBytes(3000)];
            foreach (byte[] d in data)
            {
                await WritePingAsync(peer, d);
            }

            await WritePongAsync(peer, "unsolicited"u8.ToArray()); // ignored, as OpenSSH does
            await WriteMarkerAsync(peer);
            foreach (byte[] d in data)
            {
                Assert.That(PongData(await ReadAsync(peer)), Is.EqualTo(d), "PONGs in order, each with its PING's data");
            }

            Assert.That((await ReadAsync(peer)).MessageNumber, Is.EqualTo(SshMessageNumber.Unimplemented));
            Assert.That(server.Completion.IsCompleted, Is.False);
        }
    }

    [Test]
    public async Task Server_PingDuringKeyExchange_IsAnsweredAfterTheExchange()
    {
        (SshPacketizer peer, SshTransport server) = await ConnectBareAsync();
        await using (peer)
        await using (server)
        {
            server.EnableDelayedCompression();
            Task rekey = server.RekeyAsync();
            SshPacket kexInit = await ReadAsync(peer);
            Assert.That(kexInit.MessageNumber, Is.EqualTo(SshMessageNumber.KexInit));
            KexInitMessage serverKexInit = KexInitMessage.Parse(kexInit.Payload.Span, SshNameList.DefaultMaxLength);
            Assert.That(server.IsKeyExchangeInProgress, Is.True);

            // Before our own KEXINIT we may still send anything: a PING reaches the server in the middle of its exchange.
            await WritePingAsync(peer, "during"u8.ToArray());
            await WriteMarkerAsync(peer);
            Assert.That((await ReadAsync(peer)).MessageNumber, Is.EqualTo(SshMessageNumber.Unimplemented), "transport replies go on; no PONG");

            await AnswerRekeyAsync(peer, server, serverKexInit);
            await rekey.WaitAsync(s_timeout);
            Assert.That(PongData(await ReadAsync(peer)), Is.EqualTo("during"u8.ToArray()), "the PONG, first thing after NEWKEYS");

            await WritePingAsync(peer, "after"u8.ToArray());
            Assert.That(PongData(await ReadAsync(peer)), Is.EqualTo("after"u8.ToArray()));
            Assert.That(server.KeyExchangeCount, Is.EqualTo(2));
        }
    }

    [Test]
    public async Task Server_PingFloodFromAPeerThatDoesNotRead_AnswersAreBounded()
    {
        const int Limit = 4, Count = 1000, Size = 4096;
        var pipes = new PipePair(pauseWriterThreshold: 64 * 1024);
        (SshPacketizer peer, SshTransport server) = await ConnectBareAsync(o => o.MaxQueuedPongs = Limit, pipes);
        await using (peer)
        await using (server)
        {
            server.EnableDelayedCompression();

            // 4 MiB of PINGs, none of their PONGs read meanwhile: the server's writes stall at 64 KiB, its queue fills.
            for (int i = 0; i < Count; i++)
            {
                byte[] data = new byte[Size];
                BinaryPrimitives.WriteInt32BigEndian(data, i);
                await WritePingAsync(peer, data);
            }

            await WriteMarkerAsync(peer);
            var answered = new List<int>();
            while (true)
            {
                SshPacket packet = await ReadAsync(peer);
                if (packet.MessageNumber == SshMessageNumber.Unimplemented)
                {
                    break;
                }

                byte[] data = PongData(packet);
                Assert.That(data, Has.Length.EqualTo(Size));
                answered.Add(BinaryPrimitives.ReadInt32BigEndian(data));
            }

            TestContext.Out.WriteLine($"{answered.Count} of {Count} PINGs answered with MaxQueuedPongs {Limit}");
            Assert.That(answered, Is.Ordered.And.Unique, "answers in the order of their PINGs");
            Assert.That(answered.Count, Is.GreaterThanOrEqualTo(Limit).And.LessThan(Count / 4), "the rest were dropped, not queued");
            Assert.That(answered[0], Is.Zero);

            // Still a working connection: once the backlog is read, every PING is answered again.
            await WritePingAsync(peer, "again"u8.ToArray());
            Assert.That(PongData(await ReadAsync(peer)), Is.EqualTo("again"u8.ToArray()));
            Assert.That(server.Completion.IsCompleted, Is.False);
        }
    }

    // ---- Helpers --------------------------------------------------------------------------------------------------

    /// <summary>Connected, and both ends told that user authentication succeeded (the transport's preauth rule).</summary>
    private static async Task<(SshTransport Client, SshTransport Server)> ConnectAuthenticatedAsync(SshClientOptions clientOptions, SshServerOptions serverOptions)
    {
        (SshTransport client, SshTransport server) = await ConnectWithExtInfoAsync(clientOptions, serverOptions);
        server.EnableDelayedCompression();
        client.EnableDelayedCompression();
        return (client, server);
    }

    /// <summary>
    /// Connected, and the server's EXT_INFO read: it follows the server's first NEWKEYS, so the handshake may return
    /// before it; the SERVICE_ACCEPT the server sends after it proves it read.
    /// </summary>
    private static async Task<(SshTransport Client, SshTransport Server)> ConnectWithExtInfoAsync(SshClientOptions clientOptions, SshServerOptions serverOptions)
    {
        (SshTransport client, SshTransport server) = await ConnectAsync(clientOptions, serverOptions);
        await client.RequestServiceAsync(SshTransportOptions.UserAuthService).WaitAsync(s_timeout);
        return (client, server);
    }

    private static Task<(SshPacketizer Client, SshTransport Server)> ConnectBareAsync(Action<SshServerOptions>? configure = null, PipePair? pipes = null) =>
        PacketizerKeyInstallationTests.ConnectBareClientAsync(Cipher, null, "none", strictKex: true, configure, pipes);

    private const string Cipher = "aes128-gcm@openssh.com";

    private static async Task<SshPacket> ReadAsync(SshPacketizer peer) => await peer.ReadPacketAsync().AsTask().WaitAsync(s_timeout);

    private static async Task WritePingAsync(SshPacketizer peer, byte[] data) =>
        await peer.WritePacketAsync(data, static (w, d) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.Ping);
            writer.WriteString(d);
        }, data.Length + 5, flush: true);

    private static async Task WritePongAsync(SshPacketizer peer, byte[] data) =>
        await peer.WritePacketAsync(data, static (w, d) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.Pong);
            writer.WriteString(d);
        }, data.Length + 5, flush: true);

    private static async Task WriteMarkerAsync(SshPacketizer peer) => await peer.WritePacketAsync(new byte[] { Marker });

    private static byte[] PongData(SshPacket packet)
    {
        Assert.That(packet.MessageNumber, Is.EqualTo(SshMessageNumber.Pong), $"got {SshMessageNumber.GetName(packet.MessageNumber)}");
        var reader = new SshReader(packet.Payload.Span[1..]);
        byte[] data = reader.ReadString().ToArray();
        Assert.That(reader.End, Is.True);
        return data;
    }

    /// <summary>
    /// The bare client's half of a key exchange the server started (curve25519-sha256, RFC 8731; RFC 4253 §7-9): our
    /// KEXINIT, ECDH_INIT, the server's REPLY checked, keys derived under the connection's session id, NEWKEYS both ways.
    /// </summary>
    private static async Task AnswerRekeyAsync(SshPacketizer peer, SshTransport server, KexInitMessage theirs)
    {
        KexInitMessage ours = KexInitMessage.Create(["curve25519-sha256"], ["ssh-ed25519"], [Cipher], ["hmac-sha2-256"], ["none"]);
        await peer.WritePacketAsync(ours.Payload);
        NegotiatedAlgorithms n = AlgorithmNegotiation.Negotiate(ours, theirs, static name => CipherAlgorithm.Find(name)!.IsAead);
        using var agreement = new Curve25519Agreement();
        await peer.WritePacketAsync(agreement.LocalPublic, static (w, q) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.KexDhInit);
            writer.WriteString(q.Span);
        });

        SshPacket reply = await ReadAsync(peer);
        Assert.That(reply.MessageNumber, Is.EqualTo(SshMessageNumber.KexDhReply));
        (byte[] hostKeyBlob, byte[] serverPublic, byte[] signature) = PacketizerKeyInstallationTests.ParseReply(reply.Payload.Span);
        var encodedK = new ArrayBufferWriter<byte>(64);
        agreement.ComputeSharedSecret(serverPublic, encodedK);
        byte[] h = ExchangeHash.Compute(
            HashAlgorithmName.SHA256, ExchangeHashForm.Strings, Encoding.Latin1.GetBytes(peer.LocalIdentification), Encoding.Latin1.GetBytes(peer.RemoteIdentification!),
            ours.Payload, theirs.Payload, hostKeyBlob, agreement.LocalPublic.Span, serverPublic, encodedK.WrittenSpan);
        Assert.That(SshPublicKey.FromBlob(hostKeyBlob).VerifySignature(n.HostKey, h, signature), Is.True);
        PacketizerKeyInstallationTests.InstallKeys(peer, n, encodedK.WrittenSpan, h, server.SessionId.ToArray());
        await peer.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        Assert.That((await ReadAsync(peer)).MessageNumber, Is.EqualTo(SshMessageNumber.NewKeys));
    }
}
