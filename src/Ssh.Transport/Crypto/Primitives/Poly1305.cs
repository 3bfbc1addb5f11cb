using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>
/// The Poly1305 one-time authenticator (Bernstein, "The Poly1305-AES message-authentication code", 2005;
/// RFC 8439 §2.5): tag = ((sum of m_i * r^(n-i+1)) mod 2^130-5) + s mod 2^128.
/// </summary>
/// <remarks>
/// The accumulator and r are held in three limbs of 44, 44 and 42 bits, so each product of limbs fits in 128 bits
/// (<see cref="Math.BigMul(ulong, ulong, out ulong)"/>) and the sum of three such products does too. Constant time:
/// no branch or memory access depends on the key or the message contents.
/// </remarks>
internal static class Poly1305
{
    public const int KeySize = 32;
    public const int TagSize = 16;
    public const int BlockSize = 16;

    private const ulong Mask44 = (1UL << 44) - 1;
    private const ulong Mask42 = (1UL << 42) - 1;

    /// <summary>Computes the tag of <paramref name="message"/> under a one-time <paramref name="key"/>.</summary>
    /// <param name="key">32 bytes: r (clamped here) then s. Never use a key for two messages.</param>
    /// <param name="message">The message, any length.</param>
    /// <param name="tag">At least 16 bytes; the first 16 receive the tag.</param>
    public static void ComputeTag(ReadOnlySpan<byte> key, ReadOnlySpan<byte> message, Span<byte> tag)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(key.Length, KeySize, nameof(key));
        ArgumentOutOfRangeException.ThrowIfLessThan(tag.Length, TagSize, nameof(tag));

        // RFC 8439 §2.5: r &= 0x0ffffffc0ffffffc0ffffffc0fffffff, split into 44/44/42-bit limbs.
        ulong t0 = BinaryPrimitives.ReadUInt64LittleEndian(key);
        ulong t1 = BinaryPrimitives.ReadUInt64LittleEndian(key[8..]);
        ulong r0 = t0 & 0xffc0fffffff;
        ulong r1 = ((t0 >> 44) | (t1 << 20)) & 0xfffffc0ffff;
        ulong r2 = (t1 >> 24) & 0x00ffffffc0f;

        ulong h0 = 0, h1 = 0, h2 = 0;
        int full = message.Length & ~(BlockSize - 1);
        Blocks(r0, r1, r2, message[..full], ref h0, ref h1, ref h2, 1UL << 40);

        int rest = message.Length - full;
        if (rest > 0)
        {
            // The last partial block gets its 0x01 byte in the data and no 2^128 bit (RFC 8439 §2.5.1).
            Span<byte> last = stackalloc byte[BlockSize];
            last.Clear();
            message[full..].CopyTo(last);
            last[rest] = 1;
            Blocks(r0, r1, r2, last, ref h0, ref h1, ref h2, 0);
            CryptographicOperations.ZeroMemory(last);
        }

        Finish(key, h0, h1, h2, tag);
    }

    /// <summary>Recomputes the tag of <paramref name="message"/> and compares it with <paramref name="expected"/> in constant time.</summary>
    /// <param name="key">32 bytes, as for <see cref="ComputeTag"/>.</param>
    /// <param name="message">The message.</param>
    /// <param name="expected">The received tag; any length other than 16 fails.</param>
    /// <returns>True when the tags are equal.</returns>
    public static bool Verify(ReadOnlySpan<byte> key, ReadOnlySpan<byte> message, ReadOnlySpan<byte> expected)
    {
        Span<byte> computed = stackalloc byte[TagSize];
        ComputeTag(key, message, computed);
        bool equal = CryptographicOperations.FixedTimeEquals(computed, expected);
        CryptographicOperations.ZeroMemory(computed);
        return equal;
    }

    /// <summary>Absorbs whole 16-byte blocks: h = (h + m + hibit * 2^128) * r mod 2^130-5, partially reduced.</summary>
    private static void Blocks(ulong r0, ulong r1, ulong r2, ReadOnlySpan<byte> blocks, ref ulong h0Ref, ref ulong h1Ref, ref ulong h2Ref, ulong hibit)
    {
        // Limb products at 2^132 and above wrap to 5 * 2^130 = 20 * 2^128: fold with s = 20 r (RFC 8439 §3 hints at this).
        ulong s1 = r1 * 20;
        ulong s2 = r2 * 20;
        ulong h0 = h0Ref, h1 = h1Ref, h2 = h2Ref;
        for (int i = 0; i + BlockSize <= blocks.Length; i += BlockSize)
        {
            ulong m0 = BinaryPrimitives.ReadUInt64LittleEndian(blocks[i..]);
            ulong m1 = BinaryPrimitives.ReadUInt64LittleEndian(blocks[(i + 8)..]);
            h0 += m0 & Mask44;
            h1 += ((m0 >> 44) | (m1 << 20)) & Mask44;
            h2 += (m1 >> 24) | hibit;

            // d0 = h0 r0 + h1 s2 + h2 s1; d1 = h0 r1 + h1 r0 + h2 s2; d2 = h0 r2 + h1 r1 + h2 r0 (each < 2^97).
            ulong d0Hi = Math.BigMul(h0, r0, out ulong d0Lo);
            MultiplyAdd(h1, s2, ref d0Hi, ref d0Lo);
            MultiplyAdd(h2, s1, ref d0Hi, ref d0Lo);
            ulong d1Hi = Math.BigMul(h0, r1, out ulong d1Lo);
            MultiplyAdd(h1, r0, ref d1Hi, ref d1Lo);
            MultiplyAdd(h2, s2, ref d1Hi, ref d1Lo);
            ulong d2Hi = Math.BigMul(h0, r2, out ulong d2Lo);
            MultiplyAdd(h1, r1, ref d2Hi, ref d2Lo);
            MultiplyAdd(h2, r0, ref d2Hi, ref d2Lo);

            // Partial carry back to 44/44/42 bits; the top carry wraps times 5.
            ulong c = (d0Lo >> 44) | (d0Hi << 20);
            h0 = d0Lo & Mask44;
            Add(c, ref d1Hi, ref d1Lo);
            c = (d1Lo >> 44) | (d1Hi << 20);
            h1 = d1Lo & Mask44;
            Add(c, ref d2Hi, ref d2Lo);
            c = (d2Lo >> 42) | (d2Hi << 22);
            h2 = d2Lo & Mask42;
            h0 += c * 5;
            c = h0 >> 44;
            h0 &= Mask44;
            h1 += c;
        }

        h0Ref = h0;
        h1Ref = h1;
        h2Ref = h2;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyAdd(ulong a, ulong b, ref ulong hi, ref ulong lo)
    {
        ulong productHi = Math.BigMul(a, b, out ulong productLo);
        Add(productLo, ref hi, ref lo);
        hi += productHi;
    }

    /// <summary>(hi, lo) += value, with a branch-free carry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(ulong value, ref ulong hi, ref ulong lo)
    {
        ulong sum = lo + value;
        hi += ((lo & value) | ((lo | value) & ~sum)) >> 63;
        lo = sum;
    }

    /// <summary>Fully reduces h mod 2^130-5, adds s mod 2^128 and writes the tag (RFC 8439 §2.5).</summary>
    private static void Finish(ReadOnlySpan<byte> key, ulong h0, ulong h1, ulong h2, Span<byte> tag)
    {
        ulong c = h1 >> 44;
        h1 &= Mask44;
        h2 += c;
        c = h2 >> 42;
        h2 &= Mask42;
        h0 += c * 5;
        c = h0 >> 44;
        h0 &= Mask44;
        h1 += c;
        c = h1 >> 44;
        h1 &= Mask44;
        h2 += c;
        c = h2 >> 42;
        h2 &= Mask42;
        h0 += c * 5;
        c = h0 >> 44;
        h0 &= Mask44;
        h1 += c;

        // g = h + 5 - 2^130; h >= p exactly when g does not borrow. Select without branching.
        ulong g0 = h0 + 5;
        c = g0 >> 44;
        g0 &= Mask44;
        ulong g1 = h1 + c;
        c = g1 >> 44;
        g1 &= Mask44;
        ulong g2 = h2 + c - (1UL << 42);
        ulong useG = (g2 >> 63) - 1;
        h0 = (h0 & ~useG) | (g0 & useG);
        h1 = (h1 & ~useG) | (g1 & useG);
        h2 = (h2 & ~useG) | (g2 & useG);

        ulong lo = h0 | (h1 << 44);
        ulong hi = (h1 >> 20) | (h2 << 24);
        ulong s0 = BinaryPrimitives.ReadUInt64LittleEndian(key[16..]);
        ulong s1 = BinaryPrimitives.ReadUInt64LittleEndian(key[24..]);
        Add(s0, ref hi, ref lo);
        hi += s1;
        BinaryPrimitives.WriteUInt64LittleEndian(tag, lo);
        BinaryPrimitives.WriteUInt64LittleEndian(tag[8..], hi);
    }
}
