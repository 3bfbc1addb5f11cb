using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Ssh.Transport.HostKeys;

/// <summary>
/// Reads and writes OpenSSH's own private key format, "openssh-key-v1" (PROTOCOL.key), unencrypted.
/// </summary>
/// <remarks>
/// <code>
/// "-----BEGIN OPENSSH PRIVATE KEY-----", base64 of:
///   byte[]  "openssh-key-v1\0"
///   string  ciphername            "none" when unencrypted
///   string  kdfname               "none" when unencrypted
///   string  kdfoptions            empty when unencrypted
///   uint32  number of keys        1
///   string  public key blob
///   string  private section:
///     uint32 checkint, uint32 checkint (equal)
///     string keytype, the type's private fields, string comment
///     byte   padding 1, 2, 3, ... to the cipher block size (8 for "none")
/// "-----END OPENSSH PRIVATE KEY-----"
/// </code>
/// </remarks>
internal static class OpenSshPrivateKeyFile
{
    public const string BeginLine = "-----BEGIN OPENSSH PRIVATE KEY-----";
    public const string EndLine = "-----END OPENSSH PRIVATE KEY-----";

    // ssh-keygen wraps the base64 at 70 columns; the block size of the "none" cipher is 8.
    private const int LineLength = 70;
    private const int BlockSize = 8;

    private static ReadOnlySpan<byte> Magic => "openssh-key-v1\0"u8;

    /// <summary>Reads the first OpenSSH private key block of <paramref name="text"/>.</summary>
    /// <exception cref="FormatException">The block is malformed.</exception>
    /// <exception cref="NotSupportedException">The key is encrypted, the file holds several keys, or the key type is unsupported.</exception>
    public static PrivateKey Read(string text, out string comment)
    {
        int begin = text.IndexOf(BeginLine, StringComparison.Ordinal);
        int end = begin < 0 ? -1 : text.IndexOf(EndLine, begin, StringComparison.Ordinal);
        if (end < 0)
        {
            throw new FormatException($"The OpenSSH private key has no '{EndLine}' line.");
        }

        byte[] data;
        try
        {
            data = Convert.FromBase64String(text[(begin + BeginLine.Length)..end]);
        }
        catch (FormatException e)
        {
            throw new FormatException("The OpenSSH private key is not valid base64.", e);
        }

        try
        {
            return Read(data, out comment);
        }
        catch (SshProtocolException e)
        {
            throw new FormatException("The OpenSSH private key is truncated or malformed.", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(data);
        }
    }

    private static PrivateKey Read(ReadOnlySpan<byte> data, out string comment)
    {
        if (!data.StartsWith(Magic))
        {
            throw new FormatException("The OpenSSH private key does not start with \"openssh-key-v1\".");
        }

        var reader = new SshReader(data[Magic.Length..]);
        string cipher = reader.ReadUtf8String();
        string kdf = reader.ReadUtf8String();
        reader.ReadString();
        if (cipher != "none" || kdf != "none")
        {
            throw new NotSupportedException(
                $"The private key is encrypted with a passphrase (cipher {cipher}, kdf {kdf}); only unencrypted keys can be loaded. " +
                "Remove the passphrase with 'ssh-keygen -p' or load the key some other way.");
        }

        uint count = reader.ReadUInt32();
        if (count != 1)
        {
            throw new NotSupportedException($"The OpenSSH private key file holds {count} keys; only files with exactly one are supported.");
        }

        ReadOnlySpan<byte> publicBlob = reader.ReadString();
        ReadOnlySpan<byte> section = reader.ReadString();
        if (!reader.End)
        {
            throw new FormatException("Data follows the private section of the OpenSSH private key.");
        }

        if (section.Length % BlockSize != 0)
        {
            throw new FormatException("The private section of the OpenSSH private key is not padded to the block size.");
        }

        var privateReader = new SshReader(section);
        if (privateReader.ReadUInt32() != privateReader.ReadUInt32())
        {
            throw new FormatException("The check integers of the OpenSSH private key differ: the file is corrupt.");
        }

        PrivateKey key = ReadKey(ref privateReader);
        try
        {
            comment = privateReader.ReadUtf8String();
            ReadOnlySpan<byte> padding = privateReader.UnreadSpan;
            for (int i = 0; i < padding.Length; i++)
            {
                if (padding[i] != (byte)(i + 1))
                {
                    throw new FormatException("The padding of the OpenSSH private key is wrong: the file is corrupt.");
                }
            }

            if (!key.PublicKey.Blob.Span.SequenceEqual(publicBlob))
            {
                throw new FormatException("The public key of the OpenSSH private key file does not match its private key.");
            }

            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static PrivateKey ReadKey(ref SshReader reader)
    {
        string keyType = reader.ReadUtf8String();
        switch (keyType)
        {
            case SshHostKeyAlgorithms.Ed25519:
            {
                ReadOnlySpan<byte> publicKey = reader.ReadString();
                ReadOnlySpan<byte> secret = reader.ReadString();
                if (publicKey.Length != Ed25519PublicKeyParameters.KeyLength
                    || secret.Length != Ed25519PrivateKey.SeedLength + Ed25519PublicKeyParameters.KeyLength
                    || !secret[Ed25519PrivateKey.SeedLength..].SequenceEqual(publicKey))
                {
                    throw new FormatException("The Ed25519 private key fields have the wrong sizes or disagree.");
                }

                return Ed25519PrivateKey.FromSeed(secret[..Ed25519PrivateKey.SeedLength], publicKey);
            }

            case SshHostKeyAlgorithms.Rsa:
            {
                ReadOnlySpan<byte> n = reader.ReadUnsignedMPInt();
                ReadOnlySpan<byte> e = reader.ReadUnsignedMPInt();
                ReadOnlySpan<byte> d = reader.ReadUnsignedMPInt();
                ReadOnlySpan<byte> iqmp = reader.ReadUnsignedMPInt();
                ReadOnlySpan<byte> p = reader.ReadUnsignedMPInt();
                ReadOnlySpan<byte> q = reader.ReadUnsignedMPInt();
                return RsaPrivateKey.FromOpenSsh(n, e, d, iqmp, p, q);
            }

            default:
            {
                EcdsaCurve curve = EcdsaCurve.FromKeyType(keyType)
                    ?? throw new NotSupportedException($"Private keys of type '{keyType}' are not supported.");
                ReadOnlySpan<byte> identifier = reader.ReadString();
                if (!identifier.SequenceEqual(Encoding.ASCII.GetBytes(curve.Identifier)))
                {
                    throw new FormatException($"The {keyType} private key names another curve.");
                }

                ReadOnlySpan<byte> q = reader.ReadString();
                ReadOnlySpan<byte> d = reader.ReadUnsignedMPInt();
                return EcdsaPrivateKey.FromOpenSsh(curve, q, d);
            }
        }
    }

    /// <summary>Writes <paramref name="key"/> as an unencrypted openssh-key-v1 file, with a trailing newline.</summary>
    public static string Write(PrivateKey key, string comment)
    {
        using var section = new SensitiveBufferWriter(1024);
        var writer = new SshWriter(section);
        Span<byte> check = stackalloc byte[4];
        RandomNumberGenerator.Fill(check);
        uint checkInt = BinaryPrimitives.ReadUInt32BigEndian(check);
        writer.WriteUInt32(checkInt);
        writer.WriteUInt32(checkInt);
        writer.WriteString(key.PublicKey.KeyType);
        key.WriteOpenSshPrivateFields(section);
        writer = new SshWriter(section);
        writer.WriteString(comment);
        for (byte pad = 1; section.WrittenSpan.Length % BlockSize != 0; pad++)
        {
            writer.WriteByte(pad);
        }

        using var file = new SensitiveBufferWriter(section.WrittenSpan.Length + key.PublicKey.Blob.Length + 64);
        writer = new SshWriter(file);
        writer.WriteBytes(Magic);
        writer.WriteString("none");
        writer.WriteString("none");
        writer.WriteString(ReadOnlySpan<byte>.Empty);
        writer.WriteUInt32(1);
        writer.WriteString(key.PublicKey.Blob.Span);
        writer.WriteString(section.WrittenSpan);

        string base64 = Convert.ToBase64String(file.WrittenSpan);
        var text = new StringBuilder(base64.Length + base64.Length / LineLength + 80);
        text.Append(BeginLine).Append('\n');
        for (int i = 0; i < base64.Length; i += LineLength)
        {
            text.Append(base64.AsSpan(i, Math.Min(LineLength, base64.Length - i))).Append('\n');
        }

        text.Append(EndLine).Append('\n');
        return text.ToString();
    }
}
