using System.Buffers;
using System.Security.Cryptography;
using Org.BouncyCastle.Math.EC.Rfc8032;

namespace Ssh.Transport.HostKeys;

/// <summary>An Ed25519 private key: the 32-byte seed of RFC 8032 §5.1.5 and its public key.</summary>
internal sealed class Ed25519PrivateKey : PrivateKey
{
    public const int SeedLength = 32;

    private static readonly string[] s_algorithms = [SshHostKeyAlgorithms.Ed25519];

    private readonly byte[] _seed;
    private readonly byte[] _publicKey;

    private Ed25519PrivateKey(byte[] seed)
    {
        _seed = seed;
        _publicKey = new byte[Ed25519PublicKeyParameters.KeyLength];
        Ed25519.GeneratePublicKey(_seed.AsSpan(), _publicKey.AsSpan());

        var blob = new ArrayBufferWriter<byte>(64);
        var writer = new SshWriter(blob);
        writer.WriteString(SshHostKeyAlgorithms.Ed25519);
        writer.WriteString(_publicKey);
        PublicKey = SshPublicKey.FromTrustedBlob(blob.WrittenSpan.ToArray());
    }

    public override SshPublicKey PublicKey { get; }

    public override IReadOnlyList<string> SignatureAlgorithms => s_algorithms;

    public override int MaxSignatureSize => Ed25519PublicKeyParameters.SignatureLength;

    public static Ed25519PrivateKey Generate()
    {
        var seed = new byte[SeedLength];
        RandomNumberGenerator.Fill(seed);
        return new Ed25519PrivateKey(seed);
    }

    /// <summary>Creates the key from its seed (copied), checking it against an expected public key if one is given.</summary>
    /// <exception cref="FormatException">The seed has the wrong length or does not match the public key.</exception>
    public static Ed25519PrivateKey FromSeed(ReadOnlySpan<byte> seed, ReadOnlySpan<byte> expectedPublicKey = default)
    {
        if (seed.Length != SeedLength)
        {
            throw new FormatException($"An Ed25519 private key is a {SeedLength}-byte seed, not {seed.Length} bytes.");
        }

        var key = new Ed25519PrivateKey(seed.ToArray());
        if (!expectedPublicKey.IsEmpty && !expectedPublicKey.SequenceEqual(key._publicKey))
        {
            key.Dispose();
            throw new FormatException("The Ed25519 private key does not match its public key.");
        }

        return key;
    }

    public override int Sign(string signatureAlgorithm, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        // Pure Ed25519 (RFC 8709 §6), with the public key passed in so that it is not derived again. Spans all round:
        // an overload with a byte[] in second place takes an Ed25519ctx context instead.
        ReadOnlySpan<byte> seed = _seed;
        ReadOnlySpan<byte> publicKey = _publicKey;
        Ed25519.Sign(seed, publicKey, data, destination[..Ed25519PublicKeyParameters.SignatureLength]);
        return Ed25519PublicKeyParameters.SignatureLength;
    }

    public override void WriteOpenSshPrivateFields(IBufferWriter<byte> output)
    {
        // PROTOCOL.key / sshkey.c: string public key (32), string seed || public key (64).
        var writer = new SshWriter(output);
        writer.WriteString(_publicKey);
        Span<byte> secret = stackalloc byte[SeedLength + Ed25519PublicKeyParameters.KeyLength];
        try
        {
            _seed.CopyTo(secret);
            _publicKey.CopyTo(secret[SeedLength..]);
            writer.WriteString(secret);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    public override void Dispose() => CryptographicOperations.ZeroMemory(_seed);
}
