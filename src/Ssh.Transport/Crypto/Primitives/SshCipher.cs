namespace Ssh.Transport.Crypto.Primitives;

/// <summary>
/// A non-AEAD SSH cipher of one direction (RFC 4253 §6.3): a stream whose state carries over from packet to packet
/// (the CTR counter of RFC 4344 §4, the CBC chain of RFC 4253 §6.3).
/// </summary>
/// <remarks>Not thread-safe; owns its key material and zeroes it on <see cref="Dispose()"/>.</remarks>
internal abstract class SshCipher : IDisposable
{
    /// <summary>The SSH name, e.g. "aes128-ctr".</summary>
    public abstract string Name { get; }

    /// <summary>The cipher block size in bytes: 16 for AES, 8 for 3DES.</summary>
    public abstract int BlockSize { get; }

    /// <summary>
    /// Encrypts (sealer) or decrypts (opener) the next <paramref name="source"/>.Length bytes of the stream.
    /// </summary>
    /// <param name="source">The input; for CBC a whole number of blocks.</param>
    /// <param name="destination">
    /// At least as long as <paramref name="source"/>: either the very same memory (in place) or memory that does
    /// not overlap it.
    /// </param>
    public abstract void Transform(ReadOnlySpan<byte> source, Span<byte> destination);

    /// <summary>Zeroes key material and releases native resources.</summary>
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Zeroes key material and releases native resources.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>Throws unless <paramref name="destination"/> is <paramref name="source"/> itself or disjoint from it.</summary>
    protected static void CheckBuffers(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        }

        if (source.Overlaps(destination, out int offset) && offset != 0)
        {
            throw new ArgumentException("The destination must be the source itself or not overlap it.", nameof(destination));
        }
    }
}
