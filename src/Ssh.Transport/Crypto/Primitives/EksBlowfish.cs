using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>
/// Blowfish (Schneier 1993) with the state operations of the "expensive key schedule" of bcrypt (Provos and
/// Mazières, "A Future-Adaptable Password Scheme", 1999), named as OpenBSD's blf.c names them: what
/// <see cref="BcryptPbkdf"/> needs, and nothing to encrypt data with.
/// </summary>
/// <remarks>
/// Not thread-safe. The state is derived from secrets: <see cref="Dispose"/> zeroes it.
/// </remarks>
internal sealed class EksBlowfish : IDisposable
{
    private const int Rounds = 16;

    private State _state;

    /// <summary>Blowfish_initstate: the P-array and S-boxes from the digits of pi.</summary>
    public void Initialize()
    {
        BlowfishTables.P.CopyTo(_state.P);
        BlowfishTables.S0.CopyTo(_state.S0);
        BlowfishTables.S1.CopyTo(_state.S1);
        BlowfishTables.S2.CopyTo(_state.S2);
        BlowfishTables.S3.CopyTo(_state.S3);
    }

    /// <summary>
    /// Blowfish_expand0state: XORs <paramref name="key"/> (cycled) into the P-array, then replaces the P-array and
    /// the S-boxes, in order, with the successive encryptions of a block that starts at zero. From
    /// <see cref="Initialize"/>, this is Blowfish's own key schedule.
    /// </summary>
    /// <param name="key">1 or more bytes.</param>
    public void ExpandKey(ReadOnlySpan<byte> key) => Expand(ReadOnlySpan<byte>.Empty, key);

    /// <summary>
    /// Blowfish_expandstate: as <see cref="ExpandKey"/>, but before each encryption the block is XORed with the next
    /// 8 bytes of <paramref name="data"/> (cycled; bcrypt's salt).
    /// </summary>
    /// <param name="data">1 or more bytes.</param>
    /// <param name="key">1 or more bytes.</param>
    public void ExpandState(ReadOnlySpan<byte> data, ReadOnlySpan<byte> key)
    {
        if (data.IsEmpty)
        {
            throw new ArgumentException("The data is empty.", nameof(data));
        }

        Expand(data, key);
    }

    /// <summary>Blowfish_encipher: encrypts one 64-bit block, given as its big-endian halves.</summary>
    public void Encrypt(ref uint left, ref uint right) => Encrypt(ref _state, ref left, ref right);

    /// <summary>Zeroes the state.</summary>
    public void Dispose() =>
        CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(new Span<State>(ref _state)));

    /// <summary>Blowfish_stream2word: the next 4 bytes of <paramref name="data"/>, big-endian, wrapping round to its start.</summary>
    internal static uint StreamToWord(ReadOnlySpan<byte> data, ref int position)
    {
        uint word = 0;
        for (int i = 0; i < 4; i++)
        {
            if (position >= data.Length)
            {
                position = 0;
            }

            word = (word << 8) | data[position++];
        }

        return word;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Encrypt(ref State state, ref uint left, ref uint right)
    {
        uint l = left ^ state.P[0];
        uint r = right;
        for (int i = 1; i < Rounds; i += 2)
        {
            r ^= F(ref state, l) ^ state.P[i];
            l ^= F(ref state, r) ^ state.P[i + 1];
        }

        left = r ^ state.P[Rounds + 1];
        right = l;
    }

    // Byte indexes into fixed 256-entry boxes: the JIT drops the bounds checks.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint F(ref State state, uint x) =>
        ((state.S0[(byte)(x >> 24)] + state.S1[(byte)(x >> 16)]) ^ state.S2[(byte)(x >> 8)]) + state.S3[(byte)x];

    private void Expand(ReadOnlySpan<byte> data, ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty)
        {
            throw new ArgumentException("The key is empty.", nameof(key));
        }

        ref State state = ref _state;
        int position = 0;
        for (int i = 0; i < Rounds + 2; i++)
        {
            state.P[i] ^= StreamToWord(key, ref position);
        }

        // One chain of encryptions through the P-array and the four S-boxes; the data stream runs on throughout.
        position = 0;
        uint left = 0;
        uint right = 0;
        Fill(ref state, state.P, data, ref position, ref left, ref right);
        Fill(ref state, state.S0, data, ref position, ref left, ref right);
        Fill(ref state, state.S1, data, ref position, ref left, ref right);
        Fill(ref state, state.S2, data, ref position, ref left, ref right);
        Fill(ref state, state.S3, data, ref position, ref left, ref right);
    }

    private static void Fill(ref State state, Span<uint> table, ReadOnlySpan<byte> data, ref int position, ref uint left, ref uint right)
    {
        for (int i = 0; i < table.Length; i += 2)
        {
            if (!data.IsEmpty)
            {
                left ^= StreamToWord(data, ref position);
                right ^= StreamToWord(data, ref position);
            }

            Encrypt(ref state, ref left, ref right);
            table[i] = left;
            table[i + 1] = right;
        }
    }

    private struct State
    {
        public PArray P;
        public SBox S0;
        public SBox S1;
        public SBox S2;
        public SBox S3;
    }

    [InlineArray(Rounds + 2)]
    private struct PArray
    {
        private uint _element;
    }

    [InlineArray(256)]
    private struct SBox
    {
        private uint _element;
    }
}
