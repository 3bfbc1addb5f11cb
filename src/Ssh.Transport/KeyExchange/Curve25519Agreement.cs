using System.Buffers;
using System.Security.Cryptography;
using Org.BouncyCastle.Math.EC.Rfc7748;

namespace Ssh.Transport.KeyExchange;

/// <summary>
/// curve25519-sha256 (RFC 8731): Q_C and Q_S are 32-byte X25519 public keys (RFC 7748 §5); K is the 32-byte X25519
/// output read as an unsigned big-endian number and encoded as an mpint (RFC 8731 §3.1).
/// </summary>
internal sealed class Curve25519Agreement : KexAgreement, IRawKeyAgreement
{
    /// <summary>The size of X25519 keys and outputs.</summary>
    public const int KeySize = 32;

    private readonly byte[] _privateKey;
    private readonly byte[] _public = new byte[KeySize];
    private bool _computed;

    /// <summary>Creates an agreement with a fresh key.</summary>
    public Curve25519Agreement()
        : this(NewPrivateKey())
    {
    }

    private Curve25519Agreement(byte[] privateKey)
    {
        _privateKey = privateKey;
        X25519.GeneratePublicKey(_privateKey, _public);
    }

    /// <summary>Creates an agreement with a fixed private key (known-answer tests only).</summary>
    /// <param name="privateKey">32 bytes (clamped when used, RFC 7748 §5).</param>
    internal static Curve25519Agreement WithPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(privateKey.Length, KeySize, nameof(privateKey));
        return new Curve25519Agreement(privateKey.ToArray());
    }

    /// <inheritdoc cref="KexAgreement.LocalPublic"/>
    public override ReadOnlyMemory<byte> LocalPublic => _public;

    /// <inheritdoc/>
    public int SecretLength => KeySize;

    /// <inheritdoc/>
    public void DeriveRawSecret(ReadOnlySpan<byte> peerPublic, Span<byte> secret)
    {
        ThrowIfDisposed();
        Agree(_privateKey, peerPublic, secret);
    }

    /// <inheritdoc/>
    public override void ComputeSharedSecret(ReadOnlySpan<byte> peerPublic, IBufferWriter<byte> encodedK)
    {
        ArgumentNullException.ThrowIfNull(encodedK);
        ThrowIfDisposed();
        if (_computed)
        {
            throw new InvalidOperationException("The shared secret has already been computed.");
        }

        _computed = true;
        Span<byte> secret = stackalloc byte[KeySize];
        try
        {
            Agree(_privateKey, peerPublic, secret);
            var writer = new SshWriter(encodedK);
            writer.WriteUnsignedMPInt(secret);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>
    /// X25519(privateKey, peerPublic) into <paramref name="secret"/>, refusing a peer key that is not 32 bytes
    /// (RFC 8731 §3) and an all-zero result from a low-order point (RFC 7748 §6.1, RFC 8731 §3).
    /// </summary>
    internal static void Agree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> peerPublic, Span<byte> secret)
    {
        if (peerPublic.Length != KeySize)
        {
            throw Fail($"The peer's X25519 public key is {peerPublic.Length} bytes, not {KeySize}.");
        }

        // CalculateAgreement returns false for the all-zero output, checked in constant time.
        if (!X25519.CalculateAgreement(privateKey, peerPublic, secret))
        {
            throw Fail("The X25519 shared secret is all zeros: the peer sent a low-order point.");
        }
    }

    /// <summary>A fresh random X25519 private key.</summary>
    internal static byte[] NewPrivateKey()
    {
        byte[] key = new byte[KeySize];
        RandomNumberGenerator.Fill(key);
        return key;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => CryptographicOperations.ZeroMemory(_privateKey);
}
