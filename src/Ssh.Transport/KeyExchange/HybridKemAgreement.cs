using System.Buffers;
using System.Security.Cryptography;

namespace Ssh.Transport.KeyExchange;

/// <summary>
/// The post-quantum hybrids: a KEM combined with a classical ECDH. mlkem768x25519-sha256 and mlkem768nistp256-sha256
/// (draft-ietf-sshm-mlkem-hybrid-kex; OpenSSH's kexmlkem768x25519.c, kexmlkem768ecdh.c) and sntrup761x25519-sha512
/// (draft-ietf-sshm-ntruprime-ssh): C_INIT = KEM public key || client ECDH public value; S_REPLY = KEM ciphertext ||
/// server ECDH public value; K = string(HASH(kem_secret || ecdh_secret)), the ECDH secret raw (X25519 output, or
/// the P-256 x-coordinate as 32 bytes). Both values are strings on the wire and in the exchange hash.
/// </summary>
/// <remarks>
/// The server's reply depends on the client's key: a server calls <see cref="ComputeSharedSecret"/> first and only
/// then reads <see cref="LocalPublic"/>.
/// </remarks>
internal sealed class HybridKemAgreement : KexAgreement
{
    /// <summary>The largest raw ECDH secret a hybrid uses (X25519 and P-256 both give 32 bytes).</summary>
    private const int MaxClassicalSecret = 32;

    private readonly PostQuantumKem _kem;
    private readonly IRawKeyAgreement _classical;
    private readonly HashAlgorithmName _hash;
    private readonly bool _server;
    private byte[]? _local;
    private bool _computed;

    private HybridKemAgreement(PostQuantumKem kem, IRawKeyAgreement classical, HashAlgorithmName hash, bool server)
    {
        _kem = kem;
        _classical = classical;
        _hash = hash;
        _server = server;
        if (!server)
        {
            // Client: C_INIT = KEM public key || ECDH public value.
            byte[] local = new byte[kem.PublicKeyLength + classical.LocalPublic.Length];
            kem.GenerateKeyPair(local.AsSpan(0, kem.PublicKeyLength));
            classical.LocalPublic.Span.CopyTo(local.AsSpan(kem.PublicKeyLength));
            _local = local;
        }
    }

    /// <summary>Creates one side of a hybrid exchange; the agreement owns (and disposes) both halves.</summary>
    /// <param name="kemFactory">Makes the KEM.</param>
    /// <param name="classicalFactory">Makes the ECDH half (a fresh key, or a fixed one for known-answer tests).</param>
    /// <param name="hash">SHA-256 for ML-KEM, SHA-512 for sntrup761.</param>
    /// <param name="server">True for the server.</param>
    internal static HybridKemAgreement Create(Func<PostQuantumKem> kemFactory, Func<IRawKeyAgreement> classicalFactory, HashAlgorithmName hash, bool server)
    {
        IRawKeyAgreement classical = classicalFactory();
        PostQuantumKem? kem = null;
        try
        {
            if (classical.SecretLength > MaxClassicalSecret)
            {
                throw new ArgumentOutOfRangeException(nameof(classicalFactory), "A hybrid's ECDH secret is at most 32 bytes.");
            }

            kem = kemFactory();
            return new HybridKemAgreement(kem, classical, hash, server);
        }
        catch
        {
            kem?.Dispose();
            classical.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public override ReadOnlyMemory<byte> LocalPublic =>
        _local ?? throw new InvalidOperationException("The server's reply exists only after ComputeSharedSecret (encapsulation).");

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
        int kemLength = _server ? _kem.PublicKeyLength : _kem.CiphertextLength;
        int expected = kemLength + _classical.LocalPublic.Length;
        if (peerPublic.Length != expected)
        {
            throw Fail($"The peer's hybrid key exchange value is {peerPublic.Length} bytes, not {expected}.");
        }

        // material = kem_secret || ecdh_secret; K = string(HASH(material)).
        int classicalLength = _classical.SecretLength;
        Span<byte> buffer = stackalloc byte[PostQuantumKem.SecretLength + MaxClassicalSecret];
        Span<byte> material = buffer[..(PostQuantumKem.SecretLength + classicalLength)];
        Span<byte> digest = stackalloc byte[64];
        try
        {
            _classical.DeriveRawSecret(peerPublic[kemLength..], material[PostQuantumKem.SecretLength..]);
            byte[]? reply = null;
            if (_server)
            {
                reply = new byte[_kem.CiphertextLength + _classical.LocalPublic.Length];
                _kem.Encapsulate(peerPublic[..kemLength], reply.AsSpan(0, _kem.CiphertextLength), material[..PostQuantumKem.SecretLength]);
                _classical.LocalPublic.Span.CopyTo(reply.AsSpan(_kem.CiphertextLength));
            }
            else
            {
                _kem.Decapsulate(peerPublic[..kemLength], material[..PostQuantumKem.SecretLength]);
            }

            int digestLength = CryptographicOperations.HashData(_hash, material, digest);
            var writer = new SshWriter(encodedK);
            writer.WriteString(digest[..digestLength]);
            if (reply is not null)
            {
                _local = reply;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
            CryptographicOperations.ZeroMemory(digest);
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _classical.Dispose();
            _kem.Dispose();
        }
    }
}
