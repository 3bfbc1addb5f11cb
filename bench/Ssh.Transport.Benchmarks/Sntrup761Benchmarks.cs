using BenchmarkDotNet.Attributes;
using Org.BouncyCastle.Pqc.Crypto.NtruPrime;
using Org.BouncyCastle.Security;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport.Benchmarks;

/// <summary>
/// sntrup761's three operations, ours beside BouncyCastle's (the baseline: what we used before): key generation is the
/// client's cost in sntrup761x25519-sha512, encapsulation the server's, decapsulation the client's second step.
/// </summary>
[MemoryDiagnoser]
public class Sntrup761Benchmarks
{
    private readonly byte[] _publicKey = new byte[Sntrup761.PublicKeyLength];
    private readonly byte[] _secretKey = new byte[Sntrup761.SecretKeyLength];
    private readonly byte[] _ciphertext = new byte[Sntrup761.CiphertextLength];
    private readonly byte[] _secret = new byte[Sntrup761.SecretLength];
    private readonly SecureRandom _random = new();
    private SNtruPrimePublicKeyParameters _bcPublic = null!;
    private SNtruPrimeKemExtractor _bcExtractor = null!;

    [GlobalSetup]
    public void Setup()
    {
        Sntrup761.GenerateKeyPair(_publicKey, _secretKey, Sntrup761.SystemRandom);
        Sntrup761.Encapsulate(_publicKey, _ciphertext, _secret, Sntrup761.SystemRandom);
        _bcPublic = new SNtruPrimePublicKeyParameters(SNtruPrimeParameters.sntrup761, _publicKey);
        _bcExtractor = new SNtruPrimeKemExtractor(new SNtruPrimePrivateKeyParameters(SNtruPrimeParameters.sntrup761, _secretKey));
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Encapsulate")]
    public byte[] EncapsulateBouncyCastle()
    {
        using var result = new SNtruPrimeKemGenerator(_random).GenerateEncapsulated(_bcPublic);
        return result.GetEncapsulation();
    }

    [Benchmark]
    [BenchmarkCategory("Encapsulate")]
    public byte[] EncapsulateOurs()
    {
        Sntrup761.Encapsulate(_publicKey, _ciphertext, _secret, Sntrup761.SystemRandom);
        return _ciphertext;
    }

    [Benchmark]
    [BenchmarkCategory("Decapsulate")]
    public byte[] DecapsulateBouncyCastle() => _bcExtractor.ExtractSecret(_ciphertext);

    [Benchmark]
    [BenchmarkCategory("Decapsulate")]
    public byte[] DecapsulateOurs()
    {
        Sntrup761.Decapsulate(_ciphertext, _secretKey, _secret);
        return _secret;
    }

    [Benchmark]
    [BenchmarkCategory("KeyPair")]
    public object KeyPairBouncyCastle()
    {
        var generator = new SNtruPrimeKeyPairGenerator();
        generator.Init(new SNtruPrimeKeyGenerationParameters(_random, SNtruPrimeParameters.sntrup761));
        return generator.GenerateKeyPair();
    }

    [Benchmark]
    [BenchmarkCategory("KeyPair")]
    public byte[] KeyPairOurs()
    {
        Sntrup761.GenerateKeyPair(_publicKey, _secretKey, Sntrup761.SystemRandom);
        return _publicKey;
    }
}
