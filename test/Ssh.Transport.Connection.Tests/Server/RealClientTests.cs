using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Ssh.Transport.Connection.Tests.Authentication;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Server;

/// <summary>
/// Real clients against a server built on our runner (<see cref="RealServer"/>): OpenSSH's ssh, sftp and scp (Debian's
/// and, where installed, OpenSSH 10.5 under /opt/ssh-peers), Dropbear's dbclient, paramiko and AsyncSSH. Sessions run
/// real processes (<c>/bin/sh -c</c>, sftp-server) through <see cref="SshServerSession.RunProcessAsync"/>.
/// </summary>
[Category("Interop")]
[NonParallelizable]
[CancelAfter(300_000)]
public partial class RealClientTests
{
    private const int BigSize = 64 * 1024 * 1024;
    private const int FileSize = 32 * 1024 * 1024;
    private const int ForwardSize = 8 * 1024 * 1024;

    private string _directory = null!;
    private string _big = null!;
    private string _bigSha256 = null!;
    private string _file = null!;

    public static IEnumerable<TestCaseData> OpenSshClients()
    {
        yield return new TestCaseData("/usr/bin").SetArgDisplayNames("Debian");
        yield return new TestCaseData("/opt/ssh-peers/openssh/bin").SetArgDisplayNames("OpenSSH10.5");
    }

    public static IEnumerable<TestCaseData> DropbearClients()
    {
        yield return new TestCaseData("/usr/bin/dbclient", "/usr/bin/dropbearkey").SetArgDisplayNames("Debian");
        yield return new TestCaseData("/opt/ssh-peers/dropbear/bin/dbclient", "/opt/ssh-peers/dropbear/bin/dropbearkey").SetArgDisplayNames("2026.94");
    }

    [OneTimeSetUp]
    public void MakeFiles()
    {
        _directory = Peers.NewTempDirectory();
        _big = Path.Combine(_directory, "big.bin");
        _file = Path.Combine(_directory, "file.bin");
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        using (FileStream big = File.Create(_big))
        {
            byte[] chunk = new byte[1 << 20];
            for (int i = 0; i < BigSize / chunk.Length; i++)
            {
                RandomNumberGenerator.Fill(chunk);
                big.Write(chunk);
                hash.AppendData(chunk);
            }

            _bigSha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
        }

        File.WriteAllBytes(_file, RandomNumberGenerator.GetBytes(FileSize));
    }

    [OneTimeTearDown]
    public void RemoveFiles() => Directory.Delete(_directory, recursive: true);

    private static string RequireProgram(string folder, string name)
    {
        string path = Path.Combine(folder, name);
        if (!File.Exists(path))
        {
            Assert.Ignore($"{path} is not installed.");
        }

        return path;
    }

    private static List<string> SshOptions(string portOption, int port, params string[] more)
    {
        List<string> options =
        [
            "-F", "/dev/null", portOption, port.ToString(CultureInfo.InvariantCulture), "-i", OpenSshKeys.File("ed25519"),
            "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
        ];
        options.AddRange(more);
        return options;
    }

    private static Task<ClientRun.Result> SshAsync(string folder, int port, string command, string? stdinFile = null, bool keepStdout = true, params string[] options)
    {
        string ssh = RequireProgram(folder, "ssh");
        var environment = new Dictionary<string, string> { ["LANG"] = "C.UTF-8", ["NOT_ACCEPTED"] = "x" };
        return ClientRun.RunAsync(ssh, [.. SshOptions("-p", port, ["-o", "LogLevel=ERROR", .. options]), "alice@127.0.0.1", command], stdinFile, keepStdout, environment: environment);
    }

    private static void Report(string what, ClientRun.Result result, RealServer server) =>
        TestContext.Progress.WriteLine($"{what}: {result.Elapsed.TotalSeconds:0.00} s (ssh's whole run), {server.Rekeys} rekeys");

    // --- OpenSSH ssh

    [TestCaseSource(nameof(OpenSshClients))]
    public async Task Ssh_EchoHi_ExitZero(string folder)
    {
        await using var server = RealServer.Start();
        ClientRun.Result result = await SshAsync(folder, server.Port, "echo hi");
        Assert.That((result.ExitCode, Encoding.ASCII.GetString(result.Stdout)), Is.EqualTo((0, "hi\n")), result.Stderr);
    }

    [Test]
    public async Task Ssh_SessionEnvironment_SshConnection_AndAcceptedLang()
    {
        await using var server = RealServer.Start();
        ClientRun.Result result = await SshAsync("/usr/bin", server.Port, "echo \"$SSH_CONNECTION|$LANG|${NOT_ACCEPTED-unset}\"", null, true, "-o", "SendEnv=LANG NOT_ACCEPTED");
        Assert.That(Encoding.ASCII.GetString(result.Stdout), Does.Match(@"^127\.0\.0\.1 \d+ 127\.0\.0\.1 " + server.Port + @"\|C\.UTF-8\|unset\n$"), result.Stderr);
    }

    [TestCaseSource(nameof(OpenSshClients))]
    public async Task Ssh_Exit3_Exits3(string folder)
    {
        await using var server = RealServer.Start();
        ClientRun.Result result = await SshAsync(folder, server.Port, "exit 3");
        Assert.That(result.ExitCode, Is.EqualTo(3), result.Stderr);
    }

    [TestCaseSource(nameof(OpenSshClients))]
    public async Task Ssh_StdoutAndStderr_Apart(string folder)
    {
        await using var server = RealServer.Start();
        ClientRun.Result result = await SshAsync(folder, server.Port, "echo out; echo err >&2; exit 1");
        Assert.That((result.ExitCode, Encoding.ASCII.GetString(result.Stdout), result.Stderr), Is.EqualTo((1, "out\n", "err\n")));
    }

    [TestCaseSource(nameof(OpenSshClients))]
    public async Task Ssh_Download64MiB_ClientRekeysEvery1MiB_HashesEqual(string folder)
    {
        await using var server = RealServer.Start();
        ClientRun.Result result = await SshAsync(folder, server.Port, $"cat {_big}", keepStdout: false, options: ["-o", "RekeyLimit=1M"]);
        await server.WaitForConnectionsAsync();
        Report("64 MiB down, ssh rekeys every 1 MiB", result, server);
        Assert.That((result.ExitCode, result.StdoutLength, result.StdoutSha256), Is.EqualTo((0, (long)BigSize, _bigSha256)), result.Stderr);
        Assert.That(server.Rekeys, Is.GreaterThan(16)); // about one per MiB, counted loosely: data flows during each exchange
    }

    [TestCaseSource(nameof(OpenSshClients))]
    public async Task Ssh_Download64MiB_ServerRekeysEvery1MiB_Compressed_HashesEqual(string folder)
    {
        await using var server = RealServer.Start(rekeyBytes: 1024 * 1024);
        ClientRun.Result result = await SshAsync(folder, server.Port, $"cat {_big}", keepStdout: false, options: ["-C"]);
        await server.WaitForConnectionsAsync();
        Report("64 MiB down, -C, server rekeys every 1 MiB", result, server);
        Assert.That((result.ExitCode, result.StdoutLength, result.StdoutSha256), Is.EqualTo((0, (long)BigSize, _bigSha256)), result.Stderr);
        Assert.That(server.Rekeys, Is.GreaterThan(16)); // about one per MiB, counted loosely: data flows during each exchange
    }

    /// <summary>
    /// aes128-ctr + hmac-sha2-256-etm: the process's output is read a batch of packets at a time, which go out with
    /// their tags computed sixteen at once; ssh accepts every one.
    /// </summary>
    [TestCaseSource(nameof(OpenSshClients))]
    public async Task Ssh_Download64MiB_EtmTagsInBatches_HashesEqual(string folder)
    {
        Assume.That(Ssh.Transport.Crypto.Primitives.HmacSha256x16.IsSupported, "no AVX-512 on this machine");
        await using var server = RealServer.Start();
        ClientRun.Result result = await SshAsync(folder, server.Port, $"cat {_big}", keepStdout: false, options: ["-c", "aes128-ctr", "-m", "hmac-sha2-256-etm@openssh.com"]);
        await server.WaitForConnectionsAsync();
        TestContext.Progress.WriteLine($"64 MiB down, aes128-ctr hmac-sha2-256-etm: {result.Elapsed.TotalSeconds:0.00} s, {server.PacketsSealedInBatches} of 2048 data packets sealed in batches");
        Assert.That((result.ExitCode, result.StdoutLength, result.StdoutSha256), Is.EqualTo((0, (long)BigSize, _bigSha256)), result.Stderr);

        // Read 128 KiB at a time, as under other keys, the output never made a batch (twelve packets at least).
        Assert.That(server.PacketsSealedInBatches, Is.GreaterThanOrEqualTo(64), "at least four batches");
    }

    /// <summary>
    /// aes128-ctr + hmac-sha2-256-etm up: ssh's packets that lie side by side in the receive buffer, piled up or held
    /// for a batch (SshPacketizerOptions.ReceiveBatchHold; its own tests are ReceiveBatchHoldTests), have their tags
    /// checked sixteen at a time; every byte arrives.
    /// </summary>
    [TestCaseSource(nameof(OpenSshClients))]
    public async Task Ssh_Upload64MiB_EtmTagsCheckedInBatches_IntoSha256sum(string folder)
    {
        Assume.That(Ssh.Transport.Crypto.Primitives.HmacSha256x16.IsSupported, "no AVX-512 on this machine");
        await using var server = RealServer.Start();
        ClientRun.Result result = await SshAsync(folder, server.Port, "sha256sum", _big, options: ["-c", "aes128-ctr", "-m", "hmac-sha2-256-etm@openssh.com"]);
        await server.WaitForConnectionsAsync();
        TestContext.Progress.WriteLine($"64 MiB up, aes128-ctr hmac-sha2-256-etm: {result.Elapsed.TotalSeconds:0.00} s, {server.PacketsVerifiedAhead} of about 2048 data packets checked in batches");
        Assert.That((result.ExitCode, Encoding.ASCII.GetString(result.Stdout)), Is.EqualTo((0, $"{_bigSha256}  -\n")), result.Stderr);
        Assert.That(server.PacketsVerifiedAhead, Is.GreaterThanOrEqualTo(64), "at least four batches");
    }

    [TestCaseSource(nameof(OpenSshClients))]
    public async Task Ssh_Upload64MiB_ClientRekeysEvery1MiB_Compressed_IntoSha256sum(string folder)
    {
        await using var server = RealServer.Start();
        ClientRun.Result result = await SshAsync(folder, server.Port, "sha256sum", _big, options: ["-C", "-o", "RekeyLimit=1M"]);
        await server.WaitForConnectionsAsync();
        Report("64 MiB up, -C, ssh rekeys every 1 MiB", result, server);
        Assert.That((result.ExitCode, Encoding.ASCII.GetString(result.Stdout)), Is.EqualTo((0, $"{_bigSha256}  -\n")), result.Stderr);
        Assert.That(server.Rekeys, Is.GreaterThan(16)); // about one per MiB, counted loosely: data flows during each exchange
    }

    [TestCaseSource(nameof(OpenSshClients))]
    public async Task Ssh_Upload64MiB_ServerRekeysEvery1MiB_IntoSha256sum(string folder)
    {
        await using var server = RealServer.Start(rekeyBytes: 1024 * 1024);
        ClientRun.Result result = await SshAsync(folder, server.Port, "sha256sum", _big);
        await server.WaitForConnectionsAsync();
        Report("64 MiB up, server rekeys every 1 MiB", result, server);
        Assert.That((result.ExitCode, Encoding.ASCII.GetString(result.Stdout)), Is.EqualTo((0, $"{_bigSha256}  -\n")), result.Stderr);
        Assert.That(server.Rekeys, Is.GreaterThan(16)); // about one per MiB, counted loosely: data flows during each exchange
    }

    [Test]
    public async Task Ssh_StopsReading_ServerTakesInNoMoreThanTheWindow()
    {
        // ssh's stdout is never read: ssh stops once its pipe and its 2 MiB channel window are full, and so must we.
        await using var server = RealServer.Start();
        string ssh = RequireProgram("/usr/bin", "ssh");
        using PeerProcess client = PeerProcessWithUnreadStdout.Start(ssh, [.. SshOptions("-p", server.Port), "alice@127.0.0.1", "cat /dev/zero"]);
        using var deadline = new CancellationTokenSource(ServerHarness.Timeout);
        while (server.Sessions.Count == 0 || server.Sessions[0].ProcessOutputBytes < 2 * 1024 * 1024)
        {
            await Task.Delay(20, deadline.Token);
        }

        // ssh's window (2 MiB), its stdout pipe (64 KiB), our output pipe (4 packets) and read buffers; cat would give gigabytes.
        const long bound = (2 * 1024 * 1024) + (64 * 1024) + (4 * 32 * 1024) + (64 * 1024) + (256 * 1024);
        long most = 0;
        for (int i = 0; i < 100; i++)
        {
            most = Math.Max(most, server.Sessions[0].ProcessOutputBytes);
            await Task.Delay(20, CancellationToken.None);
        }

        TestContext.Progress.WriteLine($"a client that stops reading: the server took {most} bytes from the process (bound {bound})");
        Assert.That(most, Is.LessThanOrEqualTo(bound));
    }

    // --- ssh -L and ssh -R

    [TestCaseSource(nameof(OpenSshClients))]
    public async Task SshL_ToEchoServer_8MiB_ByteIdentical(string folder)
    {
        string ssh = RequireProgram(folder, "ssh");
        await using var echo = EchoServer.Start();
        await using var server = RealServer.Start();
        int local = Peers.FreePort();
        using PeerProcess client = PeerProcess.Start(ssh, [.. SshOptions("-p", server.Port, "-o", "ExitOnForwardFailure=yes", "-N", "-L", $"127.0.0.1:{local}:127.0.0.1:{echo.Port}"), "alice@127.0.0.1"]);
        using TcpClient connection = await ConnectWhenListeningAsync(local, client);
        byte[] data = RandomNumberGenerator.GetBytes(ForwardSize);
        Assert.That(await ThroughAsync(connection, data), Is.EqualTo(data));
    }

    [TestCaseSource(nameof(OpenSshClients))]
    public async Task SshR_PortChosenByServer_ToEchoServer_8MiB_ByteIdentical(string folder)
    {
        string ssh = RequireProgram(folder, "ssh");
        await using var echo = EchoServer.Start();
        await using var server = RealServer.Start();
        using PeerProcess client = PeerProcess.Start(ssh, [.. SshOptions("-p", server.Port, "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=INFO", "-N", "-R", $"0:127.0.0.1:{echo.Port}"), "alice@127.0.0.1"]);
        string? allocated = await client.WaitForLineAsync(line => line.StartsWith("Allocated port ", StringComparison.Ordinal), ServerHarness.Timeout);
        Assert.That(allocated, Is.Not.Null, client.Log);
        int port = int.Parse(AllocatedPort().Match(allocated!).Groups[1].Value, CultureInfo.InvariantCulture);
        using var connection = new TcpClient();
        await connection.ConnectAsync(IPAddress.Loopback, port).WaitAsync(ServerHarness.Timeout);
        byte[] data = RandomNumberGenerator.GetBytes(ForwardSize);
        Assert.That(await ThroughAsync(connection, data), Is.EqualTo(data), client.Log);
    }

    [GeneratedRegex(@"^Allocated port (\d+) ")]
    private static partial Regex AllocatedPort();

    private static async Task<TcpClient> ConnectWhenListeningAsync(int port, PeerProcess client)
    {
        using var deadline = new CancellationTokenSource(ServerHarness.Timeout);
        while (true)
        {
            var connection = new TcpClient();
            try
            {
                await connection.ConnectAsync(IPAddress.Loopback, port, deadline.Token);
                return connection;
            }
            catch (SocketException) when (!client.HasExited)
            {
                connection.Dispose();
                await Task.Delay(50, deadline.Token);
            }
            catch (SocketException)
            {
                connection.Dispose();
                Assert.Fail($"ssh ended: {client.Log}");
                throw;
            }
        }
    }

    private static async Task<byte[]> ThroughAsync(TcpClient connection, byte[] data)
    {
        NetworkStream stream = connection.GetStream();
        Task<byte[]> reading = Task.Run(async () =>
        {
            using var all = new MemoryStream();
            await stream.CopyToAsync(all);
            return all.ToArray();
        });
        await stream.WriteAsync(data);
        connection.Client.Shutdown(SocketShutdown.Send);
        return await reading.WaitAsync(ServerHarness.Timeout);
    }

    // --- sftp and scp (OpenSSH 9 and later: scp speaks SFTP) with the "sftp" subsystem as sftp-server

    [TestCaseSource(nameof(OpenSshClients))]
    public async Task Sftp_32MiB_PutThenGet_ByteIdentical(string folder)
    {
        string sftp = RequireProgram(folder, "sftp");
        if (!File.Exists("/usr/lib/openssh/sftp-server"))
        {
            Assert.Ignore("/usr/lib/openssh/sftp-server is not installed (apt install openssh-sftp-server).");
        }

        await using var server = RealServer.Start();
        string remote = Path.Combine(_directory, $"sftp-remote-{Guid.NewGuid():N}.bin");
        string back = Path.Combine(_directory, $"sftp-back-{Guid.NewGuid():N}.bin");
        string batch = Path.Combine(_directory, $"batch-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(batch, $"put {_file} {remote}\nget {remote} {back}\n");
        ClientRun.Result result = await ClientRun.RunAsync(sftp, [.. SshOptions("-P", server.Port, "-S", Path.Combine(folder, "ssh"), "-b", batch), "alice@127.0.0.1"]);
        TestContext.Progress.WriteLine($"sftp 32 MiB up and down in {result.Elapsed.TotalSeconds:0.00} s");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.Stderr + Encoding.UTF8.GetString(result.Stdout));
        Assert.That(SHA256.HashData(File.ReadAllBytes(remote)), Is.EqualTo(SHA256.HashData(File.ReadAllBytes(_file))), "uploaded");
        Assert.That(SHA256.HashData(File.ReadAllBytes(back)), Is.EqualTo(SHA256.HashData(File.ReadAllBytes(_file))), "downloaded");
        File.Delete(remote);
        File.Delete(back);
    }

    [TestCaseSource(nameof(OpenSshClients))]
    public async Task Scp_32MiB_UpThenDown_ByteIdentical(string folder)
    {
        string scp = RequireProgram(folder, "scp");
        if (!File.Exists("/usr/lib/openssh/sftp-server"))
        {
            Assert.Ignore("/usr/lib/openssh/sftp-server is not installed (apt install openssh-sftp-server).");
        }

        await using var server = RealServer.Start();
        string remote = Path.Combine(_directory, $"scp-remote-{Guid.NewGuid():N}.bin");
        string back = Path.Combine(_directory, $"scp-back-{Guid.NewGuid():N}.bin");
        List<string> options = SshOptions("-P", server.Port, "-S", Path.Combine(folder, "ssh"));
        ClientRun.Result up = await ClientRun.RunAsync(scp, [.. options, _file, $"alice@127.0.0.1:{remote}"]);
        Assert.That(up.ExitCode, Is.EqualTo(0), up.Stderr);
        ClientRun.Result down = await ClientRun.RunAsync(scp, [.. options, $"alice@127.0.0.1:{remote}", back]);
        Assert.That(down.ExitCode, Is.EqualTo(0), down.Stderr);
        TestContext.Progress.WriteLine($"scp 32 MiB up in {up.Elapsed.TotalSeconds:0.00} s, down in {down.Elapsed.TotalSeconds:0.00} s");
        Assert.That(SHA256.HashData(File.ReadAllBytes(remote)), Is.EqualTo(SHA256.HashData(File.ReadAllBytes(_file))), "uploaded");
        Assert.That(SHA256.HashData(File.ReadAllBytes(back)), Is.EqualTo(SHA256.HashData(File.ReadAllBytes(_file))), "downloaded");
        File.Delete(remote);
        File.Delete(back);
    }

    // --- Dropbear's dbclient

    [TestCaseSource(nameof(DropbearClients))]
    public async Task Dbclient_EchoHi_Exit3(string dbclient, string dropbearkey)
    {
        if (!File.Exists(dbclient) || !File.Exists(dropbearkey))
        {
            Assert.Ignore($"{dbclient} is not installed.");
        }

        string key = Path.Combine(_directory, $"dropbear-{Guid.NewGuid():N}");
        Peers.RunChecked(dropbearkey, "-t", "ed25519", "-f", key);
        string publicLine = Peers.RunChecked(dropbearkey, "-y", "-f", key).Split('\n').First(line => line.StartsWith("ssh-ed25519 ", StringComparison.Ordinal));
        await using var server = RealServer.Start(keys: SshPublicKey.Parse(publicLine));
        string[] options = ["-y", "-y", "-i", key, "-p", server.Port.ToString(CultureInfo.InvariantCulture), "alice@127.0.0.1"];
        ClientRun.Result hi = await ClientRun.RunAsync(dbclient, [.. options, "echo hi"]);
        Assert.That((hi.ExitCode, Encoding.ASCII.GetString(hi.Stdout)), Is.EqualTo((0, "hi\n")), hi.Stderr);
        ClientRun.Result three = await ClientRun.RunAsync(dbclient, [.. options, "echo err >&2; exit 3"]);
        Assert.That((three.ExitCode, three.Stderr.Contains("err", StringComparison.Ordinal)), Is.EqualTo((3, true)), three.Stderr);
    }

    /// <summary>
    /// dbclient retries a refused password for as long as the server lets it (here the same wrong one, from
    /// DROPBEAR_PASSWORD); the server's attempt limit (MaxAuthTries, 6) ends it with a DISCONNECT it obeys. The right
    /// password logs in.
    /// </summary>
    [TestCaseSource(nameof(DropbearClients))]
    public async Task Dbclient_Password_WrongOnesEndAtTheAttemptLimit(string dbclient, string dropbearkey)
    {
        if (!File.Exists(dbclient))
        {
            Assert.Ignore($"{dbclient} is not installed.");
        }

        await using var server = RealServer.Start();
        string[] options = ["-y", "-y", "-p", server.Port.ToString(CultureInfo.InvariantCulture), "alice@127.0.0.1", "echo in"];
        ClientRun.Result refused = await ClientRun.RunAsync(dbclient, options, environment: new Dictionary<string, string> { ["DROPBEAR_PASSWORD"] = "wrong" });
        await server.WaitForConnectionsAsync();
        Assert.Multiple(() =>
        {
            // dbclient reports a DISCONNECT as a close ("exited: Disconnect received"), with exit status 0.
            Assert.That(refused.Stderr, Does.Contain("Disconnect received"));
            Assert.That(refused.Stdout, Is.Empty);
            Assert.That(server.PasswordAttempts, Is.EqualTo(new SshServerSettings().MaxAuthTries), "attempts before the DISCONNECT");
            Assert.That(server.Errors.OfType<SshAuthenticationException>().Count(), Is.EqualTo(1), string.Join("; ", server.Errors.Select(e => e.Message)));
        });
        TestContext.Progress.WriteLine($"{Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(dbclient)))} dbclient: {refused.Stderr.Trim()}");

        ClientRun.Result admitted = await ClientRun.RunAsync(dbclient, options, environment: new Dictionary<string, string> { ["DROPBEAR_PASSWORD"] = "sesame" });
        Assert.That((admitted.ExitCode, Encoding.ASCII.GetString(admitted.Stdout)), Is.EqualTo((0, "in\n")), admitted.Stderr);
    }

    // --- paramiko and AsyncSSH: 8 channels at once on one connection, 16 MiB each way each, rekeys in the middle

    /// <remarks>
    /// paramiko rekeys only when our server starts it: paramiko 2.12's transport thread answers a CLOSE through
    /// _send_user_message, which waits for the key exchange that same thread has to run, so a CLOSE in flight when
    /// paramiko starts a rekey of its own deadlocks it for 30 s (paramiko issue #822, still open). AsyncSSH rekeys
    /// both ways: every 4 MiB itself, every 8 MiB started by our server.
    /// </remarks>
    [TestCase("paramiko", 4 * 1024 * 1024, 0)]
    [TestCase("asyncssh", 8 * 1024 * 1024, 4 * 1024 * 1024)]
    public async Task Python_8ChannelsAtOnce_16MiBEachWay_Rekeys_HashesEqual(string client, int serverRekeyBytes, int clientRekeyBytes)
    {
        const string python = "/usr/bin/python3";
        (int code, _) = Peers.Run(python, ["-c", $"import {client}"]);
        if (code != 0)
        {
            Assert.Ignore($"{client} is not installed (apt install python3-{client}).");
        }

        await using var server = RealServer.Start(rekeyBytes: serverRekeyBytes);
        ClientRun.Result result = await ClientRun.RunAsync(
            python,
            ["-W", "ignore", ScriptPath(), client, server.Port.ToString(CultureInfo.InvariantCulture), OpenSshKeys.File("ed25519"), "8", (16 * 1024 * 1024).ToString(CultureInfo.InvariantCulture), clientRekeyBytes.ToString(CultureInfo.InvariantCulture)],
            timeout: TimeSpan.FromSeconds(240));
        await server.WaitForConnectionsAsync();
        string output = Encoding.UTF8.GetString(result.Stdout);
        TestContext.Progress.WriteLine($"{client}: {output.Trim()} in {result.Elapsed.TotalSeconds:0.00} s; {server.Rekeys} rekeys, {server.ClientRekeys} of them by the client");
        Assert.That(result.ExitCode, Is.EqualTo(0), output + result.Stderr);
        Assert.That(output, Does.Contain("8 channels OK"));
        // About 16 at 8 MiB of our 128 MiB, counted loosely: data flows during each exchange, and a rekey AsyncSSH starts
        // (every 4 MiB of its own) resets our count too. A CI run counted 8.
        Assert.That(server.Rekeys - server.ClientRekeys, Is.GreaterThanOrEqualTo(4), "rekeys started by our server");
        Assert.That(server.ClientRekeys, clientRekeyBytes > 0 ? Is.GreaterThan(0) : Is.EqualTo(0), "rekeys started by the client (each rekey resets both sides' counts, so ours take many of its turns)");
        Assert.That(server.Errors, Is.Empty);
    }

    private static string ScriptPath([CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "python_clients.py");

    /// <summary>A client whose stdout nobody reads (its pipe fills), the rest as <see cref="PeerProcess"/>.</summary>
    private static class PeerProcessWithUnreadStdout
    {
        public static PeerProcess Start(string program, IEnumerable<string> arguments)
        {
            // PeerProcess reads stdout (it would take in /dev/zero for ever): ssh's stdout goes to a pipe that
            // "sleep" holds open and never reads.
            string command = string.Join(' ', new[] { program }.Concat(arguments).Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
            return PeerProcess.Start("/bin/sh", ["-c", $"{command} | sleep 300"]);
        }
    }
}
