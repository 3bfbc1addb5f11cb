using System.Diagnostics;

namespace Ssh.Transport.Cli.Tests;

/// <summary>serve's session options on the command line, and how a session's program is started (no processes run here).</summary>
public class ServeOptionTests
{
    [TestCase(new[] { "serve", "--allow-exec" }, "serve: --allow-exec runs commands for logged-in users: give --authorized-keys or --password-file too")]
    [TestCase(new[] { "serve", "--allow-exec", "--subsystem", "sftp=/x" }, "serve: --allow-exec runs commands for logged-in users")]
    [TestCase(new[] { "serve", "--subsystem", "sftp=/x" }, "serve: --subsystem applies to logins: give --authorized-keys or --password-file too")]
    [TestCase(new[] { "serve", "--allow-tcp-forwarding" }, "serve: --allow-tcp-forwarding applies to logins")]
    [TestCase(new[] { "serve", "--password-file", "pw", "--gateway-ports" }, "serve: --gateway-ports applies to remote forwardings: give --allow-tcp-forwarding too")]
    [TestCase(new[] { "serve", "--password-file", "pw", "--subsystem", "sftp" }, "serve: --subsystem expects NAME=COMMAND (e.g. sftp=/usr/lib/openssh/sftp-server), not 'sftp'")]
    [TestCase(new[] { "serve", "--password-file", "pw", "--subsystem", "=/x" }, "serve: --subsystem expects NAME=COMMAND")]
    [TestCase(new[] { "serve", "--password-file", "pw", "--subsystem", "sftp= " }, "serve: --subsystem expects NAME=COMMAND")]
    [TestCase(new[] { "serve", "--password-file", "pw", "--subsystem", "s ftp=/x" }, "serve: --subsystem expects NAME=COMMAND")]
    [TestCase(new[] { "serve", "--password-file", "pw", "--subsystem", "sftp=/x", "--subsystem", "sftp=/y" }, "serve: --subsystem sftp is given more than once")]
    [TestCase(new[] { "serve", "--password-file", "pw", "--allow-exec=yes" }, "serve: option '--allow-exec' takes no value")]
    public async Task Session_option_mistakes_are_one_line_and_exit_2(string[] args, string expected)
    {
        CliResult result = await CliRunner.RunAsync(args);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ErrorLines[0], Does.StartWith("ssh-transport: ").And.Contain(expected));
        Assert.That(result.Out, Is.Empty);
    }

    [Test]
    public void Subsystems_are_name_equals_command()
    {
        Dictionary<string, string>? subsystems = ServeCommand.ParseSubsystems(["sftp=/usr/lib/openssh/sftp-server -l INFO", "echo= cat "], out string? error);
        Assert.That(error, Is.Null);
        Assert.That(subsystems, Is.EqualTo(new Dictionary<string, string> { ["sftp"] = "/usr/lib/openssh/sftp-server -l INFO", ["echo"] = "cat" }));
        Assert.That(ServeCommand.ParseSubsystems([], out _), Is.Empty);
    }

    [Test]
    public async Task Serve_says_at_start_what_sessions_may_do()
    {
        using var folder = new TempFolder();
        string passwords = folder.Write("passwords", "alice:right\n");
        await using (InProcessServe none = await InProcessServe.StartAsync(folder, null, "--password-file", passwords))
        {
            Assert.That(none.Out, Does.Contain("sessions: none (see --allow-exec, --subsystem, --allow-tcp-forwarding)\n"), "everything off by default");
        }

        await using InProcessServe all = await InProcessServe.StartAsync(folder, null, "--password-file", passwords,
            "--allow-exec", "--subsystem", "sftp=/usr/lib/openssh/sftp-server", "--allow-tcp-forwarding", "--gateway-ports");
        Assert.That(all.Out, Does.Match(@"sessions: exec and shell as \S+ \(\S+ in \S+\); subsystem sftp \(/usr/lib/openssh/sftp-server\); TCP forwarding \(remote forwardings on any address\)\n"));
    }

    [Test]
    public async Task Help_shows_an_ssh_into_serve()
    {
        CliResult help = await CliRunner.RunAsync("serve", "--help");
        Assert.That(help.ExitCode, Is.Zero, help.ToString());
        Assert.That(help.Out, Does.Contain("--allow-exec").And.Contain("--subsystem NAME=COMMAND").And.Contain("--allow-tcp-forwarding").And.Contain("--gateway-ports"));
        Assert.That(help.Out, Does.Contain("ssh -p 2222 ").And.Contain("'echo hi'"));
        Assert.That(help.Out, Does.Contain("no terminal is allocated"));
    }

    [Test]
    public void The_account_comes_from_its_passwd_line()
    {
        const string passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice,,,:/home/alice:/usr/bin/zsh\nnoshell:x:1001:1001::/home/n:\nbad line\n";
        Assert.That(ServeAccount.FromPasswd(passwd, "alice"), Is.EqualTo(new ServeAccount("alice", "/home/alice", "/usr/bin/zsh")));
        Assert.That(ServeAccount.FromPasswd(passwd, "noshell"), Is.EqualTo(new ServeAccount("noshell", "/home/n", "/bin/sh")), "sshd: no shell is /bin/sh");
        Assert.That(ServeAccount.FromPasswd(passwd, "bob"), Is.Null);
        Assert.That(ServeAccount.FromPasswd(passwd, "ali"), Is.Null);
    }

    [Test]
    public void Commands_run_with_the_login_shell_in_the_home_with_sshds_environment()
    {
        string home = Path.GetTempPath().TrimEnd('/');
        var account = new ServeAccount("alice", home, "/bin/sh") { IsSuperUser = false };

        ProcessStartInfo exec = account.StartInfo("echo hi");
        Assert.That((exec.FileName, exec.ArgumentList), Is.EqualTo(("/bin/sh", new[] { "-c", "echo hi" })));
        Assert.That(exec.WorkingDirectory, Is.EqualTo(home));
        Assert.That(exec.Environment, Is.EquivalentTo(new Dictionary<string, string?>
        {
            ["USER"] = "alice",
            ["LOGNAME"] = "alice",
            ["HOME"] = home,
            ["SHELL"] = "/bin/sh",
            ["PATH"] = "/usr/local/bin:/usr/bin:/bin:/usr/games",
        }), "nothing of serve's own environment");

        ProcessStartInfo shell = account.StartInfo(null);
        Assert.That(shell.ArgumentList, Is.EqualTo(new[] { "-l" }), "a login shell");

        var root = new ServeAccount("root", "/nonexistent/home", "/bin/sh") { IsSuperUser = true };
        ProcessStartInfo rooted = root.StartInfo("id");
        Assert.That(rooted.Environment["PATH"], Is.EqualTo("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "Debian sshd's superuser path");
        Assert.That(rooted.WorkingDirectory, Is.EqualTo("/"), "a missing home: the root directory, as sshd");
    }

    [TestCase("localhost", true)]
    [TestCase("LOCALHOST", true)]
    [TestCase("127.0.0.1", true)]
    [TestCase("127.1.2.3", true)]
    [TestCase("::1", true)]
    [TestCase("[::1]", true)]
    [TestCase("", false)]
    [TestCase("*", false)]
    [TestCase("0.0.0.0", false)]
    [TestCase("::", false)]
    [TestCase("192.0.2.1", false)]
    [TestCase("example.com", false)]
    public void Remote_forwardings_without_gateway_ports_listen_on_loopback(string address, bool loopback) =>
        Assert.That(ServeHandler.IsLoopback(address), Is.EqualTo(loopback));
}
