using Ssh.Transport.Compression;
using Ssh.Transport.Crypto;

namespace Ssh.Transport;

/// <summary>Key installation by name, for callers that run their own key exchange over a bare packetizer.</summary>
public sealed partial class SshPacketizer
{
    /// <summary>
    /// Returns how many bytes of key, IV and MAC key one direction of a cipher suite takes: the lengths to derive
    /// (RFC 4253 §7.2) before calling <see cref="SetInboundKeys"/> or <see cref="SetOutboundKeys"/>.
    /// </summary>
    /// <param name="cipher">The cipher's SSH name, e.g. "aes256-gcm@openssh.com" or "aes128-ctr".</param>
    /// <param name="mac">
    /// The MAC's SSH name, e.g. "hmac-sha2-256-etm@openssh.com". Required for a cipher that is not AEAD; ignored for an
    /// AEAD cipher (null, "none" or any supported MAC name).
    /// </param>
    /// <returns>The lengths; <see cref="SshKeySizes.MacKeyLength"/> is 0 for an AEAD cipher.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="cipher"/> is null.</exception>
    /// <exception cref="ArgumentException">A name is not supported, or a cipher that is not AEAD has no MAC.</exception>
    public static SshKeySizes GetKeySizes(string cipher, string? mac)
    {
        (CipherAlgorithm c, MacAlgorithm? m) = FindSuite(cipher, mac);
        return new SshKeySizes(c.KeySize, c.IvSize, m?.KeySize ?? 0);
    }

    /// <summary>
    /// Prepares the keys the peer's next SSH_MSG_NEWKEYS switches the inbound direction to (the set_inbound_cipher
    /// of paramiko's Packetizer). Packets read before that NEWKEYS, and the NEWKEYS itself, are still opened with the
    /// keys in use; every packet after it with these. Calling it again before that NEWKEYS replaces the keys prepared
    /// earlier, which are zeroed.
    /// </summary>
    /// <remarks>
    /// <para>
    /// For a client the inbound keys are the server-to-client ones (RFC 4253 §7.2 letters B, D, F); for a server the
    /// client-to-server ones (A, C, E). The key material is copied into the new protection, which zeroes it when it
    /// is replaced or the packetizer is disposed; the caller's spans may be wiped as soon as this returns.
    /// </para>
    /// <para>
    /// When <see cref="StrictKex"/> is true as the NEWKEYS is read, the inbound sequence number also restarts at 0
    /// there (kex-strict-*-v00@openssh.com); set it before that NEWKEYS arrives. A NEWKEYS read with no keys prepared
    /// fails the read with <see cref="SshProtocolException"/>.
    /// </para>
    /// <para>
    /// Call it between reads, never while a <see cref="ReadPacketAsync"/> is in progress, and not on the packetizer
    /// of an <see cref="SshTransport"/>, whose key exchange installs its own keys.
    /// </para>
    /// </remarks>
    /// <param name="cipher">The cipher's SSH name, e.g. "chacha20-poly1305@openssh.com" or "aes128-ctr".</param>
    /// <param name="mac">The MAC's SSH name; required unless the cipher is AEAD, for which it is ignored (see <see cref="GetKeySizes"/>).</param>
    /// <param name="key">The cipher key, exactly <see cref="SshKeySizes.KeyLength"/> bytes.</param>
    /// <param name="iv">The initial IV, exactly <see cref="SshKeySizes.IVLength"/> bytes (empty for chacha20-poly1305@openssh.com).</param>
    /// <param name="macKey">The MAC key, exactly <see cref="SshKeySizes.MacKeyLength"/> bytes (empty for an AEAD cipher).</param>
    /// <param name="compression">
    /// "none", "zlib" (on from the NEWKEYS) or "zlib@openssh.com" (on once <see cref="EnableDelayedCompression"/> is
    /// called, or from the NEWKEYS if it already was).
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="cipher"/> or <paramref name="compression"/> is null.</exception>
    /// <exception cref="ArgumentException">A name is not supported, a cipher that is not AEAD has no MAC, or a key, IV or MAC key has the wrong length. Nothing is changed then.</exception>
    /// <exception cref="ObjectDisposedException">The packetizer was disposed.</exception>
    public void SetInboundKeys(string cipher, string? mac, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> macKey, string compression = CompressionMethods.None)
    {
        (CipherAlgorithm c, MacAlgorithm? m, CompressionMethod method) = Validate(cipher, mac, key, iv, macKey, compression);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        PacketOpener opener = c.CreateOpener(key, iv, m, macKey);
        try
        {
            SetPendingInbound(opener, method);
        }
        catch
        {
            opener.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Prepares the keys our next SSH_MSG_NEWKEYS switches the outbound direction to (the set_outbound_cipher of
    /// paramiko's Packetizer). Packets written before that NEWKEYS, and the NEWKEYS itself, are still sealed with the
    /// keys in use; every packet after it with these. Calling it again before that NEWKEYS replaces the keys prepared
    /// earlier, which are zeroed.
    /// </summary>
    /// <remarks>
    /// <para>
    /// For a client the outbound keys are the client-to-server ones (RFC 4253 §7.2 letters A, C, E); for a server the
    /// server-to-client ones (B, D, F). The key material is copied into the new protection, which zeroes it when it
    /// is replaced or the packetizer is disposed; the caller's spans may be wiped as soon as this returns.
    /// </para>
    /// <para>
    /// When <see cref="StrictKex"/> is true as the NEWKEYS is written, the outbound sequence number also restarts at
    /// 0 there (kex-strict-*-v00@openssh.com); set it before writing that NEWKEYS. Writing a NEWKEYS with no keys
    /// prepared fails with <see cref="InvalidOperationException"/> and sends nothing.
    /// </para>
    /// <para>
    /// Safe to call while other threads write: it waits for the packet being written. Which keys a concurrently
    /// written NEWKEYS switches to is then a race, so prepare the keys before writing the NEWKEYS. Not for the
    /// packetizer of an <see cref="SshTransport"/>, whose key exchange installs its own keys.
    /// </para>
    /// </remarks>
    /// <param name="cipher">The cipher's SSH name, e.g. "chacha20-poly1305@openssh.com" or "aes128-ctr".</param>
    /// <param name="mac">The MAC's SSH name; required unless the cipher is AEAD, for which it is ignored (see <see cref="GetKeySizes"/>).</param>
    /// <param name="key">The cipher key, exactly <see cref="SshKeySizes.KeyLength"/> bytes.</param>
    /// <param name="iv">The initial IV, exactly <see cref="SshKeySizes.IVLength"/> bytes (empty for chacha20-poly1305@openssh.com).</param>
    /// <param name="macKey">The MAC key, exactly <see cref="SshKeySizes.MacKeyLength"/> bytes (empty for an AEAD cipher).</param>
    /// <param name="compression">
    /// "none", "zlib" (on from the NEWKEYS) or "zlib@openssh.com" (on once <see cref="EnableDelayedCompression"/> is
    /// called, or from the NEWKEYS if it already was).
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="cipher"/> or <paramref name="compression"/> is null.</exception>
    /// <exception cref="ArgumentException">A name is not supported, a cipher that is not AEAD has no MAC, or a key, IV or MAC key has the wrong length. Nothing is changed then.</exception>
    /// <exception cref="ObjectDisposedException">The packetizer was disposed.</exception>
    public void SetOutboundKeys(string cipher, string? mac, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> macKey, string compression = CompressionMethods.None)
    {
        (CipherAlgorithm c, MacAlgorithm? m, CompressionMethod method) = Validate(cipher, mac, key, iv, macKey, compression);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        PacketSealer sealer = c.CreateSealer(key, iv, m, macKey);
        try
        {
            SetPendingOutbound(sealer, method);
        }
        catch
        {
            sealer.Dispose();
            throw;
        }
    }

    private static (CipherAlgorithm Cipher, MacAlgorithm? Mac, CompressionMethod Compression) Validate(
        string cipher, string? mac, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> macKey, string compression)
    {
        (CipherAlgorithm c, MacAlgorithm? m) = FindSuite(cipher, mac);
        ArgumentNullException.ThrowIfNull(compression);
        CompressionMethod method = CompressionMethods.Parse(compression)
            ?? throw new ArgumentException($"Unsupported compression '{compression}'; supported: {CompressionMethods.None}, {CompressionMethods.Zlib}, {CompressionMethods.ZlibDelayed}.", nameof(compression));
        ThrowIfWrongLength(key, c.KeySize, cipher, "key", nameof(key));
        ThrowIfWrongLength(iv, c.IvSize, cipher, "IV", nameof(iv));
        ThrowIfWrongLength(macKey, m?.KeySize ?? 0, m?.Name ?? cipher, "MAC key", nameof(macKey));
        return (c, m, method);
    }

    /// <summary>The cipher, and the MAC it uses (null for AEAD, whose MAC name is ignored once known to be valid).</summary>
    private static (CipherAlgorithm Cipher, MacAlgorithm? Mac) FindSuite(string cipher, string? mac)
    {
        ArgumentNullException.ThrowIfNull(cipher);
        CipherAlgorithm c = CipherAlgorithm.Find(cipher)
            ?? throw new ArgumentException($"Unsupported cipher '{cipher}'; supported: {string.Join(", ", CipherAlgorithm.All.Select(a => a.Name))}.", nameof(cipher));
        MacAlgorithm? m = null;
        if (mac is not null && mac != "none")
        {
            m = MacAlgorithm.Find(mac)
                ?? throw new ArgumentException($"Unsupported MAC '{mac}'; supported: {string.Join(", ", MacAlgorithm.All.Select(a => a.Name))}.", nameof(mac));
        }

        if (c.IsAead)
        {
            // OpenSSH PROTOCOL §1.6, RFC 5647 §5.1: an AEAD cipher authenticates itself; the negotiated MAC is unused.
            return (c, null);
        }

        return m is null
            ? throw new ArgumentException($"The cipher '{cipher}' is not AEAD and needs a MAC.", nameof(mac))
            : (c, m);
    }

    private static void ThrowIfWrongLength(ReadOnlySpan<byte> value, int expected, string algorithm, string what, string paramName)
    {
        if (value.Length != expected)
        {
            throw new ArgumentException(
                expected == 0
                    ? $"{algorithm} takes no {what}; {value.Length} bytes were given."
                    : $"{algorithm} takes a {expected}-byte {what}; {value.Length} bytes were given.",
                paramName);
        }
    }
}
