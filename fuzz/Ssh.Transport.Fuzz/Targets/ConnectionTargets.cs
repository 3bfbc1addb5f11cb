using System.Buffers;
using System.IO.Pipelines;
using Ssh.Transport.Connection;
using Ssh.Transport.Connection.Authentication;

namespace Ssh.Transport.Fuzz.Targets;

/// <summary>
/// The layers above the transport, each through a real server <see cref="SshTransport"/> joined to our client over
/// in-memory pipes: the input's messages are the client's, written by the client transport (so they arrive encrypted
/// and in order, as from any peer). Input: chunks (<see cref="Harness.Chunks"/>); in each, byte 0 is a flag byte and
/// the rest the payload.
/// </summary>
internal static class ConnectionTargets
{
    /// <summary>
    /// Server user authentication (RFC 4252) with none, password, publickey and publickey-hostbound enabled. Flag bit 0
    /// on a publickey request with has-signature TRUE: the harness appends a valid signature by <see cref="FuzzKeys.UserKey"/>
    /// over what RFC 4252 §7 says the request covers, so the fuzzer reaches acceptance too.
    /// </summary>
    public static void UserAuthServer(byte[] input)
    {
        List<byte[]> chunks = Harness.Chunks(input);
        RunPair(async (client, server, inbox) =>
        {
            var options = new SshServerAuthenticationOptions
            {
                PublicKeyValidator = static (_, key, _) => ValueTask.FromResult(key.Equals(FuzzKeys.UserKey.PublicKey) ? new SshAuthorizedKey(key, "fuzz") : null),
                PasswordValidator = static (_, password, _) => ValueTask.FromResult(password == "fuzz"),
                NoneValidator = static (context, _) => ValueTask.FromResult(context.UserName == "none-ok"),
                Banner = "fuzz banner",
                MaxAttempts = 20,
            };
            await client.RequestServiceAsync("ssh-userauth");
            Task<SshAuthenticatedUser> authentication = SshServerAuthentication.AuthenticateAsync(server, options);
            int requests = await SendAsync(client, chunks, static (client, flags, payload) => (flags & 1) != 0 ? SignPublicKeyRequest(client, payload) : payload,
                static payload => payload[0] == SshMessageNumber.UserAuthRequest);

            // Each request gets one answer (FAILURE, SUCCESS, PK_OK) unless it ends the authentication; the client
            // stays until then, so that no answer is lost to a closed connection.
            await Task.WhenAny(authentication, inbox.WaitForAsync(counts => counts[51] + counts[52] + counts[60] >= requests));
            await client.DisposeAsync();
            try
            {
                SshAuthenticatedUser user = await authentication;
                Harness.Trace($"authenticated: {user}");
            }
            catch (SshProtocolException e)
            {
                Harness.Trace($"authentication: {e.GetType().Name}: {e.Message}");
                // SshAuthenticationException, SshTimeoutException and the peer's protocol errors: documented.
            }
        });
    }

    /// <summary>
    /// The connection protocol (RFC 4254) on the server's <see cref="SshConnection"/>: channel opens (session and
    /// direct-tcpip accepted, others refused), channel requests parsed by their type with SessionWire, data drained,
    /// global requests (tcpip-forward parsed), and one channel and one global request of our own for the peer to answer.
    /// </summary>
    public static void Channel(byte[] input)
    {
        List<byte[]> chunks = Harness.Chunks(input);
        RunPair(async (client, server, inbox) =>
        {
            var drains = new List<Task>();
            await using var connection = new SshConnection(server, new SshChannelOptions { WindowSize = 64 * 1024, MaxPacketSize = 16 * 1024, MaxChannels = 8 });
            connection.ChannelOpenHandler = (request, cancellationToken) =>
            {
                switch (request.Type)
                {
                    case SshChannelTypes.Session:
                        break;
                    case SshChannelTypes.DirectTcpIp:
                        _ = SessionWire.ReadTcpIpChannel(request.Data.Span);
                        break;
                    default:
                        request.Reject(SshChannelOpenFailureReason.UnknownChannelType, "no");
                        return ValueTask.CompletedTask;
                }

                SshChannel channel = request.Accept();
                channel.RequestHandler = static (_, r, _) => ValueTask.FromResult(ParseRequest(r));
                drains.Add(DrainAsync(channel.Input));
                drains.Add(DrainAsync(channel.ExtendedInput));
                return ValueTask.CompletedTask;
            };
            connection.GlobalRequestHandler = static (name, data, _) => ValueTask.FromResult<byte[]?>(name switch
            {
                SshGlobalRequestTypes.TcpIpForward => SessionWire.WriteBoundPort(SessionWire.ReadForward(data.Span).Port is 0 ? 2222 : 0),
                SshGlobalRequestTypes.CancelTcpIpForward => SessionWire.ReadForward(data.Span).Port >= 0 ? [] : null,
                _ => null,
            });

            Task run = connection.RunAsync();

            // Our own channel (id 0) and global request, which the peer's messages may confirm, refuse or answer.
            Task<SshChannel> opened = connection.OpenChannelAsync("forwarded-tcpip");
            Task<byte[]?> global = connection.SendGlobalRequestAsync<int>("fuzz@example.com", wantReply: true, 0, null);
            // Then a global request of the client's own with want-reply: once it is answered (global answers come in
            // order), the server has handled every message before it.
            chunks.Add([0, SshMessageNumber.GlobalRequest, 0, 0, 0, 13, .. "end@fuzz.test"u8, 1]);
            int globals = await SendAsync(client, chunks, static (_, _, payload) => payload, WantsGlobalReply);
            await Task.WhenAny(run, inbox.WaitForAsync(counts => counts[81] + counts[82] >= globals));
            await client.DisposeAsync();
            try
            {
                await run;
            }
            catch (Exception e) when (e is SshProtocolException or OperationCanceledException)
            {
                Harness.Trace($"connection: {e.GetType().Name}: {e.Message}");
            }

            // Our own requests: refused, or failed when the connection ended before an answer (InvalidOperationException
            // "The connection ended.", SshConnection's documented end of what is pending).
            foreach (Task task in new Task[] { opened, global })
            {
                try
                {
                    await task;
                }
                catch (Exception e) when (e is SshProtocolException or SshChannelOpenException or OperationCanceledException or InvalidOperationException)
                {
                    Harness.Trace($"ours: {e.GetType().Name}: {e.Message}");
                }
            }

            if (opened.IsCompletedSuccessfully)
            {
                drains.Add(DrainAsync(opened.Result.Input));
            }

            await Task.WhenAll(drains);
        });
    }

    /// <summary>A GLOBAL_REQUEST with want-reply TRUE: string name, boolean want-reply (RFC 4254 §4); only these are answered.</summary>
    private static bool WantsGlobalReply(byte[] payload)
    {
        try
        {
            var reader = new SshReader(payload);
            return reader.ReadByte() == SshMessageNumber.GlobalRequest && reader.ReadString().Length >= 0 && reader.ReadBoolean();
        }
        catch (SshProtocolException)
        {
            return false;
        }
    }

    private static bool ParseRequest(SshChannelRequest request)
    {
        ReadOnlySpan<byte> data = request.Data.Span;
        switch (request.Type)
        {
            case SshChannelRequestTypes.PseudoTerminal:
                _ = SessionWire.ReadPseudoTerminal(data);
                return true;
            case SshChannelRequestTypes.WindowChange:
                _ = SessionWire.ReadWindowChange(data);
                return true;
            case SshChannelRequestTypes.Environment:
                _ = SessionWire.ReadEnvironment(data);
                return true;
            case SshChannelRequestTypes.Exec:
                _ = SessionWire.ReadCommand(data);
                return true;
            case SshChannelRequestTypes.Subsystem:
                _ = SessionWire.ReadName(data, "subsystem name");
                return true;
            case SshChannelRequestTypes.Signal:
                _ = SessionWire.ReadName(data, "signal name");
                return true;
            case SshChannelRequestTypes.ExitStatus:
                _ = SessionWire.ReadExitStatus(data);
                return true;
            case SshChannelRequestTypes.ExitSignal:
                _ = SessionWire.ReadExitSignal(data);
                return true;
            case SshChannelRequestTypes.Shell:
                return true;
            default:
                return false;
        }
    }

    private static async Task DrainAsync(PipeReader reader)
    {
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync();
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is SshProtocolException or OperationCanceledException or InvalidOperationException or IOException)
        {
        }
    }

    /// <summary>Writes each chunk's payload (after <paramref name="transform"/>) as the client's message.</summary>
    /// <returns>How many of the messages sent <paramref name="counted"/> says yes to.</returns>
    private static async Task<int> SendAsync(SshTransport client, List<byte[]> chunks, Func<SshTransport, byte, byte[], byte[]> transform, Func<byte[], bool> counted)
    {
        int count = 0;
        foreach (byte[] chunk in chunks)
        {
            if (chunk.Length < 2)
            {
                continue;
            }

            byte[] payload = transform(client, chunk[0], chunk[1..]);
            try
            {
                await client.WriteMessageAsync(payload);
                count += counted(payload) ? 1 : 0;
            }
            catch (ArgumentException)
            {
                // A transport-layer message number (below 50): the client transport sends those itself only.
            }
            catch (Exception e) when (e is SshProtocolException or InvalidOperationException or ObjectDisposedException)
            {
                // The server has already hung up.
                break;
            }
        }

        return count;
    }

    /// <summary>
    /// A publickey request with has-signature TRUE gets the signature RFC 4252 §7 asks for, by the user key, appended
    /// (any bytes after the fields are replaced). Anything that does not parse as such is sent as it is.
    /// </summary>
    private static byte[] SignPublicKeyRequest(SshTransport client, byte[] payload)
    {
        try
        {
            var reader = new SshReader(payload);
            if (reader.ReadByte() != SshMessageNumber.UserAuthRequest)
            {
                return payload;
            }

            string user = reader.ReadUtf8String();
            string service = reader.ReadUtf8String();
            string method = reader.ReadUtf8String();
            if ((method != SshAuthenticationMethods.PublicKey && method != SshAuthenticationMethods.PublicKeyHostBound) || !reader.ReadBoolean())
            {
                return payload;
            }

            string algorithm = reader.ReadUtf8String();
            ReadOnlySpan<byte> blob = reader.ReadString();
            ReadOnlySpan<byte> hostKey = method == SshAuthenticationMethods.PublicKeyHostBound ? reader.ReadString() : default;
            byte[] signed = UserAuthWire.SignedData(client.SessionId.Span, user, service, method, algorithm, blob, hostKey);
            var output = new ArrayBufferWriter<byte>(payload.Length + 512);
            output.Write(payload.AsSpan(0, reader.Consumed));
            var signature = new ArrayBufferWriter<byte>(512);
            FuzzKeys.UserKey.Sign(FuzzKeys.UserKey.SignatureAlgorithms.Contains(algorithm) ? algorithm : FuzzKeys.UserKey.SignatureAlgorithms[0], signed, signature);
            var writer = new SshWriter(output);
            writer.WriteString(signature.WrittenSpan);
            return output.WrittenSpan.ToArray();
        }
        catch (SshProtocolException)
        {
            return payload;
        }
    }

    /// <summary>A server and a client transport of ours, handshaken over in-memory pipes, then <paramref name="body"/>.</summary>
    private static void RunPair(Func<SshTransport, SshTransport, Inbox, Task> body)
    {
        Pipe toServer = ScriptedPeer.NewPipe(), toClient = ScriptedPeer.NewPipe();
        Task run = RunPairAsync(new DuplexPipe(toServer.Reader, toClient.Writer), new DuplexPipe(toClient.Reader, toServer.Writer), body);
        Harness.WaitOrHang(run, Harness.HangLimit, "the server's connection layer");
        run.GetAwaiter().GetResult();
    }

    private static async Task RunPairAsync(IDuplexPipe serverPipe, IDuplexPipe clientPipe, Func<SshTransport, SshTransport, Inbox, Task> body)
    {
        SshServerOptions serverOptions = TransportTargets.ServerOptions();
        serverOptions.KeyExchangeAlgorithms.Clear();
        serverOptions.KeyExchangeAlgorithms.Add("curve25519-sha256");
        Task<SshTransport> accept = SshTransport.AcceptAsync(serverPipe, serverOptions);
        SshTransport client = await SshTransport.ConnectAsync(clientPipe, TransportTargets.ClientOptions());
        SshTransport server = await accept;
        await using (server)
        await using (client)
        {
            var inbox = new Inbox();
            Task clientReads = inbox.ReadAllAsync(client);
            try
            {
                await body(client, server, inbox);
            }
            catch (Exception e) when (Harness.IsDocumentedProtocolFailure(e))
            {
            }
            catch (Exception e)
            {
                throw new FuzzFindingException($"The server failed with an undocumented error: {e.GetType().Name}: {e.Message}", e);
            }

            await server.DisposeAsync();
            await clientReads;
            SshConnectionClosedEventArgs end = await server.Completion;
            if (end.Error is { } error && !Harness.IsDocumentedProtocolFailure(error))
            {
                throw new FuzzFindingException($"The server's transport failed with an undocumented error: {error.GetType().Name}: {error.Message}", error);
            }
        }
    }

    /// <summary>
    /// The client's reader: reads (and drops) whatever the server sends, so the server never waits for room, and counts
    /// the messages by number for <see cref="WaitForAsync"/>.
    /// </summary>
    private sealed class Inbox
    {
        private readonly int[] _counts = new int[256];
        private readonly Lock _lock = new();
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task ReadAllAsync(SshTransport client)
        {
            try
            {
                while (true)
                {
                    SshPacket message = await client.ReadMessageAsync();
                    if (message.IsCompleted)
                    {
                        break;
                    }

                    Signal(message.MessageNumber);
                }
            }
            catch (Exception e) when (e is SshProtocolException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
            {
            }
            finally
            {
                Signal(null);
            }
        }

        /// <summary>Completes when <paramref name="done"/> holds for the counts, or the client's connection has ended.</summary>
        public async Task WaitForAsync(Func<int[], bool> done)
        {
            while (true)
            {
                Task changed;
                lock (_lock)
                {
                    if (_counts[0] > 0 || done(_counts))
                    {
                        return;
                    }

                    changed = _changed.Task;
                }

                await changed;
            }
        }

        private void Signal(byte? number)
        {
            TaskCompletionSource changed;
            lock (_lock)
            {
                // Count 0 (no message has that number) marks the end of the connection.
                _counts[number ?? 0]++;
                changed = _changed;
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            changed.TrySetResult();
        }
    }
}
