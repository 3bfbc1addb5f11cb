using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;
using Avx2 = System.Runtime.Intrinsics.X86.Avx2;
using Avx512BW = System.Runtime.Intrinsics.X86.Avx512BW;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>Which vector loops <see cref="AesCtr"/> uses; <see cref="Auto"/> picks the widest the hardware accelerates.</summary>
internal enum XorWidth
{
    Auto,
    Scalar,
    Vector128,
    Vector256,
    Vector512,
}

/// <summary>
/// AES in counter mode as SSH uses it, aes128-ctr / aes192-ctr / aes256-ctr (RFC 4344 §4): the 16-byte IV is the
/// initial counter, a 128-bit big-endian integer incremented (mod 2^128) once per block; one stream per direction,
/// continuing across packets.
/// </summary>
/// <remarks>
/// The BCL has no CTR mode, so the keystream is built in batches: a run of counter blocks is encrypted in place
/// with AES-ECB, then XORed into the data with the widest vector loop available. Keystream left over from a batch
/// serves the next call, so packets need not be block-aligned. ECB goes through a reused
/// <see cref="ICryptoTransform"/> rather than the <see cref="SymmetricAlgorithm.EncryptEcb(ReadOnlySpan{byte}, Span{byte}, PaddingMode)"/>
/// one-shot, which sets up a native context (key schedule included) and allocates on every call.
/// </remarks>
internal sealed class AesCtr : SshCipher
{
    /// <summary>Blocks per keystream batch (16 KiB): large enough that the per-call cost of ECB is amortized.</summary>
    internal const int DefaultBatchBlocks = 1024;

    private const int AesBlockSize = 16;

    private static readonly XorWidth s_autoWidth =
        Vector512.IsHardwareAccelerated ? XorWidth.Vector512 :
        Vector256.IsHardwareAccelerated ? XorWidth.Vector256 :
        Vector128.IsHardwareAccelerated ? XorWidth.Vector128 :
        XorWidth.Scalar;

    private readonly Aes _aes;
    private readonly ICryptoTransform _ecb;
    private readonly byte[] _keystream;
    private readonly string _name;
    private ulong _counterHigh;
    private ulong _counterLow;
    private int _position;
    private XorWidth _width = s_autoWidth;

    /// <summary>Creates a CTR stream.</summary>
    /// <param name="key">16, 24 or 32 bytes.</param>
    /// <param name="iv">16 bytes: the initial counter block.</param>
    public AesCtr(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv)
        : this(key, iv, DefaultBatchBlocks)
    {
    }

    /// <summary>Creates a CTR stream with a chosen batch size (tests use tiny batches to stress carry-over).</summary>
    internal AesCtr(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, int batchBlocks)
    {
        if (key.Length is not (16 or 24 or 32))
        {
            throw new ArgumentException("An AES key is 16, 24 or 32 bytes.", nameof(key));
        }

        if (iv.Length != AesBlockSize)
        {
            throw new ArgumentException("The AES-CTR IV (initial counter) is 16 bytes.", nameof(iv));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(batchBlocks, 1);
        _name = key.Length switch { 16 => "aes128-ctr", 24 => "aes192-ctr", _ => "aes256-ctr" };
        _counterHigh = BinaryPrimitives.ReadUInt64BigEndian(iv);
        _counterLow = BinaryPrimitives.ReadUInt64BigEndian(iv[8..]);
        _keystream = new byte[batchBlocks * AesBlockSize];
        _position = _keystream.Length;

        byte[] keyCopy = key.ToArray();
        try
        {
            _aes = Aes.Create();
            _aes.Mode = CipherMode.ECB;
            _aes.Padding = PaddingMode.None;
            _ecb = _aes.CreateEncryptor(keyCopy, null);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(keyCopy);
        }
    }

    public override string Name => _name;

    public override int BlockSize => AesBlockSize;

    /// <summary>
    /// Forces the vector width of the XOR and counter loops (tests); <see cref="XorWidth.Auto"/> restores the widest
    /// the hardware accelerates.
    /// </summary>
    internal XorWidth Width
    {
        get => _width;
        set => _width = value == XorWidth.Auto ? s_autoWidth : value;
    }

    /// <summary>XORs the next source.Length bytes of keystream into the data (encryption and decryption alike).</summary>
    public override void Transform(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        CheckBuffers(source, destination);
        XorWidth width = _width;
        while (!source.IsEmpty)
        {
            if (_position == _keystream.Length)
            {
                Refill();
            }

            int count = Math.Min(source.Length, _keystream.Length - _position);
            Xor(source[..count], _keystream.AsSpan(_position, count), destination, width);
            _position += count;
            source = source[count..];
            destination = destination[count..];
        }
    }

    /// <summary>Writes the next batch of counter blocks and encrypts them in place (RFC 4344 §4).</summary>
    private void Refill()
    {
        ulong high = _counterHigh;
        ulong low = _counterLow;
        int blocks = _keystream.Length / AesBlockSize;
        int done = 0;
        if (BitConverter.IsLittleEndian && low <= ulong.MaxValue - (ulong)blocks)
        {
            // No carry into the high half within this batch: vectors write several counter blocks per step.
            done = FillCountersVector(_keystream, high, low, _width);
        }

        Span<ulong> words = MemoryMarshal.Cast<byte, ulong>(_keystream.AsSpan());
        low += (ulong)done;
        ulong highBigEndian = ToBigEndian(high);
        for (int i = 2 * done; i < words.Length; i += 2)
        {
            words[i] = highBigEndian;
            words[i + 1] = ToBigEndian(low);
            if (++low == 0)
            {
                // Carry into the high half: the counter is one 128-bit integer.
                highBigEndian = ToBigEndian(++high);
            }
        }

        _counterHigh = high;
        _counterLow = low;
        _ecb.TransformBlock(_keystream, 0, _keystream.Length, _keystream, 0);
        _position = 0;
    }

    /// <summary>
    /// Writes counter blocks high || low + i (big-endian) for as many whole vectors as fit, on a little-endian
    /// machine: the lanes count in native order and one byte shuffle per vector makes them big-endian.
    /// </summary>
    /// <remarks>
    /// The shuffle never crosses a 16-byte block, so on x64 it is the in-lane VPSHUFB (AVX-512BW, AVX2). The portable
    /// Vector512.Shuffle of bytes becomes an instruction only where the compiler has VPERMB (AVX-512 VBMI): Native
    /// AOT built for x86-64-v4 called its managed fallback per vector, a third of a CTR download's CPU samples.
    /// </remarks>
    /// <returns>The number of blocks written.</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs per refill from the first packet: no slow first tier
    private static int FillCountersVector(byte[] buffer, ulong high, ulong low, XorWidth width)
    {
        ref byte destination = ref MemoryMarshal.GetArrayDataReference(buffer);
        nuint length = (nuint)buffer.Length;
        nuint i = 0;
        if (width == XorWidth.Vector512)
        {
            Vector512<byte> reverse = Vector512.Create(
                (byte)7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 23, 22, 21, 20, 19, 18, 17, 16, 31, 30, 29, 28, 27, 26, 25, 24,
                39, 38, 37, 36, 35, 34, 33, 32, 47, 46, 45, 44, 43, 42, 41, 40, 55, 54, 53, 52, 51, 50, 49, 48, 63, 62, 61, 60, 59, 58, 57, 56);
            Vector512<byte> laneReverse = Vector512.Create(LaneReverse());
            Vector512<ulong> counters = Vector512.Create(high, low, high, low + 1, high, low + 2, high, low + 3);
            Vector512<ulong> step = Vector512.Create(0UL, 4, 0, 4, 0, 4, 0, 4);
            for (; i + 64 <= length; i += 64)
            {
                Vector512<byte> bytes = counters.AsByte();
                (Avx512BW.IsSupported ? Avx512BW.Shuffle(bytes, laneReverse) : Vector512.Shuffle(bytes, reverse)).StoreUnsafe(ref destination, i);
                counters += step;
            }
        }
        else if (width == XorWidth.Vector256)
        {
            Vector256<byte> reverse = Vector256.Create(
                (byte)7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 23, 22, 21, 20, 19, 18, 17, 16, 31, 30, 29, 28, 27, 26, 25, 24);
            Vector256<byte> laneReverse = Vector256.Create(LaneReverse());
            Vector256<ulong> counters = Vector256.Create(high, low, high, low + 1);
            Vector256<ulong> step = Vector256.Create(0UL, 2, 0, 2);
            for (; i + 32 <= length; i += 32)
            {
                Vector256<byte> bytes = counters.AsByte();
                (Avx2.IsSupported ? Avx2.Shuffle(bytes, laneReverse) : Vector256.Shuffle(bytes, reverse)).StoreUnsafe(ref destination, i);
                counters += step;
            }
        }
        else if (width == XorWidth.Vector128)
        {
            Vector128<byte> reverse = LaneReverse();
            Vector128<ulong> counters = Vector128.Create(high, low);
            Vector128<ulong> step = Vector128.Create(0UL, 1);
            for (; i + 16 <= length; i += 16)
            {
                Vector128.Shuffle(counters.AsByte(), reverse).StoreUnsafe(ref destination, i);
                counters += step;
            }
        }

        return (int)(i / AesBlockSize);
    }

    /// <summary>Byte order reversal of each 8-byte half of a 16-byte block, as VPSHUFB's per-block indices.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> LaneReverse() => Vector128.Create((byte)7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ToBigEndian(ulong value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    /// <summary>destination[i] = source[i] ^ keystream[i] for every i of source; in place when destination is source.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs per packet from the first packet: no slow first tier
    internal static void Xor(ReadOnlySpan<byte> source, ReadOnlySpan<byte> keystream, Span<byte> destination, XorWidth width)
    {
        if (keystream.Length < source.Length || destination.Length < source.Length)
        {
            throw new ArgumentException("The keystream and the destination must be at least as long as the source.");
        }

        ref byte src = ref MemoryMarshal.GetReference(source);
        ref byte key = ref MemoryMarshal.GetReference(keystream);
        ref byte dst = ref MemoryMarshal.GetReference(destination);
        nuint length = (nuint)source.Length;
        nuint i = 0;

        // Each step loads before it stores, so exact in-place operation is safe; the spans were length-checked above.
        if (width == XorWidth.Vector512)
        {
            for (; i + (nuint)(2 * Vector512<byte>.Count) <= length; i += (nuint)(2 * Vector512<byte>.Count))
            {
                Vector512<byte> a = Vector512.LoadUnsafe(ref src, i) ^ Vector512.LoadUnsafe(ref key, i);
                Vector512<byte> b = Vector512.LoadUnsafe(ref src, i + (nuint)Vector512<byte>.Count) ^ Vector512.LoadUnsafe(ref key, i + (nuint)Vector512<byte>.Count);
                a.StoreUnsafe(ref dst, i);
                b.StoreUnsafe(ref dst, i + (nuint)Vector512<byte>.Count);
            }

            for (; i + (nuint)Vector512<byte>.Count <= length; i += (nuint)Vector512<byte>.Count)
            {
                (Vector512.LoadUnsafe(ref src, i) ^ Vector512.LoadUnsafe(ref key, i)).StoreUnsafe(ref dst, i);
            }
        }

        if (width >= XorWidth.Vector256)
        {
            for (; i + (nuint)Vector256<byte>.Count <= length; i += (nuint)Vector256<byte>.Count)
            {
                (Vector256.LoadUnsafe(ref src, i) ^ Vector256.LoadUnsafe(ref key, i)).StoreUnsafe(ref dst, i);
            }
        }

        if (width >= XorWidth.Vector128)
        {
            for (; i + (nuint)Vector128<byte>.Count <= length; i += (nuint)Vector128<byte>.Count)
            {
                (Vector128.LoadUnsafe(ref src, i) ^ Vector128.LoadUnsafe(ref key, i)).StoreUnsafe(ref dst, i);
            }
        }

        for (; i + sizeof(ulong) <= length; i += sizeof(ulong))
        {
            ulong value = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref src, i)) ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref key, i));
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, i), value);
        }

        for (; i < length; i++)
        {
            Unsafe.Add(ref dst, i) = (byte)(Unsafe.Add(ref src, i) ^ Unsafe.Add(ref key, i));
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // The keystream is key material: whoever holds it decrypts the rest of the batch.
            CryptographicOperations.ZeroMemory(_keystream);
            _counterHigh = 0;
            _counterLow = 0;
            _position = _keystream.Length;
            _ecb.Dispose();
            _aes.Dispose();
        }

        base.Dispose(disposing);
    }
}
