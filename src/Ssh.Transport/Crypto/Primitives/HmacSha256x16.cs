using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>
/// HMAC-SHA-256 (RFC 2104, FIPS 180-4) of up to sixteen messages of one length at once, each
/// uint32 sequence_number || packet as SSH MACs it (RFC 4253 §6.4): message i is hashed in lane i of 512-bit vectors.
/// </summary>
/// <remarks>
/// <para>
/// SHA-256 is serial within a message, so one message cannot use wide vectors; sixteen can. On the 2-vCPU AMD EPYC
/// of docs/performance.md sixteen 32 KiB messages hash at about 3 GB/s this way against 1.8 GB/s for OpenSSL's
/// SHA-NI code (which .NET's HMAC calls; .NET has no SHA intrinsics), one message at a time. Fewer than about ten
/// messages are slower than SHA-NI, so callers batch only when they have enough.
/// </para>
/// <para>
/// The round function is FIPS 180-4 §6.2.2 with Σ and σ as three rotations or shifts folded by one ternary-logic
/// instruction, Ch and Maj one ternary-logic instruction each. Each block's sixteen words are loaded per message and
/// transposed (16×16 32-bit words) so that vector t holds word t of every message.
/// </para>
/// <para>
/// The key's inner and outer pad states are computed once (the first block of each hash); per batch only the
/// messages and the one-block outer hash are hashed. Those states are secret and zeroed on dispose.
/// </para>
/// </remarks>
internal sealed class HmacSha256x16 : IDisposable
{
    /// <summary>Messages per batch.</summary>
    public const int Lanes = 16;

    /// <summary>
    /// The fewest messages worth a batch: below about ten, sixteen lanes with some idle are slower than SHA-NI one
    /// message at a time (docs/performance.md).
    /// </summary>
    public const int MinLanesWorthIt = 12;

    /// <summary>The tag length.</summary>
    public const int MacSize = 32;

    private const int BlockSize = 64;

    private static readonly uint[] s_initial = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

    private static readonly uint[] s_k =
    [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];

    // The pad states, one vector per state word with the same value in every lane: [0..8) inner, [8..16) outer.
    private readonly Vector512<uint>[] _pads = new Vector512<uint>[16];

    // Per lane: up to two blocks of the first or last bytes of its message, with SHA-256's padding.
    private readonly byte[] _scratch = new byte[Lanes * 2 * BlockSize];
    private bool _disposed;

    /// <summary>Precomputes the pad states of <paramref name="key"/> (keys longer than a block are hashed first, RFC 2104 §2).</summary>
    /// <exception cref="PlatformNotSupportedException">See <see cref="IsSupported"/>.</exception>
    public HmacSha256x16(ReadOnlySpan<byte> key)
    {
        if (!IsSupported)
        {
            throw new PlatformNotSupportedException("Sixteen-lane SHA-256 needs AVX-512 (F and BW).");
        }

        Span<byte> block = stackalloc byte[BlockSize];
        block.Clear();
        if (key.Length > BlockSize)
        {
            SHA256.HashData(key, block);
        }
        else
        {
            key.CopyTo(block);
        }

        Span<byte> padded = _scratch.AsSpan(0, BlockSize);
        Span<Vector512<uint>> state = stackalloc Vector512<uint>[8];
        Span<int> offsets = stackalloc int[Lanes];
        offsets.Clear(); // every lane hashes the same block: the state is the same in all of them
        for (int pad = 0; pad < 2; pad++)
        {
            byte fill = pad == 0 ? (byte)0x36 : (byte)0x5c;
            for (int i = 0; i < BlockSize; i++)
            {
                padded[i] = (byte)(block[i] ^ fill);
            }

            LoadInitial(state);
            Compress(state, ref padded[0], offsets, 1);
            state.CopyTo(_pads.AsSpan(8 * pad, 8));
        }

        CryptographicOperations.ZeroMemory(block);
        CryptographicOperations.ZeroMemory(padded);
        state.Clear();
    }

    /// <summary>True when this machine has AVX-512 F and BW, accelerated.</summary>
    public static bool IsSupported => Avx512F.IsSupported && Avx512BW.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>
    /// Writes HMAC(key, uint32(<paramref name="firstSequenceNumber"/> + i) || message i) for i in [0, count) to
    /// macs[32 i ..], where message i is data[offsets[i] .. offsets[i] + length).
    /// </summary>
    /// <param name="firstSequenceNumber">The first message's sequence number; the others follow it (wrapping at 2^32).</param>
    /// <param name="data">Holds every message.</param>
    /// <param name="offsets">Where each message starts in <paramref name="data"/>; 1 to 16 of them.</param>
    /// <param name="length">The length of every message.</param>
    /// <param name="macs">At least 32 × offsets.Length bytes.</param>
    public void Compute(uint firstSequenceNumber, ReadOnlySpan<byte> data, ReadOnlySpan<int> offsets, int length, Span<byte> macs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int count = offsets.Length;
        if (count is < 1 or > Lanes)
        {
            throw new ArgumentOutOfRangeException(nameof(offsets), count, "One to sixteen messages.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (macs.Length < count * MacSize)
        {
            throw new ArgumentException("Too short for the MACs.", nameof(macs));
        }

        // Unused lanes hash message 0 again; their results are dropped.
        Span<int> lane = stackalloc int[Lanes];
        for (int i = 0; i < Lanes; i++)
        {
            int offset = offsets[i < count ? i : 0];
            if ((uint)offset > (uint)data.Length || length > data.Length - offset)
            {
                throw new ArgumentOutOfRangeException(nameof(offsets), offset, "A message runs past the data.");
            }

            lane[i] = offset;
        }

        // The hashed message is uint32 sequence || message: n bytes after the inner pad's block.
        long n = 4L + length;
        int whole = (int)(n / BlockSize);
        Span<Vector512<uint>> state = stackalloc Vector512<uint>[8];
        _pads.AsSpan(0, 8).CopyTo(state);
        Span<int> scratchLane = stackalloc int[Lanes];
        for (int i = 0; i < Lanes; i++)
        {
            scratchLane[i] = i * 2 * BlockSize;
        }

        ref byte scratch = ref MemoryMarshal.GetArrayDataReference(_scratch);
        ref byte source = ref MemoryMarshal.GetReference(data);
        int tailStart; // where, in the message, the bytes the last block(s) take from it start
        if (whole > 0)
        {
            // Block 0: the sequence number and the message's first 60 bytes.
            for (int i = 0; i < Lanes; i++)
            {
                Span<byte> first = _scratch.AsSpan(scratchLane[i], BlockSize);
                BinaryPrimitives.WriteUInt32BigEndian(first, firstSequenceNumber + (uint)(i < count ? i : 0));
                data.Slice(lane[i], BlockSize - 4).CopyTo(first[4..]);
            }

            Compress(state, ref scratch, scratchLane, 1);

            // Blocks 1 .. whole-1 straight from the data.
            if (whole > 1)
            {
                Span<int> middle = stackalloc int[Lanes];
                for (int i = 0; i < Lanes; i++)
                {
                    middle[i] = lane[i] + BlockSize - 4;
                }

                Compress(state, ref source, middle, whole - 1);
            }

            tailStart = (whole * BlockSize) - 4;
        }
        else
        {
            tailStart = 0;
        }

        // The rest, then 0x80, zeros and the bit length of everything hashed (pad block included): FIPS 180-4 §5.1.1.
        int rest = length - tailStart;
        bool sequenceInTail = whole == 0;
        int tailBytes = rest + (sequenceInTail ? 4 : 0);
        int tailBlocks = tailBytes + 1 + 8 <= BlockSize ? 1 : 2;
        ulong bits = (ulong)(BlockSize + n) * 8;
        for (int i = 0; i < Lanes; i++)
        {
            Span<byte> tail = _scratch.AsSpan(scratchLane[i], tailBlocks * BlockSize);
            int at = 0;
            if (sequenceInTail)
            {
                BinaryPrimitives.WriteUInt32BigEndian(tail, firstSequenceNumber + (uint)(i < count ? i : 0));
                at = 4;
            }

            data.Slice(lane[i] + tailStart, rest).CopyTo(tail[at..]);
            at += rest;
            tail[at] = 0x80;
            tail[(at + 1)..^8].Clear();
            BinaryPrimitives.WriteUInt64BigEndian(tail[^8..], bits);
        }

        Compress(state, ref scratch, scratchLane, tailBlocks);

        // Outer hash: the outer pad's state, then one block of the inner digest and padding (64 + 32 bytes hashed).
        Span<uint> words = stackalloc uint[8 * Lanes];
        StoreWords(state, words);
        for (int i = 0; i < Lanes; i++)
        {
            Span<byte> block = _scratch.AsSpan(scratchLane[i], BlockSize);
            for (int w = 0; w < 8; w++)
            {
                BinaryPrimitives.WriteUInt32BigEndian(block[(4 * w)..], words[(w * Lanes) + i]);
            }

            block[32] = 0x80;
            block[33..^8].Clear();
            BinaryPrimitives.WriteUInt64BigEndian(block[^8..], (BlockSize + MacSize) * 8);
        }

        _pads.AsSpan(8, 8).CopyTo(state);
        Compress(state, ref scratch, scratchLane, 1);
        StoreWords(state, words);
        for (int i = 0; i < count; i++)
        {
            Span<byte> mac = macs.Slice(i * MacSize, MacSize);
            for (int w = 0; w < 8; w++)
            {
                BinaryPrimitives.WriteUInt32BigEndian(mac[(4 * w)..], words[(w * Lanes) + i]);
            }
        }

        state.Clear();
        words.Clear();
    }

    /// <summary>Zeroes the pad states and the scratch blocks.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Array.Clear(_pads);
            CryptographicOperations.ZeroMemory(_scratch);
        }
    }

    private static void LoadInitial(Span<Vector512<uint>> state)
    {
        for (int i = 0; i < 8; i++)
        {
            state[i] = Vector512.Create(s_initial[i]);
        }
    }

    private static void StoreWords(ReadOnlySpan<Vector512<uint>> state, Span<uint> words)
    {
        for (int w = 0; w < 8; w++)
        {
            state[w].CopyTo(words.Slice(w * Lanes, Lanes));
        }
    }

    [InlineArray(16)]
    private struct Schedule
    {
        private Vector512<uint> _element;
    }

    /// <summary>
    /// Runs <paramref name="blocks"/> consecutive blocks of each lane through the compression function (FIPS 180-4
    /// §6.2.2); lane i's blocks start at offsets[i] from <paramref name="source"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a kernel, optimized from its first call
    private static void Compress(Span<Vector512<uint>> state, ref byte source, ReadOnlySpan<int> offsets, int blocks)
    {
        Vector512<byte> swap = Vector512.Create(
            (byte)3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
            3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
        ref uint k = ref MemoryMarshal.GetArrayDataReference(s_k);
        Vector512<uint> sa = state[0], sb = state[1], sc = state[2], sd = state[3], se = state[4], sf = state[5], sg = state[6], sh = state[7];
        Schedule w = default;
        for (int block = 0; block < blocks; block++)
        {
            nuint at = (nuint)(block * BlockSize);
            for (int i = 0; i < Lanes; i++)
            {
                w[i] = Avx512BW.Shuffle(Vector512.LoadUnsafe(ref source, (nuint)offsets[i] + at), swap).AsUInt32();
            }

            Transpose(ref w);
            Vector512<uint> a = sa, b = sb, c = sc, d = sd, e = se, f = sf, g = sg, h = sh;
            for (int t = 0; t < 16; t += 8)
            {
                Round(a, b, c, ref d, e, f, g, ref h, w[t] + Vector512.Create(Unsafe.Add(ref k, t)));
                Round(h, a, b, ref c, d, e, f, ref g, w[t + 1] + Vector512.Create(Unsafe.Add(ref k, t + 1)));
                Round(g, h, a, ref b, c, d, e, ref f, w[t + 2] + Vector512.Create(Unsafe.Add(ref k, t + 2)));
                Round(f, g, h, ref a, b, c, d, ref e, w[t + 3] + Vector512.Create(Unsafe.Add(ref k, t + 3)));
                Round(e, f, g, ref h, a, b, c, ref d, w[t + 4] + Vector512.Create(Unsafe.Add(ref k, t + 4)));
                Round(d, e, f, ref g, h, a, b, ref c, w[t + 5] + Vector512.Create(Unsafe.Add(ref k, t + 5)));
                Round(c, d, e, ref f, g, h, a, ref b, w[t + 6] + Vector512.Create(Unsafe.Add(ref k, t + 6)));
                Round(b, c, d, ref e, f, g, h, ref a, w[t + 7] + Vector512.Create(Unsafe.Add(ref k, t + 7)));
            }

            for (int t = 16; t < 64; t += 8)
            {
                Round(a, b, c, ref d, e, f, g, ref h, Next(ref w, t) + Vector512.Create(Unsafe.Add(ref k, t)));
                Round(h, a, b, ref c, d, e, f, ref g, Next(ref w, t + 1) + Vector512.Create(Unsafe.Add(ref k, t + 1)));
                Round(g, h, a, ref b, c, d, e, ref f, Next(ref w, t + 2) + Vector512.Create(Unsafe.Add(ref k, t + 2)));
                Round(f, g, h, ref a, b, c, d, ref e, Next(ref w, t + 3) + Vector512.Create(Unsafe.Add(ref k, t + 3)));
                Round(e, f, g, ref h, a, b, c, ref d, Next(ref w, t + 4) + Vector512.Create(Unsafe.Add(ref k, t + 4)));
                Round(d, e, f, ref g, h, a, b, ref c, Next(ref w, t + 5) + Vector512.Create(Unsafe.Add(ref k, t + 5)));
                Round(c, d, e, ref f, g, h, a, ref b, Next(ref w, t + 6) + Vector512.Create(Unsafe.Add(ref k, t + 6)));
                Round(b, c, d, ref e, f, g, h, ref a, Next(ref w, t + 7) + Vector512.Create(Unsafe.Add(ref k, t + 7)));
            }

            sa += a;
            sb += b;
            sc += c;
            sd += d;
            se += e;
            sf += f;
            sg += g;
            sh += h;
        }

        state[0] = sa;
        state[1] = sb;
        state[2] = sc;
        state[3] = sd;
        state[4] = se;
        state[5] = sf;
        state[6] = sg;
        state[7] = sh;
        ((Span<Vector512<uint>>)w).Clear(); // message words of secret-keyed data
    }

    /// <summary>
    /// One round: T1 = h + Σ1(e) + Ch(e, f, g) + K[t] + W[t], T2 = Σ0(a) + Maj(a, b, c); d += T1, and h becomes
    /// T1 + T2 (the caller renames the variables instead of moving them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(
        Vector512<uint> a, Vector512<uint> b, Vector512<uint> c, ref Vector512<uint> d,
        Vector512<uint> e, Vector512<uint> f, Vector512<uint> g, ref Vector512<uint> h, Vector512<uint> kw)
    {
        Vector512<uint> sigma1 = Avx512F.TernaryLogic(Avx512F.RotateRight(e, 6), Avx512F.RotateRight(e, 11), Avx512F.RotateRight(e, 25), 0x96); // x ^ y ^ z
        Vector512<uint> choose = Avx512F.TernaryLogic(e, f, g, 0xCA); // e ? f : g
        Vector512<uint> t1 = h + sigma1 + choose + kw;
        Vector512<uint> sigma0 = Avx512F.TernaryLogic(Avx512F.RotateRight(a, 2), Avx512F.RotateRight(a, 13), Avx512F.RotateRight(a, 22), 0x96);
        Vector512<uint> majority = Avx512F.TernaryLogic(a, b, c, 0xE8);
        d += t1;
        h = t1 + sigma0 + majority;
    }

    /// <summary>W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept in a ring of sixteen.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Next(ref Schedule w, int t)
    {
        Vector512<uint> w15 = w[(t - 15) & 15];
        Vector512<uint> w2 = w[(t - 2) & 15];
        Vector512<uint> s0 = Avx512F.TernaryLogic(Avx512F.RotateRight(w15, 7), Avx512F.RotateRight(w15, 18), Avx512F.ShiftRightLogical(w15, 3), 0x96);
        Vector512<uint> s1 = Avx512F.TernaryLogic(Avx512F.RotateRight(w2, 17), Avx512F.RotateRight(w2, 19), Avx512F.ShiftRightLogical(w2, 10), 0x96);
        Vector512<uint> next = w[t & 15] + s0 + s1 + w[(t - 7) & 15];
        w[t & 15] = next;
        return next;
    }

    /// <summary>
    /// Transposes sixteen rows of sixteen words: row i (lane i's block) becomes element i of every vector. 32-bit
    /// then 64-bit interleaves within 128-bit lanes, then two rounds of 128-bit lane shuffles.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref Schedule w)
    {
        // t[2j], t[2j+1]: rows 2j and 2j+1 interleaved by words.
        Schedule t = default;
        for (int i = 0; i < 16; i += 2)
        {
            t[i] = Avx512F.UnpackLow(w[i], w[i + 1]);
            t[i + 1] = Avx512F.UnpackHigh(w[i], w[i + 1]);
        }

        // u[4g + j], 128-bit lane L: word 4L + j of rows 4g .. 4g + 3.
        Schedule u = default;
        for (int i = 0; i < 16; i += 4)
        {
            u[i] = Avx512F.UnpackLow(t[i].AsUInt64(), t[i + 2].AsUInt64()).AsUInt32();
            u[i + 1] = Avx512F.UnpackHigh(t[i].AsUInt64(), t[i + 2].AsUInt64()).AsUInt32();
            u[i + 2] = Avx512F.UnpackLow(t[i + 1].AsUInt64(), t[i + 3].AsUInt64()).AsUInt32();
            u[i + 3] = Avx512F.UnpackHigh(t[i + 1].AsUInt64(), t[i + 3].AsUInt64()).AsUInt32();
        }

        // Gather lane L of u[j], u[4 + j], u[8 + j], u[12 + j] into word 4L + j of all sixteen rows.
        for (int j = 0; j < 4; j++)
        {
            Vector512<uint> x0 = Avx512F.Shuffle4x128(u[j], u[4 + j], 0x88); // lanes 0, 2 of each
            Vector512<uint> x1 = Avx512F.Shuffle4x128(u[j], u[4 + j], 0xDD); // lanes 1, 3 of each
            Vector512<uint> y0 = Avx512F.Shuffle4x128(u[8 + j], u[12 + j], 0x88);
            Vector512<uint> y1 = Avx512F.Shuffle4x128(u[8 + j], u[12 + j], 0xDD);
            w[j] = Avx512F.Shuffle4x128(x0, y0, 0x88);
            w[8 + j] = Avx512F.Shuffle4x128(x0, y0, 0xDD);
            w[4 + j] = Avx512F.Shuffle4x128(x1, y1, 0x88);
            w[12 + j] = Avx512F.Shuffle4x128(x1, y1, 0xDD);
        }
    }
}
