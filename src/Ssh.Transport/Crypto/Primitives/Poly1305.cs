using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>
/// The Poly1305 one-time authenticator (Bernstein, "The Poly1305-AES message-authentication code", 2005;
/// RFC 8439 §2.5): tag = ((sum of m_i * r^(n-i+1)) mod 2^130-5) + s mod 2^128.
/// </summary>
/// <remarks>
/// <para>
/// Scalar: the accumulator and r are held in three limbs of 44, 44 and 42 bits, so each product of limbs fits in
/// 128 bits (<see cref="Math.BigMul(ulong, ulong, out ulong)"/>) and the sum of three such products does too.
/// </para>
/// <para>
/// Vector (256-bit: 4 lanes, 512-bit: 8 lanes): five 26-bit limbs per 64-bit lane and 32x32-bit multiplies. With k
/// lanes, lane j accumulates blocks j, j + k, j + 2k, ... by Horner's rule in r^k; the last chunk is multiplied by
/// r^k..r^1 lane by lane instead, and the lanes' sum is the accumulator after those blocks (the usual way to
/// vectorize Poly1305; Goll and Gueron, "Vectorization of Poly1305 message authentication code", 2015). Blocks left
/// over go through the scalar code.
/// </para>
/// <para>
/// Constant time: no branch or memory access depends on the key or the message contents.
/// </para>
/// </remarks>
internal static class Poly1305
{
    public const int KeySize = 32;
    public const int TagSize = 16;
    public const int BlockSize = 16;

    private const ulong Mask44 = (1UL << 44) - 1;
    private const ulong Mask42 = (1UL << 42) - 1;
    private const ulong Mask26 = (1UL << 26) - 1;

    // Below these sizes computing r^2..r^k costs more than the lanes save (measured on a Sapphire Rapids Xeon: 4 lanes
    // win from 256 bytes, 8 lanes beat 4 from about 2 KiB).
    private const int MinVector256Bytes = 256;
    private const int MinVector512Bytes = 2048;

    private static SimdPath s_path = ChaCha20.BestPath;

    /// <summary>
    /// The path in use; <see cref="SimdPath.Vector128"/> runs the scalar code (two lanes do not beat it). Tests set it
    /// to exercise every path. Not synchronized.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The hardware does not support that path.</exception>
    public static SimdPath Path
    {
        get => s_path;
        set
        {
            if (!ChaCha20.IsSupported(value))
            {
                throw new PlatformNotSupportedException($"Poly1305 path {value} is not supported on this machine.");
            }

            s_path = value;
        }
    }

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
        int done = 0;
        SimdPath path = s_path;
        if (path == SimdPath.Vector512 && full >= MinVector512Bytes)
        {
            done = full & ~(8 * BlockSize - 1);
            Vector512Blocks(key, message[..done], out h0, out h1, out h2);
        }
        else if ((path == SimdPath.Vector256 || path == SimdPath.Vector512) && full >= MinVector256Bytes)
        {
            done = full & ~(4 * BlockSize - 1);
            Vector256Blocks(key, message[..done], out h0, out h1, out h2);
        }

        Blocks(r0, r1, r2, message[done..full], ref h0, ref h1, ref h2, 1UL << 40);

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
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a loop kernel: compiled on its own, optimized from its first call, so its helpers are always inlined
    private static void Blocks(ulong r0, ulong r1, ulong r2, ReadOnlySpan<byte> blocks, ref ulong h0Ref, ref ulong h1Ref, ref ulong h2Ref, ulong hibit)
    {
        // A limb product landing at 2^132 is 4 * 2^130, congruent to 20 mod 2^130-5: fold it in with s = 20 r.
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

    // ---------------------------------------------------------------- radix 2^26, for the vector paths

    /// <summary>r clamped (RFC 8439 §2.5) and split into five 26-bit limbs.</summary>
    private static Limbs26 ClampedR26(ReadOnlySpan<byte> key) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(key) & 0x3ffffff,
        (BinaryPrimitives.ReadUInt32LittleEndian(key[3..]) >> 2) & 0x3ffff03,
        (BinaryPrimitives.ReadUInt32LittleEndian(key[6..]) >> 4) & 0x3ffc0ff,
        (BinaryPrimitives.ReadUInt32LittleEndian(key[9..]) >> 6) & 0x3f03fff,
        (BinaryPrimitives.ReadUInt32LittleEndian(key[12..]) >> 8) & 0x00fffff);

    /// <summary>a * b mod 2^130-5, limbs partially carried (each below 2^26 plus a little).</summary>
    private static Limbs26 Multiply26(in Limbs26 a, in Limbs26 b)
    {
        ulong s1 = b.L1 * 5, s2 = b.L2 * 5, s3 = b.L3 * 5, s4 = b.L4 * 5;
        ulong d0 = (a.L0 * b.L0) + (a.L1 * s4) + (a.L2 * s3) + (a.L3 * s2) + (a.L4 * s1);
        ulong d1 = (a.L0 * b.L1) + (a.L1 * b.L0) + (a.L2 * s4) + (a.L3 * s3) + (a.L4 * s2);
        ulong d2 = (a.L0 * b.L2) + (a.L1 * b.L1) + (a.L2 * b.L0) + (a.L3 * s4) + (a.L4 * s3);
        ulong d3 = (a.L0 * b.L3) + (a.L1 * b.L2) + (a.L2 * b.L1) + (a.L3 * b.L0) + (a.L4 * s4);
        ulong d4 = (a.L0 * b.L4) + (a.L1 * b.L3) + (a.L2 * b.L2) + (a.L3 * b.L1) + (a.L4 * b.L0);
        ulong c = d0 >> 26;
        d0 &= Mask26;
        d1 += c;
        c = d1 >> 26;
        d1 &= Mask26;
        d2 += c;
        c = d2 >> 26;
        d2 &= Mask26;
        d3 += c;
        c = d3 >> 26;
        d3 &= Mask26;
        d4 += c;
        c = d4 >> 26;
        d4 &= Mask26;
        d0 += c * 5;
        c = d0 >> 26;
        d0 &= Mask26;
        d1 += c;
        return new Limbs26(d0, d1, d2, d3, d4);
    }

    /// <summary>
    /// Carries a 26-bit-limb accumulator (limbs below 2^32) and repacks it into the scalar code's 44/44/42-bit limbs,
    /// partially reduced.
    /// </summary>
    private static void To44(ulong l0, ulong l1, ulong l2, ulong l3, ulong l4, out ulong h0, out ulong h1, out ulong h2)
    {
        ulong c = l0 >> 26;
        l0 &= Mask26;
        l1 += c;
        c = l1 >> 26;
        l1 &= Mask26;
        l2 += c;
        c = l2 >> 26;
        l2 &= Mask26;
        l3 += c;
        c = l3 >> 26;
        l3 &= Mask26;
        l4 += c;
        c = l4 >> 26;
        l4 &= Mask26;
        l0 += c * 5;
        c = l0 >> 26;
        l0 &= Mask26;
        l1 += c;

        // l1 may now be exactly 2^26: add the pieces rather than OR them, and carry.
        h0 = l0 + ((l1 & 0x3ffff) << 26);
        h1 = (l1 >> 18) + (l2 << 8) + ((l3 & 0x3ff) << 34);
        h2 = (l3 >> 10) + (l4 << 16) + (h1 >> 44);
        h1 &= Mask44;
    }

    /// <summary>The powers r^1..r^k, r^k first in lane order for the last chunk.</summary>
    private static void Powers(ReadOnlySpan<byte> key, Span<Limbs26> powers)
    {
        powers[0] = ClampedR26(key);
        for (int i = 1; i < powers.Length; i++)
        {
            powers[i] = Multiply26(powers[i - 1], powers[0]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Multiply(Vector256<ulong> a, Vector256<ulong> b) => Avx2.Multiply(a.AsUInt32(), b.AsUInt32());

    /// <summary>
    /// h = (h + m) * r^4 per lane over all but the last 64-byte chunk, then (h + m) * r^(4..1) by lane; returns the
    /// lanes' sum in 44-bit limbs. <paramref name="blocks"/> is a positive multiple of 64 bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a loop kernel: compiled on its own, optimized from its first call, so its helpers are always inlined
    private static void Vector256Blocks(ReadOnlySpan<byte> key, ReadOnlySpan<byte> blocks, out ulong h0, out ulong h1, out ulong h2)
    {
        Span<Limbs26> r = stackalloc Limbs26[4];
        Powers(key, r);

        // UnpackLow/High of two 64-byte halves put blocks 0, 2, 1, 3 of a chunk in lanes 0-3.
        Vector256<ulong> last0 = Vector256.Create(r[3].L0, r[1].L0, r[2].L0, r[0].L0);
        Vector256<ulong> last1 = Vector256.Create(r[3].L1, r[1].L1, r[2].L1, r[0].L1);
        Vector256<ulong> last2 = Vector256.Create(r[3].L2, r[1].L2, r[2].L2, r[0].L2);
        Vector256<ulong> last3 = Vector256.Create(r[3].L3, r[1].L3, r[2].L3, r[0].L3);
        Vector256<ulong> last4 = Vector256.Create(r[3].L4, r[1].L4, r[2].L4, r[0].L4);
        Vector256<ulong> k0 = Vector256.Create(r[3].L0);
        Vector256<ulong> k1 = Vector256.Create(r[3].L1);
        Vector256<ulong> k2 = Vector256.Create(r[3].L2);
        Vector256<ulong> k3 = Vector256.Create(r[3].L3);
        Vector256<ulong> k4 = Vector256.Create(r[3].L4);
        Vector256<ulong> ks1 = k1 * 5, ks2 = k2 * 5, ks3 = k3 * 5, ks4 = k4 * 5;
        CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(r));

        Vector256<ulong> a0 = Vector256<ulong>.Zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0;
        ref byte data = ref MemoryMarshal.GetReference(blocks);
        nuint end = (nuint)blocks.Length - 64;
        for (nuint offset = 0; offset < end; offset += 64)
        {
            AddBlocks(ref data, offset, ref a0, ref a1, ref a2, ref a3, ref a4);
            MultiplyReduce(ref a0, ref a1, ref a2, ref a3, ref a4, k0, k1, k2, k3, k4, ks1, ks2, ks3, ks4);
        }

        AddBlocks(ref data, end, ref a0, ref a1, ref a2, ref a3, ref a4);
        MultiplyReduce(ref a0, ref a1, ref a2, ref a3, ref a4, last0, last1, last2, last3, last4, last1 * 5, last2 * 5, last3 * 5, last4 * 5);
        To44(Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3), Vector256.Sum(a4), out h0, out h1, out h2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddBlocks(ref byte data, nuint offset, ref Vector256<ulong> a0, ref Vector256<ulong> a1, ref Vector256<ulong> a2, ref Vector256<ulong> a3, ref Vector256<ulong> a4)
    {
        Vector256<ulong> v0 = Vector256.LoadUnsafe(ref data, offset).AsUInt64();
        Vector256<ulong> v1 = Vector256.LoadUnsafe(ref data, offset + 32).AsUInt64();
        Vector256<ulong> lo = Avx2.UnpackLow(v0, v1);
        Vector256<ulong> hi = Avx2.UnpackHigh(v0, v1);
        Vector256<ulong> mask = Vector256.Create(Mask26);
        a0 += lo & mask;
        a1 += (lo >>> 26) & mask;
        a2 += ((lo >>> 52) | (hi << 12)) & mask;
        a3 += (hi >>> 14) & mask;
        a4 += (hi >>> 40) | Vector256.Create(1UL << 24);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyReduce(
        ref Vector256<ulong> h0, ref Vector256<ulong> h1, ref Vector256<ulong> h2, ref Vector256<ulong> h3, ref Vector256<ulong> h4,
        Vector256<ulong> r0, Vector256<ulong> r1, Vector256<ulong> r2, Vector256<ulong> r3, Vector256<ulong> r4,
        Vector256<ulong> s1, Vector256<ulong> s2, Vector256<ulong> s3, Vector256<ulong> s4)
    {
        // d = h * r mod 2^130-5; a product at 2^130 or above wraps as 5 times itself, hence s = 5 r.
        Vector256<ulong> d0 = Multiply(h0, r0) + Multiply(h1, s4) + Multiply(h2, s3) + Multiply(h3, s2) + Multiply(h4, s1);
        Vector256<ulong> d1 = Multiply(h0, r1) + Multiply(h1, r0) + Multiply(h2, s4) + Multiply(h3, s3) + Multiply(h4, s2);
        Vector256<ulong> d2 = Multiply(h0, r2) + Multiply(h1, r1) + Multiply(h2, r0) + Multiply(h3, s4) + Multiply(h4, s3);
        Vector256<ulong> d3 = Multiply(h0, r3) + Multiply(h1, r2) + Multiply(h2, r1) + Multiply(h3, r0) + Multiply(h4, s4);
        Vector256<ulong> d4 = Multiply(h0, r4) + Multiply(h1, r3) + Multiply(h2, r2) + Multiply(h3, r1) + Multiply(h4, r0);

        // Two interleaved carry chains, d0 -> d1 -> d2 -> d3 -> d4 and d3 -> d4 -> 5 * d0 -> d1; limbs end below 2^27.
        Vector256<ulong> mask = Vector256.Create(Mask26);
        Vector256<ulong> c0 = d0 >>> 26, c3 = d3 >>> 26;
        d0 &= mask;
        d3 &= mask;
        d1 += c0;
        d4 += c3;
        Vector256<ulong> c1 = d1 >>> 26, c4 = d4 >>> 26;
        d1 &= mask;
        d4 &= mask;
        d2 += c1;
        d0 += c4 + (c4 << 2);
        Vector256<ulong> c2 = d2 >>> 26;
        c0 = d0 >>> 26;
        d2 &= mask;
        d0 &= mask;
        d3 += c2;
        d1 += c0;
        c3 = d3 >>> 26;
        d3 &= mask;
        d4 += c3;
        h0 = d0;
        h1 = d1;
        h2 = d2;
        h3 = d3;
        h4 = d4;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Multiply(Vector512<ulong> a, Vector512<ulong> b) => Avx512F.Multiply(a.AsUInt32(), b.AsUInt32());

    /// <summary>As <see cref="Vector256Blocks"/> with 8 lanes and r^8; <paramref name="blocks"/> is a positive multiple of 128 bytes.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a loop kernel: compiled on its own, optimized from its first call, so its helpers are always inlined
    private static void Vector512Blocks(ReadOnlySpan<byte> key, ReadOnlySpan<byte> blocks, out ulong h0, out ulong h1, out ulong h2)
    {
        Span<Limbs26> r = stackalloc Limbs26[8];
        Powers(key, r);

        // UnpackLow/High of two 128-byte halves put blocks 0, 4, 1, 5, 2, 6, 3, 7 of a chunk in lanes 0-7.
        Vector512<ulong> last0 = Vector512.Create(r[7].L0, r[3].L0, r[6].L0, r[2].L0, r[5].L0, r[1].L0, r[4].L0, r[0].L0);
        Vector512<ulong> last1 = Vector512.Create(r[7].L1, r[3].L1, r[6].L1, r[2].L1, r[5].L1, r[1].L1, r[4].L1, r[0].L1);
        Vector512<ulong> last2 = Vector512.Create(r[7].L2, r[3].L2, r[6].L2, r[2].L2, r[5].L2, r[1].L2, r[4].L2, r[0].L2);
        Vector512<ulong> last3 = Vector512.Create(r[7].L3, r[3].L3, r[6].L3, r[2].L3, r[5].L3, r[1].L3, r[4].L3, r[0].L3);
        Vector512<ulong> last4 = Vector512.Create(r[7].L4, r[3].L4, r[6].L4, r[2].L4, r[5].L4, r[1].L4, r[4].L4, r[0].L4);
        Vector512<ulong> k0 = Vector512.Create(r[7].L0);
        Vector512<ulong> k1 = Vector512.Create(r[7].L1);
        Vector512<ulong> k2 = Vector512.Create(r[7].L2);
        Vector512<ulong> k3 = Vector512.Create(r[7].L3);
        Vector512<ulong> k4 = Vector512.Create(r[7].L4);
        Vector512<ulong> ks1 = k1 * 5, ks2 = k2 * 5, ks3 = k3 * 5, ks4 = k4 * 5;
        CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(r));

        Vector512<ulong> a0 = Vector512<ulong>.Zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0;
        ref byte data = ref MemoryMarshal.GetReference(blocks);
        nuint end = (nuint)blocks.Length - 128;
        for (nuint offset = 0; offset < end; offset += 128)
        {
            AddBlocks(ref data, offset, ref a0, ref a1, ref a2, ref a3, ref a4);
            MultiplyReduce(ref a0, ref a1, ref a2, ref a3, ref a4, k0, k1, k2, k3, k4, ks1, ks2, ks3, ks4);
        }

        AddBlocks(ref data, end, ref a0, ref a1, ref a2, ref a3, ref a4);
        MultiplyReduce(ref a0, ref a1, ref a2, ref a3, ref a4, last0, last1, last2, last3, last4, last1 * 5, last2 * 5, last3 * 5, last4 * 5);
        To44(Vector512.Sum(a0), Vector512.Sum(a1), Vector512.Sum(a2), Vector512.Sum(a3), Vector512.Sum(a4), out h0, out h1, out h2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddBlocks(ref byte data, nuint offset, ref Vector512<ulong> a0, ref Vector512<ulong> a1, ref Vector512<ulong> a2, ref Vector512<ulong> a3, ref Vector512<ulong> a4)
    {
        Vector512<ulong> v0 = Vector512.LoadUnsafe(ref data, offset).AsUInt64();
        Vector512<ulong> v1 = Vector512.LoadUnsafe(ref data, offset + 64).AsUInt64();
        Vector512<ulong> lo = Avx512F.UnpackLow(v0, v1);
        Vector512<ulong> hi = Avx512F.UnpackHigh(v0, v1);
        Vector512<ulong> mask = Vector512.Create(Mask26);
        a0 += lo & mask;
        a1 += (lo >>> 26) & mask;
        a2 += ((lo >>> 52) | (hi << 12)) & mask;
        a3 += (hi >>> 14) & mask;
        a4 += (hi >>> 40) | Vector512.Create(1UL << 24);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyReduce(
        ref Vector512<ulong> h0, ref Vector512<ulong> h1, ref Vector512<ulong> h2, ref Vector512<ulong> h3, ref Vector512<ulong> h4,
        Vector512<ulong> r0, Vector512<ulong> r1, Vector512<ulong> r2, Vector512<ulong> r3, Vector512<ulong> r4,
        Vector512<ulong> s1, Vector512<ulong> s2, Vector512<ulong> s3, Vector512<ulong> s4)
    {
        // d = h * r mod 2^130-5; a product at 2^130 or above wraps as 5 times itself, hence s = 5 r.
        Vector512<ulong> d0 = Multiply(h0, r0) + Multiply(h1, s4) + Multiply(h2, s3) + Multiply(h3, s2) + Multiply(h4, s1);
        Vector512<ulong> d1 = Multiply(h0, r1) + Multiply(h1, r0) + Multiply(h2, s4) + Multiply(h3, s3) + Multiply(h4, s2);
        Vector512<ulong> d2 = Multiply(h0, r2) + Multiply(h1, r1) + Multiply(h2, r0) + Multiply(h3, s4) + Multiply(h4, s3);
        Vector512<ulong> d3 = Multiply(h0, r3) + Multiply(h1, r2) + Multiply(h2, r1) + Multiply(h3, r0) + Multiply(h4, s4);
        Vector512<ulong> d4 = Multiply(h0, r4) + Multiply(h1, r3) + Multiply(h2, r2) + Multiply(h3, r1) + Multiply(h4, r0);

        Vector512<ulong> mask = Vector512.Create(Mask26);
        Vector512<ulong> c0 = d0 >>> 26, c3 = d3 >>> 26;
        d0 &= mask;
        d3 &= mask;
        d1 += c0;
        d4 += c3;
        Vector512<ulong> c1 = d1 >>> 26, c4 = d4 >>> 26;
        d1 &= mask;
        d4 &= mask;
        d2 += c1;
        d0 += c4 + (c4 << 2);
        Vector512<ulong> c2 = d2 >>> 26;
        c0 = d0 >>> 26;
        d2 &= mask;
        d0 &= mask;
        d3 += c2;
        d1 += c0;
        c3 = d3 >>> 26;
        d3 &= mask;
        d4 += c3;
        h0 = d0;
        h1 = d1;
        h2 = d2;
        h3 = d3;
        h4 = d4;
    }

    /// <summary>Five 26-bit limbs of a number mod 2^130-5.</summary>
    private readonly record struct Limbs26(ulong L0, ulong L1, ulong L2, ulong L3, ulong L4);
}
