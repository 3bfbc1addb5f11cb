using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Ssh.Transport.Connection.Tests.Infrastructure;

/// <summary>Which OpenSSH the sshd and ssh tests run against: users run both the distributions' and the newest.</summary>
public enum OpenSshGeneration
{
    /// <summary>The distribution's packages, found on PATH (Debian 12: OpenSSH 9.2p1).</summary>
    Debian,

    /// <summary>The newest release (10.5p1), built from a source snapshot into /opt/ssh-peers by .ci/run (build-peers.sh).</summary>
    Newest,
}

/// <summary>
/// One OpenSSH installation: its programs, its version, and what its sshd needs. The sshd and ssh test fixtures take
/// a generation (<c>[TestFixtureSource(typeof(OpenSsh), nameof(OpenSsh.Generations))]</c>), so every case runs against both.
/// </summary>
internal sealed partial class OpenSsh
{
    private static readonly OpenSsh s_debian = new(OpenSshGeneration.Debian);
    private static readonly OpenSsh s_newest = new(OpenSshGeneration.Newest);
    private readonly Lazy<string> _version;

    private OpenSsh(OpenSshGeneration generation)
    {
        Generation = generation;
        _version = new(() => Find("ssh") is { } ssh ? Peers.Run(ssh, ["-V"], timeout: TimeSpan.FromSeconds(10)).Output.Trim() : "not installed");
    }

    /// <summary>The fixtures' source: every generation.</summary>
    public static IEnumerable<OpenSshGeneration> Generations => [OpenSshGeneration.Debian, OpenSshGeneration.Newest];

    public static OpenSsh Get(OpenSshGeneration generation) => generation == OpenSshGeneration.Debian ? s_debian : s_newest;

    /// <summary>SSH_PEERS_PREFIX, or /opt/ssh-peers: where .ci/run builds the newest peers.</summary>
    public static string NewestPrefix =>
        Environment.GetEnvironmentVariable("SSH_PEERS_PREFIX") is { Length: > 0 } prefix ? prefix : "/opt/ssh-peers";

    /// <summary>True when .ci/run built the newest peers (SSH_PEERS_REQUIRED=1): a missing one then fails a test instead of skipping it.</summary>
    public static bool NewestRequired => Environment.GetEnvironmentVariable("SSH_PEERS_REQUIRED") == "1";

    public OpenSshGeneration Generation { get; }

    /// <summary>What `ssh -V` says, e.g. "OpenSSH_10.5p1, OpenSSL 3.0.19 27 Jan 2026".</summary>
    public string Version => _version.Value;

    /// <summary>"OpenSSH_10.5", as the identification line starts (empty when unknown).</summary>
    public string ShortVersion => VersionNumber == 0 ? string.Empty : $"OpenSSH_{VersionNumber / 100}.{VersionNumber % 100}";

    /// <summary>The version as a number, e.g. 1005 for 10.5p1 (0 when unknown).</summary>
    public int VersionNumber => VersionRegex().Match(Version) is { Success: true } m
        ? (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 100) + int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)
        : 0;

    /// <summary>
    /// Lines every test sshd_config of this generation needs: sshd 9.8+ penalizes a source address whose connections end
    /// before a login (PerSourcePenalties) and then drops its new connections before the banner.
    /// </summary>
    public IReadOnlyList<string> SshdConfig => VersionNumber >= 908 ? ["PerSourcePenalties no"] : [];

    /// <summary>True when sshd was built with PAM (Debian's is; build-peers.sh configures --without-pam).</summary>
    public bool HasPam =>
        new[] { Find("sshd"), SshdSession }.Any(path => path is not null && File.ReadAllBytes(path).AsSpan().IndexOf("pam_authenticate"u8) >= 0);

    /// <summary>sshd 10.x's per-connection program beside it (libexec/sshd-session), if any.</summary>
    private string? SshdSession => Generation == OpenSshGeneration.Newest ? NewestFile("openssh/libexec/sshd-session") : null;

    /// <summary>The full path of a program of this generation (sshd, ssh, ssh-keygen, ssh-agent, ssh-add), or null.</summary>
    public string? Find(string program) => Generation == OpenSshGeneration.Debian
        ? Peers.Find(program)
        : NewestFile(program == "sshd" ? "openssh/sbin/sshd" : $"openssh/bin/{program}");

    /// <summary>
    /// The path of a program of this generation, or the test is ignored saying how to get it (failed instead when
    /// .ci/run built the newest peers and one is still missing).
    /// </summary>
    public string Require(string program)
    {
        string? path = Find(program);
        if (path is not null && VersionNumber > 0)
        {
            return path;
        }

        string why = Generation == OpenSshGeneration.Debian
            ? $"{program} is not installed (apt install {(program == "sshd" ? "openssh-server" : "openssh-client")})."
            : $"The newest OpenSSH's {program} is not built in {NewestPrefix}: `bash .ci/run` builds it with build-peers.sh from the " +
              "source snapshots (SSH_PEERS_SRC, else shared/peers beside the checkout, else /work/shared/peers).";
        if (Generation == OpenSshGeneration.Newest && NewestRequired)
        {
            Assert.Fail(why + " (SSH_PEERS_REQUIRED=1: .ci/run built the newest peers)");
        }

        Assert.Ignore(why);
        return null!;
    }

    /// <summary>Makes sure sshd's privilege-separation folder exists: /run/sshd for Debian's, PREFIX/empty (made by build-peers.sh) for the newest.</summary>
    public void RequirePrivilegeSeparationDirectory()
    {
        if (Generation == OpenSshGeneration.Newest)
        {
            if (!Directory.Exists(Path.Combine(NewestPrefix, "empty")))
            {
                Assert.Ignore($"{NewestPrefix}/empty (sshd's privilege-separation folder, made by build-peers.sh) is missing.");
            }

            return;
        }

        try
        {
            Directory.CreateDirectory("/run/sshd");
        }
        catch (UnauthorizedAccessException)
        {
            Assert.Ignore("sshd needs /run/sshd, which only root can create.");
        }
    }

    public override string ToString() => $"{Generation} ({Version})";

    private static string? NewestFile(string relative)
    {
        string path = Path.Combine(NewestPrefix, relative);
        return File.Exists(path) ? path : null;
    }

    [GeneratedRegex(@"^OpenSSH_(\d+)\.(\d+)")]
    private static partial Regex VersionRegex();
}

/// <summary>Real peers' programs: finding them, running them to completion, and daemons stopped by their own process id.</summary>
internal static class Peers
{
    private static readonly string[] s_sbin = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

    /// <summary>The full path of a program on PATH or in an sbin folder, or null.</summary>
    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(s_sbin).Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);

    /// <summary>The path of a program, or the test is ignored saying what to install.</summary>
    public static string Require(string name, string package)
    {
        string? path = Find(name);
        if (path is null)
        {
            Assert.Ignore($"{name} is not installed (apt install {package}).");
        }

        return path!;
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static string NewTempDirectory()
    {
        string path = Path.Combine(Path.GetTempPath(), "ssh-auth-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Runs a program to completion (killed, by its id, after <paramref name="timeout"/>).</summary>
    public static (int ExitCode, string Output) Run(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, string? input = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        if (input is not null)
        {
            process.StandardInput.Write(input);
        }

        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, output.Result + error.Result + "\n(killed: timeout)");
        }

        process.WaitForExit();
        return (process.ExitCode, output.Result + error.Result);
    }

    public static string RunChecked(string fileName, params string[] arguments)
    {
        (int code, string output) = Run(fileName, arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} exited with {code}: {output}");
        }

        return output;
    }
}

/// <summary>A program we started that runs until stopped (sshd -D, ssh-agent -D, ssh): its output lines kept in memory.</summary>
internal sealed class PeerProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];

    private PeerProcess(Process process) => _process = process;

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public string Log => string.Join('\n', Lines);

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static PeerProcess Start(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start };
        var peer = new PeerProcess(process);
        process.OutputDataReceived += (_, e) => peer.Add(e.Data);
        process.ErrorDataReceived += (_, e) => peer.Add(e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    private void Add(string? line)
    {
        if (line is not null)
        {
            lock (_lines)
            {
                _lines.Add(line);
            }
        }
    }

    /// <summary>Waits for a line that matches; null if the process ends or the time runs out first.</summary>
    public async Task<string?> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            string? line = Lines.FirstOrDefault(match);
            if (line is not null)
            {
                return line;
            }

            if (_process.HasExited)
            {
                await Task.Delay(100);
                return Lines.FirstOrDefault(match);
            }

            await Task.Delay(20);
        }

        return null;
    }

    /// <summary>Waits for the process to end; kills it after <paramref name="timeout"/>. The exit code, or null if killed.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            _process.WaitForExit();
            return _process.ExitCode;
        }
        catch (TimeoutException)
        {
            Dispose();
            return null;
        }
    }

    /// <summary>Kills the process we started (by its id, with its children).</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }
}
