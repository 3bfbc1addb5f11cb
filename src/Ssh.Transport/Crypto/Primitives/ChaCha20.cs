using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>The widest instruction set a primitive may use; each wider path also uses the narrower ones for tails.</summary>
internal enum SimdPath
{
    /// <summary>Plain 32/64-bit integer code.</summary>
    Scalar = 0,

    /// <summary>128-bit vectors (SSSE3; AVX-512VL rotates when present).</summary>
    Vector128 = 128,

    /// <summary>256-bit vectors (AVX2).</summary>
    Vector256 = 256,

    /// <summary>512-bit vectors (AVX-512F).</summary>
    Vector512 = 512,
}

/// <summary>
/// The ChaCha20 stream cipher (Bernstein, "ChaCha, a variant of Salsa20", 2008; RFC 8439 §2.1-2.4).
/// </summary>
/// <remarks>
/// <para>
/// The state is 4 constant words, 8 key words, then words 12-15. Two layouts fill words 12-15 differently and share
/// everything else:
/// </para>
/// <list type="bullet">
/// <item>Original (what OpenSSH's chacha20-poly1305 uses): words 12-13 a 64-bit little-endian block counter, words
/// 14-15 the 8-byte IV. <see cref="Xor"/>, <see cref="KeyStream"/>, <see cref="Block"/>.</item>
/// <item>RFC 8439 §2.3: word 12 a 32-bit counter, words 13-15 the 12-byte nonce. <see cref="XorRfc8439"/>,
/// <see cref="BlockRfc8439"/>.</item>
/// </list>
/// <para>
/// The vector paths compute one block per lane (4, 8 or 16 blocks at once) and transpose the result. The path is
/// chosen once from the hardware (<see cref="BestPath"/>); tests may narrow it with <see cref="Path"/>.
/// </para>
/// </remarks>
internal static class ChaCha20
{
    public const int KeySize = 32;
    public const int BlockSize = 64;
    public const int Rfc8439NonceSize = 12;

    // "expand 32-byte k" (RFC 8439 §2.3).
    private const uint Sigma0 = 0x61707865;
    private const uint Sigma1 = 0x3320646e;
    private const uint Sigma2 = 0x79622d32;
    private const uint Sigma3 = 0x6b206574;

    private const int Batch128 = 4 * BlockSize;
    private const int Batch256 = 8 * BlockSize;
    private const int Batch512 = 16 * BlockSize;

    private static SimdPath s_path = DetectBestPath();

    /// <summary>The widest path this machine supports.</summary>
    public static SimdPath BestPath { get; } = DetectBestPath();

    /// <summary>
    /// The path in use. Defaults to <see cref="BestPath"/>; tests set a narrower one to exercise every path. Not
    /// synchronized: set it only while nothing else runs ChaCha20.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The hardware does not support that path.</exception>
    public static SimdPath Path
    {
        get => s_path;
        set
        {
            if (!IsSupported(value))
            {
                throw new PlatformNotSupportedException($"ChaCha20 path {value} is not supported on this machine.");
            }

            s_path = value;
        }
    }

    /// <summary>True when this machine can run <paramref name="path"/>.</summary>
    public static bool IsSupported(SimdPath path) => path switch
    {
        SimdPath.Scalar => true,
        SimdPath.Vector128 => Vector128.IsHardwareAccelerated && Ssse3.IsSupported,
        SimdPath.Vector256 => Vector256.IsHardwareAccelerated && Avx2.IsSupported,
        SimdPath.Vector512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported,
        _ => false,
    };

    private static SimdPath DetectBestPath() =>
        IsSupported(SimdPath.Vector512) ? SimdPath.Vector512
        : IsSupported(SimdPath.Vector256) ? SimdPath.Vector256
        : IsSupported(SimdPath.Vector128) ? SimdPath.Vector128
        : SimdPath.Scalar;

    /// <summary>
    /// XORs <paramref name="source"/> with the keystream (original layout: 64-bit counter, 8-byte IV) into
    /// <paramref name="destination"/>.
    /// </summary>
    /// <param name="key">32 bytes.</param>
    /// <param name="nonce">The 8-byte IV read as a big-endian uint64: for SSH, the sequence number (PROTOCOL.chacha20poly1305).</param>
    /// <param name="counter">The block counter of the first block; wraps modulo 2^64.</param>
    /// <param name="source">The input.</param>
    /// <param name="destination">At least as long as <paramref name="source"/>; either the same memory (in place) or not overlapping it.</param>
    public static void Xor(ReadOnlySpan<byte> key, ulong nonce, ulong counter, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        State state = default;
        Initialize(ref state, key, (uint)counter, (uint)(counter >> 32), BinaryPrimitives.ReverseEndianness((uint)(nonce >> 32)), BinaryPrimitives.ReverseEndianness((uint)nonce));
        Process(ref state, source, destination);
        Clear(ref state);
    }

    /// <summary>Writes <paramref name="destination"/>.Length bytes of keystream (original layout).</summary>
    /// <param name="key">32 bytes.</param>
    /// <param name="nonce">The 8-byte IV read as a big-endian uint64.</param>
    /// <param name="counter">The block counter of the first block.</param>
    /// <param name="destination">Receives the keystream.</param>
    public static void KeyStream(ReadOnlySpan<byte> key, ulong nonce, ulong counter, Span<byte> destination)
    {
        destination.Clear();
        Xor(key, nonce, counter, destination, destination);
    }

    /// <summary>Writes one 64-byte keystream block (original layout), e.g. a Poly1305 one-time key source.</summary>
    /// <param name="key">32 bytes.</param>
    /// <param name="nonce">The 8-byte IV read as a big-endian uint64.</param>
    /// <param name="counter">The block counter.</param>
    /// <param name="destination">At least 64 bytes; the first 64 receive the block.</param>
    public static void Block(ReadOnlySpan<byte> key, ulong nonce, ulong counter, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, BlockSize, nameof(destination));
        State state = default;
        Initialize(ref state, key, (uint)counter, (uint)(counter >> 32), BinaryPrimitives.ReverseEndianness((uint)(nonce >> 32)), BinaryPrimitives.ReverseEndianness((uint)nonce));
        ScalarBlock(ref state, destination);
        Clear(ref state);
    }

    /// <summary>
    /// XORs <paramref name="source"/> with the RFC 8439 §2.4 keystream (32-bit counter, 12-byte nonce).
    /// </summary>
    /// <param name="key">32 bytes.</param>
    /// <param name="nonce">12 bytes.</param>
    /// <param name="counter">The block counter of the first block.</param>
    /// <param name="source">The input.</param>
    /// <param name="destination">As for <see cref="Xor"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The 32-bit counter would wrap (RFC 8439 §2.8: at most 2^32 blocks).</exception>
    public static void XorRfc8439(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, uint counter, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(nonce.Length, Rfc8439NonceSize, nameof(nonce));
        ulong blocks = ((ulong)source.Length + BlockSize - 1) / BlockSize;
        if (counter + blocks > 1UL << 32)
        {
            throw new ArgumentOutOfRangeException(nameof(source), "The RFC 8439 block counter would wrap.");
        }

        // Words 13-15 hold the nonce; the counter never carries into word 13 because of the check above.
        State state = default;
        Initialize(ref state, key, counter, BinaryPrimitives.ReadUInt32LittleEndian(nonce), BinaryPrimitives.ReadUInt32LittleEndian(nonce[4..]), BinaryPrimitives.ReadUInt32LittleEndian(nonce[8..]));
        Process(ref state, source, destination);
        Clear(ref state);
    }

    /// <summary>Writes one 64-byte RFC 8439 §2.3 block.</summary>
    /// <param name="key">32 bytes.</param>
    /// <param name="nonce">12 bytes.</param>
    /// <param name="counter">The block counter.</param>
    /// <param name="destination">At least 64 bytes.</param>
    public static void BlockRfc8439(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, uint counter, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(nonce.Length, Rfc8439NonceSize, nameof(nonce));
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, BlockSize, nameof(destination));
        State state = default;
        Initialize(ref state, key, counter, BinaryPrimitives.ReadUInt32LittleEndian(nonce), BinaryPrimitives.ReadUInt32LittleEndian(nonce[4..]), BinaryPrimitives.ReadUInt32LittleEndian(nonce[8..]));
        ScalarBlock(ref state, destination);
        Clear(ref state);
    }

    private static void Initialize(ref State state, ReadOnlySpan<byte> key, uint word12, uint word13, uint word14, uint word15)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(key.Length, KeySize, nameof(key));
        state[0] = Sigma0;
        state[1] = Sigma1;
        state[2] = Sigma2;
        state[3] = Sigma3;
        for (int i = 0; i < 8; i++)
        {
            state[4 + i] = BinaryPrimitives.ReadUInt32LittleEndian(key[(4 * i)..]);
        }

        state[12] = word12;
        state[13] = word13;
        state[14] = word14;
        state[15] = word15;
    }

    private static void Clear(ref State state) => CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes((Span<uint>)state));

    private static void AdvanceCounter(ref State state, uint blocks)
    {
        ulong counter = (state[12] | ((ulong)state[13] << 32)) + blocks;
        state[12] = (uint)counter;
        state[13] = (uint)(counter >> 32);
    }

    private static void Process(ref State state, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        }

        if (source.Overlaps(destination, out int offset) && offset != 0)
        {
            throw new ArgumentException("The destination must be the source itself or not overlap it.", nameof(destination));
        }

        SimdPath path = s_path;
        int length = source.Length;
        int done = 0;
        switch (path)
        {
            case SimdPath.Vector512:
                for (; length - done >= Batch512; done += Batch512)
                {
                    XorBatch512(ref state, source[done..], destination[done..]);
                }

                break;
            case SimdPath.Vector256:
                for (; length - done >= Batch256; done += Batch256)
                {
                    XorBatch256(ref state, source[done..], destination[done..]);
                }

                break;
            case SimdPath.Vector128:
                for (; length - done >= Batch128; done += Batch128)
                {
                    XorBatch128(ref state, source[done..], destination[done..]);
                }

                break;
        }

        int remaining = length - done;
        if (remaining == 0)
        {
            return;
        }

        if (path == SimdPath.Scalar || remaining <= BlockSize)
        {
            Span<byte> block = stackalloc byte[BlockSize];
            for (; done < length; done += BlockSize)
            {
                ScalarBlock(ref state, block);
                XorBytes(source[done..], block, destination[done..]);
            }

            CryptographicOperations.ZeroMemory(block);
            return;
        }

        // The rest (65 bytes up to one batch of this path) costs one batch of keystream of the narrowest width that
        // covers it: a batch costs about as much at any width, and little more than one scalar block.
        Span<byte> keyStream = remaining <= Batch128 ? stackalloc byte[Batch128] : remaining <= Batch256 ? stackalloc byte[Batch256] : stackalloc byte[Batch512];
        keyStream.Clear();
        switch (keyStream.Length)
        {
            case Batch128:
                XorBatch128(ref state, keyStream, keyStream);
                break;
            case Batch256:
                XorBatch256(ref state, keyStream, keyStream);
                break;
            default:
                XorBatch512(ref state, keyStream, keyStream);
                break;
        }

        XorBytes(source[done..], keyStream, destination[done..]);
        CryptographicOperations.ZeroMemory(keyStream);
    }

    /// <summary>XORs min(source.Length, keyStream.Length) bytes of <paramref name="source"/> with <paramref name="keyStream"/>.</summary>
    /// <param name="source">The input.</param>
    /// <param name="keyStream">Keystream computed earlier (e.g. with <see cref="KeyStream"/>).</param>
    /// <param name="destination">The output: the source itself or memory not overlapping it.</param>
    public static void XorBytes(ReadOnlySpan<byte> source, ReadOnlySpan<byte> keyStream, Span<byte> destination)
    {
        int count = Math.Min(source.Length, keyStream.Length);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 64 <= count; i += 64)
            {
                (Vector512.Create(source.Slice(i, 64)) ^ Vector512.Create(keyStream.Slice(i, 64))).CopyTo(destination[i..]);
            }
        }

        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 32 <= count; i += 32)
            {
                (Vector256.Create(source.Slice(i, 32)) ^ Vector256.Create(keyStream.Slice(i, 32))).CopyTo(destination[i..]);
            }
        }

        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 16 <= count; i += 16)
            {
                (Vector128.Create(source.Slice(i, 16)) ^ Vector128.Create(keyStream.Slice(i, 16))).CopyTo(destination[i..]);
            }
        }

        for (; i + 8 <= count; i += 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination[i..], BinaryPrimitives.ReadUInt64LittleEndian(source[i..]) ^ BinaryPrimitives.ReadUInt64LittleEndian(keyStream[i..]));
        }

        for (; i < count; i++)
        {
            destination[i] = (byte)(source[i] ^ keyStream[i]);
        }
    }

    // ---------------------------------------------------------------- scalar

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuarterRound(ref uint a, ref uint b, ref uint c, ref uint d)
    {
        // RFC 8439 §2.1.
        a += b;
        d = BitOperations.RotateLeft(d ^ a, 16);
        c += d;
        b = BitOperations.RotateLeft(b ^ c, 12);
        a += b;
        d = BitOperations.RotateLeft(d ^ a, 8);
        c += d;
        b = BitOperations.RotateLeft(b ^ c, 7);
    }

    /// <summary>One block of keystream into the first 64 bytes of <paramref name="output"/>; advances the counter.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a loop kernel: compiled on its own, optimized from its first call, so its helpers are always inlined
    private static void ScalarBlock(ref State state, Span<byte> output)
    {
        uint x0 = state[0], x1 = state[1], x2 = state[2], x3 = state[3];
        uint x4 = state[4], x5 = state[5], x6 = state[6], x7 = state[7];
        uint x8 = state[8], x9 = state[9], x10 = state[10], x11 = state[11];
        uint x12 = state[12], x13 = state[13], x14 = state[14], x15 = state[15];
        for (int i = 0; i < 10; i++)
        {
            // RFC 8439 §2.3: a column round, then a diagonal round.
            QuarterRound(ref x0, ref x4, ref x8, ref x12);
            QuarterRound(ref x1, ref x5, ref x9, ref x13);
            QuarterRound(ref x2, ref x6, ref x10, ref x14);
            QuarterRound(ref x3, ref x7, ref x11, ref x15);
            QuarterRound(ref x0, ref x5, ref x10, ref x15);
            QuarterRound(ref x1, ref x6, ref x11, ref x12);
            QuarterRound(ref x2, ref x7, ref x8, ref x13);
            QuarterRound(ref x3, ref x4, ref x9, ref x14);
        }

        Span<byte> o = output[..BlockSize];
        BinaryPrimitives.WriteUInt32LittleEndian(o[60..], x15 + state[15]);
        BinaryPrimitives.WriteUInt32LittleEndian(o, x0 + state[0]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[4..], x1 + state[1]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[8..], x2 + state[2]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[12..], x3 + state[3]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[16..], x4 + state[4]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[20..], x5 + state[5]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[24..], x6 + state[6]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[28..], x7 + state[7]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[32..], x8 + state[8]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[36..], x9 + state[9]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[40..], x10 + state[10]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[44..], x11 + state[11]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[48..], x12 + state[12]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[52..], x13 + state[13]);
        BinaryPrimitives.WriteUInt32LittleEndian(o[56..], x14 + state[14]);
        AdvanceCounter(ref state, 1);
    }

    // ---------------------------------------------------------------- 128-bit: 4 blocks, one per lane

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> RotateLeft(Vector128<uint> x, [ConstantExpected(Min = 1, Max = 31)] byte n)
    {
        if (Avx512F.VL.IsSupported)
        {
            return Avx512F.VL.RotateLeft(x, n);
        }

        // Rotations by whole bytes are one byte shuffle.
        if (n == 16)
        {
            return Ssse3.Shuffle(x.AsByte(), Vector128.Create((byte)2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)).AsUInt32();
        }

        if (n == 8)
        {
            return Ssse3.Shuffle(x.AsByte(), Vector128.Create((byte)3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14)).AsUInt32();
        }

        return (x << n) | (x >>> (32 - n));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuarterRound(ref Vector128<uint> a, ref Vector128<uint> b, ref Vector128<uint> c, ref Vector128<uint> d)
    {
        a += b;
        d = RotateLeft(d ^ a, 16);
        c += d;
        b = RotateLeft(b ^ c, 12);
        a += b;
        d = RotateLeft(d ^ a, 8);
        c += d;
        b = RotateLeft(b ^ c, 7);
    }

    /// <summary>Transposes 4x4 words within each 128-bit lane: afterwards a, b, c, d hold lane blocks 0, 1, 2, 3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref Vector128<uint> a, ref Vector128<uint> b, ref Vector128<uint> c, ref Vector128<uint> d)
    {
        Vector128<ulong> t0 = Sse2.UnpackLow(a, b).AsUInt64();
        Vector128<ulong> t1 = Sse2.UnpackHigh(a, b).AsUInt64();
        Vector128<ulong> t2 = Sse2.UnpackLow(c, d).AsUInt64();
        Vector128<ulong> t3 = Sse2.UnpackHigh(c, d).AsUInt64();
        a = Sse2.UnpackLow(t0, t2).AsUInt32();
        b = Sse2.UnpackHigh(t0, t2).AsUInt32();
        c = Sse2.UnpackLow(t1, t3).AsUInt32();
        d = Sse2.UnpackHigh(t1, t3).AsUInt32();
    }

    /// <summary>XORs 4 blocks (256 bytes) of <paramref name="source"/> into <paramref name="destination"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a loop kernel: compiled on its own, optimized from its first call, so its helpers are always inlined
    private static void XorBatch128(ref State state, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        ref byte src = ref MemoryMarshal.GetReference(source[..Batch128]);
        ref byte dst = ref MemoryMarshal.GetReference(destination[..Batch128]);

        Vector128<uint> counterLow = Vector128.Create(state[12]);
        Vector128<uint> counter12 = counterLow + Vector128.Create(0u, 1, 2, 3);

        // A lane whose low word wrapped carries into word 13 (true lanes are all ones, i.e. -1).
        Vector128<uint> counter13 = Vector128.Create(state[13]) - Vector128.LessThan(counter12, counterLow);

        Vector128<uint> x0 = Vector128.Create(Sigma0), x1 = Vector128.Create(Sigma1), x2 = Vector128.Create(Sigma2), x3 = Vector128.Create(Sigma3);
        Vector128<uint> x4 = Vector128.Create(state[4]), x5 = Vector128.Create(state[5]), x6 = Vector128.Create(state[6]), x7 = Vector128.Create(state[7]);
        Vector128<uint> x8 = Vector128.Create(state[8]), x9 = Vector128.Create(state[9]), x10 = Vector128.Create(state[10]), x11 = Vector128.Create(state[11]);
        Vector128<uint> x12 = counter12, x13 = counter13, x14 = Vector128.Create(state[14]), x15 = Vector128.Create(state[15]);
        for (int i = 0; i < 10; i++)
        {
            QuarterRound(ref x0, ref x4, ref x8, ref x12);
            QuarterRound(ref x1, ref x5, ref x9, ref x13);
            QuarterRound(ref x2, ref x6, ref x10, ref x14);
            QuarterRound(ref x3, ref x7, ref x11, ref x15);
            QuarterRound(ref x0, ref x5, ref x10, ref x15);
            QuarterRound(ref x1, ref x6, ref x11, ref x12);
            QuarterRound(ref x2, ref x7, ref x8, ref x13);
            QuarterRound(ref x3, ref x4, ref x9, ref x14);
        }

        x0 += Vector128.Create(Sigma0);
        x1 += Vector128.Create(Sigma1);
        x2 += Vector128.Create(Sigma2);
        x3 += Vector128.Create(Sigma3);
        x4 += Vector128.Create(state[4]);
        x5 += Vector128.Create(state[5]);
        x6 += Vector128.Create(state[6]);
        x7 += Vector128.Create(state[7]);
        x8 += Vector128.Create(state[8]);
        x9 += Vector128.Create(state[9]);
        x10 += Vector128.Create(state[10]);
        x11 += Vector128.Create(state[11]);
        x12 += counter12;
        x13 += counter13;
        x14 += Vector128.Create(state[14]);
        x15 += Vector128.Create(state[15]);

        // After the transposes, x[4g + j] holds words 4g..4g+3 of block j.
        Transpose(ref x0, ref x1, ref x2, ref x3);
        Transpose(ref x4, ref x5, ref x6, ref x7);
        Transpose(ref x8, ref x9, ref x10, ref x11);
        Transpose(ref x12, ref x13, ref x14, ref x15);
        Store128(x0, x4, x8, x12, ref src, ref dst, 0);
        Store128(x1, x5, x9, x13, ref src, ref dst, 64);
        Store128(x2, x6, x10, x14, ref src, ref dst, 128);
        Store128(x3, x7, x11, x15, ref src, ref dst, 192);
        AdvanceCounter(ref state, 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store128(Vector128<uint> a, Vector128<uint> b, Vector128<uint> c, Vector128<uint> d, ref byte src, ref byte dst, nuint offset)
    {
        (Vector128.LoadUnsafe(ref src, offset) ^ a.AsByte()).StoreUnsafe(ref dst, offset);
        (Vector128.LoadUnsafe(ref src, offset + 16) ^ b.AsByte()).StoreUnsafe(ref dst, offset + 16);
        (Vector128.LoadUnsafe(ref src, offset + 32) ^ c.AsByte()).StoreUnsafe(ref dst, offset + 32);
        (Vector128.LoadUnsafe(ref src, offset + 48) ^ d.AsByte()).StoreUnsafe(ref dst, offset + 48);
    }

    // ---------------------------------------------------------------- 256-bit: 8 blocks, one per lane

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> RotateLeft(Vector256<uint> x, [ConstantExpected(Min = 1, Max = 31)] byte n)
    {
        if (Avx512F.VL.IsSupported)
        {
            return Avx512F.VL.RotateLeft(x, n);
        }

        if (n == 16)
        {
            return Avx2.Shuffle(x.AsByte(), Vector256.Create((byte)2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)).AsUInt32();
        }

        if (n == 8)
        {
            return Avx2.Shuffle(x.AsByte(), Vector256.Create((byte)3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14)).AsUInt32();
        }

        return (x << n) | (x >>> (32 - n));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuarterRound(ref Vector256<uint> a, ref Vector256<uint> b, ref Vector256<uint> c, ref Vector256<uint> d)
    {
        a += b;
        d = RotateLeft(d ^ a, 16);
        c += d;
        b = RotateLeft(b ^ c, 12);
        a += b;
        d = RotateLeft(d ^ a, 8);
        c += d;
        b = RotateLeft(b ^ c, 7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref Vector256<uint> a, ref Vector256<uint> b, ref Vector256<uint> c, ref Vector256<uint> d)
    {
        Vector256<ulong> t0 = Avx2.UnpackLow(a, b).AsUInt64();
        Vector256<ulong> t1 = Avx2.UnpackHigh(a, b).AsUInt64();
        Vector256<ulong> t2 = Avx2.UnpackLow(c, d).AsUInt64();
        Vector256<ulong> t3 = Avx2.UnpackHigh(c, d).AsUInt64();
        a = Avx2.UnpackLow(t0, t2).AsUInt32();
        b = Avx2.UnpackHigh(t0, t2).AsUInt32();
        c = Avx2.UnpackLow(t1, t3).AsUInt32();
        d = Avx2.UnpackHigh(t1, t3).AsUInt32();
    }

    /// <summary>XORs 8 blocks (512 bytes).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a loop kernel: compiled on its own, optimized from its first call, so its helpers are always inlined
    private static void XorBatch256(ref State state, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        ref byte src = ref MemoryMarshal.GetReference(source[..Batch256]);
        ref byte dst = ref MemoryMarshal.GetReference(destination[..Batch256]);

        Vector256<uint> counterLow = Vector256.Create(state[12]);
        Vector256<uint> counter12 = counterLow + Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
        Vector256<uint> counter13 = Vector256.Create(state[13]) - Vector256.LessThan(counter12, counterLow);

        Vector256<uint> x0 = Vector256.Create(Sigma0), x1 = Vector256.Create(Sigma1), x2 = Vector256.Create(Sigma2), x3 = Vector256.Create(Sigma3);
        Vector256<uint> x4 = Vector256.Create(state[4]), x5 = Vector256.Create(state[5]), x6 = Vector256.Create(state[6]), x7 = Vector256.Create(state[7]);
        Vector256<uint> x8 = Vector256.Create(state[8]), x9 = Vector256.Create(state[9]), x10 = Vector256.Create(state[10]), x11 = Vector256.Create(state[11]);
        Vector256<uint> x12 = counter12, x13 = counter13, x14 = Vector256.Create(state[14]), x15 = Vector256.Create(state[15]);
        for (int i = 0; i < 10; i++)
        {
            QuarterRound(ref x0, ref x4, ref x8, ref x12);
            QuarterRound(ref x1, ref x5, ref x9, ref x13);
            QuarterRound(ref x2, ref x6, ref x10, ref x14);
            QuarterRound(ref x3, ref x7, ref x11, ref x15);
            QuarterRound(ref x0, ref x5, ref x10, ref x15);
            QuarterRound(ref x1, ref x6, ref x11, ref x12);
            QuarterRound(ref x2, ref x7, ref x8, ref x13);
            QuarterRound(ref x3, ref x4, ref x9, ref x14);
        }

        x0 += Vector256.Create(Sigma0);
        x1 += Vector256.Create(Sigma1);
        x2 += Vector256.Create(Sigma2);
        x3 += Vector256.Create(Sigma3);
        x4 += Vector256.Create(state[4]);
        x5 += Vector256.Create(state[5]);
        x6 += Vector256.Create(state[6]);
        x7 += Vector256.Create(state[7]);
        x8 += Vector256.Create(state[8]);
        x9 += Vector256.Create(state[9]);
        x10 += Vector256.Create(state[10]);
        x11 += Vector256.Create(state[11]);
        x12 += counter12;
        x13 += counter13;
        x14 += Vector256.Create(state[14]);
        x15 += Vector256.Create(state[15]);

        // After the transposes x[4g + j] = [words 4g..4g+3 of block j | the same of block j + 4].
        Transpose(ref x0, ref x1, ref x2, ref x3);
        Transpose(ref x4, ref x5, ref x6, ref x7);
        Transpose(ref x8, ref x9, ref x10, ref x11);
        Transpose(ref x12, ref x13, ref x14, ref x15);
        Store256(x0, x4, x8, x12, ref src, ref dst, 0);
        Store256(x1, x5, x9, x13, ref src, ref dst, 64);
        Store256(x2, x6, x10, x14, ref src, ref dst, 128);
        Store256(x3, x7, x11, x15, ref src, ref dst, 192);
        AdvanceCounter(ref state, 8);
    }

    /// <summary>Stores blocks j (low halves) and j + 4 (high halves) from one column of transposed words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(Vector256<uint> a, Vector256<uint> b, Vector256<uint> c, Vector256<uint> d, ref byte src, ref byte dst, nuint offset)
    {
        Vector256<byte> low0 = Avx2.Permute2x128(a, b, 0x20).AsByte();
        Vector256<byte> low1 = Avx2.Permute2x128(c, d, 0x20).AsByte();
        Vector256<byte> high0 = Avx2.Permute2x128(a, b, 0x31).AsByte();
        Vector256<byte> high1 = Avx2.Permute2x128(c, d, 0x31).AsByte();
        (Vector256.LoadUnsafe(ref src, offset) ^ low0).StoreUnsafe(ref dst, offset);
        (Vector256.LoadUnsafe(ref src, offset + 32) ^ low1).StoreUnsafe(ref dst, offset + 32);
        (Vector256.LoadUnsafe(ref src, offset + 256) ^ high0).StoreUnsafe(ref dst, offset + 256);
        (Vector256.LoadUnsafe(ref src, offset + 288) ^ high1).StoreUnsafe(ref dst, offset + 288);
    }

    // ---------------------------------------------------------------- 512-bit: 16 blocks, one per lane

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuarterRound(ref Vector512<uint> a, ref Vector512<uint> b, ref Vector512<uint> c, ref Vector512<uint> d)
    {
        a += b;
        d = Avx512F.RotateLeft(d ^ a, 16);
        c += d;
        b = Avx512F.RotateLeft(b ^ c, 12);
        a += b;
        d = Avx512F.RotateLeft(d ^ a, 8);
        c += d;
        b = Avx512F.RotateLeft(b ^ c, 7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref Vector512<uint> a, ref Vector512<uint> b, ref Vector512<uint> c, ref Vector512<uint> d)
    {
        Vector512<ulong> t0 = Avx512F.UnpackLow(a, b).AsUInt64();
        Vector512<ulong> t1 = Avx512F.UnpackHigh(a, b).AsUInt64();
        Vector512<ulong> t2 = Avx512F.UnpackLow(c, d).AsUInt64();
        Vector512<ulong> t3 = Avx512F.UnpackHigh(c, d).AsUInt64();
        a = Avx512F.UnpackLow(t0, t2).AsUInt32();
        b = Avx512F.UnpackHigh(t0, t2).AsUInt32();
        c = Avx512F.UnpackLow(t1, t3).AsUInt32();
        d = Avx512F.UnpackHigh(t1, t3).AsUInt32();
    }

    /// <summary>XORs 16 blocks (1024 bytes).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a loop kernel: compiled on its own, optimized from its first call, so its helpers are always inlined
    private static void XorBatch512(ref State state, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        ref byte src = ref MemoryMarshal.GetReference(source[..Batch512]);
        ref byte dst = ref MemoryMarshal.GetReference(destination[..Batch512]);

        Vector512<uint> counterLow = Vector512.Create(state[12]);
        Vector512<uint> counter12 = counterLow + Vector512.Create(0u, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        Vector512<uint> counter13 = Vector512.Create(state[13]) - Vector512.LessThan(counter12, counterLow);

        Vector512<uint> x0 = Vector512.Create(Sigma0), x1 = Vector512.Create(Sigma1), x2 = Vector512.Create(Sigma2), x3 = Vector512.Create(Sigma3);
        Vector512<uint> x4 = Vector512.Create(state[4]), x5 = Vector512.Create(state[5]), x6 = Vector512.Create(state[6]), x7 = Vector512.Create(state[7]);
        Vector512<uint> x8 = Vector512.Create(state[8]), x9 = Vector512.Create(state[9]), x10 = Vector512.Create(state[10]), x11 = Vector512.Create(state[11]);
        Vector512<uint> x12 = counter12, x13 = counter13, x14 = Vector512.Create(state[14]), x15 = Vector512.Create(state[15]);
        for (int i = 0; i < 10; i++)
        {
            QuarterRound(ref x0, ref x4, ref x8, ref x12);
            QuarterRound(ref x1, ref x5, ref x9, ref x13);
            QuarterRound(ref x2, ref x6, ref x10, ref x14);
            QuarterRound(ref x3, ref x7, ref x11, ref x15);
            QuarterRound(ref x0, ref x5, ref x10, ref x15);
            QuarterRound(ref x1, ref x6, ref x11, ref x12);
            QuarterRound(ref x2, ref x7, ref x8, ref x13);
            QuarterRound(ref x3, ref x4, ref x9, ref x14);
        }

        x0 += Vector512.Create(Sigma0);
        x1 += Vector512.Create(Sigma1);
        x2 += Vector512.Create(Sigma2);
        x3 += Vector512.Create(Sigma3);
        x4 += Vector512.Create(state[4]);
        x5 += Vector512.Create(state[5]);
        x6 += Vector512.Create(state[6]);
        x7 += Vector512.Create(state[7]);
        x8 += Vector512.Create(state[8]);
        x9 += Vector512.Create(state[9]);
        x10 += Vector512.Create(state[10]);
        x11 += Vector512.Create(state[11]);
        x12 += counter12;
        x13 += counter13;
        x14 += Vector512.Create(state[14]);
        x15 += Vector512.Create(state[15]);

        // After the transposes, 128-bit lane L of x[4g + j] holds words 4g..4g+3 of block 4L + j.
        Transpose(ref x0, ref x1, ref x2, ref x3);
        Transpose(ref x4, ref x5, ref x6, ref x7);
        Transpose(ref x8, ref x9, ref x10, ref x11);
        Transpose(ref x12, ref x13, ref x14, ref x15);
        Store512(x0, x4, x8, x12, ref src, ref dst, 0);
        Store512(x1, x5, x9, x13, ref src, ref dst, 64);
        Store512(x2, x6, x10, x14, ref src, ref dst, 128);
        Store512(x3, x7, x11, x15, ref src, ref dst, 192);
        AdvanceCounter(ref state, 16);
    }

    /// <summary>
    /// Stores blocks j, j + 4, j + 8, j + 12 from one column of transposed words: a 4x4 transpose of 128-bit lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(Vector512<uint> a, Vector512<uint> b, Vector512<uint> c, Vector512<uint> d, ref byte src, ref byte dst, nuint offset)
    {
        // 0x88 picks lanes (0, 2) of each operand, 0xDD lanes (1, 3).
        Vector512<uint> ab02 = Avx512F.Shuffle4x128(a, b, 0x88);
        Vector512<uint> ab13 = Avx512F.Shuffle4x128(a, b, 0xDD);
        Vector512<uint> cd02 = Avx512F.Shuffle4x128(c, d, 0x88);
        Vector512<uint> cd13 = Avx512F.Shuffle4x128(c, d, 0xDD);
        Vector512<byte> block0 = Avx512F.Shuffle4x128(ab02, cd02, 0x88).AsByte();
        Vector512<byte> block8 = Avx512F.Shuffle4x128(ab02, cd02, 0xDD).AsByte();
        Vector512<byte> block4 = Avx512F.Shuffle4x128(ab13, cd13, 0x88).AsByte();
        Vector512<byte> block12 = Avx512F.Shuffle4x128(ab13, cd13, 0xDD).AsByte();
        (Vector512.LoadUnsafe(ref src, offset) ^ block0).StoreUnsafe(ref dst, offset);
        (Vector512.LoadUnsafe(ref src, offset + 256) ^ block4).StoreUnsafe(ref dst, offset + 256);
        (Vector512.LoadUnsafe(ref src, offset + 512) ^ block8).StoreUnsafe(ref dst, offset + 512);
        (Vector512.LoadUnsafe(ref src, offset + 768) ^ block12).StoreUnsafe(ref dst, offset + 768);
    }

    /// <summary>The 16-word input state; lives on the stack and is zeroed after use.</summary>
    [InlineArray(16)]
    private struct State
    {
        private uint _word;
    }
}
