using System.Text;
using System.Text.RegularExpressions;
using Ssh.Transport.InteropTests.Infrastructure;

namespace Ssh.Transport.InteropTests.Peers;

/// <summary>
/// OpenSSH: sshd (-D -e -f config, a minimal config per case) and ssh (-vvv), in two generations: Debian's package
/// (on PATH) and the newest release built into /opt/ssh-peers (<see cref="NewestPeers"/>). Supported lists come from
/// `ssh -Q`; both sides of the negotiation are read from the "kex: ..." debug lines each program logs.
/// </summary>
internal sealed partial class OpenSshPeer : Peer
{
    private readonly string? _sshd;
    private readonly string? _ssh;
    private readonly string? _keygen;
    private readonly Lazy<string> _version;
    private readonly Lazy<PeerAlgorithms> _server;
    private readonly Lazy<PeerAlgorithms> _client;

    private OpenSshPeer(PeerGeneration generation)
    {
        Generation = generation;
        if (generation == PeerGeneration.Debian)
        {
            (_sshd, _ssh, _keygen) = (Tools.Find("sshd"), Tools.Find("ssh"), Tools.Find("ssh-keygen"));
        }
        else
        {
            (_sshd, _ssh, _keygen) = (NewestPeers.Find("openssh/sbin/sshd"), NewestPeers.Find("openssh/bin/ssh"), NewestPeers.Find("openssh/bin/ssh-keygen"));
        }

        _version = new(() => _ssh is null ? "not installed" : Tools.Run(_ssh, ["-V"], TimeSpan.FromSeconds(10)).Error.Trim());
        _client = new(() => Query(server: false));
        _server = new(() => Query(server: true));
    }

    /// <summary>Debian's OpenSSH (9.2p1 in Debian 12).</summary>
    public static OpenSshPeer Debian { get; } = new(PeerGeneration.Debian);

    /// <summary>The newest OpenSSH, built from source (10.5p1).</summary>
    public static OpenSshPeer Newest { get; } = new(PeerGeneration.Newest);

    /// <summary>Both generations, in test order.</summary>
    public static IReadOnlyList<OpenSshPeer> All { get; } = [Debian, Newest];

    /// <summary>The peer of <paramref name="generation"/>.</summary>
    public static OpenSshPeer Of(PeerGeneration generation) => generation == PeerGeneration.Debian ? Debian : Newest;

    public override string Name => "OpenSsh";

    public override PeerGeneration Generation { get; }

    public override string Label => Name + Generation;

    public override string? Unavailable =>
        _sshd is null || _ssh is null || _keygen is null
            ? Generation == PeerGeneration.Debian
                ? "OpenSSH is not installed (apt install openssh-server openssh-client): sshd, ssh and ssh-keygen are needed."
                : NewestPeers.NotBuilt("The newest OpenSSH (openssh/sbin/sshd, bin/ssh, bin/ssh-keygen)")
            : !_version.Value.StartsWith("OpenSSH_", StringComparison.Ordinal) ? $"{_ssh} -V does not run: {_version.Value}"
            : null;

    public override string Version => _version.Value;

    /// <summary>The version as a number, e.g. 1005 for OpenSSH_10.5p1 (0 when unknown).</summary>
    public int VersionNumber => VersionRegex().Match(Version) is { Success: true } m
        ? (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) * 100) + int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)
        : 0;

    public override PeerAlgorithms Algorithms(InteropRole role) =>
        Unavailable is not null ? PeerAlgorithms.Empty : role == InteropRole.OurClient ? _server.Value : _client.Value;

    private PeerAlgorithms Query(bool server)
    {
        try
        {
            return QueryCore(server);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception)
        {
            // Only the default case runs then, and its failure shows why.
            return PeerAlgorithms.Empty with { Source = $"ssh -Q failed: {e.Message}" };
        }
    }

    private PeerAlgorithms QueryCore(bool server)
    {
        string[] Q(string what) => Tools.RunChecked(_ssh!, "-Q", what).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        string[] compression = [.. Q("compression").Where(c => c != "none")];
        if (server)
        {
            // sshd's Compression option is only yes/delayed/no, and since OpenSSH 7.4 "yes" means delayed: its server
            // never offers plain zlib, whatever `ssh -Q compression` (the client's list) says.
            compression = [.. compression.Where(c => c == "zlib@openssh.com")];
        }

        // key-sig: the signature algorithms, rsa-sha2-256/512 included (`ssh -Q key` lists key types only).
        return new PeerAlgorithms(Q("kex"), Q("key-sig"), Q("cipher"), Q("mac"), compression, StrictKex: SupportsStrictKex(),
            "ssh -Q kex, key-sig, cipher, mac, compression");
    }

    /// <summary>
    /// Strict kex is in OpenSSH from 9.6 and in distribution backports of the Terrapin fix (Debian's 9.2p1-2+deb12u2):
    /// the version cannot tell, so look for the marker in the ssh binary itself.
    /// </summary>
    private bool SupportsStrictKex()
    {
        byte[] binary = File.ReadAllBytes(_ssh!);
        return binary.AsSpan().IndexOf("kex-strict-s-v00@openssh.com"u8) >= 0;
    }

    public override Task<ServerHandle> StartServerAsync(CaseContext context, AlgorithmChoice choice) => StartServerAsync(context, choice, []);

    /// <summary>Starts sshd with more sshd_config lines (e.g. "HostCertificate FILE").</summary>
    public async Task<ServerHandle> StartServerAsync(CaseContext context, AlgorithmChoice choice, IReadOnlyList<string> extraConfig)
    {
        // Privilege separation needs this folder: Debian's init scripts make /run/sshd; build-peers.sh makes the
        // newest one's (PREFIX/empty).
        if (Generation == PeerGeneration.Debian)
        {
            try
            {
                Directory.CreateDirectory("/run/sshd");
            }
            catch (UnauthorizedAccessException)
            {
                Assert.Ignore("sshd needs /run/sshd, which only root can create here: sudo mkdir -p /run/sshd");
            }
        }
        else if (!Directory.Exists(Path.Combine(NewestPeers.Prefix, "empty")))
        {
            Assert.Ignore(NewestPeers.NotBuilt("sshd's privilege-separation folder (empty)"));
        }

        for (int attempt = 1; ; attempt++)
        {
            int port = Tools.FreePort();
            string config = WriteConfig(context, port, choice, extraConfig);
            PeerProcess process = context.Track(PeerProcess.Start(_sshd!, ["-D", "-e", "-f", config], context.LogPath($"sshd{attempt}")));
            string? ready = await process.WaitForLineAsync(l => l.Contains("Server listening on", StringComparison.Ordinal) || l.Contains("Cannot bind", StringComparison.Ordinal), TimeSpan.FromSeconds(15));
            if (ready is not null && ready.Contains("Server listening on", StringComparison.Ordinal))
            {
                return new ServerHandle(process, port, p => ParseNegotiated(p.Lines));
            }

            process.Stop();
            if (attempt == 3 || ready is null)
            {
                throw new InvalidOperationException($"sshd did not start:\n{process.Tail(30)}");
            }
        }
    }

    /// <summary>The minimal sshd_config of a case.</summary>
    private string WriteConfig(CaseContext context, int port, AlgorithmChoice choice, IReadOnlyList<string> extraConfig)
    {
        var config = new StringBuilder();
        config.AppendLine("ListenAddress 127.0.0.1");
        config.AppendLine($"Port {port}");
        foreach (string key in PeerKeys.OpenSsh.Values)
        {
            config.AppendLine($"HostKey {key}");
        }

        config.AppendLine($"PidFile {Path.Combine(context.TempDirectory, "sshd.pid")}");
        config.AppendLine($"AuthorizedKeysFile {Path.Combine(context.TempDirectory, "authorized_keys")}");
        config.AppendLine("UsePAM no");
        config.AppendLine("StrictModes no");
        config.AppendLine("LogLevel DEBUG3");
        config.AppendLine("LoginGraceTime 60");
        if (VersionNumber >= 908)
        {
            // sshd 9.8+ penalizes a source address whose connections end before a login, and then drops its new
            // connections before the banner: every case here connects from 127.0.0.1 and is refused.
            config.AppendLine("PerSourcePenalties no");
        }

        if (choice.Kex is not null)
        {
            config.AppendLine($"KexAlgorithms {choice.Kex}");
        }

        if (choice.HostKey is not null)
        {
            config.AppendLine($"HostKeyAlgorithms {choice.HostKey}");
        }

        if (choice.Cipher is not null)
        {
            config.AppendLine($"Ciphers {choice.Cipher}");
        }

        if (choice.Mac is not null)
        {
            config.AppendLine($"MACs {choice.Mac}");
        }

        if (choice.Compression is not null)
        {
            config.AppendLine("Compression yes");
        }

        if (choice.RekeyLimit is not null)
        {
            config.AppendLine($"RekeyLimit {choice.RekeyLimit}");
        }

        foreach (string line in extraConfig)
        {
            config.AppendLine(line);
        }

        string path = Path.Combine(context.TempDirectory, "sshd_config");
        File.WriteAllText(path, config.ToString());
        return path;
    }

    public override Task<ClientHandle> RunClientAsync(CaseContext context, int port, AlgorithmChoice choice) =>
        RunClientAsync(context, port, choice, []);

    /// <summary>Runs ssh with extra options; with "-N" no remote command is given.</summary>
    public async Task<ClientHandle> RunClientAsync(CaseContext context, int port, AlgorithmChoice choice, IReadOnlyList<string> extra)
    {
        var arguments = new List<string> { "-vvv", "-F", "/dev/null", "-p", port.ToString() };

        // ssh takes the first value of an option: the defaults give way to the ones in extra.
        foreach (string option in (string[])["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "BatchMode=yes", "PubkeyAuthentication=no", "ConnectTimeout=10"])
        {
            string name = option[..(option.IndexOf('=') + 1)];
            if (!extra.Any(e => e.StartsWith(name, StringComparison.OrdinalIgnoreCase)))
            {
                arguments.AddRange(["-o", option]);
            }
        }

        void Option(string name, string? value)
        {
            if (value is not null)
            {
                arguments.AddRange(["-o", $"{name}={value}"]);
            }
        }

        Option("KexAlgorithms", choice.Kex);
        Option("HostKeyAlgorithms", choice.HostKey);
        Option("Ciphers", choice.Cipher);
        Option("MACs", choice.Mac);
        Option("Compression", choice.Compression is null ? null : "yes");
        Option("RekeyLimit", choice.RekeyLimit);
        arguments.AddRange(extra);
        arguments.Add("interop@127.0.0.1");
        if (!extra.Contains("-N"))
        {
            arguments.Add("true");
        }

        PeerProcess process = context.Track(PeerProcess.Start(_ssh!, arguments, context.LogPath("ssh")));
        int? exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        IReadOnlyList<string> lines = process.Lines;
        return new ClientHandle
        {
            Process = process,
            ExitCode = exitCode,
            View = ParseNegotiated(lines),
            SawAuthRefusal = lines.Any(l => l.Contains("Authentications that can continue: publickey,password", StringComparison.Ordinal)),
        };
    }

    /// <summary>The first exchange's "debug1: kex: ..." lines of ssh or sshd; null until all four are there.</summary>
    public static NegotiatedView? ParseNegotiated(IReadOnlyList<string> lines)
    {
        string? kex = null;
        string? hostKey = null;
        Match? c2s = null;
        Match? s2c = null;
        bool? strict = null;
        foreach (string line in lines)
        {
            kex ??= Capture(KexLine().Match(line));
            hostKey ??= Capture(HostKeyLine().Match(line));
            Match direction = DirectionLine().Match(line);
            if (direction.Success)
            {
                if (direction.Groups["dir"].Value == "client->server")
                {
                    c2s ??= direction;
                }
                else
                {
                    s2c ??= direction;
                }
            }

            if (line.Contains("will use strict KEX ordering", StringComparison.Ordinal))
            {
                strict = true;
            }
        }

        if (kex is null || hostKey is null || c2s is null || s2c is null)
        {
            return null;
        }

        static string? Mac(Match m) => m.Groups["mac"].Value == "<implicit>" ? null : m.Groups["mac"].Value;

        return new NegotiatedView
        {
            Kex = kex,
            HostKey = hostKey,
            CipherClientToServer = c2s.Groups["cipher"].Value,
            CipherServerToClient = s2c.Groups["cipher"].Value,
            MacClientToServer = Mac(c2s),
            MacServerToClient = Mac(s2c),
            CompressionClientToServer = c2s.Groups["comp"].Value,
            CompressionServerToClient = s2c.Groups["comp"].Value,
            Strict = strict,
        };
    }

    private static string? Capture(Match match) => match.Success ? match.Groups[1].Value : null;

    [GeneratedRegex(@"^OpenSSH_(\d+)\.(\d+)")]
    private static partial Regex VersionRegex();

    [GeneratedRegex(@"kex: algorithm: (\S+)")]
    private static partial Regex KexLine();

    [GeneratedRegex(@"kex: host key algorithm: (\S+)")]
    private static partial Regex HostKeyLine();

    [GeneratedRegex(@"kex: (?<dir>client->server|server->client) cipher: (?<cipher>\S+) MAC: (?<mac>\S+) compression: (?<comp>\S+)")]
    private static partial Regex DirectionLine();
}
