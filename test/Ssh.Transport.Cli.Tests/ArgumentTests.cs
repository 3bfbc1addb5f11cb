using System.CommandLine;
using System.Net;

namespace Ssh.Transport.Cli.Tests;

/// <summary>The command line (System.CommandLine underneath): options, values, errors and help, as the README documents them.</summary>
public class ArgumentTests
{
    [Test]
    public async Task No_arguments_prints_usage_on_stderr_and_exits_2()
    {
        CliResult result = await CliRunner.RunAsync();
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.Contain("usage: ssh-transport VERB"));
    }

    [TestCase("--help")]
    [TestCase("-h")]
    [TestCase("help")]
    public async Task Tool_help(string flag)
    {
        CliResult result = await CliRunner.RunAsync(flag);
        Assert.That(result.ExitCode, Is.Zero);
        Assert.That(result.Out, Does.Contain("demo").And.Contain("probe").And.Contain("serve"));
        Assert.That(result.Error, Is.Empty);
    }

    [TestCase("probe", "usage: ssh-transport probe HOST")]
    [TestCase("serve", "usage: ssh-transport serve --listen ADDRESS:PORT")]
    [TestCase("demo", "usage: ssh-transport demo")]
    public async Task Verb_help(string verb, string expected)
    {
        CliResult result = await CliRunner.RunAsync(verb, "--help");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Does.StartWith(expected));
        Assert.That(result.Error, Is.Empty);
    }

    [Test]
    public async Task Help_verb_describes_the_tool_or_one_verb()
    {
        CliResult verb = await CliRunner.RunAsync("help", "serve");
        Assert.That(verb.ExitCode, Is.Zero, verb.ToString());
        Assert.That(verb.Out, Does.StartWith("usage: ssh-transport serve"));

        CliResult unknown = await CliRunner.RunAsync("help", "frobnicate");
        Assert.That(unknown.ExitCode, Is.EqualTo(2), unknown.ToString());
        Assert.That(unknown.ErrorLines, Has.Length.EqualTo(1));
        Assert.That(unknown.ErrorLines[0], Does.Contain("unknown verb 'frobnicate'"));
    }

    [Test]
    public async Task Version()
    {
        CliResult result = await CliRunner.RunAsync("--version");
        Assert.That(result.ExitCode, Is.Zero);
        Assert.That(result.Out, Does.Match(@"^ssh-transport \d+\.\d+\.\d+\s*$"));
    }

    [Test]
    public async Task Help_wins_over_missing_arguments()
    {
        CliResult result = await CliRunner.RunAsync("probe", "-h");
        Assert.That(result.ExitCode, Is.Zero);
    }

    [TestCase(new[] { "frobnicate" }, "unknown verb 'frobnicate'")]
    [TestCase(new[] { "--bogus" }, "unknown option '--bogus'")]
    [TestCase(new[] { "probe", "example.com", "--bogus" }, "probe: unknown option '--bogus'")]
    [TestCase(new[] { "probe", "example.com", "--bogus=1" }, "probe: unknown option '--bogus'")]
    [TestCase(new[] { "serve", "-x" }, "serve: unknown option '-x'")]
    [TestCase(new[] { "demo", "--seconds" }, "demo: option '--seconds' needs a value")]
    [TestCase(new[] { "demo", "--seconds", "soon" }, "demo: --seconds expects a number of seconds")]
    [TestCase(new[] { "demo", "--seconds", "-1" }, "demo: --seconds expects a number of seconds")]
    [TestCase(new[] { "demo", "extra" }, "demo: unexpected argument 'extra'")]
    [TestCase(new[] { "probe" }, "probe: missing HOST")]
    [TestCase(new[] { "probe", "a", "b" }, "probe: unexpected argument 'b'")]
    [TestCase(new[] { "probe", "example.com", "-p", "70000" }, "probe: --port expects a whole number from 1 to 65535, not '70000'")]
    [TestCase(new[] { "probe", "example.com", "-p", "ssh" }, "probe: --port expects a whole number")]
    [TestCase(new[] { "probe", "example.com", "-p", "22", "-p", "23" }, "probe: option '--port' given more than once")]
    [TestCase(new[] { "probe", "example.com", "--json=yes" }, "probe: option '--json' takes no value")]
    [TestCase(new[] { "probe", "example.com", "--send-bytes", "lots" }, "probe: --send-bytes expects a byte count")]
    [TestCase(new[] { "probe", "example.com", "--rekey-bytes", "100" }, "probe: --rekey-bytes expects a byte count of at least 16384")]
    [TestCase(new[] { "probe", "example.com", "--timeout", "0" }, "probe: --timeout expects a number of seconds")]
    [TestCase(new[] { "probe", "example.com", "--known-hosts", "kh", "--accept-any-host-key" }, "cannot be used together")]
    [TestCase(new[] { "probe", "example.com", "--cipher", "aes128-gcm@openssh.com,,aes256-ctr" }, "probe: --cipher has an empty entry")]
    [TestCase(new[] { "serve", "--listen", "2222" }, "serve: --listen expects ADDRESS:PORT")]
    [TestCase(new[] { "serve", "--listen", "127.0.0.1:99999" }, "serve: --listen has a bad port '99999'")]
    [TestCase(new[] { "serve", "--listen", "example.com:22" }, "serve: --listen needs an IP address")]
    [TestCase(new[] { "serve", "--host-key", "/nonexistent/key" }, "serve: cannot use host key /nonexistent/key")]
    [TestCase(new[] { "serve", "--rekey-bytes", "1k" }, "serve: --rekey-bytes expects a byte count of at least 16384")]
    [TestCase(new[] { "serve", "--authorized-keys", "/nonexistent/keys" }, "serve: cannot use --authorized-keys /nonexistent/keys: could not find")]
    [TestCase(new[] { "serve", "--password-file", "/nonexistent/pw" }, "serve: cannot use --password-file /nonexistent/pw: could not find")]
    [TestCase(new[] { "serve", "--password-file", "/nonexistent/pw", "--max-auth-tries", "0" }, "serve: --max-auth-tries expects a whole number from 1 to 100, not '0'")]
    [TestCase(new[] { "serve", "--password-file", "/nonexistent/pw", "--max-auth-tries", "many" }, "serve: --max-auth-tries expects a whole number")]
    [TestCase(new[] { "serve", "--password-file", "/nonexistent/pw", "--login-grace-time", "soon" }, "serve: --login-grace-time expects a number of seconds from 1 to 86400, not 'soon'")]
    [TestCase(new[] { "serve", "--password-file", "/nonexistent/pw", "--login-grace-time", "0" }, "serve: --login-grace-time expects a number of seconds")]
    [TestCase(new[] { "serve", "--authorized-keys" }, "serve: option '--authorized-keys' needs a value")]
    [TestCase(new[] { "serve", "--authorized-keys", "a", "--authorized-keys", "b" }, "serve: option '--authorized-keys' given more than once")]
    [TestCase(new[] { "serve", "--banner", "motd" }, "serve: --banner applies to logins: give --authorized-keys or --password-file too")]
    [TestCase(new[] { "serve", "--max-auth-tries", "3" }, "serve: --max-auth-tries applies to logins")]
    [TestCase(new[] { "serve", "--login-grace-time", "30" }, "serve: --login-grace-time applies to logins")]
    public async Task Mistakes_are_one_line_on_stderr_and_exit_2(string[] args, string expected)
    {
        CliResult result = await CliRunner.RunAsync(args);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ErrorLines[0], Does.StartWith("ssh-transport: ").And.Contain(expected));
        Assert.That(result.Out, Is.Empty);
    }

    [TestCase("--kex", "curve25519-sha256,ecdh-sha2-nistp999", "ecdh-sha2-nistp999", "mlkem768x25519-sha256")]
    [TestCase("--hostkey", "ssh-dss", "ssh-dss", "rsa-sha2-512")]
    [TestCase("--cipher", "aes128-gcm", "aes128-gcm", "chacha20-poly1305@openssh.com")]
    [TestCase("--mac", "hmac-md5", "hmac-md5", "hmac-sha2-256-etm@openssh.com")]
    [TestCase("--compression", "gzip", "gzip", "zlib@openssh.com")]
    public async Task Unknown_algorithms_are_errors_that_list_the_supported_names(string option, string list, string unknown, string supported)
    {
        foreach (string verb in new[] { "probe", "serve" })
        {
            string[] args = verb == "probe" ? ["probe", "example.com", option, list] : ["serve", option, list];
            CliResult result = await CliRunner.RunAsync(args);
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.ErrorLines, Has.Length.EqualTo(1));
            Assert.That(result.ErrorLines[0], Does.Contain($"{option}: unknown algorithm '{unknown}'").And.Contain("supported: ").And.Contain(supported));
        }
    }

    [Test]
    public void Serve_login_options_parse()
    {
        ParseResult serve = Parse("serve", "--authorized-keys", "keys", "--password-file=pw", "--max-auth-tries", "3", "--login-grace-time", "2.5", "--banner", "motd");
        Assert.That(serve.Errors, Is.Empty);
        Assert.That(serve.GetValue<string?>("--authorized-keys"), Is.EqualTo("keys"));
        Assert.That(serve.GetValue<string?>("--password-file"), Is.EqualTo("pw"));
        Assert.That(serve.GetValue<int>("--max-auth-tries"), Is.EqualTo(3));
        Assert.That(serve.GetValue<double>("--login-grace-time"), Is.EqualTo(2.5));
        Assert.That(serve.GetValue<string?>("--banner"), Is.EqualTo("motd"));

        ParseResult defaults = Parse("serve", "--authorized-keys", "keys");
        Assert.That(defaults.GetValue<int>("--max-auth-tries"), Is.EqualTo(6), "OpenSSH's MaxAuthTries");
        Assert.That(defaults.GetValue<double>("--login-grace-time"), Is.EqualTo(120), "OpenSSH's LoginGraceTime");
        Assert.That(defaults.GetValue<string?>("--banner"), Is.Null);
    }

    [TestCase("alice\n", "line 1 is not user:password")]
    [TestCase("alice:a\nalice:b\n", "line 2 repeats the user 'alice'")]
    public async Task Serve_refuses_a_malformed_password_file_with_one_line(string text, string expected)
    {
        using var folder = new TempFolder();
        string file = folder.Write("passwords", text);
        CliResult result = await CliRunner.RunAsync("serve", "--password-file", file);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ErrorLines[0], Does.StartWith($"ssh-transport: serve: cannot use --password-file {file}: {expected}"));
        Assert.That(result.Out, Is.Empty);
    }

    [Test]
    public async Task Serve_refuses_host_key_algorithms_its_keys_cannot_sign_with()
    {
        using var folder = new TempFolder();
        using SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string file = folder.Write("key", key.ExportOpenSsh());
        CliResult result = await CliRunner.RunAsync("serve", "--host-key", file, "--hostkey", "rsa-sha2-256");
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1));
        Assert.That(result.ErrorLines[0], Does.Contain("sign with ssh-ed25519"));
    }

    [Test]
    public async Task Serve_refuses_a_public_key_file_as_host_key()
    {
        using var folder = new TempFolder();
        using SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string file = folder.Write("key.pub", key.PublicKey + " comment\n");
        CliResult result = await CliRunner.RunAsync("serve", "--host-key", file);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1));
        Assert.That(result.ErrorLines[0], Does.Contain("public key"));
    }

    [Test]
    public async Task Serve_refuses_an_encrypted_host_key_saying_a_passphrase_is_needed()
    {
        using var folder = new TempFolder();
        using SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string file = folder.Write("key", key.ExportOpenSsh("secret"));
        CliResult result = await CliRunner.RunAsync("serve", "--host-key", file);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1));
        Assert.That(result.ErrorLines[0], Does.Contain($"serve: cannot use host key {file}").And.Contain("passphrase is needed"));
    }

    [Test]
    public void Options_take_values_inline_or_separately_and_stop_at_double_dash()
    {
        ParseResult probe = Parse("probe", "--port=2222", "--json", "--timeout", "2.5", "--", "--not-an-option");
        Assert.That(probe.Errors, Is.Empty);
        Assert.That(probe.GetValue<string?>("HOST"), Is.EqualTo("--not-an-option"));
        Assert.That(probe.GetValue<int>("--port"), Is.EqualTo(2222));
        Assert.That(probe.GetValue<bool>("--json"), Is.True);
        Assert.That(probe.GetValue<double>("--timeout"), Is.EqualTo(2.5));
        Assert.That(Parse("probe", "h").GetValue<int>("--port"), Is.EqualTo(22), "the default");

        ParseResult serve = Parse("serve", "-k", "a", "--host-key", "b", "--host-key=c", "--rekey-bytes", "1M");
        Assert.That(serve.Errors, Is.Empty);
        Assert.That(serve.GetValue<string[]>("--host-key"), Is.EqualTo(new[] { "a", "b", "c" }));
        Assert.That(serve.GetValue<long?>("--rekey-bytes"), Is.EqualTo(1L << 20));
    }

    private static ParseResult Parse(params string[] args) =>
        CliMain.CreateRootCommand(new CliContext(TextWriter.Null, TextWriter.Null, CancellationToken.None), out _).Parse(args);

    [Test]
    public async Task Every_verb_lists_its_options_in_its_help()
    {
        RootCommand root = CliMain.CreateRootCommand(new CliContext(TextWriter.Null, TextWriter.Null, CancellationToken.None), out IReadOnlyList<VerbCommand> verbs);
        Assert.That(root.Subcommands.Where(c => !c.Hidden).Select(c => c.Name), Is.EqualTo(new[] { "demo", "exec", "probe", "serve" }));
        foreach (VerbCommand verb in verbs)
        {
            CliResult result = await CliRunner.RunAsync(verb.Name, "--help");
            foreach (Option option in verb.Options)
            {
                Assert.That(result.Out, Does.Contain(option.Name), $"{verb.Name} --help");
                Assert.That(option.Description, Is.Not.Null.And.Not.Empty, option.Name);
            }
        }
    }

    [TestCase("4000000", 4000000L)]
    [TestCase("256K", 262144L)]
    [TestCase("256k", 262144L)]
    [TestCase("16M", 16L << 20)]
    [TestCase("2G", 2L << 30)]
    [TestCase("0", 0L)]
    public void Byte_counts(string text, long expected)
    {
        Assert.That(CliOptions.TryParseBytes(text, out long value), Is.True);
        Assert.That(value, Is.EqualTo(expected));
    }

    [TestCase("")]
    [TestCase("K")]
    [TestCase("-5")]
    [TestCase("1.5M")]
    [TestCase("99999999999999999999")]
    [TestCase("9999999999999G")]
    public void Bad_byte_counts(string text) => Assert.That(CliOptions.TryParseBytes(text, out _), Is.False);

    [TestCase("127.0.0.1:2222", "127.0.0.1", 2222)]
    [TestCase("[::1]:22", "::1", 22)]
    [TestCase("::1:22", "::1", 22)]
    [TestCase("localhost:0", "127.0.0.1", 0)]
    [TestCase("*:2222", "::", 2222)]
    [TestCase("0.0.0.0:2222", "0.0.0.0", 2222)]
    public void Listen_addresses(string text, string address, int port)
    {
        Assert.That(ServeCommand.TryParseListen(text, out IPEndPoint? endpoint, out string? error), Is.True, error);
        Assert.That(endpoint!.Address, Is.EqualTo(IPAddress.Parse(address)));
        Assert.That(endpoint.Port, Is.EqualTo(port));
    }

    [Test]
    public void The_algorithm_lists_parse_in_order_without_duplicates()
    {
        List<string>? names = Algorithms.ParseList("--cipher", " aes256-ctr,aes128-gcm@openssh.com,aes256-ctr ", SshAlgorithmCategory.Cipher, out string? error);
        Assert.That(error, Is.Null);
        Assert.That(names, Is.EqualTo(new[] { "aes256-ctr", "aes128-gcm@openssh.com" }));
    }
}
