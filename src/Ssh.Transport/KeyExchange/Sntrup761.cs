using System.Buffers.Binary;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Ssh.Transport.KeyExchange;

/// <summary>
/// Streamlined NTRU Prime sntrup761, the KEM of OpenSSH's sntrup761x25519-sha512 (NTRU Prime round 3 specification,
/// §3 and §4; draft-ietf-sshm-ntruprime-ssh): p = 761, q = 4591, w = 286. Ours because BouncyCastle's takes about 12 ms
/// to encapsulate and 75 ms to make a key pair on this machine, and sorts the secret with a data-dependent sort. Here
/// the polynomial products are vectorized, every step that touches a secret (the sort, the products, the inversions,
/// the weight check, the ciphertext comparison) runs without secret-dependent branches or memory indexes, and
/// every secret buffer is cleared after use.
/// </summary>
/// <remarks>
/// Proven three ways (test/Ssh.Transport.Tests/KeyExchange/Sntrup761Tests.cs): known answers computed by the
/// designers' reference code (supercop's sntrup761 as OpenSSH ships it), BouncyCastle's sntrup761 on random keys and
/// randomness, and real peers (OpenSSH's ssh and sshd negotiate sntrup761x25519-sha512 with us in the interop suite).
/// </remarks>
internal static class Sntrup761
{
    /// <summary>The size of a public key: the polynomial h, Rq-encoded.</summary>
    public const int PublicKeyLength = 1158;

    /// <summary>The size of a secret key: f, 1/g, the public key, ρ and Hash4(public key).</summary>
    public const int SecretKeyLength = 1763;

    /// <summary>The size of a ciphertext: Round(h·r), encoded, and the 32-byte confirmation hash.</summary>
    public const int CiphertextLength = 1039;

    /// <summary>The size of the shared secret.</summary>
    public const int SecretLength = 32;

    private const int P = 761;
    private const int Q = 4591;
    private const int W = 286;
    private const int Q12 = (Q - 1) / 2;
    private const int SmallLength = (P + 3) / 4;
    private const int RoundedLength = CiphertextLength - HashLength;
    private const int HashLength = 32;

    // P rounded up to a multiple of every Vector<int> width: the products run over whole vectors.
    private const int Padded = 768;

    // The layout of a secret key (the reference's crypto_kem_sntrup761_keypair).
    private const int SecretF = 0;
    private const int SecretGInverse = SmallLength;
    private const int SecretPublicKey = 2 * SmallLength;
    private const int SecretRho = SecretPublicKey + PublicKeyLength;
    private const int SecretCache = SecretRho + SmallLength;

    /// <summary>Fills a buffer with random bytes.</summary>
    /// <param name="destination">The buffer.</param>
    public delegate void RandomSource(Span<byte> destination);

    /// <summary>The system CSPRNG.</summary>
    public static RandomSource SystemRandom { get; } = RandomNumberGenerator.Fill;

    /// <summary>KEM key generation: a key pair (the reference's crypto_kem_keypair).</summary>
    /// <param name="publicKey">Receives <see cref="PublicKeyLength"/> bytes.</param>
    /// <param name="secretKey">Receives <see cref="SecretKeyLength"/> bytes.</param>
    /// <param name="random">The randomness: 4·p bytes for g (again while g is not invertible in R3), 4·p for f, then ρ.</param>
    public static void GenerateKeyPair(Span<byte> publicKey, Span<byte> secretKey, RandomSource random)
    {
        Debug.Assert(publicKey.Length == PublicKeyLength && secretKey.Length == SecretKeyLength);
        Span<sbyte> g = stackalloc sbyte[P];
        Span<sbyte> gInverse = stackalloc sbyte[P];
        Span<sbyte> f = stackalloc sbyte[P];
        Span<short> fInverse = stackalloc short[P];
        Span<short> h = stackalloc short[P];
        Span<uint> list = stackalloc uint[P];
        try
        {
            // KeyGen (spec §3.5): g small and invertible in R3, f short; h = g / (3f) in Rq.
            do
            {
                RandomList(list, random);
                for (int i = 0; i < P; i++)
                {
                    g[i] = (sbyte)((((list[i] & 0x3fffffff) * 3) >> 30) - 1);
                }
            }
            while (R3Reciprocal(gInverse, g) != 0); // public: whether a g was rejected reveals nothing about the kept one

            RandomList(list, random);
            ShortFromList(f, list);
            RqReciprocal3(fInverse, f);
            RqMultiplySmall(h, fInverse, g);

            RqEncode(publicKey, h);
            SmallEncode(secretKey.Slice(SecretF, SmallLength), f);
            SmallEncode(secretKey.Slice(SecretGInverse, SmallLength), gInverse);
            publicKey.CopyTo(secretKey.Slice(SecretPublicKey, PublicKeyLength));
            random(secretKey.Slice(SecretRho, SmallLength));
            HashPrefix(secretKey.Slice(SecretCache, HashLength), 4, publicKey);
        }
        finally
        {
            Wipe(g);
            Wipe(gInverse);
            Wipe(f);
            Wipe(fInverse);
            Wipe(list);
        }
    }

    /// <summary>KEM encapsulation (the reference's crypto_kem_enc). Every 1158-byte string decodes to a public key.</summary>
    /// <param name="publicKey"><see cref="PublicKeyLength"/> bytes.</param>
    /// <param name="ciphertext">Receives <see cref="CiphertextLength"/> bytes.</param>
    /// <param name="secret">Receives <see cref="SecretLength"/> bytes.</param>
    /// <param name="random">The randomness: 4·p bytes for r.</param>
    public static void Encapsulate(ReadOnlySpan<byte> publicKey, Span<byte> ciphertext, Span<byte> secret, RandomSource random)
    {
        Debug.Assert(publicKey.Length == PublicKeyLength && ciphertext.Length == CiphertextLength && secret.Length == SecretLength);
        Span<uint> list = stackalloc uint[P];
        Span<sbyte> r = stackalloc sbyte[P];
        Span<byte> rEncoded = stackalloc byte[SmallLength];
        Span<byte> cache = stackalloc byte[HashLength];
        try
        {
            HashPrefix(cache, 4, publicKey);
            RandomList(list, random);
            ShortFromList(r, list);
            Hide(ciphertext, rEncoded, r, publicKey, cache);
            HashSession(secret, 1, rEncoded, ciphertext);
        }
        finally
        {
            Wipe(list);
            Wipe(r);
            CryptographicOperations.ZeroMemory(rEncoded);
        }
    }

    /// <summary>
    /// KEM decapsulation (the reference's crypto_kem_dec): implicit rejection, so a ciphertext that does not
    /// re-encrypt to itself gives a pseudorandom secret (from ρ), decided without a branch.
    /// </summary>
    /// <param name="ciphertext"><see cref="CiphertextLength"/> bytes.</param>
    /// <param name="secretKey"><see cref="SecretKeyLength"/> bytes from <see cref="GenerateKeyPair"/>.</param>
    /// <param name="secret">Receives <see cref="SecretLength"/> bytes.</param>
    public static void Decapsulate(ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> secretKey, Span<byte> secret)
    {
        Debug.Assert(ciphertext.Length == CiphertextLength && secretKey.Length == SecretKeyLength && secret.Length == SecretLength);
        ReadOnlySpan<byte> publicKey = secretKey.Slice(SecretPublicKey, PublicKeyLength);
        ReadOnlySpan<byte> rho = secretKey.Slice(SecretRho, SmallLength);
        ReadOnlySpan<byte> cache = secretKey.Slice(SecretCache, HashLength);
        Span<sbyte> f = stackalloc sbyte[P];
        Span<sbyte> v = stackalloc sbyte[P];
        Span<short> c = stackalloc short[P];
        Span<short> cf = stackalloc short[P];
        Span<sbyte> e = stackalloc sbyte[P];
        Span<sbyte> r = stackalloc sbyte[P];
        Span<byte> rEncoded = stackalloc byte[SmallLength];
        Span<byte> again = stackalloc byte[CiphertextLength];
        try
        {
            // Decrypt (spec §3.5): e = 3fc in R3, r = e/g; a weight other than w means a bad ciphertext (r becomes
            // a fixed vector that will not re-encrypt to it).
            SmallDecode(f, secretKey.Slice(SecretF, SmallLength));
            SmallDecode(v, secretKey.Slice(SecretGInverse, SmallLength));
            RoundedDecode(c, ciphertext[..RoundedLength]);
            RqMultiplySmall(cf, c, f);
            for (int i = 0; i < P; i++)
            {
                e[i] = FreezeThree(FreezeQ(3 * cf[i]));
            }

            R3Multiply(r, e, v);
            int weight = 0;
            for (int i = 0; i < P; i++)
            {
                weight += r[i] & 1;
            }

            int bad = NonZeroMask(weight - W);
            for (int i = 0; i < W; i++)
            {
                r[i] = (sbyte)(((r[i] ^ 1) & ~bad) ^ 1);
            }

            for (int i = W; i < P; i++)
            {
                r[i] = (sbyte)(r[i] & ~bad);
            }

            Hide(again, rEncoded, r, publicKey, cache);
            int differ = 0;
            for (int i = 0; i < CiphertextLength; i++)
            {
                differ |= ciphertext[i] ^ again[i];
            }

            int mask = ~((differ - 1) >> 31); // 0 when equal, -1 when not
            for (int i = 0; i < SmallLength; i++)
            {
                rEncoded[i] ^= (byte)(mask & (rEncoded[i] ^ rho[i]));
            }

            HashSession(secret, (byte)(1 + mask), rEncoded, ciphertext);
        }
        finally
        {
            Wipe(f);
            Wipe(v);
            Wipe(cf);
            Wipe(e);
            Wipe(r);
            CryptographicOperations.ZeroMemory(rEncoded);
            CryptographicOperations.ZeroMemory(again);
        }
    }

    /// <summary>p random 32-bit words, little-endian as the reference reads them.</summary>
    private static void RandomList(Span<uint> list, RandomSource random)
    {
        random(MemoryMarshal.AsBytes(list));
        if (!BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.ReverseEndianness(list, list);
        }
    }

    /// <summary>
    /// Short_fromlist (spec §3.3): w coefficients ±1 and p − w zeros in the order of a sort of the random words (the
    /// low two bits carry the value). Sorted with a bitonic network, so no branch or index depends on the words.
    /// </summary>
    private static void ShortFromList(Span<sbyte> output, ReadOnlySpan<uint> list)
    {
        Span<uint> sorted = stackalloc uint[1024];
        for (int i = 0; i < W; i++)
        {
            sorted[i] = list[i] & ~1u; // even: ±1 after the sort
        }

        for (int i = W; i < P; i++)
        {
            sorted[i] = (list[i] & ~3u) | 1; // low bits 01: 0
        }

        sorted[P..].Fill(uint.MaxValue); // larger than any word above: stays at the end
        BitonicSort(sorted);
        for (int i = 0; i < P; i++)
        {
            output[i] = (sbyte)((sorted[i] & 3) - 1);
        }

        Wipe(sorted);
    }

    /// <summary>Sorts a power-of-two length ascending; the sequence of compare-exchanges depends only on the length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the kernels: optimized from the first handshake, not after 30
    internal static void BitonicSort(Span<uint> a)
    {
        int n = a.Length;
        Debug.Assert(BitOperations.IsPow2(n));
        for (int k = 2; k <= n; k <<= 1)
        {
            for (int j = k >> 1; j > 0; j >>= 1)
            {
                for (int i = 0; i < n; i++)
                {
                    int l = i ^ j;
                    if (l > i)
                    {
                        if ((i & k) == 0)
                        {
                            CompareExchange(ref a[i], ref a[l]);
                        }
                        else
                        {
                            CompareExchange(ref a[l], ref a[i]);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Orders (low, high) without a branch on their values.</summary>
    private static void CompareExchange(ref uint low, ref uint high)
    {
        uint swap = (uint)(0 - (((ulong)high - low) >> 63)); // all ones when high < low
        uint t = (low ^ high) & swap;
        low ^= t;
        high ^= t;
    }

    /// <summary>Hide (spec §4): the ciphertext for r, and r's encoding for the session hash.</summary>
    private static void Hide(Span<byte> ciphertext, Span<byte> rEncoded, ReadOnlySpan<sbyte> r, ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> cache)
    {
        Span<short> h = stackalloc short[P];
        Span<short> c = stackalloc short[P];
        SmallEncode(rEncoded, r);
        RqDecode(h, publicKey);
        RqMultiplySmall(c, h, r);
        for (int i = 0; i < P; i++)
        {
            c[i] = (short)(c[i] - FreezeThree(c[i])); // Round: the nearest multiple of 3
        }

        RoundedEncode(ciphertext[..RoundedLength], c);
        Wipe(c);

        // HashConfirm: Hash2(Hash3(r) || Hash4(pk)).
        Span<byte> x = stackalloc byte[2 * HashLength];
        HashPrefix(x[..HashLength], 3, rEncoded);
        cache.CopyTo(x[HashLength..]);
        HashPrefix(ciphertext[RoundedLength..], 2, x);
        CryptographicOperations.ZeroMemory(x);
    }

    /// <summary>HashSession: Hash_b(Hash3(r) || ciphertext), b = 1 for a good ciphertext and 0 for a rejected one.</summary>
    private static void HashSession(Span<byte> secret, byte b, ReadOnlySpan<byte> rEncoded, ReadOnlySpan<byte> ciphertext)
    {
        Span<byte> x = stackalloc byte[HashLength + CiphertextLength];
        HashPrefix(x[..HashLength], 3, rEncoded);
        ciphertext.CopyTo(x[HashLength..]);
        HashPrefix(secret, b, x);
        CryptographicOperations.ZeroMemory(x[..HashLength]);
    }

    /// <summary>Hash_b(input): the first 32 bytes of SHA-512(b || input).</summary>
    private static void HashPrefix(Span<byte> output, byte b, ReadOnlySpan<byte> input)
    {
        Span<byte> x = stackalloc byte[1 + PublicKeyLength]; // the longest input: a public key
        Span<byte> hash = stackalloc byte[64];
        x[0] = b;
        input.CopyTo(x[1..]);
        SHA512.HashData(x[..(1 + input.Length)], hash);
        hash[..HashLength].CopyTo(output);
        CryptographicOperations.ZeroMemory(x[..(1 + input.Length)]);
        CryptographicOperations.ZeroMemory(hash);
    }

    // ---- Arithmetic: Z/3 and Z/q with centred representatives, in constant time ----

    /// <summary>x mod 3 in {−1, 0, 1}, for |x| below 2^14.</summary>
    internal static sbyte FreezeThree(int x) => (sbyte)(x - 3 * ((10923 * x + 16384) >> 15));

    /// <summary>x mod q in [−(q−1)/2, (q−1)/2], for |x| below 2^24 (three Barrett steps, no division).</summary>
    internal static short FreezeQ(int x)
    {
        x -= Q * ((14 * x) >> 16);
        x -= Q * ((228 * x) >> 20);
        return (short)(x - Q * ((58470 * x + 0x8000000) >> 28));
    }

    private static int NonZeroMask(int x) => (x | -x) >> 31;

    /// <summary>a^(q−2) = 1/a in Z/q (a fixed number of steps).</summary>
    private static short FqReciprocal(short a)
    {
        short result = a;
        for (int i = 1; i < Q - 2; i++)
        {
            result = FreezeQ(a * result);
        }

        return result;
    }

    /// <summary>
    /// The product a·b in Z[x]/(x^p − x − 1) before reduction of the coefficients: b is small (−1, 0, 1), a is any
    /// Rq or R3 element. Each group of output coefficients accumulates in a vector register over all of b.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the kernels: optimized from the first handshake, not after 30
    private static void Multiply(Span<int> product, ReadOnlySpan<short> a, ReadOnlySpan<sbyte> b)
    {
        // wide[(p − 1) + k] = a[k], zero elsewhere: the output coefficient k sums b[j]·wide[(p − 1) + k − j].
        Span<int> wide = stackalloc int[(P - 1) + 2 * Padded];
        Span<int> full = stackalloc int[2 * Padded];
        wide.Clear();
        for (int i = 0; i < P; i++)
        {
            wide[P - 1 + i] = a[i];
        }

        ref int wideStart = ref MemoryMarshal.GetReference(wide);
        ref int fullStart = ref MemoryMarshal.GetReference(full);
        int width = Vector<int>.Count;
        for (int k = 0; k < 2 * P - 1; k += width)
        {
            Vector<int> sum = Vector<int>.Zero;
            for (int j = 0; j < P; j++)
            {
                sum += Vector.LoadUnsafe(ref wideStart, (nuint)(P - 1 + k - j)) * new Vector<int>(b[j]);
            }

            sum.StoreUnsafe(ref fullStart, (nuint)k);
        }

        // x^p = x + 1.
        for (int i = 2 * P - 2; i >= P; i--)
        {
            full[i - P] += full[i];
            full[i - P + 1] += full[i];
        }

        full[..P].CopyTo(product);
        Wipe(wide);
        Wipe(full);
    }

    /// <summary>h = f·g in Rq, g small.</summary>
    private static void RqMultiplySmall(Span<short> h, ReadOnlySpan<short> f, ReadOnlySpan<sbyte> g)
    {
        Span<int> product = stackalloc int[P];
        Multiply(product, f, g);
        for (int i = 0; i < P; i++)
        {
            h[i] = FreezeQ(product[i]);
        }

        Wipe(product);
    }

    /// <summary>h = f·g in R3.</summary>
    private static void R3Multiply(Span<sbyte> h, ReadOnlySpan<sbyte> f, ReadOnlySpan<sbyte> g)
    {
        Span<short> f16 = stackalloc short[P];
        Span<int> product = stackalloc int[P];
        for (int i = 0; i < P; i++)
        {
            f16[i] = f[i];
        }

        Multiply(product, f16, g);
        for (int i = 0; i < P; i++)
        {
            h[i] = FreezeThree(product[i]);
        }

        Wipe(f16);
        Wipe(product);
    }

    // The division steps below keep f, g, v, r as ints in Padded + width slots (zeros past p + 1 stay zeros), so
    // each step's updates run over whole vectors.
    private static int StepLength => Padded + Vector<int>.Count;

    /// <summary>
    /// 1/input in R3 by the constant-time extended GCD of the reference (2p − 1 division steps on f = x^p − x − 1 and
    /// g = the reversed input); 0 when invertible, −1 when not.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the kernels: optimized from the first handshake, not after 30
    private static int R3Reciprocal(Span<sbyte> output, ReadOnlySpan<sbyte> input)
    {
        Span<int> f = stackalloc int[StepLength];
        Span<int> g = stackalloc int[StepLength];
        Span<int> v = stackalloc int[StepLength];
        Span<int> r = stackalloc int[StepLength];
        Start(f, g, v, r, input, 1);
        int delta = 1;
        for (int loop = 0; loop < 2 * P - 1; loop++)
        {
            var signs = new Vector<int>(-g[0] * f[0]);
            var swap = new Vector<int>(BeginStep(v, g[0], ref delta));
            for (int i = 0; i <= P; i += Vector<int>.Count)
            {
                Vector<int> fi = Load(f, i), gi = Load(g, i), vi = Load(v, i), ri = Load(r, i);
                Swap(swap, ref fi, ref gi);
                Swap(swap, ref vi, ref ri);
                Store(f, i, fi);
                Store(v, i, vi);
                Store(g, i, FreezeThree(gi + signs * fi));
                Store(r, i, FreezeThree(ri + signs * vi));
            }

            EndStep(g);
        }

        int s = f[0];
        for (int i = 0; i < P; i++)
        {
            output[i] = (sbyte)(s * v[P - 1 - i]);
        }

        Clear(f, g, v, r);
        return NonZeroMask(delta);
    }

    /// <summary>1/(3·input) in Rq, the same division steps over Z/q; 0 when invertible.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the kernels: optimized from the first handshake, not after 30
    private static int RqReciprocal3(Span<short> output, ReadOnlySpan<sbyte> input)
    {
        Span<int> f = stackalloc int[StepLength];
        Span<int> g = stackalloc int[StepLength];
        Span<int> v = stackalloc int[StepLength];
        Span<int> r = stackalloc int[StepLength];
        Start(f, g, v, r, input, FqReciprocal(3));
        int delta = 1;
        for (int loop = 0; loop < 2 * P - 1; loop++)
        {
            int swapBits = BeginStep(v, g[0], ref delta);

            // f[0] and g[0] after the swap.
            int t0 = swapBits & (f[0] ^ g[0]);
            var f0 = new Vector<int>(f[0] ^ t0);
            var g0 = new Vector<int>(g[0] ^ t0);
            var swap = new Vector<int>(swapBits);
            for (int i = 0; i <= P; i += Vector<int>.Count)
            {
                Vector<int> fi = Load(f, i), gi = Load(g, i), vi = Load(v, i), ri = Load(r, i);
                Swap(swap, ref fi, ref gi);
                Swap(swap, ref vi, ref ri);
                Store(f, i, fi);
                Store(v, i, vi);
                Store(g, i, FreezeQ(f0 * gi - g0 * fi));
                Store(r, i, FreezeQ(f0 * ri - g0 * vi));
            }

            EndStep(g);
        }

        short scale = FqReciprocal((short)f[0]);
        for (int i = 0; i < P; i++)
        {
            output[i] = FreezeQ(scale * v[P - 1 - i]);
        }

        Clear(f, g, v, r);
        return NonZeroMask(delta);
    }

    /// <summary>
    /// A division step's start: v *= x; f and g swap when delta &gt; 0 and g[0] ≠ 0 (returned as a mask, all ones for
    /// a swap), and delta becomes 1 − delta after a swap, delta + 1 otherwise.
    /// </summary>
    private static int BeginStep(Span<int> v, int g0, ref int delta)
    {
        v[..P].CopyTo(v[1..]);
        v[0] = 0;
        int swap = (-delta >> 31) & NonZeroMask(g0);
        delta ^= swap & (delta ^ -delta);
        delta++;
        return swap;
    }

    /// <summary>A division step's end: g /= x (its constant term is zero by now).</summary>
    private static void EndStep(Span<int> g)
    {
        g[1..(P + 1)].CopyTo(g);
        g[P] = 0;
    }

    /// <summary>Swaps the lanes of a and b where the mask is all ones, without a branch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Swap(Vector<int> mask, ref Vector<int> a, ref Vector<int> b)
    {
        Vector<int> t = mask & (a ^ b);
        a ^= t;
        b ^= t;
    }

    /// <summary>f = x^p − x − 1 (reversed: 1, 0, …, −1, −1), g = the input reversed, v = 0, r = r0.</summary>
    private static void Start(Span<int> f, Span<int> g, Span<int> v, Span<int> r, ReadOnlySpan<sbyte> input, int r0)
    {
        f.Clear();
        g.Clear();
        v.Clear();
        r.Clear();
        r[0] = r0;
        f[0] = 1;
        f[P - 1] = -1;
        f[P] = -1;
        for (int i = 0; i < P; i++)
        {
            g[P - 1 - i] = input[i];
        }
    }

    private static void Clear(Span<int> f, Span<int> g, Span<int> v, Span<int> r)
    {
        Wipe(f);
        Wipe(g);
        Wipe(v);
        Wipe(r);
    }

    /// <summary>Zeroes a buffer that held secret values.</summary>
    private static void Wipe<T>(Span<T> span)
        where T : unmanaged => CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(span));

    private static Vector<int> Load(Span<int> span, int index) => Vector.LoadUnsafe(ref MemoryMarshal.GetReference(span), (nuint)index);

    private static void Store(Span<int> span, int index, Vector<int> value) => value.StoreUnsafe(ref MemoryMarshal.GetReference(span), (nuint)index);

    /// <summary><see cref="FreezeThree(int)"/> on each lane.</summary>
    private static Vector<int> FreezeThree(Vector<int> x) =>
        x - new Vector<int>(3) * Vector.ShiftRightArithmetic(x * new Vector<int>(10923) + new Vector<int>(16384), 15);

    /// <summary><see cref="FreezeQ(int)"/> on each lane.</summary>
    private static Vector<int> FreezeQ(Vector<int> x)
    {
        var q = new Vector<int>(Q);
        x -= q * Vector.ShiftRightArithmetic(x * new Vector<int>(14), 16);
        x -= q * Vector.ShiftRightArithmetic(x * new Vector<int>(228), 20);
        return x - q * Vector.ShiftRightArithmetic(x * new Vector<int>(58470) + new Vector<int>(0x8000000), 28);
    }

    // ---- Encodings (spec §3.2) ----

    /// <summary>Four coefficients (+1 each, so 0..2) per byte, the last one alone.</summary>
    private static void SmallEncode(Span<byte> output, ReadOnlySpan<sbyte> f)
    {
        for (int i = 0; i < P / 4; i++)
        {
            output[i] = (byte)((f[4 * i] + 1) | ((f[4 * i + 1] + 1) << 2) | ((f[4 * i + 2] + 1) << 4) | ((f[4 * i + 3] + 1) << 6));
        }

        output[P / 4] = (byte)(f[P - 1] + 1);
    }

    private static void SmallDecode(Span<sbyte> f, ReadOnlySpan<byte> input)
    {
        for (int i = 0; i < P / 4; i++)
        {
            int x = input[i];
            f[4 * i] = (sbyte)((x & 3) - 1);
            f[4 * i + 1] = (sbyte)(((x >> 2) & 3) - 1);
            f[4 * i + 2] = (sbyte)(((x >> 4) & 3) - 1);
            f[4 * i + 3] = (sbyte)(((x >> 6) & 3) - 1);
        }

        f[P - 1] = (sbyte)((input[P / 4] & 3) - 1);
    }

    private static void RqEncode(Span<byte> output, ReadOnlySpan<short> r)
    {
        Span<ushort> values = stackalloc ushort[P];
        Span<ushort> moduli = stackalloc ushort[P];
        for (int i = 0; i < P; i++)
        {
            values[i] = (ushort)(r[i] + Q12);
        }

        moduli.Fill(Q);
        int written = Encode(output, values, moduli);
        Debug.Assert(written == PublicKeyLength);
    }

    private static void RqDecode(Span<short> r, ReadOnlySpan<byte> input)
    {
        Span<ushort> values = stackalloc ushort[P];
        Span<ushort> moduli = stackalloc ushort[P];
        moduli.Fill(Q);
        Decode(values, input, moduli);
        for (int i = 0; i < P; i++)
        {
            r[i] = (short)(values[i] - Q12);
        }
    }

    /// <summary>Rounded elements (multiples of 3) as values mod (q + 2)/3.</summary>
    private static void RoundedEncode(Span<byte> output, ReadOnlySpan<short> r)
    {
        Span<ushort> values = stackalloc ushort[P];
        Span<ushort> moduli = stackalloc ushort[P];
        for (int i = 0; i < P; i++)
        {
            values[i] = (ushort)(((r[i] + Q12) * 10923) >> 15);
        }

        moduli.Fill((Q + 2) / 3);
        int written = Encode(output, values, moduli);
        Debug.Assert(written == RoundedLength);
    }

    private static void RoundedDecode(Span<short> r, ReadOnlySpan<byte> input)
    {
        Span<ushort> values = stackalloc ushort[P];
        Span<ushort> moduli = stackalloc ushort[P];
        moduli.Fill((Q + 2) / 3);
        Decode(values, input, moduli);
        for (int i = 0; i < P; i++)
        {
            r[i] = (short)(values[i] * 3 - Q12);
        }
    }

    /// <summary>
    /// Encode (spec §3.2.2): values[i] in [0, moduli[i]) as bytes, pairs merged recursively; what is written depends
    /// only on the moduli (public), so no branch depends on the values. Returns the bytes written.
    /// </summary>
    private static int Encode(Span<byte> output, ReadOnlySpan<ushort> values, ReadOnlySpan<ushort> moduli)
    {
        int length = values.Length;
        int written = 0;
        if (length == 1)
        {
            uint value = values[0];
            uint modulus = moduli[0];
            while (modulus > 1)
            {
                output[written++] = (byte)value;
                value >>= 8;
                modulus = (modulus + 255) >> 8;
            }

            return written;
        }

        int half = (length + 1) / 2;
        Span<ushort> values2 = stackalloc ushort[half];
        Span<ushort> moduli2 = stackalloc ushort[half];
        int i;
        for (i = 0; i + 1 < length; i += 2)
        {
            uint m0 = moduli[i];
            uint value = values[i] + values[i + 1] * m0;
            uint modulus = moduli[i + 1] * m0;
            while (modulus >= 16384)
            {
                output[written++] = (byte)value;
                value >>= 8;
                modulus = (modulus + 255) >> 8;
            }

            values2[i / 2] = (ushort)value;
            moduli2[i / 2] = (ushort)modulus;
        }

        if (i < length)
        {
            values2[i / 2] = values[i];
            moduli2[i / 2] = moduli[i];
        }

        written += Encode(output[written..], values2, moduli2);
        Wipe(values2);
        return written;
    }

    /// <summary>Decode, the inverse of <see cref="Encode"/>; every byte string decodes (values reduced mod their moduli).</summary>
    private static void Decode(Span<ushort> output, ReadOnlySpan<byte> input, ReadOnlySpan<ushort> moduli)
    {
        int length = moduli.Length;
        if (length == 1)
        {
            output[0] = moduli[0] switch
            {
                1 => 0,
                <= 256 => (ushort)(input[0] % moduli[0]),
                _ => (ushort)((input[0] + (input[1] << 8)) % moduli[0]),
            };
            return;
        }

        int half = (length + 1) / 2;
        Span<ushort> values2 = stackalloc ushort[half];
        Span<ushort> moduli2 = stackalloc ushort[half];
        Span<ushort> bottom = stackalloc ushort[length / 2];
        Span<uint> scale = stackalloc uint[length / 2];
        int read = 0;
        int i;
        for (i = 0; i + 1 < length; i += 2)
        {
            uint modulus = (uint)moduli[i] * moduli[i + 1];
            if (modulus > 256 * 16383)
            {
                scale[i / 2] = 256 * 256;
                bottom[i / 2] = (ushort)(input[read] + 256 * input[read + 1]);
                read += 2;
                moduli2[i / 2] = (ushort)((((modulus + 255) >> 8) + 255) >> 8);
            }
            else if (modulus >= 16384)
            {
                scale[i / 2] = 256;
                bottom[i / 2] = input[read];
                read += 1;
                moduli2[i / 2] = (ushort)((modulus + 255) >> 8);
            }
            else
            {
                scale[i / 2] = 1;
                bottom[i / 2] = 0;
                moduli2[i / 2] = (ushort)modulus;
            }
        }

        if (i < length)
        {
            moduli2[i / 2] = moduli[i];
        }

        Decode(values2, input[read..], moduli2);
        for (i = 0; i + 1 < length; i += 2)
        {
            uint value = bottom[i / 2] + scale[i / 2] * values2[i / 2];
            output[i] = (ushort)(value % moduli[i]);
            output[i + 1] = (ushort)(value / moduli[i] % moduli[i + 1]);
        }

        if (i < length)
        {
            output[i] = values2[i / 2];
        }
    }
}
