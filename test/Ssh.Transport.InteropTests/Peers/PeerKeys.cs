using System.Collections.Concurrent;
using Ssh.Transport.InteropTests.Infrastructure;

namespace Ssh.Transport.InteropTests.Peers;

/// <summary>
/// Host keys for the peers' servers, generated once per run into a temporary folder by the peers' own tools:
/// ssh-keygen (OpenSSH format, read by sshd, paramiko and AsyncSSH) and each Dropbear generation's dropbearkey
/// (Dropbear's format).
/// </summary>
internal static class PeerKeys
{
    private static readonly Lazy<string> s_directory = new(() => Tools.NewTempDirectory("keys"));
    private static readonly Lazy<IReadOnlyDictionary<string, string>> s_openSsh = new(GenerateOpenSsh);
    private static readonly ConcurrentDictionary<PeerGeneration, Lazy<IReadOnlyDictionary<string, string>>> s_dropbear = new();

    /// <summary>Key kinds: "ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa".</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"];

    /// <summary>Kind → private key file in OpenSSH format.</summary>
    public static IReadOnlyDictionary<string, string> OpenSsh => s_openSsh.Value;

    /// <summary>Kind → private key file in Dropbear's format, made by that generation's <paramref name="dropbearkey"/>.</summary>
    public static IReadOnlyDictionary<string, string> Dropbear(PeerGeneration generation, string dropbearkey) =>
        s_dropbear.GetOrAdd(generation, g => new Lazy<IReadOnlyDictionary<string, string>>(() => GenerateDropbear(g, dropbearkey))).Value;

    /// <summary>The key kind that signs with <paramref name="hostKeyAlgorithm"/>.</summary>
    public static string KindOf(string hostKeyAlgorithm) => hostKeyAlgorithm switch
    {
        "ssh-ed25519" => "ed25519",
        "ecdsa-sha2-nistp256" => "ecdsa256",
        "ecdsa-sha2-nistp384" => "ecdsa384",
        "ecdsa-sha2-nistp521" => "ecdsa521",
        _ => "rsa",
    };

    private static Dictionary<string, string> GenerateOpenSsh()
    {
        string keygen = Tools.Find("ssh-keygen") ?? NewestPeers.Find("openssh/bin/ssh-keygen")
            ?? throw new InvalidOperationException("ssh-keygen is not installed (apt install openssh-client).");
        var keys = new Dictionary<string, string>();
        foreach (string kind in Kinds)
        {
            string path = Path.Combine(s_directory.Value, $"openssh_{kind}");
            string[] type = kind switch
            {
                "ed25519" => ["-t", "ed25519"],
                "rsa" => ["-t", "rsa", "-b", "2048"],
                _ => ["-t", "ecdsa", "-b", kind[5..]],
            };
            Tools.RunChecked(keygen, [.. type, "-q", "-N", string.Empty, "-C", $"interop-{kind}", "-f", path]);
            keys[kind] = path;
        }

        return keys;
    }

    private static Dictionary<string, string> GenerateDropbear(PeerGeneration generation, string dropbearkey)
    {
        string prefix = $"dropbear-{generation.ToString().ToLowerInvariant()}";
        var keys = new Dictionary<string, string>();
        foreach (string kind in Kinds)
        {
            string path = Path.Combine(s_directory.Value, $"{prefix}_{kind}");
            string[] type = kind switch
            {
                "ed25519" => ["-t", "ed25519"],
                "rsa" => ["-t", "rsa", "-s", "2048"],
                _ => ["-t", "ecdsa", "-s", kind[5..]],
            };
            Tools.RunChecked(dropbearkey, [.. type, "-f", path]);
            keys[kind] = path;
        }

        return keys;
    }

    /// <summary>Removes the folder (end of the run).</summary>
    public static void Cleanup()
    {
        if (s_directory.IsValueCreated)
        {
            try
            {
                Directory.Delete(s_directory.Value, recursive: true);
            }
            catch (IOException)
            {
                // Under /tmp; harmless.
            }
        }
    }
}
