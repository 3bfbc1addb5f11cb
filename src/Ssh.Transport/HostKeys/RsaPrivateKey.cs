using System.Buffers;
using System.Numerics;
using System.Security.Cryptography;

namespace Ssh.Transport.HostKeys;

/// <summary>An RSA private key, held by the BCL; signs with PKCS#1 v1.5 (RFC 8332).</summary>
internal sealed class RsaPrivateKey : PrivateKey
{
    /// <summary>The smallest key <see cref="SshPrivateKey.Generate(SshHostKeyType, int)"/> makes.</summary>
    public const int MinimumGeneratedKeySize = 2048;

    /// <summary>The size <see cref="SshPrivateKey.Generate(SshHostKeyType)"/> makes, as ssh-keygen does.</summary>
    public const int DefaultKeySize = 3072;

    // RFC 8332 §3.3: the SHA-2 algorithms first; ssh-rsa (SHA-1) last, used only when explicitly allowed.
    private static readonly string[] s_algorithms =
        [SshHostKeyAlgorithms.RsaSha512, SshHostKeyAlgorithms.RsaSha256, SshHostKeyAlgorithms.RsaSha1];

    private readonly RSA _rsa;
    private readonly int _modulusLength;

    private RsaPrivateKey(RSA rsa, byte[] exponent, byte[] modulus)
    {
        _rsa = rsa;
        var blob = new ArrayBufferWriter<byte>(modulus.Length + 32);
        var writer = new SshWriter(blob);
        writer.WriteString(SshHostKeyAlgorithms.Rsa);
        writer.WriteUnsignedMPInt(exponent);
        writer.WriteUnsignedMPInt(modulus);
        PublicKey = SshPublicKey.FromTrustedBlob(blob.WrittenSpan.ToArray());
        _modulusLength = ((RsaPublicKeyParameters)PublicKey.Parameters).Modulus.Length;
    }

    public override SshPublicKey PublicKey { get; }

    public override IReadOnlyList<string> SignatureAlgorithms => s_algorithms;

    public override int MaxSignatureSize => _modulusLength;

    public static RsaPrivateKey Generate(int keySizeInBits) => Wrap(RSA.Create(keySizeInBits));

    /// <summary>Takes ownership of <paramref name="rsa"/>, which must hold a private key.</summary>
    /// <exception cref="NotSupportedException">The key is smaller than 1024 or larger than 16384 bits.</exception>
    public static RsaPrivateKey Wrap(RSA rsa)
    {
        try
        {
            RSAParameters parameters = rsa.ExportParameters(includePrivateParameters: false);
            int bits = RsaPublicKeyParameters.BitLength(parameters.Modulus.AsSpan().TrimStart((byte)0));
            if (bits < RsaPublicKeyParameters.MinimumKeySize || bits > RsaPublicKeyParameters.MaximumKeySize)
            {
                throw new NotSupportedException(
                    $"RSA keys of {bits} bits are not supported: SSH needs {RsaPublicKeyParameters.MinimumKeySize} to {RsaPublicKeyParameters.MaximumKeySize} bits.");
            }

            return new RsaPrivateKey(rsa, parameters.Exponent!.AsSpan().TrimStart((byte)0).ToArray(), parameters.Modulus!.AsSpan().TrimStart((byte)0).ToArray());
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates the key from the fields of an openssh-key-v1 file (magnitudes): n, e, d, iqmp, p, q.
    /// </summary>
    /// <exception cref="FormatException">The numbers do not form an RSA key.</exception>
    /// <exception cref="NotSupportedException">The key size is out of range.</exception>
    public static RsaPrivateKey FromOpenSsh(ReadOnlySpan<byte> n, ReadOnlySpan<byte> e, ReadOnlySpan<byte> d,
        ReadOnlySpan<byte> iqmp, ReadOnlySpan<byte> p, ReadOnlySpan<byte> q)
    {
        if (n.IsEmpty || e.IsEmpty || d.IsEmpty || iqmp.IsEmpty || p.IsEmpty || q.IsEmpty)
        {
            throw new FormatException("An RSA private key number is zero.");
        }

        // The BCL wants the CRT exponents too: dP = d mod (p-1), dQ = d mod (q-1). BigInteger cannot be zeroed; the
        // values live only until the next collection.
        var bn = new BigInteger(n, isUnsigned: true, isBigEndian: true);
        var bd = new BigInteger(d, isUnsigned: true, isBigEndian: true);
        var bp = new BigInteger(p, isUnsigned: true, isBigEndian: true);
        var bq = new BigInteger(q, isUnsigned: true, isBigEndian: true);
        if (bp * bq != bn || bp <= BigInteger.One || bq <= BigInteger.One)
        {
            throw new FormatException("The RSA private key is inconsistent: p·q is not n.");
        }

        int half = (n.Length + 1) / 2;
        if (p.Length > half || q.Length > half || iqmp.Length > half || d.Length > n.Length)
        {
            throw new FormatException("The RSA private key numbers are out of range.");
        }

        var parameters = new RSAParameters
        {
            Modulus = n.ToArray(),
            Exponent = e.ToArray(),
            D = Pad(d, n.Length),
            P = Pad(p, half),
            Q = Pad(q, half),
            DP = PadAndClear(ToBytes(bd % (bp - 1)), half),
            DQ = PadAndClear(ToBytes(bd % (bq - 1)), half),
            InverseQ = Pad(iqmp, half),
        };
        var rsa = RSA.Create();
        try
        {
            rsa.ImportParameters(parameters);
        }
        catch (CryptographicException ex)
        {
            rsa.Dispose();
            throw new FormatException("The RSA private key is invalid.", ex);
        }
        finally
        {
            Clear(parameters);
        }

        return Wrap(rsa);
    }

    public override int Sign(string signatureAlgorithm, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        HashAlgorithmName hash = RsaPublicKeyParameters.GetHash(signatureAlgorithm)
            ?? throw new ArgumentException($"'{signatureAlgorithm}' is not an RSA signature algorithm.", nameof(signatureAlgorithm));
        if (!_rsa.TrySignData(data, destination[.._modulusLength], hash, RSASignaturePadding.Pkcs1, out int written) || written != _modulusLength)
        {
            throw new CryptographicException("RSA signing failed.");
        }

        return written;
    }

    public override void WriteOpenSshPrivateFields(IBufferWriter<byte> output)
    {
        // sshkey.c: mpint n, mpint e, mpint d, mpint iqmp, mpint p, mpint q.
        RSAParameters parameters = _rsa.ExportParameters(includePrivateParameters: true);
        try
        {
            var writer = new SshWriter(output);
            writer.WriteUnsignedMPInt(parameters.Modulus);
            writer.WriteUnsignedMPInt(parameters.Exponent);
            writer.WriteUnsignedMPInt(parameters.D);
            writer.WriteUnsignedMPInt(parameters.InverseQ);
            writer.WriteUnsignedMPInt(parameters.P);
            writer.WriteUnsignedMPInt(parameters.Q);
        }
        finally
        {
            Clear(parameters);
        }
    }

    public override void Dispose() => _rsa.Dispose();

    private static byte[] Pad(ReadOnlySpan<byte> magnitude, int length)
    {
        var result = new byte[length];
        magnitude.CopyTo(result.AsSpan(length - magnitude.Length));
        return result;
    }

    private static byte[] PadAndClear(byte[] magnitude, int length)
    {
        byte[] result = Pad(magnitude, length);
        CryptographicOperations.ZeroMemory(magnitude);
        return result;
    }

    private static byte[] ToBytes(BigInteger value) => value.ToByteArray(isUnsigned: true, isBigEndian: true);

    private static void Clear(RSAParameters parameters)
    {
        CryptographicOperations.ZeroMemory(parameters.D);
        CryptographicOperations.ZeroMemory(parameters.P);
        CryptographicOperations.ZeroMemory(parameters.Q);
        CryptographicOperations.ZeroMemory(parameters.DP);
        CryptographicOperations.ZeroMemory(parameters.DQ);
        CryptographicOperations.ZeroMemory(parameters.InverseQ);
    }
}
