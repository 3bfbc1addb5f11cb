using System.Threading.Channels;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>
/// Rekeying with real peers: several megabytes of SSH_MSG_IGNORE under a 64 KiB rekey limit, so that many key
/// exchanges run while data flows, started by our side or by the peer's.
/// </summary>
internal static class RekeyScenarios
{
    public const int RekeyBytes = 64 * 1024;
    public const int FloodBytes = 2 * 1024 * 1024;
    public const int ChunkBytes = 16 * 1024;

    /// <summary>
    /// How often the flood makes a round trip when the peer starts the exchanges: 8 times in the flood, as the
    /// pre-authentication round trip is a refused "none" request and paramiko disconnects after 10 refusals.
    /// </summary>
    public const int RoundTripBytes = 256 * 1024;

    /// <summary>The limit as sshd's RekeyLimit and the Python scripts' --rekey-bytes read it.</summary>
    public static string PeerLimit(Peer peer) => peer is OpenSshPeer ? "64K" : RekeyBytes.ToString();

    /// <summary>
    /// Our client floods IGNORE. With <paramref name="peerInitiated"/> false our own 64 KiB limit starts the key
    /// exchanges; with true our limit stays at its default and the peer's (<see cref="PeerLimit"/>) starts them.
    /// <paramref name="authenticate"/> runs first when the peer rekeys only after user authentication (sshd).
    /// </summary>
    public static Task OurClientFloodAsync(Peer peer, bool peerInitiated, Func<CaseContext, SshTransport, ClientReadLoop, Task>? authenticate = null,
        Action<CaseContext>? prepare = null)
    {
        var interopCase = new InteropCase(peer, InteropRole.OurClient, peerInitiated ? Dimension.PeerRekey : Dimension.Rekey, "64 KiB limit");
        return Runner.RunAsync(interopCase, async context =>
        {
            peer.RequireAvailable();
            prepare?.Invoke(context);
            AlgorithmChoice peerChoice = peerInitiated ? new AlgorithmChoice { RekeyLimit = PeerLimit(peer) } : new AlgorithmChoice();
            ServerHandle server = await peer.StartServerAsync(context, peerChoice);
            SshClientOptions options = OurSide.ClientOptions(new AlgorithmChoice(), context.OurLog);
            if (!peerInitiated)
            {
                options.Packetizer.RekeyBytes = RekeyBytes;
            }

            SshTransport transport = await SshClientConnector.ConnectAsync("127.0.0.1", server.Port, options, TimeSpan.FromSeconds(10), context.Token);
            await using (transport)
            {
                context.Ours = NegotiatedView.From(transport);
                await transport.RequestServiceAsync(SshTransportOptions.UserAuthService, context.Token);
                ClientReadLoop reader = ClientReadLoop.Start(transport, context.Token);
                if (authenticate is not null)
                {
                    await authenticate(context, transport, reader);
                }

                int before = transport.KeyExchangeCount;
                Func<Task>? roundTrip = !peerInitiated ? null : authenticate is null
                    ? async () =>
                    {
                        await OurSide.SendUserAuthNoneAsync(transport, "interop", context.Token);
                        await reader.ExpectAsync(SshMessageNumber.UserAuthFailure, context.Token);
                    }
                    : async () =>
                    {
                        await SendGlobalRequestAsync(transport, context.Token);
                        await reader.ExpectAsync(SshMessageNumber.RequestFailure, context.Token);
                    };
                await FloodAsync(transport, roundTrip, context.Token);
                await transport.RekeyAsync(context.Token);
                int exchanges = transport.KeyExchangeCount - before;
                context.Check(exchanges > 3, $"only {exchanges} key exchanges during {FloodBytes / 1024} KiB");

                // A last round trip under the newest keys.
                if (authenticate is null)
                {
                    await OurSide.SendUserAuthNoneAsync(transport, "interop", context.Token);
                    await reader.ExpectAsync(SshMessageNumber.UserAuthFailure, context.Token);
                }
                else
                {
                    await SendGlobalRequestAsync(transport, context.Token);
                    await reader.ExpectAsync(SshMessageNumber.RequestFailure, context.Token);
                }

                if (peerInitiated)
                {
                    int ours = context.OurLog.Lines.Count(l => l.Contains("Rekey needed", StringComparison.Ordinal));
                    context.Check(ours == 0, $"our own limit asked for {ours} rekeys: the peer was to start them all");
                }

                context.Note = $"{exchanges} key exchanges (the last one by RekeyAsync) during {FloodBytes / 1024} KiB of IGNORE, started by {(peerInitiated ? "the peer" : "us")}";
                await transport.DisconnectAsync(SshDisconnectReason.ByApplication, "interop test done", context.Token);
                await reader.StopAsync();
            }

            context.Peer = await server.NegotiatedAsync(TimeSpan.FromSeconds(5));
            Runner.CheckNegotiation(context, peer);
        });
    }

    /// <summary>
    /// The peer's client against our server with a 64 KiB rekey limit: when the first authentication request
    /// arrives our server streams IGNORE to the client (starting key exchanges as it writes), then refuses. With
    /// <paramref name="clientFloods"/> the client streams instead (paramiko's --ignore-bytes) and our server starts
    /// the exchanges as it reads.
    /// </summary>
    public static Task OurServerFloodAsync(Peer peer, bool clientFloods = false)
    {
        var interopCase = new InteropCase(peer, InteropRole.OurServer, Dimension.Rekey, clientFloods ? "64 KiB limit, client streams" : "64 KiB limit");
        return Runner.RunAsync(interopCase, async context =>
        {
            peer.RequireAvailable();
            SshServerOptions options = OurSide.ServerOptions(new AlgorithmChoice(), context.OurLog);
            options.Packetizer.RekeyBytes = RekeyBytes;
            int exchanges = 0;
            await using OurServer server = OurServer.Start(options, clientFloods ? null : async (connection, cancel) =>
            {
                SshTransport transport = connection.Transport!;
                int before = transport.KeyExchangeCount;
                await FloodAsync(transport, null, cancel);
                await transport.RekeyAsync(cancel);
                exchanges = transport.KeyExchangeCount - before;
            });
            ClientHandle client = clientFloods && peer is PythonPeer python
                ? await python.RunClientAsync(context, server.Port, new AlgorithmChoice(), ["--ignore-bytes", FloodBytes.ToString()])
                : await peer.RunClientAsync(context, server.Port, new AlgorithmChoice());
            OurServer.Connection? connection = await server.WaitForFirstConnectionAsync(TimeSpan.FromSeconds(10));
            context.Peer = client.View;
            Runner.ExpectRefusedConnection(context, connection, client);
            if (clientFloods)
            {
                exchanges = connection!.Transport!.KeyExchangeCount - 1;
            }

            context.Check(exchanges > 3, $"only {exchanges} key exchanges during {FloodBytes / 1024} KiB");
            context.Note = $"{exchanges} key exchanges during {FloodBytes / 1024} KiB of IGNORE sent by {(clientFloods ? "the client" : "our server")}, started by us";
            Runner.CheckNegotiation(context, peer);
        });
    }

    /// <summary>
    /// Streams <see cref="FloodBytes"/> of IGNORE. IGNORE may be sent during a key exchange (RFC 4253 §7.1), so a
    /// bare loop would push everything out under the first keys while the first exchange is still on its way: the
    /// flood waits for an exchange our limit started (RekeyAsync), and every <see cref="RoundTripBytes"/> makes
    /// <paramref name="roundTrip"/>, whose answer the peer sends only once an exchange it started is over.
    /// </summary>
    public static async Task FloodAsync(SshTransport transport, Func<Task>? roundTrip, CancellationToken cancellationToken)
    {
        byte[] chunk = new byte[ChunkBytes];
        Random.Shared.NextBytes(chunk);
        for (int sent = ChunkBytes; sent <= FloodBytes; sent += ChunkBytes)
        {
            await transport.SendIgnoreAsync(chunk, cancellationToken);
            if (transport.Packetizer.NeedRekey)
            {
                await transport.RekeyAsync(cancellationToken);
            }

            if (roundTrip is not null && sent % RoundTripBytes == 0)
            {
                await roundTrip();
            }
        }
    }

    /// <summary>SSH_MSG_GLOBAL_REQUEST "keepalive@openssh.com", want reply: sshd answers REQUEST_FAILURE.</summary>
    public static ValueTask SendGlobalRequestAsync(SshTransport transport, CancellationToken cancellationToken) =>
        transport.WriteMessageAsync(0, static (w, _) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.GlobalRequest);
            writer.WriteString("keepalive@openssh.com");
            writer.WriteBoolean(true);
        }, cancellationToken);
}

/// <summary>
/// Our client's read loop in the background (a key exchange progresses only as we read): messages of the layers
/// above are queued for the test; USERAUTH_SUCCESS switches on delayed compression before the next read.
/// </summary>
internal sealed class ClientReadLoop
{
    private readonly Channel<byte[]> _messages = Channel.CreateUnbounded<byte[]>();
    private readonly CancellationTokenSource _stop;
    private Task _loop = Task.CompletedTask;

    private ClientReadLoop(CancellationToken cancellationToken)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    public static ClientReadLoop Start(SshTransport transport, CancellationToken cancellationToken)
    {
        var loop = new ClientReadLoop(cancellationToken);
        loop._loop = Task.Run(() => loop.RunAsync(transport), CancellationToken.None);
        return loop;
    }

    private async Task RunAsync(SshTransport transport)
    {
        try
        {
            while (true)
            {
                SshPacket packet = await transport.ReadMessageAsync(_stop.Token);
                if (packet.IsCompleted)
                {
                    break;
                }

                if (packet.MessageNumber == SshMessageNumber.UserAuthSuccess)
                {
                    transport.EnableDelayedCompression();
                }

                await _messages.Writer.WriteAsync(packet.Payload.ToArray(), _stop.Token);
            }

            _messages.Writer.TryComplete();
        }
        catch (Exception e)
        {
            _messages.Writer.TryComplete(e);
        }
    }

    /// <summary>The next message of the layers above, skipping banners and the server's announcements.</summary>
    public async Task<byte[]> NextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            byte[] message = await _messages.Reader.ReadAsync(cancellationToken);
            if (message[0] is not (SshMessageNumber.UserAuthBanner or SshMessageNumber.GlobalRequest))
            {
                return message;
            }
        }
    }

    /// <summary>Reads the next message and throws unless it is <paramref name="number"/>.</summary>
    public async Task<byte[]> ExpectAsync(byte number, CancellationToken cancellationToken)
    {
        byte[] message = await NextAsync(cancellationToken);
        if (message[0] != number)
        {
            throw new InvalidOperationException($"Expected {SshMessageNumber.GetName(number)} ({number}), got {SshMessageNumber.GetName(message[0])} ({message[0]}).");
        }

        return message;
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        finally
        {
            _stop.Dispose();
        }
    }
}
