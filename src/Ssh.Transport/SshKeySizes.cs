namespace Ssh.Transport;

/// <summary>
/// How many bytes of key material one direction of a cipher suite takes, as derived by the key exchange
/// (RFC 4253 §7.2); see <see cref="SshPacketizer.GetKeySizes"/>.
/// </summary>
public readonly struct SshKeySizes
{
    internal SshKeySizes(int keyLength, int ivLength, int macKeyLength)
    {
        KeyLength = keyLength;
        IVLength = ivLength;
        MacKeyLength = macKeyLength;
    }

    /// <summary>Bytes of cipher key (RFC 4253 §7.2 letter C for client to server, D for server to client).</summary>
    public int KeyLength { get; }

    /// <summary>Bytes of initial IV (letter A or B); 0 when the cipher takes none (chacha20-poly1305@openssh.com).</summary>
    public int IVLength { get; }

    /// <summary>Bytes of MAC key (letter E or F); 0 for an AEAD cipher, which uses no MAC.</summary>
    public int MacKeyLength { get; }
}
