using System.Buffers;
using System.Security.Cryptography;

namespace Ssh.Transport.KeyExchange;

/// <summary>
/// ECDH over the NIST prime curves (RFC 5656 §4, §7.1): Q_C and Q_S are uncompressed points (SEC1 2.3.3,
/// 0x04 || X || Y); K is the x-coordinate of the shared point, encoded as an mpint.
/// </summary>
internal sealed class EcdhAgreement : KexAgreement, IRawKeyAgreement
{
    private readonly ECCurve _curve;
    private readonly int _fieldBytes;
    private readonly ECDiffieHellman _key;
    private readonly byte[] _public;
    private bool _computed;

    /// <summary>Creates an agreement with a fresh key on <paramref name="curve"/>.</summary>
    /// <param name="curve">A named NIST curve.</param>
    /// <param name="fieldBytes">The size of one coordinate: 32, 48 or 66.</param>
    public EcdhAgreement(ECCurve curve, int fieldBytes)
        : this(curve, fieldBytes, ECDiffieHellman.Create(curve))
    {
    }

    private EcdhAgreement(ECCurve curve, int fieldBytes, ECDiffieHellman key)
    {
        _curve = curve;
        _fieldBytes = fieldBytes;
        _key = key;
        ECParameters parameters = key.ExportParameters(includePrivateParameters: false);
        _public = new byte[1 + (2 * fieldBytes)];
        _public[0] = 0x04;
        parameters.Q.X!.CopyTo(_public.AsSpan(1 + fieldBytes - parameters.Q.X!.Length));
        parameters.Q.Y!.CopyTo(_public.AsSpan(1 + (2 * fieldBytes) - parameters.Q.Y!.Length));
    }

    /// <summary>Creates an agreement with a fixed private scalar (known-answer tests only).</summary>
    /// <param name="curve">A named NIST curve.</param>
    /// <param name="fieldBytes">The size of one coordinate.</param>
    /// <param name="privateKey">The scalar d, big-endian, <paramref name="fieldBytes"/> long.</param>
    internal static EcdhAgreement WithPrivateKey(ECCurve curve, int fieldBytes, ReadOnlySpan<byte> privateKey)
    {
        byte[] d = privateKey.ToArray();
        try
        {
            var key = ECDiffieHellman.Create();
            key.ImportParameters(new ECParameters { Curve = curve, D = d });
            return new EcdhAgreement(curve, fieldBytes, key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(d);
        }
    }

    /// <inheritdoc cref="KexAgreement.LocalPublic"/>
    public override ReadOnlyMemory<byte> LocalPublic => _public;

    /// <inheritdoc/>
    public int SecretLength => _fieldBytes;

    /// <inheritdoc/>
    public override void ComputeSharedSecret(ReadOnlySpan<byte> peerPublic, IBufferWriter<byte> encodedK)
    {
        ArgumentNullException.ThrowIfNull(encodedK);
        ThrowIfDisposed();
        if (_computed)
        {
            throw new InvalidOperationException("The shared secret has already been computed.");
        }

        _computed = true;
        Span<byte> secret = stackalloc byte[66];
        secret = secret[.._fieldBytes];
        try
        {
            DeriveRawSecret(peerPublic, secret);
            var writer = new SshWriter(encodedK);
            writer.WriteUnsignedMPInt(secret);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>
    /// The x-coordinate of the shared point, <see cref="SecretLength"/> bytes big-endian with leading zeros kept
    /// (SEC1 3.3.1), after validating the peer's point.
    /// </summary>
    /// <param name="peerPublic">The peer's uncompressed point.</param>
    /// <param name="secret">Receives <see cref="SecretLength"/> bytes.</param>
    public void DeriveRawSecret(ReadOnlySpan<byte> peerPublic, Span<byte> secret)
    {
        ThrowIfDisposed();

        // RFC 5656 §4: the recipient must validate the point (SEC1 3.2.2.1); only the uncompressed form is used.
        if (peerPublic.Length != _public.Length || peerPublic[0] != 0x04)
        {
            throw Fail($"The peer's ECDH public key is not an uncompressed point of {_public.Length} bytes.");
        }

        byte[]? raw = null;
        try
        {
            var peerParameters = new ECParameters
            {
                Curve = _curve,
                Q = new ECPoint
                {
                    X = peerPublic.Slice(1, _fieldBytes).ToArray(),
                    Y = peerPublic.Slice(1 + _fieldBytes, _fieldBytes).ToArray(),
                },
            };

            // Importing checks that the point lies on the curve (and is not the point at infinity).
            using var peerKey = ECDiffieHellman.Create(peerParameters);
            raw = _key.DeriveRawSecretAgreement(peerKey.PublicKey);
            raw.CopyTo(secret[(_fieldBytes - raw.Length)..]);
            secret[..(_fieldBytes - raw.Length)].Clear();
        }
        catch (CryptographicException e)
        {
            throw Fail("The peer's ECDH public key is not a valid point on the curve.", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _key.Dispose();
        }
    }
}
