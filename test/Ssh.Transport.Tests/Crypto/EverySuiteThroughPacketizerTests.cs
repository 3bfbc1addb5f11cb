using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Ssh.Transport.Crypto;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>
/// Every cipher (and, for non-AEAD ciphers, every MAC) through the packetizer: all segment splits, bit flips rejected
/// with nothing delivered, keys switched at NEWKEYS with packets in flight.
/// </summary>
public class EverySuiteThroughPacketizerTests
{
    public static IEnumerable<TestCaseData> Suites()
    {
        foreach (CipherAlgorithm cipher in CipherAlgorithm.All)
        {
            if (cipher.IsAead)
            {
                yield return new TestCaseData(cipher.Name, null).SetArgDisplayNames(cipher.Name);
                continue;
            }

            foreach (MacAlgorithm mac in MacAlgorithm.All)
            {
                yield return new TestCaseData(cipher.Name, mac.Name).SetArgDisplayNames(cipher.Name, mac.Name);
            }
        }
    }

    private sealed record Keys(CipherAlgorithm Cipher, MacAlgorithm? Mac, byte[] Key, byte[] Iv, byte[] MacKey)
    {
        public PacketSealer Sealer() => Cipher.CreateSealer(Key, Iv, Mac, MacKey);

        public PacketOpener Opener() => Cipher.CreateOpener(Key, Iv, Mac, MacKey);
    }

    private static Keys NewKeys(string cipherName, string? macName)
    {
        CipherAlgorithm cipher = CipherAlgorithm.Find(cipherName)!;
        MacAlgorithm? mac = macName is null ? null : MacAlgorithm.Find(macName);
        return new Keys(cipher, mac, RandomNumberGenerator.GetBytes(cipher.KeySize), RandomNumberGenerator.GetBytes(cipher.IvSize), RandomNumberGenerator.GetBytes(mac?.KeySize ?? 0));
    }

    private static readonly byte[][] s_payloads =
    [
        [SshMessageNumber.Ignore, 0, 0, 0, 0],
        Packets.Payload(SshMessageNumber.ChannelData, 33, 7),
        Packets.Payload(SshMessageNumber.ChannelData, 200, 9),
    ];

    /// <summary>Seals <see cref="s_payloads"/> (after a NEWKEYS under none) with a writer packetizer; returns the wire bytes.</summary>
    private static async Task<byte[]> SealAsync(Keys keys)
    {
        var pipes = new PipePair(MemoryPool<byte>.Shared);
        var writer = new SshPacketizer(pipes.Client, SshRole.Client);
        writer.SetPendingOutbound(keys.Sealer());
        await writer.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        foreach (byte[] payload in s_payloads)
        {
            await writer.WritePacketAsync(payload);
        }

        ReadResult result = await pipes.ClientToServer.Reader.ReadAsync();
        return result.Buffer.ToArray();
    }

    private static async Task<List<byte[]>> OpenAsync(Keys keys, byte[] wire, int[] cuts)
    {
        var pipe = new Pipe(new PipeOptions(pool: new DirtyMemoryPool(), pauseWriterThreshold: 0));
        var reader = new SshPacketizer(new DuplexPipe(pipe.Reader, new Pipe().Writer), SshRole.Server);
        reader.SetPendingInbound(keys.Opener());
        int start = 0;
        foreach (int cut in cuts.Append(wire.Length))
        {
            if (cut > start)
            {
                await pipe.Writer.WriteAsync(wire.AsMemory(start, cut - start));
                start = cut;
            }
        }

        await pipe.Writer.CompleteAsync();
        var payloads = new List<byte[]>();
        while (true)
        {
            SshPacket packet = await reader.ReadPacketAsync();
            if (packet.IsCompleted)
            {
                return payloads;
            }

            payloads.Add(packet.Payload.ToArray());
        }
    }

    [TestCaseSource(nameof(Suites))]
    public async Task EverySplitPoint_OpensEveryPacket(string cipher, string? mac)
    {
        Keys keys = NewKeys(cipher, mac);
        byte[] wire = await SealAsync(keys);
        int newKeysLength = 16;
        byte[][] expected = [[SshMessageNumber.NewKeys], .. s_payloads];

        // Every single cut inside the encrypted part, and a spread of double cuts.
        for (int cut = newKeysLength; cut < wire.Length; cut++)
        {
            Assert.That(await OpenAsync(keys, wire, [cut]), Is.EqualTo(expected), $"cut at {cut}");
        }

        for (int a = newKeysLength + 1; a < wire.Length; a += 7)
        {
            Assert.That(await OpenAsync(keys, wire, [a, Math.Min(wire.Length - 1, a + 13)]), Is.EqualTo(expected), $"cuts at {a}");
        }
    }

    [TestCaseSource(nameof(Suites))]
    public async Task EverySingleBitFlip_IsRejectedAndDeliversNothing(string cipher, string? mac)
    {
        Keys keys = NewKeys(cipher, mac);
        var pipes = new PipePair(MemoryPool<byte>.Shared);
        var writer = new SshPacketizer(pipes.Client, SshRole.Client);
        writer.SetPendingOutbound(keys.Sealer());
        await writer.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
        await writer.WritePacketAsync(s_payloads[1]);
        byte[] wire = (await pipes.ClientToServer.Reader.ReadAsync()).Buffer.ToArray();
        const int newKeysLength = 16;
        for (int bit = newKeysLength * 8; bit < wire.Length * 8; bit++)
        {
            byte[] flipped = (byte[])wire.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            List<byte[]>? delivered = null;
            SshProtocolException? error = null;
            try
            {
                delivered = await OpenAsync(keys, flipped, []);
            }
            catch (SshProtocolException e)
            {
                error = e;
            }

            Assert.That(error, Is.Not.Null, $"bit {bit} was accepted: {delivered?.Count} packets");

            // A flipped encrypted length may show as a bad length or as a connection cut short; never a payload.
            Assert.That(error!.Reason, Is.AnyOf(SshDisconnectReason.MacError, SshDisconnectReason.ProtocolError, SshDisconnectReason.ConnectionLost), $"bit {bit}: {error.Message}");
            if (bit >= (newKeysLength + 4) * 8 && !keys.Cipher.Name.Contains("cbc", StringComparison.Ordinal))
            {
                // Past the length field, only a MAC error is possible.
                Assert.That(error.Reason, Is.EqualTo(SshDisconnectReason.MacError).Or.EqualTo(SshDisconnectReason.ConnectionLost), $"bit {bit}: {error.Message}");
            }
        }
    }

    [TestCaseSource(nameof(Suites))]
    public async Task NewKeysMidStream_BothDirectionsWithPacketsInFlight(string cipher, string? mac)
    {
        var pipes = new PipePair(MemoryPool<byte>.Shared);
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        var server = new SshPacketizer(pipes.Server, SshRole.Server);
        for (int round = 0; round < 3; round++)
        {
            Keys c2s = NewKeys(cipher, mac);
            Keys s2c = NewKeys(cipher, mac);
            client.SetPendingOutbound(c2s.Sealer());
            server.SetPendingInbound(c2s.Opener());
            server.SetPendingOutbound(s2c.Sealer());
            client.SetPendingInbound(s2c.Opener());

            // Both sides have packets in flight before and after their NEWKEYS; nobody has read anything yet.
            await client.WritePacketAsync(s_payloads[1]);
            await server.WritePacketAsync(s_payloads[2]);
            await client.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
            await client.WritePacketAsync(s_payloads[2]);
            await server.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys });
            await server.WritePacketAsync(s_payloads[1]);

            foreach (byte[] expected in new[] { s_payloads[1], [SshMessageNumber.NewKeys], s_payloads[2] })
            {
                Assert.That((await server.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(expected));
                Assert.That((await client.ReadPacketAsync()).Payload.ToArray(), Is.EqualTo(expected == s_payloads[1] ? s_payloads[2] : expected == s_payloads[2] ? s_payloads[1] : expected));
            }
        }
    }
}
