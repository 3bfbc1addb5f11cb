using System.Security.Cryptography;
using System.Text;

namespace Ssh.Transport.HostKeys;

/// <summary>
/// An ECDSA public key (RFC 5656 §3.1): string "ecdsa-sha2-[identifier]", string [identifier], string Q.
/// </summary>
internal sealed class EcdsaPublicKeyParameters : PublicKeyParameters
{
    private EcdsaPublicKeyParameters(EcdsaCurve curve, byte[] x, byte[] y)
    {
        Curve = curve;
        X = x;
        Y = y;
    }

    public EcdsaCurve Curve { get; }

    /// <summary>The x coordinate, <see cref="EcdsaCurve.FieldSize"/> bytes.</summary>
    public byte[] X { get; }

    /// <summary>The y coordinate, <see cref="EcdsaCurve.FieldSize"/> bytes.</summary>
    public byte[] Y { get; }

    public override string KeyType => Curve.KeyType;

    public override int KeySize => Curve.KeySize;

    /// <summary>Reads the fields after the key type.</summary>
    public static EcdsaPublicKeyParameters Read(ReadOnlySpan<byte> keyType, ref SshReader reader)
    {
        EcdsaCurve curve = EcdsaCurve.FromKeyType(Encoding.ASCII.GetString(keyType)) ?? throw Unsupported(keyType);
        ReadOnlySpan<byte> identifier = reader.ReadString();
        if (!identifier.SequenceEqual(Encoding.ASCII.GetBytes(curve.Identifier)))
        {
            // RFC 5656 §3.1: the identifier must match the curve of the key type.
            throw Invalid($"Curve '{Printable(identifier)}' in a {curve.KeyType} key.");
        }

        return Create(curve, reader.ReadString());
    }

    /// <summary>Validates an encoded point Q (SEC 1 §2.3.3, uncompressed form only, as OpenSSH requires).</summary>
    public static EcdsaPublicKeyParameters Create(EcdsaCurve curve, ReadOnlySpan<byte> q)
    {
        int size = curve.FieldSize;
        if (q.Length != 1 + 2 * size || q[0] != 0x04)
        {
            throw Invalid($"The {curve.Identifier} point is not an uncompressed point of {1 + 2 * size} bytes.");
        }

        var key = new EcdsaPublicKeyParameters(curve, q.Slice(1, size).ToArray(), q.Slice(1 + size, size).ToArray());
        try
        {
            // The import checks that the coordinates are field elements and the point lies on the curve.
            using ECDsa ecdsa = key.CreateEcdsa();
        }
        catch (CryptographicException e)
        {
            throw Invalid($"The {curve.Identifier} point is not on the curve.", e);
        }

        return key;
    }

    /// <summary>Writes Q: 0x04 || X || Y.</summary>
    public byte[] GetEncodedPoint()
    {
        var q = new byte[1 + X.Length + Y.Length];
        q[0] = 0x04;
        X.CopyTo(q, 1);
        Y.CopyTo(q, 1 + X.Length);
        return q;
    }

    public override bool Verify(string signatureAlgorithm, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        // RFC 5656 §3.1.2: the signature is string(mpint r || mpint s), and nothing after.
        int size = Curve.FieldSize;
        Span<byte> fixedSize = stackalloc byte[2 * size];
        fixedSize.Clear();
        try
        {
            var reader = new SshReader(signature);
            ReadOnlySpan<byte> r = reader.ReadUnsignedMPInt();
            ReadOnlySpan<byte> s = reader.ReadUnsignedMPInt();
            if (!reader.End || !Curve.IsValidScalar(r) || !Curve.IsValidScalar(s))
            {
                return false;
            }

            r.CopyTo(fixedSize[(size - r.Length)..size]);
            s.CopyTo(fixedSize[(2 * size - s.Length)..]);
        }
        catch (SshProtocolException)
        {
            return false;
        }

        try
        {
            using ECDsa ecdsa = CreateEcdsa();
            return ecdsa.VerifyData(data, fixedSize, Curve.Hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private ECDsa CreateEcdsa() => ECDsa.Create(new ECParameters
    {
        Curve = Curve.Curve,
        Q = new ECPoint { X = X, Y = Y },
    });
}
