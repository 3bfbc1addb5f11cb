namespace Ssh.Transport.Cli;

/// <summary>
/// Checks --kex, --hostkey, --cipher, --mac and --compression against the library's <see cref="SshAlgorithmCatalog"/>,
/// and applies them to the options.
/// </summary>
internal static class Algorithms
{
    /// <summary>The options that take an algorithm LIST, and the category each names.</summary>
    public static IReadOnlyList<(string Option, SshAlgorithmCategory Category)> ListOptions { get; } =
    [
        ("--kex", SshAlgorithmCategory.KeyExchange),
        ("--hostkey", SshAlgorithmCategory.HostKey),
        ("--cipher", SshAlgorithmCategory.Cipher),
        ("--mac", SshAlgorithmCategory.Mac),
        ("--compression", SshAlgorithmCategory.Compression),
    ];

    /// <summary>
    /// Parses a comma-separated LIST, in preference order (as OpenSSH's -o Ciphers= takes it).
    /// </summary>
    /// <exception cref="UsageException">An empty entry or a name the library does not implement.</exception>
    public static List<string> ParseList(string verb, string option, string value, SshAlgorithmCategory category)
    {
        var names = new List<string>();
        foreach (string raw in value.Split(','))
        {
            string name = raw.Trim();
            if (name.Length == 0)
            {
                throw new UsageException($"{verb}: {option} has an empty entry in '{value}'");
            }

            if (!SshAlgorithmCatalog.IsSupported(category, name))
            {
                throw new UsageException($"{verb}: {option}: unknown algorithm '{name}'; supported: {string.Join(',', SshAlgorithmCatalog.GetSupported(category))}");
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
        foreach ((string option, SshAlgorithmCategory category) in ListOptions)
        {
            Replace(Target(options, category), verb, option, args, category);
        }
    }

    /// <summary>The list of <paramref name="options"/> that holds <paramref name="category"/>.</summary>
    public static IList<string> Target(SshTransportOptions options, SshAlgorithmCategory category) => category switch
    {
        SshAlgorithmCategory.KeyExchange => options.KeyExchangeAlgorithms,
        SshAlgorithmCategory.HostKey => options.HostKeyAlgorithms,
        SshAlgorithmCategory.Cipher => options.Ciphers,
        SshAlgorithmCategory.Mac => options.Macs,
        SshAlgorithmCategory.Compression => options.CompressionAlgorithms,
        _ => throw new ArgumentOutOfRangeException(nameof(category), category, null),
    };

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

    private static void Replace(IList<string> target, string verb, string option, ParsedArguments args, SshAlgorithmCategory category)
    {
        string? value = args.Value(option);
        if (value is null)
        {
            return;
        }

        List<string> names = ParseList(verb, option, value, category);
        target.Clear();
        foreach (string name in names)
        {
            target.Add(name);
        }
    }
}
