using System.Buffers;
using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests;

/// <summary>
/// sshd only rekeys, and only switches on zlib@openssh.com, after user authentication: these cases authenticate our
/// client with a public key (an Ed25519 key of ours in the case's AuthorizedKeysFile, for the user running the tests).
/// </summary>
public sealed partial class OpenSshInteropTests
{
    /// <summary>sshd takes no key exchange before authentication: authenticated first, our 64 KiB limit starts them.</summary>
    [TestCaseSource(nameof(Generations))]
    public Task OurClient_vs_OpenSsh_Rekey(PeerGeneration generation) =>
        RekeyScenarios.OurClientFloodAsync(OpenSshPeer.Of(generation), peerInitiated: false, AuthenticateAsync, AuthorizeKey);

    /// <summary>
    /// Before authentication sshd answers our KEXINIT with UNIMPLEMENTED: the transport must fail at once with
    /// KeyExchangeFailed (it used to wait forever).
    /// </summary>
    [TestCaseSource(nameof(Generations))]
    public Task OurClient_vs_OpenSsh_RekeyBeforeAuth(PeerGeneration generation)
    {
        OpenSshPeer peer = OpenSshPeer.Of(generation);
        return Runner.RunAsync(new InteropCase(peer, InteropRole.OurClient, Dimension.Rekey, "before authentication: refused"), async context =>
        {
            peer.RequireAvailable();
            ServerHandle server = await peer.StartServerAsync(context, new AlgorithmChoice());
            SshTransport transport = await SshClientConnector.ConnectAsync("127.0.0.1", server.Port, OurSide.ClientOptions(new AlgorithmChoice(), context.OurLog), TimeSpan.FromSeconds(10), context.Token);
            await using (transport)
            {
                context.Ours = NegotiatedView.From(transport);
                await transport.RequestServiceAsync(SshTransportOptions.UserAuthService, context.Token);
                ClientReadLoop reader = ClientReadLoop.Start(transport, context.Token);
                SshProtocolException? refused = null;
                try
                {
                    await transport.RekeyAsync(context.Token).WaitAsync(TimeSpan.FromSeconds(20), context.Token);
                }
                catch (SshProtocolException e)
                {
                    refused = e;
                }

                context.Check(refused?.Reason == SshDisconnectReason.KeyExchangeFailed, $"expected KeyExchangeFailed, got {refused?.Reason.ToString() ?? "a completed exchange"}");
                context.Note = "sshd answers UNIMPLEMENTED; our client fails with KeyExchangeFailed";
                await reader.StopAsync();
            }

            context.Peer = await server.NegotiatedAsync(TimeSpan.FromSeconds(5));
            Runner.CheckNegotiation(context, peer);
        });
    }

    [TestCaseSource(nameof(Generations))]
    public Task OurClient_vs_OpenSsh_PeerRekey(PeerGeneration generation) =>
        RekeyScenarios.OurClientFloodAsync(OpenSshPeer.Of(generation), peerInitiated: true, AuthenticateAsync, AuthorizeKey);

    /// <summary>
    /// The ssh client takes no key exchange during authentication ("bad message during authentication: type 20"), so
    /// our server accepts the "none" authentication of `ssh -N`, streams IGNORE with its 64 KiB limit, and hangs up.
    /// </summary>
    [TestCaseSource(nameof(Generations))]
    public Task OpenSsh_vs_OurServer_Rekey(PeerGeneration generation)
    {
        OpenSshPeer peer = OpenSshPeer.Of(generation);
        return Runner.RunAsync(new InteropCase(peer, InteropRole.OurServer, Dimension.Rekey, "64 KiB limit, after auth"), async context =>
        {
            peer.RequireAvailable();
            SshServerOptions options = OurSide.ServerOptions(new AlgorithmChoice(), context.OurLog);
            options.Packetizer.RekeyBytes = RekeyScenarios.RekeyBytes;
            int exchanges = 0;
            await using OurServer server = OurServer.Start(options, async (connection, cancel) =>
            {
                SshTransport transport = connection.Transport!;
                int before = transport.KeyExchangeCount;
                await RekeyScenarios.FloodAsync(transport, null, cancel);
                await transport.RekeyAsync(cancel);
                exchanges = transport.KeyExchangeCount - before;
            }, acceptAuthentication: true);
            ClientHandle client = await peer.RunClientAsync(context, server.Port, new AlgorithmChoice(), ["-N"]);
            OurServer.Connection? connection = await server.WaitForFirstConnectionAsync(TimeSpan.FromSeconds(10));
            context.Peer = client.View;
            if (connection?.Transport is null)
            {
                throw new InvalidOperationException("Our server's handshake failed.", connection?.Error);
            }

            context.Ours = NegotiatedView.From(connection.Transport);
            context.Check(connection.Error is null, $"our server: {connection.Error}");
            IReadOnlyList<string> log = client.Process.Lines;
            int received = log.Count(l => l.Contains("SSH2_MSG_KEXINIT received", StringComparison.Ordinal));
            context.Check(log.Any(l => l.Contains("Authenticated to 127.0.0.1", StringComparison.Ordinal)), "ssh did not log 'Authenticated to'");
            context.Check(log.Any(l => l.Contains("interop test done", StringComparison.Ordinal)), "ssh did not log our DISCONNECT");
            context.Check(exchanges > 3, $"only {exchanges} key exchanges during {RekeyScenarios.FloodBytes / 1024} KiB");
            context.Check(received == exchanges + 1, $"ssh logged {received} KEXINITs received, we ran {exchanges} exchanges after the first");
            context.Note = $"{exchanges} key exchanges during {RekeyScenarios.FloodBytes / 1024} KiB of IGNORE sent by our server after auth, started by us";
            Runner.CheckNegotiation(context, peer);
        });
    }

    /// <summary>Delayed compression switched on after USERAUTH_SUCCESS, then compressed traffic both ways.</summary>
    [TestCaseSource(nameof(Generations))]
    public Task OurClient_vs_OpenSsh_DelayedCompressionAfterAuth(PeerGeneration generation)
    {
        OpenSshPeer peer = OpenSshPeer.Of(generation);
        return Runner.RunAsync(new InteropCase(peer, InteropRole.OurClient, Dimension.CompressionAfterAuth, "zlib@openssh.com"), async context =>
        {
            peer.RequireAvailable();
            AuthorizeKey(context);
            var choice = new AlgorithmChoice { Compression = "zlib@openssh.com" };
            ServerHandle server = await peer.StartServerAsync(context, choice);
            SshTransport transport = await SshClientConnector.ConnectAsync("127.0.0.1", server.Port, OurSide.ClientOptions(choice, context.OurLog), TimeSpan.FromSeconds(10), context.Token);
            await using (transport)
            {
                context.Ours = NegotiatedView.From(transport);
                await transport.RequestServiceAsync(SshTransportOptions.UserAuthService, context.Token);
                ClientReadLoop reader = ClientReadLoop.Start(transport, context.Token);
                await AuthenticateAsync(context, transport, reader);
                long written = transport.Packetizer.BytesWritten;
                for (int i = 0; i < 64; i++)
                {
                    await transport.SendIgnoreAsync(new byte[16 * 1024], context.Token);
                }

                long wire = transport.Packetizer.BytesWritten - written;
                context.Check(wire < 64 * 16 * 1024 / 4, $"1 MiB of zeros took {wire} bytes on the wire: not compressed");
                await transport.WriteMessageAsync(0, static (w, _) =>
                {
                    var writer = new SshWriter(w);
                    writer.WriteByte(SshMessageNumber.GlobalRequest);
                    writer.WriteString("keepalive@openssh.com");
                    writer.WriteBoolean(true);
                }, context.Token);
                await reader.ExpectAsync(SshMessageNumber.RequestFailure, context.Token);
                context.Note = $"1 MiB of IGNORE zeros took {wire} bytes on the wire";
                await transport.DisconnectAsync(SshDisconnectReason.ByApplication, "interop test done", context.Token);
                await reader.StopAsync();
            }

            context.Peer = await server.NegotiatedAsync(TimeSpan.FromSeconds(5));
            Runner.CheckNegotiation(context, peer);
        });
    }

    /// <summary>
    /// RFC 4253 §7.1: after sending KEXINIT only transport messages may be sent until NEWKEYS. OpenSSH 10.4+ enforces it,
    /// disconnecting a peer that sends anything else once it has received that peer's KEXINIT ("non-transport message
    /// received from peer during key exchange"); 9.2 let it pass. After authentication: a GLOBAL_REQUEST written right
    /// behind each of our KEXINITs (RekeyAsync started, not awaited), then one written the moment each of sshd's own
    /// KEXINITs (its 64K RekeyLimit) is read. Our transport must hold every one until its NEWKEYS; all are answered.
    /// </summary>
    [TestCaseSource(nameof(Generations))]
    public Task OurClient_vs_OpenSsh_RequestsDuringRekeys(PeerGeneration generation)
    {
        OpenSshPeer peer = OpenSshPeer.Of(generation);
        return Runner.RunAsync(new InteropCase(peer, InteropRole.OurClient, Dimension.Rekey, "requests written during key exchanges"), async context =>
        {
            peer.RequireAvailable();
            AuthorizeKey(context);
            ServerHandle server = await peer.StartServerAsync(context, new AlgorithmChoice { RekeyLimit = RekeyScenarios.PeerLimit(peer) });
            SshTransport transport = await SshClientConnector.ConnectAsync("127.0.0.1", server.Port, OurSide.ClientOptions(new AlgorithmChoice(), context.OurLog), TimeSpan.FromSeconds(10), context.Token);
            await using (transport)
            {
                context.Ours = NegotiatedView.From(transport);
                await transport.RequestServiceAsync(SshTransportOptions.UserAuthService, context.Token);
                ClientReadLoop reader = ClientReadLoop.Start(transport, context.Token);
                await AuthenticateAsync(context, transport, reader);

                // Ours: the request is written while our KEXINIT is out, before the exchange can have ended.
                const int OurExchanges = 4;
                for (int i = 0; i < OurExchanges; i++)
                {
                    Task rekey = transport.RekeyAsync(context.Token);
                    await RekeyScenarios.SendGlobalRequestAsync(transport, context.Token);
                    await rekey;
                    await reader.ExpectAsync(SshMessageNumber.RequestFailure, context.Token);
                }

                // sshd's: the request is written from KeyExchangeStarted, raised as its KEXINIT is read; the flood's
                // round trips (a request every 256 KiB) also collect those answers.
                var writes = new List<Task>();
                int outstanding = 0;
                int theirs = 0;
                int answered = 0;
                void Send()
                {
                    Interlocked.Increment(ref outstanding);
                    lock (writes)
                    {
                        writes.Add(RekeyScenarios.SendGlobalRequestAsync(transport, context.Token).AsTask());
                    }
                }

                async Task DrainAsync()
                {
                    while (Volatile.Read(ref outstanding) > 0)
                    {
                        await reader.ExpectAsync(SshMessageNumber.RequestFailure, context.Token);
                        Interlocked.Decrement(ref outstanding);
                        answered++;
                    }
                }

                void OnStarted(object? sender, SshKeyExchangeEventArgs e)
                {
                    if (e.InitiatedBy == SshInitiator.Remote)
                    {
                        Interlocked.Increment(ref theirs);
                        Send();
                    }
                }

                transport.KeyExchangeStarted += OnStarted;
                await RekeyScenarios.FloodAsync(transport, async () =>
                {
                    Send();
                    await DrainAsync();
                }, context.Token);
                transport.KeyExchangeStarted -= OnStarted;
                Task[] all;
                lock (writes)
                {
                    all = [.. writes];
                }

                await Task.WhenAll(all);
                await DrainAsync();
                context.Check(theirs > 3, $"sshd started only {theirs} key exchanges during {RekeyScenarios.FloodBytes / 1024} KiB");
                context.Check(!server.Process.Lines.Any(l => l.Contains("during key exchange", StringComparison.Ordinal)), "sshd saw a non-transport message during a key exchange");
                context.Note = $"{OurExchanges} exchanges started by us and {theirs} by sshd, a GLOBAL_REQUEST written during each and held to our NEWKEYS; all {OurExchanges + answered} answered";
                await transport.DisconnectAsync(SshDisconnectReason.ByApplication, "interop test done", context.Token);
                await reader.StopAsync();
            }

            context.Peer = await server.NegotiatedAsync(TimeSpan.FromSeconds(5));
            Runner.CheckNegotiation(context, peer);
        });
    }

    private static readonly Lazy<SshPrivateKey> s_userKey = new(() => SshPrivateKey.Generate(SshHostKeyType.Ed25519));

    /// <summary>Puts our user key in the case's authorized_keys (sshd's AuthorizedKeysFile points there).</summary>
    private static void AuthorizeKey(CaseContext context) =>
        File.WriteAllText(Path.Combine(context.TempDirectory, "authorized_keys"), s_userKey.Value.PublicKey + " interop\n");

    /// <summary>RFC 4252 §7: publickey with a signature over the session id and the request; waits for USERAUTH_SUCCESS.</summary>
    private static async Task AuthenticateAsync(CaseContext context, SshTransport transport, ClientReadLoop reader)
    {
        SshPrivateKey key = s_userKey.Value;
        string user = Environment.UserName;
        const string Algorithm = "ssh-ed25519";
        var signed = new ArrayBufferWriter<byte>();
        {
            var writer = new SshWriter(signed);
            writer.WriteString(transport.SessionId.Span);
            WriteRequest(ref writer, user, Algorithm, key.PublicKey.Blob.Span);
        }

        var signature = new ArrayBufferWriter<byte>();
        key.Sign(Algorithm, signed.WrittenSpan, signature);
        await transport.WriteMessageAsync((user, key, signature), static (w, s) =>
        {
            var writer = new SshWriter(w);
            WriteRequest(ref writer, s.user, Algorithm, s.key.PublicKey.Blob.Span);
            writer.WriteString(s.signature.WrittenSpan);
        }, context.Token);
        await reader.ExpectAsync(SshMessageNumber.UserAuthSuccess, context.Token);
    }

    private static void WriteRequest(ref SshWriter writer, string user, string algorithm, ReadOnlySpan<byte> blob)
    {
        writer.WriteByte(SshMessageNumber.UserAuthRequest);
        writer.WriteString(user);
        writer.WriteString("ssh-connection");
        writer.WriteString("publickey");
        writer.WriteBoolean(true);
        writer.WriteString(algorithm);
        writer.WriteString(blob);
    }
}
