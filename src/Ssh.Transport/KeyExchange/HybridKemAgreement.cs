using System.Buffers;
using System.Security.Cryptography;
using Org.BouncyCastle.Math.EC.Rfc7748;

namespace Ssh.Transport.KeyExchange;

/// <summary>
/// The post-quantum hybrids mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex) and sntrup761x25519-sha512
/// (draft-ietf-sshm-ntruprime-ssh): C_INIT = KEM public key || X25519 public key; S_REPLY = KEM ciphertext ||
/// X25519 public key; K = string(HASH(kem_secret || x25519_secret)).
/// </summary>
/// <remarks>
/// The server's reply depends on the client's key: a server calls <see cref="ComputeSharedSecret"/> first and only
/// then reads <see cref="LocalPublic"/>.
/// </remarks>
internal sealed class HybridKemAgreement : KexAgreement
{
    private readonly PostQuantumKem _kem;
    private readonly HashAlgorithmName _hash;
    private readonly bool _server;
    private readonly byte[] _x25519Private;
    private byte[]? _local;
    private bool _computed;

    private HybridKemAgreement(PostQuantumKem kem, HashAlgorithmName hash, bool server, byte[] x25519Private)
    {
        _kem = kem;
        _hash = hash;
        _server = server;
        _x25519Private = x25519Private;
        if (!server)
        {
            // Client: C_INIT = KEM public key || X25519 public key.
            byte[] local = new byte[kem.PublicKeyLength + Curve25519Agreement.KeySize];
            kem.GenerateKeyPair(local.AsSpan(0, kem.PublicKeyLength));
            X25519.GeneratePublicKey(x25519Private, local.AsSpan(kem.PublicKeyLength));
            _local = local;
        }
    }

    /// <summary>Creates one side of a hybrid exchange.</summary>
    /// <param name="kemFactory">Makes the KEM.</param>
    /// <param name="hash">SHA-256 for ML-KEM, SHA-512 for sntrup761.</param>
    /// <param name="server">True for the server.</param>
    /// <param name="x25519Private">A fixed X25519 private key (known-answer tests only), or null for a fresh one.</param>
    internal static HybridKemAgreement Create(Func<PostQuantumKem> kemFactory, HashAlgorithmName hash, bool server, ReadOnlySpan<byte> x25519Private)
    {
        if (!x25519Private.IsEmpty && x25519Private.Length != Curve25519Agreement.KeySize)
        {
            throw new ArgumentOutOfRangeException(nameof(x25519Private), "An X25519 private key is 32 bytes.");
        }

        byte[] privateKey = x25519Private.IsEmpty ? Curve25519Agreement.NewPrivateKey() : x25519Private.ToArray();
        PostQuantumKem kem = kemFactory();
        try
        {
            return new HybridKemAgreement(kem, hash, server, privateKey);
        }
        catch
        {
            kem.Dispose();
            CryptographicOperations.ZeroMemory(privateKey);
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
        if (peerPublic.Length != kemLength + Curve25519Agreement.KeySize)
        {
            throw Fail($"The peer's hybrid key exchange value is {peerPublic.Length} bytes, not {kemLength + Curve25519Agreement.KeySize}.");
        }

        // material = kem_secret || x25519_secret; K = string(HASH(material)).
        Span<byte> material = stackalloc byte[PostQuantumKem.SecretLength + Curve25519Agreement.KeySize];
        Span<byte> digest = stackalloc byte[64];
        try
        {
            Curve25519Agreement.Agree(_x25519Private, peerPublic[kemLength..], material[PostQuantumKem.SecretLength..]);
            byte[]? reply = null;
            if (_server)
            {
                reply = new byte[_kem.CiphertextLength + Curve25519Agreement.KeySize];
                _kem.Encapsulate(peerPublic[..kemLength], reply.AsSpan(0, _kem.CiphertextLength), material[..PostQuantumKem.SecretLength]);
                X25519.GeneratePublicKey(_x25519Private, reply.AsSpan(_kem.CiphertextLength));
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
            CryptographicOperations.ZeroMemory(material);
            CryptographicOperations.ZeroMemory(digest);
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        CryptographicOperations.ZeroMemory(_x25519Private);
        if (disposing)
        {
            _kem.Dispose();
        }
    }
}
