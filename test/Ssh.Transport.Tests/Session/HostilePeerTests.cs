using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Ssh.Transport.KeyExchange;
using Ssh.Transport.Tests.Infrastructure;
using static Ssh.Transport.Tests.Session.SessionHarness;

namespace Ssh.Transport.Tests.Session;

/// <summary>
/// A hand-driven server (a bare packetizer) or a man in the middle, against our client: strict kex (Terrapin), bad
/// signatures, invalid public values, malformed and out-of-order key-exchange messages.
/// </summary>
[CancelAfter(60_000)]
public class HostilePeerTests
{
    private static KexInitMessage ServerKexInit(bool strict, params string[] extraKex) =>
        KexInitMessage.Create(
            ["curve25519-sha256", .. extraKex, .. (strict ? new[] { "kex-strict-s-v00@openssh.com" } : [])],
            ["ssh-ed25519"], ["aes128-gcm@openssh.com"], ["hmac-sha2-256"], ["none"]);

    /// <summary>Starts our client against a bare packetizer server that has exchanged identification lines.</summary>
    private static async Task<(Task<SshTransport> Client, SshPacketizer Server)> StartAgainstRawServerAsync()
    {
        var pipes = new PipePair();
        var server = new SshPacketizer(pipes.Server, SshRole.Server);
        Task<SshTransport> client = SshTransport.ConnectAsync(pipes.Client, ClientOptions());
        await server.ExchangeIdentificationAsync();
        return (client, server);
    }

    private static async Task<SshProtocolException> ClientFails(Task<SshTransport> client)
    {
        try
        {
            await client.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (SshProtocolException e)
        {
            return e;
        }

        Assert.Fail("the client accepted the connection");
        throw new InvalidOperationException();
    }

    [Test]
    public async Task StrictKex_IgnoreBeforeKexInit_IsRejected()
    {
        (Task<SshTransport> client, SshPacketizer server) = await StartAgainstRawServerAsync();
        await server.WritePacketAsync(new byte[] { SshMessageNumber.Ignore, 0, 0, 0, 0 });
        await server.WritePacketAsync(ServerKexInit(strict: true).Payload);
        SshProtocolException ex = await ClientFails(client);
        Assert.That(ex.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError));
        Assert.That(ex.Message, Does.Contain("not its first packet"));
    }

    [Test]
    public async Task StrictKex_MessageInsertedDuringFirstExchange_IsRejected()
    {
        (Task<SshTransport> client, SshPacketizer server) = await StartAgainstRawServerAsync();
        await server.WritePacketAsync(ServerKexInit(strict: true).Payload);
        await server.WritePacketAsync(new byte[] { SshMessageNumber.Ignore, 0, 0, 0, 0 });
        SshProtocolException ex = await ClientFails(client);
        Assert.That(ex.Message, Does.Contain("Strict key exchange"));
    }

    [Test]
    public async Task StrictKex_DebugDuringFirstExchange_IsRejected()
    {
        (Task<SshTransport> client, SshPacketizer server) = await StartAgainstRawServerAsync();
        await server.WritePacketAsync(ServerKexInit(strict: true).Payload);
        await server.WritePacketAsync(new byte[] { SshMessageNumber.Debug, 0, 0, 0, 0, 0, 0, 0, 0, 0 });
        SshProtocolException ex = await ClientFails(client);
        Assert.That(ex.Message, Does.Contain("Strict key exchange"));
    }

    [Test]
    public async Task WithoutStrictKex_IgnoreBeforeKexInit_IsTolerated()
    {
        (Task<SshTransport> client, SshPacketizer server) = await StartAgainstRawServerAsync();
        await server.WritePacketAsync(new byte[] { SshMessageNumber.Ignore, 0, 0, 0, 0 });
        await server.WritePacketAsync(ServerKexInit(strict: false).Payload);
        Assert.That((await server.ReadPacketAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.KexInit));
        Assert.That((await server.ReadPacketAsync()).MessageNumber, Is.EqualTo(30), "the client went on to its ECDH_INIT");
        Assert.That(client.IsCompleted, Is.False);
    }

    [Test]
    public async Task KexInit_Truncated_IsProtocolError()
    {
        (Task<SshTransport> client, SshPacketizer server) = await StartAgainstRawServerAsync();
        byte[] kexInit = ServerKexInit(strict: true).Payload;
        await server.WritePacketAsync(kexInit.AsMemory(0, kexInit.Length - 20));
        SshProtocolException ex = await ClientFails(client);
        Assert.That(ex.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError));
        Assert.That(ex.Message, Does.Contain("Truncated"));
    }

    [Test]
    public async Task KexInit_Oversized_IsProtocolError()
    {
        (Task<SshTransport> client, SshPacketizer server) = await StartAgainstRawServerAsync();
        string[] junk = Enumerable.Range(0, 1500).Select(i => $"junk-method-{i}@example.com").ToArray();
        await server.WritePacketAsync(ServerKexInit(strict: true, junk).Payload);
        SshProtocolException ex = await ClientFails(client);
        Assert.That(ex.Message, Does.Contain("exceeds the limit"));
    }

    [Test]
    public async Task NewKeys_OutOfOrder_IsProtocolError()
    {
        (Task<SshTransport> client, SshPacketizer server) = await StartAgainstRawServerAsync();
        await server.WritePacketAsync(ServerKexInit(strict: true).Payload);
        server.SetPendingOutbound(Ssh.Transport.Crypto.NoneProtection.CreateSealer());
        await server.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        SshProtocolException ex = await ClientFails(client);
        Assert.That(ex.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError));
        Assert.That(ex.Message, Does.Contain("NEWKEYS"));
    }

    [Test]
    public async Task UnknownMessageDuringKex_IsProtocolError()
    {
        (Task<SshTransport> client, SshPacketizer server) = await StartAgainstRawServerAsync();
        await server.WritePacketAsync(ServerKexInit(strict: false).Payload);
        await server.WritePacketAsync(new byte[] { 40, 1, 2, 3 });
        SshProtocolException ex = await ClientFails(client);
        Assert.That(ex.Message, Does.Contain("Unexpected key-exchange message 40"));
    }

    [Test]
    public async Task UpperLayerMessageBeforeKeys_IsProtocolError()
    {
        (Task<SshTransport> client, SshPacketizer server) = await StartAgainstRawServerAsync();
        await server.WritePacketAsync(ServerKexInit(strict: false).Payload);
        await server.WritePacketAsync(new byte[] { SshMessageNumber.UserAuthSuccess });
        SshProtocolException ex = await ClientFails(client);
        Assert.That(ex.Message, Does.Contain("before the first key exchange"));
    }

    [Test]
    public async Task KexInit_NoCommonAlgorithm_IsKeyExchangeFailed_AndDisconnectIsSent()
    {
        (Task<SshTransport> client, SshPacketizer server) = await StartAgainstRawServerAsync();
        await server.WritePacketAsync(KexInitMessage.Create(["curve25519-sha256"], ["ssh-ed25519"], ["twofish-cbc"], ["hmac-sha2-256"], ["none"]).Payload);
        SshProtocolException ex = await ClientFails(client);
        Assert.That(ex.Reason, Is.EqualTo(SshDisconnectReason.KeyExchangeFailed));
        Assert.That((await server.ReadPacketAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.KexInit));
        SshPacket disconnect = await server.ReadPacketAsync();
        Assert.That(disconnect.MessageNumber, Is.EqualTo(SshMessageNumber.Disconnect));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(disconnect.Payload.Span[1..]), Is.EqualTo((uint)SshDisconnectReason.KeyExchangeFailed));
    }

    /// <summary>
    /// A relay between our client and our server that lets a hook rewrite, drop or inject the server's packets
    /// while they travel in clear (and, with AES-GCM, still find packet boundaries after NEWKEYS).
    /// </summary>
    private static async Task<(Task<SshTransport> Client, Task<SshTransport> Server)> StartThroughRelayAsync(
        Func<int, byte[], IEnumerable<byte[]>> onServerPacket, SshClientOptions? clientOptions = null)
    {
        var toClient = new PipePair();
        var toServer = new PipePair();
        clientOptions ??= ClientOptions();
        SshServerOptions serverOptions = ServerOptions();
        serverOptions.Ciphers.Clear();
        serverOptions.Ciphers.Add("aes128-gcm@openssh.com");
        Task<SshTransport> server = SshTransport.AcceptAsync(toServer.Server, serverOptions);
        Task<SshTransport> client = SshTransport.ConnectAsync(toClient.Client, clientOptions);
        _ = Pump(toClient.ClientToServer.Reader, toServer.ClientToServer.Writer, null);
        _ = Pump(toServer.ServerToClient.Reader, toClient.ServerToClient.Writer, onServerPacket);
        await Task.Yield();
        return (client, server);
    }

    private static async Task Pump(PipeReader from, PipeWriter to, Func<int, byte[], IEnumerable<byte[]>>? onPacket)
    {
        try
        {
            bool identified = onPacket is null;
            bool encrypted = false;
            int index = 0;
            while (true)
            {
                ReadResult result = await from.ReadAsync();
                ReadOnlySequence<byte> buffer = result.Buffer;
                while (true)
                {
                    if (!identified)
                    {
                        SequencePosition? lf = buffer.PositionOf((byte)'\n');
                        if (lf is null)
                        {
                            break;
                        }

                        SequencePosition next = buffer.GetPosition(1, lf.Value);
                        await to.WriteAsync(buffer.Slice(0, next).ToArray());
                        buffer = buffer.Slice(next);
                        identified = true;
                        continue;
                    }

                    if (onPacket is null)
                    {
                        foreach (ReadOnlyMemory<byte> segment in buffer)
                        {
                            await to.WriteAsync(segment);
                        }

                        buffer = buffer.Slice(buffer.End);
                        break;
                    }

                    if (buffer.Length < 4)
                    {
                        break;
                    }

                    byte[] head = buffer.Slice(0, 4).ToArray();
                    long total = 4 + BinaryPrimitives.ReadUInt32BigEndian(head) + (encrypted ? 16 : 0);
                    if (buffer.Length < total)
                    {
                        break;
                    }

                    byte[] packet = buffer.Slice(0, total).ToArray();
                    buffer = buffer.Slice(total);
                    bool newKeys = !encrypted && packet[5] == SshMessageNumber.NewKeys;
                    foreach (byte[] output in onPacket(index++, packet))
                    {
                        await to.WriteAsync(output);
                    }

                    encrypted |= newKeys;
                }

                from.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    await to.CompleteAsync();
                    return;
                }
            }
        }
        catch (Exception e)
        {
            await to.CompleteAsync(e);
        }
    }

    /// <summary>The packet's payload in clear: after uint32 length and byte padding_length, up to the padding.</summary>
    private static Span<byte> Payload(byte[] packet) => packet.AsSpan(5, (int)BinaryPrimitives.ReadUInt32BigEndian(packet) - 1 - packet[4]);

    [Test]
    public async Task Terrapin_PrefixTruncation_IsDetectedByStrictKex()
    {
        // The attack (CVE-2023-48795): inject an IGNORE before NEWKEYS so the client's sequence number runs one
        // ahead, then drop the server's first encrypted packet (EXT_INFO) so the numbers line up again.
        bool dropped = false;
        (Task<SshTransport> client, Task<SshTransport> server) = await StartThroughRelayAsync((index, packet) =>
        {
            if (packet[5] == SshMessageNumber.KexInit)
            {
                return [packet, Packets.None([SshMessageNumber.Ignore, 0, 0, 0, 0])];
            }

            if (!dropped && index > 0 && packet[5] != SshMessageNumber.NewKeys && packet.Length > 20 && BinaryPrimitives.ReadUInt32BigEndian(packet) % 16 == 0 && packet[5] is not (30 or 31))
            {
                dropped = true;
                return [];
            }

            return [packet];
        });
        SshProtocolException ex = await ClientFails(client);
        Assert.That(ex.Message, Does.Contain("Strict key exchange"));
        _ = server;
    }

    [Test]
    public async Task BadSignature_IsKeyExchangeFailed()
    {
        (Task<SshTransport> client, _) = await StartThroughRelayAsync((_, packet) =>
        {
            if (packet[5] == SshMessageNumber.KexDhReply)
            {
                Payload(packet)[^1] ^= 0x01;
            }

            return [packet];
        });
        SshProtocolException ex = await ClientFails(client);
        Assert.That(ex.Reason, Is.EqualTo(SshDisconnectReason.KeyExchangeFailed));
        Assert.That(ex.Message, Does.Contain("signature"));
    }

    [Test]
    public async Task InvalidServerPublicValue_IsKeyExchangeFailed()
    {
        SshClientOptions options = ClientOptions();
        options.KeyExchangeAlgorithms.Clear();
        options.KeyExchangeAlgorithms.Add("curve25519-sha256");
        (Task<SshTransport> client, _) = await StartThroughRelayAsync((_, packet) =>
        {
            if (packet[5] == SshMessageNumber.KexDhReply)
            {
                // string K_S, then string Q_S: replace Q_S with the all-zero (low-order) point.
                Span<byte> payload = Payload(packet);
                int hostKeyLength = (int)BinaryPrimitives.ReadUInt32BigEndian(payload[1..]);
                payload.Slice(1 + 4 + hostKeyLength + 4, 32).Clear();
            }

            return [packet];
        }, options);
        SshProtocolException ex = await ClientFails(client);
        Assert.That(ex.Reason, Is.EqualTo(SshDisconnectReason.KeyExchangeFailed));
    }

    [Test]
    public async Task HostKeySwappedByAttacker_FailsVerification()
    {
        SshPublicKey other = Key(SshHostKeyType.EcdsaNistP256).PublicKey;
        SshClientOptions options = ClientOptions(trusted: Key(SshHostKeyType.Ed25519).PublicKey);
        (Task<SshTransport> client, _) = await StartThroughRelayAsync((_, packet) => [packet], options);
        SshTransport connected = await client.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(connected.HostKey, Is.Not.EqualTo(other));
        Assert.That(connected.IsStrictKeyExchange, Is.True, "the untouched relay is transparent");
    }
}

public class CorruptionAfterHandshakeTests
{
    [Test]
    public async Task CorruptPacketAfterHandshake_IsMacError_AndTheReaderDisconnects()
    {
        var toClient = new PipePair();
        var toServer = new PipePair();
        Task<SshTransport> accepting = SshTransport.AcceptAsync(toServer.Server, SessionHarness.ServerOptions());
        Task<SshTransport> connecting = SshTransport.ConnectAsync(toClient.Client, SessionHarness.ClientOptions());
        bool corrupt = false;

        async Task Pump(System.IO.Pipelines.PipeReader from, System.IO.Pipelines.PipeWriter to, bool mayCorrupt)
        {
            while (true)
            {
                System.IO.Pipelines.ReadResult result = await from.ReadAsync();
                byte[] bytes = System.Buffers.BuffersExtensions.ToArray(result.Buffer);
                from.AdvanceTo(result.Buffer.End);
                if (mayCorrupt && Volatile.Read(ref corrupt) && bytes.Length > 8)
                {
                    bytes[^3] ^= 0x40;
                    Volatile.Write(ref corrupt, false);
                }

                await to.WriteAsync(bytes);
                if (result.IsCompleted)
                {
                    await to.CompleteAsync();
                    return;
                }
            }
        }

        _ = Pump(toClient.ClientToServer.Reader, toServer.ClientToServer.Writer, mayCorrupt: true);
        _ = Pump(toServer.ServerToClient.Reader, toClient.ServerToClient.Writer, mayCorrupt: false);
        SshTransport client = await connecting;
        SshTransport server = await accepting;

        Volatile.Write(ref corrupt, true);
        await client.WriteMessageAsync(new byte[] { SshMessageNumber.ChannelData, 1, 2, 3, 4, 5, 6, 7, 8 });
        var ex = Assert.ThrowsAsync<SshProtocolException>(async () => await server.ReadMessageAsync());
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.MacError));
        var told = Assert.ThrowsAsync<SshPeerDisconnectedException>(async () => await client.ReadMessageAsync());
        Assert.That(told!.Reason, Is.EqualTo(SshDisconnectReason.MacError), "the server sent DISCONNECT with the reason");
        SshConnectionClosedEventArgs serverEnd = await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That((serverEnd.ClosedBy, serverEnd.Reason, serverEnd.Error), Is.EqualTo((SshInitiator.Local, SshDisconnectReason.MacError, (Exception?)ex)));
        SshConnectionClosedEventArgs clientEnd = await client.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That((clientEnd.ClosedBy, clientEnd.Reason), Is.EqualTo((SshInitiator.Remote, SshDisconnectReason.MacError)));
        Assert.That(clientEnd.Error, Is.SameAs(told));
    }
}
