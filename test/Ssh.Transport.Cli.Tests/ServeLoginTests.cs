using Ssh.Transport.Connection;

namespace Ssh.Transport.Cli.Tests;

/// <summary>
/// 'serve --authorized-keys / --password-file' in-process over loopback TCP, against the library's own client
/// (publickey, password, raw requests for the limits) and paramiko: who gets in, who does not, what serve logs, and
/// that a logged-in client meets the connection layer, which by default refuses commands (one line on stderr, exit
/// status 1) and forwardings.
/// </summary>
public class ServeLoginTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    private TempFolder _folder = null!;

    [SetUp]
    public void SetUp() => _folder = new TempFolder();

    [TearDown]
    public void TearDown() => _folder.Dispose();

    private string AuthorizedKeys(string text) => _folder.Write($"authorized_keys_{Guid.NewGuid():N}", text);

    private string Passwords(string text) => _folder.Write($"passwords_{Guid.NewGuid():N}", text);

    private static async Task<SshTransport> ConnectAsync(InProcessServe serve)
    {
        var options = new SshClientOptions { HostKeyVerifier = (key, _) => ValueTask.FromResult(key == serve.HostKey.PublicKey) };
        return await SshClientConnector.ConnectAsync("127.0.0.1", serve.Port, options, s_wait);
    }

    private static async Task<SshAuthenticatedUser> LogInAsync(SshTransport transport, string user, SshPrivateKey? key = null, string? password = null, Action<string>? banner = null)
    {
        var options = new SshClientAuthenticationOptions { UserName = user, Password = password, BannerReceived = banner };
        if (key is not null)
        {
            options.PrivateKeys.Add(key);
        }

        using var timeout = new CancellationTokenSource(s_wait);
        return await SshClientAuthentication.AuthenticateAsync(transport, options, timeout.Token);
    }

    /// <summary>
    /// The connection layer after a login, without --allow-exec or --allow-tcp-forwarding: a session opens and its
    /// "exec" is answered with one line on stderr and exit status 1; a direct-tcpip channel is refused.
    /// </summary>
    private static async Task AssertCommandsRefusedAsync(SshTransport transport)
    {
        await using var connection = new SshConnection(transport);
        using var timeout = new CancellationTokenSource(s_wait);
        Task running = connection.RunAsync(timeout.Token);

        SshChannel session = await connection.OpenChannelAsync("session", timeout.Token);
        var exitStatus = new TaskCompletionSource<uint>(TaskCreationOptions.RunContinuationsAsynchronously);
        session.RequestHandler = (_, request, _) =>
        {
            if (request.Type == "exit-status")
            {
                exitStatus.TrySetResult(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(request.Data.Span));
            }

            return ValueTask.FromResult(false);
        };
        bool started = await session.SendRequestAsync("exec", wantReply: true, "echo hi", static (ref SshWriter writer, string command) => writer.WriteString(command), timeout.Token);
        Assert.That(started, Is.True, "the session starts; serve answers the command itself");
        string stderr = await ReadToEndAsync(session.ExtendedInput, timeout.Token);
        string stdout = await ReadToEndAsync(session.Input, timeout.Token);
        Assert.That((await exitStatus.Task.WaitAsync(s_wait), stdout, stderr), Is.EqualTo((1u, "", "ssh-transport serve: command execution is disabled (--allow-exec)\n")));
        await session.CloseAsync(timeout.Token);

        var refused = Assert.ThrowsAsync<SshChannelOpenException>(async () => await connection.OpenChannelAsync(
            "direct-tcpip", 0, static (ref SshWriter writer, int _) =>
            {
                // RFC 4254 §7.2: host to connect, port, originator address, originator port.
                writer.WriteString("127.0.0.1");
                writer.WriteUInt32(22u);
                writer.WriteString("127.0.0.1");
                writer.WriteUInt32(40000u);
            }, timeout.Token));
        Assert.That(refused!.Reason, Is.EqualTo(SshChannelOpenFailureReason.AdministrativelyProhibited));

        await transport.DisconnectAsync(SshDisconnectReason.ByApplication, "test finished", timeout.Token);
        await running.WaitAsync(s_wait);
    }

    private static async Task<string> ReadToEndAsync(System.IO.Pipelines.PipeReader reader, CancellationToken cancellationToken)
    {
        var text = new System.Text.StringBuilder();
        while (true)
        {
            System.IO.Pipelines.ReadResult result = await reader.ReadAsync(cancellationToken);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                text.Append(System.Text.Encoding.UTF8.GetString(segment.Span));
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return text.ToString();
            }
        }
    }

    [Test]
    public async Task A_key_of_the_authorized_keys_file_logs_in_any_user_whose_commands_are_refused_without_allow_exec()
    {
        using SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--authorized-keys", AuthorizedKeys($"# keys\n{key.PublicKey} alice@test\n"));
        Assert.That(serve.Out, Does.Contain("logins: publickey (1 key(s) from "));

        await using SshTransport transport = await ConnectAsync(serve);
        SshAuthenticatedUser user = await LogInAsync(transport, "anyone", key);
        Assert.That(user.Methods, Is.EqualTo(new[] { "publickey" }));
        await AssertCommandsRefusedAsync(transport);

        string log = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        Assert.That(log, Does.Contain($" authenticated anyone by publickey (ED25519 {key.PublicKey.GetFingerprint()})"));
        Assert.That(log, Does.Contain(" refused exec 'echo hi' for anyone: command execution is disabled (--allow-exec)"));
        Assert.That(log, Does.Contain(" refused direct-tcpip to 127.0.0.1:22 for anyone: TCP forwarding is disabled (--allow-tcp-forwarding)"));
        Assert.That(log, Does.Contain("1 key exchange(s), user anyone"));
        Assert.That(log, Does.Not.Contain(" refused publickey"));
    }

    [Test]
    public async Task A_key_not_in_the_file_is_refused_and_logged()
    {
        using SshPrivateKey allowed = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        using SshPrivateKey other = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--authorized-keys", AuthorizedKeys($"{allowed.PublicKey}\n"));

        await using (SshTransport transport = await ConnectAsync(serve))
        {
            var refused = Assert.ThrowsAsync<SshAuthenticationException>(() => LogInAsync(transport, "bob", other));
            Assert.That(refused!.AllowedMethods, Is.EqualTo(new[] { "publickey" }), "password is not offered without --password-file");
        }

        string log = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        Assert.That(log, Does.Contain($" refused publickey ED25519 {other.PublicKey.GetFingerprint()} for bob: not in the authorized keys"));
        Assert.That(log, Does.Contain(" not authenticated: "));
        Assert.That(log, Does.Contain("1 key exchange(s), not authenticated"));
        Assert.That(log, Does.Not.Contain(" authenticated bob"));
    }

    [TestCase("from=\"192.0.2.0/24\"", "does not match from=")]
    [TestCase("expiry-time=\"20200101\"", "expired")]
    public async Task The_key_options_of_the_authorized_keys_line_are_honoured(string option, string reason)
    {
        using SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--authorized-keys", AuthorizedKeys($"{option} {key.PublicKey}\n"));

        await using (SshTransport transport = await ConnectAsync(serve))
        {
            Assert.ThrowsAsync<SshAuthenticationException>(() => LogInAsync(transport, "carol", key));
        }

        string log = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        Assert.That(log, Does.Contain($" refused publickey ED25519 {key.PublicKey.GetFingerprint()} for carol: ").And.Contain(reason));
    }

    [Test]
    public async Task Skipped_authorized_keys_lines_are_listed_when_serve_starts()
    {
        using SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--authorized-keys", AuthorizedKeys($"frobnicate {key.PublicKey}\n{key.PublicKey}\n"));
        Assert.That(serve.Out, Does.Contain("logins: publickey (1 key(s) from "));
        Assert.That(serve.Out, Does.Contain(" line 1: ").And.Contain("; skipped"));
    }

    [Test]
    public async Task A_password_of_the_password_file_logs_in_and_a_wrong_one_is_refused()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--password-file", Passwords("# test users\nalice:s3cret:with colon\n\nbob:other\n"));
        Assert.That(serve.Out, Does.Contain("logins: password (2 user(s) from "));

        await using (SshTransport transport = await ConnectAsync(serve))
        {
            SshAuthenticatedUser user = await LogInAsync(transport, "alice", password: "s3cret:with colon");
            Assert.That(user.Methods, Is.EqualTo(new[] { "password" }));
            await AssertCommandsRefusedAsync(transport);
        }

        foreach ((string name, string password) in new[] { ("alice", "s3cret"), ("alice", "other"), ("nobody", "other") })
        {
            await using SshTransport transport = await ConnectAsync(serve);
            var refused = Assert.ThrowsAsync<SshAuthenticationException>(() => LogInAsync(transport, name, password: password));
            Assert.That(refused!.AllowedMethods, Is.EqualTo(new[] { "password" }));
        }

        string log = await serve.WaitForOutputAsync(o => o.Split('\n').Count(l => l.Contains(" closed after ", StringComparison.Ordinal)) == 4);
        Assert.That(log, Does.Contain(" authenticated alice by password\n"));
        Assert.That(log.Split('\n').Count(l => l.EndsWith(" refused password for alice", StringComparison.Ordinal)), Is.EqualTo(2), log);
        Assert.That(log, Does.Contain(" refused password for nobody"));
    }

    [Test]
    public async Task More_failures_than_max_auth_tries_end_in_a_disconnect()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--password-file", Passwords("alice:right\n"), "--max-auth-tries", "3");
        await using SshTransport transport = await ConnectAsync(serve);
        using var timeout = new CancellationTokenSource(s_wait);
        await transport.RequestServiceAsync(SshTransportOptions.UserAuthService, timeout.Token);

        // Wrong passwords, one at a time: the first two are answered with USERAUTH_FAILURE, the third with DISCONNECT.
        int failures = 0;
        for (int attempt = 1; attempt <= 4; attempt++)
        {
            await transport.WriteMessageAsync($"wrong {attempt}", static (buffer, password) =>
            {
                // RFC 4252 §8: user, service, "password", FALSE, password.
                var writer = new SshWriter(buffer);
                writer.WriteByte(SshMessageNumber.UserAuthRequest);
                writer.WriteString("alice");
                writer.WriteString("ssh-connection");
                writer.WriteString("password");
                writer.WriteBoolean(false);
                writer.WriteString(password);
            }, timeout.Token);

            try
            {
                SshPacket answer = await transport.ReadMessageAsync(timeout.Token);
                Assert.That(answer.IsCompleted, Is.False);
                Assert.That(answer.MessageNumber, Is.EqualTo(SshMessageNumber.UserAuthFailure));
                failures++;
            }
            catch (SshPeerDisconnectedException e)
            {
                Assert.That(e.Reason, Is.EqualTo(SshDisconnectReason.NoMoreAuthMethodsAvailable));
                break;
            }
        }

        Assert.That(failures, Is.EqualTo(2));
        SshConnectionClosedEventArgs closed = await transport.Completion.WaitAsync(s_wait);
        Assert.That(closed.ClosedBy, Is.EqualTo(SshInitiator.Remote));
        Assert.That(closed.Reason, Is.EqualTo(SshDisconnectReason.NoMoreAuthMethodsAvailable));

        string log = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        Assert.That(log, Does.Contain(" not authenticated: too many authentication failures for alice (3)"));
        Assert.That(log, Does.Contain("server disconnected (NoMoreAuthMethodsAvailable)"));
    }

    [Test]
    public async Task A_client_that_does_not_log_in_within_the_grace_time_is_disconnected()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--password-file", Passwords("alice:right\n"), "--login-grace-time", "1");
        await using SshTransport transport = await ConnectAsync(serve);
        using var timeout = new CancellationTokenSource(s_wait);
        await transport.RequestServiceAsync(SshTransportOptions.UserAuthService, timeout.Token);

        // Nothing more is sent: the server gives up on its own.
        SshConnectionClosedEventArgs closed = await transport.Completion.WaitAsync(s_wait);
        Assert.That(closed.ClosedBy, Is.EqualTo(SshInitiator.Remote));
        string log = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        Assert.That(log, Does.Contain(" not authenticated: user authentication did not complete within 1 s"));
    }

    [Test]
    public async Task The_banner_file_is_sent_before_the_first_answer()
    {
        string banner = _folder.Write("banner", "Authorized use only.\n");
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--password-file", Passwords("alice:right\n"), "--banner", banner);
        await using SshTransport transport = await ConnectAsync(serve);
        string? received = null;
        await LogInAsync(transport, "alice", password: "right", banner: text => received = text);
        Assert.That(received, Is.EqualTo("Authorized use only.\n"));
    }

    [Test]
    public async Task Stopping_serve_disconnects_a_logged_in_client_and_exits_0()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--password-file", Passwords("alice:right\n"));
        await using SshTransport transport = await ConnectAsync(serve);
        await LogInAsync(transport, "alice", password: "right");
        await using var connection = new SshConnection(transport);
        Task running = connection.RunAsync();
        await serve.WaitForOutputAsync(o => o.Contains(" authenticated alice", StringComparison.Ordinal));

        Assert.That(await serve.StopAsync(), Is.Zero, serve.Out);
        SshConnectionClosedEventArgs closed = await transport.Completion.WaitAsync(s_wait);
        Assert.That((closed.ClosedBy, closed.Reason, closed.Description), Is.EqualTo((SshInitiator.Remote, SshDisconnectReason.ByApplication, "The server is shutting down.")));
        await running.WaitAsync(s_wait);
        Assert.That(serve.Out, Does.Contain("server disconnected (ByApplication): The server is shutting down.; 1 key exchange(s), user alice"));
        Assert.That(serve.Out, Does.Contain("stopped after 1 connection(s)"));
    }

    [Test]
    public async Task Paramiko_logs_in_with_a_password_and_its_command_is_refused_without_allow_exec()
    {
        const string python = "/usr/bin/python3";
        if (!File.Exists(python) || (await CliRunner.RunProgramAsync(python, "-c", "import paramiko"))!.ExitCode != 0)
        {
            Assert.Ignore("paramiko (Debian's python3-paramiko) is not installed");
        }

        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--password-file", Passwords("alice:right\n"));
        const string script = """
            import socket, sys, paramiko
            sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
            t = paramiko.Transport(sock)
            t.start_client(timeout=20)
            try:
                t.auth_password(sys.argv[2], sys.argv[3])
                print("authenticated", t.is_authenticated())
                chan = t.open_session(timeout=20)
                chan.exec_command("echo hi")
                out = chan.makefile("rb").read()
                err = chan.makefile_stderr("rb").read()
                print("exit", chan.recv_exit_status(), repr(out), err.decode())
            except paramiko.AuthenticationException:
                print("refused")
            t.close()
            """;
        string port = serve.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        CliResult right = (await CliRunner.RunProgramAsync(python, "-c", script, port, "alice", "right"))!;
        Assert.That(right.ExitCode, Is.Zero, right.ToString());
        Assert.That(right.Out, Is.EqualTo("authenticated True\nexit 1 b'' ssh-transport serve: command execution is disabled (--allow-exec)\n\n"), right.ToString());

        CliResult wrong = (await CliRunner.RunProgramAsync(python, "-c", script, port, "alice", "wrong"))!;
        Assert.That(wrong.ExitCode, Is.Zero, wrong.ToString());
        Assert.That(wrong.Out, Is.EqualTo("refused\n"), wrong.ToString());

        string log = await serve.WaitForOutputAsync(o => o.Split('\n').Count(l => l.Contains(" closed after ", StringComparison.Ordinal)) == 2);
        Assert.That(log, Does.Contain("connected: SSH-2.0-paramiko_"));
        Assert.That(log, Does.Contain(" authenticated alice by password"));
        Assert.That(log, Does.Contain(" refused password for alice"));
    }

    [Test]
    public async Task Without_login_options_every_login_is_still_refused()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder);
        Assert.That(serve.Out, Does.Contain("logins: none"));
        await using (SshTransport transport = await ConnectAsync(serve))
        {
            var refused = Assert.ThrowsAsync<SshAuthenticationException>(() => LogInAsync(transport, "alice", password: "anything"));
            Assert.That(refused!.AllowedMethods, Is.EqualTo(new[] { "publickey", "password" }));
        }

        string log = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        Assert.That(log, Does.Contain("login attempt(s) refused"));
    }

    [Test]
    public void Passwords_are_compared_whole()
    {
        var file = PasswordFile.Parse("alice:secret\nbob:pa:ss\n");
        Assert.That(file.Verify("alice", "secret"), Is.True);
        Assert.That(file.Verify("bob", "pa:ss"), Is.True);
        Assert.That(file.Verify("alice", "secre"), Is.False);
        Assert.That(file.Verify("alice", "secret "), Is.False);
        Assert.That(file.Verify("alice", "pa:ss"), Is.False);
        Assert.That(file.Verify("carol", "secret"), Is.False);
        Assert.That(file.Verify("Alice", "secret"), Is.False);
    }

    [TestCase("alice\n", "line 1 is not user:password")]
    [TestCase("# c\nalice:\n", "line 2 is not user:password")]
    [TestCase(":secret\n", "line 1 is not user:password")]
    [TestCase("alice:a\nalice:b\n", "line 2 repeats the user 'alice'")]
    public void Malformed_password_files_say_which_line(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => PasswordFile.Parse(text));
        Assert.That(e!.Message, Does.Contain(expected));
    }

    /// <summary>
    /// A client that keeps retrying a refused password: each connection gets at most --max-auth-tries answers (the
    /// last a DISCONNECT), each failed connection earns 127.0.0.1 5 s of penalty (sshd's authfail), and once more
    /// than 15 s (sshd's min) are accrued the next connection is closed before the banner.
    /// </summary>
    [Test]
    public async Task A_client_that_keeps_retrying_a_refused_password_is_refused_by_its_penalty()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--password-file", Passwords("alice:right\n"), "--max-auth-tries", "3");
        var answersPerConnection = new List<int>();
        Exception? refused = null;
        for (int connection = 1; connection <= 6 && refused is null; connection++)
        {
            SshTransport transport;
            try
            {
                transport = await ConnectAsync(serve);
            }
            catch (Exception e) when (e is SshProtocolException or IOException or System.Net.Sockets.SocketException)
            {
                refused = e;
                break;
            }

            await using (transport)
            {
                using var timeout = new CancellationTokenSource(s_wait);
                await transport.RequestServiceAsync(SshTransportOptions.UserAuthService, timeout.Token);
                int answers = 0;
                try
                {
                    while (true)
                    {
                        await transport.WriteMessageAsync("wrong", static (buffer, password) =>
                        {
                            var writer = new SshWriter(buffer);
                            writer.WriteByte(SshMessageNumber.UserAuthRequest);
                            writer.WriteString("alice");
                            writer.WriteString("ssh-connection");
                            writer.WriteString("password");
                            writer.WriteBoolean(false);
                            writer.WriteString(password);
                        }, timeout.Token);
                        SshPacket answer = await transport.ReadMessageAsync(timeout.Token);
                        if (answer.IsCompleted)
                        {
                            answers++; // closed: the end counts as the last answer
                            break;
                        }

                        answers++;
                    }
                }
                catch (Exception e) when (e is SshProtocolException or IOException)
                {
                    answers++; // the DISCONNECT
                }

                answersPerConnection.Add(answers);
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(answersPerConnection, Is.All.EqualTo(3), "two failures and a DISCONNECT each");
            // 4 × 5 s = 20 s > 15 s refuses the fifth; the server books a connection's penalty as it closes it, which
            // can come after the client, having read the DISCONNECT, has already started the next one (seen in CI).
            Assert.That(answersPerConnection, Has.Count.InRange(4, 5), "refused once 20 s of penalty are booked");
            Assert.That(refused, Is.Not.Null);
        });
        string log = await serve.WaitForOutputAsync(o => o.Contains("refused before the banner", StringComparison.Ordinal));
        Assert.That(log, Does.Contain("refused before the banner: PerSourcePenalties, penalty: failed authentication"));
    }

    /// <summary>--max-startups: above it, a new unauthenticated connection is closed with nothing sent.</summary>
    [Test]
    public async Task Connections_above_max_startups_are_closed_before_the_banner()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--max-startups", "1:100:1");
        using var first = new System.Net.Sockets.TcpClient();
        await first.ConnectAsync(System.Net.IPAddress.Loopback, serve.Port);
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(s_wait);
        int read = await first.GetStream().ReadAsync(buffer, timeout.Token);
        Assert.That(System.Text.Encoding.ASCII.GetString(buffer, 0, read), Does.StartWith("SSH-2.0-"));

        using var second = new System.Net.Sockets.TcpClient();
        await second.ConnectAsync(System.Net.IPAddress.Loopback, serve.Port);
        int nothing;
        try
        {
            nothing = await second.GetStream().ReadAsync(buffer, timeout.Token);
        }
        catch (IOException)
        {
            nothing = 0;
        }

        Assert.That(nothing, Is.Zero);
        string log = await serve.WaitForOutputAsync(o => o.Contains("refused before the banner", StringComparison.Ordinal));
        Assert.That(log, Does.Contain("refused before the banner: MaxStartups, 1 unauthenticated connections (MaxStartups 1:100:1)"));
        Assert.That(serve.Out, Does.Contain("limits: max-startups 1:100:1"));
    }

    /// <summary>The login grace time counts from accept: a client trickling its identification line is closed at it, mid-handshake.</summary>
    [Test]
    public async Task A_client_trickling_its_identification_line_is_closed_at_the_login_grace_time()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, null, "--password-file", Passwords("alice:right\n"), "--login-grace-time", "1");
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, serve.Port);
        System.Net.Sockets.NetworkStream stream = client.GetStream();
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(s_wait);
        int read = await stream.ReadAsync(buffer, timeout.Token);
        Assert.That(System.Text.Encoding.ASCII.GetString(buffer, 0, read), Does.StartWith("SSH-2.0-"));

        // One byte every 100 ms: the line would take 5 s; the server closes at 1 s.
        bool closed = false;
        foreach (byte b in "SSH-2.0-trickle-trickle-trickle-trickle-trickle"u8.ToArray())
        {
            try
            {
                await stream.WriteAsync(new[] { b }, timeout.Token);
                await Task.Delay(100, timeout.Token);
                if (client.Client.Poll(0, System.Net.Sockets.SelectMode.SelectRead) && client.Available == 0)
                {
                    closed = true;
                    break;
                }
            }
            catch (IOException)
            {
                closed = true;
                break;
            }
        }

        Assert.That(closed, Is.True);
        string log = await serve.WaitForOutputAsync(o => o.Contains("login grace time", StringComparison.Ordinal));
        Assert.That(log, Does.Contain(" closed: no handshake within the login grace time (1 s)"));
    }
}
