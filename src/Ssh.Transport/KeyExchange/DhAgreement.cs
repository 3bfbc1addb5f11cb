using System.Buffers;
using System.Numerics;
using System.Security.Cryptography;

namespace Ssh.Transport.KeyExchange;

/// <summary>
/// Finite-field Diffie-Hellman (RFC 4253 §8, RFC 4419 §3): e = g^x mod p, K = f^x mod p, K encoded as an mpint.
/// Client and server are symmetric: each sends its public value and raises the peer's to its private exponent.
/// </summary>
internal sealed class DhAgreement : KexAgreement
{
    private readonly DhGroup _group;
    private readonly byte[] _privateKey;
    private readonly byte[] _public;
    private bool _computed;

    /// <summary>Creates an agreement with a fresh random exponent of <paramref name="exponentBits"/> bits.</summary>
    /// <param name="group">The group.</param>
    /// <param name="exponentBits">The size of x: at least twice the security strength wanted; capped below p's size.</param>
    public DhAgreement(DhGroup group, int exponentBits)
        : this(group, GeneratePrivateKey(group, exponentBits))
    {
    }

    private DhAgreement(DhGroup group, byte[] privateKey)
    {
        _group = group;
        _privateKey = privateKey;
        var x = new BigInteger(privateKey, isUnsigned: true, isBigEndian: true);
        if (x <= BigInteger.One || x >= group.PMinusOne)
        {
            CryptographicOperations.ZeroMemory(privateKey);
            throw new ArgumentException("The private exponent must be in (1, p-1).", nameof(privateKey));
        }

        _public = BigInteger.ModPow(group.G, x, group.P).ToByteArray(isUnsigned: true, isBigEndian: true);
    }

    /// <summary>Creates an agreement with a fixed exponent (known-answer tests only).</summary>
    /// <param name="group">The group.</param>
    /// <param name="privateKey">x, unsigned big-endian; must satisfy 1 &lt; x &lt; p-1.</param>
    internal static DhAgreement WithPrivateKey(DhGroup group, ReadOnlySpan<byte> privateKey) => new(group, privateKey.ToArray());

    /// <summary>The group in use.</summary>
    public DhGroup Group => _group;

    /// <inheritdoc/>
    public override ReadOnlyMemory<byte> LocalPublic => _public;

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

        // RFC 4253 §8: values of e or f outside [1, p-1] must not be accepted; 1 and p-1 are refused too, as they
        // confine K to {1, p-1} (RFC 8270 §4 and OpenSSH's dh_pub_is_valid).
        int first = peerPublic.IndexOfAnyExcept((byte)0);
        peerPublic = first < 0 ? [] : peerPublic[first..];
        if (peerPublic.Length > _group.PMagnitude.Length)
        {
            throw Fail("The peer's Diffie-Hellman value is larger than p.");
        }

        var y = new BigInteger(peerPublic, isUnsigned: true, isBigEndian: true);
        if (y <= BigInteger.One || y >= _group.PMinusOne)
        {
            throw Fail("The peer's Diffie-Hellman value is not in (1, p-1).");
        }

        var x = new BigInteger(_privateKey, isUnsigned: true, isBigEndian: true);
        BigInteger k = BigInteger.ModPow(y, x, _group.P);
        if (k <= BigInteger.One)
        {
            throw Fail("The Diffie-Hellman shared secret is degenerate.");
        }

        int length = k.GetByteCount(isUnsigned: true);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            k.TryWriteBytes(buffer, out int written, isUnsigned: true, isBigEndian: true);
            var writer = new SshWriter(encodedK);
            writer.WriteUnsignedMPInt(buffer.AsSpan(0, written));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer.AsSpan(0, length));
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => CryptographicOperations.ZeroMemory(_privateKey);

    /// <summary>A random x of exactly <paramref name="exponentBits"/> bits (top bit set), capped below p's size.</summary>
    private static byte[] GeneratePrivateKey(DhGroup group, int exponentBits)
    {
        int bits = Math.Min(exponentBits, group.Bits - 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bits, 64, nameof(exponentBits));
        byte[] x = new byte[(bits + 7) / 8];
        RandomNumberGenerator.Fill(x);
        int topBits = bits - ((x.Length - 1) * 8);
        x[0] &= (byte)((1 << topBits) - 1);
        x[0] |= (byte)(1 << (topBits - 1));
        return x;
    }
}
