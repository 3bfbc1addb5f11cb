using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Org.BouncyCastle.Utilities.Zlib;
using Ssh.Transport.Compression;
using Ssh.Transport.Crypto;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Compression;

public class CompressionTests
{
    private static async Task<(SshPacketizer Client, SshPacketizer Server, PipePair Pipes)> ConnectWithAsync(CompressionMethod method, int maxPacketLength = SshPacketizerOptions.DefaultMaxPacketLength)
    {
        var pipes = new PipePair();
        var options = new SshPacketizerOptions { MaxPacketLength = maxPacketLength };
        var client = new SshPacketizer(pipes.Client, SshRole.Client, options);
        var server = new SshPacketizer(pipes.Server, SshRole.Server, options);
        await SwitchAsync(client, server, method);
        return (client, server, pipes);
    }

    private static async Task SwitchAsync(SshPacketizer client, SshPacketizer server, CompressionMethod method)
    {
        client.SetPendingOutbound(NoneProtection.CreateSealer(), method);
        server.SetPendingInbound(NoneProtection.CreateOpener(), method);
        await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        Assert.That((await server.ReadPacketAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.NewKeys));
    }

    private static byte[] Compressible(int length, byte messageNumber = SshMessageNumber.ChannelData)
    {
        byte[] payload = new byte[length];
        for (int i = 0; i < length; i++)
        {
            payload[i] = (byte)"the quick brown fox "[i % 20];
        }

        payload[0] = messageNumber;
        return payload;
    }

    private static byte[] RandomPayload(int length, int seed)
    {
        byte[] payload = new byte[length];
        new Random(seed).NextBytes(payload);
        payload[0] = SshMessageNumber.ChannelData;
        return payload;
    }

    [Test]
    public async Task Zlib_RoundTrip_ManyPacketsOneStream()
    {
        (SshPacketizer client, SshPacketizer server, _) = await ConnectWithAsync(CompressionMethod.Zlib);
        var sent = new List<byte[]>();
        for (int i = 0; i < 60; i++)
        {
            byte[] payload = i % 3 == 0 ? RandomPayload(1 + i * 517 % 40000, i) : Compressible(1 + i * 997 % 60000);
            sent.Add(payload);
            await client.WritePacketAsync(payload);
        }

        foreach (byte[] expected in sent)
        {
            Assert.That((await server.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(expected));
        }
    }

    [Test]
    public async Task Zlib_CompressibleData_IsSmallerOnTheWire()
    {
        (SshPacketizer client, SshPacketizer server, _) = await ConnectWithAsync(CompressionMethod.Zlib);
        long before = client.BytesWritten;
        await client.WritePacketAsync(Compressible(30000));
        Assert.That(client.BytesWritten - before, Is.LessThan(2000));
        Assert.That((await server.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(Compressible(30000)));
    }

    /// <summary>Our deflate output, packet by packet, inflated by an independent zlib (BouncyCastle's jzlib port).</summary>
    [Test]
    public async Task Zlib_OurOutput_InflatesWithIndependentZlibPerPacket()
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        client.SetPendingOutbound(NoneProtection.CreateSealer(), CompressionMethod.Zlib);
        await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        ReadResult newKeys = await pipes.ClientToServer.Reader.ReadAsync();
        pipes.ClientToServer.Reader.AdvanceTo(newKeys.Buffer.End);

        var inflater = new ZStream();
        Assert.That(inflater.inflateInit(), Is.EqualTo(JZlib.Z_OK));
        for (int i = 0; i < 20; i++)
        {
            byte[] payload = i % 2 == 0 ? Compressible(100 + i * 1000) : RandomPayload(100 + i * 700, i);
            await client.WritePacketAsync(payload);
            ReadResult raw = await pipes.ClientToServer.Reader.ReadAsync();
            byte[] packet = raw.Buffer.ToArray();
            pipes.ClientToServer.Reader.AdvanceTo(raw.Buffer.End);
            int packetLength = (int)BinaryPrimitives.ReadUInt32BigEndian(packet);
            byte[] compressed = packet.AsSpan(5, packetLength - 1 - packet[4]).ToArray();

            byte[] output = new byte[payload.Length + 1024];
            inflater.next_in = compressed;
            inflater.next_in_index = 0;
            inflater.avail_in = compressed.Length;
            inflater.next_out = output;
            inflater.next_out_index = 0;
            inflater.avail_out = output.Length;
            int rc = inflater.inflate(JZlib.Z_SYNC_FLUSH);
            Assert.That(rc, Is.EqualTo(JZlib.Z_OK), $"packet {i}");
            Assert.That(inflater.avail_in, Is.Zero, "the whole packet was consumed");
            Assert.That(output.AsSpan(0, inflater.next_out_index).ToArray(), Is.EqualTo(payload), $"packet {i} inflates alone");
        }
    }

    /// <summary>An independent zlib's deflate output with Z_PARTIAL_FLUSH per packet (what OpenSSH sends), inflated by us.</summary>
    [Test]
    public async Task Zlib_IndependentPartialFlushOutput_InflatesWithOurs()
    {
        (_, SshPacketizer server, PipePair pipes) = await ConnectWithAsync(CompressionMethod.Zlib);
        var deflater = new ZStream();
        Assert.That(deflater.deflateInit(6), Is.EqualTo(JZlib.Z_OK));
        var payloads = Enumerable.Range(0, 15).Select(i => i % 2 == 0 ? Compressible(10 + i * 2000) : RandomPayload(10 + i * 1500, i)).ToList();
        foreach (byte[] payload in payloads)
        {
            byte[] output = new byte[payload.Length * 2 + 64];
            deflater.next_in = payload;
            deflater.next_in_index = 0;
            deflater.avail_in = payload.Length;
            deflater.next_out = output;
            deflater.next_out_index = 0;
            deflater.avail_out = output.Length;
            Assert.That(deflater.deflate(JZlib.Z_PARTIAL_FLUSH), Is.EqualTo(JZlib.Z_OK));
            await pipes.ClientToServer.Writer.WriteAsync(Packets.None(output.AsSpan(0, deflater.next_out_index)));
        }

        foreach (byte[] expected in payloads)
        {
            Assert.That((await server.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(expected));
        }
    }

    [Test]
    public async Task Zlib_Bomb_IsCompressionError()
    {
        (_, SshPacketizer server, PipePair pipes) = await ConnectWithAsync(CompressionMethod.Zlib, maxPacketLength: 40000);

        // 10 MB of zeros deflate to about 10 KB: one small packet that would inflate 250 times past the cap.
        var deflater = new ZStream();
        deflater.deflateInit(9);
        byte[] zeros = new byte[10_000_000];
        zeros[0] = SshMessageNumber.ChannelData;
        byte[] output = new byte[100_000];
        deflater.next_in = zeros;
        deflater.avail_in = zeros.Length;
        deflater.next_out = output;
        deflater.avail_out = output.Length;
        deflater.deflate(JZlib.Z_SYNC_FLUSH);
        Assert.That(deflater.next_out_index, Is.LessThan(35000));
        await pipes.ClientToServer.Writer.WriteAsync(Packets.None(output.AsSpan(0, deflater.next_out_index)));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.ThrowsAsync<SshProtocolException>(async () => await server.ReadPacketAsync());
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.CompressionError));
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(1_000_000), "the bomb is not inflated into memory");
    }

    [Test]
    public async Task Zlib_CorruptData_IsCompressionError()
    {
        (_, SshPacketizer server, PipePair pipes) = await ConnectWithAsync(CompressionMethod.Zlib);
        await pipes.ClientToServer.Writer.WriteAsync(Packets.None([0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0x12, 0x34]));
        var ex = Assert.ThrowsAsync<SshProtocolException>(async () => await server.ReadPacketAsync());
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.CompressionError));
    }

    [Test]
    public async Task ZlibDelayed_OffUntilAuthenticationThenOn()
    {
        (SshPacketizer client, SshPacketizer server, PipePair pipes) = await ConnectWithAsync(CompressionMethod.ZlibDelayed);
        byte[] payload = Compressible(5000);

        long start = client.BytesWritten;
        await client.WritePacketAsync(payload);
        Assert.That(client.BytesWritten - start, Is.GreaterThan(5000), "not compressed before authentication");
        Assert.That((await server.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(payload));

        // USERAUTH_SUCCESS travels uncompressed; both sides switch right after it.
        await client.WritePacketAsync(new byte[] { SshMessageNumber.UserAuthSuccess });
        Assert.That((await server.ReadPacketAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.UserAuthSuccess));
        client.EnableDelayedCompression();
        server.EnableDelayedCompression();

        long before = client.BytesWritten;
        await client.WritePacketAsync(payload);
        Assert.That(client.BytesWritten - before, Is.LessThan(1000), "compressed after authentication");
        Assert.That((await server.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(payload));
    }

    [Test]
    public async Task ZlibDelayed_AfterAuthentication_StartsAtTheNextNewKeys()
    {
        (SshPacketizer client, SshPacketizer server, _) = await ConnectWithAsync(CompressionMethod.ZlibDelayed);
        client.EnableDelayedCompression();
        server.EnableDelayedCompression();
        await SwitchAsync(client, server, CompressionMethod.ZlibDelayed);
        long before = client.BytesWritten;
        await client.WritePacketAsync(Compressible(5000));
        Assert.That(client.BytesWritten - before, Is.LessThan(1000));
        Assert.That((await server.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(Compressible(5000)));
    }

    [Test]
    public async Task Rekey_StartsAFreshZlibStream()
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        var packets = new List<byte[]>();
        for (int round = 0; round < 2; round++)
        {
            client.SetPendingOutbound(NoneProtection.CreateSealer(), CompressionMethod.Zlib);
            await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
            await client.WritePacketAsync(Compressible(3000));
            await client.WritePacketAsync(Compressible(3000));
        }

        ReadResult raw = await pipes.ClientToServer.Reader.ReadAsync();
        byte[] bytes = raw.Buffer.ToArray();
        for (int offset = 0; offset < bytes.Length; offset += 4 + (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(offset)))
        {
            packets.Add(bytes.AsSpan(offset + 5).ToArray());
        }

        Assert.That(packets, Has.Count.EqualTo(6));
        Assert.That(packets[1][0], Is.EqualTo(0x78), "the first stream begins with a zlib header");
        Assert.That(packets[2][0], Is.Not.EqualTo(0x78).Or.Not.EqualTo(packets[1][0]), "the second packet continues the stream");
        Assert.That(packets[4][0], Is.EqualTo(0x78), "new keys: a new zlib stream, header again");
        Assert.That(packets[4].AsSpan(0, 40).ToArray(), Is.EqualTo(packets[1].AsSpan(0, 40).ToArray()), "the same payload compresses the same in a fresh stream");
    }

    [Test]
    public async Task NoneToZlibAndBack_FollowsTheKeys()
    {
        (SshPacketizer client, SshPacketizer server, _) = await ConnectWithAsync(CompressionMethod.Zlib);
        await SwitchAsync(client, server, CompressionMethod.None);
        long before = client.BytesWritten;
        await client.WritePacketAsync(Compressible(5000));
        Assert.That(client.BytesWritten - before, Is.GreaterThan(5000));
        Assert.That((await server.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(Compressible(5000)));
    }

    [Test]
    public async Task Zlib_SteadyState_AllocatesNothingPerPacket()
    {
        var pipes = new PipePair(MemoryPool<byte>.Shared);
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        var server = new SshPacketizer(pipes.Server, SshRole.Server);
        await SwitchAsync(client, server, CompressionMethod.Zlib);
        var payload = new ReadOnlyMemory<byte>(Compressible(2000));
        for (int i = 0; i < 100; i++)
        {
            await client.WritePacketAsync(payload);
            await server.ReadPacketAsync();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 500; i++)
        {
            await client.WritePacketAsync(payload);
            await server.ReadPacketAsync();
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void MethodNames_Parse()
    {
        Assert.That(CompressionMethods.Parse("zlib"), Is.EqualTo(CompressionMethod.Zlib));
        Assert.That(CompressionMethods.Parse("zlib@openssh.com"), Is.EqualTo(CompressionMethod.ZlibDelayed));
        Assert.That(CompressionMethods.Parse("none"), Is.EqualTo(CompressionMethod.None));
        Assert.That(CompressionMethods.Parse("lz4"), Is.Null);
    }
}
