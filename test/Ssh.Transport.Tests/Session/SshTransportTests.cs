using System.Buffers;
using Ssh.Transport.Crypto;
using Ssh.Transport.KeyExchange;
using Ssh.Transport.Tests.Infrastructure;
using static Ssh.Transport.Tests.Session.SessionHarness;

namespace Ssh.Transport.Tests.Session;

[CancelAfter(120_000)]
public class SshTransportTests
{
    private static IEnumerable<string> KexMethods() => KexAlgorithm.All.Select(k => k.Name);

    private static IEnumerable<TestCaseData> HostKeyAlgorithms()
    {
        yield return new TestCaseData(SshHostKeyType.Ed25519, "ssh-ed25519");
        yield return new TestCaseData(SshHostKeyType.EcdsaNistP256, "ecdsa-sha2-nistp256");
        yield return new TestCaseData(SshHostKeyType.EcdsaNistP384, "ecdsa-sha2-nistp384");
        yield return new TestCaseData(SshHostKeyType.EcdsaNistP521, "ecdsa-sha2-nistp521");
        yield return new TestCaseData(SshHostKeyType.Rsa, "rsa-sha2-256");
        yield return new TestCaseData(SshHostKeyType.Rsa, "rsa-sha2-512");
        yield return new TestCaseData(SshHostKeyType.Rsa, "ssh-rsa");
    }

    private static IEnumerable<TestCaseData> CipherSuites()
    {
        foreach (CipherAlgorithm cipher in CipherAlgorithm.All)
        {
            if (cipher.IsAead)
            {
                yield return new TestCaseData(cipher.Name, "hmac-sha2-256");
                continue;
            }

            foreach (MacAlgorithm mac in MacAlgorithm.All)
            {
                yield return new TestCaseData(cipher.Name, mac.Name);
            }
        }
    }

    private static void Only(IList<string> list, string name)
    {
        list.Clear();
        list.Add(name);
    }

    /// <summary>Handshake, service request, and a few messages each way: the keys work in both directions.</summary>
    private static async Task RoundTripAsync(SshTransport client, SshTransport server)
    {
        Task<SshPacket> serverRead = await RequestUserAuthAsync(client, server);
        for (int i = 0; i < 5; i++)
        {
            await WriteNumberedAsync(client, i, 100 + i * 3000);
            Assert.That(CheckNumbered(await (i == 0 ? serverRead : server.ReadMessageAsync().AsTask())), Is.EqualTo(i));
            await WriteNumberedAsync(server, i, 50 + i * 2000);
            Assert.That(CheckNumbered(await client.ReadMessageAsync()), Is.EqualTo(i));
        }

        Assert.That(client.SessionId.ToArray(), Is.EqualTo(server.SessionId.ToArray()));
        Assert.That(client.HostKey, Is.EqualTo(server.HostKey));
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [TestCaseSource(nameof(KexMethods))]
    public async Task Handshake_EveryKexMethod_ReachesServiceAccept(string kex)
    {
        SshClientOptions clientOptions = ClientOptions();
        SshServerOptions serverOptions = ServerOptions();
        Only(clientOptions.KeyExchangeAlgorithms, kex);
        Only(serverOptions.KeyExchangeAlgorithms, kex);
        (SshTransport client, SshTransport server) = await ConnectAsync(clientOptions, serverOptions);
        Assert.That(client.Algorithms.KeyExchange, Is.EqualTo(kex));
        Assert.That(server.Algorithms.KeyExchange, Is.EqualTo(kex));
        await RoundTripAsync(client, server);
    }

    [TestCaseSource(nameof(HostKeyAlgorithms))]
    public async Task Handshake_EveryHostKeyAlgorithm_ReachesServiceAccept(SshHostKeyType keyType, string algorithm)
    {
        SshServerOptions serverOptions = ServerOptions(keyType);
        SshClientOptions clientOptions = ClientOptions(Key(keyType).PublicKey);
        Only(clientOptions.HostKeyAlgorithms, algorithm);
        Only(serverOptions.HostKeyAlgorithms, algorithm);
        (SshTransport client, SshTransport server) = await ConnectAsync(clientOptions, serverOptions);
        Assert.That(client.Algorithms.HostKey, Is.EqualTo(algorithm));
        Assert.That(client.HostKey, Is.EqualTo(Key(keyType).PublicKey));
        await RoundTripAsync(client, server);
    }

    [TestCaseSource(nameof(CipherSuites))]
    public async Task Handshake_EveryCipherAndMac_ReachesServiceAccept(string cipher, string mac)
    {
        SshClientOptions clientOptions = ClientOptions();
        SshServerOptions serverOptions = ServerOptions();
        Only(clientOptions.Ciphers, cipher);
        Only(serverOptions.Ciphers, cipher);
        Only(clientOptions.Macs, mac);
        Only(serverOptions.Macs, mac);
        (SshTransport client, SshTransport server) = await ConnectAsync(clientOptions, serverOptions);
        Assert.That(client.Algorithms.CipherClientToServer, Is.EqualTo(cipher));
        Assert.That(server.Algorithms.CipherServerToClient, Is.EqualTo(cipher));
        Assert.That(client.Algorithms.MacClientToServer, Is.EqualTo(CipherAlgorithm.Find(cipher)!.IsAead ? null : mac));
        await RoundTripAsync(client, server);
    }

    [TestCase("zlib")]
    [TestCase("zlib@openssh.com")]
    public async Task Handshake_Compression_Works(string compression)
    {
        SshClientOptions clientOptions = ClientOptions();
        SshServerOptions serverOptions = ServerOptions();
        Only(clientOptions.CompressionAlgorithms, compression);
        Only(serverOptions.CompressionAlgorithms, compression);
        (SshTransport client, SshTransport server) = await ConnectAsync(clientOptions, serverOptions);
        Assert.That(client.Algorithms.CompressionClientToServer, Is.EqualTo(compression));
        Task<SshPacket> serverRead = await RequestUserAuthAsync(client, server);

        // What the authentication layer does: the server sends USERAUTH_SUCCESS and switches, the client switches
        // once it has read it.
        await server.WriteMessageAsync(new byte[] { SshMessageNumber.UserAuthSuccess });
        server.EnableDelayedCompression();
        Assert.That((await client.ReadMessageAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.UserAuthSuccess));
        client.EnableDelayedCompression();

        long before = client.Packetizer.BytesWritten;
        byte[] compressible = new byte[20000];
        compressible[0] = SshMessageNumber.ChannelData;
        await client.WriteMessageAsync(compressible);
        Assert.That(client.Packetizer.BytesWritten - before, Is.LessThan(2000), "compressed on the wire");
        Assert.That((await serverRead).Payload.ToArray(), Is.EqualTo(compressible));
        await server.WriteMessageAsync(compressible);
        Assert.That((await client.ReadMessageAsync()).Payload.ToArray(), Is.EqualTo(compressible));
    }

    [TestCaseSource(nameof(KexMethods))]
    public async Task Handshake_OverLoopbackSocket_EveryKexMethod(string kex)
    {
        (var clientPipe, var serverPipe, IDisposable sockets) = await LoopbackAsync();
        using (sockets)
        {
            SshClientOptions clientOptions = ClientOptions();
            SshServerOptions serverOptions = ServerOptions();
            Only(clientOptions.KeyExchangeAlgorithms, kex);
            Only(serverOptions.KeyExchangeAlgorithms, kex);
            (SshTransport client, SshTransport server) = await ConnectAsync(clientOptions, serverOptions, clientPipe, serverPipe);
            await RoundTripAsync(client, server);
        }
    }

    [TestCaseSource(nameof(HostKeyAlgorithms))]
    public async Task Handshake_OverLoopbackSocket_EveryHostKeyAlgorithm(SshHostKeyType keyType, string algorithm)
    {
        (var clientPipe, var serverPipe, IDisposable sockets) = await LoopbackAsync();
        using (sockets)
        {
            SshServerOptions serverOptions = ServerOptions(keyType);
            SshClientOptions clientOptions = ClientOptions(Key(keyType).PublicKey);
            Only(clientOptions.HostKeyAlgorithms, algorithm);
            Only(serverOptions.HostKeyAlgorithms, algorithm);
            (SshTransport client, SshTransport server) = await ConnectAsync(clientOptions, serverOptions, clientPipe, serverPipe);
            Assert.That(client.Algorithms.HostKey, Is.EqualTo(algorithm));
            await RoundTripAsync(client, server);
        }
    }

    [TestCaseSource(nameof(CipherSuites))]
    public async Task Handshake_OverLoopbackSocket_EveryCipherAndMac(string cipher, string mac)
    {
        (var clientPipe, var serverPipe, IDisposable sockets) = await LoopbackAsync();
        using (sockets)
        {
            SshClientOptions clientOptions = ClientOptions();
            SshServerOptions serverOptions = ServerOptions();
            Only(clientOptions.Ciphers, cipher);
            Only(serverOptions.Ciphers, cipher);
            Only(clientOptions.Macs, mac);
            Only(serverOptions.Macs, mac);
            (SshTransport client, SshTransport server) = await ConnectAsync(clientOptions, serverOptions, clientPipe, serverPipe);
            Assert.That(client.Algorithms.CipherServerToClient, Is.EqualTo(cipher));
            await RoundTripAsync(client, server);
        }
    }

    [Test]
    public async Task Handshake_Defaults_StrictKexAndExtInfo()
    {
        (SshTransport client, SshTransport server) = await ConnectAsync(ClientOptions(), ServerOptions());
        Assert.That(client.IsStrictKeyExchange, Is.True);
        Assert.That(server.IsStrictKeyExchange, Is.True);
        Assert.That(client.Algorithms.KeyExchange, Is.EqualTo(KexAlgorithm.DefaultOrder[0]));
        Task<SshPacket> serverRead = await RequestUserAuthAsync(client, server);
        Assert.That(client.ServerSignatureAlgorithms, Does.Contain("ssh-ed25519").And.Contain("rsa-sha2-512"));
        Assert.That(client.RemoteIdentification, Is.EqualTo(server.LocalIdentification));
        Assert.That(client.KeyExchangeCount, Is.EqualTo(1));

        // Strict kex restarted the numbering at NEWKEYS: only a handful of packets since.
        Assert.That(client.Packetizer.InboundSequenceNumber, Is.LessThan(5u));
        _ = serverRead;
    }

    [Test]
    public async Task Rekey_Storm_NothingLostReorderedOrDuplicated()
    {
        SshClientOptions clientOptions = ClientOptions();
        SshServerOptions serverOptions = ServerOptions();
        clientOptions.Packetizer.RekeyBytes = 8 * 1024;
        serverOptions.Packetizer.RekeyBytes = 6 * 1024;

        // Writers mostly wait for each exchange (a queue of one) and the loops read little ahead, so a rekey follows
        // every few packets.
        clientOptions.MaxQueuedPacketsDuringKeyExchange = 1;
        serverOptions.MaxQueuedPacketsDuringKeyExchange = 1;
        clientOptions.MaxBufferedInboundBytes = 16 * 1024;
        serverOptions.MaxBufferedInboundBytes = 16 * 1024;
        (SshTransport client, SshTransport server) = await ConnectAsync(clientOptions, serverOptions);
        const int count = 1500;

        async Task Send(SshTransport from, int seed)
        {
            var random = new Random(seed);
            for (int i = 0; i < count; i++)
            {
                await WriteNumberedAsync(from, i, random.Next(10, 3000));
                if (i % 4 == 0)
                {
                    // Writes that complete synchronously never give up the thread; on two cores the receive loops
                    // would wait for the thread pool to grow before they could answer a KEXINIT.
                    await Task.Yield();
                }
            }
        }

        using var done = new CancellationTokenSource();
        int received = 0;
        async Task Receive(SshTransport at)
        {
            for (int i = 0; i < count; i++)
            {
                SshPacket packet = await at.ReadMessageAsync();
                Assert.That(CheckNumbered(packet), Is.EqualTo(i), "in order, once each");
            }

            // Key exchanges progress as each side reads: keep reading until the other side has sent everything.
            Interlocked.Increment(ref received);
            await ReadUntilCancelled(at, done.Token);
        }

        Task sending = Task.WhenAll(Send(client, 1), Send(server, 2));
        Task receiving = Task.WhenAll(Receive(client), Receive(server));
        await sending.WaitAsync(TimeSpan.FromSeconds(100));
        while (Volatile.Read(ref received) < 2)
        {
            await Task.WhenAny(receiving, Task.Delay(10)).Unwrap().WaitAsync(TimeSpan.FromSeconds(100));
        }

        await done.CancelAsync();
        await receiving.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(client.KeyExchangeCount, Is.GreaterThan(100), "a storm: many exchanges while data flows both ways");
        Assert.That(server.KeyExchangeCount, Is.EqualTo(client.KeyExchangeCount));
        TestContext.Out.WriteLine($"{client.KeyExchangeCount} key exchanges");
    }

    [Test]
    public async Task Rekey_CrossingKexInits_BothComplete()
    {
        (SshTransport client, SshTransport server) = await ConnectAsync(ClientOptions(), ServerOptions());
        using var stop = new CancellationTokenSource();
        Task clientLoop = ReadUntilCancelled(client, stop.Token);
        Task serverLoop = ReadUntilCancelled(server, stop.Token);
        for (int i = 0; i < 20; i++)
        {
            await Task.WhenAll(client.RekeyAsync(), server.RekeyAsync()).WaitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.That(client.KeyExchangeCount, Is.EqualTo(server.KeyExchangeCount));
        Assert.That(client.KeyExchangeCount, Is.InRange(21, 41));
        await stop.CancelAsync();
        await Task.WhenAll(clientLoop, serverLoop);
    }

    private static async Task ReadUntilCancelled(SshTransport transport, CancellationToken token)
    {
        try
        {
            while (true)
            {
                await transport.ReadMessageAsync(token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [Test]
    public async Task Rekey_PeerIgnoresOurKexInitPastTheAllowance_IsDisconnected()
    {
        // A bare packetizer as the peer: it only writes, never reading our KEXINIT, so it never answers it.
        (SshPacketizer peer, SshTransport server) = await Ssh.Transport.Tests.Framing.PacketizerKeyInstallationTests.ConnectBareClientAsync(
            "aes128-gcm@openssh.com", null, "none", strictKex: true, configure: static o =>
            {
                o.Packetizer.RekeyBytes = 16 * 1024;
                o.Packetizer.RekeyOverflowBytes = 32 * 1024;
            });
        using var stop = new CancellationTokenSource();
        byte[] data = new byte[1000];
        data[0] = SshMessageNumber.ChannelData;
        Task flood = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await peer.WritePacketAsync(data);
            }
        });

        var ex = Assert.ThrowsAsync<SshProtocolException>(async () =>
        {
            while (true)
            {
                await server.ReadMessageAsync();
            }
        });
        Assert.That(ex!.Message, Does.Contain("rekey limit"));
        Assert.That(server.BytesRead, Is.InRange(16 * 1024 + 32 * 1024, 16 * 1024 + 32 * 1024 + 4096));
        await stop.CancelAsync();
        await server.DisposeAsync();
        try
        {
            await flood;
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or SshProtocolException or OperationCanceledException)
        {
        }

        await peer.DisposeAsync();
    }

    [Test]
    public async Task Rekey_PeerAnswersUnimplementedToOurKexInit_FailsInsteadOfHanging()
    {
        // A bare packetizer as the peer, keyed by hand: like sshd before user authentication, it answers our KEXINIT
        // with UNIMPLEMENTED and never with a KEXINIT.
        (SshPacketizer peer, SshTransport server) = await Ssh.Transport.Tests.Framing.PacketizerKeyInstallationTests.ConnectBareClientAsync("aes128-gcm@openssh.com", null, "none", strictKex: true);
        Task rekey = server.RekeyAsync();
        SshPacket kexInit = await peer.ReadPacketAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(kexInit.MessageNumber, Is.EqualTo(SshMessageNumber.KexInit));
        await peer.WritePacketAsync(kexInit.SequenceNumber, static (w, sequenceNumber) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.Unimplemented);
            writer.WriteUInt32(sequenceNumber);
        });

        var ex = Assert.ThrowsAsync<SshProtocolException>(async () => await server.ReadMessageAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.KeyExchangeFailed));
        Assert.That(ex.Message, Does.Contain("UNIMPLEMENTED"));
        Assert.ThrowsAsync<SshProtocolException>(async () => await rekey.WaitAsync(TimeSpan.FromSeconds(10)));
        SshConnectionClosedEventArgs end = await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That((end.ClosedBy, end.Reason), Is.EqualTo((SshInitiator.Local, SshDisconnectReason.KeyExchangeFailed)));
        await server.DisposeAsync();
        await peer.DisposeAsync();
    }

    [Test]
    public async Task ServiceRequest_DuringServerRekey_IsAnsweredAfterTheExchange_WithoutBlockingTheReader()
    {
        (SshTransport client, SshTransport server) = await ConnectAsync(ClientOptions(), ServerOptions());

        // The server's KEXINIT goes out first; the client, not having read it, sends SERVICE_REQUEST and only then
        // its own KEXINIT (as paramiko does when a rekey crosses its authentication).
        long written = server.Packetizer.PacketsWritten;
        Task serverRekey = server.RekeyAsync();
        while (server.Packetizer.PacketsWritten == written)
        {
            await Task.Delay(5);
        }

        Task clientRequest = client.RequestServiceAsync(SshTransportOptions.UserAuthService);
        Task serverReads = Task.Run(async () =>
        {
            while (!(await server.ReadMessageAsync()).IsCompleted)
            {
            }
        });

        await Task.WhenAll(clientRequest, serverRekey).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(client.Service, Is.EqualTo("ssh-userauth"));
        Assert.That(server.KeyExchangeCount, Is.EqualTo(2));
        await client.DisposeAsync();
        await server.DisposeAsync();
        try
        {
            await serverReads;
        }
        catch (Exception e) when (e is SshProtocolException or ObjectDisposedException or InvalidOperationException or IOException)
        {
        }
    }

    [Test]
    public async Task Writes_DuringRekey_WaitAndStayInOrder()
    {
        (SshTransport client, SshTransport server) = await ConnectAsync(ClientOptions(), ServerOptions());
        Task serverLoop = Task.Run(async () =>
        {
            for (int i = 0; i < 400; i++)
            {
                Assert.That(CheckNumbered(await server.ReadMessageAsync()), Is.EqualTo(i));
            }
        });
        Task clientLoop = ReadUntilCancelled(client, CancellationToken.None);
        for (int i = 0; i < 400; i++)
        {
            if (i % 40 == 0)
            {
                _ = client.RekeyAsync();
            }

            await WriteNumberedAsync(client, i, 200);
        }

        await serverLoop.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(client.KeyExchangeCount, Is.GreaterThan(1));
        _ = clientLoop;
    }

    [Test]
    public void Handshake_NoCommonCipher_FailsOnBothSides()
    {
        SshClientOptions clientOptions = ClientOptions();
        SshServerOptions serverOptions = ServerOptions();
        Only(clientOptions.Ciphers, "aes128-ctr");
        Only(serverOptions.Ciphers, "aes256-gcm@openssh.com");
        var ex = Assert.ThrowsAsync<SshAlgorithmNegotiationException>(() => ConnectAsync(clientOptions, serverOptions));
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.KeyExchangeFailed));
        Assert.That(ex.Message, Does.Contain("cipher"));
        Assert.That(ex.Category, Is.EqualTo(SshAlgorithmCategory.Cipher));
        Assert.That(ex.Direction, Is.EqualTo("client-to-server"));
        Assert.That(ex.ClientAlgorithms, Is.EqualTo(new[] { "aes128-ctr" }));
        Assert.That(ex.ServerAlgorithms, Is.EqualTo(new[] { "aes256-gcm@openssh.com" }));
    }

    [Test]
    public async Task Handshake_HostKeyRejected_IsHostKeyNotVerifiable_AndTheServerIsTold()
    {
        var pipes = new PipePair();
        SshClientOptions clientOptions = ClientOptions();
        clientOptions.HostKeyVerifier = (_, _) => ValueTask.FromResult(false);
        Task<SshTransport> accepting = SshTransport.AcceptAsync(pipes.Server, ServerOptions());
        var ex = Assert.ThrowsAsync<SshHostKeyRejectedException>(() => SshTransport.ConnectAsync(pipes.Client, clientOptions));
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.HostKeyNotVerifiable));
        Assert.That(ex.HostKey, Is.EqualTo(Key(SshHostKeyType.Ed25519).PublicKey));
        Assert.That(ex.Fingerprint, Is.EqualTo(ex.HostKey.GetFingerprint()));
        var serverEx = Assert.ThrowsAsync<SshPeerDisconnectedException>(() => accepting);
        Assert.That(serverEx!.Reason, Is.EqualTo(SshDisconnectReason.HostKeyNotVerifiable), $"the server read our DISCONNECT: {serverEx.Message}");
        await Task.CompletedTask;
    }

    [Test]
    public void Service_NotOffered_IsServiceNotAvailable()
    {
        Assert.ThrowsAsync<SshPeerDisconnectedException>(async () =>
        {
            (SshTransport client, SshTransport server) = await ConnectAsync(ClientOptions(), ServerOptions());
            Task<SshPacket> serverRead = server.ReadMessageAsync().AsTask();
            try
            {
                await client.RequestServiceAsync("ssh-connection");
            }
            catch (SshProtocolException e)
            {
                Assert.That(e.Reason, Is.EqualTo(SshDisconnectReason.ServiceNotAvailable));
                var serverEx = Assert.ThrowsAsync<SshProtocolException>(() => serverRead);
                Assert.That(serverEx!.Reason, Is.EqualTo(SshDisconnectReason.ServiceNotAvailable));
                throw;
            }
        });
    }

    [Test]
    public async Task Disconnect_ReachesThePeerWithReason()
    {
        (SshTransport client, SshTransport server) = await ConnectAsync(ClientOptions(), ServerOptions());
        Task<SshPacket> serverRead = server.ReadMessageAsync().AsTask();
        await client.DisconnectAsync(SshDisconnectReason.ByApplication, "bye");
        SshPacket end = await serverRead.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(end.IsCompleted, Is.True, "a DISCONNECT by application is a normal end, not an exception");
        SshConnectionClosedEventArgs closed = await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That((closed.ClosedBy, closed.Reason, closed.Description, closed.Error), Is.EqualTo((SshInitiator.Remote, SshDisconnectReason.ByApplication, "bye", (Exception?)null)));
        SshConnectionClosedEventArgs ours = await client.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That((ours.ClosedBy, ours.Reason, ours.Description), Is.EqualTo((SshInitiator.Local, SshDisconnectReason.ByApplication, "bye")));
        Assert.That((await server.ReadMessageAsync()).IsCompleted, Is.True, "and it stays ended");
    }

    [Test]
    public async Task Write_BeforeHandshake_IsNotPossible_AndUpperLayerMessagesNeedKeys()
    {
        (SshTransport client, SshTransport server) = await ConnectAsync(ClientOptions(), ServerOptions());
        Assert.DoesNotThrowAsync(async () => await client.WriteMessageAsync(new byte[] { 94, 1, 2, 3 }));
        Assert.That((await server.ReadMessageAsync()).MessageNumber, Is.EqualTo(94));
    }
}

public class KnownHostsSessionTests
{
    [Test]
    public async Task ForHost_TrustedKeyConnects_UnknownKeyIsRefused()
    {
        SshPrivateKey key = SessionHarness.Key(SshHostKeyType.Ed25519);
        var knownHosts = KnownHostsVerifier.Parse($"[127.0.0.1]:2222 {key.PublicKey}\n");

        SshClientOptions trusting = SessionHarness.ClientOptions();
        trusting.HostKeyVerifier = knownHosts.ForHost("127.0.0.1", 2222);
        (SshTransport client, SshTransport server) = await SessionHarness.ConnectAsync(trusting, SessionHarness.ServerOptions());
        Assert.That(client.HostKey, Is.EqualTo(key.PublicKey));
        await client.DisposeAsync();
        await server.DisposeAsync();

        SshClientOptions refusing = SessionHarness.ClientOptions();
        refusing.HostKeyVerifier = knownHosts.ForHost("127.0.0.1", 2200);
        var ex = Assert.ThrowsAsync<SshHostKeyRejectedException>(() => SessionHarness.ConnectAsync(refusing, SessionHarness.ServerOptions()));
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.HostKeyNotVerifiable));
        Assert.That(ex.Message, Does.Contain(key.PublicKey.GetFingerprint()));
    }
}
