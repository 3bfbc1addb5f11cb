namespace Ssh.Transport.KeyExchange;

/// <summary>
/// The classical half of a post-quantum hybrid: an elliptic-curve Diffie-Hellman whose shared secret is used raw
/// (fixed length, not an mpint) as the second input of the hybrid's hash (draft-ietf-sshm-mlkem-hybrid-kex §2.2).
/// </summary>
internal interface IRawKeyAgreement : IDisposable
{
    /// <summary>This side's public value: an X25519 key, or an uncompressed NIST point (SEC1 2.3.3).</summary>
    ReadOnlyMemory<byte> LocalPublic { get; }

    /// <summary>The size of the raw shared secret: 32 for X25519 and P-256.</summary>
    int SecretLength { get; }

    /// <summary>Validates the peer's public value and writes the raw shared secret.</summary>
    /// <param name="peerPublic">The peer's public value.</param>
    /// <param name="secret">Receives <see cref="SecretLength"/> bytes.</param>
    /// <exception cref="SshProtocolException">The peer's value is invalid (<see cref="SshDisconnectReason.KeyExchangeFailed"/>).</exception>
    void DeriveRawSecret(ReadOnlySpan<byte> peerPublic, Span<byte> secret);
}
