using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Ssh.Transport.Compression;
using Ssh.Transport.Crypto;
using Ssh.Transport.Fuzz.Targets;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport.Fuzz;

/// <summary>
/// Writes the seed corpora the library itself can make: wire bytes recorded from an in-process handshake between our
/// client and server, packets sealed under each suite's fixed keys, every key-exchange method's real values in both
/// roles, keys and signatures, and valid messages of each layer. (Key files, known_hosts and authorized_keys lines
/// come from ssh-keygen and openssl: fuzz/make-file-seeds.sh.)
/// </summary>
internal static class Seeds
{
    public static void WriteAll(string root)
    {
        var seeds = new Dictionary<string, List<(string Name, byte[] Data)>>(StringComparer.Ordinal);
        void Add(string target, string name, byte[] data)
        {
            if (!seeds.TryGetValue(target, out List<(string, byte[])>? list))
            {
                seeds[target] = list = [];
            }

            list.Add((name, data));
        }

        (byte[] clientWire, byte[] serverWire) = RecordHandshake();
        int clientLine = clientWire.AsSpan().IndexOf((byte)'\n') + 1;
        int serverLine = serverWire.AsSpan().IndexOf((byte)'\n') + 1;
        Add("identification", "ours-from-client", [0x00, .. clientWire.AsSpan(0, clientLine)]);
        Add("identification", "ours-from-server", [0x01, .. serverWire.AsSpan(0, serverLine)]);
        Add("identification", "openssh", [0x03, .. "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"u8]);
        Add("identification", "pre-banner", [0x0B, .. "Welcome\r\nbanner line two\nSSH-1.99-Cisco-1.25\n"u8]);
        Add("identification", "bare-lf-with-packet", [0x3E, .. "SSH-2.0-dropbear_2022.83\n"u8, .. clientWire.AsSpan(clientLine, 64)]);

        // The unencrypted part of each recorded flight: packets up to and including NEWKEYS.
        byte[] clientPlain = PlainPackets(clientWire.AsSpan(clientLine), out List<byte[]> clientPayloads);
        byte[] serverPlain = PlainPackets(serverWire.AsSpan(serverLine), out List<byte[]> serverPayloads);
        Add("packet-none", "recorded-client", clientPlain);
        Add("packet-none", "recorded-server", serverPlain);
        Add("packet-none", "newkeys-then-zlib", NoneThenZlib());
        Add("kexinit", "ours-client", clientPayloads[0]);
        Add("kexinit", "ours-server", serverPayloads[0]);
        Add("kexinit", "openssh-9", OpenSshKexInit());

        foreach ((string target, PacketTargets.Suite suite) in new[]
        {
            ("packet-aes-gcm", PacketTargets.Suite.AesGcm), ("packet-chacha20-poly1305", PacketTargets.Suite.ChaChaPoly),
            ("packet-ctr-etm", PacketTargets.Suite.CtrEtm), ("packet-ctr-mte", PacketTargets.Suite.CtrMte), ("packet-cbc-mte", PacketTargets.Suite.CbcMte),
        })
        {
            Add(target, "session", Seal(suite, SessionPayloads()));
            Add(target, "one-ignore", Seal(suite, [[SshMessageNumber.Ignore, 0, 0, 0, 3, 1, 2, 3]]));
            Add(target, "large", Seal(suite, [[SshMessageNumber.Ignore, .. new byte[2000]]]));
        }

        IReadOnlyList<KexAlgorithm> methods = KexAlgorithm.All;
        for (int i = 0; i < methods.Count; i++)
        {
            KexAlgorithm method = methods[i];
            string name = method.Name.Replace('@', '_');
            (byte[] clientValue, byte[] serverValue) = RealValues(method);
            Add("kex-agreement", "client-" + name, [(byte)i, .. AgreementPrefix(method, server: false), .. serverValue]);
            Add("kex-agreement", "server-" + name, [(byte)(i | 0x80), .. AgreementPrefix(method, server: true), .. clientValue]);
            byte flags = (byte)((i % FuzzKeys.HostKeyAlgorithms.Length) | (i % 3 == 0 ? 0x50 : 0) | (i % 5 == 4 ? 0x20 : 0));
            Add("kex-server", name, [(byte)i, flags, .. Harness.JoinChunks(Guessed(flags, ClientKexMessages(method, clientValue)))]);
            Add("kex-client", name, [(byte)i, flags, .. Harness.JoinChunks(Guessed(flags, ServerKexMessages(method, serverValue, flags)))]);
        }

        foreach (SshPrivateKey key in FuzzKeys.HostKeys)
        {
            foreach (string algorithm in key.SignatureAlgorithms)
            {
                var signature = new ArrayBufferWriter<byte>();
                key.Sign(algorithm, HostKeyTarget.SignedData, signature, allowSha1: true);
                byte[] blob = key.PublicKey.Blob.ToArray();
                byte[] length = new byte[2];
                BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)blob.Length);
                Add("host-key", algorithm, [.. length, .. blob, .. signature.WrittenSpan]);
            }
        }

        Add("userauth-server", "every-method", Harness.JoinChunks(UserAuthMessages()));
        Add("userauth-server", "password", Harness.JoinChunks([[0, .. UserAuth("password", w => { w.WriteBoolean(false); w.WriteString("fuzz"); })]]));
        Add("channel", "session", Harness.JoinChunks(ChannelMessages()));
        Add("channel", "answers", Harness.JoinChunks(AnswerMessages()));
        Add("channel", "refused", Harness.JoinChunks([[0, .. Message(SshMessageNumber.ChannelOpenFailure, w => { w.WriteUInt32(0); w.WriteUInt32(2); w.WriteString("connect failed"); w.WriteString(""); })],
            [0, .. Message(SshMessageNumber.RequestFailure, _ => { })]]));
        foreach ((int index, byte[] data) in SessionWireData())
        {
            Add("session-wire", "parser-" + index, [(byte)index, .. data]);
        }

        foreach ((string target, List<(string Name, byte[] Data)> list) in seeds)
        {
            string folder = Path.Combine(root, target);
            Directory.CreateDirectory(folder);
            foreach ((string name, byte[] data) in list)
            {
                File.WriteAllBytes(Path.Combine(folder, name), data);
            }

            Console.WriteLine($"{target}: {list.Count} seeds");
        }
    }

    /// <summary>With first_kex_packet_follows (flag 0x20) the first message is a (wrong) guess, ignored: send it twice.</summary>
    private static List<byte[]> Guessed(byte flags, List<byte[]> messages) => (flags & 0x20) != 0 ? [messages[0], .. messages] : messages;

    /// <summary>Our client and server handshake over in-memory pipes; each direction's bytes are recorded.</summary>
    private static (byte[] ClientToServer, byte[] ServerToClient) RecordHandshake()
    {
        return RecordAsync().GetAwaiter().GetResult();

        static async Task<(byte[], byte[])> RecordAsync()
        {
            Pipe clientOut = ScriptedPeer.NewPipe(), serverIn = ScriptedPeer.NewPipe(), serverOut = ScriptedPeer.NewPipe(), clientIn = ScriptedPeer.NewPipe();
            var c2s = new MemoryStream();
            var s2c = new MemoryStream();
            Task tap1 = TapAsync(clientOut.Reader, serverIn.Writer, c2s);
            Task tap2 = TapAsync(serverOut.Reader, clientIn.Writer, s2c);
            SshServerOptions serverOptions = TransportTargets.ServerOptions();
            serverOptions.KeyExchangeAlgorithms.Clear();
            serverOptions.KeyExchangeAlgorithms.Add("curve25519-sha256");
            Task<SshTransport> accept = SshTransport.AcceptAsync(new DuplexPipe(serverIn.Reader, serverOut.Writer), serverOptions);
            await using SshTransport client = await SshTransport.ConnectAsync(new DuplexPipe(clientIn.Reader, clientOut.Writer), TransportTargets.ClientOptions());
            await using SshTransport server = await accept;
            await client.RequestServiceAsync("ssh-userauth");
            await client.DisconnectAsync();
            await server.Completion;
            await client.DisposeAsync();
            await server.DisposeAsync();
            await Task.WhenAll(tap1, tap2);
            return (c2s.ToArray(), s2c.ToArray());
        }

        static async Task TapAsync(PipeReader from, PipeWriter to, MemoryStream record)
        {
            while (true)
            {
                ReadResult result = await from.ReadAsync();
                foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                {
                    record.Write(segment.Span);
                    await to.WriteAsync(segment);
                }

                from.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }

            await from.CompleteAsync();
            await to.CompleteAsync();
        }
    }

    /// <summary>The "none" packets at the start of a flight, through the first NEWKEYS.</summary>
    private static byte[] PlainPackets(ReadOnlySpan<byte> wire, out List<byte[]> payloads)
    {
        payloads = [];
        int offset = 0;
        while (offset + 5 <= wire.Length)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(wire[offset..]);
            int padding = wire[offset + 4];
            payloads.Add(wire.Slice(offset + 5, length - padding - 1).ToArray());
            offset += 4 + length;
            if (payloads[^1][0] == SshMessageNumber.NewKeys)
            {
                break;
            }
        }

        return wire[..offset].ToArray();
    }

    private static byte[] NoneThenZlib()
    {
        var wire = new ArrayBufferWriter<byte>();
        Harness.WriteNonePacket(wire, [SshMessageNumber.Ignore, 0, 0, 0, 0]);
        Harness.WriteNonePacket(wire, [SshMessageNumber.NewKeys]);
        using var deflate = new ZlibCompressor();
        foreach (byte[] payload in SessionPayloads())
        {
            var compressed = new ArrayBufferWriter<byte>();
            deflate.Compress(payload, compressed);
            Harness.WriteNonePacket(wire, compressed.WrittenSpan);
        }

        return wire.WrittenSpan.ToArray();
    }

    private static List<byte[]> SessionPayloads() =>
    [
        Message(SshMessageNumber.ServiceRequest, w => w.WriteString("ssh-userauth")),
        UserAuth("password", w => { w.WriteBoolean(false); w.WriteString("secret"); }),
        Message(SshMessageNumber.ChannelData, w => { w.WriteUInt32(0); w.WriteString("hello, world\n"); }),
        Message(SshMessageNumber.Ignore, w => w.WriteString(new string('x', 300))),
    ];

    /// <summary>Packets sealed as the peer would: minimal padding per the suite's alignment rule, sequence 0, 1, ...</summary>
    private static byte[] Seal(PacketTargets.Suite suite, List<byte[]> payloads)
    {
        using PacketSealer sealer = suite.CreateSealer();
        var wire = new ArrayBufferWriter<byte>();
        uint sequence = 0;
        foreach (byte[] payload in payloads)
        {
            int block = Math.Max(8, sealer.BlockSize);
            int unpadded = (sealer.AlignmentIncludesLengthField ? 5 : 1) + payload.Length;
            int padding = block - (unpadded % block);
            if (padding < 4)
            {
                padding += block;
            }

            int packetLength = 1 + payload.Length + padding;
            byte[] packet = new byte[4 + packetLength];
            BinaryPrimitives.WriteUInt32BigEndian(packet, (uint)packetLength);
            packet[4] = (byte)padding;
            payload.CopyTo(packet, 5);
            byte[] tag = new byte[sealer.TagSize];
            sealer.Seal(sequence++, packet, tag);
            wire.Write(packet);
            wire.Write(tag);
        }

        return wire.WrittenSpan.ToArray();
    }

    private static byte[] OpenSshKexInit()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(buffer);
        writer.WriteByte(SshMessageNumber.KexInit);
        writer.WriteBytes(Harness.FixedBytes(16));
        writer.WriteNameList(["sntrup761x25519-sha512@openssh.com", "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
            "ecdh-sha2-nistp521", "diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512",
            "diffie-hellman-group14-sha256", "ext-info-c", "kex-strict-c-v00@openssh.com"]);
        writer.WriteNameList(["ssh-ed25519-cert-v01@openssh.com", "ecdsa-sha2-nistp256", "ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"]);
        string[] ciphers = ["chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"];
        string[] macs = ["umac-64-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha1-etm@openssh.com", "hmac-sha2-256"];
        writer.WriteNameList(ciphers);
        writer.WriteNameList(ciphers);
        writer.WriteNameList(macs);
        writer.WriteNameList(macs);
        writer.WriteNameList(["none", "zlib@openssh.com", "zlib"]);
        writer.WriteNameList(["none", "zlib@openssh.com", "zlib"]);
        writer.WriteNameList([]);
        writer.WriteNameList([]);
        writer.WriteBoolean(false);
        writer.WriteUInt32(0);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A real client value and a real server value of <paramref name="method"/> (the server's made against the client's).</summary>
    private static (byte[] Client, byte[] Server) RealValues(KexAlgorithm method)
    {
        if (method.Family == KexFamily.GroupExchange)
        {
            using KexAgreement gexClient = method.CreateClient(DhGroup.Group14);
            using KexAgreement gexServer = method.CreateServer(DhGroup.Group14);
            return (gexClient.LocalPublic.ToArray(), gexServer.LocalPublic.ToArray());
        }

        using KexAgreement client = method.CreateClient();
        using KexAgreement server = method.CreateServer();
        server.ComputeSharedSecret(client.LocalPublic.Span, new ArrayBufferWriter<byte>());
        return (client.LocalPublic.ToArray(), server.LocalPublic.ToArray());
    }

    private static byte[] AgreementPrefix(KexAlgorithm method, bool server)
    {
        if (method.Family != KexFamily.GroupExchange)
        {
            return [];
        }

        var buffer = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(buffer);
        if (server)
        {
            writer.WriteUInt32(2048);
            writer.WriteUInt32(3072);
            writer.WriteUInt32(8192);
        }
        else
        {
            writer.WriteMPInt(DhGroup.Group14.P);
            writer.WriteMPInt(DhGroup.Group14.G);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static List<byte[]> ClientKexMessages(KexAlgorithm method, byte[] clientValue)
    {
        var messages = new List<byte[]>();
        if (method.Family == KexFamily.GroupExchange)
        {
            messages.Add(Message(SshMessageNumber.KexDhGexRequest, w => { w.WriteUInt32(2048); w.WriteUInt32(3072); w.WriteUInt32(8192); }));
            messages.Add(Message(SshMessageNumber.KexDhGexInit, w => w.WriteUnsignedMPInt(clientValue)));
        }
        else
        {
            messages.Add(Message(SshMessageNumber.KexDhInit, w =>
            {
                if (method.Family == KexFamily.Ecdh)
                {
                    w.WriteString(clientValue);
                }
                else
                {
                    w.WriteUnsignedMPInt(clientValue);
                }
            }));
        }

        messages.Add([SshMessageNumber.NewKeys]);
        return messages;
    }

    private static List<byte[]> ServerKexMessages(KexAlgorithm method, byte[] serverValue, byte flags)
    {
        string algorithm = FuzzKeys.HostKeyAlgorithms[(flags & 7) % FuzzKeys.HostKeyAlgorithms.Length];
        SshPrivateKey key = FuzzKeys.HostKeys.First(k => k.SignatureAlgorithms.Contains(algorithm));
        var signature = new ArrayBufferWriter<byte>();
        key.Sign(algorithm, "not the exchange hash"u8, signature, allowSha1: true);
        var messages = new List<byte[]>();
        if (method.Family == KexFamily.GroupExchange)
        {
            messages.Add(Message(SshMessageNumber.KexDhGexGroup, w => { w.WriteMPInt(DhGroup.Group14.P); w.WriteMPInt(DhGroup.Group14.G); }));
        }

        byte reply = method.Family == KexFamily.GroupExchange ? SshMessageNumber.KexDhGexReply : SshMessageNumber.KexDhReply;
        messages.Add(Message(reply, w =>
        {
            w.WriteString(key.PublicKey.Blob.Span);
            if (method.Family == KexFamily.Ecdh)
            {
                w.WriteString(serverValue);
            }
            else
            {
                w.WriteUnsignedMPInt(serverValue);
            }

            w.WriteString(signature.WrittenSpan);
        }));
        messages.Add([SshMessageNumber.NewKeys]);
        return messages;
    }

    private static byte[] Message(byte number, Action<SshWriterBox> write)
    {
        var box = new SshWriterBox();
        box.Byte(number);
        write(box);
        return box.ToArray();
    }

    private static byte[] UserAuth(string method, Action<SshWriterBox> fields) => Message(SshMessageNumber.UserAuthRequest, w =>
    {
        w.WriteString("fuzz");
        w.WriteString("ssh-connection");
        w.WriteString(method);
        fields(w);
    });

    private static List<byte[]> UserAuthMessages()
    {
        byte[] userBlob = FuzzKeys.UserKey.PublicKey.Blob.ToArray();
        byte[] hostBlob = FuzzKeys.HostKeys[0].PublicKey.Blob.ToArray();
        return
        [
            [0, .. UserAuth("none", _ => { })],
            [0, .. UserAuth("password", w => { w.WriteBoolean(false); w.WriteString("wrong"); })],
            [0, .. UserAuth("password", w => { w.WriteBoolean(true); w.WriteString("old"); w.WriteString("new"); })],
            [0, .. UserAuth("keyboard-interactive", w => { w.WriteString(""); w.WriteString(""); })],
            [0, .. UserAuth("publickey", w => { w.WriteBoolean(false); w.WriteString("ssh-ed25519"); w.WriteString(userBlob); })],
            [1, .. UserAuth("publickey-hostbound-v00@openssh.com", w => { w.WriteBoolean(true); w.WriteString("ssh-ed25519"); w.WriteString(userBlob); w.WriteString(hostBlob); })],
            [1, .. UserAuth("publickey", w => { w.WriteBoolean(true); w.WriteString("ssh-ed25519"); w.WriteString(userBlob); })],
        ];
    }

    private static List<byte[]> ChannelMessages()
    {
        byte[] Request(uint channel, string type, Action<SshWriterBox> data) => [0, .. Message(SshMessageNumber.ChannelRequest, w =>
        {
            w.WriteUInt32(channel);
            w.WriteString(type);
            w.WriteBoolean(true);
            data(w);
        })];

        return
        [
            [0, .. Message(SshMessageNumber.ChannelOpen, w => { w.WriteString("session"); w.WriteUInt32(7); w.WriteUInt32(2 * 1024 * 1024); w.WriteUInt32(32768); })],
            Request(1, "pty-req", w => { w.WriteString("xterm-256color"); w.WriteUInt32(80); w.WriteUInt32(24); w.WriteUInt32(0); w.WriteUInt32(0); w.WriteString([53, 0, 0, 0, 1, 0]); }),
            Request(1, "env", w => { w.WriteString("LANG"); w.WriteString("C.UTF-8"); }),
            Request(1, "exec", w => w.WriteString("echo hello")),
            Request(1, "window-change", w => { w.WriteUInt32(120); w.WriteUInt32(40); w.WriteUInt32(0); w.WriteUInt32(0); }),
            Request(1, "signal", w => w.WriteString("INT")),
            [0, .. Message(SshMessageNumber.ChannelData, w => { w.WriteUInt32(1); w.WriteString("some input\n"); })],
            [0, .. Message(SshMessageNumber.ChannelExtendedData, w => { w.WriteUInt32(1); w.WriteUInt32(1); w.WriteString("err\n"); })],
            [0, .. Message(SshMessageNumber.ChannelWindowAdjust, w => { w.WriteUInt32(1); w.WriteUInt32(65536); })],
            [0, .. Message(SshMessageNumber.ChannelEof, w => w.WriteUInt32(1))],
            [0, .. Message(SshMessageNumber.ChannelOpen, w =>
            {
                w.WriteString("direct-tcpip"); w.WriteUInt32(8); w.WriteUInt32(65536); w.WriteUInt32(16384);
                w.WriteString("localhost"); w.WriteUInt32(22); w.WriteString("192.0.2.1"); w.WriteUInt32(40000);
            })],
            [0, .. Message(SshMessageNumber.GlobalRequest, w => { w.WriteString("tcpip-forward"); w.WriteBoolean(true); w.WriteString("0.0.0.0"); w.WriteUInt32(0); })],
            [0, .. Message(SshMessageNumber.ChannelClose, w => w.WriteUInt32(1))],
        ];
    }

    private static List<byte[]> AnswerMessages() =>
    [
        [0, .. Message(SshMessageNumber.ChannelOpenConfirmation, w => { w.WriteUInt32(0); w.WriteUInt32(3); w.WriteUInt32(65536); w.WriteUInt32(32768); })],
        [0, .. Message(SshMessageNumber.RequestSuccess, _ => { })],
        [0, .. Message(SshMessageNumber.ChannelData, w => { w.WriteUInt32(0); w.WriteString("data on our channel"); })],
        [0, .. Message(SshMessageNumber.ChannelRequest, w => { w.WriteUInt32(0); w.WriteString("exit-status"); w.WriteBoolean(false); w.WriteUInt32(3); })],
        [0, .. Message(SshMessageNumber.ChannelRequest, w => { w.WriteUInt32(0); w.WriteString("exit-signal"); w.WriteBoolean(false); w.WriteString("KILL"); w.WriteBoolean(true); w.WriteString("killed"); w.WriteString(""); })],
        [0, .. Message(SshMessageNumber.GlobalRequest, w => { w.WriteString("keepalive@openssh.com"); w.WriteBoolean(true); })],
    ];

    private static IEnumerable<(int, byte[])> SessionWireData()
    {
        byte[] Write(Action<SshWriterBox> write)
        {
            var box = new SshWriterBox();
            write(box);
            return box.ToArray();
        }

        yield return (0, Write(w => { w.WriteString("xterm"); w.WriteUInt32(80); w.WriteUInt32(24); w.WriteUInt32(640); w.WriteUInt32(480); w.WriteString([1, 0, 0, 0, 3, 128, 0, 0, 150, 0, 0]); }));
        yield return (1, Write(w => { w.WriteUInt32(80); w.WriteUInt32(24); w.WriteUInt32(0); w.WriteUInt32(0); }));
        yield return (2, Write(w => { w.WriteString("LANG"); w.WriteString("C"); }));
        yield return (3, Write(w => w.WriteString("ls -l /tmp")));
        yield return (4, Write(w => w.WriteString("sftp")));
        yield return (5, Write(w => w.WriteUInt32(255)));
        yield return (6, Write(w => { w.WriteString("SEGV"); w.WriteBoolean(true); w.WriteString("core dumped"); w.WriteString("en"); }));
        yield return (7, Write(w => { w.WriteString("example.com"); w.WriteUInt32(443); w.WriteString("192.0.2.1"); w.WriteUInt32(50000); }));
        yield return (8, Write(w => { w.WriteString("localhost"); w.WriteUInt32(8080); }));
        yield return (9, Write(w => w.WriteUInt32(2222)));
    }

    /// <summary>An SshWriter over its own buffer that a lambda can hold (SshWriter is a ref struct and writes straight through).</summary>
    private sealed class SshWriterBox
    {
        private readonly ArrayBufferWriter<byte> _buffer = new();

        public void Byte(byte value) => new SshWriter(_buffer).WriteByte(value);

        public void WriteBoolean(bool value) => new SshWriter(_buffer).WriteBoolean(value);

        public void WriteUInt32(uint value) => new SshWriter(_buffer).WriteUInt32(value);

        public void WriteString(string value) => new SshWriter(_buffer).WriteString(value);

        public void WriteString(ReadOnlySpan<byte> value) => new SshWriter(_buffer).WriteString(value);

        public void WriteUnsignedMPInt(ReadOnlySpan<byte> value) => new SshWriter(_buffer).WriteUnsignedMPInt(value);

        public void WriteMPInt(System.Numerics.BigInteger value) => new SshWriter(_buffer).WriteMPInt(value);

        public byte[] ToArray() => _buffer.WrittenSpan.ToArray();
    }
}
