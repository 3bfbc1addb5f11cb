using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Ssh.Transport.Crypto;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Benchmarks;

/// <summary>
/// The MACs alone on one packet's bytes, as the sealer calls them: hmac-sha2-256 (the BCL's HMAC through a reused
/// IncrementalHash, our SshHmac) as the baseline, UMAC-64 and UMAC-128 with the AVX2 NH loop (the default where the
/// CPU has AVX2) and with the scalar one, which is what decides whether the intrinsics earn their place.
/// </summary>
[MemoryDiagnoser]
public class UmacBenchmarks
{
    private readonly byte[] _tag = new byte[32];
    private byte[] _data = [];
    private SshHmac _hmac = null!;
    private Umac _umac64 = null!;
    private Umac _umac64Scalar = null!;
    private Umac _umac128 = null!;
    private Umac _umac128Scalar = null!;
    private uint _sequence;

    [Params(64, 1024, 32768)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = RandomNumberGenerator.GetBytes(4 + Length);
        _hmac = new SshHmac(SshMacKind.HmacSha256, RandomNumberGenerator.GetBytes(32));
        byte[] key = RandomNumberGenerator.GetBytes(16);
        _umac64 = new Umac(key, 8);
        _umac64Scalar = new Umac(key, 8) { Path = SimdPath.Scalar };
        _umac128 = new Umac(key, 16);
        _umac128Scalar = new Umac(key, 16) { Path = SimdPath.Scalar };
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _hmac.Dispose();
        _umac64.Dispose();
        _umac64Scalar.Dispose();
        _umac128.Dispose();
        _umac128Scalar.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void HmacSha256() => _hmac.Compute(_sequence++, _data, default, _tag);

    [Benchmark]
    public void Umac64() => _umac64.Compute(_sequence++, _data, default, _tag);

    [Benchmark]
    public void Umac64Scalar() => _umac64Scalar.Compute(_sequence++, _data, default, _tag);

    [Benchmark]
    public void Umac128() => _umac128.Compute(_sequence++, _data, default, _tag);

    [Benchmark]
    public void Umac128Scalar() => _umac128Scalar.Compute(_sequence++, _data, default, _tag);
}
