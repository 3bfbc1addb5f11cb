using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Kems;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Prng;
using Org.BouncyCastle.Security;

namespace Ssh.Transport.KeyExchange;

/// <summary>
/// The key-encapsulation half of a hybrid key exchange. The client generates a key pair and later decapsulates;
/// the server encapsulates to the client's public key. One instance serves one exchange.
/// </summary>
internal abstract class PostQuantumKem : IDisposable
{
    /// <summary>The size of the KEM shared secret (ML-KEM and sntrup761 both give 32 bytes).</summary>
    public const int SecretLength = 32;

    /// <summary>BouncyCastle randomness straight from the system CSPRNG (thread-safe).</summary>
    private protected static readonly SecureRandom s_random = new(new CryptoApiRandomGenerator());

    /// <summary>The size of the encoded public (encapsulation) key.</summary>
    public abstract int PublicKeyLength { get; }

    /// <summary>The size of the ciphertext.</summary>
    public abstract int CiphertextLength { get; }

    /// <summary>
    /// For tests: when false, ML-KEM always uses BouncyCastle even where the platform
    /// (<see cref="MLKem.IsSupported"/>) has it.
    /// </summary>
    internal static bool UsePlatformMlKem { get; set; } = true;

    /// <summary>ML-KEM-768 (FIPS 203): the platform's when supported, else BouncyCastle's.</summary>
    public static PostQuantumKem CreateMlKem768() =>
        UsePlatformMlKem && MLKem.IsSupported ? new PlatformMlKem768() : new BouncyMlKem768(s_random);

    /// <summary>
    /// ML-KEM-768 (BouncyCastle) drawing its randomness from <paramref name="random"/>: the 64-byte seed d || z of a
    /// key pair (FIPS 203 §7.1), or the 32-byte m of an encapsulation (§7.2). Known-answer tests only.
    /// </summary>
    /// <param name="random">The randomness.</param>
    internal static PostQuantumKem CreateMlKem768(SecureRandom random) => new BouncyMlKem768(random);

    /// <summary>Streamlined NTRU Prime sntrup761 (ours: <see cref="Sntrup761"/>).</summary>
    public static PostQuantumKem CreateSntrup761() => new Sntrup761Kem();

    /// <summary>Client: makes a key pair and writes the public key.</summary>
    /// <param name="publicKey">Receives <see cref="PublicKeyLength"/> bytes.</param>
    public abstract void GenerateKeyPair(Span<byte> publicKey);

    /// <summary>Client: recovers the shared secret from the server's ciphertext.</summary>
    /// <param name="ciphertext"><see cref="CiphertextLength"/> bytes.</param>
    /// <param name="secret">Receives <see cref="SecretLength"/> bytes.</param>
    public abstract void Decapsulate(ReadOnlySpan<byte> ciphertext, Span<byte> secret);

    /// <summary>Server: encapsulates a fresh secret to the client's public key.</summary>
    /// <param name="publicKey"><see cref="PublicKeyLength"/> bytes from the client.</param>
    /// <param name="ciphertext">Receives <see cref="CiphertextLength"/> bytes.</param>
    /// <param name="secret">Receives <see cref="SecretLength"/> bytes.</param>
    /// <exception cref="SshProtocolException">The public key is invalid.</exception>
    public abstract void Encapsulate(ReadOnlySpan<byte> publicKey, Span<byte> ciphertext, Span<byte> secret);

    /// <summary>Releases the private key.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the private key.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected abstract void Dispose(bool disposing);

    /// <summary>
    /// The modulus check of FIPS 203 §7.2 for an ML-KEM-768 encapsulation key: every 12-bit coefficient of the
    /// encoded vector t (the first 384·k bytes, k = 3) is below q = 3329, i.e. ByteEncode12(ByteDecode12(ek)) = ek.
    /// </summary>
    internal static bool IsValidMlKem768EncapsulationKey(ReadOnlySpan<byte> key)
    {
        const int Q = 3329;
        const int VectorBytes = 384 * 3;
        if (key.Length != BouncyMlKem768.PublicKeySize)
        {
            return false;
        }

        int bad = 0;
        for (int i = 0; i < VectorBytes; i += 3)
        {
            int d1 = key[i] | ((key[i + 1] & 0x0F) << 8);
            int d2 = (key[i + 1] >> 4) | (key[i + 2] << 4);
            bad |= (Q - 1 - d1) | (Q - 1 - d2);
        }

        return bad >= 0;
    }

    /// <summary>ML-KEM-768 through System.Security.Cryptography.MLKem (OpenSSL 3.5+, Windows CNG).</summary>
    private sealed class PlatformMlKem768 : PostQuantumKem
    {
        private MLKem? _key;

        public override int PublicKeyLength => MLKemAlgorithm.MLKem768.EncapsulationKeySizeInBytes;

        public override int CiphertextLength => MLKemAlgorithm.MLKem768.CiphertextSizeInBytes;

        public override void GenerateKeyPair(Span<byte> publicKey)
        {
            _key = MLKem.GenerateKey(MLKemAlgorithm.MLKem768);
            _key.ExportEncapsulationKey(publicKey);
        }

        public override void Decapsulate(ReadOnlySpan<byte> ciphertext, Span<byte> secret)
        {
            if (_key is null)
            {
                throw new InvalidOperationException("No key pair.");
            }

            _key.Decapsulate(ciphertext, secret);
        }

        public override void Encapsulate(ReadOnlySpan<byte> publicKey, Span<byte> ciphertext, Span<byte> secret)
        {
            if (!IsValidMlKem768EncapsulationKey(publicKey))
            {
                throw KexAgreement.Fail("The client's ML-KEM-768 encapsulation key fails the FIPS 203 modulus check.");
            }

            try
            {
                using MLKem key = MLKem.ImportEncapsulationKey(MLKemAlgorithm.MLKem768, publicKey);
                key.Encapsulate(ciphertext, secret);
            }
            catch (CryptographicException e)
            {
                throw KexAgreement.Fail("The client's ML-KEM-768 encapsulation key is invalid.", e);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _key?.Dispose();
                _key = null;
            }
        }
    }

    /// <summary>ML-KEM-768 through BouncyCastle, for platforms without it (e.g. OpenSSL 3.0).</summary>
    private sealed class BouncyMlKem768(SecureRandom random) : PostQuantumKem
    {
        public const int PublicKeySize = 1184;
        private const int SeedSize = 64;

        private MLKemPrivateKeyParameters? _privateKey;

        public override int PublicKeyLength => PublicKeySize;

        public override int CiphertextLength => 1088;

        public override void GenerateKeyPair(Span<byte> publicKey)
        {
            // ML-KEM.KeyGen from the seed d || z (FIPS 203 algorithm 19), the form OpenSSL and others import too.
            byte[] seed = new byte[SeedSize];
            try
            {
                random.NextBytes(seed);
                _privateKey = MLKemPrivateKeyParameters.FromSeed(MLKemParameters.ml_kem_768, seed);
                _privateKey.GetPublicKeyEncoded().CopyTo(publicKey);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(seed);
            }
        }

        public override void Decapsulate(ReadOnlySpan<byte> ciphertext, Span<byte> secret)
        {
            var decapsulator = new MLKemDecapsulator(MLKemParameters.ml_kem_768);
            decapsulator.Init(_privateKey ?? throw new InvalidOperationException("No key pair."));
            decapsulator.Decapsulate(ciphertext, secret);
        }

        public override void Encapsulate(ReadOnlySpan<byte> publicKey, Span<byte> ciphertext, Span<byte> secret)
        {
            if (!IsValidMlKem768EncapsulationKey(publicKey))
            {
                throw KexAgreement.Fail("The client's ML-KEM-768 encapsulation key fails the FIPS 203 modulus check.");
            }

            var encapsulator = new MLKemEncapsulator(MLKemParameters.ml_kem_768);
            encapsulator.Init(new ParametersWithRandom(MLKemPublicKeyParameters.FromEncoding(MLKemParameters.ml_kem_768, publicKey.ToArray()), random));
            encapsulator.Encapsulate(ciphertext, secret);
        }

        protected override void Dispose(bool disposing) => _privateKey = null;
    }

    /// <summary>sntrup761 (<see cref="KeyExchange.Sntrup761"/>, ours: BouncyCastle's is too slow for a server).</summary>
    private sealed class Sntrup761Kem : PostQuantumKem
    {
        private byte[]? _secretKey;

        public override int PublicKeyLength => Sntrup761.PublicKeyLength;

        public override int CiphertextLength => Sntrup761.CiphertextLength;

        public override void GenerateKeyPair(Span<byte> publicKey)
        {
            _secretKey = new byte[Sntrup761.SecretKeyLength];
            Sntrup761.GenerateKeyPair(publicKey, _secretKey, Sntrup761.SystemRandom);
        }

        public override void Decapsulate(ReadOnlySpan<byte> ciphertext, Span<byte> secret) =>
            Sntrup761.Decapsulate(ciphertext, _secretKey ?? throw new InvalidOperationException("No key pair."), secret);

        // Every 1158-byte string decodes to some public key (OpenSSH does no further check either).
        public override void Encapsulate(ReadOnlySpan<byte> publicKey, Span<byte> ciphertext, Span<byte> secret) =>
            Sntrup761.Encapsulate(publicKey, ciphertext, secret, Sntrup761.SystemRandom);

        protected override void Dispose(bool disposing)
        {
            if (_secretKey is not null)
            {
                CryptographicOperations.ZeroMemory(_secretKey);
                _secretKey = null;
            }
        }
    }
}
