using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Crypto;

/// <summary>Creates one direction's protection from derived key material.</summary>
internal delegate TProtection ProtectionFactory<out TProtection>(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, MacAlgorithm? mac, ReadOnlySpan<byte> macKey)
    where TProtection : PacketProtection;

/// <summary>An encryption algorithm as negotiated in KEXINIT: its sizes and how to build it (RFC 4253 §6.3).</summary>
internal sealed class CipherAlgorithm
{
    private CipherAlgorithm(string name, int keySize, int ivSize, int blockSize, bool isAead, bool isLegacy, ProtectionFactory<PacketSealer> sealer, ProtectionFactory<PacketOpener> opener)
    {
        Name = name;
        KeySize = keySize;
        IvSize = ivSize;
        BlockSize = blockSize;
        IsAead = isAead;
        IsLegacy = isLegacy;
        CreateSealer = sealer;
        CreateOpener = opener;
    }

    public string Name { get; }

    /// <summary>Bytes of key material (letters C/D).</summary>
    public int KeySize { get; }

    /// <summary>Bytes of IV material (letters A/B); 0 when the construction takes none.</summary>
    public int IvSize { get; }

    public int BlockSize { get; }

    /// <summary>True when the cipher authenticates itself: the negotiated MAC is not used.</summary>
    public bool IsAead { get; }

    /// <summary>Off by default (CBC, 3DES): available only when named in the options.</summary>
    public bool IsLegacy { get; }

    public ProtectionFactory<PacketSealer> CreateSealer { get; }

    public ProtectionFactory<PacketOpener> CreateOpener { get; }

    public static IReadOnlyList<CipherAlgorithm> All { get; } =
    [
        new("chacha20-poly1305@openssh.com", 64, 0, 8, isAead: true, isLegacy: false,
            (k, _, _, _) => ChaChaPolyProtection.CreateSealer(k), (k, _, _, _) => ChaChaPolyProtection.CreateOpener(k)),
        new("aes128-gcm@openssh.com", 16, 12, 16, isAead: true, isLegacy: false,
            (k, iv, _, _) => AesGcmProtection.CreateSealer(k, iv), (k, iv, _, _) => AesGcmProtection.CreateOpener(k, iv)),
        new("aes256-gcm@openssh.com", 32, 12, 16, isAead: true, isLegacy: false,
            (k, iv, _, _) => AesGcmProtection.CreateSealer(k, iv), (k, iv, _, _) => AesGcmProtection.CreateOpener(k, iv)),
        WithMac("aes128-ctr", 16, 16, 16, SshCipherKind.AesCtr, isLegacy: false),
        WithMac("aes192-ctr", 24, 16, 16, SshCipherKind.AesCtr, isLegacy: false),
        WithMac("aes256-ctr", 32, 16, 16, SshCipherKind.AesCtr, isLegacy: false),
        WithMac("aes128-cbc", 16, 16, 16, SshCipherKind.AesCbc, isLegacy: true),
        WithMac("aes192-cbc", 24, 16, 16, SshCipherKind.AesCbc, isLegacy: true),
        WithMac("aes256-cbc", 32, 16, 16, SshCipherKind.AesCbc, isLegacy: true),
        WithMac("3des-cbc", 24, 8, 8, SshCipherKind.TripleDesCbc, isLegacy: true),
    ];

    /// <summary>The default preference: AEAD first, then CTR; no CBC or 3DES.</summary>
    public static IReadOnlyList<string> DefaultOrder { get; } =
    [
        "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
        "aes128-ctr", "aes192-ctr", "aes256-ctr",
    ];

    public static CipherAlgorithm? Find(string name)
    {
        foreach (CipherAlgorithm algorithm in All)
        {
            if (algorithm.Name == name)
            {
                return algorithm;
            }
        }

        return null;
    }

    private static CipherAlgorithm WithMac(string name, int keySize, int ivSize, int blockSize, SshCipherKind kind, bool isLegacy) =>
        new(name, keySize, ivSize, blockSize, isAead: false, isLegacy,
            (k, iv, mac, macKey) => CipherMacProtection.CreateSealer(kind, k, iv, RequireMac(mac, name), macKey),
            (k, iv, mac, macKey) => CipherMacProtection.CreateOpener(kind, k, iv, RequireMac(mac, name), macKey));

    private static MacAlgorithm RequireMac(MacAlgorithm? mac, string cipher) =>
        mac ?? throw new InvalidOperationException($"{cipher} needs a MAC.");
}

/// <summary>Creates one direction's MAC from its derived key (letters E/F).</summary>
internal delegate SshMac MacFactory(ReadOnlySpan<byte> key);

/// <summary>
/// A MAC algorithm as negotiated in KEXINIT (RFC 4253 §6.4, RFC 6668, OpenSSH's -etm variants and UMAC, RFC 4418 as
/// OpenSSH's mac.c uses it).
/// </summary>
internal sealed class MacAlgorithm
{
    private MacAlgorithm(string name, int keySize, int tagSize, bool isEtm, bool isLegacy, MacFactory create)
    {
        Name = name;
        KeySize = keySize;
        TagSize = tagSize;
        IsEtm = isEtm;
        IsLegacy = isLegacy;
        CreateMac = create;
    }

    public string Name { get; }

    /// <summary>Bytes of MAC key (letters E/F).</summary>
    public int KeySize { get; }

    /// <summary>Bytes of tag after each packet.</summary>
    public int TagSize { get; }

    /// <summary>Encrypt-then-MAC (*-etm@openssh.com).</summary>
    public bool IsEtm { get; }

    /// <summary>Off by default (SHA-1): available only when named in the options.</summary>
    public bool IsLegacy { get; }

    /// <summary>Builds the MAC from a <see cref="KeySize"/>-byte key.</summary>
    public MacFactory CreateMac { get; }

    public static IReadOnlyList<MacAlgorithm> All { get; } =
    [
        WithHmac("hmac-sha2-256-etm@openssh.com", SshMacKind.HmacSha256, isEtm: true, isLegacy: false),
        WithHmac("hmac-sha2-512-etm@openssh.com", SshMacKind.HmacSha512, isEtm: true, isLegacy: false),
        WithUmac("umac-128-etm@openssh.com", 16, isEtm: true),
        WithUmac("umac-64-etm@openssh.com", 8, isEtm: true),
        WithHmac("hmac-sha2-256", SshMacKind.HmacSha256, isEtm: false, isLegacy: false),
        WithHmac("hmac-sha2-512", SshMacKind.HmacSha512, isEtm: false, isLegacy: false),
        WithUmac("umac-128@openssh.com", 16, isEtm: false),
        WithUmac("umac-64@openssh.com", 8, isEtm: false),
        WithHmac("hmac-sha1-etm@openssh.com", SshMacKind.HmacSha1, isEtm: true, isLegacy: true),
        WithHmac("hmac-sha1", SshMacKind.HmacSha1, isEtm: false, isLegacy: true),
    ];

    /// <summary>
    /// The default preference: EtM first; no SHA-1. Within each form the SHA-2 HMACs come first (our client keeps
    /// choosing hmac-sha2-256-etm), then umac-128: every default tag is at least 128 bits. umac-64 (a 64-bit tag,
    /// OpenSSH's first choice) is supported, not legacy, and offered only when named. As a server the client's order
    /// decides (RFC 4253 §7.1), so an OpenSSH client gets umac-128-etm, its first choice among ours.
    /// </summary>
    public static IReadOnlyList<string> DefaultOrder { get; } =
    [
        "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "umac-128-etm@openssh.com",
        "hmac-sha2-256", "hmac-sha2-512", "umac-128@openssh.com",
    ];

    public static MacAlgorithm? Find(string name)
    {
        foreach (MacAlgorithm algorithm in All)
        {
            if (algorithm.Name == name)
            {
                return algorithm;
            }
        }

        return null;
    }

    private static MacAlgorithm WithHmac(string name, SshMacKind kind, bool isEtm, bool isLegacy)
    {
        int size = SshHmac.KeySize(kind);
        return new(name, size, size, isEtm, isLegacy, key => new SshHmac(kind, key));
    }

    /// <summary>UMAC with AES-128: a 16-byte key (OpenSSH mac.c: key_len 128 bits).</summary>
    private static MacAlgorithm WithUmac(string name, int tagSize, bool isEtm) =>
        new(name, Umac.KeyLength, tagSize, isEtm, isLegacy: false, key => new Umac(key, tagSize));
}
