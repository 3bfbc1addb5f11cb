using System.CommandLine;

namespace Ssh.Transport.Cli.Tests;

/// <summary>exec's command line: defaults, USER@HOST, repeated options, COMMAND's words as ssh takes them, and mistakes (exit 2).</summary>
public class ExecArgumentTests
{
    [Test]
    public void Defaults()
    {
        ParseResult result = Parse("exec", "example.com", "uptime");
        Assert.That(result.Errors, Is.Empty);
        Assert.That(result.GetValue<string?>("HOST"), Is.EqualTo("example.com"));
        Assert.That(result.GetValue<string[]>("COMMAND"), Is.EqualTo(new[] { "uptime" }));
        Assert.That(result.GetValue<int>("--port"), Is.EqualTo(22));
        Assert.That(result.GetValue<string?>("--user"), Is.Null, "the local user, unless HOST says USER@");
        Assert.That(result.GetValue<string[]>("--identity"), Is.Empty, "the default key files");
        Assert.That(result.GetValue<string?>("--password-file"), Is.Null);
        Assert.That(result.GetValue<string?>("--passphrase-file"), Is.Null);
        Assert.That(result.GetValue<string?>("--known-hosts"), Is.Null, "~/.ssh/known_hosts");
        Assert.That(result.GetValue<bool>("--accept-any-host-key"), Is.False);
        Assert.That(result.GetValue<double>("--timeout"), Is.EqualTo(30));
        Assert.That(result.GetValue<double>("--keepalive"), Is.Zero);
        Assert.That(result.GetValue<int>("--keepalive-count"), Is.EqualTo(3), "ssh's ServerAliveCountMax");
        Assert.That(result.GetValue<long?>("--rekey-bytes"), Is.Null);
    }

    [Test]
    public void Options_take_their_values_and_identity_files_repeat_in_order()
    {
        ParseResult result = Parse("exec", "-p", "2222", "-l", "alice", "-i", "k1", "--identity=k2", "-i", "k3", "--password-file", "pw",
            "--passphrase-file", "pp", "--known-hosts", "kh", "--cipher", "aes256-gcm@openssh.com", "--rekey-bytes", "1M", "--timeout", "2.5",
            "--keepalive", "15", "--keepalive-count", "4", "example.com", "true");
        Assert.That(result.Errors, Is.Empty);
        Assert.That(result.GetValue<int>("--port"), Is.EqualTo(2222));
        Assert.That(result.GetValue<string?>("--user"), Is.EqualTo("alice"));
        Assert.That(result.GetValue<string[]>("--identity"), Is.EqualTo(new[] { "k1", "k2", "k3" }));
        Assert.That(result.GetValue<string?>("--password-file"), Is.EqualTo("pw"));
        Assert.That(result.GetValue<string?>("--passphrase-file"), Is.EqualTo("pp"));
        Assert.That(result.GetValue<string?>("--known-hosts"), Is.EqualTo("kh"));
        Assert.That(result.GetValue<long?>("--rekey-bytes"), Is.EqualTo(1L << 20));
        Assert.That(result.GetValue<double>("--timeout"), Is.EqualTo(2.5));
        Assert.That(result.GetValue<double>("--keepalive"), Is.EqualTo(15));
        Assert.That(result.GetValue<int>("--keepalive-count"), Is.EqualTo(4));
    }

    [TestCase(new[] { "exec", "host", "ls", "-la" }, new[] { "ls", "-la" })]
    [TestCase(new[] { "exec", "host", "ls", "--help" }, new[] { "ls", "--help" })]
    [TestCase(new[] { "exec", "-p", "2", "host", "-i", "key", "grep", "-p", "3", "--", "x" }, new[] { "grep", "-p", "3", "--", "x" })]
    [TestCase(new[] { "exec", "--port=2", "host", "--accept-any-host-key", "echo", "-i", "k" }, new[] { "echo", "-i", "k" })]
    [TestCase(new[] { "exec", "--", "host", "ls", "-l" }, new[] { "ls", "-l" })]
    [TestCase(new[] { "exec", "host", "sh", "-c", "echo a; echo b" }, new[] { "sh", "-c", "echo a; echo b" })]
    [TestCase(new[] { "exec", "host", "--", "-x", "y" }, new[] { "-x", "y" })]
    [TestCase(new[] { "exec", "host", "ls", "--", "-x" }, new[] { "ls", "--", "-x" })]
    public void From_the_first_command_word_on_every_word_is_the_commands(string[] args, string[] command)
    {
        ParseResult result = Parse(args);
        Assert.That(result.Errors, Is.Empty, string.Join("; ", result.Errors.Select(e => e.Message)));
        Assert.That(result.UnmatchedTokens, Is.Empty);
        Assert.That(result.GetValue<string?>("HOST"), Is.EqualTo("host"));
        Assert.That(result.GetValue<string[]>("COMMAND"), Is.EqualTo(command));
    }

    [Test]
    public void Options_between_host_and_command_are_exec_options()
    {
        ParseResult result = Parse("exec", "host", "-p", "2222", "-i", "k", "uname", "-a");
        Assert.That(result.Errors, Is.Empty);
        Assert.That(result.GetValue<int>("--port"), Is.EqualTo(2222));
        Assert.That(result.GetValue<string[]>("--identity"), Is.EqualTo(new[] { "k" }));
        Assert.That(result.GetValue<string[]>("COMMAND"), Is.EqualTo(new[] { "uname", "-a" }));
    }

    [Test]
    public void Other_verbs_are_parsed_as_before()
    {
        string[] args = ["probe", "host", "-p", "2222"];
        CliMain.CreateRootCommand(new CliContext(TextWriter.Null, TextWriter.Null, CancellationToken.None), out IReadOnlyList<VerbCommand> verbs);
        Assert.That(VerbCommand.MarkVerbatimWords(args, verbs), Is.SameAs(args));
        Assert.That(VerbCommand.MarkVerbatimWords(["exec", "-p", "2", "host"], verbs), Is.EqualTo(new[] { "exec", "-p", "2", "host" }));
        Assert.That(VerbCommand.MarkVerbatimWords(["exec", "-p", "2", "host", "ls"], verbs), Is.EqualTo(new[] { "exec", "-p", "2", "host", "--", "ls" }));
    }

    [TestCase("alice@example.com", null, "alice", "example.com")]
    [TestCase("a@b@example.com", null, "a@b", "example.com")]
    [TestCase("bob@[::1]", null, "bob", "::1")]
    [TestCase("[::1]", "carol", "carol", "::1")]
    [TestCase("::1", "carol", "carol", "::1")]
    [TestCase("alice@example.com", "alice", "alice", "example.com")]
    public void User_at_host(string target, string? login, string user, string host)
    {
        Assert.That(ExecCommand.ParseTarget(target, login, out string userName, out string hostName), Is.Null);
        Assert.That(userName, Is.EqualTo(user));
        Assert.That(hostName, Is.EqualTo(host));
    }

    [Test]
    public void Without_user_the_local_user()
    {
        Assert.That(ExecCommand.ParseTarget("example.com", null, out string userName, out _), Is.Null);
        Assert.That(userName, Is.EqualTo(Environment.UserName));
    }

    [TestCase(new[] { "exec" }, "exec: missing HOST")]
    [TestCase(new[] { "exec", "example.com" }, "exec: missing COMMAND")]
    [TestCase(new[] { "exec", "-p", "0", "example.com", "true" }, "exec: --port expects a whole number from 1 to 65535, not '0'")]
    [TestCase(new[] { "exec", "-l", "bob", "alice@example.com", "true" }, "exec: -l bob and alice@example.com name different users")]
    [TestCase(new[] { "exec", "@example.com", "true" }, "exec: '@example.com' has an empty user name")]
    [TestCase(new[] { "exec", "alice@", "true" }, "exec: 'alice@' has no host name")]
    [TestCase(new[] { "exec", "--bogus", "example.com", "true" }, "exec: unknown option '--bogus'")]
    [TestCase(new[] { "exec", "example.com", "--bogus", "true" }, "exec: unknown option '--bogus'")]
    [TestCase(new[] { "exec", "-i", "example.com" }, "exec: missing HOST")]
    [TestCase(new[] { "exec", "-x", "example.com", "true" }, "exec: unknown option '-x'")]
    [TestCase(new[] { "exec", "example.com", "--bogus=1", "true" }, "exec: unknown option '--bogus'")]
    [TestCase(new[] { "exec", "--known-hosts", "kh", "--accept-any-host-key", "example.com", "true" }, "cannot be used together")]
    [TestCase(new[] { "exec", "--keepalive-count", "5", "example.com", "true" }, "exec: --keepalive-count applies to keepalives: give --keepalive SECONDS too")]
    [TestCase(new[] { "exec", "--keepalive", "soon", "example.com", "true" }, "exec: --keepalive expects a number of seconds")]
    [TestCase(new[] { "exec", "--timeout", "0", "example.com", "true" }, "exec: --timeout expects a number of seconds")]
    [TestCase(new[] { "exec", "--rekey-bytes", "100", "example.com", "true" }, "exec: --rekey-bytes expects a byte count of at least 16384")]
    [TestCase(new[] { "exec", "--cipher", "rot13", "example.com", "true" }, "exec: --cipher: unknown algorithm 'rot13'; supported: ")]
    [TestCase(new[] { "exec", "-p", "22", "-p", "23", "example.com", "true" }, "exec: option '--port' given more than once")]
    [TestCase(new[] { "exec", "-i", "/nonexistent/key", "192.0.2.1", "true" }, "exec: cannot use -i /nonexistent/key: could not find")]
    [TestCase(new[] { "exec", "--password-file", "/nonexistent/pw", "192.0.2.1", "true" }, "exec: cannot use --password-file /nonexistent/pw: could not find")]
    [TestCase(new[] { "exec", "--passphrase-file", "/nonexistent/pp", "192.0.2.1", "true" }, "exec: cannot use --passphrase-file /nonexistent/pp: could not find")]
    public async Task Mistakes_are_one_line_and_exit_2_before_any_connection(string[] args, string expected)
    {
        // 192.0.2.1 (TEST-NET-1) would not answer: a mistake found while connecting would hang past the bound below.
        CliResult result = await CliRunner.RunAsync(args);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ErrorLines[0], Does.StartWith("ssh-transport: ").And.Contain(expected));
        Assert.That(result.Out, Is.Empty);
    }

    [Test]
    public async Task Files_that_are_not_keys_or_are_empty_are_mistakes()
    {
        using var folder = new TempFolder();
        string notAKey = folder.Write("not-a-key", "hello\n");
        string empty = folder.Write("empty", "");
        CliResult key = await CliRunner.RunAsync("exec", "-i", notAKey, "192.0.2.1", "true");
        Assert.That(key.ExitCode, Is.EqualTo(2), key.ToString());
        Assert.That(key.ErrorLines, Has.Length.EqualTo(1));
        Assert.That(key.ErrorLines[0], Does.StartWith($"ssh-transport: exec: cannot use -i {notAKey}: "));

        CliResult password = await CliRunner.RunAsync("exec", "--password-file", empty, "192.0.2.1", "true");
        Assert.That(password.ExitCode, Is.EqualTo(2), password.ToString());
        Assert.That(password.ErrorLines, Is.EqualTo(new[] { $"ssh-transport: exec: --password-file {empty} is empty" }));
    }

    [Test]
    public async Task Help_describes_the_contract()
    {
        CliResult result = await CliRunner.RunAsync("exec", "--help");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Does.StartWith("usage: ssh-transport exec [options] HOST COMMAND..."));
        Assert.That(result.Out, Does.Contain("255").And.Contain("examples:").And.Contain("--password-file").And.Contain("-i, --identity FILE"));

        CliResult afterHost = await CliRunner.RunAsync("exec", "example.com", "--help");
        Assert.That(afterHost.ExitCode, Is.Zero, "--help before COMMAND is exec's");
        Assert.That(afterHost.Out, Does.StartWith("usage: ssh-transport exec"));

        CliResult tool = await CliRunner.RunAsync("--help");
        Assert.That(tool.Out, Does.Contain("exec"));
    }

    private static ParseResult Parse(params string[] args)
    {
        RootCommand root = CliMain.CreateRootCommand(new CliContext(TextWriter.Null, TextWriter.Null, CancellationToken.None), out IReadOnlyList<VerbCommand> verbs);
        return root.Parse(VerbCommand.MarkVerbatimWords(args, verbs));
    }
}
