using System.Buffers.Binary;
using System.Security.Cryptography;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.HostKeys;

/// <summary>
/// A cipher that encrypts the private section of an openssh-key-v1 file (PROTOCOL.key), keyed by bcrypt_pbkdf: the
/// first <see cref="KeyLength"/> bytes it derives are the key, the next <see cref="IvLength"/> the IV. The section is
/// encrypted as one message from the start of the stream (sshkey.c: cipher_crypt with sequence number 0 and no
/// associated data); an AEAD cipher's tag follows the section's string.
/// </summary>
internal sealed class OpenSshKeyCipher
{
    private enum Mode
    {
        Ctr,
        Cbc,
        Gcm,
        ChaChaPoly,
        TripleDesCbc,
    }

    private readonly Mode _mode;

    private OpenSshKeyCipher(string name, Mode mode, int keyLength, int ivLength, int blockSize, int tagLength)
    {
        Name = name;
        _mode = mode;
        KeyLength = keyLength;
        IvLength = ivLength;
        BlockSize = blockSize;
        TagLength = tagLength;
    }

    /// <summary>What ssh-keygen encrypts with by default, and what <see cref="OpenSshPrivateKeyFile.Write"/> uses.</summary>
    public static OpenSshKeyCipher Default { get; } = new("aes256-ctr", Mode.Ctr, 32, 16, 16, 0);

    private static readonly OpenSshKeyCipher[] s_all =
    [
        Default,
        new("aes128-ctr", Mode.Ctr, 16, 16, 16, 0),
        new("aes192-ctr", Mode.Ctr, 24, 16, 16, 0),
        new("aes128-cbc", Mode.Cbc, 16, 16, 16, 0),
        new("aes192-cbc", Mode.Cbc, 24, 16, 16, 0),
        new("aes256-cbc", Mode.Cbc, 32, 16, 16, 0),
        new("aes128-gcm@openssh.com", Mode.Gcm, 16, 12, 16, 16),
        new("aes256-gcm@openssh.com", Mode.Gcm, 32, 12, 16, 16),
        new("chacha20-poly1305@openssh.com", Mode.ChaChaPoly, 64, 0, 8, 16),
        new("3des-cbc", Mode.TripleDesCbc, 24, 8, 8, 0),
    ];

    /// <summary>The cipher's SSH name, as in the file.</summary>
    public string Name { get; }

    /// <summary>Key bytes taken from bcrypt_pbkdf.</summary>
    public int KeyLength { get; }

    /// <summary>IV bytes taken from bcrypt_pbkdf after the key.</summary>
    public int IvLength { get; }

    /// <summary>The private section is padded to a multiple of this.</summary>
    public int BlockSize { get; }

    /// <summary>Bytes of authentication tag after the encrypted section: 16 for the AEAD ciphers, else 0.</summary>
    public int TagLength { get; }

    /// <summary>The names of the supported ciphers, for messages.</summary>
    public static string SupportedNames => string.Join(", ", s_all.Select(c => c.Name));

    /// <summary>The cipher of that name, or null.</summary>
    public static OpenSshKeyCipher? Find(string name) => Array.Find(s_all, c => c.Name == name);

    /// <summary>
    /// Decrypts <paramref name="ciphertext"/> into <paramref name="plaintext"/> (as long), checking the tag of an
    /// AEAD cipher.
    /// </summary>
    /// <param name="keyAndIv">The bcrypt_pbkdf output: key, then IV.</param>
    /// <param name="ciphertext">The encrypted private section.</param>
    /// <param name="tag">The tag after it (empty for a cipher without one).</param>
    /// <param name="plaintext">Receives the private section.</param>
    /// <returns>False when the tag does not match: a wrong passphrase, or a damaged file.</returns>
    public bool Decrypt(ReadOnlySpan<byte> keyAndIv, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext)
    {
        ReadOnlySpan<byte> key = keyAndIv[..KeyLength];
        ReadOnlySpan<byte> iv = keyAndIv.Slice(KeyLength, IvLength);
        switch (_mode)
        {
            case Mode.Gcm:
                // The IV is the whole 12-byte nonce (OpenSSH's invocation counter starts there); no associated data.
                using (var gcm = new AesGcm(key, TagLength))
                {
                    try
                    {
                        gcm.Decrypt(iv, ciphertext, tag, plaintext);
                        return true;
                    }
                    catch (AuthenticationTagMismatchException)
                    {
                        return false;
                    }
                }

            case Mode.ChaChaPoly:
            {
                // PROTOCOL.chacha20poly1305 with sequence number 0 and no length field: K_2 (the first 32 bytes)
                // keys both the Poly1305 key (block 0) and the payload (from block 1).
                ReadOnlySpan<byte> k2 = key[..ChaCha20.KeySize];
                Span<byte> block = stackalloc byte[ChaCha20.BlockSize];
                try
                {
                    ChaCha20.Block(k2, nonce: 0, counter: 0, block);
                    if (!Poly1305.Verify(block[..Poly1305.KeySize], ciphertext, tag))
                    {
                        return false;
                    }
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(block);
                }

                ChaCha20.Xor(k2, nonce: 0, counter: 1, ciphertext, plaintext);
                return true;
            }

            default:
                using (SshCipher cipher = CreateStream(key, iv, encrypt: false))
                {
                    cipher.Transform(ciphertext, plaintext);
                    return true;
                }
        }
    }

    /// <summary>Encrypts a padded private section (a stream or CBC cipher: no tag).</summary>
    public void Encrypt(ReadOnlySpan<byte> keyAndIv, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        if (TagLength != 0)
        {
            throw new NotSupportedException($"Writing keys encrypted with {Name} is not supported.");
        }

        using SshCipher cipher = CreateStream(keyAndIv[..KeyLength], keyAndIv.Slice(KeyLength, IvLength), encrypt: true);
        cipher.Transform(plaintext, ciphertext);
    }

    private SshCipher CreateStream(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, bool encrypt) => _mode switch
    {
        // A key file's section is a few KiB at most: a small keystream batch.
        Mode.Ctr => new AesCtr(key, iv, batchBlocks: 16),
        Mode.Cbc => CbcCipher.CreateAes(key, iv, encrypt),
        _ => CbcCipher.CreateTripleDes(key, iv, encrypt),
    };

    /// <summary>
    /// The most bcrypt_pbkdf rounds a key file may ask for. ssh-keygen writes 16 by default and people choose up to a few
    /// hundred (-a); the work is linear in the rounds (10 000 rounds take over 600 times as long as the default).
    /// </summary>
    public const int MaxBcryptRounds = 10_000;

    /// <summary>Reads kdfoptions of kdf "bcrypt": string salt, uint32 rounds.</summary>
    /// <exception cref="FormatException">The options are malformed or out of range.</exception>
    /// <exception cref="NotSupportedException">More than <see cref="MaxBcryptRounds"/> rounds.</exception>
    public static (byte[] Salt, int Rounds) ReadBcryptOptions(ReadOnlySpan<byte> options)
    {
        var reader = new SshReader(options);
        byte[] salt;
        uint rounds;
        try
        {
            salt = reader.ReadString().ToArray();
            rounds = reader.ReadUInt32();
        }
        catch (SshProtocolException e)
        {
            throw new FormatException("The bcrypt options of the OpenSSH private key are malformed.", e);
        }

        if (!reader.End || salt.Length == 0 || rounds == 0 || rounds > int.MaxValue)
        {
            throw new FormatException($"The bcrypt options of the OpenSSH private key are out of range ({salt.Length}-byte salt, {rounds} rounds).");
        }

        if (rounds > MaxBcryptRounds)
        {
            // The work grows linearly with the rounds and the file names them: without a bound, a key file with 2^31
            // rounds would occupy a core for months.
            throw new NotSupportedException(
                $"The private key's bcrypt kdf asks for {rounds} rounds; at most {MaxBcryptRounds} are supported (ssh-keygen's default is 16). " +
                "Re-encrypt it with 'ssh-keygen -p -a 100'.");
        }

        return (salt, (int)rounds);
    }

    /// <summary>Writes kdfoptions of kdf "bcrypt".</summary>
    public static byte[] WriteBcryptOptions(ReadOnlySpan<byte> salt, int rounds)
    {
        byte[] options = new byte[4 + salt.Length + 4];
        BinaryPrimitives.WriteUInt32BigEndian(options, (uint)salt.Length);
        salt.CopyTo(options.AsSpan(4));
        BinaryPrimitives.WriteUInt32BigEndian(options.AsSpan(4 + salt.Length), (uint)rounds);
        return options;
    }
}
