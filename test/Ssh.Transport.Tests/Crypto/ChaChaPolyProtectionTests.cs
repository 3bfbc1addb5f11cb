using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;
using Ssh.Transport.Crypto;
using Ssh.Transport.Crypto.Primitives;
using BcPoly1305 = Org.BouncyCastle.Crypto.Macs.Poly1305;

namespace Ssh.Transport.Tests.Crypto;

[NonParallelizable]
public class ChaChaPolyProtectionTests
{
    private const string VectorFileName = "chacha20-poly1305-openssh.json";

    private static IEnumerable<TestPath> Paths => ForcedPath.All;

    [Test]
    public void Properties_AreThoseOfOpenSsh()
    {
        byte[] key = new byte[64];
        using PacketSealer sealer = ChaChaPolyProtection.CreateSealer(key);
        using PacketOpener opener = ChaChaPolyProtection.CreateOpener(key);
        foreach (PacketProtection protection in new PacketProtection[] { sealer, opener })
        {
            Assert.That(protection.Name, Is.EqualTo("chacha20-poly1305@openssh.com"));
            Assert.That(protection.BlockSize, Is.EqualTo(8));
            Assert.That(protection.TagSize, Is.EqualTo(16));
            Assert.That(protection.LengthPrefixSize, Is.EqualTo(4));
            Assert.That(protection.AlignmentIncludesLengthField, Is.False);
            Assert.That(protection.IsPassThrough, Is.False);
            Assert.That(protection.MaxBytesPerKey, Is.EqualTo(1L << 30));
        }

        Assert.That(opener.DiscardsOnBadLength, Is.False);
    }

    [Test]
    public void Create_KeyNot64Bytes_Throws()
    {
        Assert.That(() => ChaChaPolyProtection.CreateSealer(new byte[32]), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => ChaChaPolyProtection.CreateOpener(new byte[65]), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    /// <summary>Packets sealed by AsyncSSH (and cross-checked against OpenSSL primitives) by make_chacha_vectors.py.</summary>
    [TestCaseSource(nameof(Paths))]
    public void SealAndOpen_IndependentWireVectors_MatchByteForByte(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        List<WireVector> vectors = LoadWireVectors();
        Assert.That(vectors, Has.Count.GreaterThan(30));
        Assert.That(vectors.Select(v => v.SequenceNumber), Does.Contain(0u).And.Contain(1u).And.Contain(uint.MaxValue));

        foreach (WireVector v in vectors)
        {
            string name = $"seq {v.SequenceNumber}, payload {v.Payload.Length}";
            byte[] plain = v.PlainPacket();
            Assert.That(v.Sealed, Has.Length.EqualTo(plain.Length + 16), name);

            // Our sealer, given the same padding, produces the same bytes.
            byte[] buffer = plain.ToArray();
            byte[] tag = new byte[16];
            using (PacketSealer sealer = ChaChaPolyProtection.CreateSealer(v.Key))
            {
                sealer.Seal(v.SequenceNumber, buffer, tag);
            }

            Assert.That(buffer.Concat(tag).ToArray(), Is.EqualTo(v.Sealed), name);

            // Our opener opens theirs, out of place and in place.
            using PacketOpener opener = ChaChaPolyProtection.CreateOpener(v.Key);
            Assert.That(opener.DecryptLength(v.SequenceNumber, v.Sealed.AsSpan(0, 4)), Is.EqualTo((uint)v.PacketLength), name);
            byte[] destination = new byte[v.PacketLength];
            bool opened = opener.TryOpen(v.SequenceNumber, v.Sealed.AsSpan(0, 4 + v.PacketLength), v.Sealed.AsSpan(4 + v.PacketLength), destination);
            Assert.That(opened, Is.True, name);
            Assert.That(destination, Is.EqualTo(plain.AsSpan(4).ToArray()), name);

            byte[] inPlace = v.Sealed.ToArray();
            Span<byte> packet = inPlace.AsSpan(0, 4 + v.PacketLength);
            Assert.That(opener.TryOpen(v.SequenceNumber, packet, inPlace.AsSpan(4 + v.PacketLength), packet[4..]), Is.True, name);
            Assert.That(packet[4..].ToArray(), Is.EqualTo(destination), name);
        }
    }

    /// <summary>Our sealer and opener against the OpenSSH construction assembled from BouncyCastle's primitives.</summary>
    [TestCaseSource(nameof(Paths))]
    public void SealAndOpen_RandomPackets_MatchBouncyCastleConstruction(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        var random = new Random(4253 + (int)path);
        uint[] sequenceNumbers = [0, 1, 2, 0x7FFFFFFF, uint.MaxValue];
        int index = 0;
        // Bodies around 192 bytes too: the first 192 bytes use keystream computed with the Poly1305 key, the rest is
        // encrypted from block 4 on.
        IEnumerable<int> payloadLengths = Enumerable.Range(170, 40).Concat(TestBytes.InterestingLengths(random, 12).Where(n => n > 0 && n <= 262144 - 64));
        foreach (int payloadLength in payloadLengths)
        {
            byte[] key = TestBytes.Random(random, 64);
            uint sequenceNumber = index < sequenceNumbers.Length ? sequenceNumbers[index] : (uint)random.NextInt64(0, 1L << 32);
            index++;
            byte[] plain = PlainPacket(random, payloadLength);

            byte[] expected = SealWithBouncyCastle(key, sequenceNumber, plain);
            byte[] buffer = plain.ToArray();
            byte[] tag = new byte[16];
            using (PacketSealer sealer = ChaChaPolyProtection.CreateSealer(key))
            {
                sealer.Seal(sequenceNumber, buffer, tag);
            }

            string name = $"seq {sequenceNumber}, payload {payloadLength}";
            TestBytes.AssertEqual(buffer, expected.AsSpan(0, buffer.Length), name);
            TestBytes.AssertEqual(tag, expected.AsSpan(buffer.Length), name);

            using PacketOpener opener = ChaChaPolyProtection.CreateOpener(key);
            Assert.That(opener.DecryptLength(sequenceNumber, expected.AsSpan(0, 4)), Is.EqualTo((uint)(plain.Length - 4)), name);
            byte[] destination = new byte[plain.Length - 4];
            Assert.That(opener.TryOpen(sequenceNumber, expected.AsSpan(0, plain.Length), expected.AsSpan(plain.Length), destination), Is.True, name);
            TestBytes.AssertEqual(destination, plain.AsSpan(4), name);
        }
    }

    /// <summary>
    /// Every single-bit change of the encrypted length, the ciphertext or the tag fails authentication, and nothing is
    /// decrypted then (the destination keeps its old bytes). A changed length also decrypts to a different length.
    /// </summary>
    [TestCaseSource(nameof(Paths))]
    public void TryOpen_AnySingleBitFlipped_ReturnsFalseAndDecryptsNothing(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        var random = new Random(55 + (int)path);
        foreach (int payloadLength in new[] { 11, 300, 1100 })
        {
            byte[] key = TestBytes.Random(random, 64);
            const uint sequenceNumber = 3;
            byte[] plain = PlainPacket(random, payloadLength);
            int packetLength = plain.Length - 4;
            byte[] wire = new byte[plain.Length + 16];
            plain.CopyTo(wire, 0);
            using (PacketSealer sealer = ChaChaPolyProtection.CreateSealer(key))
            {
                sealer.Seal(sequenceNumber, wire.AsSpan(0, plain.Length), wire.AsSpan(plain.Length));
            }

            using PacketOpener opener = ChaChaPolyProtection.CreateOpener(key);
            byte[] destination = new byte[packetLength];
            Assert.That(opener.TryOpen(sequenceNumber, wire.AsSpan(0, plain.Length), wire.AsSpan(plain.Length), destination), Is.True);

            for (int bit = 0; bit < wire.Length * 8; bit++)
            {
                wire[bit / 8] ^= (byte)(0x80 >> (bit % 8));
                destination.AsSpan().Fill(0xCA);
                bool opened = opener.TryOpen(sequenceNumber, wire.AsSpan(0, plain.Length), wire.AsSpan(plain.Length), destination);
                if (opened || destination.AsSpan().IndexOfAnyExcept((byte)0xCA) >= 0)
                {
                    Assert.Fail($"payload {payloadLength}: flipping bit {bit} of {wire.Length * 8} was not detected, or decrypted something.");
                }

                if (bit < 32)
                {
                    uint length = opener.DecryptLength(sequenceNumber, wire.AsSpan(0, 4));
                    Assert.That(length, Is.EqualTo((uint)packetLength ^ (0x80000000u >> bit)), $"length bit {bit}");
                }

                wire[bit / 8] ^= (byte)(0x80 >> (bit % 8));
            }

            // Wrong sequence number, wrong key: also rejected.
            Assert.That(opener.TryOpen(sequenceNumber + 1, wire.AsSpan(0, plain.Length), wire.AsSpan(plain.Length), destination), Is.False);
            key[0] ^= 1;
            using PacketOpener wrongKey = ChaChaPolyProtection.CreateOpener(key);
            Assert.That(wrongKey.TryOpen(sequenceNumber, wire.AsSpan(0, plain.Length), wire.AsSpan(plain.Length), destination), Is.False);
            Assert.That(wrongKey.TryOpen(sequenceNumber, wire.AsSpan(0, plain.Length), wire.AsSpan(plain.Length, 15), destination), Is.False);
        }
    }

    [TestCaseSource(nameof(Paths))]
    public void TryOpen_InPlaceAndOutOfPlace_GiveTheSameResult(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        var random = new Random(77 + (int)path);
        foreach (int payloadLength in new[] { 1, 50, 59, 60, 183, 184, 185, 191, 192, 193, 200, 251, 1019, 2100, 35000 })
        {
            byte[] key = TestBytes.Random(random, 64);
            uint sequenceNumber = (uint)random.NextInt64(0, 1L << 32);
            byte[] plain = PlainPacket(random, payloadLength);
            byte[] wire = new byte[plain.Length + 16];
            plain.CopyTo(wire, 0);
            using (PacketSealer sealer = ChaChaPolyProtection.CreateSealer(key))
            {
                sealer.Seal(sequenceNumber, wire.AsSpan(0, plain.Length), wire.AsSpan(plain.Length));
            }

            using PacketOpener opener = ChaChaPolyProtection.CreateOpener(key);
            byte[] outOfPlace = new byte[plain.Length - 4];
            Assert.That(opener.TryOpen(sequenceNumber, wire.AsSpan(0, plain.Length), wire.AsSpan(plain.Length), outOfPlace), Is.True);

            Span<byte> packet = wire.AsSpan(0, plain.Length);
            Assert.That(opener.TryOpen(sequenceNumber, packet, wire.AsSpan(plain.Length), packet[4..]), Is.True);

            TestBytes.AssertEqual(packet[4..], outOfPlace, $"payload {payloadLength}");
            TestBytes.AssertEqual(outOfPlace, plain.AsSpan(4), $"payload {payloadLength}");
        }
    }

    [Test]
    public void TryOpen_DestinationPartlyOverlappingPacket_Throws()
    {
        var random = new Random(3);
        byte[] key = TestBytes.Random(random, 64);
        byte[] plain = PlainPacket(random, 100);
        byte[] wire = new byte[plain.Length + 16 + 8];
        plain.CopyTo(wire, 0);
        using PacketSealer sealer = ChaChaPolyProtection.CreateSealer(key);
        sealer.Seal(0, wire.AsSpan(0, plain.Length), wire.AsSpan(plain.Length, 16));
        using PacketOpener opener = ChaChaPolyProtection.CreateOpener(key);
        byte[] tag = wire.AsSpan(plain.Length, 16).ToArray();

        Assert.That(() => opener.TryOpen(0, wire.AsSpan(0, plain.Length), tag, wire.AsSpan(5, plain.Length - 4)), Throws.ArgumentException);
    }

    [Test]
    public void SealAndOpen_SteadyState_AllocateNothing()
    {
        var random = new Random(11);
        byte[] key = TestBytes.Random(random, 64);
        byte[] plain = PlainPacket(random, 1000);
        byte[] wire = new byte[plain.Length + 16];
        byte[] destination = new byte[plain.Length - 4];
        using PacketSealer sealer = ChaChaPolyProtection.CreateSealer(key);
        using PacketOpener opener = ChaChaPolyProtection.CreateOpener(key);

        // The least of three measurements: a one-time cost on this thread (the JIT replacing a loop's code on the
        // stack while it runs) can land in any one of them, but a per-packet allocation would be in all three.
        int failures = RoundTrips(100);
        long allocated = long.MaxValue;
        for (int attempt = 0; attempt < 3 && allocated > 0; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            failures += RoundTrips(1000);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.That(failures, Is.Zero);
        Assert.That(allocated, Is.Zero);

        int RoundTrips(int count)
        {
            int failed = 0;
            for (uint i = 0; i < count; i++)
            {
                plain.CopyTo(wire, 0);
                sealer.Seal(i, wire.AsSpan(0, plain.Length), wire.AsSpan(plain.Length));
                uint length = opener.DecryptLength(i, wire.AsSpan(0, 4));
                if (length != plain.Length - 4 || !opener.TryOpen(i, wire.AsSpan(0, plain.Length), wire.AsSpan(plain.Length), destination))
                {
                    failed++;
                }
            }

            return failed;
        }
    }

    [Test]
    public void Dispose_ZeroesKeysAndRefusesFurtherUse()
    {
        byte[] key = TestBytes.Random(new Random(1), 64);
        PacketSealer sealer = ChaChaPolyProtection.CreateSealer(key);
        PacketOpener opener = ChaChaPolyProtection.CreateOpener(key);
        byte[] sealerKey = KeyBytes(sealer);
        byte[] openerKey = KeyBytes(opener);
        Assert.That(sealerKey, Is.EqualTo(key));
        Assert.That(openerKey, Is.EqualTo(key));

        sealer.Dispose();
        opener.Dispose();

        Assert.That(sealerKey, Is.All.Zero);
        Assert.That(openerKey, Is.All.Zero);
        Assert.That(() => sealer.Seal(0, new byte[16], new byte[16]), Throws.TypeOf<ObjectDisposedException>());
        Assert.That(() => opener.DecryptLength(0, new byte[4]), Throws.TypeOf<ObjectDisposedException>());
        Assert.That(() => opener.TryOpen(0, new byte[16], new byte[16], new byte[12]), Throws.TypeOf<ObjectDisposedException>());

        static byte[] KeyBytes(PacketProtection protection)
        {
            object keys = protection.GetType().GetField("_keys", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(protection)!;
            return (byte[])keys.GetType().GetField("_key", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(keys)!;
        }
    }

    /// <summary>
    /// Two packetizers over pipes: a KEXINIT in clear, NEWKEYS, then packets of many sizes under
    /// chacha20-poly1305@openssh.com in both directions. Payloads arrive intact; sequence numbers advance once per packet.
    /// </summary>
    [Test]
    public async Task Packetizer_RoundTripAfterNewKeys_DeliversPayloadsAndCountsSequenceNumbers()
    {
        await using var link = await Link.CreateAsync();
        var random = new Random(21);

        // One packet under "none" first, so that the encrypted ones do not start at sequence number 0.
        await link.Client.WritePacketAsync(new byte[] { SshMessageNumber.KexInit, 1, 2, 3 });
        await link.RelayAsync();
        SshPacket kexInit = await link.Server.ReadPacketAsync();
        Assert.That(kexInit.MessageNumber, Is.EqualTo(SshMessageNumber.KexInit));
        Assert.That(kexInit.SequenceNumber, Is.Zero);

        byte[] clientToServerKey = TestBytes.Random(random, 64);
        byte[] serverToClientKey = TestBytes.Random(random, 64);
        link.Client.SetPendingOutbound(ChaChaPolyProtection.CreateSealer(clientToServerKey));
        link.Server.SetPendingInbound(ChaChaPolyProtection.CreateOpener(clientToServerKey));
        link.Server.SetPendingOutbound(ChaChaPolyProtection.CreateSealer(serverToClientKey));
        link.Client.SetPendingInbound(ChaChaPolyProtection.CreateOpener(serverToClientKey));

        await link.Client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        await link.RelayAsync();
        SshPacket newKeys = await link.Server.ReadPacketAsync();
        Assert.That(newKeys.MessageNumber, Is.EqualTo(SshMessageNumber.NewKeys));
        Assert.That(newKeys.SequenceNumber, Is.EqualTo(1u));
        Assert.That(link.Server.State.Inbound.Active.Name, Is.EqualTo("chacha20-poly1305@openssh.com"));
        Assert.That(link.Client.State.Outbound.Active.Name, Is.EqualTo("chacha20-poly1305@openssh.com"));

        int[] sizes = [1, 2, 7, 8, 11, 59, 63, 64, 65, 255, 256, 511, 1000, 1024, 4096, 32768, 35000, link.Client.MaxPayloadLength];
        uint expected = 2;
        foreach (int size in sizes)
        {
            byte[] payload = TestBytes.Random(random, size);
            payload[0] = SshMessageNumber.ChannelData;
            SshWriteResult written = await link.Client.WritePacketAsync(payload);
            Assert.That(written.SequenceNumber, Is.EqualTo(expected));
            Assert.That(link.Client.OutboundSequenceNumber, Is.EqualTo(expected + 1));

            byte[] onWire = await link.RelayAsync();
            int packetLength = 1 + size + PaddingLength(size);
            Assert.That(onWire, Has.Length.EqualTo(4 + packetLength + 16), $"size {size}");
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(onWire), Is.Not.EqualTo((uint)packetLength), "the length is encrypted");

            SshPacket packet = await link.Server.ReadPacketAsync();
            Assert.That(packet.SequenceNumber, Is.EqualTo(expected), $"size {size}");
            TestBytes.AssertEqual(packet.Payload.Span, payload, $"size {size}");
            Assert.That(link.Server.InboundSequenceNumber, Is.EqualTo(expected + 1));
            expected++;
        }

        // The other direction: the server's NEWKEYS, then data back.
        await link.Server.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        Assert.That((await link.Client.ReadPacketAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.NewKeys));
        uint back = link.Client.InboundSequenceNumber;
        foreach (int size in sizes)
        {
            byte[] payload = TestBytes.Random(random, size);
            payload[0] = SshMessageNumber.ChannelData;
            await link.Server.WritePacketAsync(payload);
            SshPacket packet = await link.Client.ReadPacketAsync();
            Assert.That(packet.SequenceNumber, Is.EqualTo(back));
            TestBytes.AssertEqual(packet.Payload.Span, payload, $"size {size}");
            back++;
        }
    }

    private static IEnumerable<TestCaseData> TamperCases()
    {
        for (int bit = 0; bit < 32; bit++)
        {
            yield return new TestCaseData(bit).SetArgDisplayNames($"length bit {bit}");
        }

        // Payload 100 bytes: packet_length 112 (11 bytes of padding), ciphertext bits 32..927, tag bits 928..1055.
        foreach (int bit in new[] { 32, 39, 40, 47, 200, 511, 512, 927, 928, 935, 1000, 1055 })
        {
            yield return new TestCaseData(bit).SetArgDisplayNames($"wire bit {bit}");
        }
    }

    /// <summary>A bit flipped in transit never yields a packet: the reader fails (MAC error, bad length, or a truncated packet).</summary>
    [TestCaseSource(nameof(TamperCases))]
    public async Task Packetizer_BitFlippedInTransit_ReadFails(int bit)
    {
        await using var link = await Link.CreateAsync();
        byte[] key = TestBytes.Random(new Random(bit), 64);
        link.Client.SetPendingOutbound(ChaChaPolyProtection.CreateSealer(key));
        link.Server.SetPendingInbound(ChaChaPolyProtection.CreateOpener(key));
        await link.Client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        await link.RelayAsync();
        Assert.That((await link.Server.ReadPacketAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.NewKeys));

        byte[] payload = new byte[100];
        payload[0] = SshMessageNumber.Ignore;
        await link.Client.WritePacketAsync(payload);
        byte[] onWire = await link.RelayAsync(wire => wire[bit / 8] ^= (byte)(0x80 >> (bit % 8)));
        Assert.That(onWire, Has.Length.EqualTo(4 + 112 + 16));
        await link.CompleteRelayAsync();

        var thrown = Assert.ThrowsAsync<SshProtocolException>(async () => await link.Server.ReadPacketAsync());
        if (bit >= 32)
        {
            Assert.That(thrown!.Reason, Is.EqualTo(SshDisconnectReason.MacError));
        }
    }

    private static int PaddingLength(int payloadLength)
    {
        int padding = 8 - ((1 + payloadLength) % 8);
        return padding < 4 ? padding + 8 : padding;
    }

    /// <summary>uint32 packet_length || padding_length || payload || random padding, aligned as for an AEAD.</summary>
    private static byte[] PlainPacket(Random random, int payloadLength)
    {
        int padding = PaddingLength(payloadLength) + (8 * random.Next(0, 3));
        int packetLength = 1 + payloadLength + padding;
        byte[] packet = TestBytes.Random(random, 4 + packetLength);
        BinaryPrimitives.WriteUInt32BigEndian(packet, (uint)packetLength);
        packet[4] = (byte)padding;
        return packet;
    }

    /// <summary>PROTOCOL.chacha20poly1305 from BouncyCastle's ChaChaEngine (8-byte IV) and Poly1305.</summary>
    private static byte[] SealWithBouncyCastle(byte[] key, uint sequenceNumber, byte[] plain)
    {
        byte[] iv = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(iv, sequenceNumber);
        byte[] output = new byte[plain.Length + 16];

        var lengthCipher = new ChaChaEngine(20);
        lengthCipher.Init(true, new ParametersWithIV(new KeyParameter(key, 32, 32), iv));
        lengthCipher.ProcessBytes(plain, 0, 4, output, 0);

        var mainCipher = new ChaChaEngine(20);
        mainCipher.Init(true, new ParametersWithIV(new KeyParameter(key, 0, 32), iv));
        byte[] block0 = new byte[64];
        mainCipher.ProcessBytes(block0, 0, 64, block0, 0);
        mainCipher.ProcessBytes(plain, 4, plain.Length - 4, output, 4);

        var mac = new BcPoly1305();
        mac.Init(new KeyParameter(block0, 0, 32));
        mac.BlockUpdate(output, 0, plain.Length);
        mac.DoFinal(output, plain.Length);
        return output;
    }

    private static List<WireVector> LoadWireVectors([CallerFilePath] string sourceFile = "")
    {
        string? path = null;
        for (string? dir = AppContext.BaseDirectory; dir is not null && path is null; dir = Path.GetDirectoryName(dir))
        {
            string candidate = Path.Combine(dir, "TestData", VectorFileName);
            path = File.Exists(candidate) ? candidate : null;
        }

        path ??= Path.Combine(Path.GetDirectoryName(sourceFile)!, "..", "TestData", VectorFileName);
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(path));
        Assert.That(document.RootElement.GetProperty("algorithm").GetString(), Is.EqualTo("chacha20-poly1305@openssh.com"));
        var vectors = new List<WireVector>();
        foreach (JsonElement e in document.RootElement.GetProperty("vectors").EnumerateArray())
        {
            vectors.Add(new WireVector(
                Convert.FromHexString(e.GetProperty("key").GetString()!),
                e.GetProperty("sequenceNumber").GetUInt32(),
                e.GetProperty("packetLength").GetInt32(),
                e.GetProperty("paddingLength").GetInt32(),
                Convert.FromHexString(e.GetProperty("payload").GetString()!),
                Convert.FromHexString(e.GetProperty("padding").GetString()!),
                Convert.FromHexString(e.GetProperty("sealed").GetString()!)));
        }

        return vectors;
    }

    private sealed record WireVector(byte[] Key, uint SequenceNumber, int PacketLength, int PaddingLength, byte[] Payload, byte[] Padding, byte[] Sealed)
    {
        public byte[] PlainPacket()
        {
            Assert.That(PacketLength, Is.EqualTo(1 + Payload.Length + Padding.Length));
            Assert.That(PaddingLength, Is.EqualTo(Padding.Length));
            byte[] packet = new byte[4 + PacketLength];
            BinaryPrimitives.WriteUInt32BigEndian(packet, (uint)PacketLength);
            packet[4] = (byte)PaddingLength;
            Payload.CopyTo(packet, 5);
            Padding.CopyTo(packet, 5 + Payload.Length);
            return packet;
        }
    }

    /// <summary>
    /// A client and a server packetizer. Client to server goes through a relay the test drives (to see and alter the
    /// wire bytes); server to client is a direct pipe.
    /// </summary>
    private sealed class Link : IAsyncDisposable
    {
        private static readonly PipeOptions s_unbounded = new(pauseWriterThreshold: 0);
        private readonly Pipe _clientToRelay = new(s_unbounded);
        private readonly Pipe _relayToServer = new(s_unbounded);
        private readonly Pipe _serverToClient = new(s_unbounded);

        private Link()
        {
            Client = new SshPacketizer(new DuplexPipe(_serverToClient.Reader, _clientToRelay.Writer), SshRole.Client);
            Server = new SshPacketizer(new DuplexPipe(_relayToServer.Reader, _serverToClient.Writer), SshRole.Server);
        }

        public SshPacketizer Client { get; }

        public SshPacketizer Server { get; }

        public static async Task<Link> CreateAsync()
        {
            var link = new Link();
            Task client = link.Client.ExchangeIdentificationAsync().AsTask();
            Task server = link.Server.ExchangeIdentificationAsync().AsTask();
            await link.RelayAsync();
            await Task.WhenAll(client, server);
            return link;
        }

        /// <summary>Moves what the client has written to the server, optionally altered; returns the bytes moved.</summary>
        public async Task<byte[]> RelayAsync(Action<byte[]>? tamper = null)
        {
            ReadResult result = await _clientToRelay.Reader.ReadAsync();
            byte[] bytes = result.Buffer.ToArray();
            _clientToRelay.Reader.AdvanceTo(result.Buffer.End);
            tamper?.Invoke(bytes);
            await _relayToServer.Writer.WriteAsync(bytes);
            return bytes;
        }

        public async Task CompleteRelayAsync() => await _relayToServer.Writer.CompleteAsync();

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
