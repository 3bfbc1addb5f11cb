using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Ssh.Transport.Connection;

namespace Ssh.Transport.Cli.Tests;

/// <summary>
/// serve as a small real server, against real clients where they are installed: OpenSSH's ssh, sftp and scp (Debian's
/// and OpenSSH 10.5 under /opt/ssh-peers) and Dropbear's dbclient, each logging in with a key generated for the test;
/// commands and shells run as the account serve runs as (--allow-exec), sftp-server as a subsystem, ssh -L and -R
/// (--allow-tcp-forwarding), a forced command of authorized_keys. Missing programs ignore their tests.
/// </summary>
[NonParallelizable]
public partial class ServeSessionTests
{
    private const string ExecDisabled = "ssh-transport serve: command execution is disabled (--allow-exec)\n";
    private const string SftpServer = "/usr/lib/openssh/sftp-server";

    private TempFolder _folder = null!;

    public static IEnumerable<TestCaseData> OpenSsh() =>
        ServeClient.OpenSshFolders.Select(folder => new TestCaseData(folder).SetArgDisplayNames(folder == "/usr/bin" ? "Debian" : "OpenSSH10.5"));

    public static IEnumerable<TestCaseData> Dropbear()
    {
        yield return new TestCaseData("/usr/bin/dbclient", "/usr/bin/dropbearkey").SetArgDisplayNames("Debian");
        yield return new TestCaseData("/opt/ssh-peers/dropbear/bin/dbclient", "/opt/ssh-peers/dropbear/bin/dropbearkey").SetArgDisplayNames("Dropbear2026");
    }

    [SetUp]
    public void SetUp() => _folder = new TempFolder();

    [TearDown]
    public void TearDown() => _folder.Dispose();

    /// <summary>An ed25519 key pair made by ssh-keygen; returns the private key's file (the public one beside it, .pub).</summary>
    private async Task<string> KeygenAsync(string name = "id_ed25519")
    {
        string keygen = ServeClient.Require("/usr/bin", "ssh-keygen");
        string path = _folder.PathOf(name);
        ServeClientResult result = await ServeClient.RunAsync(keygen, ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        return path;
    }

    /// <summary>serve with an authorized_keys file of <paramref name="identity"/>'s public key (with <paramref name="keyOptions"/> in front) and more options.</summary>
    private async Task<InProcessServe> ServeAsync(string identity, string keyOptions, params string[] options)
    {
        string line = (keyOptions.Length == 0 ? "" : keyOptions + " ") + File.ReadAllText(identity + ".pub");
        string authorizedKeys = _folder.Write($"authorized_keys_{Guid.NewGuid():N}", line);
        return await InProcessServe.StartAsync(_folder, null, ["--authorized-keys", authorizedKeys, .. options]);
    }

    private static Task<ServeClientResult> SshAsync(string folder, InProcessServe serve, string identity, string? command, string? stdin = null,
        IReadOnlyDictionary<string, string>? environment = null, params string[] options)
    {
        string ssh = ServeClient.Require(folder, "ssh");
        List<string> args = ServeClient.OpenSshOptions("-p", serve.Port, identity, options);
        args.Add("tester@127.0.0.1");
        if (command is not null)
        {
            args.Add(command);
        }

        return ServeClient.RunAsync(ssh, args, stdin, environment);
    }

    private static Task<string> ClosedAsync(InProcessServe serve, int connections = 1) =>
        serve.WaitForOutputAsync(o => o.Split('\n').Count(l => l.Contains(" closed after ", StringComparison.Ordinal)) >= connections);

    // --- exec and shell

    [TestCaseSource(nameof(OpenSsh))]
    public async Task Ssh_runs_commands_with_stdin_stdout_stderr_and_exit_status_carried(string folder)
    {
        string identity = await KeygenAsync();
        await using InProcessServe serve = await ServeAsync(identity, "", "--allow-exec");
        Assert.That(serve.Out, Does.Contain("sessions: exec and shell as "));

        ServeClientResult hi = await SshAsync(folder, serve, identity, "echo hi");
        Assert.That((hi.ExitCode, hi.Out, hi.Error), Is.EqualTo((0, "hi\n", "")), hi.ToString());

        ServeClientResult three = await SshAsync(folder, serve, identity, "exit 3");
        Assert.That(three.ExitCode, Is.EqualTo(3), three.ToString());

        ServeClientResult apart = await SshAsync(folder, serve, identity, "echo out; echo err >&2; exit 1");
        Assert.That((apart.ExitCode, apart.Out, apart.Error), Is.EqualTo((1, "out\n", "err\n")), "stderr apart");

        ServeClientResult piped = await SshAsync(folder, serve, identity, "tr a-z A-Z", stdin: "hello\nworld\n");
        Assert.That((piped.ExitCode, piped.Out), Is.EqualTo((0, "HELLO\nWORLD\n")), piped.ToString());

        string log = await ClosedAsync(serve, 4);
        Assert.That(log, Does.Contain(" exec 'echo hi' for tester\n"));
        Assert.That(log, Does.Contain(" exec 'echo hi' for tester ended: exit status 0\n"));
        Assert.That(log, Does.Contain(" exec 'exit 3' for tester ended: exit status 3\n"));
    }

    /// <summary>
    /// --inline-io: the transport, the channels and the process's pipes continue on the socket threads. Megabytes each
    /// way and on stderr, through a command that reads while it writes, arrive whole.
    /// </summary>
    [TestCaseSource(nameof(OpenSsh))]
    public async Task With_inline_io_a_command_carries_megabytes_both_ways_and_on_stderr(string folder)
    {
        string identity = await KeygenAsync();
        await using InProcessServe serve = await ServeAsync(identity, "", "--allow-exec", "--inline-io");
        string input = Convert.ToHexString(RandomNumberGenerator.GetBytes(2 * 1024 * 1024)) + "\n"; // 4 MiB of text
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(input)));

        ServeClientResult result = await SshAsync(folder, serve, identity, "tee /dev/stderr | sha256sum; head -c 6000000 /dev/zero | tr '\\0' z", stdin: input);
        Assert.That(result.ExitCode, Is.Zero, result.Error.Length < 200 ? result.Error : result.Error[..200]);
        Assert.That(result.Out, Is.EqualTo($"{hash}  -\n" + new string('z', 6000000) + "\n"), "the hash, then the zs (the client's reader ends each line with a newline)");
        Assert.That(result.Error, Is.EqualTo(input), "stderr carried whole");
    }

    /// <summary>
    /// The same as a real process, where --inline-io also makes .NET's socket completions inline (set before the first
    /// socket): 16 MiB up through a command that hashes it, and back down.
    /// </summary>
    [Test]
    public async Task With_inline_io_as_a_process_a_command_carries_16_MiB_each_way()
    {
        string identity = await KeygenAsync();
        string authorizedKeys = _folder.Write("authorized_keys_child", File.ReadAllText(identity + ".pub"));
        await using ChildProcess serve = CliRunner.StartChild("serve", "--listen", "127.0.0.1:0", "--authorized-keys", authorizedKeys, "--allow-exec", "--inline-io");
        string output = await serve.WaitForOutputAsync(o => CliRunner.ListeningPort(o) is not null, CliRunner.Timeout);
        int port = CliRunner.ListeningPort(output)!.Value;

        string input = Convert.ToHexString(RandomNumberGenerator.GetBytes(8 * 1024 * 1024)) + "\n"; // 16 MiB of text
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(input)));
        List<string> args = ServeClient.OpenSshOptions("-p", port, identity);
        args.AddRange(["tester@127.0.0.1", "tee /tmp/ssh-transport-inline-$$ | sha256sum; cat /tmp/ssh-transport-inline-$$; rm -f /tmp/ssh-transport-inline-$$"]);
        ServeClientResult result = await ServeClient.RunAsync(ServeClient.Require("/usr/bin", "ssh"), args, input);
        Assert.That(result.ExitCode, Is.Zero, result.Error);
        Assert.That(result.Out, Is.EqualTo($"{hash}  -\n" + input));
    }

    [TestCaseSource(nameof(OpenSsh))]
    public async Task Ssh_without_a_command_runs_the_login_shell_on_pipes(string folder)
    {
        string identity = await KeygenAsync();
        await using InProcessServe serve = await ServeAsync(identity, "", "--allow-exec");

        // -T: no terminal requested. The script comes on the shell's stdin.
        ServeClientResult shell = await SshAsync(folder, serve, identity, null, stdin: "echo \"shell in $PWD\"\nexit 4\n", options: ["-T"]);
        Assert.That(shell.ExitCode, Is.EqualTo(4), shell.ToString());
        Assert.That(shell.Out, Does.EndWith($"shell in {Account().Home}\n"), "a login shell's profile may print more before");
        string log = await ClosedAsync(serve);
        Assert.That(log, Does.Contain(" shell for tester ended: exit status 4"));
    }

    [Test]
    public async Task A_command_gets_sshds_environment_in_the_accounts_home_and_nothing_of_serves()
    {
        string identity = await KeygenAsync();
        (string user, string home, string shell) = Account();
        const string leak = "SSH_TRANSPORT_SERVE_TEST_LEAK";
        Environment.SetEnvironmentVariable(leak, "leaked");
        try
        {
            await using InProcessServe serve = await ServeAsync(identity, "", "--allow-exec");
            const string command = "printf '%s\\n' \"$SSH_CONNECTION\" \"$SSH_CLIENT\" \"$USER\" \"$LOGNAME\" \"$HOME\" \"$PWD\" \"$SHELL\" " +
                "\"${LANG-unset}\" \"${LC_TIME-unset}\" \"${SSH_ORIGINAL_COMMAND-unset}\" \"${" + leak + "-unset}\" \"$PATH\"";
            var environment = new Dictionary<string, string> { ["LANG"] = "C.UTF-8", ["LC_TIME"] = "C", ["NOT_ACCEPTED"] = "x" };
            ServeClientResult result = await SshAsync("/usr/bin", serve, identity, command, environment: environment, options: ["-o", "SendEnv=LANG LC_TIME NOT_ACCEPTED"]);
            Assert.That(result.ExitCode, Is.Zero, result.ToString());
            string[] lines = result.Out.Split('\n');
            Assert.That(lines, Has.Length.EqualTo(13), result.ToString());
            Match connection = Regex.Match(lines[0], @"^127\.0\.0\.1 (\d+) 127\.0\.0\.1 (\d+)$");
            Assert.That(connection.Success, Is.True, lines[0]);
            Assert.That(connection.Groups[2].Value, Is.EqualTo(serve.Port.ToString(CultureInfo.InvariantCulture)));
            Assert.That(lines[1], Is.EqualTo($"127.0.0.1 {connection.Groups[1].Value} {serve.Port}"), "SSH_CLIENT");
            Assert.That(lines[2..7], Is.EqualTo(new[] { user, user, home, home, shell }), "USER, LOGNAME, HOME, PWD, SHELL");
            Assert.That(lines[7..11], Is.EqualTo(new[] { "C.UTF-8", "C", "unset", "unset" }), "LANG and LC_* accepted; no SSH_ORIGINAL_COMMAND; serve's own environment is not passed on");
            Assert.That(lines[11].Split(':'), Does.Contain("/usr/bin").And.Contain("/bin"), "PATH");
        }
        finally
        {
            Environment.SetEnvironmentVariable(leak, null);
        }
    }

    [TestCaseSource(nameof(OpenSsh))]
    public async Task Without_allow_exec_commands_and_shells_get_one_line_on_stderr_and_exit_status_1(string folder)
    {
        string identity = await KeygenAsync();
        await using InProcessServe serve = await ServeAsync(identity, "");
        Assert.That(serve.Out, Does.Contain("sessions: none"));

        ServeClientResult exec = await SshAsync(folder, serve, identity, "echo hi");
        Assert.That((exec.ExitCode, exec.Out, exec.Error), Is.EqualTo((1, "", ExecDisabled)), exec.ToString());

        ServeClientResult shell = await SshAsync(folder, serve, identity, null, options: ["-T"]);
        Assert.That((shell.ExitCode, shell.Out, shell.Error), Is.EqualTo((1, "", ExecDisabled)), shell.ToString());

        string log = await ClosedAsync(serve, 2);
        Assert.That(log, Does.Contain(" refused exec 'echo hi' for tester: command execution is disabled (--allow-exec)"));
        Assert.That(log, Does.Contain(" refused shell for tester: command execution is disabled (--allow-exec)"));
    }

    [Test]
    public async Task A_pty_request_is_accepted_without_a_terminal()
    {
        string identity = await KeygenAsync();
        await using InProcessServe serve = await ServeAsync(identity, "", "--allow-exec");

        // -tt forces a pty-req: accepted, but the command still sees pipes.
        ServeClientResult result = await SshAsync("/usr/bin", serve, identity, "test -t 0 && echo terminal || echo pipes", options: ["-tt"]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out.Replace("\r", "", StringComparison.Ordinal), Is.EqualTo("pipes\n"), result.ToString());
        string log = await ClosedAsync(serve);
        Assert.That(log, Does.Contain("(pty-req ").And.Contain(": no terminal allocated)"));
    }

    [TestCaseSource(nameof(OpenSsh))]
    public async Task A_forced_command_runs_instead_of_the_clients_with_SSH_ORIGINAL_COMMAND(string folder)
    {
        string identity = await KeygenAsync();
        await using InProcessServe serve = await ServeAsync(identity, "command=\"echo forced:$SSH_ORIGINAL_COMMAND; exit 5\"", "--allow-exec");

        ServeClientResult result = await SshAsync(folder, serve, identity, "echo hi");
        Assert.That((result.ExitCode, result.Out), Is.EqualTo((5, "forced:echo hi\n")), result.ToString());
        string log = await ClosedAsync(serve);
        Assert.That(log, Does.Contain(" forced command 'echo forced:$SSH_ORIGINAL_COMMAND; exit 5' (client: 'echo hi') for tester ended: exit status 5"));
    }

    [Test]
    public async Task A_forced_command_without_allow_exec_is_refused_too()
    {
        string identity = await KeygenAsync();
        await using InProcessServe serve = await ServeAsync(identity, "command=\"echo forced\"");
        ServeClientResult result = await SshAsync("/usr/bin", serve, identity, "echo hi");
        Assert.That((result.ExitCode, result.Out, result.Error), Is.EqualTo((1, "", ExecDisabled)), result.ToString());
    }

    [Test]
    public async Task Stopping_serve_ends_a_running_command_and_kills_its_process()
    {
        string passwords = _folder.Write("passwords", "alice:right\n");
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--password-file", passwords, "--allow-exec");
        var settings = new SshClientSettings("127.0.0.1")
        {
            Port = serve.Port,
            UserName = "alice",
            Password = "right",
            HostKeyVerifier = (key, _) => ValueTask.FromResult(key == serve.HostKey.PublicKey),
            UseAgent = false,
        };
        using var timeout = new CancellationTokenSource(ServeClient.Timeout);
        await using SshClient client = await SshClient.ConnectAsync(settings, timeout.Token);
        await using SshClientSession session = await client.ExecuteAsync("echo $$; exec sleep 600", cancellationToken: timeout.Token);
        int pid = await ReadPidAsync(session, timeout.Token);
        using Process sleeping = Process.GetProcessById(pid);

        Assert.That(await serve.StopAsync(), Is.Zero, serve.Out);
        await sleeping.WaitForExitAsync(timeout.Token);
        Assert.That(serve.Out, Does.Contain(" exec 'echo $$; exec sleep 600' for alice ended: the session was closed before the process exited (killed)"));
        Assert.That(serve.Out, Does.Contain("server disconnected (ByApplication)"));
    }

    private static async Task<int> ReadPidAsync(SshClientSession session, CancellationToken cancellationToken)
    {
        var text = new System.Text.StringBuilder();
        while (true)
        {
            System.IO.Pipelines.ReadResult read = await session.StandardOutput.ReadAsync(cancellationToken);
            foreach (ReadOnlyMemory<byte> segment in read.Buffer)
            {
                text.Append(System.Text.Encoding.ASCII.GetString(segment.Span));
            }

            session.StandardOutput.AdvanceTo(read.Buffer.End);
            if (text.ToString().IndexOf('\n', StringComparison.Ordinal) is int end and >= 0)
            {
                return int.Parse(text.ToString()[..end], CultureInfo.InvariantCulture);
            }

            Assert.That(read.IsCompleted, Is.False, "the command ended before printing its process id: " + text);
        }
    }

    // --- subsystems: sftp and scp through sftp-server

    [TestCaseSource(nameof(OpenSsh))]
    public async Task Sftp_puts_and_gets_a_file_through_the_sftp_subsystem_without_allow_exec(string folder)
    {
        string sftp = ServeClient.Require(folder, "sftp");
        RequireSftpServer();
        string identity = await KeygenAsync();
        await using InProcessServe serve = await ServeAsync(identity, "", "--subsystem", $"sftp={SftpServer}");
        Assert.That(serve.Out, Does.Contain($"sessions: subsystem sftp ({SftpServer})"));
        byte[] data = RandomNumberGenerator.GetBytes(300_000);
        string local = _folder.PathOf("local.bin");
        File.WriteAllBytes(local, data);
        string remote = _folder.PathOf("remote.bin");
        string back = _folder.PathOf("back.bin");
        string batch = _folder.Write("batch", $"put {local} {remote}\nget {remote} {back}\n");

        List<string> args = ServeClient.OpenSshOptions("-P", serve.Port, identity, "-S", Path.Combine(folder, "ssh"), "-b", batch);
        args.Add("tester@127.0.0.1");
        ServeClientResult result = await ServeClient.RunAsync(sftp, args);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(File.ReadAllBytes(remote), Is.EqualTo(data), "uploaded");
        Assert.That(File.ReadAllBytes(back), Is.EqualTo(data), "downloaded");
        string log = await ClosedAsync(serve);
        Assert.That(log, Does.Contain(" subsystem sftp for tester ended: exit status 0"));
    }

    [TestCaseSource(nameof(OpenSsh))]
    public async Task Scp_copies_a_file_up_and_down_through_the_sftp_subsystem(string folder)
    {
        string scp = ServeClient.Require(folder, "scp");
        RequireSftpServer();
        string identity = await KeygenAsync();
        await using InProcessServe serve = await ServeAsync(identity, "", "--subsystem", $"sftp={SftpServer}");
        byte[] data = RandomNumberGenerator.GetBytes(200_000);
        string local = _folder.PathOf("local.bin");
        File.WriteAllBytes(local, data);
        string remote = _folder.PathOf("remote.bin");
        string back = _folder.PathOf("back.bin");
        List<string> options = ServeClient.OpenSshOptions("-P", serve.Port, identity, "-S", Path.Combine(folder, "ssh"));

        ServeClientResult up = await ServeClient.RunAsync(scp, [.. options, local, $"tester@127.0.0.1:{remote}"]);
        Assert.That(up.ExitCode, Is.Zero, up.ToString());
        ServeClientResult down = await ServeClient.RunAsync(scp, [.. options, $"tester@127.0.0.1:{remote}", back]);
        Assert.That(down.ExitCode, Is.Zero, down.ToString());

        Assert.That(File.ReadAllBytes(remote), Is.EqualTo(data), "uploaded");
        Assert.That(File.ReadAllBytes(back), Is.EqualTo(data), "downloaded");
        string log = await ClosedAsync(serve, 2);
        Assert.That(log.Split('\n').Count(l => l.EndsWith(" subsystem sftp for tester", StringComparison.Ordinal)), Is.EqualTo(2), "OpenSSH 9's scp speaks SFTP");
    }

    [Test]
    public async Task A_subsystem_that_is_not_configured_gets_one_line_and_exit_status_1()
    {
        string identity = await KeygenAsync();
        await using InProcessServe serve = await ServeAsync(identity, "", "--allow-exec");
        ServeClientResult result = await SshAsync("/usr/bin", serve, identity, "sftp", options: ["-s"]);
        Assert.That((result.ExitCode, result.Error), Is.EqualTo((1, "ssh-transport serve: subsystem 'sftp' is not configured (--subsystem)\n")), result.ToString());
    }

    private static void RequireSftpServer()
    {
        if (!File.Exists(SftpServer))
        {
            Assert.Ignore($"{SftpServer} is not installed (Debian's openssh-sftp-server)");
        }
    }

    // --- forwarding

    [TestCaseSource(nameof(OpenSsh))]
    public async Task Ssh_L_reaches_a_local_echo_server_with_allow_tcp_forwarding(string folder)
    {
        string ssh = ServeClient.Require(folder, "ssh");
        string identity = await KeygenAsync();
        await using var echo = new ServeEchoServer();
        await using InProcessServe serve = await ServeAsync(identity, "", "--allow-tcp-forwarding");
        int local = CliRunner.FreePort();
        List<string> args = ServeClient.OpenSshOptions("-p", serve.Port, identity, "-o", "ExitOnForwardFailure=yes", "-N", "-L", $"127.0.0.1:{local}:127.0.0.1:{echo.Port}");
        args.Add("tester@127.0.0.1");
        using ServeClient client = ServeClient.Start(ssh, args);

        using TcpClient connection = await ServeEchoServer.ConnectWhenListeningAsync(local, client);
        byte[] data = RandomNumberGenerator.GetBytes(256 * 1024);
        Assert.That(await ServeEchoServer.ThroughAsync(connection, data), Is.EqualTo(data), client.Error);
        string log = await serve.WaitForOutputAsync(o => o.Contains($" direct-tcpip to 127.0.0.1:{echo.Port} for tester", StringComparison.Ordinal));
        Assert.That(log, Does.Not.Contain("refused"));
    }

    [Test]
    public async Task Ssh_L_is_refused_without_allow_tcp_forwarding()
    {
        string ssh = ServeClient.Require("/usr/bin", "ssh");
        string identity = await KeygenAsync();
        await using var echo = new ServeEchoServer();
        await using InProcessServe serve = await ServeAsync(identity, "", "--allow-exec");
        int local = CliRunner.FreePort();
        List<string> args = ServeClient.OpenSshOptions("-p", serve.Port, identity, "-o", "LogLevel=INFO", "-N", "-L", $"127.0.0.1:{local}:127.0.0.1:{echo.Port}");
        args.Add("tester@127.0.0.1");
        using ServeClient client = ServeClient.Start(ssh, args);

        // ssh listens, then closes the connection when serve refuses the channel: nothing comes back.
        using TcpClient connection = await ServeEchoServer.ConnectWhenListeningAsync(local, client);
        byte[] back = await ServeEchoServer.ThroughAsync(connection, [1, 2, 3]);
        Assert.That(back, Is.Empty);
        await serve.WaitForOutputAsync(o => o.Contains(
            $" refused direct-tcpip to 127.0.0.1:{echo.Port} for tester: TCP forwarding is disabled (--allow-tcp-forwarding)", StringComparison.Ordinal));
    }

    [Test]
    public async Task Ssh_R_listens_on_loopback_and_elsewhere_only_with_gateway_ports()
    {
        string ssh = ServeClient.Require("/usr/bin", "ssh");
        string identity = await KeygenAsync();
        await using var echo = new ServeEchoServer();
        await using InProcessServe serve = await ServeAsync(identity, "", "--allow-tcp-forwarding");

        List<string> args = ServeClient.OpenSshOptions("-p", serve.Port, identity, "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=INFO", "-N", "-R", $"0:127.0.0.1:{echo.Port}");
        args.Add("tester@127.0.0.1");
        using (ServeClient client = ServeClient.Start(ssh, args))
        {
            int port = await AllocatedPortAsync(client);
            using var connection = new TcpClient();
            await connection.ConnectAsync(IPAddress.Loopback, port).WaitAsync(ServeClient.Timeout);
            byte[] data = RandomNumberGenerator.GetBytes(64 * 1024);
            Assert.That(await ServeEchoServer.ThroughAsync(connection, data), Is.EqualTo(data), client.Error);
        }

        // Every address: refused without --gateway-ports (sshd would bind loopback instead; serve says no).
        List<string> everywhere = ServeClient.OpenSshOptions("-p", serve.Port, identity, "-o", "ExitOnForwardFailure=yes", "-N", "-R", $"0.0.0.0:0:127.0.0.1:{echo.Port}");
        everywhere.Add("tester@127.0.0.1");
        ServeClientResult refused = await ServeClient.RunAsync(ssh, everywhere);
        Assert.That(refused.ExitCode, Is.EqualTo(255), refused.ToString());
        Assert.That(refused.Error, Does.Contain("remote port forwarding failed"));
        await serve.WaitForOutputAsync(o => o.Contains(" refused tcpip-forward 0.0.0.0:0 for tester: not a loopback address (--gateway-ports allows others)", StringComparison.Ordinal));
    }

    private static async Task<int> AllocatedPortAsync(ServeClient client)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < ServeClient.Timeout)
        {
            Match allocated = AllocatedPort().Match(client.Error);
            if (allocated.Success)
            {
                return int.Parse(allocated.Groups[1].Value, CultureInfo.InvariantCulture);
            }

            Assert.That(client.HasExited, Is.False, client.Error);
            await Task.Delay(50);
        }

        Assert.Fail("ssh did not report the allocated port: " + client.Error);
        return 0;
    }

    [GeneratedRegex(@"Allocated port (\d+) ")]
    private static partial Regex AllocatedPort();

    // --- Dropbear

    [TestCaseSource(nameof(Dropbear))]
    public async Task Dbclient_runs_echo_hi(string dbclient, string dropbearkey)
    {
        if (!File.Exists(dbclient) || !File.Exists(dropbearkey))
        {
            Assert.Ignore($"{dbclient} is not installed");
        }

        string key = _folder.PathOf("dropbear_key");
        ServeClientResult made = await ServeClient.RunAsync(dropbearkey, ["-t", "ed25519", "-f", key]);
        Assert.That(made.ExitCode, Is.Zero, made.ToString());
        ServeClientResult shown = await ServeClient.RunAsync(dropbearkey, ["-y", "-f", key]);
        string publicLine = shown.Out.Split('\n').First(line => line.StartsWith("ssh-ed25519 ", StringComparison.Ordinal));
        string authorizedKeys = _folder.Write("authorized_keys", publicLine + "\n");
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--authorized-keys", authorizedKeys, "--allow-exec");

        string[] options = ["-y", "-y", "-i", key, "-p", serve.Port.ToString(CultureInfo.InvariantCulture), "tester@127.0.0.1"];
        ServeClientResult hi = await ServeClient.RunAsync(dbclient, [.. options, "echo hi"]);
        Assert.That((hi.ExitCode, hi.Out), Is.EqualTo((0, "hi\n")), hi.ToString());
        ServeClientResult three = await ServeClient.RunAsync(dbclient, [.. options, "echo err >&2; exit 3"]);
        Assert.That((three.ExitCode, three.Error.Contains("err", StringComparison.Ordinal)), Is.EqualTo((3, true)), three.ToString());
    }

    /// <summary>The account serve runs as, from the system's own tools: id -un and getent passwd.</summary>
    private static (string User, string Home, string Shell) Account()
    {
        string id = Run("id", "-un").Trim();
        string[] fields = Run("getent", "passwd", id).Trim().Split(':');
        Assert.That(fields, Has.Length.EqualTo(7));
        return (id, fields[5], fields[6].Length == 0 ? "/bin/sh" : fields[6]);

        static string Run(string program, params string[] args)
        {
            string? path = CliRunner.FindProgram(program);
            if (path is null)
            {
                Assert.Ignore($"{program} is not installed");
            }

            var start = new ProcessStartInfo(path!) { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            using Process process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd();
            Assert.That(process.WaitForExit(30_000), Is.True, program);
            return output;
        }
    }
}
