using System.Buffers;
using System.Security.Cryptography;

namespace Ssh.Transport.HostKeys;

/// <summary>An ECDSA private key on one of the curves of RFC 5656, held by the BCL.</summary>
internal sealed class EcdsaPrivateKey : PrivateKey
{
    private readonly ECDsa _ecdsa;
    private readonly EcdsaCurve _curve;
    private readonly string[] _algorithms;

    private EcdsaPrivateKey(ECDsa ecdsa, EcdsaCurve curve, byte[] x, byte[] y)
    {
        _ecdsa = ecdsa;
        _curve = curve;
        _algorithms = [curve.KeyType];

        var q = new byte[1 + x.Length + y.Length];
        q[0] = 0x04;
        x.CopyTo(q, 1);
        y.CopyTo(q, 1 + x.Length);
        var blob = new ArrayBufferWriter<byte>(q.Length + 48);
        var writer = new SshWriter(blob);
        writer.WriteString(curve.KeyType);
        writer.WriteString(curve.Identifier);
        writer.WriteString(q);
        PublicKey = SshPublicKey.FromTrustedBlob(blob.WrittenSpan.ToArray());
    }

    public override SshPublicKey PublicKey { get; }

    public override IReadOnlyList<string> SignatureAlgorithms => _algorithms;

    // string(mpint r || mpint s): each mpint is a length, a possible zero byte, and at most FieldSize bytes.
    public override int MaxSignatureSize => 2 * (4 + 1 + _curve.FieldSize);

    public static EcdsaPrivateKey Generate(EcdsaCurve curve) => Wrap(ECDsa.Create(curve.Curve));

    /// <summary>
    /// Takes ownership of <paramref name="ecdsa"/>, which must hold a private key on one of the SSH curves.
    /// </summary>
    /// <exception cref="NotSupportedException">The key is on another curve.</exception>
    public static EcdsaPrivateKey Wrap(ECDsa ecdsa)
    {
        try
        {
            ECParameters parameters = ecdsa.ExportParameters(includePrivateParameters: false);
            EcdsaCurve curve = FindCurve(parameters.Curve)
                ?? throw new NotSupportedException("The ECDSA key is not on nistp256, nistp384 or nistp521, the curves SSH uses.");
            return new EcdsaPrivateKey(ecdsa, curve, parameters.Q.X!, parameters.Q.Y!);
        }
        catch
        {
            ecdsa.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates the key from the fields of an openssh-key-v1 file: the point Q and the private scalar d (magnitude).
    /// </summary>
    /// <exception cref="FormatException">The values are invalid or d does not match Q.</exception>
    public static EcdsaPrivateKey FromOpenSsh(EcdsaCurve curve, ReadOnlySpan<byte> q, ReadOnlySpan<byte> d)
    {
        int size = curve.FieldSize;
        if (q.Length != 1 + 2 * size || q[0] != 0x04 || !curve.IsValidScalar(d))
        {
            throw new FormatException($"The {curve.Identifier} private key is out of range.");
        }

        var parameters = new ECParameters
        {
            Curve = curve.Curve,
            Q = new ECPoint { X = q.Slice(1, size).ToArray(), Y = q.Slice(1 + size, size).ToArray() },
            D = new byte[size],
        };
        d.CopyTo(parameters.D.AsSpan(size - d.Length));
        var ecdsa = ECDsa.Create();
        try
        {
            // The import checks that Q lies on the curve and equals d·G.
            ecdsa.ImportParameters(parameters);
        }
        catch (CryptographicException e)
        {
            ecdsa.Dispose();
            throw new FormatException($"The {curve.Identifier} private key does not match its public key.", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(parameters.D);
        }

        return new EcdsaPrivateKey(ecdsa, curve, parameters.Q.X, parameters.Q.Y);
    }

    public override int Sign(string signatureAlgorithm, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        int size = _curve.FieldSize;
        Span<byte> fixedSize = stackalloc byte[2 * size];
        if (!_ecdsa.TrySignData(data, fixedSize, _curve.Hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out int written)
            || written != fixedSize.Length)
        {
            throw new CryptographicException("ECDSA signing failed.");
        }

        // RFC 5656 §3.1.2: mpint r, mpint s.
        int length = WriteUnsignedMPInt(destination, fixedSize[..size]);
        length += WriteUnsignedMPInt(destination[length..], fixedSize[size..]);
        return length;
    }

    public override void WriteOpenSshPrivateFields(IBufferWriter<byte> output)
    {
        // sshkey.c: string curve identifier, string Q, mpint d.
        ECParameters parameters = _ecdsa.ExportParameters(includePrivateParameters: true);
        try
        {
            var reader = new SshReader(PublicKey.Blob.Span);
            reader.ReadString();
            var writer = new SshWriter(output);
            writer.WriteString(reader.ReadString());
            writer.WriteString(reader.ReadString());
            writer.WriteUnsignedMPInt(parameters.D);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(parameters.D);
        }
    }

    public override void Dispose() => _ecdsa.Dispose();

    private static EcdsaCurve? FindCurve(ECCurve curve)
    {
        if (!curve.IsNamed || curve.Oid is null)
        {
            return null;
        }

        return EcdsaCurve.FromOid(curve.Oid.Value) ?? curve.Oid.FriendlyName switch
        {
            "nistP256" or "ECDSA_P256" or "secp256r1" or "prime256v1" => EcdsaCurve.NistP256,
            "nistP384" or "ECDSA_P384" or "secp384r1" => EcdsaCurve.NistP384,
            "nistP521" or "ECDSA_P521" or "secp521r1" => EcdsaCurve.NistP521,
            _ => null,
        };
    }
}
