namespace Ssh.Transport.Tests.HostKeys;

/// <summary>
/// Host keys, CA keys and certificates made by the real ssh-keygen -s (the newest OpenSSH's when built, else the one on
/// PATH) into a temporary folder, once per run; tests that need ssh-keygen are ignored without it. Validity windows
/// are absolute (2030-01-01 to 2030-02-01), so the tests set the verifier's clock.
/// </summary>
internal static class HostCertificates
{
    /// <summary>Host key kinds and the certificate key type ssh-keygen writes for each.</summary>
    public static readonly string[] HostKinds = ["ed25519", "ecdsa256", "rsa"];

    /// <summary>CA key kinds.</summary>
    public static readonly string[] CaKinds = ["ed25519", "ecdsa384", "rsa"];

    public static IEnumerable<TestCaseData> HostAndCaKinds() =>
        from host in HostKinds from ca in CaKinds select new TestCaseData(host, ca);

    /// <summary>The validity every certificate has unless a test asks otherwise.</summary>
    public const string Validity = "20300101:20300201";

    public static readonly DateTimeOffset InsideValidity = new(2030, 1, 15, 12, 0, 0, TimeSpan.Zero);

    private static readonly Lock s_lock = new();

    // Its own folder: OpenSshKeys' goes when the HostKeys namespace's tests end, and the session tests use these too.
    private static readonly Lazy<string> s_directory = new(() =>
    {
        string path = Directory.CreateTempSubdirectory("ssh-transport-certs-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (IOException)
            {
                // Under the temporary folder; harmless.
            }
        };
        return path;
    });
    private static readonly Dictionary<string, string> s_keys = [];
    private static readonly Lazy<string> s_keygen = new(() =>
        File.Exists("/opt/ssh-peers/openssh/bin/ssh-keygen") ? "/opt/ssh-peers/openssh/bin/ssh-keygen" : ExternalTools.SshKeygen);

    public static string Keygen => s_keygen.Value;

    /// <summary>A private key file of that kind and role ("host" or "ca"), generated on first use.</summary>
    public static string KeyPath(string role, string kind)
    {
        string keygen = Keygen;
        lock (s_lock)
        {
            string name = $"{role}_{kind}";
            if (!s_keys.TryGetValue(name, out string? path))
            {
                path = Path.Combine(s_directory.Value, name);
                string[] type = kind switch
                {
                    "ed25519" => ["-t", "ed25519"],
                    "rsa" => ["-t", "rsa", "-b", "2048"],
                    _ => ["-t", "ecdsa", "-b", kind[5..]],
                };
                ExternalTools.RunChecked(keygen, [.. type, "-q", "-N", "", "-C", name, "-f", path]);
                s_keys.Add(name, path);
            }

            return path;
        }
    }

    public static SshPublicKey PublicKey(string role, string kind) => SshPublicKey.Parse(File.ReadAllText(KeyPath(role, kind) + ".pub"));

    /// <summary>
    /// ssh-keygen -s CA -I id [arguments] on a copy of the host key's .pub file; the certificate line it writes.
    /// Host certificates need "-h" among the arguments.
    /// </summary>
    public static string Certify(string hostKind, string caKind, params string[] arguments)
    {
        string pub = Path.Combine(s_directory.Value, $"host-{hostKind}-{Guid.NewGuid():N}.pub");
        File.Copy(KeyPath("host", hostKind) + ".pub", pub);
        ExternalTools.RunChecked(Keygen, ["-q", "-s", KeyPath("ca", caKind), "-I", $"test {hostKind} by {caKind}", .. arguments, pub]);
        return File.ReadAllText(pub[..^".pub".Length] + "-cert.pub").Trim();
    }

    /// <summary>A host certificate for server.example.com and *.example.org, serial 42, in the standard window.</summary>
    public static SshPublicKey HostCertificate(string hostKind = "ed25519", string caKind = "ed25519", params string[] more) =>
        SshPublicKey.Parse(Certify(hostKind, caKind, ["-h", "-z", "42", "-n", "server.example.com,*.example.org", "-V", Validity, .. more]));

    /// <summary>A known_hosts verifier with its clock inside the standard window.</summary>
    public static KnownHostsVerifier Verifier(string text, DateTimeOffset? now = null)
    {
        var verifier = KnownHostsVerifier.Parse(text);
        verifier.TimeProvider = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(now ?? InsideValidity);
        return verifier;
    }
}
