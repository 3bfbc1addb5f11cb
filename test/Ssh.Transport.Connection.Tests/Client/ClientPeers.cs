using System.Net;
using System.Net.Sockets;
using Ssh.Transport.Connection.Tests.Authentication;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Client;

/// <summary>The real servers our client is tested against.</summary>
public enum ServerKind
{
    /// <summary>Debian's OpenSSH sshd (9.2).</summary>
    Sshd,

    /// <summary>OpenSSH 10.5's sshd under /opt/ssh-peers.</summary>
    Sshd10,

    /// <summary>Debian's Dropbear (2022.83).</summary>
    Dropbear,

    /// <summary>Dropbear 2026 under /opt/ssh-peers.</summary>
    Dropbear2026,

    /// <summary>paramiko's server (Servers/paramiko_server.py).</summary>
    Paramiko,

    /// <summary>AsyncSSH's server (Servers/asyncssh_server.py).</summary>
    AsyncSsh,
}

/// <summary>
/// A local user the servers log us in as (root creates it once, with a password and a home of its own whose
/// ~/.ssh/authorized_keys each test writes), and the keys of <see cref="OpenSshKeys"/>.
/// </summary>
internal static class TestUser
{
    public const string Name = "sshclienttest";
    public const string Password = "Cl1ent-t3st-pw";
    public const string Home = "/tmp/sshclienttest-home";

    private static readonly Lock s_lock = new();
    private static string? s_problem;
    private static bool s_ready;

    public static string AuthorizedKeys => Path.Combine(Home, ".ssh", "authorized_keys");

    /// <summary>Creates the user if needed; the test is ignored where that is impossible (not root).</summary>
    public static void Ensure()
    {
        lock (s_lock)
        {
            if (s_ready)
            {
                return;
            }

            if (s_problem is null)
            {
                s_problem = Create();
                s_ready = s_problem is null;
            }

            if (!s_ready)
            {
                Assert.Ignore(s_problem!);
            }
        }
    }

    /// <summary>Writes ~/.ssh/authorized_keys with the public keys of these private key files.</summary>
    public static void Authorize(params string[] keyFiles)
    {
        Ensure();
        File.WriteAllText(AuthorizedKeys, string.Concat(keyFiles.Select(f => File.ReadAllText(f + ".pub"))));
        Peers.RunChecked("/bin/chown", $"{Name}:", AuthorizedKeys);
        Peers.RunChecked("/bin/chmod", "600", AuthorizedKeys);
    }

    private static string? Create()
    {
        string? useradd = Peers.Find("useradd");
        string? chpasswd = Peers.Find("chpasswd");
        if (Environment.UserName != "root" || useradd is null || chpasswd is null)
        {
            return "The client tests log in as a local test user, which only root can create (useradd, chpasswd).";
        }

        if (Peers.Run("/usr/bin/id", [Name]).ExitCode != 0)
        {
            (int code, string output) = Peers.Run(useradd, ["-M", "-s", "/bin/bash", "-d", Home, Name]);
            if (code != 0)
            {
                return $"useradd {Name} failed: {output}";
            }
        }

        (int set, string said) = Peers.Run(chpasswd, [], input: $"{Name}:{Password}\n");
        if (set != 0)
        {
            return $"chpasswd failed: {said}";
        }

        Directory.CreateDirectory(Path.Combine(Home, ".ssh"));
        Peers.RunChecked("/bin/chown", "-R", $"{Name}:", Home);
        Peers.RunChecked("/bin/chmod", "755", Home);
        Peers.RunChecked("/bin/chmod", "700", Path.Combine(Home, ".ssh"));
        return null;
    }
}

/// <summary>One real server started for a test, on 127.0.0.1; disposing stops it (by the process id we started).</summary>
internal sealed class TestServer : IDisposable
{
    private const string Python = "/usr/bin/python3";

    private TestServer(ServerKind kind, int port, PeerProcess process)
    {
        Kind = kind;
        Port = port;
        Process = process;
    }

    public ServerKind Kind { get; }

    public int Port { get; }

    public PeerProcess Process { get; }

    public string Log => string.Join('\n', Process.Lines.TakeLast(80));

    public bool IsOpenSsh => Kind is ServerKind.Sshd or ServerKind.Sshd10;

    public bool IsDropbear => Kind is ServerKind.Dropbear or ServerKind.Dropbear2026;

    /// <summary>The program of a kind, or null when it is not installed.</summary>
    public static string? Program(ServerKind kind) => kind switch
    {
        ServerKind.Sshd => Peers.Find("sshd"),
        ServerKind.Sshd10 => Existing("/opt/ssh-peers/openssh/sbin/sshd"),
        ServerKind.Dropbear => Existing("/usr/sbin/dropbear"),
        ServerKind.Dropbear2026 => Existing("/opt/ssh-peers/dropbear/sbin/dropbear"),
        ServerKind.Paramiko => File.Exists(Python) && Peers.Run(Python, ["-c", "import paramiko"]).ExitCode == 0 ? Python : null,
        ServerKind.AsyncSsh => File.Exists(Python) && Peers.Run(Python, ["-W", "ignore", "-c", "import asyncssh"]).ExitCode == 0 ? Python : null,
        _ => null,
    };

    /// <summary>Starts a server that logs in <see cref="TestUser"/> (keys from its authorized_keys, or its password).</summary>
    /// <param name="kind">Which server.</param>
    /// <param name="directory">A temporary folder for the configuration, keys and logs.</param>
    /// <param name="sshdOptions">More sshd_config lines (OpenSSH only).</param>
    /// <param name="extraArguments">More command-line arguments (Dropbear and paramiko).</param>
    public static async Task<TestServer> StartAsync(ServerKind kind, string directory, string[]? sshdOptions = null, string[]? extraArguments = null)
    {
        TestUser.Ensure();
        string program = Program(kind) ?? IgnoreMissing(kind);
        for (int attempt = 1; ; attempt++)
        {
            (PeerProcess process, int port) = kind switch
            {
                ServerKind.Sshd or ServerKind.Sshd10 => StartSshd(kind, program, directory, sshdOptions ?? []),
                ServerKind.Dropbear or ServerKind.Dropbear2026 => StartDropbear(kind, program, directory, extraArguments ?? []),
                _ => StartPython(kind, directory, extraArguments ?? []),
            };
            int? ready = await WaitUntilListeningAsync(kind, process, port);
            if (ready is int listening)
            {
                return new TestServer(kind, listening, process);
            }

            process.Dispose();
            if (attempt == 3)
            {
                Assert.Fail($"{kind} did not start:\n{process.Log}");
            }
        }
    }

    public void Dispose() => Process.Dispose();

    private static string? Existing(string path) => File.Exists(path) ? path : null;

    private static string IgnoreMissing(ServerKind kind)
    {
        Assert.Ignore($"{kind} is not installed here.");
        return string.Empty;
    }

    private static (PeerProcess, int) StartSshd(ServerKind kind, string program, string directory, string[] options)
    {
        try
        {
            Directory.CreateDirectory("/run/sshd");
        }
        catch (UnauthorizedAccessException)
        {
            Assert.Ignore("sshd needs /run/sshd, which only root can create.");
        }

        int port = Peers.FreePort();
        string config = Path.Combine(directory, $"sshd_config_{kind}");
        string sftp = kind == ServerKind.Sshd10 ? "/opt/ssh-peers/openssh/libexec/sftp-server" : "/usr/lib/openssh/sftp-server";
        File.WriteAllLines(config, [
            .. options,
            "ListenAddress 127.0.0.1",
            $"Port {port}",
            $"HostKey {OpenSshKeys.File("host")}",
            $"PidFile {Path.Combine(directory, $"sshd_{kind}.pid")}",
            "AuthorizedKeysFile .ssh/authorized_keys",
            "UsePAM no",
            "StrictModes no",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            "AllowTcpForwarding yes",
            $"Subsystem sftp {sftp}",
            "LogLevel VERBOSE",
            "LoginGraceTime 60",
            .. kind == ServerKind.Sshd10 ? (string[])["PerSourcePenalties no"] : [],
        ]);
        return (PeerProcess.Start(program, ["-D", "-e", "-f", config]), port);
    }

    private static (PeerProcess, int) StartDropbear(ServerKind kind, string program, string directory, string[] extra)
    {
        string keygen = kind == ServerKind.Dropbear2026 ? "/opt/ssh-peers/dropbear/bin/dropbearkey" : "/usr/bin/dropbearkey";
        string hostKey = Path.Combine(directory, $"dropbear_{kind}_ed25519");
        if (!File.Exists(hostKey))
        {
            Peers.RunChecked(keygen, "-t", "ed25519", "-f", hostKey);
        }

        int port = Peers.FreePort();
        return (PeerProcess.Start(program, ["-F", "-E", "-p", $"127.0.0.1:{port}", "-r", hostKey, "-P", Path.Combine(directory, $"dropbear_{kind}.pid"), .. extra]), port);
    }

    private static (PeerProcess, int) StartPython(ServerKind kind, string directory, string[] extra)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "Client", "Servers", kind == ServerKind.Paramiko ? "paramiko_server.py" : "asyncssh_server.py");
        return (PeerProcess.Start(Python, ["-u", script, OpenSshKeys.File("host"), TestUser.AuthorizedKeys, TestUser.Name, TestUser.Password, .. extra]), 0);
    }

    private static async Task<int?> WaitUntilListeningAsync(ServerKind kind, PeerProcess process, int port)
    {
        if (kind is ServerKind.Paramiko or ServerKind.AsyncSsh)
        {
            string? line = await process.WaitForLineAsync(l => l.StartsWith("listening ", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
            return line is null ? null : int.Parse(line["listening ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        }

        if (kind is ServerKind.Sshd or ServerKind.Sshd10)
        {
            string? ready = await process.WaitForLineAsync(l => l.Contains("Server listening on", StringComparison.Ordinal) || l.Contains("Cannot bind", StringComparison.Ordinal), TimeSpan.FromSeconds(15));
            return ready?.Contains("Server listening on", StringComparison.Ordinal) == true ? port : null;
        }

        // Dropbear says little: connect until it answers.
        for (int i = 0; i < 150 && !process.HasExited; i++)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(2));
                return port;
            }
            catch (Exception e) when (e is SocketException or TimeoutException)
            {
                await Task.Delay(50);
            }
        }

        return null;
    }
}
