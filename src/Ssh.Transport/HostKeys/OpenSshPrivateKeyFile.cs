using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.HostKeys;

/// <summary>
/// Reads and writes OpenSSH's own private key format, "openssh-key-v1" (PROTOCOL.key), unencrypted or encrypted with
/// a passphrase (kdf "bcrypt", <see cref="BcryptPbkdf"/>; the ciphers of <see cref="OpenSshKeyCipher"/>).
/// </summary>
/// <remarks>
/// <code>
/// "-----BEGIN OPENSSH PRIVATE KEY-----", base64 of:
///   byte[]  "openssh-key-v1\0"
///   string  ciphername            "none" when unencrypted; "aes256-ctr" is ssh-keygen's default
///   string  kdfname               "none" when unencrypted, else "bcrypt"
///   string  kdfoptions            empty when unencrypted, else string salt, uint32 rounds
///   uint32  number of keys        1
///   string  public key blob
///   string  private section, encrypted with key and IV from bcrypt_pbkdf(passphrase, salt, rounds):
///     uint32 checkint, uint32 checkint (equal: a wrong passphrase makes them differ)
///     string keytype, the type's private fields, string comment
///     byte   padding 1, 2, 3, ... to the cipher block size (8 for "none")
///   byte[]  authentication tag of an AEAD cipher (16 bytes; none otherwise)
/// "-----END OPENSSH PRIVATE KEY-----"
/// </code>
/// </remarks>
internal static class OpenSshPrivateKeyFile
{
    public const string BeginLine = "-----BEGIN OPENSSH PRIVATE KEY-----";
    public const string EndLine = "-----END OPENSSH PRIVATE KEY-----";

    /// <summary>The bcrypt_pbkdf rounds of keys this library encrypts: ssh-keygen's default (its -a option).</summary>
    public const int DefaultRounds = 16;

    // ssh-keygen wraps the base64 at 70 columns; the block size of the "none" cipher is 8.
    private const int LineLength = 70;
    private const int NoneBlockSize = 8;
    private const int SaltLength = 16;

    private static ReadOnlySpan<byte> Magic => "openssh-key-v1\0"u8;

    /// <summary>Reads the first OpenSSH private key block of <paramref name="text"/>.</summary>
    /// <param name="text">The file's text.</param>
    /// <param name="passphrase">The passphrase of an encrypted key; ignored for an unencrypted one.</param>
    /// <param name="comment">The key's comment.</param>
    /// <exception cref="FormatException">The block is malformed.</exception>
    /// <exception cref="SshKeyPassphraseException">The key is encrypted and the passphrase is missing or wrong.</exception>
    /// <exception cref="NotSupportedException">The cipher or kdf is unsupported, the file holds several keys, or the key type is unsupported.</exception>
    public static PrivateKey Read(string text, string? passphrase, out string comment)
    {
        int begin = text.IndexOf(BeginLine, StringComparison.Ordinal);
        // The END line is looked for after the whole BEGIN line: the two may share dashes ("...KEY-------END...").
        int end = begin < 0 ? -1 : text.IndexOf(EndLine, begin + BeginLine.Length, StringComparison.Ordinal);
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
            return Read(data, passphrase, out comment);
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

    private static PrivateKey Read(ReadOnlySpan<byte> data, string? passphrase, out string comment)
    {
        if (!data.StartsWith(Magic))
        {
            throw new FormatException("The OpenSSH private key does not start with \"openssh-key-v1\".");
        }

        var reader = new SshReader(data[Magic.Length..]);
        string cipherName = reader.ReadUtf8String();
        string kdf = reader.ReadUtf8String();
        ReadOnlySpan<byte> kdfOptions = reader.ReadString();
        OpenSshKeyCipher? cipher = null;
        if (cipherName == "none" || kdf == "none")
        {
            if (cipherName != kdf)
            {
                // sshkey.c refuses these too: a cipher needs a kdf to key it, and a kdf is useless without a cipher.
                throw new FormatException($"The OpenSSH private key has cipher '{cipherName}' with kdf '{kdf}'.");
            }
        }
        else
        {
            cipher = OpenSshKeyCipher.Find(cipherName)
                ?? throw new NotSupportedException(
                    $"The private key is encrypted with cipher '{cipherName}', which is not supported; supported: {OpenSshKeyCipher.SupportedNames}. " +
                    "Re-encrypt it with 'ssh-keygen -p -Z aes256-ctr'.");
            if (kdf != "bcrypt")
            {
                throw new NotSupportedException($"The private key's passphrase is processed by kdf '{kdf}', which is not supported; only 'bcrypt' is.");
            }
        }

        uint count = reader.ReadUInt32();
        if (count != 1)
        {
            throw new NotSupportedException($"The OpenSSH private key file holds {count} keys; only files with exactly one are supported.");
        }

        ReadOnlySpan<byte> publicBlob = reader.ReadString();
        ReadOnlySpan<byte> section = reader.ReadString();
        ReadOnlySpan<byte> tag = reader.ReadBytes(cipher?.TagLength ?? 0);
        if (!reader.End)
        {
            throw new FormatException("Data follows the private section of the OpenSSH private key.");
        }

        if (section.Length % (cipher?.BlockSize ?? NoneBlockSize) != 0)
        {
            throw new FormatException("The private section of the OpenSSH private key is not padded to the block size.");
        }

        if (cipher is null)
        {
            return ReadSection(section, publicBlob, decrypted: false, out comment);
        }

        if (string.IsNullOrEmpty(passphrase))
        {
            throw new SshKeyPassphraseException(
                $"The private key is encrypted (cipher {cipher.Name}, kdf bcrypt): a passphrase is needed to load it.", passphraseMissing: true);
        }

        (byte[] salt, int rounds) = OpenSshKeyCipher.ReadBcryptOptions(kdfOptions);
        byte[] password = Encoding.UTF8.GetBytes(passphrase);
        byte[] keyAndIv = new byte[cipher.KeyLength + cipher.IvLength];
        byte[] plaintext = new byte[section.Length];
        try
        {
            BcryptPbkdf.DeriveKey(password, salt, rounds, keyAndIv);
            if (!cipher.Decrypt(keyAndIv, section, tag, plaintext))
            {
                throw WrongPassphrase();
            }

            return ReadSection(plaintext, publicBlob, decrypted: true, out comment);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(password);
            CryptographicOperations.ZeroMemory(keyAndIv);
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static SshKeyPassphraseException WrongPassphrase() =>
        new("The passphrase is wrong (or the key file is damaged): the private key does not decrypt.", passphraseMissing: false);

    /// <summary>Parses a decrypted private section.</summary>
    private static PrivateKey ReadSection(ReadOnlySpan<byte> section, ReadOnlySpan<byte> publicBlob, bool decrypted, out string comment)
    {
        var privateReader = new SshReader(section);
        if (privateReader.ReadUInt32() != privateReader.ReadUInt32())
        {
            // After a decryption these differ for a wrong passphrase (sshkey.c: SSH_ERR_KEY_WRONG_PASSPHRASE).
            throw decrypted ? WrongPassphrase() : new FormatException("The check integers of the OpenSSH private key differ: the file is corrupt.");
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

    /// <summary>
    /// Writes <paramref name="key"/> as an openssh-key-v1 file with a trailing newline: unencrypted, or with a
    /// passphrase encrypted as ssh-keygen does by default (aes256-ctr, bcrypt with a random 16-byte salt and
    /// <see cref="DefaultRounds"/> rounds).
    /// </summary>
    public static string Write(PrivateKey key, string comment, string? passphrase)
    {
        OpenSshKeyCipher? cipher = string.IsNullOrEmpty(passphrase) ? null : OpenSshKeyCipher.Default;
        int blockSize = cipher?.BlockSize ?? NoneBlockSize;
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
        for (byte pad = 1; section.WrittenSpan.Length % blockSize != 0; pad++)
        {
            writer.WriteByte(pad);
        }

        byte[] kdfOptions = [];
        byte[] encrypted = [];
        if (cipher is not null)
        {
            byte[] salt = RandomNumberGenerator.GetBytes(SaltLength);
            kdfOptions = OpenSshKeyCipher.WriteBcryptOptions(salt, DefaultRounds);
            byte[] password = Encoding.UTF8.GetBytes(passphrase!);
            byte[] keyAndIv = new byte[cipher.KeyLength + cipher.IvLength];
            try
            {
                BcryptPbkdf.DeriveKey(password, salt, DefaultRounds, keyAndIv);
                encrypted = new byte[section.WrittenSpan.Length];
                cipher.Encrypt(keyAndIv, section.WrittenSpan, encrypted);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(password);
                CryptographicOperations.ZeroMemory(keyAndIv);
            }
        }

        using var file = new SensitiveBufferWriter(section.WrittenSpan.Length + key.PublicKey.Blob.Length + 128);
        writer = new SshWriter(file);
        writer.WriteBytes(Magic);
        writer.WriteString(cipher?.Name ?? "none");
        writer.WriteString(cipher is null ? "none" : "bcrypt");
        writer.WriteString(kdfOptions);
        writer.WriteUInt32(1);
        writer.WriteString(key.PublicKey.Blob.Span);
        writer.WriteString(cipher is null ? section.WrittenSpan : encrypted);

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
