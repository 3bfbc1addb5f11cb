using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Ssh.Transport.Cli.Tests;

/// <summary>
/// Interop with OpenSSH where it is installed: 'probe' against a local sshd (the fingerprints must equal
/// ssh-keygen -l's), 'ssh -vvv' against 'serve' (ssh must negotiate what serve logs), and ssh logging into
/// 'serve --authorized-keys' with keys of ssh-keygen. Tests whose programs are missing are ignored.
/// </summary>
[NonParallelizable]
public class OpenSshTests
{
    private TempFolder _folder = null!;

    [SetUp]
    public void SetUp() => _folder = new TempFolder();

    [TearDown]
    public void TearDown() => _folder.Dispose();

    [TestCase("ed25519", "ssh-ed25519", "256", "ED25519")]
    [TestCase("ecdsa", "ecdsa-sha2-nistp256", "256", "ECDSA")]
    [TestCase("rsa", "rsa-sha2-512", "2048", "RSA")]
    public async Task Probe_of_sshd_prints_the_fingerprint_ssh_keygen_prints(string keyType, string algorithm, string bits, string label)
    {
        await using Sshd sshd = await Sshd.StartAsync(_folder, keyType);
        CliResult keygen = (await CliRunner.RunProgramAsync("ssh-keygen", "-l", "-f", sshd.PublicKeyFile))!;
        Assert.That(keygen.ExitCode, Is.Zero, keygen.ToString());
        Match fields = Regex.Match(keygen.Out, @"^(\d+) (SHA256:\S+) .*\((\w+)\)\s*$");
        Assert.That(fields.Success, Is.True, keygen.Out);
        string fingerprint = fields.Groups[2].Value;
        Assert.That(fields.Groups[1].Value, Is.EqualTo(bits));
        Assert.That(fields.Groups[3].Value, Is.EqualTo(label));

        string knownHosts = _folder.Write("known_hosts", $"[127.0.0.1]:{sshd.Port} {File.ReadAllText(sshd.PublicKeyFile)}");
        string[] common = ["probe", "127.0.0.1", "-p", $"{sshd.Port}", "--known-hosts", knownHosts, "--hostkey", algorithm];

        CliResult json = await CliRunner.RunAsync([.. common, "--json"]);
        Assert.That(json.ExitCode, Is.Zero, json + "\n--- sshd\n" + sshd.Log);
        using JsonDocument document = JsonDocument.Parse(json.Out);
        JsonElement root = document.RootElement;
        Assert.That(root.GetProperty("identification").GetString(), Does.StartWith("SSH-2.0-OpenSSH_"));
        Assert.That(root.GetProperty("hostKeyAlgorithm").GetString(), Is.EqualTo(algorithm));
        Assert.That(root.GetProperty("hostKey").GetProperty("fingerprint").GetString(), Is.EqualTo(fingerprint));
        Assert.That(root.GetProperty("hostKey").GetProperty("bits").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(bits));
        Assert.That(root.GetProperty("strictKex").GetBoolean(), Is.True);
        Assert.That(root.GetProperty("service").GetString(), Is.EqualTo("ssh-userauth"));
        Assert.That(root.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()), Does.Contain("server-sig-algs"));

        // The text form prints what ssh-keygen -l prints (less the comment).
        CliResult text = await CliRunner.RunAsync(common);
        Assert.That(text.ExitCode, Is.Zero, text.ToString());
        Assert.That(text.Out, Does.Contain($"host key:           {bits} {fingerprint} ({label})"));
    }

    [Test]
    public async Task Probe_of_sshd_streams_data_and_reports_that_sshd_refuses_to_rekey_before_authentication()
    {
        // OpenSSH's sshd answers a KEXINIT before user authentication with SSH_MSG_UNIMPLEMENTED. The transport fails
        // that exchange at once (KeyExchangeFailed) rather than hold the data forever, so the probe reports what it
        // sent under the first keys and exits non-zero with one line: not every requested byte could be sent with the
        // requested rekeys.
        await using Sshd sshd = await Sshd.StartAsync(_folder, "ed25519");
        CliResult result = await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{sshd.Port}", "--accept-any-host-key", "--json",
            "--send-bytes", "4000000", "--rekey-bytes", "256K", "--cipher", "chacha20-poly1305@openssh.com", "--timeout", "20");
        Assert.That(result.ExitCode, Is.EqualTo(1), result + "\n--- sshd\n" + sshd.Log);
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.Error, Does.Contain("refused our key re-exchange"));
        using JsonDocument document = JsonDocument.Parse(result.Out);
        JsonElement root = document.RootElement;
        Assert.That(root.GetProperty("bytesSent").GetInt64(), Is.InRange(256 * 1024, 4_000_000 - 1));
        Assert.That(root.GetProperty("clientToServer").GetProperty("cipher").GetString(), Is.EqualTo("chacha20-poly1305@openssh.com"));
        Assert.That(root.GetProperty("keyExchanges").GetInt32(), Is.EqualTo(1), sshd.Log);
        Assert.That(root.GetProperty("rekeyRefused").GetBoolean(), Is.True, sshd.Log);
        Assert.That(root.GetProperty("sendSeconds").GetDouble(), Is.LessThan(15), "no wait for the refused exchange");

        CliResult text = await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{sshd.Port}", "--accept-any-host-key", "--send-bytes", "1M", "--rekey-bytes", "256K");
        Assert.That(text.ExitCode, Is.EqualTo(1), text.ToString());
        Assert.That(text.Error, Does.Contain("refused our key re-exchange"));
    }

    [Test]
    public async Task Probe_of_sshd_with_no_common_cipher_fails_with_one_line()
    {
        await using Sshd sshd = await Sshd.StartAsync(_folder, "ed25519");
        CliResult result = await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{sshd.Port}", "--accept-any-host-key", "--cipher", "3des-cbc");
        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1));
        Assert.That(result.ErrorLines[0], Does.StartWith("ssh-transport: no common client-to-server cipher: client offers 3des-cbc; server offers "));
    }

    [TestCase("curve25519-sha256", "aes256-gcm@openssh.com", null)]
    [TestCase("ecdh-sha2-nistp256", "aes128-ctr", "hmac-sha2-256-etm@openssh.com")]
    [TestCase("diffie-hellman-group16-sha512", "chacha20-poly1305@openssh.com", null)]
    [TestCase(null, null, null)]
    public async Task Ssh_negotiates_with_serve_what_serve_logs(string? kex, string? cipher, string? mac)
    {
        if (CliRunner.FindProgram("ssh") is null)
        {
            Assert.Ignore("ssh is not installed");
        }

        await using InProcessServe serve = await InProcessServe.StartAsync(_folder);
        List<string> args =
        [
            "-vvv", "-F", "/dev/null", "-p", $"{serve.Port}",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "PubkeyAuthentication=no", "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
            "-o", "GSSAPIAuthentication=no", "-o", "ConnectTimeout=20",
        ];
        if (kex is not null)
        {
            args.AddRange(["-o", $"KexAlgorithms={kex}"]);
        }

        if (cipher is not null)
        {
            args.AddRange(["-o", $"Ciphers={cipher}"]);
        }

        if (mac is not null)
        {
            args.AddRange(["-o", $"MACs={mac}"]);
        }

        args.AddRange(["tester@127.0.0.1", "true"]);
        CliResult ssh = (await CliRunner.RunProgramAsync("ssh", [.. args]))!;
        string log = ssh.Error;

        // Authentication is refused: ssh exits 255 after the handshake went through.
        Assert.That(ssh.ExitCode, Is.EqualTo(255), log);
        Assert.That(log, Does.Contain("Authentications that can continue: publickey,password"));
        Assert.That(log, Does.Contain("Permission denied (publickey,password)"));
        Assert.That(log, Does.Contain($"Server host key: ssh-ed25519 {serve.HostKey.PublicKey.GetFingerprint()}"));
        Assert.That(log, Does.Contain("kex: host key algorithm: ssh-ed25519"));
        Assert.That(log, Does.Contain("kex_input_ext_info: server-sig-algs=<"));

        string negotiatedKex = Regex.Match(log, @"kex: algorithm: (\S+)").Groups[1].Value;
        Match c2s = Regex.Match(log, @"kex: client->server cipher: (\S+) MAC: (\S+) compression: (\S+)");
        Match s2c = Regex.Match(log, @"kex: server->client cipher: (\S+) MAC: (\S+) compression: (\S+)");
        Assert.That(c2s.Success && s2c.Success, Is.True, log);
        if (kex is not null)
        {
            Assert.That(negotiatedKex, Is.EqualTo(kex));
        }

        if (cipher is not null)
        {
            Assert.That(c2s.Groups[1].Value, Is.EqualTo(cipher));
            Assert.That(s2c.Groups[1].Value, Is.EqualTo(cipher));
        }

        Assert.That(c2s.Groups[2].Value, Is.EqualTo(mac ?? "<implicit>"));

        // serve's line for the connection names the same algorithms and the OpenSSH identification.
        string served = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        string connected = served.Split('\n').Single(l => l.Contains(" connected: ", StringComparison.Ordinal));
        Assert.That(connected, Does.Contain("connected: SSH-2.0-OpenSSH_"));
        Assert.That(connected, Does.Contain($"kex={negotiatedKex} hostkey=ssh-ed25519 cipher={c2s.Groups[1].Value} mac={(mac ?? "implicit")} compression={c2s.Groups[3].Value}"));
        Assert.That(connected, Does.Contain("strict-kex=on"));
        Assert.That(served, Does.Contain("1 login attempt(s) refused"));
    }

    /// <summary>Debian's ssh, and OpenSSH 10.5 where the interop peers are installed.</summary>
    private static readonly string[] s_sshClients = ["ssh", "/opt/ssh-peers/openssh/bin/ssh"];

    [TestCaseSource(nameof(s_sshClients))]
    public async Task Ssh_logs_into_serve_with_a_key_of_the_authorized_keys_file(string ssh)
    {
        string identity = await KeygenAsync(ssh, "id_ed25519");
        string fingerprint = await FingerprintAsync(identity + ".pub");
        string authorizedKeys = _folder.Write("authorized_keys", File.ReadAllText(identity + ".pub"));
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--authorized-keys", authorizedKeys);

        CliResult result = await LogInAsync(ssh, serve.Port, identity);

        // ssh got past authentication; without --allow-exec its command gets serve's line on stderr and exit status 1.
        Assert.That(result.Error, Does.Contain($"Authenticated to 127.0.0.1 ([127.0.0.1]:{serve.Port}) using \"publickey\""), result.ToString());
        Assert.That(result.Error, Does.Contain("ssh-transport serve: command execution is disabled (--allow-exec)"), result.ToString());
        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        Assert.That(result.Error, Does.Contain("publickey-hostbound@openssh.com"), "serve announces host-bound publickey");
        string log = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        Assert.That(log, Does.Contain($" authenticated tester by publickey (ED25519 {fingerprint})"));
        Assert.That(log, Does.Contain(" refused exec 'true' for tester: command execution is disabled (--allow-exec)"));
        Assert.That(log, Does.Contain("client disconnected").And.Contain("user tester"));
    }

    [TestCaseSource(nameof(s_sshClients))]
    public async Task Ssh_with_a_key_not_in_the_authorized_keys_file_is_refused(string ssh)
    {
        string allowed = await KeygenAsync(ssh, "id_allowed");
        string other = await KeygenAsync(ssh, "id_other");
        string fingerprint = await FingerprintAsync(other + ".pub");
        string authorizedKeys = _folder.Write("authorized_keys", File.ReadAllText(allowed + ".pub"));
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--authorized-keys", authorizedKeys);

        CliResult result = await LogInAsync(ssh, serve.Port, other);

        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.Error, Does.Contain("Permission denied (publickey)"), result.ToString());
        Assert.That(result.Error, Does.Not.Contain("Authenticated to"));
        string log = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        Assert.That(log, Does.Contain($" refused publickey ED25519 {fingerprint} for tester: not in the authorized keys"));
        Assert.That(log, Does.Contain(" not authenticated: "));
        Assert.That(log, Does.Not.Contain(" authenticated tester"));
    }

    /// <summary>ssh -v with one identity and nothing else (no agent, no config, no password), against serve.</summary>
    private static async Task<CliResult> LogInAsync(string ssh, int port, string identity) =>
        (await CliRunner.RunProgramAsync(ssh,
            "-v", "-F", "/dev/null", "-p", $"{port}", "-i", identity,
            "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no", "-o", "GSSAPIAuthentication=no",
            "-o", "ConnectTimeout=20", "tester@127.0.0.1", "true"))!;

    /// <summary>A new unencrypted ed25519 key pair in the test's folder; the test is ignored without ssh and ssh-keygen.</summary>
    private async Task<string> KeygenAsync(string ssh, string name)
    {
        if (CliRunner.FindProgram(ssh) is null || CliRunner.FindProgram("ssh-keygen") is null)
        {
            Assert.Ignore($"{ssh} or ssh-keygen is not installed");
        }

        string path = _folder.PathOf(name);
        CliResult keygen = (await CliRunner.RunProgramAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path))!;
        Assert.That(keygen.ExitCode, Is.Zero, keygen.ToString());
        return path;
    }

    /// <summary>The SHA256 fingerprint ssh-keygen -l prints for a public key file.</summary>
    private static async Task<string> FingerprintAsync(string publicKeyFile)
    {
        CliResult keygen = (await CliRunner.RunProgramAsync("ssh-keygen", "-l", "-f", publicKeyFile))!;
        Match fields = Regex.Match(keygen.Out, @"^\d+ (SHA256:\S+) ");
        Assert.That(fields.Success, Is.True, keygen.ToString());
        return fields.Groups[1].Value;
    }

    /// <summary>An sshd of our own on 127.0.0.1: a temp folder for keys and config, stopped by its PID.</summary>
    private sealed class Sshd : IAsyncDisposable
    {
        private readonly ChildLog _log;
        private readonly Process _process;

        private Sshd(Process process, ChildLog log, int port, string publicKeyFile)
        {
            _process = process;
            _log = log;
            Port = port;
            PublicKeyFile = publicKeyFile;
        }

        public int Port { get; }

        public string PublicKeyFile { get; }

        public string Log => _log.Text;

        public static async Task<Sshd> StartAsync(TempFolder folder, string keyType)
        {
            string? sshd = CliRunner.FindProgram("sshd");
            if (sshd is null || CliRunner.FindProgram("ssh-keygen") is null)
            {
                Assert.Ignore("OpenSSH's sshd and ssh-keygen are not installed");
            }

            try
            {
                Directory.CreateDirectory("/run/sshd"); // privilege separation directory
            }
            catch (UnauthorizedAccessException)
            {
                Assert.Ignore("cannot create /run/sshd for sshd");
            }

            string key = folder.PathOf("host_" + keyType);
            string[] keygenArgs = keyType == "rsa"
                ? ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "sshd-test", "-f", key]
                : ["-q", "-t", keyType, "-N", "", "-C", "sshd-test", "-f", key];
            CliResult keygen = (await CliRunner.RunProgramAsync("ssh-keygen", keygenArgs))!;
            Assert.That(keygen.ExitCode, Is.Zero, keygen.ToString());

            int port = CliRunner.FreePort();
            string config = folder.Write("sshd_config", $"""
                Port {port}
                ListenAddress 127.0.0.1
                HostKey {key}
                PidFile {folder.PathOf("sshd.pid")}
                UsePAM no
                StrictModes no
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                AuthorizedKeysFile none
                LogLevel VERBOSE

                """);

            var start = new ProcessStartInfo(sshd) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string arg in new[] { "-D", "-e", "-f", config })
            {
                start.ArgumentList.Add(arg);
            }

            Process process = Process.Start(start)!;
            var log = new ChildLog(process);
            var result = new Sshd(process, log, port, key + ".pub");
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                if (process.HasExited)
                {
                    await result.DisposeAsync();
                    Assert.Ignore($"sshd did not start (exit code {process.ExitCode}): {log.Text}");
                }

                if (log.Text.Contains("Server listening on", StringComparison.Ordinal))
                {
                    return result;
                }

                await Task.Delay(50);
            }

            await result.DisposeAsync();
            Assert.Fail("sshd did not start listening: " + log.Text);
            return result;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                await CliRunner.SignalAsync(_process.Id, "TERM"); // by the PID of the sshd this test started
                try
                {
                    await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                }
                catch (TimeoutException)
                {
                    _process.Kill();
                }
            }

            _process.Dispose();
        }
    }

    private sealed class ChildLog
    {
        private readonly System.Text.StringBuilder _text = new();

        public ChildLog(Process process)
        {
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
        }

        public string Text
        {
            get
            {
                lock (_text)
                {
                    return _text.ToString();
                }
            }
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_text)
                {
                    _text.Append(line).Append('\n');
                }
            }
        }
    }
}
