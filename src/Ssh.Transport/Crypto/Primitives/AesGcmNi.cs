using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;
using AesNi = System.Runtime.Intrinsics.X86.Aes;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>
/// AES-GCM (NIST SP 800-38D) with a 12-byte nonce and a 16-byte tag, on AES-NI and carry-less multiplication.
/// </summary>
/// <remarks>
/// <para>
/// Why our own: the BCL's <see cref="AesGcm"/> on Linux re-initializes an OpenSSL 3 context for every call, which
/// costs about a microsecond — more than sealing a 1 KiB packet takes. SSH seals one small packet at a time, so that
/// fixed cost dominates interactive traffic. This class keeps the key schedule and the powers of H in memory and
/// does no per-call setup beyond the counter block.
/// </para>
/// <para>
/// Counter mode (SP 800-38D §6.5): J0 = nonce || 0^31 || 1, the data under inc32(J0), inc32(J0)+1, ...; the tag is
/// E(K, J0) XOR GHASH(A || 0* || C || 0* || [len(A)]64 || [len(C)]64). Eight counter blocks go through the AES rounds
/// together so the pipelined AES units stay busy.
/// </para>
/// <para>
/// GHASH (SP 800-38D §6.4) works on byte-reversed blocks, in which GCM's bit order becomes a "reflected" 128-bit
/// integer. The carry-less product of two reflected values is the field product times x; storing the hash key as
/// H·x⁻¹ ("H &lt;&lt; 1 mod P", Gueron and Kounavis, Intel's carry-less multiplication white paper, 2014, §4) cancels
/// that factor, and the 256-bit product is reduced with two multiplications by the reflected polynomial's
/// constant 0xC2000000_00000000. Several blocks are hashed per reduction (aggregated reduction): eight with H^8..H^1 on
/// 128-bit PCLMULQDQ, sixteen with H^16..H^1 on 256-bit VPCLMULQDQ, two blocks per multiplication (encryption
/// hashes eight per reduction on both paths, the previous run's blocks between the current run's AES rounds).
/// </para>
/// <para>
/// The loop kernels (Ctr, EncryptWide, Encrypt8, Hash8, HashWide) are never inlined. Their small helpers must be,
/// or the vectors go through memory at every call; inlined into a caller that has already spent its inlining
/// budget (as the JIT did into a benchmark method, through Encrypt and EncryptSegment), they were not, and a
/// 32 KiB encryption ran three times slower. For the same reason the kernels are compiled optimized from their
/// first call (AggressiveOptimization): in tier 0, where a kernel called once per packet stayed for the first part
/// of a transfer, no helper is inlined (8% of a 2 GiB download's samples; docs/performance.md).
/// </para>
/// <para>
/// Decryption hashes the ciphertext and compares the tag in constant time before it decrypts anything; on a
/// mismatch the destination is not written. Key schedule and hash-key powers are zeroed on dispose.
/// </para>
/// </remarks>
internal sealed class AesGcmNi : IDisposable
{
    public const int NonceSize = 12;
    public const int TagSize = 16;

    private const int BlockSize = 16;
    private const int Stride = 8 * BlockSize;

    private const int WideStride = 16 * BlockSize;
    private const int PowerCount = 16;

    // Layout of _state: round keys 0..rounds (16 bytes each, up to 15), then the hash-key powers: slot i holds
    // H^(16-i)·x⁻¹ for i = 0..15, so block i of a sixteen-block run is multiplied by slot i, and block i of an
    // eight-block run by slot 8 + i.
    private const int PowersOffset = 15 * BlockSize;
    private const int Powers8Offset = PowersOffset + 8 * BlockSize;
    private const int H1Offset = PowersOffset + (PowerCount - 1) * BlockSize;
    private const int StateSize = PowersOffset + PowerCount * BlockSize;

    // Detected once (it runs the wide path's self-test): the default, and what BestPath reports.
    private static readonly SimdPath s_bestPath = DetectBestPath();
    private static SimdPath s_path = s_bestPath;

    private readonly byte[] _state = GC.AllocateArray<byte>(StateSize, pinned: true);
    private readonly int _rounds;
    private bool _disposed;

    /// <summary>Expands the key schedule and computes H = E(K, 0^128) and its powers.</summary>
    /// <param name="key">16 bytes (AES-128) or 32 bytes (AES-256).</param>
    /// <exception cref="PlatformNotSupportedException">The machine has no AES-NI or PCLMULQDQ (check <see cref="IsSupported"/>).</exception>
    public AesGcmNi(ReadOnlySpan<byte> key)
    {
        if (!IsSupported)
        {
            throw new PlatformNotSupportedException("AES-NI and PCLMULQDQ are required.");
        }

        _rounds = key.Length switch
        {
            16 => 10,
            32 => 14,
            _ => throw new ArgumentException("The key is 16 or 32 bytes.", nameof(key)),
        };

        ref byte state = ref MemoryMarshal.GetArrayDataReference(_state);
        if (key.Length == 16)
        {
            ExpandKey128(key, ref state);
        }
        else
        {
            ExpandKey256(key, ref state);
        }

        Vector128<byte> h = EncryptBlock(ref state, _rounds, Vector128<byte>.Zero);
        Vector128<ulong> h1 = ShiftedHashKey(ByteReverse(h).AsUInt64());
        Vector128<ulong> power = h1;
        for (int i = PowerCount - 1; i >= 0; i--)
        {
            Store(ref state, PowersOffset + i * BlockSize, power.AsByte());
            power = Multiply(power, h1);
        }
    }

    /// <summary>True when this machine has the instructions this class needs (AES-NI, PCLMULQDQ, SSSE3).</summary>
    public static bool IsSupported => AesNi.IsSupported && Pclmulqdq.IsSupported && Ssse3.IsSupported;

    /// <summary>The widest GHASH path this machine supports: <see cref="SimdPath.Vector256"/> with VPCLMULQDQ, else 128-bit.</summary>
    public static SimdPath BestPath => s_bestPath;

    /// <summary>
    /// The GHASH path in use; tests narrow it to exercise each one. Not synchronized: set it only while nothing else
    /// runs this class.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The hardware does not support that path.</exception>
    public static SimdPath Path
    {
        get => s_path;
        set
        {
            if (!IsPathSupported(value))
            {
                throw new PlatformNotSupportedException($"AES-GCM path {value} is not supported on this machine.");
            }

            s_path = value;
        }
    }

    /// <summary>True when this machine can run <paramref name="path"/> (128-bit, or 256-bit GHASH).</summary>
    public static bool IsPathSupported(SimdPath path) => path switch
    {
        SimdPath.Vector128 => IsSupported,
        SimdPath.Vector256 => IsSupported && Pclmulqdq.V256.IsSupported && Avx2.IsSupported && Vector256.IsHardwareAccelerated,
        _ => false,
    };

    /// <summary>Encrypts <paramref name="plaintext"/> into <paramref name="ciphertext"/> and writes the tag.</summary>
    /// <param name="nonce">12 bytes.</param>
    /// <param name="plaintext">The input.</param>
    /// <param name="ciphertext">Same length; the same memory (in place) or not overlapping it.</param>
    /// <param name="tag">16 bytes.</param>
    /// <param name="associatedData">Authenticated, not encrypted.</param>
    public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData)
    {
        CheckArguments(nonce, plaintext.Length, ciphertext.Length, tag.Length);
        ref byte state = ref MemoryMarshal.GetArrayDataReference(_state);
        Vector128<byte> j0 = CounterBase(nonce);
        Vector128<ulong> hash = HashPadded(ref state, Vector128<ulong>.Zero, associatedData);

        uint counter = 2;
        EncryptSegment(ref state, j0, ref counter, ref hash, plaintext, ciphertext);
        Finish(ref state, hash, j0, associatedData.Length, plaintext.Length, tag);
    }

    /// <summary>
    /// Encrypts <paramref name="body"/> in place as if bytes <paramref name="insertAt"/> onwards were
    /// <paramref name="insert"/>: the middle is read straight from <paramref name="insert"/>, so a payload held
    /// elsewhere is encrypted into place without first being copied there. Only the blocks that straddle the
    /// edges of <paramref name="insert"/> are copied (at most 30 bytes).
    /// </summary>
    /// <param name="nonce">12 bytes.</param>
    /// <param name="body">The plaintext around the insert; receives the whole ciphertext.</param>
    /// <param name="insertAt">Where <paramref name="insert"/> goes in <paramref name="body"/>.</param>
    /// <param name="insert">The bytes of body[insertAt .. insertAt + insert.Length); must not overlap body.</param>
    /// <param name="tag">16 bytes.</param>
    /// <param name="associatedData">Authenticated, not encrypted.</param>
    public void EncryptWithInsert(ReadOnlySpan<byte> nonce, Span<byte> body, int insertAt, ReadOnlySpan<byte> insert, Span<byte> tag, ReadOnlySpan<byte> associatedData)
    {
        CheckArguments(nonce, body.Length, body.Length, tag.Length);
        ArgumentOutOfRangeException.ThrowIfNegative(insertAt);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(insertAt + insert.Length, body.Length, nameof(insert));
        if (body.Overlaps(insert))
        {
            throw new ArgumentException("The insert must not overlap the body.", nameof(insert));
        }

        ref byte state = ref MemoryMarshal.GetArrayDataReference(_state);
        Vector128<byte> j0 = CounterBase(nonce);
        Vector128<ulong> hash = HashPadded(ref state, Vector128<ulong>.Zero, associatedData);

        // Whole blocks that lie inside the insert are read from it; everything else is copied into body first.
        int middleStart = (insertAt + BlockSize - 1) & ~(BlockSize - 1);
        int middleEnd = (insertAt + insert.Length) & ~(BlockSize - 1);
        ReadOnlySpan<byte> middle;
        if (middleEnd <= middleStart)
        {
            insert.CopyTo(body[insertAt..]);
            middleStart = middleEnd = 0;
            middle = default;
        }
        else
        {
            insert[..(middleStart - insertAt)].CopyTo(body[insertAt..]);
            insert[(middleEnd - insertAt)..].CopyTo(body[middleEnd..]);
            middle = insert.Slice(middleStart - insertAt, middleEnd - middleStart);
        }

        uint counter = 2;
        EncryptSegment(ref state, j0, ref counter, ref hash, body[..middleStart], body[..middleStart]);
        EncryptSegment(ref state, j0, ref counter, ref hash, middle, body[middleStart..middleEnd]);
        EncryptSegment(ref state, j0, ref counter, ref hash, body[middleEnd..], body[middleEnd..]);
        Finish(ref state, hash, j0, associatedData.Length, body.Length, tag);
    }

    /// <summary>
    /// CTR and GHASH over one segment of the message; every segment but the last must be whole blocks (GHASH pads
    /// only the end of the message).
    /// </summary>
    private void EncryptSegment(ref byte state, Vector128<byte> j0, ref uint counter, ref Vector128<ulong> hash, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        ref byte from = ref MemoryMarshal.GetReference(source);
        ref byte to = ref MemoryMarshal.GetReference(destination);
        int length = source.Length;
        int offset = 0;
        if (s_path == SimdPath.Vector256)
        {
            offset = EncryptWide(ref state, _rounds, j0, counter, ref from, ref to, length, ref hash);
        }

        offset += Encrypt8(ref state, _rounds, j0, counter + (uint)(offset / BlockSize), ref Unsafe.Add(ref from, offset), ref Unsafe.Add(ref to, offset), length - offset, ref hash);
        counter += (uint)(offset / BlockSize);
        if (offset < length)
        {
            CtrTail(ref state, _rounds, j0, counter, source[offset..], destination[offset..]);
            hash = HashPadded(ref state, hash, destination[offset..length]);
            counter += (uint)((length - offset + BlockSize - 1) / BlockSize);
        }
    }

    /// <summary>
    /// Verifies the tag over the associated data and ciphertext, then decrypts. On a mismatch nothing is written.
    /// </summary>
    /// <param name="nonce">12 bytes.</param>
    /// <param name="ciphertext">The input.</param>
    /// <param name="tag">16 bytes.</param>
    /// <param name="plaintext">Same length; the same memory (in place) or not overlapping it.</param>
    /// <param name="associatedData">Authenticated, not encrypted.</param>
    /// <returns>False when the tag does not match.</returns>
    public bool TryDecrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        CheckArguments(nonce, ciphertext.Length, plaintext.Length, tag.Length);
        ref byte state = ref MemoryMarshal.GetArrayDataReference(_state);
        Vector128<byte> j0 = CounterBase(nonce);
        Vector128<ulong> hash = HashPadded(ref state, Vector128<ulong>.Zero, associatedData);

        ref byte source = ref MemoryMarshal.GetReference(ciphertext);
        int length = ciphertext.Length;
        int offset = 0;
        if (s_path == SimdPath.Vector256)
        {
            offset = HashWide(ref state, ref source, length, ref hash);
        }

        offset += Hash8(ref state, ref Unsafe.Add(ref source, offset), length - offset, ref hash);
        hash = HashPadded(ref state, hash, ciphertext[offset..]);
        Span<byte> expected = stackalloc byte[TagSize];
        Finish(ref state, hash, j0, associatedData.Length, length, expected);
        bool valid = CryptographicOperations.FixedTimeEquals(expected, tag);
        CryptographicOperations.ZeroMemory(expected);
        if (!valid)
        {
            return false;
        }

        ref byte destination = ref MemoryMarshal.GetReference(plaintext);
        offset = Ctr(ref state, _rounds, j0, ref source, ref destination, length);
        uint counter = 2 + (uint)(offset / BlockSize);

        if (offset < length)
        {
            CtrTail(ref state, _rounds, j0, counter, ciphertext[offset..], plaintext[offset..]);
        }

        return true;
    }

    /// <summary>Zeroes the key schedule and the hash-key powers.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            CryptographicOperations.ZeroMemory(_state);
        }
    }

    private void CheckArguments(ReadOnlySpan<byte> nonce, int inputLength, int outputLength, int tagLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (nonce.Length != NonceSize)
        {
            throw new ArgumentException("The nonce is 12 bytes.", nameof(nonce));
        }

        if (inputLength != outputLength)
        {
            throw new ArgumentException("Input and output must be the same length.");
        }

        if (tagLength != TagSize)
        {
            throw new ArgumentException("The tag is 16 bytes.", nameof(tagLength));
        }

        // SP 800-38D §5.2.1.1: at most 2^32 - 2 blocks under one nonce; spans are shorter than that anyway.
        Debug.Assert((ulong)inputLength <= ((1UL << 32) - 2) * BlockSize, "spans are shorter than the GCM limit");
    }

    private static SimdPath DetectBestPath() =>
        IsPathSupported(SimdPath.Vector256) && WidePathAgrees() ? SimdPath.Vector256
        : IsPathSupported(SimdPath.Vector128) ? SimdPath.Vector128
        : SimdPath.Scalar;

    /// <summary>
    /// Once per process, before the 256-bit path is chosen: its kernels must give the 128-bit ones' ciphertext and
    /// GHASH on a fixed message, else the 128-bit path is used. A code generator that encodes an instruction wrongly
    /// then costs speed, not every tag. Seen with Native AOT and <c>IlcInstructionSet=native</c> (ILCompiler
    /// 10.0.12, AVX-512 machine): VPCLMULQDQ with its destination in ymm16-31 was emitted in its VEX form, which writes
    /// ymm0-15 instead, so EncryptWide's GHASH was wrong; JIT code and the default instruction set were right.
    /// </summary>
    internal static bool WidePathAgrees()
    {
        const int Length = 2 * WideStride; // EncryptWide's loop runs three times, HashWide's twice
        Span<byte> key = stackalloc byte[16];
        for (int i = 0; i < key.Length; i++)
        {
            key[i] = (byte)(7 * i + 1);
        }

        byte[] message = new byte[Length], wide = new byte[Length], narrow = new byte[Length];
        for (int i = 0; i < Length; i++)
        {
            message[i] = (byte)(i * 13 + 5);
        }

        using var gcm = new AesGcmNi(key);
        ref byte state = ref MemoryMarshal.GetArrayDataReference(gcm._state);
        Vector128<byte> j0 = Vector128.Create((byte)0x5A, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 0, 0, 0);
        Vector128<ulong> wideHash = Vector128<ulong>.Zero, narrowHash = Vector128<ulong>.Zero;
        int wideDone = EncryptWide(ref state, gcm._rounds, j0, 2, ref message[0], ref wide[0], Length, ref wideHash);
        int narrowDone = Encrypt8(ref state, gcm._rounds, j0, 2, ref message[0], ref narrow[0], Length, ref narrowHash);

        Vector128<ulong> wideRead = Vector128<ulong>.Zero, narrowRead = Vector128<ulong>.Zero;
        int wideHashed = HashWide(ref state, ref wide[0], Length, ref wideRead);
        int narrowHashed = Hash8(ref state, ref wide[0], Length, ref narrowRead);
        return wideDone == Length && narrowDone == Length && wideHashed == Length && narrowHashed == Length
            && wide.AsSpan().SequenceEqual(narrow) && wideHash == narrowHash && wideRead == narrowRead && wideRead == wideHash;
    }

    /// <summary>nonce || 0^32: counter block i is this with the big-endian 32-bit counter i in the last word.</summary>
    private static Vector128<byte> CounterBase(ReadOnlySpan<byte> nonce)
    {
        Span<byte> block = stackalloc byte[BlockSize];
        block.Clear();
        nonce.CopyTo(block);
        return Vector128.Create(block);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> CounterBlock(Vector128<byte> j0, uint counter) =>
        j0.AsUInt32().WithElement(3, BinaryPrimitives.ReverseEndianness(counter)).AsByte();

    /// <summary>E(K, J0) XOR GHASH(... || lengths), written to <paramref name="tag"/>.</summary>
    private void Finish(ref byte state, Vector128<ulong> hash, Vector128<byte> j0, int associatedLength, int length, Span<byte> tag)
    {
        // The lengths block [len(A)]64 || [len(C)]64 in bits, byte-reversed: len(C) becomes the low half.
        Vector128<ulong> lengths = Vector128.Create((ulong)length * 8, (ulong)associatedLength * 8);
        hash = Multiply(hash ^ lengths, Load(ref state, H1Offset).AsUInt64());
        Vector128<byte> mask = EncryptBlock(ref state, _rounds, CounterBlock(j0, 1));
        (ByteReverse(hash.AsByte()) ^ mask).CopyTo(tag);
    }

    /// <summary>Hashes <paramref name="data"/> one block at a time, the last block zero-padded.</summary>
    private static Vector128<ulong> HashPadded(ref byte state, Vector128<ulong> hash, ReadOnlySpan<byte> data)
    {
        Vector128<ulong> h1 = Load(ref state, H1Offset).AsUInt64();
        int offset = 0;
        for (; offset <= data.Length - BlockSize; offset += BlockSize)
        {
            hash = Multiply(hash ^ ByteReverse(Vector128.Create(data.Slice(offset, BlockSize))).AsUInt64(), h1);
        }

        if (offset < data.Length)
        {
            Span<byte> last = stackalloc byte[BlockSize];
            last.Clear();
            data[offset..].CopyTo(last);
            hash = Multiply(hash ^ ByteReverse(Vector128.Create(last)).AsUInt64(), h1);
        }

        return hash;
    }

    /// <summary>
    /// CTR over whole eight-block runs (SP 800-38D §6.5), counters from 2; returns the bytes done.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a kernel, compiled on its own, optimized from its first call (class remarks)
    private static int Ctr(ref byte state, int rounds, Vector128<byte> j0, ref byte source, ref byte destination, int length, uint counter = 2)
    {
        Vector128<byte> key = Load(ref state, 0);
        int offset = 0;
        Vector128<uint> c = CounterBlock(j0, counter).AsUInt32();
        for (; offset <= length - Stride; offset += Stride)
        {
            Counters8(c, j0, key, counter, out Vector128<byte> b0, out Vector128<byte> b1, out Vector128<byte> b2, out Vector128<byte> b3, out Vector128<byte> b4, out Vector128<byte> b5, out Vector128<byte> b6, out Vector128<byte> b7);
            Rounds8(ref state, 1, rounds, ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
            LastRound8(ref state, rounds, ref Unsafe.Add(ref source, offset), ref Unsafe.Add(ref destination, offset), ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
            Advance(j0, ref c, ref counter);
        }

        return offset;
    }

    /// <summary>
    /// CTR and GHASH over whole eight-block runs, software-pipelined: the previous run's ciphertext is hashed (two
    /// blocks per 256-bit VPCLMULQDQ, one reduction per run) between this run's first AES rounds, so the hash work
    /// fills the issue slots the AES units leave free instead of waiting for them. Returns the bytes done.
    /// </summary>
    /// <remarks>
    /// The ciphertext is hashed from registers, not reloaded: a wide load spanning several just-made stores would
    /// defeat store-to-load forwarding. AES-NI runs 128 bits at a time (.NET 10 has no VAES) and is the bound;
    /// 512-bit multiplications measured no faster, and 256-bit VPCLMULQDQ runs on more machines (AVX2 without
    /// AVX-512). Pipelined this way 32 KiB encrypts 10 % faster (aes256; 2 % for aes128, whose ten rounds leave less
    /// room) than hashing each run right after it is made.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a kernel, compiled on its own, optimized from its first call (class remarks)
    private static int EncryptWide(ref byte state, int rounds, Vector128<byte> j0, uint counter, ref byte source, ref byte destination, int length, ref Vector128<ulong> hashState)
    {
        if (length < Stride)
        {
            return 0;
        }

        Vector128<ulong> hash = hashState;
        Vector256<byte> reverse = ReverseMask256();
        Vector128<byte> key = Load(ref state, 0);
        Vector128<uint> c = CounterBlock(j0, counter).AsUInt32();
        Vector256<ulong> p0 = Vector256.LoadUnsafe(ref state, Powers8Offset).AsUInt64();
        Vector256<ulong> p1 = Vector256.LoadUnsafe(ref state, Powers8Offset + 32).AsUInt64();
        Vector256<ulong> p2 = Vector256.LoadUnsafe(ref state, Powers8Offset + 64).AsUInt64();
        Vector256<ulong> p3 = Vector256.LoadUnsafe(ref state, Powers8Offset + 96).AsUInt64();

        // First run: encrypt only.
        Counters8(c, j0, key, counter, out Vector128<byte> b0, out Vector128<byte> b1, out Vector128<byte> b2, out Vector128<byte> b3, out Vector128<byte> b4, out Vector128<byte> b5, out Vector128<byte> b6, out Vector128<byte> b7);
        Rounds8(ref state, 1, rounds, ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
        LastRound8(ref state, rounds, ref source, ref destination, ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
        Advance(j0, ref c, ref counter);
        Vector256<ulong> x0 = Reflect(b0, b1, reverse);
        Vector256<ulong> x1 = Reflect(b2, b3, reverse);
        Vector256<ulong> x2 = Reflect(b4, b5, reverse);
        Vector256<ulong> x3 = Reflect(b6, b7, reverse);
        int offset = Stride;
        for (; offset <= length - Stride; offset += Stride, Advance(j0, ref c, ref counter))
        {
            // The previous run's ciphertext is hashed between this run's AES rounds, so both units stay busy.
            Counters8(c, j0, key, counter, out b0, out b1, out b2, out b3, out b4, out b5, out b6, out b7);
            Vector256<ulong> low = Vector256<ulong>.Zero;
            Vector256<ulong> middle = Vector256<ulong>.Zero;
            Vector256<ulong> high = Vector256<ulong>.Zero;
            Round8(Load(ref state, 1 * BlockSize), ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
            MultiplyAccumulate(x0 ^ hash.ToVector256(), p0, ref low, ref middle, ref high);
            Round8(Load(ref state, 2 * BlockSize), ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
            MultiplyAccumulate(x1, p1, ref low, ref middle, ref high);
            Round8(Load(ref state, 3 * BlockSize), ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
            MultiplyAccumulate(x2, p2, ref low, ref middle, ref high);
            Round8(Load(ref state, 4 * BlockSize), ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
            MultiplyAccumulate(x3, p3, ref low, ref middle, ref high);
            Round8(Load(ref state, 5 * BlockSize), ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
            hash = Reduce(Fold(low), Fold(middle), Fold(high));
            Rounds8(ref state, 6, rounds, ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);

            LastRound8(ref state, rounds, ref Unsafe.Add(ref source, offset), ref Unsafe.Add(ref destination, offset), ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
            x0 = Reflect(b0, b1, reverse);
            x1 = Reflect(b2, b3, reverse);
            x2 = Reflect(b4, b5, reverse);
            x3 = Reflect(b6, b7, reverse);
        }

        {
            Vector256<ulong> low = Vector256<ulong>.Zero;
            Vector256<ulong> middle = Vector256<ulong>.Zero;
            Vector256<ulong> high = Vector256<ulong>.Zero;
            MultiplyAccumulate(x0 ^ hash.ToVector256(), p0, ref low, ref middle, ref high);
            MultiplyAccumulate(x1, p1, ref low, ref middle, ref high);
            MultiplyAccumulate(x2, p2, ref low, ref middle, ref high);
            MultiplyAccumulate(x3, p3, ref low, ref middle, ref high);
            hashState = Reduce(Fold(low), Fold(middle), Fold(high));
        }

        return offset;
    }

    /// <summary>One AES round on eight blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round8(
        Vector128<byte> key,
        ref Vector128<byte> b0, ref Vector128<byte> b1, ref Vector128<byte> b2, ref Vector128<byte> b3,
        ref Vector128<byte> b4, ref Vector128<byte> b5, ref Vector128<byte> b6, ref Vector128<byte> b7)
    {
        b0 = AesNi.Encrypt(b0, key);
        b1 = AesNi.Encrypt(b1, key);
        b2 = AesNi.Encrypt(b2, key);
        b3 = AesNi.Encrypt(b3, key);
        b4 = AesNi.Encrypt(b4, key);
        b5 = AesNi.Encrypt(b5, key);
        b6 = AesNi.Encrypt(b6, key);
        b7 = AesNi.Encrypt(b7, key);
    }

    /// <summary>CTR and GHASH over whole eight-block runs with 128-bit PCLMULQDQ; returns the bytes done.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a kernel, compiled on its own, optimized from its first call (class remarks)
    private static int Encrypt8(ref byte state, int rounds, Vector128<byte> j0, uint counter, ref byte source, ref byte destination, int length, ref Vector128<ulong> hashState)
    {
        Vector128<ulong> hash = hashState;
        Vector128<byte> key = Load(ref state, 0);
        Vector128<uint> c = CounterBlock(j0, counter).AsUInt32();
        int offset = 0;
        for (; offset <= length - Stride; offset += Stride, Advance(j0, ref c, ref counter))
        {
            Counters8(c, j0, key, counter, out Vector128<byte> b0, out Vector128<byte> b1, out Vector128<byte> b2, out Vector128<byte> b3, out Vector128<byte> b4, out Vector128<byte> b5, out Vector128<byte> b6, out Vector128<byte> b7);
            Rounds8(ref state, 1, rounds, ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
            LastRound8(ref state, rounds, ref Unsafe.Add(ref source, offset), ref Unsafe.Add(ref destination, offset), ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
            Vector128<ulong> low = Vector128<ulong>.Zero;
            Vector128<ulong> middle = Vector128<ulong>.Zero;
            Vector128<ulong> high = Vector128<ulong>.Zero;
            MultiplyAccumulate(ByteReverse(b0).AsUInt64() ^ hash, Load(ref state, Powers8Offset).AsUInt64(), ref low, ref middle, ref high);
            MultiplyAccumulate(ByteReverse(b1).AsUInt64(), Load(ref state, Powers8Offset + 16).AsUInt64(), ref low, ref middle, ref high);
            MultiplyAccumulate(ByteReverse(b2).AsUInt64(), Load(ref state, Powers8Offset + 32).AsUInt64(), ref low, ref middle, ref high);
            MultiplyAccumulate(ByteReverse(b3).AsUInt64(), Load(ref state, Powers8Offset + 48).AsUInt64(), ref low, ref middle, ref high);
            MultiplyAccumulate(ByteReverse(b4).AsUInt64(), Load(ref state, Powers8Offset + 64).AsUInt64(), ref low, ref middle, ref high);
            MultiplyAccumulate(ByteReverse(b5).AsUInt64(), Load(ref state, Powers8Offset + 80).AsUInt64(), ref low, ref middle, ref high);
            MultiplyAccumulate(ByteReverse(b6).AsUInt64(), Load(ref state, Powers8Offset + 96).AsUInt64(), ref low, ref middle, ref high);
            MultiplyAccumulate(ByteReverse(b7).AsUInt64(), Load(ref state, Powers8Offset + 112).AsUInt64(), ref low, ref middle, ref high);
            hash = Reduce(low, middle, high);
        }

        hashState = hash;
        return offset;
    }

    /// <summary>
    /// Moves <paramref name="counter"/> and its counter block <paramref name="c"/> on by one run of eight.
    /// </summary>
    /// <remarks>
    /// Carried as a vector from run to run: rebuilding the block from the integer each run (byte swap, insert)
    /// measured a fifth of the CTR time, as the insert sits on the path to every block of the run.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Advance(Vector128<byte> j0, ref Vector128<uint> c, ref uint counter)
    {
        counter += 8;
        c = (byte)counter >= 8 ? c + Vector128.Create(0, 0, 0, 8u << 24) : CounterBlock(j0, counter).AsUInt32();
    }

    /// <summary>Counter blocks counter..counter+7 (the first is <paramref name="c"/>) with round 0 applied.</summary>
    /// <remarks>
    /// The counter is the big-endian last word, so its low byte is the top byte of that word read little-endian:
    /// while that byte does not wrap within the eight, adding i·2^24 to the word increments the counter with one
    /// vector add per block and no byte swap. Otherwise (once every 32 runs) each word is byte-swapped in.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Counters8(
        Vector128<uint> c, Vector128<byte> j0, Vector128<byte> key, uint counter,
        out Vector128<byte> b0, out Vector128<byte> b1, out Vector128<byte> b2, out Vector128<byte> b3,
        out Vector128<byte> b4, out Vector128<byte> b5, out Vector128<byte> b6, out Vector128<byte> b7)
    {
        if ((byte)counter <= 0xF8)
        {
            b0 = c.AsByte() ^ key;
            b1 = (c + Vector128.Create(0, 0, 0, 1u << 24)).AsByte() ^ key;
            b2 = (c + Vector128.Create(0, 0, 0, 2u << 24)).AsByte() ^ key;
            b3 = (c + Vector128.Create(0, 0, 0, 3u << 24)).AsByte() ^ key;
            b4 = (c + Vector128.Create(0, 0, 0, 4u << 24)).AsByte() ^ key;
            b5 = (c + Vector128.Create(0, 0, 0, 5u << 24)).AsByte() ^ key;
            b6 = (c + Vector128.Create(0, 0, 0, 6u << 24)).AsByte() ^ key;
            b7 = (c + Vector128.Create(0, 0, 0, 7u << 24)).AsByte() ^ key;
        }
        else
        {
            b0 = c.AsByte() ^ key;
            b1 = CounterBlock(j0, counter + 1) ^ key;
            b2 = CounterBlock(j0, counter + 2) ^ key;
            b3 = CounterBlock(j0, counter + 3) ^ key;
            b4 = CounterBlock(j0, counter + 4) ^ key;
            b5 = CounterBlock(j0, counter + 5) ^ key;
            b6 = CounterBlock(j0, counter + 6) ^ key;
            b7 = CounterBlock(j0, counter + 7) ^ key;
        }
    }

    /// <summary>Rounds <paramref name="first"/> .. rounds-1 on eight blocks at once, so the AES units stay busy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rounds8(
        ref byte state, int first, int rounds,
        ref Vector128<byte> b0, ref Vector128<byte> b1, ref Vector128<byte> b2, ref Vector128<byte> b3,
        ref Vector128<byte> b4, ref Vector128<byte> b5, ref Vector128<byte> b6, ref Vector128<byte> b7)
    {
        for (int round = first; round < rounds; round++)
        {
            Round8(Load(ref state, round * BlockSize), ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
        }
    }

    /// <summary>The last round, XORed with eight blocks of input and stored; the blocks become the output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LastRound8(
        ref byte state, int rounds, ref byte source, ref byte destination,
        ref Vector128<byte> b0, ref Vector128<byte> b1, ref Vector128<byte> b2, ref Vector128<byte> b3,
        ref Vector128<byte> b4, ref Vector128<byte> b5, ref Vector128<byte> b6, ref Vector128<byte> b7)
    {
        Vector128<byte> key = Load(ref state, rounds * BlockSize);
        b0 = AesNi.EncryptLast(b0, key) ^ Vector128.LoadUnsafe(ref source, 0);
        b1 = AesNi.EncryptLast(b1, key) ^ Vector128.LoadUnsafe(ref source, 16);
        b2 = AesNi.EncryptLast(b2, key) ^ Vector128.LoadUnsafe(ref source, 32);
        b3 = AesNi.EncryptLast(b3, key) ^ Vector128.LoadUnsafe(ref source, 48);
        b4 = AesNi.EncryptLast(b4, key) ^ Vector128.LoadUnsafe(ref source, 64);
        b5 = AesNi.EncryptLast(b5, key) ^ Vector128.LoadUnsafe(ref source, 80);
        b6 = AesNi.EncryptLast(b6, key) ^ Vector128.LoadUnsafe(ref source, 96);
        b7 = AesNi.EncryptLast(b7, key) ^ Vector128.LoadUnsafe(ref source, 112);
        b0.StoreUnsafe(ref destination, 0);
        b1.StoreUnsafe(ref destination, 16);
        b2.StoreUnsafe(ref destination, 32);
        b3.StoreUnsafe(ref destination, 48);
        b4.StoreUnsafe(ref destination, 64);
        b5.StoreUnsafe(ref destination, 80);
        b6.StoreUnsafe(ref destination, 96);
        b7.StoreUnsafe(ref destination, 112);
    }

    /// <summary>Adds x·h (schoolbook, unreduced) to the 256-bit sum held as low, middle·2^64, high·2^128.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyAccumulate(Vector128<ulong> x, Vector128<ulong> h, ref Vector128<ulong> low, ref Vector128<ulong> middle, ref Vector128<ulong> high)
    {
        low ^= Pclmulqdq.CarrylessMultiply(x, h, 0x00);
        high ^= Pclmulqdq.CarrylessMultiply(x, h, 0x11);
        middle ^= Pclmulqdq.CarrylessMultiply(x, h, 0x01) ^ Pclmulqdq.CarrylessMultiply(x, h, 0x10);
    }

    /// <summary>As above, two independent 128-bit lanes at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyAccumulate(Vector256<ulong> x, Vector256<ulong> h, ref Vector256<ulong> low, ref Vector256<ulong> middle, ref Vector256<ulong> high)
    {
        low ^= Pclmulqdq.V256.CarrylessMultiply(x, h, 0x00);
        high ^= Pclmulqdq.V256.CarrylessMultiply(x, h, 0x11);
        middle ^= Pclmulqdq.V256.CarrylessMultiply(x, h, 0x01) ^ Pclmulqdq.V256.CarrylessMultiply(x, h, 0x10);
    }

    /// <summary>Two ciphertext blocks as one 256-bit GHASH input, each byte-reversed (GHASH is big-endian).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Reflect(Vector128<byte> first, Vector128<byte> second, Vector256<byte> reverse) =>
        Avx2.Shuffle(first.ToVector256Unsafe().WithUpper(second), reverse).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> ReverseMask256() =>
        Vector256.Create((byte)15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);

    /// <summary>Fewer than eight blocks: one counter block at a time, the last one partial.</summary>
    private static void CtrTail(ref byte state, int rounds, Vector128<byte> j0, uint counter, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        int offset = 0;
        for (; offset <= source.Length - BlockSize; offset += BlockSize, counter++)
        {
            Vector128<byte> keystream = EncryptBlock(ref state, rounds, CounterBlock(j0, counter));
            (keystream ^ Vector128.Create(source.Slice(offset, BlockSize))).CopyTo(destination[offset..]);
        }

        if (offset < source.Length)
        {
            Span<byte> block = stackalloc byte[BlockSize];
            EncryptBlock(ref state, rounds, CounterBlock(j0, counter)).CopyTo(block);
            int remaining = source.Length - offset;
            for (int i = 0; i < remaining; i++)
            {
                destination[offset + i] = (byte)(source[offset + i] ^ block[i]);
            }

            CryptographicOperations.ZeroMemory(block);
        }
    }

    /// <summary>GHASH over whole eight-block runs, one reduction each: (Y ^ X0)·H^8 + X1·H^7 + ... + X7·H.</summary>
    /// <returns>The bytes hashed.</returns>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a kernel, compiled on its own, optimized from its first call (class remarks)
    private static int Hash8(ref byte state, ref byte data, int length, ref Vector128<ulong> hashState)
    {
        Vector128<ulong> hash = hashState;
        int offset = 0;
        for (; offset <= length - Stride; offset += Stride)
        {
            ref byte run = ref Unsafe.Add(ref data, offset);
            Vector128<ulong> low = Vector128<ulong>.Zero;
            Vector128<ulong> middle = Vector128<ulong>.Zero;
            Vector128<ulong> high = Vector128<ulong>.Zero;
            MultiplyAccumulate(ByteReverse(Vector128.LoadUnsafe(ref run, 0)).AsUInt64() ^ hash, Load(ref state, Powers8Offset).AsUInt64(), ref low, ref middle, ref high);
            for (int i = 1; i < 8; i++)
            {
                MultiplyAccumulate(ByteReverse(Vector128.LoadUnsafe(ref run, (nuint)(i * BlockSize))).AsUInt64(), Load(ref state, Powers8Offset + i * BlockSize).AsUInt64(), ref low, ref middle, ref high);
            }

            hash = Reduce(low, middle, high);
        }

        hashState = hash;
        return offset;
    }

    /// <summary>GHASH over whole sixteen-block runs, two blocks per 256-bit VPCLMULQDQ, one reduction each.</summary>
    /// <returns>The bytes hashed.</returns>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a kernel, compiled on its own, optimized from its first call (class remarks)
    private static int HashWide(ref byte state, ref byte data, int length, ref Vector128<ulong> hashState)
    {
        Vector128<ulong> hash = hashState;
        Vector256<byte> reverse = ReverseMask256();
        int offset = 0;
        for (; offset <= length - WideStride; offset += WideStride)
        {
            ref byte run = ref Unsafe.Add(ref data, offset);
            Vector256<ulong> low = Vector256<ulong>.Zero;
            Vector256<ulong> middle = Vector256<ulong>.Zero;
            Vector256<ulong> high = Vector256<ulong>.Zero;
            Vector256<ulong> x = Avx2.Shuffle(Vector256.LoadUnsafe(ref run, 0), reverse).AsUInt64() ^ hash.ToVector256();
            MultiplyAccumulate(x, Vector256.LoadUnsafe(ref state, PowersOffset).AsUInt64(), ref low, ref middle, ref high);
            for (int i = 1; i < 8; i++)
            {
                x = Avx2.Shuffle(Vector256.LoadUnsafe(ref run, (nuint)(i * 32)), reverse).AsUInt64();
                MultiplyAccumulate(x, Vector256.LoadUnsafe(ref state, (nuint)(PowersOffset + i * 32)).AsUInt64(), ref low, ref middle, ref high);
            }

            hash = Reduce(Fold(low), Fold(middle), Fold(high));
        }

        hashState = hash;
        return offset;
    }

    /// <summary>XOR of the two 128-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ulong> Fold(Vector256<ulong> value) => value.GetLower() ^ value.GetUpper();

    /// <summary>The field product a·b of reflected values, <paramref name="b"/> stored as b·x⁻¹.</summary>
    private static Vector128<ulong> Multiply(Vector128<ulong> a, Vector128<ulong> b)
    {
        Vector128<ulong> low = Vector128<ulong>.Zero;
        Vector128<ulong> middle = Vector128<ulong>.Zero;
        Vector128<ulong> high = Vector128<ulong>.Zero;
        MultiplyAccumulate(a, b, ref low, ref middle, ref high);
        return Reduce(low, middle, high);
    }

    /// <summary>
    /// Reduces the 256-bit product (low ^ middle·2^64 ^ high·2^128) modulo the reflected GCM polynomial: two folds
    /// of the low 64 bits by 0xC2000000_00000000, then the high half added.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ulong> Reduce(Vector128<ulong> low, Vector128<ulong> middle, Vector128<ulong> high)
    {
        low ^= Sse2.ShiftLeftLogical128BitLane(middle.AsByte(), 8).AsUInt64();
        high ^= Sse2.ShiftRightLogical128BitLane(middle.AsByte(), 8).AsUInt64();
        Vector128<ulong> polynomial = Vector128.Create(1UL, 0xC200000000000000UL);
        Vector128<ulong> fold = Pclmulqdq.CarrylessMultiply(low, polynomial, 0x10);
        low = Sse2.Shuffle(low.AsUInt32(), 0b01_00_11_10).AsUInt64() ^ fold;
        fold = Pclmulqdq.CarrylessMultiply(low, polynomial, 0x10);
        low = Sse2.Shuffle(low.AsUInt32(), 0b01_00_11_10).AsUInt64() ^ fold;
        return low ^ high;
    }

    /// <summary>H·x⁻¹ in the reflected representation: the 128-bit value shifted left by one, reduced by P.</summary>
    private static Vector128<ulong> ShiftedHashKey(Vector128<ulong> h)
    {
        ulong low = h.GetElement(0);
        ulong high = h.GetElement(1);
        ulong carry = 0 - (high >> 63);
        high = (high << 1) | (low >> 63);
        low <<= 1;
        return Vector128.Create(low ^ (carry & 1), high ^ (carry & 0xC200000000000000UL));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> ByteReverse(Vector128<byte> value) =>
        Ssse3.Shuffle(value, Vector128.Create((byte)15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Load(ref byte state, int offset) => Vector128.LoadUnsafe(ref state, (nuint)offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref byte state, int offset, Vector128<byte> value) => value.StoreUnsafe(ref state, (nuint)offset);

    private static Vector128<byte> EncryptBlock(ref byte state, int rounds, Vector128<byte> block)
    {
        block ^= Load(ref state, 0);
        for (int round = 1; round < rounds; round++)
        {
            block = AesNi.Encrypt(block, Load(ref state, round * BlockSize));
        }

        return AesNi.EncryptLast(block, Load(ref state, rounds * BlockSize));
    }

    /// <summary>FIPS 197 §5.2 for 128-bit keys with AESKEYGENASSIST (the round constant must be an immediate).</summary>
    private static void ExpandKey128(ReadOnlySpan<byte> key, ref byte state)
    {
        Vector128<byte> k = Vector128.Create(key);
        Store(ref state, 0, k);
        k = Step128(k, AesNi.KeygenAssist(k, 0x01));
        Store(ref state, 16, k);
        k = Step128(k, AesNi.KeygenAssist(k, 0x02));
        Store(ref state, 32, k);
        k = Step128(k, AesNi.KeygenAssist(k, 0x04));
        Store(ref state, 48, k);
        k = Step128(k, AesNi.KeygenAssist(k, 0x08));
        Store(ref state, 64, k);
        k = Step128(k, AesNi.KeygenAssist(k, 0x10));
        Store(ref state, 80, k);
        k = Step128(k, AesNi.KeygenAssist(k, 0x20));
        Store(ref state, 96, k);
        k = Step128(k, AesNi.KeygenAssist(k, 0x40));
        Store(ref state, 112, k);
        k = Step128(k, AesNi.KeygenAssist(k, 0x80));
        Store(ref state, 128, k);
        k = Step128(k, AesNi.KeygenAssist(k, 0x1B));
        Store(ref state, 144, k);
        k = Step128(k, AesNi.KeygenAssist(k, 0x36));
        Store(ref state, 160, k);
    }

    /// <summary>FIPS 197 §5.2 for 256-bit keys: even words take RotWord/SubWord/Rcon, odd ones SubWord alone.</summary>
    private static void ExpandKey256(ReadOnlySpan<byte> key, ref byte state)
    {
        Vector128<byte> a = Vector128.Create(key[..16]);
        Vector128<byte> b = Vector128.Create(key[16..]);
        Store(ref state, 0, a);
        Store(ref state, 16, b);
        a = Step128(a, AesNi.KeygenAssist(b, 0x01));
        Store(ref state, 32, a);
        b = Step256Odd(b, a);
        Store(ref state, 48, b);
        a = Step128(a, AesNi.KeygenAssist(b, 0x02));
        Store(ref state, 64, a);
        b = Step256Odd(b, a);
        Store(ref state, 80, b);
        a = Step128(a, AesNi.KeygenAssist(b, 0x04));
        Store(ref state, 96, a);
        b = Step256Odd(b, a);
        Store(ref state, 112, b);
        a = Step128(a, AesNi.KeygenAssist(b, 0x08));
        Store(ref state, 128, a);
        b = Step256Odd(b, a);
        Store(ref state, 144, b);
        a = Step128(a, AesNi.KeygenAssist(b, 0x10));
        Store(ref state, 160, a);
        b = Step256Odd(b, a);
        Store(ref state, 176, b);
        a = Step128(a, AesNi.KeygenAssist(b, 0x20));
        Store(ref state, 192, a);
        b = Step256Odd(b, a);
        Store(ref state, 208, b);
        a = Step128(a, AesNi.KeygenAssist(b, 0x40));
        Store(ref state, 224, a);
    }

    /// <summary>w[i..i+3] from w[i-4..i-1] and the assist word broadcast from lane 3 (RotWord/SubWord/Rcon).</summary>
    private static Vector128<byte> Step128(Vector128<byte> previous, Vector128<byte> assist)
    {
        assist = Sse2.Shuffle(assist.AsUInt32(), 0xFF).AsByte();
        previous ^= Sse2.ShiftLeftLogical128BitLane(previous, 4);
        previous ^= Sse2.ShiftLeftLogical128BitLane(previous, 4);
        previous ^= Sse2.ShiftLeftLogical128BitLane(previous, 4);
        return previous ^ assist;
    }

    /// <summary>The odd half of an AES-256 round: SubWord of the last word just made (lane 2 of the assist), no Rcon.</summary>
    private static Vector128<byte> Step256Odd(Vector128<byte> previous, Vector128<byte> latest)
    {
        Vector128<byte> assist = Sse2.Shuffle(AesNi.KeygenAssist(latest, 0x00).AsUInt32(), 0xAA).AsByte();
        previous ^= Sse2.ShiftLeftLogical128BitLane(previous, 4);
        previous ^= Sse2.ShiftLeftLogical128BitLane(previous, 4);
        previous ^= Sse2.ShiftLeftLogical128BitLane(previous, 4);
        return previous ^ assist;
    }
}
