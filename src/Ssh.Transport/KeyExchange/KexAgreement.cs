using System.Buffers;

namespace Ssh.Transport.KeyExchange;

/// <summary>
/// One side of one key exchange: a fresh ephemeral key, the value this side sends, and the shared secret K.
/// </summary>
/// <remarks>
/// Create one per exchange and dispose it as soon as K has been written: disposal zeroes the private key material
/// this object holds. <see cref="ComputeSharedSecret"/> may be called once.
/// </remarks>
internal abstract class KexAgreement : IDisposable
{
    private bool _disposed;

    /// <summary>
    /// What this side sends: client Q_C / e / C_INIT; server Q_S / f / S_REPLY. For the Ecdh family these are the raw
    /// bytes of an SSH "string"; for the DH families the unsigned big-endian magnitude of e or f (written with
    /// <see cref="SshWriter.WriteUnsignedMPInt"/>). A KEM server's reply exists only after
    /// <see cref="ComputeSharedSecret"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A KEM server has not seen the client's value yet.</exception>
    public abstract ReadOnlyMemory<byte> LocalPublic { get; }

    /// <summary>
    /// Validates the peer's value and writes K exactly as it enters the exchange hash and the key derivation, length
    /// prefix included (an mpint, or a string for the post-quantum hybrids).
    /// </summary>
    /// <param name="peerPublic">Ecdh family: the string's bytes as received; DH families: the magnitude from
    /// <see cref="SshReader.ReadUnsignedMPInt"/>.</param>
    /// <param name="encodedK">Receives the encoded K.</param>
    /// <exception cref="SshProtocolException">The peer's value is invalid
    /// (<see cref="SshDisconnectReason.KeyExchangeFailed"/>).</exception>
    /// <exception cref="InvalidOperationException">Called a second time.</exception>
    public abstract void ComputeSharedSecret(ReadOnlySpan<byte> peerPublic, IBufferWriter<byte> encodedK);

    /// <summary>True once <see cref="Dispose()"/> has run.</summary>
    protected bool IsDisposed => _disposed;

    /// <summary>Zeroes the secrets this agreement holds.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Dispose(true);
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Zeroes secrets and releases key objects.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected abstract void Dispose(bool disposing);

    /// <summary>Throws <see cref="ObjectDisposedException"/> after disposal.</summary>
    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>The exception for a bad value from the peer.</summary>
    /// <param name="message">What was wrong.</param>
    /// <param name="inner">The cause, if any.</param>
    internal static SshProtocolException Fail(string message, Exception? inner = null) =>
        new(SshDisconnectReason.KeyExchangeFailed, message, inner);
}
