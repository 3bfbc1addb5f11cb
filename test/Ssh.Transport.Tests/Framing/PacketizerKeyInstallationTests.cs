using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Ssh.Transport.Crypto;
using Ssh.Transport.KeyExchange;
using Ssh.Transport.Tests.Infrastructure;
using Ssh.Transport.Tests.Session;

namespace Ssh.Transport.Tests.Framing;

/// <summary>
/// The packetizer used alone, as paramiko's Packetizer is: keys installed by name through the public API
/// (<see cref="SshPacketizer.SetInboundKeys"/>, <see cref="SshPacketizer.SetOutboundKeys"/>), switched at NEWKEYS.
/// The proof is a bare client — a packetizer plus a key exchange written here — that talks every cipher suite with
/// an <see cref="SshTransport"/> server.
/// </summary>
public class PacketizerKeyInstallationTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private const string Kex = "curve25519-sha256";
    private const string HostKeyAlgorithm = "ssh-ed25519";
    private const int MessagesEachWay = 300;
    private const int MaxPayload = 32 * 1024;

    /// <summary>Every cipher; for a cipher that is not AEAD, with every MAC (plain and -etm).</summary>
    public static IEnumerable<TestCaseData> EverySuite()
    {
        foreach (CipherAlgorithm cipher in CipherAlgorithm.All)
        {
            if (cipher.IsAead)
            {
                yield return new TestCaseData(cipher.Name, null, "none").SetArgDisplayNames(cipher.Name);
                continue;
            }

            foreach (MacAlgorithm mac in MacAlgorithm.All)
            {
                yield return new TestCaseData(cipher.Name, mac.Name, "none").SetArgDisplayNames(cipher.Name, mac.Name);
            }
        }

        // Compression: both methods, with an AEAD suite and with MtE and EtM suites.
        foreach ((string cipher, string? mac, string compression) in new (string, string?, string)[]
        {
            ("chacha20-poly1305@openssh.com", null, "zlib"),
            ("aes128-ctr", "hmac-sha2-256-etm@openssh.com", "zlib"),
            ("aes256-gcm@openssh.com", null, "zlib@openssh.com"),
            ("aes192-cbc", "hmac-sha2-512", "zlib@openssh.com"),
        })
        {
            yield return new TestCaseData(cipher, mac, compression).SetArgDisplayNames(cipher, mac ?? "aead", compression);
        }
    }

    [TestCaseSource(nameof(EverySuite))]
    public async Task BarePacketizer_TalksToTransport_EverySuite(string cipher, string? mac, string compression)
    {
        (SshPacketizer client, SshTransport server) = await ConnectBareClientAsync(cipher, mac, compression, strictKex: true);
        await using (server)
        {
            try
            {
                // The suite and strict kex were checked during the exchange (BareKeyExchangeAsync).
                Assert.That(client.StrictKex, Is.True);
                if (compression == "zlib@openssh.com")
                {
                    // What user authentication does: the server starts compression right after writing
                    // USERAUTH_SUCCESS, the client right after reading it (nothing else is in flight then).
                    await server.WriteMessageAsync(new byte[] { SshMessageNumber.UserAuthSuccess });
                    server.EnableDelayedCompression();
                    SshPacket success = await client.ReadPacketAsync();
                    Assert.That(success.Payload.ToArray(), Is.EqualTo(new byte[] { SshMessageNumber.UserAuthSuccess }));
                    client.EnableDelayedCompression();
                }

                long readBefore = client.PacketsRead;

                long written = client.BytesWritten;
                long read = client.BytesRead;
                long payloadBytes = await ExchangeBothWaysAsync(client, server);

                Assert.That(client.PacketsWritten, Is.EqualTo(3 + MessagesEachWay));
                Assert.That(client.PacketsRead - readBefore, Is.EqualTo(MessagesEachWay));
                if (compression == "none")
                {
                    Assert.That(client.BytesWritten - written, Is.GreaterThan(payloadBytes), "c2s sent as is");
                    Assert.That(client.BytesRead - read, Is.GreaterThan(payloadBytes), "s2c sent as is");
                }
                else
                {
                    // Half of the messages are text: compression shows in the bytes on the wire.
                    Assert.That(client.BytesWritten - written, Is.LessThan(payloadBytes * 8 / 10), "c2s compressed");
                    Assert.That(client.BytesRead - read, Is.LessThan(payloadBytes * 8 / 10), "s2c compressed");
                }
            }
            finally
            {
                await client.DisposeAsync();
            }

            // The bare client hung up between packets: a clean end for the transport.
            SshPacket end = await server.ReadMessageAsync().AsTask().WaitAsync(s_timeout);
            Assert.That(end.IsCompleted, Is.True);
        }
    }

    [Test]
    public async Task BarePacketizer_WithoutStrictKex_SequenceNumbersRunOnThroughNewKeys()
    {
        (SshPacketizer client, SshTransport server) = await ConnectBareClientAsync("aes256-ctr", "hmac-sha2-512-etm@openssh.com", "none", strictKex: false);
        await using (server)
        await using (client)
        {
            Assert.That(client.StrictKex, Is.False);

            // KEXINIT, ECDH_INIT / ECDH_REPLY, NEWKEYS: the next packet each way is number 3.
            Assert.That(client.OutboundSequenceNumber, Is.EqualTo(3));
            Assert.That(client.InboundSequenceNumber, Is.EqualTo(3));
            await client.WritePacketAsync(Payload(0, 100, fromServer: false));
            SshPacket packet = await server.ReadMessageAsync().AsTask().WaitAsync(s_timeout);
            Assert.That(packet.SequenceNumber, Is.EqualTo(3));
            Assert.That(packet.Payload.ToArray(), Is.EqualTo(Payload(0, 100, fromServer: false)));
        }
    }

    [Test]
    public async Task Keys_SwitchExactlyAtNewKeys_BothDirectionsAndARekey()
    {
        var pipes = new PipePair();
        await using var client = new SshPacketizer(pipes.Client, SshRole.Client);
        await using var server = new SshPacketizer(pipes.Server, SshRole.Server);
        client.StrictKex = true;
        server.StrictKex = true;

        // Round 1 switches from none, round 2 from one suite to another: in each, a packet written after the keys
        // are installed but before NEWKEYS must still go under the old keys, or the peer could not open it.
        (string Cipher, string? Mac)[][] rounds =
        [
            [("aes256-gcm@openssh.com", null), ("aes128-ctr", "hmac-sha2-256-etm@openssh.com")],
            [("chacha20-poly1305@openssh.com", "hmac-sha2-256"), ("3des-cbc", "hmac-sha1")],
        ];
        int index = 0;
        foreach ((string Cipher, string? Mac)[] round in rounds)
        {
            (byte[] key, byte[] iv, byte[] macKey) c2s = RandomKeys(round[0].Cipher, round[0].Mac);
            (byte[] key, byte[] iv, byte[] macKey) s2c = RandomKeys(round[1].Cipher, round[1].Mac);
            client.SetOutboundKeys(round[0].Cipher, round[0].Mac, c2s.key, c2s.iv, c2s.macKey);
            server.SetInboundKeys(round[0].Cipher, round[0].Mac, c2s.key, c2s.iv, c2s.macKey);
            server.SetOutboundKeys(round[1].Cipher, round[1].Mac, s2c.key, s2c.iv, s2c.macKey);
            client.SetInboundKeys(round[1].Cipher, round[1].Mac, s2c.key, s2c.iv, s2c.macKey);

            byte[] before = Payload(index++, 300, fromServer: false);
            byte[] after = Payload(index++, 300, fromServer: false);
            uint beforeSequence = (await client.WritePacketAsync(before)).SequenceNumber;
            Assert.That((await server.WritePacketAsync(before)).SequenceNumber, Is.EqualTo(beforeSequence));
            await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
            Assert.That(client.OutboundSequenceNumber, Is.Zero, "strict kex: reset right after our NEWKEYS");
            await client.WritePacketAsync(after);
            await server.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
            await server.WritePacketAsync(after);

            foreach (SshPacketizer reader in new[] { server, client })
            {
                SshPacket packet = await reader.ReadPacketAsync();
                Assert.That(packet.Payload.ToArray(), Is.EqualTo(before), "the packet before NEWKEYS, under the old keys");
                Assert.That(packet.SequenceNumber, Is.EqualTo(beforeSequence));
                packet = await reader.ReadPacketAsync();
                Assert.That(packet.MessageNumber, Is.EqualTo(SshMessageNumber.NewKeys), "NEWKEYS itself, under the old keys");
                Assert.That(reader.InboundSequenceNumber, Is.Zero, "strict kex: reset right after the peer's NEWKEYS");
                packet = await reader.ReadPacketAsync();
                Assert.That(packet.Payload.ToArray(), Is.EqualTo(after), "the packet after NEWKEYS, under the new keys");
                Assert.That(packet.SequenceNumber, Is.Zero);
            }

            Assert.That(client.State.Outbound.Active.Name, Does.StartWith(round[0].Cipher));
            Assert.That(client.State.Inbound.Active.Name, Does.StartWith(round[1].Cipher));
            Assert.That(client.State.Outbound.Pending, Is.Null);
            Assert.That(client.State.Inbound.Pending, Is.Null);
        }
    }

    [Test]
    public async Task Keys_ReplacedBeforeNewKeys_EarlierKeysAreDisposedAndTheLastOnesUsed()
    {
        var pipes = new PipePair();
        await using var client = new SshPacketizer(pipes.Client, SshRole.Client);
        await using var server = new SshPacketizer(pipes.Server, SshRole.Server);
        const string Cipher = "chacha20-poly1305@openssh.com";
        (byte[] key, byte[] iv, byte[] macKey) first = RandomKeys(Cipher, null);
        (byte[] key, byte[] iv, byte[] macKey) second = RandomKeys(Cipher, null);

        client.SetOutboundKeys(Cipher, null, first.key, first.iv, first.macKey);
        server.SetInboundKeys(Cipher, null, first.key, first.iv, first.macKey);
        PacketSealer replacedSealer = client.State.Outbound.Pending!;
        PacketOpener replacedOpener = server.State.Inbound.Pending!;

        client.SetOutboundKeys(Cipher, null, second.key, second.iv, second.macKey);
        server.SetInboundKeys(Cipher, null, second.key, second.iv, second.macKey);
        Assert.That(client.State.Outbound.Pending, Is.Not.SameAs(replacedSealer));
        Assert.That(server.State.Inbound.Pending, Is.Not.SameAs(replacedOpener));
        Assert.Throws<ObjectDisposedException>(() => replacedSealer.Seal(0, new byte[16], new byte[16]), "the replaced sealer's keys are gone");
        Assert.Throws<ObjectDisposedException>(() => replacedOpener.DecryptLength(0, new byte[4]), "the replaced opener's keys are gone");

        // The keys in force are the last ones installed (the first ones would fail the MAC).
        await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        await client.WritePacketAsync(Payload(1, 1000, fromServer: false));
        Assert.That((await server.ReadPacketAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.NewKeys));
        Assert.That((await server.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(Payload(1, 1000, fromServer: false)));
    }

    [TestCase("chacha20-poly1305@openssh.com", null, 64, 0, 0)]
    [TestCase("chacha20-poly1305@openssh.com", "hmac-sha2-512", 64, 0, 0)]
    [TestCase("aes128-gcm@openssh.com", "none", 16, 12, 0)]
    [TestCase("aes256-gcm@openssh.com", null, 32, 12, 0)]
    [TestCase("aes128-ctr", "hmac-sha2-256", 16, 16, 32)]
    [TestCase("aes192-ctr", "hmac-sha2-512-etm@openssh.com", 24, 16, 64)]
    [TestCase("aes256-cbc", "hmac-sha1", 32, 16, 20)]
    [TestCase("3des-cbc", "hmac-sha1-etm@openssh.com", 24, 8, 20)]
    public void GetKeySizes_ReturnsWhatTheSuiteTakes(string cipher, string? mac, int key, int iv, int macKey)
    {
        SshKeySizes sizes = SshPacketizer.GetKeySizes(cipher, mac);
        Assert.That((sizes.KeyLength, sizes.IVLength, sizes.MacKeyLength), Is.EqualTo((key, iv, macKey)));
    }

    [TestCase("aes128-ctr ", "hmac-sha2-256", "cipher", "chacha20-poly1305@openssh.com, aes128-gcm@openssh.com")]
    [TestCase("AES128-CTR", "hmac-sha2-256", "cipher", "aes128-ctr")]
    [TestCase("none", "hmac-sha2-256", "cipher", "3des-cbc")]
    [TestCase("aes128-ctr", "hmac-md5", "mac", "hmac-sha2-256-etm@openssh.com")]
    [TestCase("aes128-gcm@openssh.com", "hmac-md5", "mac", "hmac-sha1")]
    [TestCase("aes128-ctr", null, "mac", "needs a MAC")]
    [TestCase("aes128-ctr", "none", "mac", "needs a MAC")]
    public void UnsupportedNames_ThrowArgumentExceptionListingTheSupportedOnes(string cipher, string? mac, string paramName, string mentioned)
    {
        var pipes = new PipePair();
        var packetizer = new SshPacketizer(pipes.Client, SshRole.Client);
        byte[] key = new byte[16], iv = new byte[16], macKey = new byte[32];
        foreach (Action call in new Action[]
        {
            () => SshPacketizer.GetKeySizes(cipher, mac),
            () => packetizer.SetInboundKeys(cipher, mac, key, iv, macKey),
            () => packetizer.SetOutboundKeys(cipher, mac, key, iv, macKey),
        })
        {
            ArgumentException e = Assert.Throws<ArgumentException>(call)!;
            Assert.That(e.ParamName, Is.EqualTo(paramName));
            Assert.That(e.Message, Does.Contain(mentioned));
        }

        Assert.That(packetizer.State.Inbound.Pending, Is.Null);
        Assert.That(packetizer.State.Outbound.Pending, Is.Null);
    }

    [Test]
    public void UnsupportedCompression_ThrowsListingTheSupportedOnes()
    {
        var packetizer = new SshPacketizer(new PipePair().Client, SshRole.Client);
        (byte[] key, byte[] iv, byte[] macKey) k = RandomKeys("aes128-ctr", "hmac-sha2-256");
        foreach (string compression in new[] { "zlib ", "ZLIB", "gzip", "" })
        {
            ArgumentException e = Assert.Throws<ArgumentException>(() => packetizer.SetOutboundKeys("aes128-ctr", "hmac-sha2-256", k.key, k.iv, k.macKey, compression))!;
            Assert.That(e.ParamName, Is.EqualTo("compression"));
            Assert.That(e.Message, Does.Contain("zlib@openssh.com"));
            Assert.Throws<ArgumentException>(() => packetizer.SetInboundKeys("aes128-ctr", "hmac-sha2-256", k.key, k.iv, k.macKey, compression));
        }

        Assert.Throws<ArgumentNullException>(() => packetizer.SetInboundKeys("aes128-ctr", "hmac-sha2-256", k.key, k.iv, k.macKey, null!));
        Assert.Throws<ArgumentNullException>(() => packetizer.SetOutboundKeys(null!, "hmac-sha2-256", k.key, k.iv, k.macKey));
        Assert.Throws<ArgumentNullException>(() => SshPacketizer.GetKeySizes(null!, null));
    }

    public static IEnumerable<TestCaseData> WrongLengths()
    {
        // (cipher, mac, key, iv, macKey lengths, the parameter at fault)
        yield return new TestCaseData("aes128-ctr", "hmac-sha2-256", 15, 16, 32, "key");
        yield return new TestCaseData("aes128-ctr", "hmac-sha2-256", 32, 16, 32, "key");
        yield return new TestCaseData("aes128-ctr", "hmac-sha2-256", 16, 12, 32, "iv");
        yield return new TestCaseData("aes128-ctr", "hmac-sha2-256", 16, 16, 20, "macKey");
        yield return new TestCaseData("aes128-ctr", "hmac-sha2-256-etm@openssh.com", 16, 16, 64, "macKey");
        yield return new TestCaseData("3des-cbc", "hmac-sha1", 24, 16, 20, "iv");

        // aes128-gcm with a 32-byte key would quietly become aes256-gcm: it must be refused.
        yield return new TestCaseData("aes128-gcm@openssh.com", null, 32, 12, 0, "key");
        yield return new TestCaseData("aes256-gcm@openssh.com", null, 32, 16, 0, "iv");
        yield return new TestCaseData("aes256-gcm@openssh.com", "hmac-sha2-256", 32, 12, 32, "macKey");
        yield return new TestCaseData("chacha20-poly1305@openssh.com", null, 32, 0, 0, "key");
        yield return new TestCaseData("chacha20-poly1305@openssh.com", null, 64, 12, 0, "iv");
        yield return new TestCaseData("chacha20-poly1305@openssh.com", null, 64, 0, 0, null).SetDescription("the right lengths");
    }

    [TestCaseSource(nameof(WrongLengths))]
    public async Task WrongKeyLengths_ThrowAndLeaveThePendingKeysAlone(string cipher, string? mac, int keyLength, int ivLength, int macKeyLength, string? paramName)
    {
        var pipes = new PipePair();
        await using var packetizer = new SshPacketizer(pipes.Client, SshRole.Client);
        (byte[] key, byte[] iv, byte[] macKey) valid = RandomKeys("aes256-ctr", "hmac-sha2-512");
        packetizer.SetInboundKeys("aes256-ctr", "hmac-sha2-512", valid.key, valid.iv, valid.macKey);
        packetizer.SetOutboundKeys("aes256-ctr", "hmac-sha2-512", valid.key, valid.iv, valid.macKey);
        PacketOpener opener = packetizer.State.Inbound.Pending!;
        PacketSealer sealer = packetizer.State.Outbound.Pending!;

        byte[] key = RandomNumberGenerator.GetBytes(keyLength), iv = RandomNumberGenerator.GetBytes(ivLength), macKey = RandomNumberGenerator.GetBytes(macKeyLength);
        if (paramName is null)
        {
            packetizer.SetInboundKeys(cipher, mac, key, iv, macKey);
            packetizer.SetOutboundKeys(cipher, mac, key, iv, macKey);
            Assert.That(packetizer.State.Outbound.Pending!.Name, Is.EqualTo(cipher));
            return;
        }

        ArgumentException e = Assert.Throws<ArgumentException>(() => packetizer.SetInboundKeys(cipher, mac, key, iv, macKey))!;
        Assert.That(e.ParamName, Is.EqualTo(paramName));
        Assert.That(e.Message, Does.Contain($"{macKeyLength}").Or.Contain($"{keyLength}").Or.Contain($"{ivLength}"));
        e = Assert.Throws<ArgumentException>(() => packetizer.SetOutboundKeys(cipher, mac, key, iv, macKey))!;
        Assert.That(e.ParamName, Is.EqualTo(paramName));

        // A refused call changes nothing: the keys prepared before are still pending, and usable.
        Assert.That(packetizer.State.Inbound.Pending, Is.SameAs(opener));
        Assert.That(packetizer.State.Outbound.Pending, Is.SameAs(sealer));
        Assert.DoesNotThrow(() => sealer.Seal(0, new byte[32], new byte[sealer.TagSize]));
    }

    [Test]
    public async Task SetKeys_AfterDispose_ThrowsObjectDisposed()
    {
        var packetizer = new SshPacketizer(new PipePair().Client, SshRole.Client);
        await packetizer.DisposeAsync();
        (byte[] key, byte[] iv, byte[] macKey) k = RandomKeys("aes128-ctr", "hmac-sha2-256");
        Assert.Throws<ObjectDisposedException>(() => packetizer.SetInboundKeys("aes128-ctr", "hmac-sha2-256", k.key, k.iv, k.macKey));
        Assert.Throws<ObjectDisposedException>(() => packetizer.SetOutboundKeys("aes128-ctr", "hmac-sha2-256", k.key, k.iv, k.macKey));
    }

    private static (byte[] Key, byte[] IV, byte[] MacKey) RandomKeys(string cipher, string? mac)
    {
        SshKeySizes sizes = SshPacketizer.GetKeySizes(cipher, mac);
        return (RandomNumberGenerator.GetBytes(sizes.KeyLength), RandomNumberGenerator.GetBytes(sizes.IVLength), RandomNumberGenerator.GetBytes(sizes.MacKeyLength));
    }

    /// <summary>A server that offers every suite, and a bare client (packetizer + the key exchange below) connected to it.</summary>
    internal static async Task<(SshPacketizer Client, SshTransport Server)> ConnectBareClientAsync(string cipher, string? mac, string compression, bool strictKex, Action<SshServerOptions>? configure = null, PipePair? pipes = null)
    {
        SshServerOptions options = SessionHarness.ServerOptions(SshHostKeyType.Ed25519);
        configure?.Invoke(options);
        options.Ciphers.Clear();
        options.Macs.Clear();
        options.CompressionAlgorithms.Clear();
        foreach (CipherAlgorithm c in CipherAlgorithm.All)
        {
            options.Ciphers.Add(c.Name);
        }

        foreach (MacAlgorithm m in MacAlgorithm.All)
        {
            options.Macs.Add(m.Name);
        }

        foreach (string z in new[] { "none", "zlib", "zlib@openssh.com" })
        {
            options.CompressionAlgorithms.Add(z);
        }

        pipes ??= new PipePair();
        Task<SshTransport> accepting = SshTransport.AcceptAsync(pipes.Server, options);
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        try
        {
            Task exchanging = BareKeyExchangeAsync(client, cipher, mac, compression, strictKex, options.HostKeys[0].PublicKey);
            await SessionHarness.WhenBothOrFirstFailure(exchanging, accepting).WaitAsync(s_timeout);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }

        return (client, await accepting);
    }

    /// <summary>
    /// The client side of one curve25519-sha256 key exchange (RFC 8731, RFC 4253 §7-8), framed by the bare
    /// packetizer's public API; the math is the library's. The KEXINIT offers one kex, one host key algorithm and the
    /// suite under test, so the server can only agree to that suite.
    /// </summary>
    private static async Task BareKeyExchangeAsync(SshPacketizer client, string cipher, string? mac, string compression, bool strictKex, SshPublicKey expectedHostKey)
    {
        await client.ExchangeIdentificationAsync();

        string[] kex = strictKex ? [Kex, AlgorithmNegotiation.StrictKexClient] : [Kex];
        KexInitMessage ours = KexInitMessage.Create(kex, [HostKeyAlgorithm], [cipher], [mac ?? "hmac-sha2-256"], [compression]);
        await client.WritePacketAsync(ours.Payload);

        SshPacket packet = await client.ReadPacketAsync();
        Assert.That(packet.MessageNumber, Is.EqualTo(SshMessageNumber.KexInit));
        Assert.That(packet.SequenceNumber, Is.Zero);
        KexInitMessage theirs = KexInitMessage.Parse(packet.Payload.Span, SshNameList.DefaultMaxLength);

        // Strict kex is on when both first KEXINITs carry the marker; from here every NEWKEYS resets the numbers.
        client.StrictKex = strictKex && theirs.KexAlgorithms.Contains(AlgorithmNegotiation.StrictKexServer);
        Assert.That(client.StrictKex, Is.EqualTo(strictKex));
        NegotiatedAlgorithms n = AlgorithmNegotiation.Negotiate(ours, theirs, static name => CipherAlgorithm.Find(name)!.IsAead);
        Assert.That((n.KeyExchange, n.HostKey, n.CipherClientToServer, n.CipherServerToClient), Is.EqualTo((Kex, HostKeyAlgorithm, cipher, cipher)));
        Assert.That((n.CompressionClientToServer, n.CompressionServerToClient), Is.EqualTo((compression, compression)));

        using var agreement = new Curve25519Agreement();
        await client.WritePacketAsync(agreement.LocalPublic, static (w, q) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.KexDhInit);
            writer.WriteString(q.Span);
        });

        packet = await client.ReadPacketAsync();
        Assert.That(packet.MessageNumber, Is.EqualTo(SshMessageNumber.KexDhReply));
        (byte[] hostKeyBlob, byte[] serverPublic, byte[] signature) = ParseReply(packet.Payload.Span);

        var encodedK = new ArrayBufferWriter<byte>(64);
        try
        {
            agreement.ComputeSharedSecret(serverPublic, encodedK);
            byte[] h = ExchangeHash.Compute(
                HashAlgorithmName.SHA256,
                ExchangeHashForm.Strings,
                Encoding.Latin1.GetBytes(client.LocalIdentification),
                Encoding.Latin1.GetBytes(client.RemoteIdentification!),
                ours.Payload,
                theirs.Payload,
                hostKeyBlob,
                agreement.LocalPublic.Span,
                serverPublic,
                encodedK.WrittenSpan);

            SshPublicKey hostKey = SshPublicKey.FromBlob(hostKeyBlob);
            Assert.That(hostKey, Is.EqualTo(expectedHostKey));
            Assert.That(hostKey.VerifySignature(n.HostKey, h, signature), Is.True, "the server's signature of H");

            // The first exchange: session_id = H. Client to server: A, C, E; server to client: B, D, F.
            InstallKeys(client, n, encodedK.WrittenSpan, h, sessionId: h);
        }
        finally
        {
            encodedK.Clear();
        }

        await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        Assert.That(client.OutboundSequenceNumber, Is.EqualTo(strictKex ? 0u : 3u));
        packet = await client.ReadPacketAsync();
        Assert.That(packet.MessageNumber, Is.EqualTo(SshMessageNumber.NewKeys));
        Assert.That(client.InboundSequenceNumber, Is.EqualTo(strictKex ? 0u : 3u));
    }

    internal static (byte[] HostKeyBlob, byte[] ServerPublic, byte[] Signature) ParseReply(ReadOnlySpan<byte> payload)
    {
        var reader = new SshReader(payload[1..]);
        byte[] hostKeyBlob = reader.ReadString().ToArray();
        byte[] serverPublic = reader.ReadString().ToArray();
        byte[] signature = reader.ReadString().ToArray();
        Assert.That(reader.End, Is.True);
        return (hostKeyBlob, serverPublic, signature);
    }

    internal static void InstallKeys(SshPacketizer client, NegotiatedAlgorithms n, ReadOnlySpan<byte> encodedK, byte[] h, byte[] sessionId)
    {
        Install(n.CipherClientToServer, n.MacClientToServer, n.CompressionClientToServer, KeyDerivation.IvClientToServer, KeyDerivation.KeyClientToServer, KeyDerivation.MacClientToServer, outbound: true, client, encodedK, h, sessionId);
        Install(n.CipherServerToClient, n.MacServerToClient, n.CompressionServerToClient, KeyDerivation.IvServerToClient, KeyDerivation.KeyServerToClient, KeyDerivation.MacServerToClient, outbound: false, client, encodedK, h, sessionId);

        static void Install(string cipher, string? mac, string compression, byte ivLetter, byte keyLetter, byte macLetter, bool outbound, SshPacketizer client, ReadOnlySpan<byte> encodedK, byte[] h, byte[] sessionId)
        {
            SshKeySizes sizes = SshPacketizer.GetKeySizes(cipher, mac);
            Span<byte> iv = stackalloc byte[sizes.IVLength];
            Span<byte> key = stackalloc byte[sizes.KeyLength];
            Span<byte> macKey = stackalloc byte[sizes.MacKeyLength];
            try
            {
                KeyDerivation.Derive(HashAlgorithmName.SHA256, encodedK, h, ivLetter, sessionId, iv);
                KeyDerivation.Derive(HashAlgorithmName.SHA256, encodedK, h, keyLetter, sessionId, key);
                KeyDerivation.Derive(HashAlgorithmName.SHA256, encodedK, h, macLetter, sessionId, macKey);
                if (outbound)
                {
                    client.SetOutboundKeys(cipher, mac, key, iv, macKey, compression);
                }
                else
                {
                    client.SetInboundKeys(cipher, mac, key, iv, macKey, compression);
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(iv);
                CryptographicOperations.ZeroMemory(key);
                CryptographicOperations.ZeroMemory(macKey);
            }
        }
    }

    /// <summary>
    /// <see cref="MessagesEachWay"/> messages each way at once, of sizes from 1 byte to 32 KiB, each checked byte for
    /// byte; returns the payload bytes sent in one direction (both carry the same sizes).
    /// </summary>
    private static async Task<long> ExchangeBothWaysAsync(SshPacketizer client, SshTransport server)
    {
        int[] sizes = Sizes();
        Task serverWrites = Task.Run(async () =>
        {
            for (int i = 0; i < sizes.Length; i++)
            {
                await server.WriteMessageAsync(Payload(i, sizes[i], fromServer: true));
            }
        });
        Task clientWrites = Task.Run(async () =>
        {
            for (int i = 0; i < sizes.Length; i++)
            {
                await client.WritePacketAsync(Payload(i, sizes[i], fromServer: false));
            }
        });
        Task serverReads = Task.Run(async () =>
        {
            for (int i = 0; i < sizes.Length; i++)
            {
                SshPacket packet = await server.ReadMessageAsync();
                Check(packet, i, sizes[i], fromServer: false);
            }
        });
        Task clientReads = Task.Run(async () =>
        {
            for (int i = 0; i < sizes.Length; i++)
            {
                SshPacket packet = await client.ReadPacketAsync();
                Check(packet, i, sizes[i], fromServer: true);
            }
        });

        await Task.WhenAll(serverWrites, clientWrites, serverReads, clientReads).WaitAsync(s_timeout);
        return sizes.Sum(s => (long)s);
    }

    private static void Check(SshPacket packet, int index, int size, bool fromServer)
    {
        byte[] expected = Payload(index, size, fromServer);
        ReadOnlySpan<byte> actual = packet.Payload.Span;
        if (!actual.SequenceEqual(expected))
        {
            int at = actual.CommonPrefixLength(expected);
            Assert.Fail($"{(fromServer ? "s2c" : "c2s")} message {index} ({size} bytes) arrived as {actual.Length} bytes, differing at {at}");
        }
    }

    /// <summary>Every size that sits on an alignment boundary (block 8/16, MAC 20/32/64) up to 300, the limits, then a log-uniform spread.</summary>
    private static int[] Sizes()
    {
        var sizes = new List<int>();
        for (int s = 1; s <= 300 && sizes.Count < MessagesEachWay / 2; s += s < 40 ? 1 : 13)
        {
            sizes.Add(s);
        }

        sizes.AddRange([MaxPayload, MaxPayload - 1, 16 * 1024, 4096, 4095, 4097]);
        var random = new Random(20240609);
        while (sizes.Count < MessagesEachWay)
        {
            sizes.Add((int)Math.Round(Math.Exp(random.NextDouble() * Math.Log(MaxPayload))));
        }

        return [.. sizes];
    }

    private static readonly byte[] s_text = Encoding.ASCII.GetBytes("SSH_MSG_CHANNEL_DATA: the quick brown fox jumps over the lazy dog 0123456789. ");

    /// <summary>
    /// Message <paramref name="index"/> of one direction: an upper-layer message number (50-255 but PING and PONG, which
    /// the transport handles itself), then random bytes for even indexes and repeated text (compressible) for odd ones;
    /// the same every time it is asked for.
    /// </summary>
    private static byte[] Payload(int index, int size, bool fromServer)
    {
        byte[] payload = new byte[size];
        if (index % 2 == 0)
        {
            new Random(index * 2 + (fromServer ? 1 : 0)).NextBytes(payload);
        }
        else
        {
            for (int i = 0; i < size; i++)
            {
                payload[i] = s_text[(i + index) % s_text.Length];
            }
        }

        payload[0] = (byte)(50 + ((index + (fromServer ? 7 : 0)) % 206));
        if (payload[0] is SshMessageNumber.Ping or SshMessageNumber.Pong)
        {
            payload[0] += 2;
        }

        return payload;
    }
}
