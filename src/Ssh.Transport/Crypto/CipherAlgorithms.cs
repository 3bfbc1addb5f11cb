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
            (k, iv, mac, macKey) => CipherMacProtection.CreateSealer(kind, k, iv, RequireMac(mac, name).Kind, macKey, mac!.IsEtm),
            (k, iv, mac, macKey) => CipherMacProtection.CreateOpener(kind, k, iv, RequireMac(mac, name).Kind, macKey, mac!.IsEtm));

    private static MacAlgorithm RequireMac(MacAlgorithm? mac, string cipher) =>
        mac ?? throw new InvalidOperationException($"{cipher} needs a MAC.");
}

/// <summary>A MAC algorithm as negotiated in KEXINIT (RFC 4253 §6.4, RFC 6668, OpenSSH's -etm variants).</summary>
internal sealed class MacAlgorithm
{
    private MacAlgorithm(string name, SshMacKind kind, int keySize, bool isEtm, bool isLegacy)
    {
        Name = name;
        Kind = kind;
        KeySize = keySize;
        IsEtm = isEtm;
        IsLegacy = isLegacy;
    }

    public string Name { get; }

    public SshMacKind Kind { get; }

    /// <summary>Bytes of MAC key (letters E/F).</summary>
    public int KeySize { get; }

    /// <summary>Encrypt-then-MAC (*-etm@openssh.com).</summary>
    public bool IsEtm { get; }

    /// <summary>Off by default (SHA-1): available only when named in the options.</summary>
    public bool IsLegacy { get; }

    public static IReadOnlyList<MacAlgorithm> All { get; } =
    [
        new("hmac-sha2-256-etm@openssh.com", SshMacKind.HmacSha256, 32, isEtm: true, isLegacy: false),
        new("hmac-sha2-512-etm@openssh.com", SshMacKind.HmacSha512, 64, isEtm: true, isLegacy: false),
        new("hmac-sha2-256", SshMacKind.HmacSha256, 32, isEtm: false, isLegacy: false),
        new("hmac-sha2-512", SshMacKind.HmacSha512, 64, isEtm: false, isLegacy: false),
        new("hmac-sha1-etm@openssh.com", SshMacKind.HmacSha1, 20, isEtm: true, isLegacy: true),
        new("hmac-sha1", SshMacKind.HmacSha1, 20, isEtm: false, isLegacy: true),
    ];

    /// <summary>The default preference: EtM first; no SHA-1.</summary>
    public static IReadOnlyList<string> DefaultOrder { get; } =
        ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512"];

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
}
