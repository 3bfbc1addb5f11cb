using System.Formats.Asn1;
using System.Security.Cryptography;

namespace Ssh.Transport.HostKeys;

/// <summary>
/// Reads unencrypted PEM private keys (RFC 7468): PKCS#8 "PRIVATE KEY" (RFC 5208, with RSA, EC or Ed25519 per
/// RFC 8410 inside), PKCS#1 "RSA PRIVATE KEY" (RFC 8017 A.1.2) and SEC 1 "EC PRIVATE KEY" (RFC 5915).
/// </summary>
internal static class PemPrivateKeyFile
{
    private const string RsaEncryptionOid = "1.2.840.113549.1.1.1";
    private const string EcPublicKeyOid = "1.2.840.10045.2.1";
    private const string Ed25519Oid = "1.3.101.112";

    /// <summary>True when <paramref name="text"/> holds a PEM block whose label names a private key.</summary>
    public static bool Contains(string text) => text.Contains("PRIVATE KEY-----", StringComparison.Ordinal);

    /// <summary>Reads the first private key block of <paramref name="text"/>.</summary>
    /// <exception cref="FormatException">No usable block, or a malformed key.</exception>
    /// <exception cref="NotSupportedException">The key is encrypted or of an unsupported algorithm or curve.</exception>
    public static PrivateKey Read(string text)
    {
        // Legacy OpenSSL encryption puts RFC 1421 headers in the block, which RFC 7468 parsing does not accept.
        if (text.Contains("Proc-Type: 4,ENCRYPTED", StringComparison.Ordinal) || text.Contains("BEGIN ENCRYPTED PRIVATE KEY", StringComparison.Ordinal))
        {
            throw new NotSupportedException(
                "The PEM private key is encrypted with a passphrase; encrypted PEM keys are not supported. " +
                "Convert it to OpenSSH's format, which keeps a passphrase and which this library reads: 'ssh-keygen -p -f FILE'.");
        }

        ReadOnlySpan<char> rest = text;
        while (PemEncoding.TryFind(rest, out PemFields fields))
        {
            ReadOnlySpan<char> label = rest[fields.Label];
            bool known = label is "PRIVATE KEY" or "RSA PRIVATE KEY" or "EC PRIVATE KEY";
            if (known)
            {
                byte[] der = new byte[fields.DecodedDataLength];
                try
                {
                    if (!Convert.TryFromBase64Chars(rest[fields.Base64Data], der, out int written) || written != der.Length)
                    {
                        throw new FormatException($"The '{label}' block is not valid base64.");
                    }

                    return label switch
                    {
                        "PRIVATE KEY" => ReadPkcs8(der),
                        "RSA PRIVATE KEY" => ReadRsa(der, pkcs8: false),
                        _ => ReadEc(der, pkcs8: false),
                    };
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(der);
                }
            }

            rest = rest[fields.Location.End..];
        }

        throw new FormatException("No PEM private key block ('PRIVATE KEY', 'RSA PRIVATE KEY' or 'EC PRIVATE KEY') was found.");
    }

    private static PrivateKey ReadPkcs8(byte[] der)
    {
        string algorithm;
        try
        {
            // PrivateKeyInfo ::= SEQUENCE { version, privateKeyAlgorithm AlgorithmIdentifier, privateKey OCTET STRING, ... }
            var info = new AsnReader(der, AsnEncodingRules.BER).ReadSequence();
            info.ReadInteger();
            algorithm = info.ReadSequence().ReadObjectIdentifier();
            if (algorithm == Ed25519Oid)
            {
                return ReadEd25519(info);
            }
        }
        catch (AsnContentException e)
        {
            throw new FormatException("The PKCS#8 private key is malformed.", e);
        }

        return algorithm switch
        {
            RsaEncryptionOid => ReadRsa(der, pkcs8: true),
            EcPublicKeyOid => ReadEc(der, pkcs8: true),
            _ => throw new NotSupportedException($"PKCS#8 private keys of algorithm {algorithm} are not supported."),
        };
    }

    private static Ed25519PrivateKey ReadEd25519(AsnReader info)
    {
        // RFC 8410 §7: privateKey holds CurvePrivateKey ::= OCTET STRING, the 32-byte seed. Its parameters are absent.
        byte[] outer = info.ReadOctetString();
        byte[]? seed = null;
        try
        {
            seed = new AsnReader(outer, AsnEncodingRules.BER).ReadOctetString();
            return Ed25519PrivateKey.FromSeed(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(outer);
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    private static RsaPrivateKey ReadRsa(byte[] der, bool pkcs8)
    {
        var rsa = RSA.Create();
        try
        {
            if (pkcs8)
            {
                rsa.ImportPkcs8PrivateKey(der, out _);
            }
            else
            {
                rsa.ImportRSAPrivateKey(der, out _);
            }
        }
        catch (CryptographicException e)
        {
            rsa.Dispose();
            throw new FormatException("The RSA private key is malformed.", e);
        }

        return RsaPrivateKey.Wrap(rsa);
    }

    private static EcdsaPrivateKey ReadEc(byte[] der, bool pkcs8)
    {
        var ecdsa = ECDsa.Create();
        try
        {
            if (pkcs8)
            {
                ecdsa.ImportPkcs8PrivateKey(der, out _);
            }
            else
            {
                ecdsa.ImportECPrivateKey(der, out _);
            }
        }
        catch (CryptographicException e)
        {
            ecdsa.Dispose();
            throw new FormatException("The EC private key is malformed.", e);
        }

        return EcdsaPrivateKey.Wrap(ecdsa);
    }
}
