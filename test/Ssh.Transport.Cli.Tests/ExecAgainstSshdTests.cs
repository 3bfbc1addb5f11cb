using System.Text;

namespace Ssh.Transport.Cli.Tests;

/// <summary>
/// exec in-process against a real sshd (Debian's, and OpenSSH 10.5 where installed), logging in as a local test user:
/// outputs, exit statuses, standard input, every way of logging in, and the one-line failures with exit code 255.
/// </summary>
[TestFixtureSource(nameof(Kinds))]
[NonParallelizable]
public class ExecAgainstSshdTests(SshdKind kind)
{
    public static readonly SshdKind[] Kinds = [SshdKind.Debian, SshdKind.OpenSsh10];

    private string _folder = null!;
    private ExecSshd _sshd = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ssh-exec-sshd-").FullName;
        _sshd = await ExecSshd.StartAsync(kind, _folder);
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _sshd?.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private string Target => $"{ExecUser.Name}@127.0.0.1";

    /// <summary>exec with the authorized key, no host key check, and the given words after it.</summary>
    private Task<ExecResult> ExecAsync(byte[]? input, params string[] words) =>
        ExecRunner.RunAsync(input, ["exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "-i", ExecKeys.Authorized, Target, .. words]);

    [Test]
    public async Task Echo_prints_and_exits_0()
    {
        ExecResult result = await ExecAsync(null, "echo hi");
        Assert.That(result.ExitCode, Is.Zero, result + _sshd.Log);
        Assert.That(result.OutText, Is.EqualTo("hi\n"));
        Assert.That(result.Err, Is.Empty);
        Assert.That(result.ToolError, Is.Empty);
    }

    [Test]
    public async Task The_exit_status_is_the_commands()
    {
        ExecResult result = await ExecAsync(null, "exit 3");
        Assert.That(result.ExitCode, Is.EqualTo(3), result.ToString());
        Assert.That(result.ToolError, Is.Empty);
    }

    [Test]
    public async Task Standard_error_stays_apart_and_bytes_stay_bytes()
    {
        ExecResult result = await ExecAsync(null, @"printf 'out\377\n'; printf 'err\0\200\n' >&2; exit 5");
        Assert.That(result.ExitCode, Is.EqualTo(5), result.ToString());
        Assert.That(result.Out, Is.EqualTo(new byte[] { (byte)'o', (byte)'u', (byte)'t', 0xFF, (byte)'\n' }));
        Assert.That(result.Err, Is.EqualTo(new byte[] { (byte)'e', (byte)'r', (byte)'r', 0, 0x80, (byte)'\n' }));
        Assert.That(result.ToolError, Is.Empty);
    }

    [Test]
    public async Task Standard_input_goes_to_the_command_and_its_end_is_eof()
    {
        ExecResult result = await ExecAsync("abc"u8.ToArray(), "cat");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.OutText, Is.EqualTo("abc"));

        ExecResult counted = await ExecAsync(new byte[300_000], "wc -c");
        Assert.That(counted.OutText.Trim(), Is.EqualTo("300000"), counted.ToString());
    }

    [Test]
    public async Task Command_words_are_joined_and_taken_as_they_are_options_among_them()
    {
        // As ssh: options may follow HOST; from COMMAND's first word on, "-p" and "--help" are the command's.
        ExecResult result = await ExecRunner.RunAsync(null, "exec", "--accept-any-host-key", Target, "-p", $"{_sshd.Port}", "-i", ExecKeys.Authorized,
            "printf", "%s,%s,%s,%s", "-p", "--help", "a  b");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.OutText, Is.EqualTo("-p,--help,a,b"), "the words joined with spaces, then split again by the remote shell");
    }

    [Test]
    public async Task Killed_by_a_signal_exits_255_and_says_nothing_as_ssh()
    {
        ExecResult result = await ExecAsync(null, "echo before; kill -9 $$");
        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.OutText, Is.EqualTo("before\n"));
        Assert.That(result.ToolError, Is.Empty, "ssh says nothing of an exit-signal either");
    }

    [Test]
    public async Task A_connection_closed_under_the_command_exits_255_with_one_line()
    {
        // The shell's parent is the session's sshd process (the user's own): killed, it takes the connection with it.
        // (What the shell printed just before may die with the process unread: not asserted.)
        ExecResult result = await ExecAsync(null, "kill -9 $PPID; sleep 5");
        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        // Closed (FIN: "the server closed the connection before the command's exit status came"), or reset when the
        // killed process left data unread ("the connection was lost: ... Connection reset by peer").
        Assert.That(result.ToolErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ToolErrorLines[0], Does.StartWith("ssh-transport: the ").And.Contain(" connection "), result.ToString());
    }

    [Test]
    public async Task A_key_the_server_does_not_know_exits_255_with_one_line_naming_the_methods()
    {
        ExecResult result = await ExecRunner.RunAsync(null, "exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "-i", ExecKeys.Other, Target, "true");
        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.ToolErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ToolErrorLines[0], Does.StartWith($"ssh-transport: authentication failed for {ExecUser.Name}@127.0.0.1: the server accepts publickey,password; tried publickey"));
        Assert.That(result.ToolErrorLines[0], Does.Contain("no --password-file"));
        Assert.That(result.Out, Is.Empty);
    }

    [Test]
    public async Task A_wrong_password_exits_255_with_one_line()
    {
        string file = WriteFile("wrong-password", "not the password\n");
        ExecResult result = await ExecRunner.RunAsync(null, "exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "-i", ExecKeys.Other, "--password-file", file, Target, "true");
        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.ToolErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ToolErrorLines[0], Does.StartWith($"ssh-transport: authentication failed for {ExecUser.Name}@127.0.0.1: the server accepts publickey,password; tried publickey, password"));
    }

    [Test]
    public async Task An_unknown_host_key_exits_255_with_its_fingerprint()
    {
        string knownHosts = Path.Combine(_folder, "no_known_hosts");
        ExecResult result = await ExecRunner.RunAsync(null, "exec", "-p", $"{_sshd.Port}", "--known-hosts", knownHosts, "-i", ExecKeys.Authorized, Target, "echo never");
        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.ToolErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ToolErrorLines[0], Does.StartWith($"ssh-transport: host key verification failed for [127.0.0.1]:{_sshd.Port}: its ssh-ed25519 key {ExecKeys.HostFingerprint} is not in {knownHosts} (no such file)"));
        Assert.That(result.Out, Is.Empty);
    }

    [Test]
    public async Task A_changed_host_key_exits_255_and_says_so()
    {
        using SshPrivateKey other = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string knownHosts = WriteFile("changed_known_hosts", $"[127.0.0.1]:{_sshd.Port} {other.PublicKey}\n");
        ExecResult result = await ExecRunner.RunAsync(null, "exec", "-p", $"{_sshd.Port}", "--known-hosts", knownHosts, "-i", ExecKeys.Authorized, Target, "echo never");
        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.ToolErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ToolErrorLines[0], Does.Contain(ExecKeys.HostFingerprint).And.Contain("CHANGED"));
    }

    [Test]
    public async Task A_known_host_key_is_trusted()
    {
        string knownHosts = WriteFile("known_hosts", $"[127.0.0.1]:{_sshd.Port} {File.ReadAllText(ExecKeys.Host + ".pub")}");
        ExecResult result = await ExecRunner.RunAsync(null, "exec", "-p", $"{_sshd.Port}", "--known-hosts", knownHosts, "-i", ExecKeys.Authorized, Target, "echo trusted");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.OutText, Is.EqualTo("trusted\n"));
    }

    [Test]
    public async Task Password_file()
    {
        string file = WriteFile("password", ExecUser.Password + "\nsecond line ignored\n");
        ExecResult result = await ExecRunner.RunAsync(null, "exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "--password-file", file,
            "-l", ExecUser.Name, "-i", ExecKeys.Other, "127.0.0.1", "echo $USER");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.OutText, Is.EqualTo(ExecUser.Name + "\n"));
        Assert.That(_sshd.Log, Does.Contain($"Accepted password for {ExecUser.Name}"));
    }

    [Test]
    public async Task Encrypted_key_with_its_passphrase_file()
    {
        string file = WriteFile("passphrase", ExecKeys.Passphrase + "\n");
        ExecResult result = await ExecRunner.RunAsync(null, "exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "-i", ExecKeys.Encrypted, "--passphrase-file", file, Target, "echo unlocked");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.OutText, Is.EqualTo("unlocked\n"));

        // Without it, or with a wrong one: the command line's mistake, before any connection.
        ExecResult missing = await ExecRunner.RunAsync(null, "exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "-i", ExecKeys.Encrypted, Target, "true");
        Assert.That(missing.ExitCode, Is.EqualTo(2), missing.ToString());
        Assert.That(missing.ToolErrorLines, Is.EqualTo(new[] { $"ssh-transport: exec: -i {ExecKeys.Encrypted} is encrypted: give its passphrase with --passphrase-file" }));
        string wrong = WriteFile("wrong-passphrase", "wrong\n");
        ExecResult refused = await ExecRunner.RunAsync(null, "exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "-i", ExecKeys.Encrypted, "--passphrase-file", wrong, Target, "true");
        Assert.That(refused.ExitCode, Is.EqualTo(2), refused.ToString());
        Assert.That(refused.ToolErrorLines, Has.Length.EqualTo(1));
        Assert.That(refused.ToolErrorLines[0], Does.Contain("does not open -i"));
    }

    [Test]
    public async Task Keys_are_tried_in_order()
    {
        ExecResult result = await ExecRunner.RunAsync(null, "exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "-i", ExecKeys.Other, "-i", ExecKeys.Authorized, Target, "echo second");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.OutText, Is.EqualTo("second\n"));
    }

    [Test]
    public async Task Rekeys_and_compression_during_a_transfer()
    {
        // 8 MiB down under zlib with a rekey every 1 MiB (sshd rekeys after login), hashed on both sides.
        ExecResult result = await ExecRunner.RunAsync(null, "exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "-i", ExecKeys.Authorized,
            "--rekey-bytes", "1M", "--compression", "zlib@openssh.com", "--cipher", "aes256-ctr", "--mac", "hmac-sha2-256-etm@openssh.com", Target,
            "head -c 8388608 /dev/urandom | tee /dev/stderr | sha256sum >&2");
        Assert.That(result.ExitCode, Is.Zero, result.ToString()[..Math.Min(2000, result.ToString().Length)]);
        Assert.That(result.Out, Is.Empty);
        byte[] err = result.Err;
        Assert.That(err.Length, Is.GreaterThan(8 << 20));
        string remoteHash = Encoding.ASCII.GetString(err, 8 << 20, err.Length - (8 << 20)).Split(' ')[0];
        Assert.That(ExecRunner.Sha256(err.AsSpan(0, 8 << 20)), Is.EqualTo(remoteHash));
    }

    [Test]
    public async Task Keepalives_are_answered_while_a_command_runs_quietly()
    {
        ExecResult kept = await ExecRunner.RunAsync(null, "exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "-i", ExecKeys.Authorized,
            "--keepalive", "0.5", "--keepalive-count", "2", Target, "sleep 2.5; echo awake");
        Assert.That(kept.ExitCode, Is.Zero, kept.ToString());
        Assert.That(kept.OutText, Is.EqualTo("awake\n"));
    }

    [Test]
    public async Task A_closed_port_exits_255_with_one_line()
    {
        ExecResult result = await ExecRunner.RunAsync(null, "exec", "-p", $"{CliRunner.FreePort()}", "--accept-any-host-key", "-i", ExecKeys.Authorized, Target, "true");
        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.ToolErrorLines, Is.EqualTo(new[] { "ssh-transport: connection refused" }));
    }

    [Test]
    public async Task A_server_that_stops_answering_ends_in_255_with_one_line_after_the_keepalives()
    {
        using var proxy = new StallingProxy(_sshd.Port);
        var output = new SignallingStream();
        var toolError = new StringWriter();
        using var stop = new CancellationTokenSource(CliRunner.Timeout);
        string[] args = ["exec", "-p", $"{proxy.Port}", "--accept-any-host-key", "-i", ExecKeys.Authorized, "--keepalive", "0.5", "--keepalive-count", "2", Target, "echo started; sleep 30"];
        Task<int> running = CliMain.RunAsync(args, new CliContext(TextWriter.Null, TextWriter.Synchronized(toolError), stop.Token, Streams: new StandardStreams(new MemoryStream(), output, new MemoryStream())));
        await output.Written.WaitAsync(CliRunner.Timeout);
        proxy.Stall();

        int code = await running.WaitAsync(CliRunner.Timeout);
        Assert.That(code, Is.EqualTo(255), toolError.ToString());
        Assert.That(toolError.ToString(), Does.StartWith("ssh-transport: the peer stopped answering keepalives"));
        Assert.That(toolError.ToString().TrimEnd('\n'), Does.Not.Contain("\n"), "one line");
    }

    [Test]
    public async Task A_failed_write_to_standard_output_disconnects_and_exits_255_with_one_line()
    {
        var streams = new StandardStreams(new MemoryStream(), new FailingStream(), new MemoryStream());
        var toolError = new StringWriter();
        using var stop = new CancellationTokenSource(CliRunner.Timeout);
        string[] args = ["exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "-i", ExecKeys.Authorized, Target, "echo one; sleep 30"];
        int code = await CliMain.RunAsync(args, new CliContext(TextWriter.Null, TextWriter.Synchronized(toolError), stop.Token, Streams: streams)).WaitAsync(CliRunner.Timeout);
        Assert.That(code, Is.EqualTo(255), toolError.ToString());
        Assert.That(toolError.ToString(), Is.EqualTo("ssh-transport: cannot write standard output: disk full; disconnected\n"));
    }

    private string WriteFile(string name, string text)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllText(path, text);
        return path;
    }
}

/// <summary>A stream whose writes fail, as a full disk would.</summary>
internal sealed class FailingStream : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new IOException("Disk full");

    public override void Write(ReadOnlySpan<byte> buffer) => throw new IOException("Disk full");
}

/// <summary>A memory stream that says when something was first written to it.</summary>
internal sealed class SignallingStream : MemoryStream
{
    private readonly TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Written => _written.Task;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        base.Write(buffer);
        _written.TrySetResult();
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        base.Write(buffer, offset, count);
        _written.TrySetResult();
    }
}
