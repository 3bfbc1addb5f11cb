using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Ssh.Transport.Crypto;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Benchmarks;

/// <summary>
/// A burst of sixteen aes128-ctr + hmac-sha2-256-etm packets already received (what a receiver that is the bottleneck
/// finds in its buffer) read through the packetizer: tags computed sixteen at a time (<see cref="HmacSha256x16"/>)
/// against one at a time with the BCL's HMAC (OpenSSL, SHA-NI where the CPU has it), the baseline. Each operation
/// is one packet; both sides include feeding the burst into a pipe and a fresh reader per burst.
/// </summary>
[MemoryDiagnoser]
public class EtmBurstBenchmarks
{
    private const int Packets = 16;
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(16);
    private readonly byte[] _iv = RandomNumberGenerator.GetBytes(16);
    private readonly byte[] _macKey = RandomNumberGenerator.GetBytes(32);
    private byte[] _wire = null!;

    [Params(4096, 32768)]
    public int PayloadSize { get; set; }

    private static CipherAlgorithm Cipher => CipherAlgorithm.Find("aes128-ctr")!;

    private static MacAlgorithm Mac => MacAlgorithm.Find("hmac-sha2-256-etm@openssh.com")!;

    [GlobalSetup]
    public void Setup()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var writer = new SshPacketizer(new Duplex(new Pipe().Reader, pipe.Writer), SshRole.Client);
        writer.SetPendingOutbound(Cipher.CreateSealer(_key, _iv, Mac, _macKey));
        _ = writer.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys }).AsTask().GetAwaiter().GetResult();
        byte[] payload = RandomNumberGenerator.GetBytes(PayloadSize);
        payload[0] = SshMessageNumber.ChannelData;
        for (int i = 0; i < Packets; i++)
        {
            _ = writer.WritePacketAsync(payload).AsTask().GetAwaiter().GetResult();
        }

        pipe.Reader.TryRead(out ReadResult result);
        _wire = result.Buffer.ToArray();
        writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => SshHmac.UseBatches = true;

    [Benchmark(Baseline = true, OperationsPerInvoke = Packets)]
    public long OneAtATime() => ReadBurst(batches: false);

    [Benchmark(OperationsPerInvoke = Packets)]
    public long SixteenLanes() => ReadBurst(batches: true);

    private long ReadBurst(bool batches)
    {
        SshHmac.UseBatches = batches;
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: _wire.Length, useSynchronizationContext: false));
        var reader = new SshPacketizer(new Duplex(pipe.Reader, new Pipe().Writer), SshRole.Server);
        try
        {
            reader.SetPendingInbound(Cipher.CreateOpener(_key, _iv, Mac, _macKey));
            Span<byte> span = pipe.Writer.GetSpan(_wire.Length);
            _wire.CopyTo(span);
            pipe.Writer.Advance(_wire.Length);
            _ = pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
            long bytes = 0;
            for (int i = 0; i <= Packets; i++)
            {
                bytes += reader.ReadPacketAsync().AsTask().GetAwaiter().GetResult().Payload.Length;
            }

            return bytes;
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

}
