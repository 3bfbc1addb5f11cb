using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ssh.Transport.Crypto;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Benchmarks;

/// <summary>
/// One packet through the whole packetizer under every cipher suite — seal+frame (write), and seal+frame plus
/// open+deframe (round trip) — beside the raw primitive doing the same cryptographic work on the same number of bytes:
/// AesGcm for GCM, the BCL's RFC 8439 ChaCha20Poly1305 (OpenSSL's vectorized code) for chacha20-poly1305, and a
/// reused AES transform (ECB keystream + XOR, or CBC) plus a reused HMAC for the MAC suites. The BCL has no UMAC:
/// for the umac suites the raw side is the same reused AES plus our <see cref="Umac"/> primitive alone, so their
/// ratio is the cost of the construction and framing around it.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class FramedCipherBenchmarks
{
    private Pipe _pipe = null!;
    private Pipe _writeOnlyPipe = null!;
    private SshPacketizer _writeOnly = null!;
    private SshPacketizer _writer = null!;
    private SshPacketizer _reader = null!;
    private byte[] _payload = null!;

    // Raw primitive state.
    private byte[] _packet = null!;
    private byte[] _output = null!;
    private readonly byte[] _tag = new byte[64];
    private readonly byte[] _nonce = new byte[12];
    private AesGcm? _gcm;
    private System.Security.Cryptography.ChaCha20Poly1305? _chacha;
    private Aes? _aes;
    private ICryptoTransform? _encryptor;
    private ICryptoTransform? _decryptor;
    private IncrementalHash? _hmac;
    private SshMac? _umac;
    private byte[] _counters = null!;
    private byte[] _keystream = null!;

    [Params(
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com",
        "aes128-ctr hmac-sha2-256-etm@openssh.com",
        "aes128-ctr umac-64-etm@openssh.com",
        "aes128-ctr umac-128-etm@openssh.com",
        "aes256-ctr hmac-sha2-512-etm@openssh.com",
        "aes128-ctr hmac-sha2-256",
        "aes256-cbc hmac-sha2-256")]
    public string Suite { get; set; } = "";

    [Params(64, 1024, 32768)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string[] names = Suite.Split(' ');
        CipherAlgorithm cipher = CipherAlgorithm.Find(names[0])!;
        MacAlgorithm? mac = names.Length > 1 ? MacAlgorithm.Find(names[1]) : null;
        byte[] key = RandomNumberGenerator.GetBytes(cipher.KeySize);
        byte[] iv = RandomNumberGenerator.GetBytes(cipher.IvSize);
        byte[] macKey = RandomNumberGenerator.GetBytes(mac?.KeySize ?? 0);

        // No rekeying in a benchmark: limits and the peer's allowance out of the way.
        var options = new SshPacketizerOptions { RekeyPackets = long.MaxValue, RekeyInterval = Timeout.InfiniteTimeSpan, RekeyOverflowBytes = long.MaxValue / 4, RekeyOverflowPackets = long.MaxValue / 4 };
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        _writer = new SshPacketizer(new Duplex(new Pipe().Reader, _pipe.Writer), SshRole.Client, options);
        _reader = new SshPacketizer(new Duplex(_pipe.Reader, new Pipe().Writer), SshRole.Server, options);
        _writer.SetPendingOutbound(cipher.CreateSealer(key, iv, mac, macKey));
        _reader.SetPendingInbound(cipher.CreateOpener(key, iv, mac, macKey));
        _ = _writer.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys }).GetAwaiter().GetResult();
        _ = _reader.ReadPacketAsync().GetAwaiter().GetResult();

        _writeOnlyPipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        _writeOnly = new SshPacketizer(new Duplex(new Pipe().Reader, _writeOnlyPipe.Writer), SshRole.Client, options);
        _writeOnly.SetPendingOutbound(cipher.CreateSealer(key, iv, mac, macKey));
        _ = _writeOnly.WritePacketAsync(new byte[] { SshMessageNumber.NewKeys }).GetAwaiter().GetResult();

        _payload = new byte[PayloadSize];
        RandomNumberGenerator.Fill(_payload);
        _payload[0] = SshMessageNumber.ChannelData;

        // The raw primitive works on what the packetizer encrypts: padding_length || payload || minimal padding.
        int unpadded = 1 + PayloadSize + (cipher.IsAead || mac?.IsEtm == true ? 0 : 4);
        int padding = cipher.BlockSize - (unpadded % cipher.BlockSize);
        padding = padding < 4 ? padding + cipher.BlockSize : padding;
        _packet = RandomNumberGenerator.GetBytes(4 + 1 + PayloadSize + padding);
        _output = new byte[_packet.Length];
        if (cipher.Name.Contains("gcm", StringComparison.Ordinal))
        {
            _gcm = new AesGcm(key, 16);
        }
        else if (cipher.Name.StartsWith("chacha", StringComparison.Ordinal))
        {
            _chacha = new System.Security.Cryptography.ChaCha20Poly1305(key.AsSpan(0, 32));
        }
        else
        {
            _aes = Aes.Create();
            _aes.Key = key;
            _aes.Padding = PaddingMode.None;
            bool ctr = cipher.Name.EndsWith("ctr", StringComparison.Ordinal);
            _aes.Mode = ctr ? CipherMode.ECB : CipherMode.CBC;
            _aes.IV = ctr ? new byte[16] : iv;
            _encryptor = _aes.CreateEncryptor();
            _decryptor = ctr ? _aes.CreateEncryptor() : _aes.CreateDecryptor();
            if (mac!.Name.StartsWith("umac-", StringComparison.Ordinal))
            {
                _umac = mac.CreateMac(macKey);
            }
            else
            {
                _hmac = IncrementalHash.CreateHMAC(mac.Name.StartsWith("hmac-sha2-512", StringComparison.Ordinal) ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256, macKey);
            }

            int blocks = (_packet.Length + 15) / 16;
            _counters = new byte[blocks * 16];
            _keystream = new byte[blocks * 16];
            for (int i = 0; i < blocks; i++)
            {
                BinaryPrimitives.WriteUInt64BigEndian(_counters.AsSpan(i * 16 + 8), (ulong)i);
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _gcm?.Dispose();
        _chacha?.Dispose();
        _encryptor?.Dispose();
        _decryptor?.Dispose();
        _aes?.Dispose();
        _hmac?.Dispose();
        _umac?.Dispose();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Write")]
    public void RawSeal() => Encrypt();

    [Benchmark, BenchmarkCategory("Write")]
    public long SealAndFrame()
    {
        // The payload the caller holds (WritePacketAsync(ReadOnlyMemory<byte>)): copied into the pipe, or for
        // suites that can (aes-gcm on AES-NI) encrypted straight from the caller's buffer into the pipe.
        _ = _writeOnly.WritePacketAsync(_payload).GetAwaiter().GetResult();
        _writeOnlyPipe.Reader.TryRead(out ReadResult result);
        long length = result.Buffer.Length;
        _writeOnlyPipe.Reader.AdvanceTo(result.Buffer.End);
        return length;
    }

    /// <summary>
    /// The payload produced in place in the pipe's memory (as a serializer writing straight into it would), so the
    /// difference to the raw call is framing alone: lock, header, padding, accounting, the pipe's own work.
    /// </summary>
    [Benchmark, BenchmarkCategory("Write")]
    public long SealAndFrameInPlace()
    {
        _ = _writeOnly.WritePacketAsync(PayloadSize, static (w, size) =>
        {
            w.GetSpan(size)[0] = SshMessageNumber.ChannelData;
            w.Advance(size);
        }, PayloadSize, flush: true).GetAwaiter().GetResult();
        _writeOnlyPipe.Reader.TryRead(out ReadResult result);
        long length = result.Buffer.Length;
        _writeOnlyPipe.Reader.AdvanceTo(result.Buffer.End);
        return length;
    }

    [Benchmark(Baseline = true), BenchmarkCategory("RoundTrip")]
    public bool RawSealAndOpen()
    {
        Encrypt();
        return Decrypt();
    }

    [Benchmark, BenchmarkCategory("RoundTrip")]
    public int SealFrameOpenDeframe()
    {
        _ = _writer.WritePacketAsync(_payload).GetAwaiter().GetResult();
        return _reader.ReadPacketAsync().GetAwaiter().GetResult().Payload.Length;
    }

    private void Encrypt()
    {
        Span<byte> body = _packet.AsSpan(4);
        if (_gcm is not null)
        {
            _gcm.Encrypt(_nonce, body, _output.AsSpan(4), _tag.AsSpan(0, 16), _packet.AsSpan(0, 4));
        }
        else if (_chacha is not null)
        {
            _chacha.Encrypt(_nonce, body, _output.AsSpan(4), _tag.AsSpan(0, 16), _packet.AsSpan(0, 4));
        }
        else if (_umac is not null)
        {
            _umac.Compute(1, _packet, default, _tag);
            Transform(_encryptor!, _packet, _output);
        }
        else
        {
            _hmac!.AppendData(_packet);
            _hmac.TryGetHashAndReset(_tag, out _);
            Transform(_encryptor!, _packet, _output);
        }
    }

    private bool Decrypt()
    {
        if (_gcm is not null)
        {
            _gcm.Decrypt(_nonce, _output.AsSpan(4), _tag.AsSpan(0, 16), _packet.AsSpan(4), _packet.AsSpan(0, 4));
            return true;
        }

        if (_chacha is not null)
        {
            _chacha.Decrypt(_nonce, _output.AsSpan(4), _tag.AsSpan(0, 16), _packet.AsSpan(4), _packet.AsSpan(0, 4));
            return true;
        }

        Transform(_decryptor!, _output, _packet);
        if (_umac is not null)
        {
            return _umac.Verify(1, _packet, default, _tag.AsSpan(0, _umac.Size));
        }

        Span<byte> expected = stackalloc byte[64];
        _hmac!.AppendData(_packet);
        _hmac.TryGetHashAndReset(expected, out int written);
        return CryptographicOperations.FixedTimeEquals(expected[..written], _tag.AsSpan(0, written));
    }

    private void Transform(ICryptoTransform transform, byte[] source, byte[] destination)
    {
        int length = source.Length & ~15;
        if (_aes!.Mode == CipherMode.ECB)
        {
            // CTR: keystream from counters, XOR (the same work the sealer does).
            transform.TransformBlock(_counters, 0, (source.Length + 15) & ~15, _keystream, 0);
            int i = 0;
            for (; i <= source.Length - System.Numerics.Vector<byte>.Count; i += System.Numerics.Vector<byte>.Count)
            {
                (new System.Numerics.Vector<byte>(source, i) ^ new System.Numerics.Vector<byte>(_keystream, i)).CopyTo(destination, i);
            }

            for (; i < source.Length; i++)
            {
                destination[i] = (byte)(source[i] ^ _keystream[i]);
            }

            return;
        }

        transform.TransformBlock(source, 0, length, destination, 0);
    }

}
