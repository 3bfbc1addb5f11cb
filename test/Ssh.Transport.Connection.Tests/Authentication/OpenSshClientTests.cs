using System.Net;
using System.Net.Sockets;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Authentication;

/// <summary>
/// Our client against sshd, Debian's and the newest (one fixture per <see cref="OpenSshGeneration"/>), started on
/// 127.0.0.1 with a configuration of its own per test (host key, AuthorizedKeysFile in a temporary folder, DEBUG3 log
/// read back). Skipped when that sshd is not installed.
/// </summary>
[Category("Interop")]
[NonParallelizable]
[TestFixtureSource(typeof(OpenSsh), nameof(OpenSsh.Generations))]
public class OpenSshClientTests(OpenSshGeneration generation)
{
    private const string TestUser = "sshauthtest";
    private const string TestPassword = "Corr3ct-h0rse";

    private readonly OpenSsh _openssh = OpenSsh.Get(generation);
    private string _directory = null!;
    private readonly List<IDisposable> _processes = [];

    [SetUp]
    public void SetUp() => _directory = Peers.NewTempDirectory();

    [TearDown]
    public void TearDown()
    {
        foreach (IDisposable process in _processes)
        {
            process.Dispose();
        }

        _processes.Clear();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string User => Environment.UserName;

    /// <summary>
    /// The fixture's sshd is the generation it claims (its identification line carries `ssh -V`'s version), and our
    /// default key exchange meets it: mlkem768x25519-sha256 from OpenSSH 9.9 on.
    /// </summary>
    [Test]
    public async Task Sshd_IsThisGeneration_AndOurDefaultKexMeetsIt()
    {
        PeerProcess sshd = await StartSshdAsync();
        await using SshTransport transport = await ConnectAsync(sshd);
        await TestContext.Out.WriteLineAsync($"{_openssh}: {transport.RemoteIdentification}, {transport.Algorithms.KeyExchange}");
        Assert.That(transport.RemoteIdentification, Does.StartWith($"SSH-2.0-{_openssh.ShortVersion}"));
        if (_openssh.VersionNumber >= 909)
        {
            Assert.That(transport.Algorithms.KeyExchange, Is.EqualTo("mlkem768x25519-sha256"));
        }

        await transport.DisconnectAsync();
    }

    [TestCase("ed25519")]
    [TestCase("ecdsa256")]
    [TestCase("ecdsa384")]
    [TestCase("ecdsa521")]
    [TestCase("rsa")]
    public async Task PublicKey_EachKeyType(string kind)
    {
        string keyFile = OpenSshKeys.File(kind);
        Authorize(keyFile);
        PeerProcess sshd = await StartSshdAsync();
        var options = new SshClientAuthenticationOptions { UserName = User };
        options.PrivateKeys.Add(SshPrivateKey.Load(keyFile));
        SshAuthenticatedUser user = await AuthenticateAsync(sshd, options);
        Assert.That(user.Methods, Is.EqualTo(new[] { "publickey" }));
        string log = await SshdLogAsync(sshd, $"Accepted publickey for {User}");
        Assert.That(log, Does.Contain("method publickey-hostbound-v00@openssh.com"), "sshd 8.9+ announces host-bound publickey, and our client uses it");
        if (kind == "rsa")
        {
            Assert.That(log, Does.Contain("pkalg rsa-sha2-512"));
        }
    }

    /// <summary>
    /// The connection layer with a real server: a session channel, exec, stdout and stderr kept apart, the exit status,
    /// EOF and CLOSE as sshd sends them.
    /// </summary>
    [Test]
    public async Task Session_Exec_StdoutStderrAndExitStatus()
    {
        string keyFile = OpenSshKeys.File("ed25519");
        Authorize(keyFile);
        PeerProcess sshd = await StartSshdAsync();
        (string stdout, string stderr, uint? status) = await ExecAsync(sshd, keyFile, "echo hi; echo oops >&2; exit 3");
        Assert.That((stdout, status), Is.EqualTo(("hi\n", (uint?)3)), Tail(sshd));
        Assert.That(CommandErrorLines(stderr), Is.EqualTo(new[] { "oops" }), "stderr apart from stdout");
    }

    /// <summary>16 MiB down from sshd through one channel, with a rekey every 1 MiB started by our client: byte-identical.</summary>
    [Test]
    public async Task Session_Exec_16MiBDown_WithOurRekeys_HashesEqual()
    {
        string keyFile = OpenSshKeys.File("ed25519");
        Authorize(keyFile);
        PeerProcess sshd = await StartSshdAsync();
        SshClientOptions options = Harness.ClientOptions();
        options.Packetizer.RekeyBytes = 1024 * 1024;
        string command = "head -c 16777216 /dev/zero | tr '\\0' 'x' | tee >(sha256sum >&2)";
        (_, string stderr, uint? status, string hash, long count, int rekeys) = await ExecHashingAsync(sshd, keyFile, $"bash -c \"{command}\"", options);
        Assert.That(status, Is.EqualTo((uint?)0), stderr + Tail(sshd));
        Assert.That(count, Is.EqualTo(16L * 1024 * 1024));
        Assert.That(CommandErrorLines(stderr).Single().Split(' ')[0], Is.EqualTo(hash), "the server's side hashed what we received");
        Assert.That(rekeys, Is.GreaterThanOrEqualTo(4), "rekeys by our client in the middle (counted loosely: data flows during each exchange)");
    }

    /// <summary>The command's own stderr lines: this test sshd runs with LogLevel DEBUG3 and -e, and its session process's debug lines share the channel's stderr.</summary>
    private static string[] CommandErrorLines(string stderr) =>
        [.. stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("debug", StringComparison.Ordinal))];

    private async Task<(string Stdout, string Stderr, uint? Status)> ExecAsync(PeerProcess sshd, string keyFile, string command)
    {
        (string stdout, string stderr, uint? status, _, _, _) = await ExecHashingAsync(sshd, keyFile, command, Harness.ClientOptions(), keepText: true);
        return (stdout, stderr, status);
    }

    private async Task<(string Stdout, string Stderr, uint? Status, string Sha256, long Count, int Rekeys)> ExecHashingAsync(
        PeerProcess sshd, string keyFile, string command, SshClientOptions transportOptions, bool keepText = false)
    {
        await using SshTransport transport = await SshClientConnector.ConnectAsync("127.0.0.1", _ports[sshd], transportOptions, TimeSpan.FromSeconds(10));
        var options = new SshClientAuthenticationOptions { UserName = User };
        options.PrivateKeys.Add(SshPrivateKey.Load(keyFile));
        await SshClientAuthentication.AuthenticateAsync(transport, options).WaitAsync(TimeSpan.FromSeconds(30));
        int firstCount = transport.KeyExchangeCount;
        await using var connection = new SshConnection(transport);
        Task loop = connection.RunAsync();
        SshChannel channel = await connection.OpenChannelAsync("session").WaitAsync(TimeSpan.FromSeconds(30));
        uint? status = null;
        channel.RequestHandler = (_, request, _) =>
        {
            if (request.Type == "exit-status")
            {
                status = new SshReader(request.Data.Span).ReadUInt32();
            }

            return ValueTask.FromResult(false);
        };
        bool started = await channel.SendRequestAsync("exec", wantReply: true, command, static (ref SshWriter w, string c) => w.WriteString(c)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(started, Is.True, "sshd accepted exec");
        await channel.Output.CompleteAsync();

        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var text = new MemoryStream();
        long count = 0;
        async Task ReadOut()
        {
            while (true)
            {
                System.IO.Pipelines.ReadResult result = await channel.Input.ReadAsync();
                foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                {
                    hash.AppendData(segment.Span);
                    count += segment.Length;
                    if (keepText)
                    {
                        text.Write(segment.Span);
                    }
                }

                channel.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }

        async Task<string> ReadErr()
        {
            var err = new MemoryStream();
            while (true)
            {
                System.IO.Pipelines.ReadResult result = await channel.ExtendedInput.ReadAsync();
                foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                {
                    err.Write(segment.Span);
                }

                channel.ExtendedInput.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return System.Text.Encoding.UTF8.GetString(err.ToArray());
                }
            }
        }

        Task<string> stderr = ReadErr();
        await ReadOut().WaitAsync(TimeSpan.FromSeconds(120));
        string errText = await stderr.WaitAsync(TimeSpan.FromSeconds(30));
        await channel.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        int rekeys = transport.KeyExchangeCount - firstCount;
        await transport.DisconnectAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(10));
        return (System.Text.Encoding.UTF8.GetString(text.ToArray()), errText, status, Convert.ToHexStringLower(hash.GetHashAndReset()), count, rekeys);
    }

    // rsa-sha2-256 is not tested against sshd: OpenSSH 9.2's server-sig-algs lists every algorithm it knows, whatever
    // PubkeyAcceptedAlgorithms says, so a client cannot learn that only rsa-sha2-256 would do. It is tested with
    // ssh against our server (OpenSshServerTests), and with our client against our server.

    [Test]
    public async Task PublicKey_EncryptedKeyFile()
    {
        string keyFile = OpenSshKeys.File("ed25519-encrypted");
        Authorize(keyFile);
        PeerProcess sshd = await StartSshdAsync();
        Assert.Throws<SshKeyPassphraseException>(() => SshPrivateKey.Load(keyFile));
        var options = new SshClientAuthenticationOptions { UserName = User };
        options.PrivateKeys.Add(SshPrivateKey.Load(keyFile, OpenSshKeys.Passphrase));
        await AuthenticateAsync(sshd, options);
        await SshdLogAsync(sshd, $"Accepted publickey for {User}");
    }

    [Test]
    public async Task Agent_RealSshAgent_SignsForUs()
    {
        string agentBinary = _openssh.Require("ssh-agent");
        string add = _openssh.Require("ssh-add");
        string socket = Path.Combine(_directory, "agent.sock");
        PeerProcess agent = Track(PeerProcess.Start(agentBinary, ["-a", socket, "-D"]));
        for (int i = 0; i < 100 && !File.Exists(socket); i++)
        {
            await Task.Delay(50);
        }

        var environment = new Dictionary<string, string> { ["SSH_AUTH_SOCK"] = socket };
        foreach (string kind in new[] { "ecdsa256", "rsa" })
        {
            (int code, string output) = Peers.Run(add, [OpenSshKeys.File(kind)], environment);
            Assert.That(code, Is.Zero, $"ssh-add: {output}\n{agent.Log}");
        }

        // Only the RSA key is authorized: the ECDSA one is offered and refused, then the agent signs with rsa-sha2-512.
        Authorize(OpenSshKeys.File("rsa"));
        PeerProcess sshd = await StartSshdAsync();
        var options = new SshClientAuthenticationOptions { UserName = User, UseAgent = true, AgentSocketPath = socket };
        SshAuthenticatedUser user = await AuthenticateAsync(sshd, options);
        Assert.That(user.PublicKey, Is.EqualTo(SshPrivateKey.Load(OpenSshKeys.File("rsa")).PublicKey));
        string log = await SshdLogAsync(sshd, $"Accepted publickey for {User}");
        Assert.That(log, Does.Contain("pkalg rsa-sha2-512"));
    }

    [Test]
    public async Task Password_RightThenWrong()
    {
        EnsureTestUser();
        PeerProcess sshd = await StartSshdAsync();
        var options = new SshClientAuthenticationOptions { UserName = TestUser, Password = TestPassword };
        Assert.That((await AuthenticateAsync(sshd, options)).Methods, Is.EqualTo(new[] { "password" }));
        await SshdLogAsync(sshd, $"Accepted password for {TestUser}");

        options.Password = "wrong";
        SshAuthenticationException refused = await RefusedAsync(sshd, options);
        Assert.That(refused.TriedMethods, Is.EqualTo(new[] { "password" }));
        Assert.That(refused.AllowedMethods, Is.EqualTo(new[] { "publickey", "password" }));
    }

    [Test]
    public async Task KeyboardInteractive_ThroughPam()
    {
        _openssh.Require("sshd");
        if (!_openssh.HasPam)
        {
            Assert.Ignore($"This sshd ({_openssh.Version}) is built without PAM (build-peers.sh configures --without-pam): it offers no keyboard-interactive device.");
        }

        EnsureTestUser();
        if (!File.Exists("/etc/pam.d/sshd"))
        {
            Assert.Ignore("sshd's PAM configuration (/etc/pam.d/sshd) is missing.");
        }

        PeerProcess sshd = await StartSshdAsync("UsePAM yes", "KbdInteractiveAuthentication yes", "PasswordAuthentication no");
        var options = new SshClientAuthenticationOptions { UserName = TestUser, Password = TestPassword };
        Assert.That((await AuthenticateAsync(sshd, options)).Methods, Is.EqualTo(new[] { "keyboard-interactive" }));
        await SshdLogAsync(sshd, $"Accepted keyboard-interactive/pam for {TestUser}");
    }

    [Test]
    public async Task Refused_UnknownKey_SaysWhatTheServerAllows()
    {
        Authorize(OpenSshKeys.File("ed25519"));
        PeerProcess sshd = await StartSshdAsync();
        var options = new SshClientAuthenticationOptions { UserName = User };
        options.PrivateKeys.Add(SshPrivateKey.Load(OpenSshKeys.File("ecdsa384")));
        SshAuthenticationException refused = await RefusedAsync(sshd, options);
        Assert.That(refused.TriedMethods, Is.EqualTo(new[] { "publickey" }));
        Assert.That(refused.AllowedMethods, Is.EqualTo(new[] { "publickey", "password" }));
        Assert.That(refused.Message, Does.Contain("No password was given"));
    }

    [Test]
    public async Task Banner_AndDelayedCompression()
    {
        string keyFile = OpenSshKeys.File("ed25519");
        Authorize(keyFile);
        string banner = Path.Combine(_directory, "banner");
        File.WriteAllText(banner, "Welcome to the test sshd.\n");
        PeerProcess sshd = await StartSshdAsync($"Banner {banner}", "Compression yes");
        SshClientOptions transportOptions = Harness.ClientOptions();
        transportOptions.CompressionAlgorithms.Clear();
        transportOptions.CompressionAlgorithms.Add("zlib@openssh.com");
        await using SshTransport transport = await ConnectAsync(sshd, transportOptions);
        var banners = new List<string>();
        var options = new SshClientAuthenticationOptions { UserName = User, BannerReceived = banners.Add };
        options.PrivateKeys.Add(SshPrivateKey.Load(keyFile));
        await SshClientAuthentication.AuthenticateAsync(transport, options).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(banners, Is.EqualTo(new[] { "Welcome to the test sshd.\n" }));
        Assert.That(transport.Algorithms.CompressionServerToClient, Is.EqualTo("zlib@openssh.com"));

        // sshd compresses from the packet after SUCCESS (its hostkeys-00 global request); our keepalive gets an answer.
        await transport.WriteMessageAsync(0, static (w, _) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.GlobalRequest);
            writer.WriteString("keepalive@openssh.com");
            writer.WriteBoolean(true);
        });
        var seen = new List<byte>();
        while (true)
        {
            SshPacket message = await transport.ReadMessageAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.That(message.IsCompleted, Is.False, "sshd closed: " + string.Join(",", seen));
            seen.Add(message.MessageNumber);
            if (message.MessageNumber == SshMessageNumber.RequestFailure)
            {
                break;
            }
        }

        Assert.That(seen, Does.Contain(SshMessageNumber.GlobalRequest), "hostkeys-00@openssh.com, compressed");
        await transport.DisconnectAsync();
    }

    private T Track<T>(T process)
        where T : IDisposable
    {
        _processes.Add(process);
        return process;
    }

    private void Authorize(string keyFile) =>
        File.AppendAllText(Path.Combine(_directory, "authorized_keys"), File.ReadAllText(keyFile + ".pub"));

    private async Task<PeerProcess> StartSshdAsync(params string[] extra)
    {
        string sshd = _openssh.Require("sshd");
        _openssh.RequirePrivilegeSeparationDirectory();

        for (int attempt = 1; ; attempt++)
        {
            int port = Peers.FreePort();
            string config = Path.Combine(_directory, "sshd_config");
            File.WriteAllLines(config, [
                .. extra,
                .. _openssh.SshdConfig,
                "ListenAddress 127.0.0.1",
                $"Port {port}",
                $"HostKey {OpenSshKeys.File("host")}",
                $"PidFile {Path.Combine(_directory, "sshd.pid")}",
                $"AuthorizedKeysFile {Path.Combine(_directory, "authorized_keys")}",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin yes",
                "PasswordAuthentication yes",
                "KbdInteractiveAuthentication no",
                "LogLevel DEBUG3",
                "LoginGraceTime 60",
            ]);
            PeerProcess process = Track(PeerProcess.Start(sshd, ["-D", "-e", "-f", config]));
            string? ready = await process.WaitForLineAsync(l => l.Contains("Server listening on", StringComparison.Ordinal) || l.Contains("Cannot bind", StringComparison.Ordinal), TimeSpan.FromSeconds(15));
            if (ready?.Contains("Server listening on", StringComparison.Ordinal) == true)
            {
                _ports[process] = port;
                return process;
            }

            process.Dispose();
            if (attempt == 3)
            {
                Assert.Fail($"sshd did not start:\n{process.Log}");
            }
        }
    }

    private readonly Dictionary<PeerProcess, int> _ports = [];

    private async Task<SshTransport> ConnectAsync(PeerProcess sshd, SshClientOptions? options = null) =>
        await SshClientConnector.ConnectAsync("127.0.0.1", _ports[sshd], options ?? Harness.ClientOptions(), TimeSpan.FromSeconds(10));

    private async Task<SshAuthenticatedUser> AuthenticateAsync(PeerProcess sshd, SshClientAuthenticationOptions options)
    {
        await using SshTransport transport = await ConnectAsync(sshd);
        try
        {
            SshAuthenticatedUser user = await SshClientAuthentication.AuthenticateAsync(transport, options).WaitAsync(TimeSpan.FromSeconds(30));
            await transport.DisconnectAsync();
            return user;
        }
        catch (Exception e)
        {
            Assert.Fail($"{e}\n--- sshd log ---\n{Tail(sshd)}");
            throw;
        }
    }

    private async Task<SshAuthenticationException> RefusedAsync(PeerProcess sshd, SshClientAuthenticationOptions options)
    {
        await using SshTransport transport = await ConnectAsync(sshd);
        try
        {
            await SshClientAuthentication.AuthenticateAsync(transport, options).WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (SshAuthenticationException e)
        {
            await transport.DisconnectAsync(SshDisconnectReason.NoMoreAuthMethodsAvailable, "test done");
            return e;
        }

        Assert.Fail("authentication succeeded");
        throw new InvalidOperationException();
    }

    /// <summary>The log once <paramref name="line"/> has appeared in it.</summary>
    private static async Task<string> SshdLogAsync(PeerProcess sshd, string line)
    {
        string? found = await sshd.WaitForLineAsync(l => l.Contains(line, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.That(found, Is.Not.Null, $"sshd never logged '{line}':\n{Tail(sshd)}");
        return sshd.Log;
    }

    private static string Tail(PeerProcess sshd) => string.Join('\n', sshd.Lines.TakeLast(60));

    /// <summary>A user with a password, for sshd's password and PAM methods; created once (root only).</summary>
    private static void EnsureTestUser()
    {
        lock (s_userLock)
        {
            if (s_userReady is { } ready)
            {
                if (!ready)
                {
                    Assert.Ignore(s_userProblem!);
                }

                return;
            }

            s_userReady = false;
            string? useradd = Peers.Find("useradd");
            string? chpasswd = Peers.Find("chpasswd");
            if (Environment.UserName != "root" || useradd is null || chpasswd is null)
            {
                s_userProblem = "The password tests need a user with a password: they create one with useradd and chpasswd, which needs root.";
                Assert.Ignore(s_userProblem);
            }

            if (Peers.Run("/usr/bin/id", [TestUser]).ExitCode != 0)
            {
                (int code, string output) = Peers.Run(useradd!, ["-M", "-s", "/bin/sh", "-d", "/tmp", TestUser]);
                if (code != 0)
                {
                    s_userProblem = $"useradd {TestUser} failed: {output}";
                    Assert.Ignore(s_userProblem);
                }
            }

            (int set, string said) = Peers.Run(chpasswd!, [], input: $"{TestUser}:{TestPassword}\n");
            if (set != 0)
            {
                s_userProblem = $"chpasswd failed: {said}";
                Assert.Ignore(s_userProblem);
            }

            s_userReady = true;
        }
    }

    private static readonly Lock s_userLock = new();
    private static bool? s_userReady;
    private static string? s_userProblem;
}

/// <summary>Keys made by ssh-keygen once per run: the peers' own format, read by our loader.</summary>
internal static class OpenSshKeys
{
    public const string Passphrase = "correct horse battery";

    private static readonly Lazy<string> s_directory = new(Peers.NewTempDirectory);
    private static readonly Dictionary<string, string> s_files = [];

    /// <summary>The private key file of a kind: host, ed25519, ecdsa256/384/521, rsa, ed25519-encrypted (its .pub beside it).</summary>
    public static string File(string kind)
    {
        string keygen = Peers.Find("ssh-keygen") ?? OpenSsh.Get(OpenSshGeneration.Newest).Find("ssh-keygen") ?? Peers.Require("ssh-keygen", "openssh-client");
        lock (s_files)
        {
            if (s_files.TryGetValue(kind, out string? path))
            {
                return path;
            }

            path = Path.Combine(s_directory.Value, $"id_{kind}");
            string[] type = kind switch
            {
                "host" or "ed25519" or "ed25519-encrypted" => ["-t", "ed25519"],
                "rsa" => ["-t", "rsa", "-b", "2048"],
                _ => ["-t", "ecdsa", "-b", kind[5..]],
            };
            Peers.RunChecked(keygen, [.. type, "-q", "-N", kind == "ed25519-encrypted" ? Passphrase : string.Empty, "-C", $"test-{kind}", "-f", path]);
            s_files[kind] = path;
            return path;
        }
    }
}
