using System.Diagnostics;
using System.Security.Cryptography;

namespace Ssh.Transport.HostKeys;

/// <summary>One of the three curves of RFC 5656 §10.1 that SSH uses, and what goes with it.</summary>
internal sealed class EcdsaCurve
{
    private EcdsaCurve(string keyType, string identifier, ECCurve curve, int fieldSize, HashAlgorithmName hash, string orderHex)
    {
        Curve = curve;
        KeyType = keyType;
        Identifier = identifier;
        Oid = curve.Oid.Value!;
        FieldSize = fieldSize;
        Hash = hash;
        Order = Convert.FromHexString(orderHex);
        Debug.Assert(Order.Length == fieldSize, "The order is written with as many bytes as a field element.");
    }

    /// <summary>P-256: SHA-256 (RFC 5656 §6.2.1).</summary>
    public static EcdsaCurve NistP256 { get; } = new(
        SshHostKeyAlgorithms.EcdsaNistP256, "nistp256", ECCurve.NamedCurves.nistP256, 32, HashAlgorithmName.SHA256,
        "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");

    /// <summary>P-384: SHA-384.</summary>
    public static EcdsaCurve NistP384 { get; } = new(
        SshHostKeyAlgorithms.EcdsaNistP384, "nistp384", ECCurve.NamedCurves.nistP384, 48, HashAlgorithmName.SHA384,
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973");

    /// <summary>P-521: SHA-512.</summary>
    public static EcdsaCurve NistP521 { get; } = new(
        SshHostKeyAlgorithms.EcdsaNistP521, "nistp521", ECCurve.NamedCurves.nistP521, 66, HashAlgorithmName.SHA512,
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409");

    /// <summary>"ecdsa-sha2-" followed by <see cref="Identifier"/>.</summary>
    public string KeyType { get; }

    /// <summary>The curve identifier inside the public key blob, e.g. "nistp256".</summary>
    public string Identifier { get; }

    /// <summary>The curve's ASN.1 object identifier (SEC 2).</summary>
    public string Oid { get; }

    /// <summary>Bytes in one field element (a coordinate), and in r or s of a fixed-size signature.</summary>
    public int FieldSize { get; }

    /// <summary>Key size in bits, as ssh-keygen -l shows it.</summary>
    public int KeySize => Identifier switch { "nistp256" => 256, "nistp384" => 384, _ => 521 };

    /// <summary>The hash RFC 5656 §6.2.1 assigns by curve size.</summary>
    public HashAlgorithmName Hash { get; }

    /// <summary>The group order n, big-endian, <see cref="FieldSize"/> bytes: r and s lie in [1, n-1].</summary>
    public byte[] Order { get; }

    /// <summary>The BCL curve.</summary>
    public ECCurve Curve { get; }

    /// <summary>The curve for a key type, or null.</summary>
    public static EcdsaCurve? FromKeyType(ReadOnlySpan<char> keyType) => keyType switch
    {
        SshHostKeyAlgorithms.EcdsaNistP256 => NistP256,
        SshHostKeyAlgorithms.EcdsaNistP384 => NistP384,
        SshHostKeyAlgorithms.EcdsaNistP521 => NistP521,
        _ => null,
    };

    /// <summary>The curve for an object identifier, or null.</summary>
    public static EcdsaCurve? FromOid(string? oid) => oid switch
    {
        "1.2.840.10045.3.1.7" => NistP256,
        "1.3.132.0.34" => NistP384,
        "1.3.132.0.35" => NistP521,
        _ => null,
    };

    /// <summary>True when <paramref name="magnitude"/> (big-endian, no leading zeros) lies in [1, n-1].</summary>
    public bool IsValidScalar(ReadOnlySpan<byte> magnitude)
    {
        if (magnitude.IsEmpty || magnitude.Length > FieldSize)
        {
            return false;
        }

        Span<byte> padded = stackalloc byte[FieldSize];
        padded.Clear();
        magnitude.CopyTo(padded[(FieldSize - magnitude.Length)..]);
        return padded.SequenceCompareTo(Order) < 0;
    }
}
