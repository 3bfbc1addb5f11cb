using System.Security.Cryptography;

namespace Ssh.Transport.HostKeys;

/// <summary>
/// An RSA public key (RFC 4253 §6.6): string "ssh-rsa", mpint e, mpint n.
/// </summary>
internal sealed class RsaPublicKeyParameters : PublicKeyParameters
{
    /// <summary>The smallest modulus accepted, in bits, as in OpenSSH (SSH_RSA_MINIMUM_MODULUS_SIZE).</summary>
    public const int MinimumKeySize = 1024;

    /// <summary>The largest modulus accepted, in bits, as in OpenSSH (SSHBUF_MAX_BIGNUM).</summary>
    public const int MaximumKeySize = 16384;

    private RsaPublicKeyParameters(byte[] exponent, byte[] modulus, int keySize)
    {
        Exponent = exponent;
        Modulus = modulus;
        KeySize = keySize;
    }

    /// <summary>e, big-endian, no leading zeros.</summary>
    public byte[] Exponent { get; }

    /// <summary>n, big-endian, no leading zeros.</summary>
    public byte[] Modulus { get; }

    public override string KeyType => SshHostKeyAlgorithms.Rsa;

    public override int KeySize { get; }

    /// <summary>Reads the fields after the key type.</summary>
    public static RsaPublicKeyParameters Read(ref SshReader reader)
    {
        ReadOnlySpan<byte> e = ReadCanonicalPositiveMPInt(ref reader, "RSA exponent");
        ReadOnlySpan<byte> n = ReadCanonicalPositiveMPInt(ref reader, "RSA modulus");
        return Create(e, n);
    }

    /// <summary>Validates e and n (unsigned big-endian magnitudes without leading zeros).</summary>
    public static RsaPublicKeyParameters Create(ReadOnlySpan<byte> e, ReadOnlySpan<byte> n)
    {
        int bits = BitLength(n);
        if (bits < MinimumKeySize || bits > MaximumKeySize)
        {
            throw new SshProtocolException(SshDisconnectReason.KeyExchangeFailed,
                $"RSA keys of {bits} bits are not accepted: the modulus must have {MinimumKeySize} to {MaximumKeySize} bits.");
        }

        if ((n[^1] & 1) == 0 || (e[^1] & 1) == 0 || (e.Length == 1 && e[0] < 3) || e.Length > n.Length)
        {
            throw Invalid("The RSA exponent or modulus is out of range.");
        }

        var key = new RsaPublicKeyParameters(e.ToArray(), n.ToArray(), bits);
        try
        {
            using RSA rsa = key.CreateRsa();
        }
        catch (CryptographicException ex)
        {
            throw Invalid("The RSA key is not usable.", ex);
        }

        return key;
    }

    /// <summary>The hash of an RSA signature algorithm, or null for a name that is not one.</summary>
    public static HashAlgorithmName? GetHash(string signatureAlgorithm) => signatureAlgorithm switch
    {
        SshHostKeyAlgorithms.RsaSha512 => HashAlgorithmName.SHA512,
        SshHostKeyAlgorithms.RsaSha256 => HashAlgorithmName.SHA256,
        SshHostKeyAlgorithms.RsaSha1 => HashAlgorithmName.SHA1,
        _ => null,
    };

    public override bool Verify(string signatureAlgorithm, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (GetHash(signatureAlgorithm) is not HashAlgorithmName hash || signature.IsEmpty || signature.Length > Modulus.Length)
        {
            return false;
        }

        // RFC 8332 §3: the signature is as long as the modulus. Like OpenSSH, accept one whose leading zero bytes a
        // peer left out and pad it back.
        byte[]? padded = null;
        if (signature.Length < Modulus.Length)
        {
            padded = new byte[Modulus.Length];
            signature.CopyTo(padded.AsSpan(Modulus.Length - signature.Length));
            signature = padded;
        }

        try
        {
            using RSA rsa = CreateRsa();
            return rsa.VerifyData(data, signature, hash, RSASignaturePadding.Pkcs1);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    internal static int BitLength(ReadOnlySpan<byte> magnitude) =>
        magnitude.IsEmpty ? 0 : (magnitude.Length - 1) * 8 + (32 - System.Numerics.BitOperations.LeadingZeroCount(magnitude[0]));

    private RSA CreateRsa()
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportParameters(new RSAParameters { Exponent = Exponent, Modulus = Modulus });
            return rsa;
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }
}
