using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using Ssh.Transport.Compression;
using Ssh.Transport.Crypto;
using Ssh.Transport.Framing;

namespace Ssh.Transport.Fuzz.Targets;

/// <summary>
/// The packet reader (RFC 4253 §6) under each protection family with fixed keys; the input is the wire. It is read
/// twice, as one buffer and as bytes arriving a few at a time (the reader asked again after each arrival, as the
/// packetizer does), and both reads must agree: the same packets, the same error.
/// </summary>
internal static class PacketTargets
{
    public const int ArrivalSize = 7;

    public static void None(byte[] input) => Run(input, Suite.None);

    public static void AesGcm(byte[] input) => Run(input, Suite.AesGcm);

    public static void ChaChaPoly(byte[] input) => Run(input, Suite.ChaChaPoly);

    public static void CtrEtm(byte[] input) => Run(input, Suite.CtrEtm);

    public static void CtrMte(byte[] input) => Run(input, Suite.CtrMte);

    public static void CbcMte(byte[] input) => Run(input, Suite.CbcMte);

    /// <summary>A cipher suite with its fixed keys.</summary>
    internal sealed record Suite(string Cipher, string? Mac)
    {
        public static readonly Suite None = new("none", null);
        public static readonly Suite AesGcm = new("aes256-gcm@openssh.com", null);
        public static readonly Suite ChaChaPoly = new("chacha20-poly1305@openssh.com", null);
        public static readonly Suite CtrEtm = new("aes128-ctr", "hmac-sha2-256-etm@openssh.com");
        public static readonly Suite CtrMte = new("aes128-ctr", "hmac-sha2-256");
        public static readonly Suite CbcMte = new("aes128-cbc", "hmac-sha1");

        public PacketOpener CreateOpener() => Create(static (c, k, iv, m, mk) => c.CreateOpener(k, iv, m, mk), NoneProtection.CreateOpener);

        public PacketSealer CreateSealer() => Create(static (c, k, iv, m, mk) => c.CreateSealer(k, iv, m, mk), NoneProtection.CreateSealer);

        private T Create<T>(Func<CipherAlgorithm, byte[], byte[], MacAlgorithm?, byte[], T> create, Func<T> none)
        {
            if (Cipher == "none")
            {
                return none();
            }

            CipherAlgorithm cipher = CipherAlgorithm.Find(Cipher)!;
            MacAlgorithm? mac = Mac is null ? null : MacAlgorithm.Find(Mac);
            return create(cipher, Harness.FixedBytes(cipher.KeySize, 1), Harness.FixedBytes(cipher.IvSize, 101), mac, Harness.FixedBytes(mac?.KeySize ?? 0, 201));
        }
    }

    private static void Run(byte[] input, Suite suite)
    {
        Result whole = Read(input, suite, input.Length);
        Result arriving = Read(input, suite, ArrivalSize);
        Harness.Trace($"{suite.Cipher}: {whole}");
        if (!whole.SameAs(arriving))
        {
            throw new FuzzFindingException($"Packet reads differ by arrival: {whole} vs {arriving}.");
        }
    }

    private sealed record Result(List<(uint Sequence, byte[] Payload)> Packets, string? Error)
    {
        public bool SameAs(Result other) =>
            Error == other.Error && Packets.Count == other.Packets.Count
            && Packets.Zip(other.Packets).All(p => p.First.Sequence == p.Second.Sequence && p.First.Payload.AsSpan().SequenceEqual(p.Second.Payload));

        public override string ToString() => $"{Packets.Count} packets, {Error ?? "no error"}";
    }

    /// <summary>Reads packets from <paramref name="input"/> as it arrives <paramref name="arrival"/> bytes at a time.</summary>
    private static Result Read(byte[] input, Suite suite, int arrival)
    {
        var options = new SshPacketizerOptions();
        using var transport = new TransportState(options, NullLogger.Instance);
        transport.Inbound.Pending = suite.CreateOpener();
        transport.Inbound.TrySwitchKeys(strictKex: false, now: 0);

        // A NEWKEYS in the input switches to "none" with zlib, so the inflater is fuzzed too (under none; the other
        // suites cannot reach a NEWKEYS without forging a MAC).
        transport.Inbound.Pending = NoneProtection.CreateOpener();
        transport.Inbound.PendingCompression = CompressionMethod.Zlib;
        using var reader = new PacketReader(transport);
        var packets = new List<(uint, byte[])>();
        int start = 0;
        int available = 0;
        try
        {
            while (true)
            {
                available = Math.Min(input.Length, Math.Max(available, start) + arrival);
                ReadOnlySequence<byte> buffer = Harness.Segmented(input.AsMemory(start, available - start), Math.Max(1, arrival));
                while (true)
                {
                    bool read = reader.TryRead(buffer, out SequencePosition consumed, out SshPacket packet);
                    long used = buffer.Slice(0, consumed).Length;
                    if (used < 0 || used > buffer.Length)
                    {
                        throw new FuzzFindingException("The reader consumed past its input.");
                    }

                    start += (int)used;
                    buffer = buffer.Slice(consumed);
                    if (!read)
                    {
                        break;
                    }

                    if (packet.Payload.IsEmpty || used == 0)
                    {
                        throw new FuzzFindingException("The reader returned an empty payload or consumed nothing for a packet.");
                    }

                    packets.Add((packet.SequenceNumber, packet.Payload.ToArray()));
                }

                if (available == input.Length)
                {
                    return new Result(packets, null);
                }
            }
        }
        catch (SshProtocolException e)
        {
            return new Result(packets, $"{e.GetType().Name}({e.Reason})");
        }
    }
}
