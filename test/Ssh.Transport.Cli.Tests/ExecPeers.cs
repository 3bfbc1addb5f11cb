using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Ssh.Transport.Cli.Tests;

/// <summary>
/// What the exec tests log in with: a local user of their own (root creates it once, with a password and a home whose
/// ~/.ssh/authorized_keys lists <see cref="ExecKeys.Authorized"/> and <see cref="ExecKeys.Encrypted"/>), and a
/// folder the user can read and write for the data of the transfers. The approach of the connection tests' client
/// peers, with a user name of its own so that both projects may run at once.
/// </summary>
internal static class ExecUser
{
    public const string Name = "sshexectest";
    public const string Password = "Ex3c-t3st-pw";
    public const string Home = "/tmp/sshexectest-home";

    private static readonly Lock s_lock = new();
    private static string? s_problem;
    private static bool s_ready;

    /// <summary>Creates the user and its authorized_keys if needed; the test is ignored where that is impossible (not root, no OpenSSH).</summary>
    public static void Ensure()
    {
        lock (s_lock)
        {
            if (!s_ready && s_problem is null)
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

    /// <summary>Deletes the folders that exist (a fixture's teardown; a failed set-up may have left some null).</summary>
    public static void DeleteFolders(params string?[] folders)
    {
        foreach (string? folder in folders)
        {
            if (folder is not null && Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    /// <summary>A new folder the test user may read and write (for transfers), under /tmp.</summary>
    public static string NewSharedFolder()
    {
        string path = Path.Combine("/tmp", "ssh-exec-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, (UnixFileMode)0x1FF); // 0777: the test user writes here
        }

        return path;
    }

    private static string? Create()
    {
        if (OperatingSystem.IsWindows() || Environment.UserName != "root")
        {
            return "The exec tests log in to a local sshd as a test user, which only root can create (useradd, chpasswd).";
        }

        string? useradd = CliRunner.FindProgram("useradd");
        string? chpasswd = CliRunner.FindProgram("chpasswd");
        if (useradd is null || chpasswd is null || CliRunner.FindProgram("ssh-keygen") is null)
        {
            return "useradd, chpasswd or ssh-keygen is not installed.";
        }

        if (Run("/usr/bin/id", [Name]).ExitCode != 0)
        {
            (int code, string output) = Run(useradd, ["-M", "-s", "/bin/bash", "-d", Home, Name]);
            if (code != 0)
            {
                return $"useradd {Name} failed: {output}";
            }
        }

        // A password unlocks the account too: sshd without PAM refuses a locked account even its keys.
        (int set, string said) = Run(chpasswd, [], input: $"{Name}:{Password}\n");
        if (set != 0)
        {
            return $"chpasswd failed: {said}";
        }

        string ssh = Path.Combine(Home, ".ssh");
        Directory.CreateDirectory(ssh);
        string authorizedKeys = Path.Combine(ssh, "authorized_keys");
        File.WriteAllText(authorizedKeys, File.ReadAllText(ExecKeys.Authorized + ".pub") + File.ReadAllText(ExecKeys.Encrypted + ".pub"));
        Checked("/bin/chown", "-R", $"{Name}:", Home);
        Checked("/bin/chmod", "755", Home);
        Checked("/bin/chmod", "700", ssh);
        Checked("/bin/chmod", "600", authorizedKeys);
        return null;
    }

    /// <summary>Runs a program to completion (bounded), with its output.</summary>
    public static (int ExitCode, string Output) Run(string program, IEnumerable<string> args, string? input = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        if (input is not null)
        {
            process.StandardInput.Write(input);
        }

        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true); // the process this call started
            process.WaitForExit();
            return (-1, "(killed: timeout)");
        }

        process.WaitForExit();
        return (process.ExitCode, output.Result + error.Result);
    }

    public static void Checked(string program, params string[] args)
    {
        (int code, string output) = Run(program, args);
        if (code != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited with {code}: {output}");
        }
    }
}

/// <summary>Keys made by ssh-keygen once per run, in a folder of their own (readable by root only, deleted at the end).</summary>
internal static class ExecKeys
{
    public const string Passphrase = "correct horse battery";

    private static readonly Lazy<string> s_folder = new(() =>
    {
        string path = Directory.CreateTempSubdirectory("ssh-exec-keys-").FullName;
        Keygen(Path.Combine(path, "id_authorized"), "ed25519", "");
        Keygen(Path.Combine(path, "id_encrypted"), "ed25519", Passphrase);
        Keygen(Path.Combine(path, "id_other"), "ed25519", "");
        Keygen(Path.Combine(path, "host_ed25519"), "ed25519", "");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        };
        return path;
    });

    /// <summary>An unencrypted key in the test user's authorized_keys.</summary>
    public static string Authorized => Path.Combine(s_folder.Value, "id_authorized");

    /// <summary>A key encrypted with <see cref="Passphrase"/>, in the test user's authorized_keys.</summary>
    public static string Encrypted => Path.Combine(s_folder.Value, "id_encrypted");

    /// <summary>A key the server does not know.</summary>
    public static string Other => Path.Combine(s_folder.Value, "id_other");

    /// <summary>The host key of the test servers.</summary>
    public static string Host => Path.Combine(s_folder.Value, "host_ed25519");

    /// <summary>The host key's SHA256 fingerprint, as ssh-keygen -l prints it.</summary>
    public static string HostFingerprint => SshPublicKey.Parse(File.ReadAllText(Host + ".pub")).GetFingerprint();

    private static void Keygen(string path, string type, string passphrase) =>
        ExecUser.Checked("ssh-keygen", "-q", "-t", type, "-N", passphrase, "-C", Path.GetFileName(path), "-f", path);
}

/// <summary>The sshd programs exec is tested against.</summary>
public enum SshdKind
{
    /// <summary>Debian's OpenSSH sshd (9.2).</summary>
    Debian,

    /// <summary>OpenSSH 10.5 under /opt/ssh-peers, where the interop peers are installed.</summary>
    OpenSsh10,
}

/// <summary>An sshd of our own on 127.0.0.1 that logs in <see cref="ExecUser"/>; disposing stops it (the process we started, with its children).</summary>
internal sealed class ExecSshd : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private ExecSshd(Process process, int port)
    {
        _process = process;
        Port = port;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Port { get; }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static string? Program(SshdKind kind)
    {
        string? path = kind == SshdKind.Debian ? CliRunner.FindProgram("sshd") : "/opt/ssh-peers/openssh/sbin/sshd";
        return path is not null && File.Exists(path) ? path : null;
    }

    /// <summary>Starts the server (a few tries: a free port may be taken before sshd binds it); ignored where sshd or root is missing.</summary>
    public static async Task<ExecSshd> StartAsync(SshdKind kind, string folder)
    {
        string program = Program(kind) ?? IgnoreMissing(kind);
        ExecUser.Ensure();
        try
        {
            Directory.CreateDirectory("/run/sshd"); // privilege separation
        }
        catch (UnauthorizedAccessException)
        {
            Assert.Ignore("sshd needs /run/sshd, which only root can create.");
        }

        for (int attempt = 1; ; attempt++)
        {
            int port = CliRunner.FreePort();
            string config = Path.Combine(folder, $"sshd_config_{kind}");
            File.WriteAllLines(config, [
                "ListenAddress 127.0.0.1",
                $"Port {port}",
                $"HostKey {ExecKeys.Host}",
                $"PidFile {Path.Combine(folder, $"sshd_{kind}.pid")}",
                "AuthorizedKeysFile .ssh/authorized_keys",
                "UsePAM no",
                "StrictModes no",
                "PasswordAuthentication yes",
                "KbdInteractiveAuthentication no",
                "LogLevel VERBOSE",
                "LoginGraceTime 60",
                "MaxStartups 100",
                .. kind == SshdKind.OpenSsh10 ? (string[])["PerSourcePenalties no"] : [],
            ]);
            var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string arg in new[] { "-D", "-e", "-f", config })
            {
                start.ArgumentList.Add(arg);
            }

            var sshd = new ExecSshd(Process.Start(start)!, port);
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(20) && !sshd._process.HasExited && !sshd.Log.Contains("Server listening on", StringComparison.Ordinal))
            {
                await Task.Delay(20);
            }

            if (sshd.Log.Contains("Server listening on", StringComparison.Ordinal))
            {
                return sshd;
            }

            sshd.Dispose();
            if (attempt == 3)
            {
                Assert.Fail($"{kind} sshd did not start:\n{sshd.Log}");
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true); // the sshd this test started, and its sessions
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Gone already.
        }

        _process.Dispose();
    }

    private static string IgnoreMissing(SshdKind kind)
    {
        Assert.Ignore($"{kind}'s sshd is not installed here.");
        return "";
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.Append(line).Append('\n');
            }
        }
    }
}

/// <summary>The outcome of one in-process exec: the exit code, the command's outputs as bytes, and the tool's own lines.</summary>
internal sealed record ExecResult(int ExitCode, byte[] Out, byte[] Err, string ToolError)
{
    public string OutText => Encoding.UTF8.GetString(Out);

    public string ErrText => Encoding.UTF8.GetString(Err);

    public string[] ToolErrorLines => ToolError.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{OutText}\n--- stderr\n{ErrText}\n--- the tool's stderr\n{ToolError}";
}

/// <summary>Runs exec in-process with streams of the test's own.</summary>
internal static class ExecRunner
{
    public static async Task<ExecResult> RunAsync(byte[]? input, params string[] args)
    {
        var output = new MemoryStream();
        var error = new MemoryStream();
        var toolOut = new StringWriter();
        var toolError = new StringWriter();
        using var stop = new CancellationTokenSource(CliRunner.Timeout);
        var streams = new StandardStreams(new MemoryStream(input ?? []), output, error);
        int code = await CliMain.RunAsync(args, new CliContext(TextWriter.Synchronized(toolOut), TextWriter.Synchronized(toolError), stop.Token, Streams: streams)).WaitAsync(CliRunner.Timeout);
        Assert.That(toolOut.ToString(), Is.Empty, "exec writes nothing of its own on stdout");
        return new ExecResult(code, output.ToArray(), error.ToArray(), toolError.ToString());
    }

    /// <summary>The SHA-256 of bytes, in lower-case hex.</summary>
    public static string Sha256(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));
}

/// <summary>
/// A TCP proxy on 127.0.0.1 to a server, for one connection; <see cref="Stall"/> makes it stop passing bytes either
/// way (the server looks alive at the TCP level but answers nothing).
/// </summary>
internal sealed class StallingProxy : IDisposable
{
    private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _stalled;

    public StallingProxy(int target)
    {
        _target = target;
        _listener.Start();
        _ = RunAsync();
    }

    public int Port => ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port;

    public void Stall() => _stalled = true;

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }

    private async Task RunAsync()
    {
        try
        {
            using System.Net.Sockets.Socket client = await _listener.AcceptSocketAsync(_stop.Token);
            using var server = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            await server.ConnectAsync(System.Net.IPAddress.Loopback, _target, _stop.Token);
            await Task.WhenAll(CopyAsync(client, server), CopyAsync(server, client));
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private async Task CopyAsync(System.Net.Sockets.Socket from, System.Net.Sockets.Socket to)
    {
        byte[] buffer = new byte[64 * 1024];
        while (true)
        {
            int read = await from.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, _stop.Token);
            if (read == 0)
            {
                to.Shutdown(System.Net.Sockets.SocketShutdown.Send);
                return;
            }

            while (_stalled)
            {
                // Bytes from now on are held (never passed on) until the test ends.
                await Task.Delay(Timeout.Infinite, _stop.Token);
            }

            await to.SendAsync(buffer.AsMemory(0, read), System.Net.Sockets.SocketFlags.None, _stop.Token);
        }
    }
}
