using System.Security.Cryptography;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>
/// aes128-cbc / aes192-cbc / aes256-cbc and 3des-cbc (RFC 4253 §6.3), one direction. Legacy: off by default in
/// OpenSSH. The chain continues across packets: "the IV for the next packet is the last ciphertext block of this
/// one", which the BCL's CBC <see cref="ICryptoTransform"/> keeps internally between calls.
/// </summary>
/// <remarks>
/// <see cref="ICryptoTransform"/> works on arrays and the packets are spans, so data passes through a scratch
/// array in chunks; the copies are cheap next to CBC itself (encryption cannot be pipelined). The one-shot
/// <see cref="SymmetricAlgorithm.EncryptCbc(ReadOnlySpan{byte}, ReadOnlySpan{byte}, Span{byte}, PaddingMode)"/>
/// would avoid them but re-keys a native context and allocates on every call.
/// </remarks>
internal sealed class CbcCipher : SshCipher
{
    private const int ScratchSize = 16 * 1024;

    private readonly SymmetricAlgorithm _algorithm;
    private readonly ICryptoTransform _transform;
    private readonly byte[] _scratch = new byte[ScratchSize];
    private readonly string _name;
    private readonly int _blockSize;

    private CbcCipher(SymmetricAlgorithm algorithm, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, bool encrypt, string name)
    {
        _algorithm = algorithm;
        _name = name;
        _blockSize = algorithm.BlockSize / 8;
        if (iv.Length != _blockSize)
        {
            algorithm.Dispose();
            throw new ArgumentException($"The {name} IV is {_blockSize} bytes.", nameof(iv));
        }

        byte[] keyCopy = key.ToArray();
        byte[] ivCopy = iv.ToArray();
        try
        {
            algorithm.Mode = CipherMode.CBC;
            algorithm.Padding = PaddingMode.None;
            _transform = encrypt ? algorithm.CreateEncryptor(keyCopy, ivCopy) : algorithm.CreateDecryptor(keyCopy, ivCopy);
        }
        catch
        {
            algorithm.Dispose();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(keyCopy);
            CryptographicOperations.ZeroMemory(ivCopy);
        }
    }

    /// <summary>AES-CBC with a 16, 24 or 32-byte key and a 16-byte IV.</summary>
    public static CbcCipher CreateAes(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, bool encrypt)
    {
        string name = key.Length switch
        {
            16 => "aes128-cbc",
            24 => "aes192-cbc",
            32 => "aes256-cbc",
            _ => throw new ArgumentException("An AES key is 16, 24 or 32 bytes.", nameof(key)),
        };
        return new CbcCipher(Aes.Create(), key, iv, encrypt, name);
    }

    /// <summary>3DES-CBC (EDE, three keys) with a 24-byte key and an 8-byte IV.</summary>
    /// <exception cref="CryptographicException">The key is a known weak 3DES key (probability about 2^-55 for a derived key).</exception>
    public static CbcCipher CreateTripleDes(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, bool encrypt)
    {
        if (key.Length != 24)
        {
            throw new ArgumentException("A 3des-cbc key is 24 bytes.", nameof(key));
        }

        return new CbcCipher(TripleDES.Create(), key, iv, encrypt, "3des-cbc");
    }

    public override string Name => _name;

    public override int BlockSize => _blockSize;

    public override void Transform(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        CheckBuffers(source, destination);
        if (source.Length % _blockSize != 0)
        {
            throw new ArgumentException($"CBC data must be a whole number of {_blockSize}-byte blocks.", nameof(source));
        }

        int total = source.Length;
        int done = 0;
        while (done < total)
        {
            // Chunk by chunk: read the source chunk before writing the same region, so in place is safe.
            int count = Math.Min(ScratchSize, total - done);
            source.Slice(done, count).CopyTo(_scratch);
            _transform.TransformBlock(_scratch, 0, count, _scratch, 0);
            _scratch.AsSpan(0, count).CopyTo(destination[done..]);
            done += count;
        }

        // The scratch held plaintext on one side or the other.
        CryptographicOperations.ZeroMemory(_scratch.AsSpan(0, Math.Min(total, ScratchSize)));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            CryptographicOperations.ZeroMemory(_scratch);
            _transform.Dispose();
            _algorithm.Dispose();
        }

        base.Dispose(disposing);
    }
}
