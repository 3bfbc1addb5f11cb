using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>
/// bcrypt_pbkdf, the key derivation of OpenSSH's encrypted private keys (kdf "bcrypt" of PROTOCOL.key), as OpenBSD
/// defines it in libutil's bcrypt_pbkdf.c (Ted Unangst, 2013): PBKDF2's structure with a bcrypt-like hash in place
/// of HMAC, and the output bytes interleaved across the blocks.
/// </summary>
/// <remarks>
/// <code>
/// bcrypt_hash(sha2pass, sha2salt):          64-byte inputs, 32-byte output
///   state = Blowfish initial state; ExpandState(data = sha2salt, key = sha2pass)
///   64 times: ExpandKey(sha2salt); ExpandKey(sha2pass)
///   c = "OxychromaticBlowfishSwatDynamite" as 8 big-endian words; 64 times: encrypt c's 4 blocks (ECB)
///   output = the 8 words of c, each little-endian
/// block(count), count = 1, 2, ...:
///   t = bcrypt_hash(SHA-512(password), SHA-512(salt || uint32 count)); out = t
///   rounds - 1 times: t = bcrypt_hash(SHA-512(password), SHA-512(t)); out ^= t
/// key[i * stride + count - 1] = out[i], stride = ceil(keylen / 32): block 1 gives bytes 0, stride, 2 stride, ...
/// </code>
/// The BCL has no Blowfish, and BouncyCastle's is closed to the state operations bcrypt needs, so
/// <see cref="EksBlowfish"/> is this library's own.
/// </remarks>
internal static class BcryptPbkdf
{
    /// <summary>The longest key derived: 32 blocks of 32 bytes, as OpenBSD allows.</summary>
    public const int MaxKeyLength = HashSize * HashSize;

    private const int HashSize = 32;
    private const int HashWords = HashSize / 4;

    private static ReadOnlySpan<byte> Magic => "OxychromaticBlowfishSwatDynamite"u8;

    /// <summary>Derives <paramref name="destination"/>.Length bytes.</summary>
    /// <param name="password">The passphrase's bytes; not empty.</param>
    /// <param name="salt">The salt; not empty (OpenSSH writes 16 bytes).</param>
    /// <param name="rounds">The number of rounds, at least 1 (ssh-keygen's default is 16; its -a option).</param>
    /// <param name="destination">1 to <see cref="MaxKeyLength"/> bytes.</param>
    /// <exception cref="ArgumentException">An input is empty or a length out of range.</exception>
    public static void DeriveKey(ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, int rounds, Span<byte> destination)
    {
        if (password.IsEmpty)
        {
            throw new ArgumentException("bcrypt_pbkdf needs a non-empty password.", nameof(password));
        }

        if (salt.IsEmpty)
        {
            throw new ArgumentException("bcrypt_pbkdf needs a non-empty salt.", nameof(salt));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        if (destination.IsEmpty || destination.Length > MaxKeyLength)
        {
            throw new ArgumentException($"bcrypt_pbkdf derives 1 to {MaxKeyLength} bytes.", nameof(destination));
        }

        int keyLength = destination.Length;
        int stride = (keyLength + HashSize - 1) / HashSize;
        int amount = (keyLength + stride - 1) / stride;

        Span<byte> sha2pass = stackalloc byte[SHA512.HashSizeInBytes];
        Span<byte> sha2salt = stackalloc byte[SHA512.HashSizeInBytes];
        Span<byte> output = stackalloc byte[HashSize];
        Span<byte> temp = stackalloc byte[HashSize];
        byte[] countSalt = new byte[salt.Length + 4];
        salt.CopyTo(countSalt);
        using var state = new EksBlowfish();
        try
        {
            SHA512.HashData(password, sha2pass);
            int remaining = keyLength;
            for (uint count = 1; remaining > 0; count++)
            {
                BinaryPrimitives.WriteUInt32BigEndian(countSalt.AsSpan(salt.Length), count);
                SHA512.HashData(countSalt, sha2salt);
                Hash(state, sha2pass, sha2salt, temp);
                temp.CopyTo(output);
                for (int round = 1; round < rounds; round++)
                {
                    SHA512.HashData(temp, sha2salt);
                    Hash(state, sha2pass, sha2salt, temp);
                    for (int j = 0; j < HashSize; j++)
                    {
                        output[j] ^= temp[j];
                    }
                }

                // Not PBKDF2's concatenation: block "count" supplies every stride-th byte from count - 1 on.
                amount = Math.Min(amount, remaining);
                int i;
                for (i = 0; i < amount; i++)
                {
                    int index = i * stride + (int)(count - 1);
                    if (index >= keyLength)
                    {
                        break;
                    }

                    destination[index] = output[i];
                }

                remaining -= i;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sha2pass);
            CryptographicOperations.ZeroMemory(sha2salt);
            CryptographicOperations.ZeroMemory(output);
            CryptographicOperations.ZeroMemory(temp);
        }
    }

    /// <summary>bcrypt_hash: 32 bytes from the two 64-byte SHA-512 digests.</summary>
    private static void Hash(EksBlowfish state, ReadOnlySpan<byte> sha2pass, ReadOnlySpan<byte> sha2salt, Span<byte> output)
    {
        state.Initialize();
        state.ExpandState(sha2salt, sha2pass);
        for (int i = 0; i < 64; i++)
        {
            state.ExpandKey(sha2salt);
            state.ExpandKey(sha2pass);
        }

        Span<uint> words = stackalloc uint[HashWords];
        int position = 0;
        for (int i = 0; i < HashWords; i++)
        {
            words[i] = EksBlowfish.StreamToWord(Magic, ref position);
        }

        for (int i = 0; i < 64; i++)
        {
            for (int block = 0; block < HashWords; block += 2)
            {
                state.Encrypt(ref words[block], ref words[block + 1]);
            }
        }

        // The words come out little-endian: a quirk of OpenBSD's code that the format keeps.
        for (int i = 0; i < HashWords; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(output[(4 * i)..], words[i]);
        }

        words.Clear();
    }
}
