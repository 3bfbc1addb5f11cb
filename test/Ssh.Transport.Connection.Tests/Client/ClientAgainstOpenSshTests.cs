using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using Ssh.Transport.Connection.Tests.Authentication;
using Ssh.Transport.Connection.Tests.Infrastructure;
using static Ssh.Transport.Connection.Tests.Client.ClientTestKit;

namespace Ssh.Transport.Connection.Tests.Client;

/// <summary>
/// <see cref="SshClient"/> against OpenSSH's sshd (Debian's 9.2 and 10.5): rekeys started by either side and
/// compression during 64 MiB transfers, tunnels and forwarding, keepalive failure, bounded memory against a server
/// that stops reading, a real ssh-agent, known_hosts, sessions with a pseudo-terminal, environment, signals and a
/// subsystem.
/// </summary>
[Category("Interop")]
[NonParallelizable]
[TestFixture(ServerKind.Sshd)]
[TestFixture(ServerKind.Sshd10)]
public class ClientAgainstOpenSshTests(ServerKind kind)
{
    private const long Size = 64L * 1024 * 1024;

    private string _directory = null!;
    private TestServer? _server;
    private readonly List<IDisposable> _disposables = [];

    [SetUp]
    public void SetUp() => _directory = Peers.NewTempDirectory();

    [TearDown]
    public void TearDown()
    {
        foreach (IDisposable disposable in _disposables)
        {
            disposable.Dispose();
        }

        _disposables.Clear();
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

    /// <summary>64 MiB down and up with a rekey every 1 MiB: started by our client (its limit), or by sshd (RekeyLimit 1M), with zlib@openssh.com on or off.</summary>
    [TestCase(true, false)]
    [TestCase(false, false)]
    [TestCase(true, true)]
    public async Task Transfer_64MiB_RekeyEvery1MiB_HashesEqual(bool ourRekeys, bool compression)
    {
        string[] sshd = ourRekeys ? [] : ["RekeyLimit 1M"];
        if (compression)
        {
            sshd = [.. sshd, "Compression yes"];
        }

        (SshClient client, TestServer server) = await ConnectAsync(sshd, settings =>
        {
            if (ourRekeys)
            {
                settings.TransportOptions.Packetizer.RekeyBytes = 1024 * 1024;
            }

            if (compression)
            {
                settings.TransportOptions.CompressionAlgorithms.Clear();
                settings.TransportOptions.CompressionAlgorithms.Add("zlib@openssh.com");
            }
        });
        await using SshClient owned = client;
        var byUs = 0;
        var byServer = 0;
        client.Transport.KeyExchangeCompleted += (_, e) => Interlocked.Increment(ref e.InitiatedBy == SshInitiator.Local ? ref byUs : ref byServer);
        var watch = Stopwatch.StartNew();
        await using (SshClientSession down = await client.ExecuteAsync($"bash -c 'head -c {Size} /dev/urandom | tee >(sha256sum >&2); wait $!'").WaitAsync(Bound))
        {
            await down.StandardInput.CompleteAsync();
            Task<string> errors = ReadTextAsync(down.StandardError);
            (string hash, long count) = await HashAsync(down.StandardOutput).WaitAsync(TimeSpan.FromMinutes(4));
            Assert.That((count, hash), Is.EqualTo((Size, FirstWord(await errors.WaitAsync(Bound)))));
        }

        TimeSpan downTime = watch.Elapsed;
        watch.Restart();
        await using (SshClientSession up = await client.ExecuteAsync("sha256sum").WaitAsync(Bound))
        {
            Task<string> output = ReadTextAsync(up.StandardOutput);
            _ = ReadTextAsync(up.StandardError);
            string sent = await WriteRandomAsync(up.StandardInput, Size).WaitAsync(TimeSpan.FromMinutes(4));
            Assert.That(FirstWord(await output.WaitAsync(Bound)), Is.EqualTo(sent));
        }

        Progress($"{kind} rekeys by {(ourRekeys ? "us" : "sshd")}{(compression ? ", zlib@openssh.com" : string.Empty)}: 64 MiB down in {downTime.TotalSeconds:F2} s, up {Rate(Size, watch)}; rekeys by us {byUs}, by sshd {byServer}");
        Assert.That(client.Transport.Algorithms.CompressionServerToClient, Is.EqualTo(compression ? "zlib@openssh.com" : "none"));

        // RFC 4253 §7.1 as OpenSSH 10.4+ enforces it: channel data (and window adjusts) flowed through every exchange,
        // and none of it went out between sshd's KEXINIT and our NEWKEYS (sshd would log "non-transport message
        // received from peer during key exchange" and disconnect).
        Assert.That(server.Process.Log, Does.Not.Contain("during key exchange"));

        // Data keeps flowing while a key exchange runs (sntrup761 with Debian's sshd takes a few hundred ms on a busy
        // machine), so a cycle covers 1 MiB plus what went during its exchange: counted loosely, not per MiB.
        if (ourRekeys)
        {
            Assert.That(byUs, Is.GreaterThanOrEqualTo(24), "128 MiB at a rekey per MiB (plus what flows during each)");
        }
        else
        {
            Assert.That(byServer, Is.GreaterThanOrEqualTo(24), $"sshd's RekeyLimit 1M (by us {byUs})");
        }
    }

    /// <summary>
    /// aes128-ctr + hmac-sha2-256-etm with tags computed sixteen packets at a time where packets queue (the first
    /// window's worth going up, whatever piles up in our receive buffer coming down): sshd accepts every packet we
    /// sealed in a batch, and what it sent arrives whole.
    /// </summary>
    [Test]
    public async Task Transfer_EtmTagsInBatches_HashesEqual()
    {
        Assume.That(Ssh.Transport.Crypto.Primitives.HmacSha256x16.IsSupported, "no AVX-512 on this machine");
        (SshClient client, _) = await ConnectAsync(null, settings =>
        {
            settings.TransportOptions.Ciphers.Clear();
            settings.TransportOptions.Ciphers.Add("aes128-ctr");
            settings.TransportOptions.Macs.Clear();
            settings.TransportOptions.Macs.Add("hmac-sha2-256-etm@openssh.com");
        });
        await using SshClient owned = client;
        const long Bytes = 16L * 1024 * 1024;
        await using (SshClientSession up = await client.ExecuteAsync("sha256sum").WaitAsync(Bound))
        {
            Task<string> output = ReadTextAsync(up.StandardOutput);
            _ = ReadTextAsync(up.StandardError);
            string sent = await WriteRandomAsync(up.StandardInput, Bytes, chunk: 1024 * 1024).WaitAsync(TimeSpan.FromMinutes(2));
            Assert.That(FirstWord(await output.WaitAsync(Bound)), Is.EqualTo(sent));
        }

        Assert.That(client.Transport.Packetizer.State.Outbound.Active.PacketsSealedInBatches, Is.GreaterThanOrEqualTo(32), "at least the first 2 MiB window in batches");
        await using (SshClientSession down = await client.ExecuteAsync($"bash -c 'head -c {Bytes} /dev/urandom | tee >(sha256sum >&2); wait $!'").WaitAsync(Bound))
        {
            await down.StandardInput.CompleteAsync();
            Task<string> errors = ReadTextAsync(down.StandardError);
            (string hash, long count) = await HashAsync(down.StandardOutput).WaitAsync(TimeSpan.FromMinutes(2));
            Assert.That((count, hash), Is.EqualTo((Bytes, FirstWord(await errors.WaitAsync(Bound)))));
        }

        Progress($"{kind} aes128-ctr hmac-sha2-256-etm: sealed in batches {client.Transport.Packetizer.State.Outbound.Active.PacketsSealedInBatches}, verified ahead {client.Transport.Packetizer.State.Inbound.Active.PacketsVerifiedAhead}");
    }

    [Test]
    public async Task Tunnel_DirectTcpIp_ToALocalEchoServer_8MiBIdentical()
    {
        using var echo = Track(new EchoServer());
        (SshClient client, _) = await ConnectAsync();
        await using SshClient owned = client;
        await using SshChannel tunnel = await client.OpenTcpIpTunnelAsync("127.0.0.1", echo.Port).WaitAsync(Bound);
        Task<(string, long)> back = HashAsync(tunnel.Input);
        string sent = await WriteRandomAsync(tunnel.Output, 8L * 1024 * 1024, seed: 7).WaitAsync(Bound);
        Assert.That(await back.WaitAsync(Bound), Is.EqualTo((sent, 8L * 1024 * 1024)));
        Assert.That(echo.Connections, Is.EqualTo(1));

        SshChannelOpenException refused = Assert.ThrowsAsync<SshChannelOpenException>(() => client.OpenTcpIpTunnelAsync("127.0.0.1", Peers.FreePort()).WaitAsync(Bound))!;
        Assert.That(refused.Reason, Is.EqualTo(SshChannelOpenFailureReason.ConnectFailed));
    }

    [Test]
    public async Task LocalForward_LikeSshL_CarriesConnections()
    {
        using var echo = Track(new EchoServer());
        (SshClient client, _) = await ConnectAsync();
        await using SshClient owned = client;
        await using SshLocalForward forward = await client.ForwardLocalPortAsync(new IPEndPoint(IPAddress.Loopback, 0), "127.0.0.1", echo.Port);
        for (int i = 0; i < 2; i++)
        {
            using var local = new TcpClient();
            await local.ConnectAsync(forward.LocalEndPoint).WaitAsync(Bound);
            Assert.That(await EchoThroughAsync(local, 1024 * 1024, seed: i).WaitAsync(Bound), Is.True);
        }

        Assert.That(echo.Connections, Is.EqualTo(2));
    }

    /// <summary>sshd listens for us (port 0: it picks), a local client connects to it, 8 MiB echoed through our client to a local echo server.</summary>
    [Test]
    public async Task RemoteForward_LikeSshR_8MiBEchoed_ThenCancelled()
    {
        using var echo = Track(new EchoServer());
        (SshClient client, TestServer server) = await ConnectAsync();
        await using SshClient owned = client;
        SshRemoteForward forward = await client.ForwardRemotePortAsync("127.0.0.1", 0, "127.0.0.1", echo.Port).WaitAsync(Bound);
        Assert.That(forward.Port, Is.GreaterThan(0));
        using (var remote = new TcpClient())
        {
            await remote.ConnectAsync(IPAddress.Loopback, forward.Port).WaitAsync(Bound);
            Assert.That(await EchoThroughAsync(remote, 8 * 1024 * 1024, seed: 3).WaitAsync(Bound), Is.True, server.Log);
        }

        Assert.That(echo.Connections, Is.EqualTo(1));
        await forward.DisposeAsync();
        using var after = new TcpClient();
        Assert.ThrowsAsync<SocketException>(() => after.ConnectAsync(IPAddress.Loopback, forward.Port).WaitAsync(Bound), "cancel-tcpip-forward closed sshd's listener");
        Assert.That(client.IsConnected, Is.True);
    }

    [Test]
    public async Task RemoteForward_WithAHandler_SeesTheOriginator()
    {
        (SshClient client, _) = await ConnectAsync();
        await using SshClient owned = client;
        var seen = new TaskCompletionSource<SshTcpIpChannelInfo>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using SshRemoteForward forward = await client.ForwardRemotePortAsync("127.0.0.1", 0, async (channel, info, token) =>
        {
            seen.TrySetResult(info);
            await channel.Output.WriteAsync("hello from the client\n"u8.ToArray(), token);
            await channel.Output.CompleteAsync();
            await ReadTextAsync(channel.Input);
        }).WaitAsync(Bound);
        using var remote = new TcpClient();
        await remote.ConnectAsync(IPAddress.Loopback, forward.Port).WaitAsync(Bound);
        using var reader = new StreamReader(remote.GetStream());
        Assert.That(await reader.ReadLineAsync().WaitAsync(Bound), Is.EqualTo("hello from the client"));
        SshTcpIpChannelInfo info = await seen.Task.WaitAsync(Bound);
        Assert.That((info.Port, info.OriginatorPort), Is.EqualTo((forward.Port, ((IPEndPoint)remote.Client.LocalEndPoint!).Port)));
    }

    /// <summary>The server stops answering (a proxy holds every byte): after KeepAliveCountMax keepalives and one more interval, the connection fails with a keepalive timeout.</summary>
    [Test]
    public async Task KeepAlive_ServerStopsAnswering_FailsAfterCountMax()
    {
        TestUser.Authorize(OpenSshKeys.File("ed25519"));
        TestServer server = await StartAsync();
        using var proxy = Track(new StallingProxy(server.Port));
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var settings = new SshClientSettings("127.0.0.1", proxy.Port)
        {
            UserName = TestUser.Name,
            AcceptAnyHostKey = true,
            UseAgent = false,
            TimeProvider = clock,
            KeepAliveInterval = TimeSpan.FromSeconds(10),
            KeepAliveCountMax = 3,
        };
        settings.PrivateKeyFiles.Add(OpenSshKeys.File("ed25519"));
        await using SshClient client = await SshClient.ConnectAsync(settings).WaitAsync(Bound);
        Assert.That((await client.RunCommandAsync("echo before").WaitAsync(Bound)).StandardOutput, Is.EqualTo("before\n"));
        await using SshClientSession waiting = await client.ExecuteAsync("sleep 60").WaitAsync(Bound);
        proxy.Stall();

        // The first interval saw the exec's answer: it counts as the server speaking, and resets the count.
        clock.Advance(settings.KeepAliveInterval);
        for (int tick = 1; tick <= 3; tick++)
        {
            clock.Advance(settings.KeepAliveInterval);
            for (int i = 0; i < 500 && client.KeepAlive!.Sent < tick; i++)
            {
                await Task.Delay(10);
            }

            Assert.That(client.IsConnected, Is.True, $"alive after {tick} unanswered");
        }

        Assert.That(client.KeepAlive!.Sent, Is.EqualTo(3));
        clock.Advance(settings.KeepAliveInterval);
        SshTimeoutException timeout = Assert.ThrowsAsync<SshTimeoutException>(() => client.Completion.WaitAsync(Bound))!;
        Assert.That(timeout.Kind, Is.EqualTo(SshTimeoutKind.KeepAlive));
        Assert.That(timeout.Message, Does.Contain("3 keepalives"));
        SshProtocolException ended = Assert.ThrowsAsync<SshTimeoutException>(() => waiting.WaitForExitAsync().WaitAsync(Bound))!;
        Assert.That(ended, Is.SameAs(timeout), "the session's wait fails with the connection's reason");
        Assert.ThrowsAsync<SshTimeoutException>(() => client.RunCommandAsync("echo after"));
    }

    /// <summary>
    /// sshd runs a command that never reads its input: our upload stops at sshd's window (plus the channel's small
    /// output pipe), the writer waits, and nothing piles up in our memory.
    /// </summary>
    [Test]
    public async Task Upload_ServerStopsReading_OurBufferingStaysWithinTheWindow()
    {
        (SshClient client, _) = await ConnectAsync();
        await using SshClient owned = client;
        await using SshClientSession session = await client.ExecuteAsync("sleep 60").WaitAsync(Bound);
        PipeWriter input = session.StandardInput;
        long accepted = 0;
        byte[] chunk = new byte[16 * 1024];
        RandomNumberGenerator.Fill(chunk);
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        while (true)
        {
            input.Write(chunk);
            ValueTask<FlushResult> flush = input.FlushAsync();
            if (flush.IsCompleted)
            {
                await flush;
            }
            else
            {
                // Backpressure: the writer waits. Give it a moment in case it was only a pause; the assertion below
                // is on the bytes, not on the time.
                Task<FlushResult> pending = flush.AsTask();
                if (await Task.WhenAny(pending, Task.Delay(TimeSpan.FromSeconds(2))) != pending)
                {
                    break;
                }

                await pending;
            }

            accepted += chunk.Length;
            Assert.That(accepted, Is.LessThan(64L * 1024 * 1024), "the writes never stopped");
        }

        // sshd's session window is 2 MiB; it also takes what the command's pipe holds (64 KiB) and may grant more as it
        // moves data there. Our side holds at most the channel's output pipe (4 packets) beyond what was sent.
        long window = 2L * 1024 * 1024;
        long bound = window + (256 * 1024) + (4 * 32 * 1024) + chunk.Length;
        long heapGrowth = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
        Progress($"{kind}: the writer stopped after {accepted} bytes; heap grew {heapGrowth} bytes");
        Assert.That(accepted, Is.LessThanOrEqualTo(bound));
        Assert.That(heapGrowth, Is.LessThan(4L * 1024 * 1024), "nothing buffered beyond the window");
        await session.SendSignalAsync("KILL");
        input.CancelPendingFlush();
    }

    [Test]
    public async Task Agent_RealSshAgent_LogsIn()
    {
        string agentBinary = Peers.Require("ssh-agent", "openssh-client");
        string add = Peers.Require("ssh-add", "openssh-client");
        string socket = Path.Combine(_directory, "agent.sock");
        PeerProcess agent = Track(PeerProcess.Start(agentBinary, ["-a", socket, "-D"]));
        for (int i = 0; i < 100 && !File.Exists(socket); i++)
        {
            await Task.Delay(50);
        }

        foreach (string key in new[] { "ecdsa256", "rsa" })
        {
            (int code, string output) = Peers.Run(add, [OpenSshKeys.File(key)], new Dictionary<string, string> { ["SSH_AUTH_SOCK"] = socket });
            Assert.That(code, Is.Zero, $"ssh-add: {output}\n{agent.Log}");
        }

        TestUser.Authorize(OpenSshKeys.File("rsa"));
        TestServer server = await StartAsync();
        SshClientSettings settings = Settings(server);
        settings.UseAgent = true;
        settings.AgentSocketPath = socket;
        await using SshClient client = await ClientTestKit.ConnectAsync(settings, server);
        Assert.That(client.User.PublicKey, Is.EqualTo(SshPrivateKey.Load(OpenSshKeys.File("rsa")).PublicKey));
        Assert.That((await client.RunCommandAsync("echo agent").WaitAsync(Bound)).StandardOutput, Is.EqualTo("agent\n"));
    }

    [Test]
    public async Task Agent_UserCertificateBesideItsKey_OnlyThePlainKeyIsListed()
    {
        // ssh-add adds a key's -cert.pub with it. Host certificates parse now; user certificates must still be skipped.
        string agentBinary = Peers.Require("ssh-agent", "openssh-client");
        string add = Peers.Require("ssh-add", "openssh-client");
        string socket = Path.Combine(_directory, "agent.sock");
        PeerProcess agent = Track(PeerProcess.Start(agentBinary, ["-a", socket, "-D"]));
        for (int i = 0; i < 100 && !File.Exists(socket); i++)
        {
            await Task.Delay(50);
        }

        string ca = Path.Combine(_directory, "user_ca");
        string id = Path.Combine(_directory, "id_ed25519");
        Peers.RunChecked("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ca);
        File.Copy(OpenSshKeys.File("ed25519"), id);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(id, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Copy(OpenSshKeys.File("ed25519") + ".pub", id + ".pub");
        Peers.RunChecked("ssh-keygen", "-q", "-s", ca, "-I", "alice", "-n", "alice", id + ".pub");
        (int code, string output) = Peers.Run(add, [id], new Dictionary<string, string> { ["SSH_AUTH_SOCK"] = socket });
        Assert.That(code, Is.Zero, $"ssh-add: {output}\n{agent.Log}");
        (code, output) = Peers.Run(add, ["-L"], new Dictionary<string, string> { ["SSH_AUTH_SOCK"] = socket });
        Assert.That(output, Does.Contain("ssh-ed25519-cert-v01@openssh.com"), "the agent holds the certificate too");

        await using global::Ssh.Transport.Connection.Authentication.SshAgentClient client = await global::Ssh.Transport.Connection.Authentication.SshAgentClient.ConnectAsync(socket, CancellationToken.None);
        List<(SshPublicKey Key, string Comment)> identities = await client.RequestIdentitiesAsync(CancellationToken.None);

        Assert.That(identities.Select(i => i.Key), Is.EqualTo(new[] { SshPrivateKey.Load(id).PublicKey }));
    }

    [Test]
    public async Task KnownHosts_ListedKeyConnects_UnknownAndChangedAreRefused()
    {
        TestUser.Authorize(OpenSshKeys.File("ed25519"));
        TestServer server = await StartAsync();
        SshPublicKey hostKey = SshPrivateKey.Load(OpenSshKeys.File("host")).PublicKey;
        string knownHosts = Path.Combine(_directory, "known_hosts");
        SshClientSettings settings = Settings(server);
        settings.AcceptAnyHostKey = false;
        settings.KnownHostsFile = knownHosts;
        settings.PrivateKeyFiles.Add(OpenSshKeys.File("ed25519"));

        SshHostKeyRejectedException unknown = Assert.ThrowsAsync<SshHostKeyRejectedException>(() => SshClient.ConnectAsync(settings).WaitAsync(Bound))!;
        Assert.That(unknown.Message, Does.Contain("is not in").And.Contain(hostKey.GetFingerprint()));

        File.WriteAllText(knownHosts, $"[127.0.0.1]:{server.Port} {SshPrivateKey.Generate(SshHostKeyType.Ed25519).PublicKey}\n");
        SshHostKeyRejectedException changed = Assert.ThrowsAsync<SshHostKeyRejectedException>(() => SshClient.ConnectAsync(settings).WaitAsync(Bound))!;
        Assert.That(changed.Message, Does.Contain("HAS CHANGED"));

        File.WriteAllText(knownHosts, new KnownHostsVerifier().Add("127.0.0.1", server.Port, hostKey) + "\n");
        await using SshClient client = await ClientTestKit.ConnectAsync(settings, server);
        Assert.That(client.Transport.HostKey, Is.EqualTo(hostKey));
    }

    [Test]
    public async Task KnownHosts_CertAuthority_HostCertificateTrustedOtherCaRefused()
    {
        // sshd presents a certificate of its host key made by ssh-keygen -s; known_hosts trusts the CA, not the key.
        TestUser.Authorize(OpenSshKeys.File("ed25519"));
        string ca = Path.Combine(_directory, "ca");
        string other = Path.Combine(_directory, "other_ca");
        Peers.RunChecked("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ca);
        Peers.RunChecked("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other);
        string hostPub = Path.Combine(_directory, "host.pub");
        File.Copy(OpenSshKeys.File("host") + ".pub", hostPub);
        Peers.RunChecked("ssh-keygen", "-q", "-s", ca, "-I", "sshd", "-h", "-n", "127.0.0.1", "-V", "-5m:+1h", hostPub);
        string certificate = Path.Combine(_directory, "host-cert.pub");
        TestServer server = await StartAsync([$"HostCertificate {certificate}"]);
        string knownHosts = Path.Combine(_directory, "known_hosts");
        SshClientSettings settings = Settings(server);
        settings.AcceptAnyHostKey = false;
        settings.KnownHostsFile = knownHosts;
        settings.PrivateKeyFiles.Add(OpenSshKeys.File("ed25519"));

        File.WriteAllText(knownHosts, $"@cert-authority [127.0.0.1]:{server.Port} {File.ReadAllText(other + ".pub")}");
        SshHostKeyRejectedException refused = Assert.ThrowsAsync<SshHostKeyRejectedException>(() => SshClient.ConnectAsync(settings).WaitAsync(Bound))!;
        Assert.That(refused.KnownHostsResult, Is.EqualTo(KnownHostsResult.CertificateUnknownAuthority));
        Assert.That(refused.Certificate?.CertificateAuthority, Is.EqualTo(SshPublicKey.Parse(File.ReadAllText(ca + ".pub"))));

        File.WriteAllText(knownHosts, $"@cert-authority [127.0.0.1]:{server.Port} {File.ReadAllText(ca + ".pub")}");
        await using SshClient client = await ClientTestKit.ConnectAsync(settings, server);
        Assert.That(client.Transport.HostKey, Is.EqualTo(SshPublicKey.Parse(File.ReadAllText(certificate))));
        Assert.That(client.Transport.Algorithms.HostKey, Is.EqualTo("ssh-ed25519-cert-v01@openssh.com"));
        Assert.That((await client.RunCommandAsync("echo certified").WaitAsync(Bound)).StandardOutput, Is.EqualTo("certified\n"));
    }

    [Test]
    public async Task Session_PseudoTerminalEnvironmentAndResize()
    {
        (SshClient client, _) = await ConnectAsync(["AcceptEnv SSHCLIENTTEST_*"]);
        await using SshClient owned = client;
        var options = new SshSessionOptions { PseudoTerminal = new SshPseudoTerminal("xterm", new SshTerminalSize(100, 40)) };
        options.EnvironmentVariables["SSHCLIENTTEST_GREETING"] = "hello";
        options.EnvironmentVariables["NOT_ACCEPTED"] = "ignored";
        SshCommandResult result = await client.RunCommandAsync("tty; echo $TERM $SSHCLIENTTEST_GREETING x${NOT_ACCEPTED}x; stty size", options).WaitAsync(Bound);
        string[] lines = result.StandardOutput.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Does.StartWith("/dev/pts/"), result.StandardOutput);
        Assert.That(lines[1..], Is.EqualTo(new[] { "xterm hello xx", "40 100" }));

        await using SshClientSession shell = await client.StartShellAsync(new SshSessionOptions { PseudoTerminal = new SshPseudoTerminal("xterm", new SshTerminalSize(80, 24)) }).WaitAsync(Bound);
        Task<string> output = ReadTextAsync(shell.StandardOutput);
        await shell.ResizeTerminalAsync(new SshTerminalSize(132, 50));
        await shell.StandardInput.WriteAsync("sleep 0.2; stty size; exit 5\n"u8.ToArray());
        Assert.That((await shell.WaitForExitAsync().WaitAsync(Bound)).ExitCode, Is.EqualTo(5));
        Assert.That(await output.WaitAsync(Bound), Does.Contain("50 132"));
    }

    [Test]
    public async Task Session_SignalKillsTheCommand_ExitSignalReported()
    {
        (SshClient client, _) = await ConnectAsync();
        await using SshClient owned = client;
        await using SshClientSession session = await client.ExecuteAsync("echo started; exec sleep 60").WaitAsync(Bound);
        var reader = new StreamReader(session.StandardOutput.AsStream());
        Assert.That(await reader.ReadLineAsync().WaitAsync(Bound), Is.EqualTo("started"));
        Assert.ThrowsAsync<ArgumentException>(() => session.SendSignalAsync("SIGTERM"));
        await session.SendSignalAsync("TERM");
        SshExitStatus status = await session.WaitForExitAsync().WaitAsync(Bound);
        Assert.That((status.Signal, status.ExitCode), Is.EqualTo(("TERM", (int?)null)), status.ToString());
    }

    [Test]
    public async Task Subsystem_Sftp_AnswersInit_UnknownIsRefused()
    {
        (SshClient client, _) = await ConnectAsync();
        await using SshClient owned = client;
        await using (SshClientSession sftp = await client.StartSubsystemAsync("sftp").WaitAsync(Bound))
        {
            // SSH_FXP_INIT (1), version 3; the answer is SSH_FXP_VERSION (2).
            await sftp.StandardInput.WriteAsync(new byte[] { 0, 0, 0, 5, 1, 0, 0, 0, 3 });
            ReadResult result;
            do
            {
                result = await sftp.StandardOutput.ReadAsync().AsTask().WaitAsync(Bound);
                sftp.StandardOutput.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            }
            while (result.Buffer.Length < 5 && !result.IsCompleted);
            Assert.That(result.Buffer.Slice(4, 1).FirstSpan[0], Is.EqualTo(2));
        }

        SshRequestFailedException refused = Assert.ThrowsAsync<SshRequestFailedException>(() => client.StartSubsystemAsync("no-such-subsystem").WaitAsync(Bound))!;
        Assert.That(refused.RequestType, Is.EqualTo("subsystem"));
        Assert.That(client.IsConnected, Is.True);
    }

    [Test]
    public async Task RunCommand_OutputPastTheLimit_IsAnError()
    {
        (SshClient client, _) = await ConnectAsync(configure: settings => settings.MaxCapturedOutputBytes = 1024 * 1024);
        await using SshClient owned = client;
        InvalidOperationException tooLarge = Assert.ThrowsAsync<InvalidOperationException>(() => client.RunCommandAsync("head -c 3000000 /dev/zero").WaitAsync(Bound))!;
        Assert.That(tooLarge.Message, Does.Contain("MaxCapturedOutputBytes"));
        Assert.That((await client.RunCommandAsync("head -c 1048576 /dev/zero | wc -c").WaitAsync(Bound)).StandardOutput.Trim(), Is.EqualTo("1048576"));
    }

    [Test]
    public async Task Disconnect_CompletesNormally()
    {
        (SshClient client, _) = await ConnectAsync();
        await client.DisconnectAsync().WaitAsync(Bound);
        await client.Completion.WaitAsync(Bound);
        Assert.That(client.IsConnected, Is.False);
        Assert.ThrowsAsync<SshProtocolException>(() => client.RunCommandAsync("true"));
        await client.DisposeAsync();
        Assert.ThrowsAsync<ObjectDisposedException>(() => client.RunCommandAsync("true"));
    }

    private static async Task<bool> EchoThroughAsync(TcpClient connection, int size, int seed)
    {
        NetworkStream stream = connection.GetStream();
        byte[] data = new byte[size];
        new Random(seed).NextBytes(data);
        Task writing = Task.Run(async () =>
        {
            await stream.WriteAsync(data);
            connection.Client.Shutdown(SocketShutdown.Send);
        });
        byte[] back = new byte[size + 1];
        int total = 0;
        while (true)
        {
            int read = await stream.ReadAsync(back.AsMemory(total));
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        await writing;
        return total == size && back.AsSpan(0, size).SequenceEqual(data);
    }

    private T Track<T>(T disposable)
        where T : IDisposable
    {
        _disposables.Add(disposable);
        return disposable;
    }

    private async Task<TestServer> StartAsync(string[]? sshdOptions = null)
    {
        _server = await TestServer.StartAsync(kind, _directory, sshdOptions);
        return _server;
    }

    private async Task<(SshClient, TestServer)> ConnectAsync(string[]? sshdOptions = null, Action<SshClientSettings>? configure = null)
    {
        TestUser.Authorize(OpenSshKeys.File("ed25519"));
        TestServer server = await StartAsync(sshdOptions);
        SshClientSettings settings = Settings(server);
        settings.PrivateKeyFiles.Add(OpenSshKeys.File("ed25519"));
        configure?.Invoke(settings);
        return (await ClientTestKit.ConnectAsync(settings, server), server);
    }
}
