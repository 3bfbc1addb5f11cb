using System.Security.Cryptography;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>
/// One direction's MAC of a non-AEAD cipher (RFC 4253 §6.4): a tag over the sequence number and the packet, the
/// packet given in two parts so that it is never copied to be authenticated. How the sequence number enters is the
/// construction's: HMAC hashes it as a uint32 prefix, UMAC takes it as its nonce.
/// </summary>
/// <remarks>Not thread-safe; owns its key material and zeroes it on <see cref="Dispose()"/>.</remarks>
internal abstract class SshMac : IDisposable
{
    /// <summary>The largest tag of any MAC (hmac-sha2-512).</summary>
    public const int MaxSize = 64;

    /// <summary>The SSH name of the plain (MAC-then-encrypt) form, e.g. "hmac-sha2-256".</summary>
    public abstract string Name { get; }

    /// <summary>The tag length in bytes.</summary>
    public abstract int Size { get; }

    /// <summary>The SSH name of the plain or the encrypt-then-MAC form (OpenSSH PROTOCOL §1.5).</summary>
    /// <param name="etm">True for the -etm@openssh.com form.</param>
    public virtual string NameFor(bool etm) => etm ? Name + "-etm@openssh.com" : Name;

    /// <summary>Writes the tag of (<paramref name="sequenceNumber"/>, <paramref name="first"/> || <paramref name="second"/>) to <paramref name="mac"/>.</summary>
    /// <param name="sequenceNumber">The packet sequence number (RFC 4253 §6.4).</param>
    /// <param name="first">The first part of the authenticated data.</param>
    /// <param name="second">The rest of it; may be empty.</param>
    /// <param name="mac">At least <see cref="Size"/> bytes; the first <see cref="Size"/> are written.</param>
    public abstract void Compute(uint sequenceNumber, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Span<byte> mac);

    /// <summary>Checks <paramref name="tag"/> against the tag of the data, in constant time.</summary>
    /// <param name="sequenceNumber">The packet sequence number.</param>
    /// <param name="first">The first part of the authenticated data.</param>
    /// <param name="second">The rest of it; may be empty.</param>
    /// <param name="tag">The received tag.</param>
    /// <returns>True when the tag is the right length and matches.</returns>
    public bool Verify(uint sequenceNumber, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, ReadOnlySpan<byte> tag)
    {
        Span<byte> expected = stackalloc byte[MaxSize];
        expected = expected[..Size];
        Compute(sequenceNumber, first, second, expected);

        // FixedTimeEquals is constant-time for equal lengths; a wrong length is public information.
        bool valid = tag.Length == Size && CryptographicOperations.FixedTimeEquals(expected, tag);
        CryptographicOperations.ZeroMemory(expected);
        return valid;
    }

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
}
