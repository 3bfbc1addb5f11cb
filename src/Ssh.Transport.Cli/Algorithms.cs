namespace Ssh.Transport.Cli;

/// <summary>
/// The algorithm names the library implements, for checking --kex, --hostkey, --cipher, --mac and --compression.
/// </summary>
/// <remarks>
/// The library keeps its own tables internal and silently drops names it does not know from an options list, so the
/// tool names them here; a test negotiates every entry against the library so that the two cannot drift apart.
/// </remarks>
internal static class Algorithms
{
    public static IReadOnlyList<string> KeyExchange { get; } =
    [
        "mlkem768x25519-sha256", "sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com",
        "curve25519-sha256", "curve25519-sha256@libssh.org",
        "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
        "diffie-hellman-group-exchange-sha256",
        "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256",
        "diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1", "diffie-hellman-group-exchange-sha1",
    ];

    public static IReadOnlyList<string> HostKey { get; } =
    [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa",
    ];

    public static IReadOnlyList<string> Cipher { get; } =
    [
        "chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
        "aes128-ctr", "aes192-ctr", "aes256-ctr",
        "aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc",
    ];

    /// <summary>The ciphers that authenticate themselves; the negotiated MAC is not used with them.</summary>
    public static IReadOnlyList<string> AeadCipher { get; } =
        ["chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"];

    public static IReadOnlyList<string> Mac { get; } =
    [
        "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512",
        "hmac-sha1-etm@openssh.com", "hmac-sha1",
    ];

    public static IReadOnlyList<string> Compression { get; } = ["none", "zlib@openssh.com", "zlib"];

    /// <summary>The options that take an algorithm LIST, and what each accepts.</summary>
    public static IReadOnlyList<(string Option, IReadOnlyList<string> Supported)> ListOptions { get; } =
    [
        ("--kex", KeyExchange),
        ("--hostkey", HostKey),
        ("--cipher", Cipher),
        ("--mac", Mac),
        ("--compression", Compression),
    ];

    /// <summary>
    /// Parses a comma-separated LIST, in preference order (as OpenSSH's -o Ciphers= takes it).
    /// </summary>
    /// <exception cref="UsageException">An empty entry or a name the library does not implement.</exception>
    public static List<string> ParseList(string verb, string option, string value, IReadOnlyList<string> supported)
    {
        var names = new List<string>();
        foreach (string raw in value.Split(','))
        {
            string name = raw.Trim();
            if (name.Length == 0)
            {
                throw new UsageException($"{verb}: {option} has an empty entry in '{value}'");
            }

            if (!supported.Contains(name, StringComparer.Ordinal))
            {
                throw new UsageException($"{verb}: {option}: unknown algorithm '{name}'; supported: {string.Join(',', supported)}");
            }

            if (!names.Contains(name, StringComparer.Ordinal))
            {
                names.Add(name);
            }
        }

        return names;
    }

    /// <summary>Applies the LIST options that were given to <paramref name="options"/>, replacing its lists.</summary>
    public static void Apply(string verb, ParsedArguments args, SshTransportOptions options)
    {
        Replace(options.KeyExchangeAlgorithms, verb, "--kex", args, KeyExchange);
        Replace(options.HostKeyAlgorithms, verb, "--hostkey", args, HostKey);
        Replace(options.Ciphers, verb, "--cipher", args, Cipher);
        Replace(options.Macs, verb, "--mac", args, Mac);
        Replace(options.CompressionAlgorithms, verb, "--compression", args, Compression);
    }

    /// <summary>The label ssh-keygen -l prints in parentheses after a fingerprint.</summary>
    public static string KeyLabel(string keyType) => keyType switch
    {
        "ssh-ed25519" => "ED25519",
        "ssh-rsa" => "RSA",
        _ when keyType.StartsWith("ecdsa-", StringComparison.Ordinal) => "ECDSA",
        _ => keyType.ToUpperInvariant(),
    };

    /// <summary>A public key the way ssh-keygen -l shows it, without the comment: "256 SHA256:... (ED25519)".</summary>
    public static string Describe(SshPublicKey key) => $"{key.KeySize} {key.GetFingerprint()} ({KeyLabel(key.KeyType)})";

    private static void Replace(IList<string> target, string verb, string option, ParsedArguments args, IReadOnlyList<string> supported)
    {
        string? value = args.Value(option);
        if (value is null)
        {
            return;
        }

        List<string> names = ParseList(verb, option, value, supported);
        target.Clear();
        foreach (string name in names)
        {
            target.Add(name);
        }
    }
}
