using System.Text.Json;

namespace Ssh.Transport.Cli.Tests;

/// <summary>'serve' and 'probe' against each other, in-process, over real loopback TCP through Kestrel.</summary>
public class ServeProbeTests
{
    private TempFolder _folder = null!;

    [SetUp]
    public void SetUp() => _folder = new TempFolder();

    [TearDown]
    public void TearDown() => _folder.Dispose();

    private string KnownHosts(int port, SshPublicKey key, string marker = "")
    {
        string prefix = marker.Length == 0 ? "" : marker + " ";
        return _folder.Write($"known_hosts_{Guid.NewGuid():N}", $"# test\n{prefix}[127.0.0.1]:{port} {key} comment\n");
    }

    private static JsonElement Json(CliResult result)
    {
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Error, Is.Empty);
        using JsonDocument document = JsonDocument.Parse(result.Out);
        return document.RootElement.Clone();
    }

    [Test]
    public async Task Probe_reports_the_negotiation_as_json_and_the_served_key_fingerprint()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder);
        string knownHosts = KnownHosts(serve.Port, serve.HostKey.PublicKey);

        JsonElement json = Json(await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{serve.Port}", "--known-hosts", knownHosts, "--json"));

        Assert.That(json.GetProperty("identification").GetString(), Does.StartWith("SSH-2.0-"));
        Assert.That(json.GetProperty("kex").GetString(), Is.EqualTo("mlkem768x25519-sha256"));
        Assert.That(json.GetProperty("hostKeyAlgorithm").GetString(), Is.EqualTo("ssh-ed25519"));
        JsonElement hostKey = json.GetProperty("hostKey");
        Assert.That(hostKey.GetProperty("fingerprint").GetString(), Is.EqualTo(serve.HostKey.PublicKey.GetFingerprint()));
        Assert.That(hostKey.GetProperty("fingerprint").GetString(), Does.StartWith("SHA256:").And.Not.EndWith("="));
        Assert.That(hostKey.GetProperty("type").GetString(), Is.EqualTo("ssh-ed25519"));
        Assert.That(hostKey.GetProperty("bits").GetInt32(), Is.EqualTo(256));
        Assert.That(hostKey.GetProperty("label").GetString(), Is.EqualTo("ED25519"));
        Assert.That(hostKey.GetProperty("verification").GetString(), Is.EqualTo("trusted"));
        foreach (string direction in new[] { "clientToServer", "serverToClient" })
        {
            JsonElement d = json.GetProperty(direction);
            Assert.That(d.GetProperty("cipher").GetString(), Is.EqualTo("aes128-gcm@openssh.com"));
            Assert.That(d.GetProperty("mac").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(d.GetProperty("compression").GetString(), Is.EqualTo("none"));
        }

        Assert.That(json.GetProperty("strictKex").GetBoolean(), Is.True);
        Assert.That(json.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()), Does.Contain("server-sig-algs"));
        Assert.That(json.GetProperty("serverSigAlgs").EnumerateArray().Select(e => e.GetString()), Does.Contain("ssh-ed25519"));
        Assert.That(json.GetProperty("service").GetString(), Is.EqualTo("ssh-userauth"));
        Assert.That(json.GetProperty("keyExchanges").GetInt32(), Is.EqualTo(1));
        Assert.That(json.GetProperty("bytesSent").GetInt64(), Is.Zero);
        Assert.That(json.GetProperty("elapsedMs").GetDouble(), Is.GreaterThan(0));

        // serve logged the connection: one line when established, one when it ended.
        string log = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        string[] lines = log.Split('\n');
        Assert.That(lines.Count(l => l.Contains(" connected: SSH-2.0-", StringComparison.Ordinal)), Is.EqualTo(1), log);
        Assert.That(lines.Single(l => l.Contains(" connected: ", StringComparison.Ordinal)),
            Does.StartWith("127.0.0.1:").And.Contain("kex=mlkem768x25519-sha256").And.Contain("hostkey=ssh-ed25519")
                .And.Contain("cipher=aes128-gcm@openssh.com").And.Contain("strict-kex=on"));
        Assert.That(lines.Single(l => l.Contains(" closed after ", StringComparison.Ordinal)), Does.Contain("1 key exchange(s)"));

        Assert.That(await serve.StopAsync(), Is.Zero);
        Assert.That(serve.Out, Does.Contain("stopped after 1 connection(s)"));
    }

    [Test]
    public async Task Probe_algorithm_lists_choose_what_is_negotiated()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP384));
        JsonElement json = Json(await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{serve.Port}", "--accept-any-host-key", "--json",
            "--kex", "ecdh-sha2-nistp256,curve25519-sha256", "--cipher", "aes256-ctr", "--mac", "hmac-sha2-512-etm@openssh.com",
            "--compression", "zlib@openssh.com"));

        Assert.That(json.GetProperty("kex").GetString(), Is.EqualTo("ecdh-sha2-nistp256"));
        Assert.That(json.GetProperty("hostKeyAlgorithm").GetString(), Is.EqualTo("ecdsa-sha2-nistp384"));
        Assert.That(json.GetProperty("hostKey").GetProperty("bits").GetInt32(), Is.EqualTo(384));
        Assert.That(json.GetProperty("hostKey").GetProperty("label").GetString(), Is.EqualTo("ECDSA"));
        Assert.That(json.GetProperty("hostKey").GetProperty("fingerprint").GetString(), Is.EqualTo(serve.HostKey.PublicKey.GetFingerprint()));
        Assert.That(json.GetProperty("hostKey").GetProperty("verification").GetString(), Does.StartWith("not verified"));
        JsonElement c2s = json.GetProperty("clientToServer");
        Assert.That(c2s.GetProperty("cipher").GetString(), Is.EqualTo("aes256-ctr"));
        Assert.That(c2s.GetProperty("mac").GetString(), Is.EqualTo("hmac-sha2-512-etm@openssh.com"));
        Assert.That(c2s.GetProperty("compression").GetString(), Is.EqualTo("zlib@openssh.com"));
    }

    [Test]
    public async Task Serve_algorithm_lists_restrict_what_it_offers()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--cipher", "chacha20-poly1305@openssh.com", "--kex", "curve25519-sha256");
        JsonElement json = Json(await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{serve.Port}", "--accept-any-host-key", "--json"));
        Assert.That(json.GetProperty("kex").GetString(), Is.EqualTo("curve25519-sha256"));
        Assert.That(json.GetProperty("serverToClient").GetProperty("cipher").GetString(), Is.EqualTo("chacha20-poly1305@openssh.com"));

        CliResult refused = await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{serve.Port}", "--accept-any-host-key", "--cipher", "aes256-gcm@openssh.com");
        Assert.That(refused.ExitCode, Is.EqualTo(1), refused.ToString());
        Assert.That(refused.ErrorLines, Has.Length.EqualTo(1), refused.ToString());
        Assert.That(refused.ErrorLines[0], Does.StartWith("ssh-transport: no common client-to-server cipher: client offers aes256-gcm@openssh.com; server offers chacha20-poly1305@openssh.com"));
    }

    [Test]
    public async Task Probe_text_output_shows_everything()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder);
        CliResult result = await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{serve.Port}", "--known-hosts", KnownHosts(serve.Port, serve.HostKey.PublicKey));
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        string fingerprint = serve.HostKey.PublicKey.GetFingerprint();
        Assert.That(result.Out, Does.Contain("identification:     SSH-2.0-")
            .And.Contain("kex:                mlkem768x25519-sha256")
            .And.Contain("host key algorithm: ssh-ed25519")
            .And.Contain($"host key:           256 {fingerprint} (ED25519), ssh-ed25519, trusted")
            .And.Contain("cipher:             aes128-gcm@openssh.com (both directions)")
            .And.Contain("strict kex:         on")
            .And.Contain("extensions:         ping@openssh.com, server-sig-algs")
            .And.Contain("service:            ssh-userauth accepted")
            .And.Contain("key exchanges:      1"));
    }

    [TestCase("", "is not known")]
    [TestCase("other key", "does not match the key on record")]
    [TestCase("@revoked", "is marked @revoked")]
    public async Task Probe_fails_host_key_verification_with_one_line(string situation, string expected)
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder);
        string knownHosts = situation switch
        {
            "" => _folder.Write("empty_known_hosts", "# nothing\n"),
            "other key" => KnownHosts(serve.Port, SshPrivateKey.Generate(SshHostKeyType.Ed25519).PublicKey),
            _ => KnownHosts(serve.Port, serve.HostKey.PublicKey, "@revoked"),
        };

        CliResult result = await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{serve.Port}", "--known-hosts", knownHosts, "--json");

        Assert.That(result.ExitCode, Is.Not.Zero, result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ErrorLines[0], Does.StartWith($"ssh-transport: host key verification failed: [127.0.0.1]:{serve.Port}: ssh-ed25519 key {serve.HostKey.PublicKey.GetFingerprint()} {expected}"));
        Assert.That(result.ErrorLines[0], Does.EndWith(knownHosts));
        Assert.That(result.Out, Is.Empty);

        // serve logged the refused handshake in one line.
        string log = await serve.WaitForOutputAsync(o => o.Contains("SSH handshake with ", StringComparison.Ordinal));
        Assert.That(log, Does.Contain("failed: The peer disconnected (HostKeyNotVerifiable)"));
    }

    [Test]
    public async Task A_missing_known_hosts_file_knows_no_hosts()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder);
        string missing = _folder.PathOf("no_such_known_hosts");
        CliResult result = await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{serve.Port}", "--known-hosts", missing);
        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1));
        Assert.That(result.ErrorLines[0], Does.Contain("is not known in " + missing + " (no such file)"));
    }

    [Test]
    public async Task Probe_streams_bytes_and_rekeys_several_times()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder);
        JsonElement json = Json(await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{serve.Port}", "--known-hosts", KnownHosts(serve.Port, serve.HostKey.PublicKey),
            "--json", "--send-bytes", "4000000", "--rekey-bytes", "262144"));

        Assert.That(json.GetProperty("bytesRequested").GetInt64(), Is.EqualTo(4_000_000));
        Assert.That(json.GetProperty("bytesSent").GetInt64(), Is.EqualTo(4_000_000));
        Assert.That(json.GetProperty("wireBytesSent").GetInt64(), Is.GreaterThan(4_000_000));
        int kex = json.GetProperty("keyExchanges").GetInt32();
        Assert.That(kex, Is.GreaterThanOrEqualTo(5), "4 MB at a 256 KiB limit: about 15 exchanges, with some slack");
        Assert.That(json.GetProperty("rekeyRefused").GetBoolean(), Is.False);

        // serve has no limit of its own: every rekey was the probe's.
        Assert.That(json.GetProperty("rekeysByClient").GetInt32(), Is.EqualTo(kex - 1));
        Assert.That(json.GetProperty("rekeysByServer").GetInt32(), Is.Zero);

        // The server counted the same exchanges.
        string log = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        Assert.That(log, Does.Contain($"; {kex} key exchange(s)"));
    }

    [Test]
    public async Task Serve_rekey_limit_makes_the_server_rekey_and_both_sides_count_the_same_exchanges()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--rekey-bytes", "64K");
        JsonElement json = Json(await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{serve.Port}", "--accept-any-host-key", "--json", "--send-bytes", "16M"));
        int kex = json.GetProperty("keyExchanges").GetInt32();
        long wire = json.GetProperty("wireBytesSent").GetInt64();

        // The client has no limit of its own: every exchange after the first was the server's idea, as the
        // KeyExchangeCompleted events say (InitiatedBy Remote). The server reads through what the probe sent before
        // the probe sees its KEXINIT, so an exchange covers more than 64 KiB; but never less.
        Assert.That(json.GetProperty("rekeysByServer").GetInt32(), Is.EqualTo(kex - 1));
        Assert.That(json.GetProperty("rekeysByClient").GetInt32(), Is.Zero);
        Assert.That(kex, Is.InRange(2, 1 + (wire / (64 * 1024)) + 1));

        // serve counts the exchanges that completed on its side: the same number, and the probe's DISCONNECT by
        // application ended the connection.
        string log = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        Assert.That(log, Does.Contain($": client disconnected (ByApplication): probe finished; {kex} key exchange(s)"));
    }

    [Test]
    public async Task Probe_text_output_says_who_started_the_rekeys()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--rekey-bytes", "64K");
        CliResult result = await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{serve.Port}", "--accept-any-host-key", "--send-bytes", "16M");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Does.Match(@"key exchanges:      (\d+) \((\d+) rekeys: 0 started by us, \2 by the server\)\n"));
    }

    [Test]
    public async Task Probe_of_a_closed_port_says_connection_refused()
    {
        CliResult result = await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{CliRunner.FreePort()}", "--accept-any-host-key");
        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Error, Is.EqualTo("ssh-transport: connection refused\n").Or.EqualTo("ssh-transport: connection refused" + Environment.NewLine));
    }

    [Test]
    public async Task Probe_of_something_that_is_not_ssh_times_out_or_fails_with_one_line()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        Task silent = Task.Run(async () =>
        {
            using System.Net.Sockets.Socket socket = await listener.AcceptSocketAsync();
            await Task.Delay(3000);
        });

        CliResult result = await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{port}", "--accept-any-host-key", "--timeout", "0.5");
        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1), result.ToString());
        await silent;
    }

    [Test]
    public async Task Serve_answers_login_attempts_with_failure_and_ends_cleanly_when_stopped()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder);

        // A client of the library: two login attempts, both refused with "publickey,password".
        var options = new SshClientOptions { HostKeyVerifier = (k, _) => ValueTask.FromResult(k == serve.HostKey.PublicKey) };
        SshTransport client = await SshClientConnector.ConnectAsync("127.0.0.1", serve.Port, options, TimeSpan.FromSeconds(10));
        await using (client)
        {
            await client.RequestServiceAsync("ssh-userauth");
            await client.WriteMessageAsync(new byte[] { 94, 0, 0, 0, 0, 0, 0, 0, 1, 42 }); // ignored
            for (int i = 0; i < 2; i++)
            {
                await client.WriteMessageAsync(AuthNone());
                SshPacket reply = await client.ReadMessageAsync().AsTask().WaitAsync(CliRunner.Timeout);
                Assert.That(reply.MessageNumber, Is.EqualTo(51));
                var reader = new SshReader(reply.Payload.Span[1..]);
                Assert.That(System.Text.Encoding.ASCII.GetString(reader.ReadString()), Is.EqualTo("publickey,password"));
                Assert.That(reader.ReadBoolean(), Is.False);
                Assert.That(reader.End, Is.True);
            }

            // Stopping the server (SIGINT/SIGTERM) tells the open connection why it goes: a DISCONNECT by
            // application, which ends the client's reads normally.
            Task<int> stopping = serve.StopAsync();
            SshPacket end = await client.ReadMessageAsync().AsTask().WaitAsync(CliRunner.Timeout);
            Assert.That(end.IsCompleted, Is.True);
            SshConnectionClosedEventArgs closed = await client.Completion.WaitAsync(CliRunner.Timeout);
            Assert.That(closed.ClosedBy, Is.EqualTo(SshInitiator.Remote));
            Assert.That(closed.Reason, Is.EqualTo(SshDisconnectReason.ByApplication));
            Assert.That(closed.Description, Is.EqualTo("server shutting down"));
            Assert.That(closed.Error, Is.Null);
            Assert.That(await stopping, Is.Zero);
        }

        Assert.That(serve.Out, Does.Contain(": server disconnected (ByApplication): server shutting down; 1 key exchange(s), 3 message(s) read, 2 login attempt(s) refused"));
    }

    private static byte[] AuthNone()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new SshWriter(buffer);
        writer.WriteByte(50);
        writer.WriteString("user");
        writer.WriteString("ssh-connection");
        writer.WriteString("none");
        return buffer.WrittenSpan.ToArray();
    }

    [Test]
    public async Task Serve_without_a_host_key_generates_one_and_says_so()
    {
        using var stop = new CancellationTokenSource();
        var output = new StringWriter();
        TextWriter syncOut = TextWriter.Synchronized(output);
        Task<int> running = CliMain.RunAsync(["serve", "--listen", "127.0.0.1:0"], new CliContext(syncOut, TextWriter.Null, stop.Token));
        string text = "";
        for (int i = 0; i < 500 && CliRunner.ListeningPort(text) is null; i++)
        {
            await Task.Delay(20);
            lock (syncOut)
            {
                text = output.ToString();
            }
        }

        Assert.That(text, Does.Match(@"host key: 256 SHA256:\S+ \(ED25519\) ssh-ed25519, generated in memory"));
        int port = CliRunner.ListeningPort(text) ?? throw new AssertionException("not listening: " + text);
        JsonElement json = Json(await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{port}", "--accept-any-host-key", "--json"));
        Assert.That(text, Does.Contain(json.GetProperty("hostKey").GetProperty("fingerprint").GetString()));
        await stop.CancelAsync();
        Assert.That(await running.WaitAsync(CliRunner.Timeout), Is.Zero);
    }
}
