using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Ssh.Transport.Connection.Tests.Authentication;
using Ssh.Transport.Connection.Tests.Infrastructure;
using static Ssh.Transport.Connection.Tests.Client.ClientTestKit;

namespace Ssh.Transport.Connection.Tests.Client;

/// <summary>
/// <see cref="SshClient"/> against each real server: OpenSSH's sshd (Debian's 9.2 and 10.5), Dropbear (Debian's and
/// 2026), paramiko's and AsyncSSH's servers. Every key type, an encrypted key file, a password, a refusal, commands
/// with their outputs and exit codes, 64 MiB each way, eight channels at once, keepalives. Servers not installed are
/// skipped.
/// </summary>
[Category("Interop")]
[NonParallelizable]
[TestFixtureSource(nameof(Kinds))]
public class ClientAgainstServersTests(ServerKind kind)
{
    private string _directory = null!;
    private TestServer? _server;

    public static IEnumerable<ServerKind> Kinds => Enum.GetValues<ServerKind>();

    [SetUp]
    public void SetUp() => _directory = Peers.NewTempDirectory();

    [TearDown]
    public void TearDown()
    {
        _server?.Dispose();
        _server = null;
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [TestCase("ed25519")]
    [TestCase("ecdsa256")]
    [TestCase("ecdsa384")]
    [TestCase("ecdsa521")]
    [TestCase("rsa")]
    public async Task PublicKey_EachKeyType_RunsACommand(string key)
    {
        TestUser.Authorize(OpenSshKeys.File(key));
        TestServer server = await StartAsync();
        var logs = new ListLoggerFactory();
        SshClientSettings settings = Settings(server, logs);
        settings.PrivateKeyFiles.Add(OpenSshKeys.File(key));
        await using SshClient client = await ConnectAsync(settings, server);
        Assert.That(client.User.Methods, Is.EqualTo(new[] { "publickey" }));
        SshCommandResult result = await client.RunCommandAsync("echo hi").WaitAsync(Bound);
        Assert.That((result.StandardOutput, result.ExitCode), Is.EqualTo(("hi\n", (int?)0)), server.Log);
        if (key == "rsa")
        {
            // The algorithm server-sig-algs chose: rsa-sha2-512 where listed, else rsa-sha2-256 (Dropbear lists only that).
            string expected = server.IsDropbear ? "rsa-sha2-256" : "rsa-sha2-512";
            Assert.That(logs.Lines.Any(l => l.Contains($"({expected}, ", StringComparison.Ordinal) && l.EndsWith(": Success", StringComparison.Ordinal)), Is.True, string.Join('\n', logs.Lines));
        }
    }

    [Test]
    public async Task PublicKey_EncryptedKeyFile_WithThePassphrase()
    {
        TestUser.Authorize(OpenSshKeys.File("ed25519-encrypted"));
        TestServer server = await StartAsync();
        SshClientSettings settings = Settings(server);
        settings.PrivateKeyFiles.Add(OpenSshKeys.File("ed25519-encrypted"));
        Assert.ThrowsAsync<SshKeyPassphraseException>(() => SshClient.ConnectAsync(settings));
        settings.PrivateKeyPassphrase = OpenSshKeys.Passphrase;
        await using SshClient client = await ConnectAsync(settings, server);
        Assert.That(client.User.PublicKey, Is.EqualTo(SshPrivateKey.Load(OpenSshKeys.File("ed25519-encrypted"), OpenSshKeys.Passphrase).PublicKey));
    }

    [Test]
    public async Task Password_RightLogsIn_WrongIsRefusedNamingTheMethods()
    {
        TestUser.Authorize(OpenSshKeys.File("ed25519"));
        TestServer server = await StartAsync();
        SshClientSettings settings = Settings(server);
        settings.Password = TestUser.Password;
        await using (SshClient client = await ConnectAsync(settings, server))
        {
            Assert.That(client.User.Methods, Is.EqualTo(new[] { "password" }));
            Assert.That((await client.RunCommandAsync("echo pw").WaitAsync(Bound)).StandardOutput, Is.EqualTo("pw\n"));
        }

        settings.Password = "wrong";
        SshAuthenticationException refused = Assert.ThrowsAsync<SshAuthenticationException>(() => SshClient.ConnectAsync(settings).WaitAsync(Bound))!;
        Assert.That(refused.TriedMethods, Does.Contain("password"));
        Assert.That(refused.AllowedMethods, Does.Contain("publickey").And.Contain("password"), refused.Message);
        Assert.That(refused.Message, Does.Contain("publickey").And.Contain("password"));
    }

    [Test]
    public async Task Refused_UnknownKey_SaysWhatTheServerAllows()
    {
        TestUser.Authorize(OpenSshKeys.File("ed25519"));
        TestServer server = await StartAsync();
        SshClientSettings settings = Settings(server);
        settings.PrivateKeyFiles.Add(OpenSshKeys.File("ecdsa384"));
        SshAuthenticationException refused = Assert.ThrowsAsync<SshAuthenticationException>(() => SshClient.ConnectAsync(settings).WaitAsync(Bound))!;
        Assert.That(refused.TriedMethods, Is.EqualTo(new[] { "publickey" }));
        Assert.That(refused.AllowedMethods, Does.Contain("password"));
        Assert.That(refused.Message, Does.Contain("No password was given"));
    }

    [Test]
    public async Task Commands_OutputErrorsAndExitCodes()
    {
        await using SshClient client = await ConnectWithKeyAsync();
        SshCommandResult hi = await client.RunCommandAsync("echo hi").WaitAsync(Bound);
        Assert.That((hi.StandardOutput, hi.StandardError, hi.ExitCode), Is.EqualTo(("hi\n", string.Empty, (int?)0)), _server!.Log);
        SshCommandResult three = await client.RunCommandAsync("exit 3").WaitAsync(Bound);
        Assert.That(three.ExitCode, Is.EqualTo(3));
        SshCommandResult both = await client.RunCommandAsync("echo out; echo err >&2; exit 1").WaitAsync(Bound);
        Assert.That((both.StandardOutput, both.StandardError, both.ExitCode), Is.EqualTo(("out\n", "err\n", (int?)1)), "stderr kept apart");
    }

    [Test]
    public async Task Execute_StandardInputToOutput_EofEndsIt()
    {
        await using SshClient client = await ConnectWithKeyAsync();
        await using SshClientSession session = await client.ExecuteAsync("cat; echo done >&2").WaitAsync(Bound);
        Task<string> output = ReadTextAsync(session.StandardOutput);
        Task<string> errors = ReadTextAsync(session.StandardError);
        await session.StandardInput.WriteAsync("line one\nline two\n"u8.ToArray());
        await session.StandardInput.CompleteAsync();
        Assert.That(await output.WaitAsync(Bound), Is.EqualTo("line one\nline two\n"));
        Assert.That(await errors.WaitAsync(Bound), Is.EqualTo("done\n"));
        SshExitStatus status = await session.WaitForExitAsync().WaitAsync(Bound);
        Assert.That(status.ExitCode, Is.Zero);
    }

    /// <summary>
    /// 64 MiB down (hashed by the server as it sends) and 64 MiB up (hashed by sha256sum there): without rekeys, with a
    /// rekey every 1 MiB started by our client, and with one every 1 MiB started by the server (sshd's RekeyLimit,
    /// the Python servers' own limits; Dropbear's is fixed at build time).
    /// </summary>
    [TestCase(Rekeys.None)]
    [TestCase(Rekeys.ByClient)]
    [TestCase(Rekeys.ByServer)]
    public async Task Transfer_64MiB_DownAndUp_HashesEqual(Rekeys rekeys)
    {
        const long Size = 64L * 1024 * 1024;
        await using SshClient client = await ConnectWithKeyAsync(rekeys);
        int serverRekeys = 0;
        client.Transport.KeyExchangeCompleted += (_, e) =>
        {
            if (e.InitiatedBy == SshInitiator.Remote)
            {
                Interlocked.Increment(ref serverRekeys);
            }
        };
        var watch = Stopwatch.StartNew();
        // The server's hash goes to a file read afterwards: Dropbear 2022 may close the channel at the shell's exit
        // before a late write to stderr has gone out.
        string hashFile = $"{TestUser.Home}/down-{Guid.NewGuid():N}.sha256";
        await using (SshClientSession down = await client.ExecuteAsync($"bash -c 'head -c {Size} /dev/urandom | tee >(sha256sum > {hashFile}); wait $!'").WaitAsync(Bound))
        {
            await down.StandardInput.CompleteAsync();
            Task<string> errors = ReadTextAsync(down.StandardError);
            (string hash, long count) = await HashAsync(down.StandardOutput).WaitAsync(TimeSpan.FromMinutes(4));
            Assert.That((await down.WaitForExitAsync().WaitAsync(Bound)).ExitCode, Is.Zero, await errors.WaitAsync(Bound));
            SshCommandResult serverHash = await client.RunCommandAsync($"sleep 0.1; cat {hashFile} && rm -f {hashFile}").WaitAsync(Bound);
            Assert.That((count, hash), Is.EqualTo((Size, FirstWord(serverHash.StandardOutput))), serverHash.StandardError);
        }

        Progress($"{kind}: 64 MiB down {Rate(Size, watch)}");
        watch.Restart();
        await using (SshClientSession up = await client.ExecuteAsync("sha256sum").WaitAsync(Bound))
        {
            Task<string> output = ReadTextAsync(up.StandardOutput);
            Task<string> errors = ReadTextAsync(up.StandardError);
            string sent = await WriteRandomAsync(up.StandardInput, Size).WaitAsync(TimeSpan.FromMinutes(4));
            Assert.That(FirstWord(await output.WaitAsync(Bound)), Is.EqualTo(sent), await errors.WaitAsync(Bound));
            Assert.That((await up.WaitForExitAsync().WaitAsync(Bound)).ExitCode, Is.Zero);
        }

        Progress($"{kind}: 64 MiB up {Rate(Size, watch)}; {client.Transport.KeyExchangeCount} key exchanges, {serverRekeys} started by the server");
        if (rekeys != Rekeys.None)
        {
            Assert.That(client.Transport.KeyExchangeCount, Is.GreaterThan(16), "a rekey about every 1 MiB of the 128 MiB (counted loosely: data flows during each exchange)");
            Assert.That(serverRekeys, rekeys == Rekeys.ByServer ? Is.GreaterThan(16) : Is.EqualTo(0), "rekeys started by the server");
        }
    }

    [Test]
    public async Task EightChannelsAtOnce()
    {
        await using SshClient client = await ConnectWithKeyAsync();
        Task<SshCommandResult>[] runs = [.. Enumerable.Range(0, 8).Select(i => client.RunCommandAsync($"echo {i}; head -c 1048576 /dev/zero | wc -c; exit {i}"))];
        SshCommandResult[] results = await Task.WhenAll(runs).WaitAsync(Bound);
        for (int i = 0; i < 8; i++)
        {
            Assert.That(results[i].StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()), Is.EqualTo(new[] { $"{i}", "1048576" }));
            Assert.That(results[i].ExitCode, Is.EqualTo(i));
        }
    }

    /// <summary>Keepalives on a fake clock: each interval of silence sends one, the server answers, the connection lives on.</summary>
    [Test]
    public async Task KeepAlive_ServerAnswers_ConnectionLives()
    {
        TestUser.Authorize(OpenSshKeys.File("ed25519"));
        TestServer server = await StartAsync();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        SshClientSettings settings = Settings(server);
        settings.PrivateKeyFiles.Add(OpenSshKeys.File("ed25519"));
        settings.TimeProvider = clock;
        settings.KeepAliveInterval = TimeSpan.FromSeconds(15);
        settings.KeepAliveCountMax = 2;
        await using SshClient client = await ConnectAsync(settings, server);
        KeepAliveMonitor monitor = client.KeepAlive!;
        for (int tick = 0; tick < 10; tick++)
        {
            clock.Advance(settings.KeepAliveInterval);
            int sent = monitor.Sent;
            for (int i = 0; i < 500 && monitor.Answered < sent; i++)
            {
                await Task.Delay(10);
            }

            Assert.That(monitor.Answered, Is.EqualTo(sent), $"keepalive {sent} answered");
        }

        Assert.That(monitor.Sent, Is.GreaterThanOrEqualTo(4), "a keepalive every other interval at least (the answer counts as traffic for the next)");
        Assert.That(client.IsConnected, Is.True);
        Assert.That((await client.RunCommandAsync("echo alive").WaitAsync(Bound)).StandardOutput, Is.EqualTo("alive\n"));
    }

    private async Task<TestServer> StartAsync(string[]? sshdOptions = null, string[]? extraArguments = null)
    {
        _server = await TestServer.StartAsync(kind, _directory, sshdOptions, extraArguments);
        return _server;
    }

    private async Task<SshClient> ConnectWithKeyAsync(Rekeys rekeys = Rekeys.None)
    {
        TestUser.Authorize(OpenSshKeys.File("ed25519"));
        const int Limit = 1024 * 1024;
        TestServer server = rekeys != Rekeys.ByServer ? await StartAsync()
            : kind switch
            {
                ServerKind.Sshd or ServerKind.Sshd10 => await StartAsync(sshdOptions: ["RekeyLimit 1M"]),
                ServerKind.Paramiko or ServerKind.AsyncSsh => await StartAsync(extraArguments: [$"--rekey-bytes={Limit}"]),
                _ => throw new IgnoreException("Dropbear's rekey limit is fixed when it is built (KEX_REKEY_DATA, 1 GiB): it cannot start a rekey within 64 MiB."),
            };
        SshClientSettings settings = Settings(server);
        settings.PrivateKeyFiles.Add(OpenSshKeys.File("ed25519"));
        if (rekeys == Rekeys.ByClient)
        {
            settings.TransportOptions.Packetizer.RekeyBytes = Limit;
        }

        return await ConnectAsync(settings, server);
    }

    /// <summary>Who starts the rekeys of a transfer.</summary>
    public enum Rekeys
    {
        None,
        ByClient,
        ByServer,
    }
}
