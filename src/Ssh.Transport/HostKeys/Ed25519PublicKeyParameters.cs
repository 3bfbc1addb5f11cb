using Org.BouncyCastle.Math.EC.Rfc8032;

namespace Ssh.Transport.HostKeys;

/// <summary>
/// An Ed25519 public key (RFC 8709 §4): string "ssh-ed25519", string key (32 bytes).
/// </summary>
internal sealed class Ed25519PublicKeyParameters : PublicKeyParameters
{
    public const int KeyLength = 32;
    public const int SignatureLength = 64;

    private readonly Ed25519.PublicPoint _point;

    private Ed25519PublicKeyParameters(byte[] key, Ed25519.PublicPoint point)
    {
        Key = key;
        _point = point;
    }

    /// <summary>The encoded point A (RFC 8032 §5.1.5).</summary>
    public byte[] Key { get; }

    public override string KeyType => SshHostKeyAlgorithms.Ed25519;

    public override int KeySize => 256;

    /// <summary>Reads the fields after the key type.</summary>
    public static Ed25519PublicKeyParameters Read(ref SshReader reader)
    {
        ReadOnlySpan<byte> key = reader.ReadString();
        if (key.Length != KeyLength)
        {
            throw Invalid($"An Ed25519 key is {KeyLength} bytes, not {key.Length}.");
        }

        return Create(key);
    }

    /// <summary>Validates an encoded point.</summary>
    public static Ed25519PublicKeyParameters Create(ReadOnlySpan<byte> key)
    {
        // Full validation: a canonical encoding of a point of the prime-order subgroup, not of small order. No honest
        // key fails it, and it closes the door on keys for which many messages verify.
        Ed25519.PublicPoint? point = Ed25519.ValidatePublicKeyFullExport(key);
        if (point is null)
        {
            throw Invalid("The Ed25519 key is not a valid point of the prime-order subgroup.");
        }

        return new Ed25519PublicKeyParameters(key.ToArray(), point);
    }

    public override bool Verify(string signatureAlgorithm, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        // RFC 8709 §6: the signature is exactly 64 bytes. RFC 8032 §5.1.7 verification as BouncyCastle implements it:
        // S < L, R a canonical encoding, and [S]B = R + [k]A checked on the encodings.
        return signature.Length == SignatureLength && Ed25519.Verify(signature, _point, data);
    }
}
