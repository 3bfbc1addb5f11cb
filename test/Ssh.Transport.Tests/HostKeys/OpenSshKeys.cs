namespace Ssh.Transport.Tests.HostKeys;

/// <summary>A key made by ssh-keygen: the private key file and its .pub file.</summary>
public sealed record OpenSshKey(string Name, string KeyType, string PrivateKeyPath)
{
    public string PublicKeyPath => PrivateKeyPath + ".pub";

    public override string ToString() => Name;
}

/// <summary>
/// Keys made once per test run by ssh-keygen in a temporary folder (deleted at the end), shared by the HostKeys
/// tests: RSA generation is slow, so there are two RSA keys and every test reuses them.
/// </summary>
[SetUpFixture]
public sealed class OpenSshKeys
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<string, OpenSshKey> s_keys = [];
    private static string? s_directory;

    /// <summary>The key names the test cases use.</summary>
    public static readonly string[] Names = ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa2048", "rsa3072"];

    public static string Directory
    {
        get
        {
            lock (s_lock)
            {
                return s_directory ??= System.IO.Directory.CreateTempSubdirectory("ssh-transport-hostkeys-").FullName;
            }
        }
    }

    /// <summary>A fresh path in the temporary folder.</summary>
    public static string NewPath(string name) => Path.Combine(Directory, $"{name}-{Guid.NewGuid():N}");

    /// <summary>The ssh-keygen key of that name, generated on first use (ignored when ssh-keygen is missing).</summary>
    public static OpenSshKey Get(string name)
    {
        string sshKeygen = ExternalTools.SshKeygen;
        lock (s_lock)
        {
            if (s_keys.TryGetValue(name, out OpenSshKey? key))
            {
                return key;
            }

            (string type, string bits, string keyType) = name switch
            {
                "ed25519" => ("ed25519", "256", "ssh-ed25519"),
                "ecdsa256" => ("ecdsa", "256", "ecdsa-sha2-nistp256"),
                "ecdsa384" => ("ecdsa", "384", "ecdsa-sha2-nistp384"),
                "ecdsa521" => ("ecdsa", "521", "ecdsa-sha2-nistp521"),
                "rsa2048" => ("rsa", "2048", "ssh-rsa"),
                "rsa3072" => ("rsa", "3072", "ssh-rsa"),
                "dsa" => ("dsa", "1024", "ssh-dss"),
                _ => throw new ArgumentOutOfRangeException(nameof(name)),
            };
            string path = Path.Combine(Directory, name);
            ExternalTools.RunChecked(sshKeygen, "-q", "-t", type, "-b", bits, "-N", "", "-C", $"test {name}", "-f", path);
            key = new OpenSshKey(name, keyType, path);
            s_keys.Add(name, key);
            return key;
        }
    }

    /// <summary>A copy of a key's private key file, rewritten by ssh-keygen -p with extra arguments (format, passphrase).</summary>
    public static string Rewrite(OpenSshKey key, string suffix, params string[] arguments)
    {
        string path = NewPath(key.Name + "-" + suffix);
        File.Copy(key.PrivateKeyPath, path);
        ExternalTools.RunChecked(ExternalTools.SshKeygen, ["-q", "-p", "-P", "", .. arguments, "-f", path]);
        return path;
    }

    /// <summary>Writes a private key file readable by the owner only, as ssh-keygen insists.</summary>
    public static string WritePrivate(string name, string text)
    {
        string path = NewPath(name);
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return path;
    }

    [OneTimeTearDown]
    public void DeleteKeys()
    {
        lock (s_lock)
        {
            if (s_directory is not null)
            {
                System.IO.Directory.Delete(s_directory, recursive: true);
                s_directory = null;
                s_keys.Clear();
            }
        }
    }
}
