namespace Ssh.Transport;

/// <summary>The kinds of algorithm a KEXINIT negotiates (RFC 4253 §7.1).</summary>
public enum SshAlgorithmCategory
{
    /// <summary>Key-exchange methods, e.g. "mlkem768x25519-sha256".</summary>
    KeyExchange,

    /// <summary>Host-key signature algorithms, e.g. "ssh-ed25519".</summary>
    HostKey,

    /// <summary>Ciphers, e.g. "aes128-gcm@openssh.com".</summary>
    Cipher,

    /// <summary>MACs, e.g. "hmac-sha2-256-etm@openssh.com".</summary>
    Mac,

    /// <summary>Compression methods: "none", "zlib", "zlib@openssh.com".</summary>
    Compression,
}
