using Ssh.Transport.Crypto;
using Ssh.Transport.HostKeys;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport;

/// <summary>
/// Decides whether a server's host key is trusted (the client's half of RFC 4253 §8's host authentication).
/// </summary>
/// <param name="hostKey">The key the server proved it holds.</param>
/// <param name="cancellationToken">Cancels the decision.</param>
/// <returns>True to trust the key and go on; false to disconnect with HostKeyNotVerifiable.</returns>
public delegate ValueTask<bool> SshHostKeyVerifier(SshPublicKey hostKey, CancellationToken cancellationToken);

/// <summary>
/// Settings shared by both roles of an <see cref="SshTransport"/>: algorithm preferences, timeouts, limits.
/// </summary>
public abstract class SshTransportOptions
{
    /// <summary>The RFC 4253 §6.5 service names of the user-authentication protocol.</summary>
    public const string UserAuthService = "ssh-userauth";

    private protected SshTransportOptions()
    {
    }

    /// <summary>Key-exchange methods in order of preference. Default: post-quantum hybrids, then curve25519, ECDH and DH; no SHA-1.</summary>
    public IList<string> KeyExchangeAlgorithms { get; } = [.. KexAlgorithm.DefaultOrder];

    /// <summary>Host-key signature algorithms in order of preference. Default: ed25519, ECDSA, RSA with SHA-2; no ssh-rsa (SHA-1).</summary>
    public IList<string> HostKeyAlgorithms { get; } = [.. SshHostKeyAlgorithms.Default];

    /// <summary>Ciphers in order of preference, for both directions. Default: AEAD first, then CTR; no CBC or 3DES.</summary>
    public IList<string> Ciphers { get; } = [.. CipherAlgorithm.DefaultOrder];

    /// <summary>MACs in order of preference (not used with AEAD ciphers). Default: SHA-2, EtM first; no SHA-1.</summary>
    public IList<string> Macs { get; } = [.. MacAlgorithm.DefaultOrder];

    /// <summary>Compression methods in order of preference: "none", "zlib", "zlib@openssh.com".</summary>
    public IList<string> CompressionAlgorithms { get; } = ["none"];

    /// <summary>How long the identification exchange and the first key exchange may take. Default 60 seconds.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Send SSH_MSG_IGNORE after this long without traffic. Default: off.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>The longest name-list accepted in a KEXINIT or EXT_INFO. Default 8 KiB.</summary>
    public int MaxNameListLength { get; set; } = SshNameList.DefaultMaxLength;

    /// <summary>Packet limits, rekey limits, identification, clock and logger.</summary>
    public SshPacketizerOptions Packetizer { get; set; } = new();
}

/// <summary>Settings of the client role.</summary>
public sealed class SshClientOptions : SshTransportOptions
{
    /// <summary>Decides whether the server's host key is trusted; required. See <see cref="KnownHostsVerifier"/>.</summary>
    public SshHostKeyVerifier? HostKeyVerifier { get; set; }
}

/// <summary>Settings of the server role.</summary>
public sealed class SshServerOptions : SshTransportOptions
{
    /// <summary>Creates server settings; the server also offers zlib@openssh.com compression by default, as OpenSSH does.</summary>
    public SshServerOptions()
    {
        CompressionAlgorithms.Add("zlib@openssh.com");
    }

    /// <summary>The host keys to prove our identity with; at least one.</summary>
    public IList<SshPrivateKey> HostKeys { get; } = [];

    /// <summary>Services the client may request (RFC 4253 §10). Default: ssh-userauth.</summary>
    public IList<string> Services { get; } = [UserAuthService];

    /// <summary>
    /// The server-sig-algs extension sent to clients that ask for extension info (RFC 8308 §3.1): the public-key
    /// signature algorithms the user-authentication layer accepts.
    /// </summary>
    public IList<string> ServerSignatureAlgorithms { get; } =
        ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256"];
}

/// <summary>The algorithms a key exchange agreed on (RFC 4253 §7.1).</summary>
public sealed class SshAlgorithms
{
    internal SshAlgorithms(NegotiatedAlgorithms n)
    {
        KeyExchange = n.KeyExchange;
        HostKey = n.HostKey;
        CipherClientToServer = n.CipherClientToServer;
        CipherServerToClient = n.CipherServerToClient;
        MacClientToServer = n.MacClientToServer;
        MacServerToClient = n.MacServerToClient;
        CompressionClientToServer = n.CompressionClientToServer;
        CompressionServerToClient = n.CompressionServerToClient;
    }

    /// <summary>The key-exchange method.</summary>
    public string KeyExchange { get; }

    /// <summary>The host-key signature algorithm.</summary>
    public string HostKey { get; }

    /// <summary>The cipher from client to server.</summary>
    public string CipherClientToServer { get; }

    /// <summary>The cipher from server to client.</summary>
    public string CipherServerToClient { get; }

    /// <summary>The MAC from client to server; null when the cipher is AEAD.</summary>
    public string? MacClientToServer { get; }

    /// <summary>The MAC from server to client; null when the cipher is AEAD.</summary>
    public string? MacServerToClient { get; }

    /// <summary>The compression from client to server.</summary>
    public string CompressionClientToServer { get; }

    /// <summary>The compression from server to client.</summary>
    public string CompressionServerToClient { get; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"kex {KeyExchange}, host key {HostKey}, c2s {CipherClientToServer}/{MacClientToServer ?? "aead"}/{CompressionClientToServer}, s2c {CipherServerToClient}/{MacServerToClient ?? "aead"}/{CompressionServerToClient}";
}
