using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;
using Aes = System.Security.Cryptography.Aes;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>
/// UMAC (RFC 4418) with AES-128, as OpenSSH uses it for umac-64@openssh.com (8-byte tag) and umac-128@openssh.com
/// (16-byte tag): a 16-byte key (letters E/F), the tag computed over the packet alone, and the nonce the 64-bit
/// big-endian sequence number (OpenSSH mac.c, mac_compute).
/// </summary>
/// <remarks>
/// <para>
/// Tag = UHASH(M) xor PDF(nonce) (RFC 4418 §4). UHASH runs <c>Size / 4</c> iterations ("streams") of three layers:
/// NH over each 1024-byte chunk (§5.2, 32-bit additions and 32x32->64 multiplications), POLY-64 over the chunk
/// hashes when there is more than one chunk (§5.3), and an inner product modulo 2^36 - 5 (§5.4). All subkeys come
/// from AES in counter mode (KDF, §3.2) and are derived once, at construction.
/// </para>
/// <para>
/// Past 2^14 chunks (16 MiB) §5.3 switches POLY to the prime 2^128 - 159 ("the ramp"). OpenSSH's umac.c stops short
/// of it; it is here for completeness (the RFC's 'a' * 2^25 vector), with <see cref="BigInteger"/>
/// arithmetic: SSH packets are at most 256 KiB and never get there.
/// </para>
/// <para>
/// Nothing is allocated per packet: the state lives in arrays made at construction, the PDF goes through a reused
/// <see cref="ICryptoTransform"/>, and its last output is kept, so umac-64 encrypts one AES block per two packets
/// (§4.1: consecutive nonces differing in the last bit share a block).
/// </para>
/// </remarks>
internal sealed class Umac : SshMac
{
    /// <summary>The UMAC key length: AES-128 (RFC 4418 §2).</summary>
    public const int KeyLength = 16;

    /// <summary>Chunks hashed under POLY-64 before the ramp to POLY-128 (RFC 4418 §5.3: 2^17 bytes of L1 output).</summary>
    internal const int Poly64Chunks = 1 << 14;

    private const int AesBlock = 16;

    /// <summary>L1 key length: NH hashes the message in chunks of this many bytes (RFC 4418 §5.2.1).</summary>
    private const int ChunkLength = 1024;

    /// <summary>NH consumes 32-byte blocks; a short last block is zero-padded.</summary>
    private const int NhBlock = 32;

    private const ulong P36 = 0x0000000FFFFFFFFBUL;
    private const ulong M36 = 0x0000000FFFFFFFFFUL;
    private const ulong P64 = 0xFFFFFFFFFFFFFFC5UL;

    private static readonly BigInteger s_p128 = (BigInteger.One << 128) - 159;
    private static readonly BigInteger s_maxWordRange128 = (BigInteger.One << 128) - (BigInteger.One << 96);

    /// <summary>2^64 - 2^32: POLY-64 words at or above it are split with a marker (RFC 4418 §5.3.1).</summary>
    private const ulong MaxWordRange64 = 0xFFFFFFFF00000000UL;

    /// <summary>The special domain of POLY-64 keys (RFC 4418 §5.3).</summary>
    private const ulong PolyKeyMask = 0x01FFFFFF01FFFFFFUL;

    private readonly int _streams;
    private readonly string _name;

    /// <summary>L1 key, as 32-bit words (big-endian in the KDF output): 1024 bytes plus 16 per extra stream.</summary>
    private readonly uint[] _nhKey;
    private readonly ulong[] _polyKey;
    private readonly ulong[] _ipKey;

    /// <summary>k128 of each stream (L2Key bytes 8-23, masked): used only past 16 MiB.</summary>
    private readonly UInt128[] _polyKey128;
    private readonly uint[] _ipTranslate;

    private readonly Aes _pdfAes;
    private readonly ICryptoTransform _pdf;
    private readonly byte[] _pdfInput = new byte[AesBlock];
    private readonly byte[] _pdfOutput = new byte[AesBlock];
    private bool _pdfValid;

    // The state of the message being hashed.
    private readonly ulong[] _nh = new ulong[4];
    private readonly ulong[] _poly = new ulong[4];
    private readonly byte[] _pending = new byte[NhBlock];
    private int _pendingLength;

    /// <summary>Bytes of the current chunk already hashed by NH, in whole 32-byte blocks.</summary>
    private int _chunkHashed;

    /// <summary>True once a whole chunk went to POLY-64: the message is longer than one chunk.</summary>
    private bool _long;
    private int _chunks;

    // The ramp (POLY-128) state, per stream: y, and an NH output waiting for its pair (128-bit words).
    private BigInteger[]? _poly128;
    private ulong[]? _half;
    private bool _hasHalf;
    private bool _disposed;
    private SimdPath _path = BestPath;

    /// <summary>Derives every subkey from <paramref name="key"/>.</summary>
    /// <param name="key">The 16-byte UMAC key.</param>
    /// <param name="tagSize">8 (UMAC-64) or 16 (UMAC-128); 4 and 12 are UMAC-32 and UMAC-96.</param>
    public Umac(ReadOnlySpan<byte> key, int tagSize)
    {
        if (key.Length != KeyLength)
        {
            throw new ArgumentException("A UMAC key is 16 bytes (AES-128).", nameof(key));
        }

        if (tagSize is not (4 or 8 or 12 or 16))
        {
            throw new ArgumentOutOfRangeException(nameof(tagSize), tagSize, "A UMAC tag is 4, 8, 12 or 16 bytes.");
        }

        Size = tagSize;
        _streams = tagSize / 4;
        _name = $"umac-{tagSize * 8}@openssh.com";
        _nhKey = new uint[(ChunkLength / 4) + (4 * (_streams - 1))];
        _polyKey = new ulong[_streams];
        _ipKey = new ulong[8 * _streams];
        _polyKey128 = new UInt128[_streams];
        _ipTranslate = new uint[_streams];

        byte[] pdfKey = new byte[KeyLength];
        byte[] material = new byte[(ChunkLength + 16 * 3) + AesBlock];
        try
        {
            using (Aes kdf = Aes.Create())
            {
                byte[] keyCopy = key.ToArray();
                try
                {
                    kdf.Key = keyCopy;
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(keyCopy);
                }

                // RFC 4418 §3.3: K' for the PDF is KDF(K, 0, 16).
                Kdf(kdf, 0, pdfKey);

                // §5.1: L1Key = KDF(K, 1, 1024 + (iters - 1) * 16), read as big-endian 32-bit words (§5.2.2).
                Span<byte> nhBytes = material.AsSpan(0, _nhKey.Length * 4);
                Kdf(kdf, 1, nhBytes);
                for (int i = 0; i < _nhKey.Length; i++)
                {
                    _nhKey[i] = BinaryPrimitives.ReadUInt32BigEndian(nhBytes[(4 * i)..]);
                }

                // L2Key = KDF(K, 2, iters * 24): k64 is the first 8 bytes of each 24, k128 the other 16, both masked
                // to their special domains (§5.3).
                Span<byte> l2 = material.AsSpan(0, 24 * _streams);
                Kdf(kdf, 2, l2);
                UInt128 mask128 = new(PolyKeyMask, PolyKeyMask);
                for (int i = 0; i < _streams; i++)
                {
                    _polyKey[i] = BinaryPrimitives.ReadUInt64BigEndian(l2[(24 * i)..]) & PolyKeyMask;
                    _polyKey128[i] = BinaryPrimitives.ReadUInt128BigEndian(l2[((24 * i) + 8)..]) & mask128;
                }

                // L3Key1 = KDF(K, 3, iters * 64): eight 64-bit keys mod p36 per stream (§5.4). Below the ramp the L2
                // output is 0^64 || y, so only the last four keys meet nonzero words.
                Span<byte> l3 = material.AsSpan(0, 64 * _streams);
                Kdf(kdf, 3, l3);
                for (int i = 0; i < 8 * _streams; i++)
                {
                    _ipKey[i] = BinaryPrimitives.ReadUInt64BigEndian(l3[(8 * i)..]) % P36;
                }

                // L3Key2 = KDF(K, 4, iters * 4).
                Span<byte> l3b = material.AsSpan(0, 4 * _streams);
                Kdf(kdf, 4, l3b);
                for (int i = 0; i < _streams; i++)
                {
                    _ipTranslate[i] = BinaryPrimitives.ReadUInt32BigEndian(l3b[(4 * i)..]);
                }
            }

            _pdfAes = Aes.Create();
            _pdfAes.Mode = CipherMode.ECB;
            _pdfAes.Padding = PaddingMode.None;
            _pdf = _pdfAes.CreateEncryptor(pdfKey, null);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pdfKey);
            CryptographicOperations.ZeroMemory(material);
        }
    }

    /// <summary>Vector256 (AVX2) where the machine has it, else Scalar.</summary>
    public static SimdPath BestPath { get; } = IsSupported(SimdPath.Vector256) ? SimdPath.Vector256 : SimdPath.Scalar;

    public override string Name => _name;

    public override int Size { get; }

    /// <summary>The NH loop in use (tests force <see cref="SimdPath.Scalar"/> to check both against each other).</summary>
    /// <exception cref="PlatformNotSupportedException">The machine cannot run the path set.</exception>
    internal SimdPath Path
    {
        get => _path;
        set => _path = IsSupported(value) ? value : throw new PlatformNotSupportedException($"UMAC path {value} is not supported here.");
    }

    /// <summary>True for the paths this class has and the machine runs: Scalar, and Vector256 with AVX2.</summary>
    public static bool IsSupported(SimdPath path) => path switch
    {
        SimdPath.Scalar => true,
        SimdPath.Vector256 => Avx2.IsSupported && Vector256.IsHardwareAccelerated,
        _ => false,
    };

    /// <summary>"umac-64-etm@openssh.com": OpenSSH puts -etm before the domain.</summary>
    public override string NameFor(bool etm) => etm ? $"umac-{Size * 8}-etm@openssh.com" : _name;

    /// <summary>SSH's form (OpenSSH mac.c): the nonce is the sequence number as a 64-bit big-endian integer.</summary>
    public override void Compute(uint sequenceNumber, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Span<byte> mac) =>
        Compute((ulong)sequenceNumber, first, second, mac);

    /// <summary>UMAC(K, M, Nonce) with M = <paramref name="first"/> || <paramref name="second"/> (RFC 4418 §4).</summary>
    /// <param name="nonce">The 8-byte nonce as a big-endian integer.</param>
    /// <param name="first">The first part of the message.</param>
    /// <param name="second">The rest of it.</param>
    /// <param name="tag">At least <see cref="Size"/> bytes.</param>
    public void Compute(ulong nonce, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Span<byte> tag)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (tag.Length < Size)
        {
            throw new ArgumentException("The tag destination is too short.", nameof(tag));
        }

        Reset();
        Append(first);
        Append(second);
        Finish(tag);
        Pad(nonce, tag);
    }

    /// <summary>UMAC(K, M, Nonce) with an 8-byte nonce given as bytes (the RFC 4418 test vectors).</summary>
    /// <param name="nonce">8 bytes.</param>
    /// <param name="message">The message.</param>
    /// <param name="tag">At least <see cref="Size"/> bytes.</param>
    public void Compute(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> message, Span<byte> tag)
    {
        if (nonce.Length != 8)
        {
            throw new ArgumentException("The nonce is 8 bytes here, as in SSH.", nameof(nonce));
        }

        Compute(BinaryPrimitives.ReadUInt64BigEndian(nonce), message, default, tag);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(_nhKey.AsSpan()));
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(_polyKey.AsSpan()));
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(_ipKey.AsSpan()));
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(_polyKey128.AsSpan()));
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(_ipTranslate.AsSpan()));
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(_nh.AsSpan()));
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(_poly.AsSpan()));
            CryptographicOperations.ZeroMemory(_pending);
            CryptographicOperations.ZeroMemory(_pdfInput);
            CryptographicOperations.ZeroMemory(_pdfOutput);
            _pdfValid = false;
            _pdf.Dispose();
            _pdfAes.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>KDF(K, index, numbytes) (RFC 4418 §3.2): AES of uint64(index) || uint64(i), i = 1, 2...</summary>
    private static void Kdf(Aes aes, byte index, Span<byte> output)
    {
        int blocks = (output.Length + AesBlock - 1) / AesBlock;
        byte[] counters = new byte[blocks * AesBlock];
        for (int i = 0; i < blocks; i++)
        {
            Span<byte> block = counters.AsSpan(i * AesBlock, AesBlock);
            BinaryPrimitives.WriteUInt64BigEndian(block, index);
            BinaryPrimitives.WriteUInt64BigEndian(block[8..], (ulong)(i + 1));
        }

        byte[] stream = aes.EncryptEcb(counters, PaddingMode.None);
        stream.AsSpan(0, output.Length).CopyTo(output);
        CryptographicOperations.ZeroMemory(stream);
    }

    private void Reset()
    {
        _nh.AsSpan().Clear();
        _poly.AsSpan().Fill(1); // §5.3.1: POLY starts at y = 1
        _pendingLength = 0;
        _chunkHashed = 0;
        _long = false;
        _chunks = 0;
        _poly128 = null;
        _hasHalf = false;
    }

    /// <summary>Feeds bytes to NH: whole 32-byte blocks straight from the input, a partial one through <see cref="_pending"/>.</summary>
    private void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_chunkHashed == ChunkLength)
            {
                // A full chunk and more data after it: the message has several chunks, this one goes to POLY.
                FinishChunk();
            }

            if (_pendingLength > 0 || data.Length < NhBlock)
            {
                int take = Math.Min(NhBlock - _pendingLength, data.Length);
                data[..take].CopyTo(_pending.AsSpan(_pendingLength));
                _pendingLength += take;
                data = data[take..];
                if (_pendingLength == NhBlock)
                {
                    NhBlocks(_pending);
                    _pendingLength = 0;
                }

                continue;
            }

            int length = Math.Min(data.Length & ~(NhBlock - 1), ChunkLength - _chunkHashed);
            NhBlocks(data[..length]);
            data = data[length..];
        }
    }

    /// <summary>Hashes the chunk so far (zero-padding a partial block) and adds its bit length (§5.2.2).</summary>
    private int FinishNh()
    {
        int length = _chunkHashed + _pendingLength;
        if (_pendingLength > 0 || length == 0)
        {
            // An empty message is one all-zero block (§5.2.2: M is padded to a multiple of 32 bytes, at least 32).
            _pending.AsSpan(_pendingLength).Clear();
            NhBlocks(_pending);
            _pendingLength = 0;
        }

        return length;
    }

    /// <summary>L2 (§5.3): one chunk's NH output into POLY-64, per stream.</summary>
    private void FinishChunk()
    {
        ulong bits = (ulong)FinishNh() * 8;
        if (_chunks++ >= Poly64Chunks)
        {
            Ramp(bits);
            return;
        }

        for (int s = 0; s < _streams; s++)
        {
            ulong word = _nh[s] + bits;
            _nh[s] = 0;
            ulong y = _poly[s];
            ulong k = _polyKey[s];
            if (word >= MaxWordRange64)
            {
                // §5.3.1: a word outside the range is sent as the marker p64 - 1, then the word minus 2^64 - p64.
                y = Poly64(y, k, P64 - 1);
                y = Poly64(y, k, word - 59);
            }
            else
            {
                y = Poly64(y, k, word);
            }

            _poly[s] = y;
        }

        _chunkHashed = 0;
        _long = true;
    }

    /// <summary>L3 (§5.4) over 0^64 || (the NH output of a single chunk, or the reduced POLY-64 output).</summary>
    private void Finish(Span<byte> tag)
    {
        if (!_long)
        {
            ulong bits = (ulong)FinishNh() * 8;
            for (int s = 0; s < _streams; s++)
            {
                BinaryPrimitives.WriteUInt32BigEndian(tag[(4 * s)..], InnerProduct(s, _nh[s] + bits));
            }

            return;
        }

        if (_chunkHashed + _pendingLength > 0)
        {
            FinishChunk();
        }

        if (_poly128 is not null)
        {
            FinishRamp(tag);
            return;
        }

        for (int s = 0; s < _streams; s++)
        {
            ulong y = _poly[s];
            if (y >= P64)
            {
                y -= P64;
            }

            BinaryPrimitives.WriteUInt32BigEndian(tag[(4 * s)..], InnerProduct(s, y));
        }
    }

    /// <summary>
    /// One chunk past 2^14 (§5.3): the first time, each stream's POLY-64 result becomes the first 128-bit word of
    /// POLY-128; then NH outputs pair up, big-endian, into 128-bit words.
    /// </summary>
    private void Ramp(ulong bits)
    {
        if (_poly128 is null)
        {
            _poly128 = new BigInteger[_streams];
            _half ??= new ulong[4];
            for (int s = 0; s < _streams; s++)
            {
                ulong y64 = _poly[s] >= P64 ? _poly[s] - P64 : _poly[s];
                _poly128[s] = Poly128(s, BigInteger.One, y64);
            }
        }

        for (int s = 0; s < _streams; s++)
        {
            ulong word = _nh[s] + bits;
            _nh[s] = 0;
            if (_hasHalf)
            {
                _poly128[s] = Poly128(s, _poly128[s], ((BigInteger)_half![s] << 64) | word);
            }
            else
            {
                _half![s] = word;
            }
        }

        _hasHalf = !_hasHalf;
        _chunkHashed = 0;
    }

    /// <summary>§5.3: M_2 padded with 0x80 then zeros to a whole 128-bit word; L3 over all 16 bytes of y.</summary>
    private void FinishRamp(Span<byte> tag)
    {
        for (int s = 0; s < _streams; s++)
        {
            BigInteger last = _hasHalf ? ((BigInteger)_half![s] << 64) | (BigInteger.One << 63) : BigInteger.One << 127;
            var y = (UInt128)Poly128(s, _poly128![s], last);
            BinaryPrimitives.WriteUInt32BigEndian(tag[(4 * s)..], InnerProduct(s, (ulong)(y >> 64), (ulong)y));
        }
    }

    /// <summary>One POLY-128 step (§5.3.1): y * k + m mod 2^128 - 159, a word at or above 2^128 - 2^96 sent as marker, word - 159.</summary>
    private BigInteger Poly128(int stream, BigInteger y, BigInteger m)
    {
        BigInteger k = _polyKey128[stream];
        if (m >= s_maxWordRange128)
        {
            y = ((k * y) + (s_p128 - 1)) % s_p128;
            m -= 159;
        }

        return ((k * y) + m) % s_p128;
    }

    /// <summary>L3-HASH (§5.4) of 0^64 || y.</summary>
    private uint InnerProduct(int stream, ulong y) => InnerProduct(stream, 0, y);

    /// <summary>L3-HASH (§5.4): sum of 16-bit words times keys mod p36, low 32 bits, xor the translation key.</summary>
    private uint InnerProduct(int stream, ulong high, ulong y)
    {
        ReadOnlySpan<ulong> k = _ipKey.AsSpan(8 * stream, 8);
        ulong t = (k[4] * (y >> 48)) + (k[5] * ((y >> 32) & 0xFFFF)) + (k[6] * ((y >> 16) & 0xFFFF)) + (k[7] * (y & 0xFFFF));
        if (high != 0)
        {
            t += (k[0] * (high >> 48)) + (k[1] * ((high >> 32) & 0xFFFF)) + (k[2] * ((high >> 16) & 0xFFFF)) + (k[3] * (high & 0xFFFF));
        }

        // Each key is below 2^36 and each word below 2^16: t < 2^55. 2^36 = 5 (mod p36).
        ulong r = (t & M36) + (5 * (t >> 36));
        if (r >= P36)
        {
            r -= P36;
        }

        return (uint)r ^ _ipTranslate[stream];
    }

    /// <summary>
    /// y * k + m modulo p64, not fully reduced (the result stays below 2^64 and congruent; <see cref="Finish"/>
    /// reduces once). k is below 2^57 (the key domain), so the high half of y * k is below 2^57.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Poly64(ulong y, ulong k, ulong m)
    {
        ulong high = Math.BigMul(y, k, out ulong low);

        // 2^64 = 59 (mod p64); high * 59 < 2^63, so a carry leaves room for the +59.
        ulong r = low + (high * 59);
        if (r < low)
        {
            r += 59;
        }

        r += m;
        if (r < m)
        {
            r += 59;
        }

        return r;
    }

    /// <summary>PDF (§4.2): the tag is xored with AES(K', nonce || 0^64), the half picked by the nonce's low bit for 8-byte tags.</summary>
    private void Pad(ulong nonce, Span<byte> tag)
    {
        // §3.3 (PDF): for an n-byte tag with n <= 8, the last log2(16 / n) bits index the AES output.
        ulong indexMask = Size switch { 4 => 3UL, 8 => 1UL, _ => 0UL };
        int index = (int)(nonce & indexMask);
        ulong block = nonce & ~indexMask;
        if (!_pdfValid || BinaryPrimitives.ReadUInt64BigEndian(_pdfInput) != block)
        {
            BinaryPrimitives.WriteUInt64BigEndian(_pdfInput, block);
            _pdf.TransformBlock(_pdfInput, 0, AesBlock, _pdfOutput, 0);
            _pdfValid = true;
        }

        ReadOnlySpan<byte> pad = _pdfOutput.AsSpan(index * Size, Size);
        for (int i = 0; i < Size; i++)
        {
            tag[i] ^= pad[i];
        }
    }

    /// <summary>NH (§5.2.2) over whole 32-byte blocks of the current chunk, every stream, keys shifted 16 bytes per stream.</summary>
    private void NhBlocks(ReadOnlySpan<byte> data)
    {
        int words = data.Length / 4;

        // Stream s uses key words [w + 4s, w + 4s + 8) for the block at word w: the slice bounds every read below.
        ReadOnlySpan<uint> key = _nhKey.AsSpan(_chunkHashed / 4, words + (4 * (_streams - 1)));
        _chunkHashed += data.Length;
        if (!BitConverter.IsLittleEndian || _streams is not (2 or 4))
        {
            NhPortable(data, key);
            return;
        }

        // NH reads the message as little-endian 32-bit words.
        ReadOnlySpan<uint> m = MemoryMarshal.Cast<byte, uint>(data);
        if (_path == SimdPath.Vector256)
        {
            Nh256(m, key);
        }
        else if (_streams == 2)
        {
            Nh2(m, key);
        }
        else
        {
            Nh2(m, key);
            Nh2(m, key[8..], 2);
        }
    }

    /// <summary>
    /// Two streams, scalar: h_s += sum over t &lt; 4 of (k[4s + t] + m_t) * (k[4s + t + 4] + m_{t + 4}), 32-bit
    /// sums, 64-bit products. <paramref name="k"/> holds at least <paramref name="m"/>.Length + 4 words.
    /// </summary>
    private void Nh2(ReadOnlySpan<uint> m, ReadOnlySpan<uint> k, int first = 0)
    {
        if (k.Length < m.Length + 4 || (m.Length & 7) != 0)
        {
            throw new ArgumentException("NH needs whole blocks and 4 key words past them.", nameof(k));
        }

        ref uint d = ref MemoryMarshal.GetReference(m);
        ref uint key = ref MemoryMarshal.GetReference(k);
        ulong h0 = _nh[first];
        ulong h1 = _nh[first + 1];

        // The second stream's first four key words are the next block's first four for the first stream.
        uint k0 = key, k1 = Unsafe.Add(ref key, 1), k2 = Unsafe.Add(ref key, 2), k3 = Unsafe.Add(ref key, 3);
        for (int i = 0; i < m.Length; i += 8)
        {
            uint d0 = Unsafe.Add(ref d, i), d1 = Unsafe.Add(ref d, i + 1), d2 = Unsafe.Add(ref d, i + 2), d3 = Unsafe.Add(ref d, i + 3);
            uint d4 = Unsafe.Add(ref d, i + 4), d5 = Unsafe.Add(ref d, i + 5), d6 = Unsafe.Add(ref d, i + 6), d7 = Unsafe.Add(ref d, i + 7);
            uint k4 = Unsafe.Add(ref key, i + 4), k5 = Unsafe.Add(ref key, i + 5), k6 = Unsafe.Add(ref key, i + 6), k7 = Unsafe.Add(ref key, i + 7);
            uint k8 = Unsafe.Add(ref key, i + 8), k9 = Unsafe.Add(ref key, i + 9), k10 = Unsafe.Add(ref key, i + 10), k11 = Unsafe.Add(ref key, i + 11);
            h0 += ((ulong)(k0 + d0) * (k4 + d4)) + ((ulong)(k1 + d1) * (k5 + d5)) + ((ulong)(k2 + d2) * (k6 + d6)) + ((ulong)(k3 + d3) * (k7 + d7));
            h1 += ((ulong)(k4 + d0) * (k8 + d4)) + ((ulong)(k5 + d1) * (k9 + d5)) + ((ulong)(k6 + d2) * (k10 + d6)) + ((ulong)(k7 + d3) * (k11 + d7));
            k0 = k8;
            k1 = k9;
            k2 = k10;
            k3 = k11;
        }

        _nh[first] = h0;
        _nh[first + 1] = h1;
    }

    /// <summary>
    /// Two or four streams with AVX2, one 32-byte block per step. For streams s and s + 1 the eight factor pairs are
    /// x = k[4s .. 4s + 8) + (m0..m3, m0..m3) and y = k[4s + 4 .. 4s + 12) + (m4..m7, m4..m7): VPMULUDQ multiplies the
    /// even lanes, a shifted copy the odd ones, and lanes 0-1 sum to stream s, lanes 2-3 to stream s + 1.
    /// </summary>
    private void Nh256(ReadOnlySpan<uint> m, ReadOnlySpan<uint> k)
    {
        if (k.Length < m.Length + (4 * (_streams - 1)) || (m.Length & 7) != 0)
        {
            throw new ArgumentException("NH needs whole blocks and the key words of every stream past them.", nameof(k));
        }

        ref uint d = ref MemoryMarshal.GetReference(m);
        ref uint key = ref MemoryMarshal.GetReference(k);
        Vector256<uint> low = Vector256.Create(0u, 1, 2, 3, 0, 1, 2, 3);
        Vector256<uint> high = Vector256.Create(4u, 5, 6, 7, 4, 5, 6, 7);
        Vector256<ulong> h01 = Vector256<ulong>.Zero;
        Vector256<ulong> h23 = Vector256<ulong>.Zero;
        bool four = _streams == 4;
        for (int i = 0; i < m.Length; i += 8)
        {
            Vector256<uint> block = Vector256.LoadUnsafe(ref d, (nuint)i);
            Vector256<uint> dl = Avx2.PermuteVar8x32(block, low);
            Vector256<uint> dh = Avx2.PermuteVar8x32(block, high);
            h01 += MultiplyPairs(Vector256.LoadUnsafe(ref key, (nuint)i) + dl, Vector256.LoadUnsafe(ref key, (nuint)(i + 4)) + dh);
            if (four)
            {
                h23 += MultiplyPairs(Vector256.LoadUnsafe(ref key, (nuint)(i + 8)) + dl, Vector256.LoadUnsafe(ref key, (nuint)(i + 12)) + dh);
            }
        }

        _nh[0] += h01.GetElement(0) + h01.GetElement(1);
        _nh[1] += h01.GetElement(2) + h01.GetElement(3);
        if (four)
        {
            _nh[2] += h23.GetElement(0) + h23.GetElement(1);
            _nh[3] += h23.GetElement(2) + h23.GetElement(3);
        }
    }

    /// <summary>x_j * y_j for the eight 32-bit lanes, each even product added to the next odd one (64-bit lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> MultiplyPairs(Vector256<uint> x, Vector256<uint> y) =>
        Avx2.Multiply(x, y) + Avx2.Multiply(Avx2.ShiftRightLogical(x.AsUInt64(), 32).AsUInt32(), Avx2.ShiftRightLogical(y.AsUInt64(), 32).AsUInt32());

    /// <summary>Any number of streams, any byte order (UMAC-32, UMAC-96, big-endian hosts).</summary>
    private void NhPortable(ReadOnlySpan<byte> data, ReadOnlySpan<uint> k)
    {
        Span<uint> d = stackalloc uint[8];
        for (int i = 0; i < data.Length; i += NhBlock)
        {
            for (int j = 0; j < 8; j++)
            {
                d[j] = BinaryPrimitives.ReadUInt32LittleEndian(data[(i + (4 * j))..]);
            }

            int w = i / 4;
            for (int s = 0; s < _streams; s++)
            {
                ReadOnlySpan<uint> key = k.Slice(w + (4 * s), 8);
                _nh[s] += ((ulong)(key[0] + d[0]) * (key[4] + d[4])) + ((ulong)(key[1] + d[1]) * (key[5] + d[5]))
                    + ((ulong)(key[2] + d[2]) * (key[6] + d[6])) + ((ulong)(key[3] + d[3]) * (key[7] + d[7]));
            }
        }
    }
}
