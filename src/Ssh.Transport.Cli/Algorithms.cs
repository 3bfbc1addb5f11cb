using System.CommandLine;

namespace Ssh.Transport.Cli;

/// <summary>
/// Checks --kex, --hostkey, --cipher, --mac and --compression against the library's <see cref="SshAlgorithmCatalog"/>,
/// and applies them to the options.
/// </summary>
internal static class Algorithms
{
    /// <summary>The options that take an algorithm LIST, the category each names, and its help.</summary>
    public static IReadOnlyList<(string Option, SshAlgorithmCategory Category, string Description)> ListOptions { get; } =
    [
        ("--kex", SshAlgorithmCategory.KeyExchange, "key exchange methods, comma-separated, in preference order"),
        ("--hostkey", SshAlgorithmCategory.HostKey, "host key signature algorithms"),
        ("--cipher", SshAlgorithmCategory.Cipher, "ciphers (both directions)"),
        ("--mac", SshAlgorithmCategory.Mac, "MACs (unused with AEAD ciphers)"),
        ("--compression", SshAlgorithmCategory.Compression, "none, zlib@openssh.com, zlib"),
    ];

    /// <summary>
    /// Parses a comma-separated LIST, in preference order (as OpenSSH's -o Ciphers= takes it), without duplicates.
    /// </summary>
    /// <returns>The names, or null with <paramref name="error"/> for an empty entry or a name the library does not implement.</returns>
    public static List<string>? ParseList(string option, string value, SshAlgorithmCategory category, out string? error)
    {
        error = null;
        var names = new List<string>();
        foreach (string raw in value.Split(','))
        {
            string name = raw.Trim();
            if (name.Length == 0)
            {
                error = $"{option} has an empty entry in '{value}'";
                return null;
            }

            if (!SshAlgorithmCatalog.IsSupported(category, name))
            {
                error = $"{option}: unknown algorithm '{name}'; supported: {string.Join(',', SshAlgorithmCatalog.GetSupported(category))}";
                return null;
            }

            if (!names.Contains(name, StringComparer.Ordinal))
            {
                names.Add(name);
            }
        }

        return names;
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
}

/// <summary>The five algorithm LIST options of a verb, checked as they are parsed.</summary>
internal sealed class AlgorithmOptions
{
    private readonly List<(Option<List<string>?> Option, SshAlgorithmCategory Category)> _options = [];

    /// <summary>Creates the options and adds them to <paramref name="command"/>.</summary>
    public AlgorithmOptions(Command command)
    {
        foreach ((string name, SshAlgorithmCategory category, string description) in Algorithms.ListOptions)
        {
            Option<List<string>?> option = CliOptions.Parsed<List<string>?>(name, null, "LIST", description, null, text =>
                (Algorithms.ParseList(name, text, category, out string? error), error));
            command.Options.Add(option);
            _options.Add((option, category));
        }
    }

    /// <summary>The lists given on the command line; the categories not given keep the defaults.</summary>
    public AlgorithmChoices Read(ParseResult result)
    {
        var lists = new Dictionary<SshAlgorithmCategory, IReadOnlyList<string>>();
        foreach ((Option<List<string>?> option, SshAlgorithmCategory category) in _options)
        {
            // Given on the command line, not the default (absent, a list option reads as an empty list).
            if (result.GetResult(option) is { Implicit: false } && result.GetValue(option) is { } names)
            {
                lists[category] = names;
            }
        }

        return new AlgorithmChoices(lists);
    }
}

/// <summary>The algorithm lists a command line chose, per category.</summary>
/// <param name="Lists">The categories given, each with its names in preference order.</param>
internal sealed record AlgorithmChoices(IReadOnlyDictionary<SshAlgorithmCategory, IReadOnlyList<string>> Lists)
{
    /// <summary>Replaces the lists of <paramref name="options"/> that were chosen; the others stay as they are.</summary>
    public void ApplyTo(SshTransportOptions options)
    {
        foreach ((SshAlgorithmCategory category, IReadOnlyList<string> names) in Lists)
        {
            IList<string> target = Algorithms.Target(options, category);
            target.Clear();
            foreach (string name in names)
            {
                target.Add(name);
            }
        }
    }
}
