using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ssh.Transport.Crypto;

namespace Ssh.Transport.Benchmarks;

/// <summary>
/// aes128-gcm@openssh.com against the raw BCL <see cref="AesGcm"/> on the same bytes. Length is packet_length: the
/// bytes encrypted; the 4-byte length is the AAD. Open cannot be repeated on one packet (the invocation counter
/// moves on), so it is measured as a seal + open round trip against raw Encrypt + Decrypt.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class AesGcmBenchmarks
{
    private readonly byte[] _key = new byte[16];
    private readonly byte[] _nonce = new byte[12];
    private readonly byte[] _tag = new byte[16];
    private byte[] _packet = [];
    private AesGcm _raw = null!;
    private Ssh.Transport.Crypto.Primitives.AesGcmNi _ni = null!;
    private PacketSealer _sealer = null!;
    private PacketOpener _opener = null!;
    private uint _sequence;

    [Params(64, 1024, 32768)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        RandomNumberGenerator.Fill(_key);
        RandomNumberGenerator.Fill(_nonce);
        _packet = new byte[4 + Length];
        RandomNumberGenerator.Fill(_packet);
        BinaryPrimitives.WriteUInt32BigEndian(_packet, (uint)Length);
        _raw = new AesGcm(_key, 16);
        _ni = new Ssh.Transport.Crypto.Primitives.AesGcmNi(_key);
        _sealer = AesGcmProtection.CreateSealer(_key, _nonce);
        _opener = AesGcmProtection.CreateOpener(_key, _nonce);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _raw.Dispose();
        _ni.Dispose();
        _sealer.Dispose();
        _opener.Dispose();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Seal")]
    public void RawEncrypt()
    {
        Span<byte> body = _packet.AsSpan(4);
        _raw.Encrypt(_nonce, body, body, _tag, _packet.AsSpan(0, 4));
    }

    /// <summary>Our AES-NI/PCLMULQDQ core alone, the same call shape as <see cref="RawEncrypt"/>.</summary>
    [Benchmark, BenchmarkCategory("Seal")]
    public void OwnEncrypt()
    {
        Span<byte> body = _packet.AsSpan(4);
        _ni.Encrypt(_nonce, body, body, _tag, _packet.AsSpan(0, 4));
    }

    [Benchmark, BenchmarkCategory("Seal")]
    public void Seal() => _sealer.Seal(_sequence++, _packet, _tag);

    [Benchmark(Baseline = true), BenchmarkCategory("RoundTrip")]
    public void RawEncryptDecrypt()
    {
        Span<byte> body = _packet.AsSpan(4);
        _raw.Encrypt(_nonce, body, body, _tag, _packet.AsSpan(0, 4));
        _raw.Decrypt(_nonce, body, _tag, body, _packet.AsSpan(0, 4));
    }

    [Benchmark, BenchmarkCategory("RoundTrip")]
    public bool OwnEncryptDecrypt()
    {
        Span<byte> body = _packet.AsSpan(4);
        _ni.Encrypt(_nonce, body, body, _tag, _packet.AsSpan(0, 4));
        return _ni.TryDecrypt(_nonce, body, _tag, body, _packet.AsSpan(0, 4));
    }

    [Benchmark, BenchmarkCategory("RoundTrip")]
    public bool SealOpen()
    {
        uint sequence = _sequence++;
        _sealer.Seal(sequence, _packet, _tag);
        _opener.DecryptLength(sequence, _packet.AsSpan(0, 4));
        return _opener.TryOpen(sequence, _packet, _tag, _packet.AsSpan(4));
    }
}

/// <summary>
/// aes128-ctr with hmac-sha2-256(-etm@openssh.com) against raw primitives on the same bytes: AES-ECB keystream over
/// prebuilt counters + XOR + HMAC-SHA-256 over seqnr || packet. Two raw baselines: the one-shots the brief names
/// (<see cref="SymmetricAlgorithm.EncryptEcb(ReadOnlySpan{byte}, Span{byte}, PaddingMode)"/> and
/// <see cref="HMACSHA256.HashData(ReadOnlySpan{byte}, ReadOnlySpan{byte}, Span{byte})"/>, which key a native
/// context on every call) and the fastest raw form (a reused ECB transform and a reused IncrementalHash). In the same
/// run, aes128-ctr with umac-64-etm and umac-128-etm@openssh.com (RFC 4418 UMAC, our implementation) in place of the
/// HMAC, so UMAC and HMAC-SHA-256 read as ratios to the same baselines.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class AesCtrHmacBenchmarks
{
    private readonly byte[] _key = new byte[16];
    private readonly byte[] _iv = new byte[16];
    private readonly byte[] _macKey = new byte[32];
    private readonly byte[] _mac = new byte[32];

    // seqnr (4) || packet (4 + Length), contiguous so the one-shot HMAC needs no copy.
    private byte[] _sequenceAndPacket = [];
    private byte[] _counters = [];
    private byte[] _keystream = [];
    private Aes _aes = null!;
    private ICryptoTransform _ecb = null!;
    private IncrementalHash _hmac = null!;
    private PacketSealer _etmSealer = null!;
    private PacketOpener _etmOpener = null!;
    private PacketSealer _mteSealer = null!;
    private PacketOpener _mteOpener = null!;
    private readonly byte[] _umacKey = new byte[16];
    private PacketSealer _umac64Sealer = null!;
    private PacketOpener _umac64Opener = null!;
    private PacketSealer _umac128Sealer = null!;
    private PacketOpener _umac128Opener = null!;
    private uint _sequence;

    [Params(64, 1024, 32768)]
    public int Length { get; set; }

    private Span<byte> Packet => _sequenceAndPacket.AsSpan(4);

    [GlobalSetup]
    public void Setup()
    {
        RandomNumberGenerator.Fill(_key);
        RandomNumberGenerator.Fill(_iv);
        RandomNumberGenerator.Fill(_macKey);
        _sequenceAndPacket = new byte[8 + Length];
        RandomNumberGenerator.Fill(_sequenceAndPacket);
        BinaryPrimitives.WriteUInt32BigEndian(Packet, (uint)Length);
        int blocks = (Length + 4 + 15) / 16;
        _counters = new byte[blocks * 16];
        _keystream = new byte[blocks * 16];
        for (int i = 0; i < blocks; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(_counters.AsSpan(i * 16 + 8), (ulong)i);
        }

        _aes = Aes.Create();
        _aes.Key = _key;
        _aes.Mode = CipherMode.ECB;
        _aes.Padding = PaddingMode.None;
        _ecb = _aes.CreateEncryptor();
        _hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _macKey);
        _etmSealer = CipherMacProtection.CreateSealer(SshCipherKind.AesCtr, _key, _iv, SshMacKind.HmacSha256, _macKey, etm: true);
        _etmOpener = CipherMacProtection.CreateOpener(SshCipherKind.AesCtr, _key, _iv, SshMacKind.HmacSha256, _macKey, etm: true);
        _mteSealer = CipherMacProtection.CreateSealer(SshCipherKind.AesCtr, _key, _iv, SshMacKind.HmacSha256, _macKey, etm: false);
        _mteOpener = CipherMacProtection.CreateOpener(SshCipherKind.AesCtr, _key, _iv, SshMacKind.HmacSha256, _macKey, etm: false);
        RandomNumberGenerator.Fill(_umacKey);
        MacAlgorithm umac64 = MacAlgorithm.Find("umac-64-etm@openssh.com")!;
        MacAlgorithm umac128 = MacAlgorithm.Find("umac-128-etm@openssh.com")!;
        _umac64Sealer = CipherMacProtection.CreateSealer(SshCipherKind.AesCtr, _key, _iv, umac64, _umacKey);
        _umac64Opener = CipherMacProtection.CreateOpener(SshCipherKind.AesCtr, _key, _iv, umac64, _umacKey);
        _umac128Sealer = CipherMacProtection.CreateSealer(SshCipherKind.AesCtr, _key, _iv, umac128, _umacKey);
        _umac128Opener = CipherMacProtection.CreateOpener(SshCipherKind.AesCtr, _key, _iv, umac128, _umacKey);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ecb.Dispose();
        _aes.Dispose();
        _hmac.Dispose();
        _etmSealer.Dispose();
        _etmOpener.Dispose();
        _mteSealer.Dispose();
        _mteOpener.Dispose();
        _umac64Sealer.Dispose();
        _umac64Opener.Dispose();
        _umac128Sealer.Dispose();
        _umac128Opener.Dispose();
    }

    // --- Seal ---

    [Benchmark(Baseline = true), BenchmarkCategory("Seal")]
    public void RawOneShotSeal()
    {
        Span<byte> body = Packet[4..];
        _aes.EncryptEcb(_counters.AsSpan(0, RoundUp(body.Length)), _keystream, PaddingMode.None);
        Xor(body, _keystream);
        HMACSHA256.HashData(_macKey, _sequenceAndPacket, _mac);
    }

    [Benchmark, BenchmarkCategory("Seal")]
    public void RawReusedSeal()
    {
        Span<byte> body = Packet[4..];
        int n = RoundUp(body.Length);
        _ecb.TransformBlock(_counters, 0, n, _keystream, 0);
        Xor(body, _keystream);
        _hmac.AppendData(_sequenceAndPacket);
        _hmac.TryGetHashAndReset(_mac, out _);
    }

    [Benchmark, BenchmarkCategory("Seal")]
    public void SealEtm() => _etmSealer.Seal(_sequence++, Packet, _mac);

    [Benchmark, BenchmarkCategory("Seal")]
    public void SealEtmUmac64() => _umac64Sealer.Seal(_sequence++, Packet, _mac);

    [Benchmark, BenchmarkCategory("Seal")]
    public void SealEtmUmac128() => _umac128Sealer.Seal(_sequence++, Packet, _mac);

    [Benchmark, BenchmarkCategory("Seal")]
    public void SealMtE()
    {
        // MtE encrypts the length too: restore it so every iteration seals the same plaintext.
        _mteSealer.Seal(_sequence++, Packet, _mac);
        BinaryPrimitives.WriteUInt32BigEndian(Packet, (uint)Length);
    }

    // --- Seal + open ---

    [Benchmark(Baseline = true), BenchmarkCategory("RoundTrip")]
    public bool RawOneShotRoundTrip()
    {
        RawOneShotSeal();
        Span<byte> expected = stackalloc byte[32];
        HMACSHA256.HashData(_macKey, _sequenceAndPacket, expected);
        bool valid = CryptographicOperations.FixedTimeEquals(expected, _mac);
        Span<byte> body = Packet[4..];
        _aes.EncryptEcb(_counters.AsSpan(0, RoundUp(body.Length)), _keystream, PaddingMode.None);
        Xor(body, _keystream);
        return valid;
    }

    [Benchmark, BenchmarkCategory("RoundTrip")]
    public bool RawReusedRoundTrip()
    {
        RawReusedSeal();
        Span<byte> expected = stackalloc byte[32];
        _hmac.AppendData(_sequenceAndPacket);
        _hmac.TryGetHashAndReset(expected, out _);
        bool valid = CryptographicOperations.FixedTimeEquals(expected, _mac);
        Span<byte> body = Packet[4..];
        _ecb.TransformBlock(_counters, 0, RoundUp(body.Length), _keystream, 0);
        Xor(body, _keystream);
        return valid;
    }

    [Benchmark, BenchmarkCategory("RoundTrip")]
    public bool SealOpenEtm()
    {
        uint sequence = _sequence++;
        Span<byte> packet = Packet;
        _etmSealer.Seal(sequence, packet, _mac);
        _etmOpener.DecryptLength(sequence, packet[..4]);
        return _etmOpener.TryOpen(sequence, packet, _mac, packet[4..]);
    }

    [Benchmark, BenchmarkCategory("RoundTrip")]
    public bool SealOpenEtmUmac64() => SealOpen(_umac64Sealer, _umac64Opener);

    [Benchmark, BenchmarkCategory("RoundTrip")]
    public bool SealOpenEtmUmac128() => SealOpen(_umac128Sealer, _umac128Opener);

    private bool SealOpen(PacketSealer sealer, PacketOpener opener)
    {
        uint sequence = _sequence++;
        Span<byte> packet = Packet;
        ReadOnlySpan<byte> tag = _mac.AsSpan(0, sealer.TagSize);
        sealer.Seal(sequence, packet, _mac);
        opener.DecryptLength(sequence, packet[..4]);
        return opener.TryOpen(sequence, packet, tag, packet[4..]);
    }

    [Benchmark, BenchmarkCategory("RoundTrip")]
    public bool SealOpenMtE()
    {
        uint sequence = _sequence++;
        Span<byte> packet = Packet;
        _mteSealer.Seal(sequence, packet, _mac);
        _mteOpener.DecryptLength(sequence, packet[..16]);
        bool valid = _mteOpener.TryOpen(sequence, packet, _mac, packet[4..]);

        // The opener leaves the received (encrypted) length field as it was; restore it for the next iteration.
        BinaryPrimitives.WriteUInt32BigEndian(packet, (uint)Length);
        return valid;
    }

    private static int RoundUp(int length) => (length + 15) & ~15;

    /// <summary>The raw baseline's XOR: a plain 256-bit vector loop (the common width), scalar tail.</summary>
    private static void Xor(Span<byte> data, ReadOnlySpan<byte> keystream)
    {
        int i = 0;
        Span<Vector256<byte>> dataVectors = MemoryMarshal.Cast<byte, Vector256<byte>>(data);
        ReadOnlySpan<Vector256<byte>> keyVectors = MemoryMarshal.Cast<byte, Vector256<byte>>(keystream);
        for (int v = 0; v < dataVectors.Length; v++)
        {
            dataVectors[v] ^= keyVectors[v];
        }

        for (i = dataVectors.Length * Vector256<byte>.Count; i < data.Length; i++)
        {
            data[i] ^= keystream[i];
        }
    }
}
