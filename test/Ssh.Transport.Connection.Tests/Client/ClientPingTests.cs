using Ssh.Transport.Connection.Tests.Authentication;
using Ssh.Transport.Connection.Tests.Infrastructure;
using Ssh.Transport.Connection.Tests.Server;
using static Ssh.Transport.Connection.Tests.Client.ClientTestKit;

namespace Ssh.Transport.Connection.Tests.Client;

/// <summary>
/// <see cref="SshClient.PingAsync"/> (ping@openssh.com) against sshd: OpenSSH 10.5 advertises it and answers, also
/// while it rekeys (it drops a PING that arrives during its key exchange: the client sends it again after); Debian's
/// 9.2 does not advertise it, and the call says so.
/// </summary>
[Category("Interop")]
[NonParallelizable]
[TestFixture(ServerKind.Sshd)]
[TestFixture(ServerKind.Sshd10)]
public class ClientPingAgainstOpenSshTests(ServerKind kind)
{
    private string _directory = null!;
    private TestServer? _server;

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

    [Test]
    public async Task PingAsync_RoundTripWhereAdvertised_NotSupportedElsewhere()
    {
        await using SshClient client = await ConnectAsync();
        if (kind == ServerKind.Sshd)
        {
            Assert.That(client.Transport.IsPingSupported, Is.False, "OpenSSH 9.2 predates ping@openssh.com (9.5)");
            var e = Assert.ThrowsAsync<NotSupportedException>(() => client.PingAsync());
            Assert.That(e!.Message, Does.Contain("ping@openssh.com"));
            Assert.That(client.IsConnected, Is.True, "nothing was sent: the connection goes on");
            Assert.That((await client.RunCommandAsync("echo still").WaitAsync(Bound)).StandardOutput, Is.EqualTo("still\n"));
            return;
        }

        Assert.That(client.Transport.IsPingSupported, Is.True);
        var rtts = new List<TimeSpan>();
        for (int i = 0; i < 10; i++)
        {
            rtts.Add(await client.PingAsync().WaitAsync(Bound));
        }

        Progress($"{kind}: 10 pings, round trips {string.Join(", ", rtts.Select(r => $"{r.TotalMilliseconds:F3}"))} ms");
        Assert.That(rtts, Has.All.GreaterThan(TimeSpan.Zero));
    }

    [Test]
    public async Task PingAsync_WhileSshdRekeysEvery32KiB_EveryPingAnswered()
    {
        Assume.That(kind, Is.EqualTo(ServerKind.Sshd10), "only OpenSSH 10.5 has ping@openssh.com");
        var logs = new ListLoggerFactory();
        await using SshClient client = await ConnectAsync(["RekeyLimit 32K"], logs);
        int rekeys = 0;
        client.Transport.KeyExchangeCompleted += (_, e) => Interlocked.Increment(ref rekeys);

        // 4 MiB down keeps sshd's 32 KiB limit tripping while 100 pings go, each waiting for its answer.
        await using SshClientSession down = await client.ExecuteAsync("head -c 4194304 /dev/zero").WaitAsync(Bound);
        await down.StandardInput.CompleteAsync();
        Task<(string Sha256, long Count)> reading = HashAsync(down.StandardOutput);
        int answered = 0;
        while (!reading.IsCompleted || answered < 100)
        {
            await client.PingAsync().WaitAsync(Bound);
            answered++;
        }

        (_, long count) = await reading.WaitAsync(Bound);
        int resent = logs.Lines.Count(l => l.Contains("unanswered PING(s) sent again", StringComparison.Ordinal));
        Progress($"{kind}: {answered} pings answered during {count} bytes down and {rekeys} key exchanges by sshd; {resent} times a PING went again after an exchange");
        Assert.That(count, Is.EqualTo(4194304));
        Assert.That(rekeys, Is.GreaterThan(10), "sshd rekeyed while the pings went");
    }

    private async Task<SshClient> ConnectAsync(string[]? sshdOptions = null, ListLoggerFactory? logs = null)
    {
        TestUser.Authorize(OpenSshKeys.File("ed25519"));
        _server = await TestServer.StartAsync(kind, _directory, sshdOptions);
        SshClientSettings settings = Settings(_server, logs);
        settings.PrivateKeyFiles.Add(OpenSshKeys.File("ed25519"));
        return await ClientTestKit.ConnectAsync(settings, _server);
    }
}

/// <summary><see cref="SshClient.PingAsync"/> against our own server (<see cref="RealServer"/>), on a loopback socket.</summary>
[Category("Interop")]
public class ClientPingAgainstOurServerTests
{
    [Test]
    public async Task PingAsync_OurServer_AnswersEveryPing()
    {
        await using var server = RealServer.Start();
        var settings = new SshClientSettings("127.0.0.1", server.Port)
        {
            UserName = "alice",
            AcceptAnyHostKey = true,
            UseAgent = false,
        };
        settings.PrivateKeyFiles.Add(OpenSshKeys.File("ed25519"));
        await using (SshClient client = await SshClient.ConnectAsync(settings).WaitAsync(Bound))
        {
            Assert.That(client.Transport.IsPingSupported, Is.True);
            for (int i = 0; i < 5; i++)
            {
                Assert.That(await client.PingAsync().WaitAsync(Bound), Is.GreaterThan(TimeSpan.Zero));
            }
        }

        await server.WaitForConnectionsAsync();
        Assert.That(server.Errors, Is.Empty);
    }
}
