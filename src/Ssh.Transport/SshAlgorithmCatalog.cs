using System.Collections.ObjectModel;
using Ssh.Transport.Compression;
using Ssh.Transport.Crypto;
using Ssh.Transport.HostKeys;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport;

/// <summary>
/// The algorithm names this library implements, by category: what an options list may name, what it offers when
/// left alone, and which names are legacy (weak, offered only when named explicitly).
/// </summary>
/// <remarks>
/// Names are case-sensitive, as they are on the wire (RFC 4251 §6). The signals a transport adds to its first
/// KEXINIT by itself ("ext-info-c", "kex-strict-c-v00@openssh.com" and their server twins) are not algorithms and
/// are not listed. <see cref="SshAlgorithmCategory.HostKey"/> lists signature algorithms: one RSA key signs as
/// "rsa-sha2-512", "rsa-sha2-256" or, when named, "ssh-rsa" (SHA-1).
/// </remarks>
public static class SshAlgorithmCatalog
{
    // Indexed by SshAlgorithmCategory; every list comes from the table the transport itself negotiates with.
    private static readonly ReadOnlyCollection<string>[] s_supported =
    [
        Freeze(KexAlgorithm.All.Select(a => a.Name)),
        Freeze(SshHostKeyAlgorithms.All),
        Freeze(CipherAlgorithm.All.Select(a => a.Name)),
        Freeze(MacAlgorithm.All.Select(a => a.Name)),
        Freeze(CompressionMethods.All),
    ];

    private static readonly ReadOnlyCollection<string>[] s_defaults =
    [
        Freeze(KexAlgorithm.DefaultOrder),
        Freeze(SshHostKeyAlgorithms.Default),
        Freeze(CipherAlgorithm.DefaultOrder),
        Freeze(MacAlgorithm.DefaultOrder),
        Freeze(CompressionMethods.Default),
    ];

    /// <summary>Every name of <paramref name="category"/> this library implements, legacy ones included.</summary>
    /// <param name="category">The kind of algorithm.</param>
    /// <returns>A read-only list: the strongest first as a rule, legacy names last.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="category"/> is not a defined category.</exception>
    public static IReadOnlyList<string> GetSupported(SshAlgorithmCategory category) => s_supported[Index(category)];

    /// <summary>
    /// The names of <paramref name="category"/> that new options offer, in order of preference; never a legacy
    /// name.
    /// </summary>
    /// <param name="category">The kind of algorithm.</param>
    /// <returns>
    /// A read-only list. For <see cref="SshAlgorithmCategory.Compression"/> it is a client's default, "none";
    /// <see cref="SshServerOptions"/> also offers "zlib@openssh.com".
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="category"/> is not a defined category.</exception>
    public static IReadOnlyList<string> GetDefaults(SshAlgorithmCategory category) => s_defaults[Index(category)];

    /// <summary>True when this library implements <paramref name="name"/> as an algorithm of <paramref name="category"/>.</summary>
    /// <param name="category">The kind of algorithm.</param>
    /// <param name="name">The name as it appears in KEXINIT, e.g. "aes128-gcm@openssh.com".</param>
    /// <returns>True for a supported name, legacy or not; false for any other name, signals included.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="category"/> is not a defined category.</exception>
    public static bool IsSupported(SshAlgorithmCategory category, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return category switch
        {
            SshAlgorithmCategory.KeyExchange => KexAlgorithm.Find(name) is not null,
            SshAlgorithmCategory.HostKey => SshHostKeyAlgorithms.GetKeyType(name) is not null,
            SshAlgorithmCategory.Cipher => CipherAlgorithm.Find(name) is not null,
            SshAlgorithmCategory.Mac => MacAlgorithm.Find(name) is not null,
            SshAlgorithmCategory.Compression => CompressionMethods.Parse(name) is not null,
            _ => throw UnknownCategory(category),
        };
    }

    /// <summary>
    /// True when <paramref name="name"/> is supported but legacy: SHA-1 key exchange, "ssh-rsa" signatures, CBC
    /// and 3DES ciphers, SHA-1 MACs. Legacy names are never among the defaults; an options list may name them.
    /// </summary>
    /// <param name="category">The kind of algorithm.</param>
    /// <param name="name">The name as it appears in KEXINIT.</param>
    /// <returns>True for a legacy name; false for any other name, unsupported ones included.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="category"/> is not a defined category.</exception>
    public static bool IsLegacy(SshAlgorithmCategory category, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return category switch
        {
            SshAlgorithmCategory.KeyExchange => KexAlgorithm.Find(name)?.IsLegacy ?? false,
            SshAlgorithmCategory.HostKey => SshHostKeyAlgorithms.IsLegacy(name),
            SshAlgorithmCategory.Cipher => CipherAlgorithm.Find(name)?.IsLegacy ?? false,
            SshAlgorithmCategory.Mac => MacAlgorithm.Find(name)?.IsLegacy ?? false,
            SshAlgorithmCategory.Compression => false,
            _ => throw UnknownCategory(category),
        };
    }

    /// <summary>The category in words, for messages: "key-exchange method", "cipher"...</summary>
    internal static string Describe(SshAlgorithmCategory category) => category switch
    {
        SshAlgorithmCategory.KeyExchange => "key-exchange method",
        SshAlgorithmCategory.HostKey => "host-key signature algorithm",
        SshAlgorithmCategory.Cipher => "cipher",
        SshAlgorithmCategory.Mac => "MAC",
        SshAlgorithmCategory.Compression => "compression method",
        _ => throw UnknownCategory(category),
    };

    private static int Index(SshAlgorithmCategory category) =>
        (uint)category <= (uint)SshAlgorithmCategory.Compression ? (int)category : throw UnknownCategory(category);

    private static ArgumentOutOfRangeException UnknownCategory(SshAlgorithmCategory category) =>
        new(nameof(category), category, "Unknown algorithm category.");

    private static ReadOnlyCollection<string> Freeze(IEnumerable<string> names) => Array.AsReadOnly(names.ToArray());
}
