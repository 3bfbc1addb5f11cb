using System.Diagnostics;
using System.Text;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Server;

/// <summary>
/// Sessions of our server runner, driven by a client made from the raw channel API over in-memory pipes: exec with
/// exit status and stderr apart, env filtering, pty-req and window-change, signals, a second start, the session limits,
/// authorized_keys restrictions, EOF and CLOSE in both orders.
/// </summary>
[CancelAfter(120_000)]
public class ServerSessionTests
{
    [SetUp]
    public void UnixOnly()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("The sessions run /bin/sh.");
        }
    }

    [Test]
    public async Task Exec_Process_StdoutAndStderrApart_ExitStatus()
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler());
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("echo hi; echo oops >&2; exit 3"), Is.True);
        (string output, string error, SshExitStatus status) = await session.CollectAsync();
        Assert.That((output, error, status.ExitCode), Is.EqualTo(("hi\n", "oops\n", (int?)3)));
    }

    [Test]
    public async Task Exec_HandlerReturnsWithoutExit_ExitStatusZero_AfterItsOutput()
    {
        var handler = new TestHandler
        {
            Session = async (session, cancellationToken) => await session.Output.WriteAsync(Encoding.ASCII.GetBytes($"ran {session.Command}"), cancellationToken),
        };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("something"), Is.True);
        (string output, string error, SshExitStatus status) = await session.CollectAsync();
        Assert.That((output, error, status.ExitCode), Is.EqualTo(("ran something", string.Empty, (int?)0)));
    }

    [Test]
    public async Task Exec_HandlerThrows_ExitStatusOne_MessageNotShown()
    {
        var handler = new TestHandler { Session = (_, _) => throw new InvalidOperationException("secret server detail") };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("x"), Is.True);
        (string output, string error, SshExitStatus status) = await session.CollectAsync();
        Assert.That((output, error, status.ExitCode), Is.EqualTo((string.Empty, string.Empty, (int?)1)));
    }

    [Test]
    public async Task Exec_ProgramMissing_StderrSaysSo_Exit127()
    {
        var handler = new TestHandler { Session = (session, ct) => session.RunProcessAsync(new ProcessStartInfo("/nonexistent/program"), ct) };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("x"), Is.True);
        (_, string error, SshExitStatus status) = await session.CollectAsync();
        Assert.That((error.StartsWith("/nonexistent/program: ", StringComparison.Ordinal), status.ExitCode), Is.EqualTo((true, (int?)127)), error);
    }

    [Test]
    public async Task Exec_StdinToProcess_EofClosesIt()
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler());
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("wc -c"), Is.True);
        await session.Channel.Output.WriteAsync(new byte[100_000]);
        await session.Channel.Output.CompleteAsync();
        (string output, _, SshExitStatus status) = await session.CollectAsync();
        Assert.That((output.Trim(), status.ExitCode), Is.EqualTo(("100000", (int?)0)));
    }

    [Test]
    public async Task Env_OnlyAcceptedNames_ReachTheSessionAndTheProcess()
    {
        var handler = new TestHandler();
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.Multiple(async () =>
        {
            Assert.That(await session.EnvAsync("LANG", "C.UTF-8"), Is.True);
            Assert.That(await session.EnvAsync("LC_ALL", "C"), Is.True);
            Assert.That(await session.EnvAsync("FOO", "bar"), Is.False);
            Assert.That(await session.EnvAsync("LD_PRELOAD", "/tmp/x.so"), Is.False);
        });
        Assert.That(await session.ExecAsync("echo \"$LANG|$LC_ALL|$FOO|$LD_PRELOAD\""), Is.True);
        (string output, _, _) = await session.CollectAsync();
        SshServerSession server = await handler.Started.Task.WaitAsync(ServerHarness.Timeout);
        Assert.Multiple(() =>
        {
            Assert.That(output, Is.EqualTo("C.UTF-8|C||\n"));
            Assert.That(server.Environment, Is.EquivalentTo(new Dictionary<string, string> { ["LANG"] = "C.UTF-8", ["LC_ALL"] = "C" }));
        });
    }

    [Test]
    public async Task Process_GetsSshClient_FromTheClientsEndPoint()
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler());
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("echo \"$SSH_CLIENT|${SSH_CONNECTION-unset}|${SSH_ORIGINAL_COMMAND-unset}\""), Is.True);
        Assert.That((await session.CollectAsync()).Out, Is.EqualTo("192.0.2.7 50123 0|unset|unset\n"));
    }

    [Test]
    public async Task Env_ConfiguredPatterns_ReplaceTheDefault()
    {
        var settings = new SshServerSettings();
        settings.AcceptEnvironment.Clear();
        settings.AcceptEnvironment.Add("APP_?");
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler(), settings);
        RawSession session = await h.OpenSessionAsync();
        Assert.Multiple(async () =>
        {
            Assert.That(await session.EnvAsync("APP_1", "x"), Is.True);
            Assert.That(await session.EnvAsync("APP_10", "x"), Is.False);
            Assert.That(await session.EnvAsync("LANG", "C"), Is.False);
        });
    }

    [Test]
    public async Task PtyReq_Recorded_WindowChange_RaisesEventWithTheNewSize()
    {
        var sizes = new TaskCompletionSource<SshTerminalSize>(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new TestHandler
        {
            Session = async (session, ct) =>
            {
                session.TerminalSizeChanged += (_, size) => sizes.TrySetResult(size);
                subscribed.SetResult();
                await sizes.Task.WaitAsync(ct);
                await session.ExitAsync(0, ct);
            },
        };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        var terminal = new SshPseudoTerminal("xterm", new SshTerminalSize(80, 24, 640, 480), new Dictionary<byte, uint> { [53] = 0 });
        Assert.That(await session.PtyAsync(terminal), Is.True);
        Assert.That(await session.PtyAsync(terminal), Is.False, "one pty per session");
        Assert.That(await session.ShellAsync(), Is.True);
        await subscribed.Task.WaitAsync(ServerHarness.Timeout);
        SshServerSession server = await handler.Started.Task;
        Assert.Multiple(() =>
        {
            Assert.That(server.Kind, Is.EqualTo(SshSessionKind.Shell));
            Assert.That(server.PseudoTerminal?.TerminalType, Is.EqualTo("xterm"));
            Assert.That(server.PseudoTerminal?.Modes[53], Is.EqualTo(0));
            Assert.That(server.TerminalSize, Is.EqualTo(new SshTerminalSize(80, 24, 640, 480)));
        });

        await session.WindowChangeAsync(new SshTerminalSize(120, 40));
        Assert.That(await sizes.Task.WaitAsync(ServerHarness.Timeout), Is.EqualTo(new SshTerminalSize(120, 40)));
        (_, _, SshExitStatus status) = await session.CollectAsync();
        Assert.That((status.ExitCode, server.TerminalSize), Is.EqualTo(((int?)0, (SshTerminalSize?)new SshTerminalSize(120, 40))));
    }

    [Test]
    public async Task Signal_RaisesEventWithTheName()
    {
        var signal = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new TestHandler
        {
            Session = async (session, ct) =>
            {
                session.SignalReceived += (_, name) => signal.TrySetResult(name);
                subscribed.SetResult();
                await session.ExitAsync(SshExitStatus.FromSignal(await signal.Task.WaitAsync(ct)), ct);
            },
        };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("wait"), Is.True);
        await subscribed.Task.WaitAsync(ServerHarness.Timeout);
        await session.SignalAsync("USR1");
        (_, _, SshExitStatus status) = await session.CollectAsync();
        Assert.That(status.Signal, Is.EqualTo("USR1"));
    }

    [TestCase("TERM")]
    [TestCase("KILL")]
    [TestCase("INT")]
    public async Task Signal_ToProcess_KillsIt_ReportedAsExitSignal(string name)
    {
        var handler = new TestHandler();
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("echo started; exec sleep 60"), Is.True);

        // The process runs (its first line is here) before the signal goes.
        System.IO.Pipelines.ReadResult first = await session.Channel.Input.ReadAsync().AsTask().WaitAsync(ServerHarness.Timeout);
        session.Channel.Input.AdvanceTo(first.Buffer.Start, first.Buffer.End);
        await session.SignalAsync(name);
        (string output, _, SshExitStatus status) = await session.CollectAsync();
        Assert.That((output, status.Signal, status.ExitCode), Is.EqualTo(("started\n", name, (int?)null)));
    }

    [Test]
    public async Task Exec_ExitCodeAbove128_WithoutSignal_IsAnExitStatus()
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler());
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("exit 137"), Is.True);
        (_, _, SshExitStatus status) = await session.CollectAsync();
        Assert.That((status.ExitCode, status.Signal), Is.EqualTo(((int?)137, (string?)null)));
    }

    [Test]
    public async Task SecondStartRequest_Refused_FirstRunsOn()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new TestHandler
        {
            Session = async (session, ct) =>
            {
                await release.Task.WaitAsync(ct);
                await session.Output.WriteAsync(Encoding.ASCII.GetBytes(session.Command!), ct);
            },
        };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.Multiple(async () =>
        {
            Assert.That(await session.ExecAsync("first"), Is.True);
            Assert.That(await session.ExecAsync("second"), Is.False);
            Assert.That(await session.ShellAsync(), Is.False);
            Assert.That(await session.SubsystemAsync("sftp"), Is.False);
            Assert.That(await session.EnvAsync("LANG", "C"), Is.False, "env after the start");
        });
        release.SetResult();
        (string output, _, SshExitStatus status) = await session.CollectAsync();
        Assert.That((output, status.ExitCode), Is.EqualTo(("first", (int?)0)));
    }

    [Test]
    public async Task Subsystem_NameGiven_KindSubsystem()
    {
        var handler = new TestHandler { Session = (session, ct) => session.ExitAsync(session.Kind == SshSessionKind.Subsystem && session.SubsystemName == "echo" && session.Command is null ? 0 : 9, ct) };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.SubsystemAsync("echo"), Is.True);
        (_, _, SshExitStatus status) = await session.CollectAsync();
        Assert.That(status.ExitCode, Is.EqualTo(0));
    }

    [Test]
    public async Task ClientEof_CompletesInput_SessionRunsOn()
    {
        var handler = new TestHandler
        {
            Session = async (session, ct) =>
            {
                byte[] input = await RawSession.ReadAllAsync(session.Input);
                await session.Output.WriteAsync(Encoding.ASCII.GetBytes($"read {input.Length} then wrote after EOF"), ct);
                await session.ExitAsync(4, ct);
            },
        };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("x"), Is.True);
        await session.Channel.Output.WriteAsync(new byte[5]);
        await session.Channel.Output.CompleteAsync();
        (string output, _, SshExitStatus status) = await session.CollectAsync();
        Assert.That((output, status.ExitCode), Is.EqualTo(("read 5 then wrote after EOF", (int?)4)));
    }

    [Test]
    public async Task ClientClose_CancelsTheSession_AndKillsItsProcess()
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new TestHandler
        {
            Session = async (session, ct) =>
            {
                using CancellationTokenRegistration registration = ct.Register(() => cancelled.TrySetResult());
                await TestHandler.RunShellAsync(session, ct);
            },
        };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("echo $$; exec sleep 60"), Is.True);
        System.IO.Pipelines.ReadResult first = await session.Channel.Input.ReadAsync().AsTask().WaitAsync(ServerHarness.Timeout);
        int pid = int.Parse(Encoding.ASCII.GetString(first.Buffer).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        session.Channel.Input.AdvanceTo(first.Buffer.End);
        await session.Channel.CloseAsync().WaitAsync(ServerHarness.Timeout);
        await cancelled.Task.WaitAsync(ServerHarness.Timeout);
        Assert.That(await ProcessGoneAsync(pid), Is.True, "the process was killed");
        Assert.That(session.Exit.IsCompleted, Is.False, "no exit status after the client's CLOSE");
    }

    [Test]
    public async Task ConnectionEnd_CancelsSessions_RunnerReturnsNormally()
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new TestHandler
        {
            Session = async (session, ct) =>
            {
                using CancellationTokenRegistration registration = ct.Register(() => cancelled.TrySetResult());
                await Task.Delay(System.Threading.Timeout.Infinite, ct);
            },
        };
        ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("x"), Is.True);
        await handler.Started.Task.WaitAsync(ServerHarness.Timeout);
        await h.ClientTransport.DisconnectAsync(SshDisconnectReason.ByApplication, "bye", CancellationToken.None);
        await cancelled.Task.WaitAsync(ServerHarness.Timeout);
        await h.Serving.WaitAsync(ServerHarness.Timeout);
        await h.DisposeAsync();
    }

    [Test]
    public async Task ServerCancellation_DisconnectsByApplication_AndThrowsOperationCanceled()
    {
        (SshTransport client, SshTransport server) = await Harness.ConnectAsync();
        await using (client)
        await using (server)
        {
            using var stop = new CancellationTokenSource();
            Task serving = SshServer.RunAsync(server, new TestHandler(), new SshServerSettings(), null, stop.Token);
            var auth = new SshClientAuthenticationOptions { UserName = "alice" };
            auth.PrivateKeys.Add(Harness.UserKey(SshHostKeyType.Ed25519));
            await SshClientAuthentication.AuthenticateAsync(client, auth).WaitAsync(ServerHarness.Timeout);
            await using var connection = new SshConnection(client);
            Task loop = connection.RunAsync();
            await stop.CancelAsync();
            Assert.That(async () => await serving.WaitAsync(ServerHarness.Timeout), Throws.InstanceOf<OperationCanceledException>());
            await loop.WaitAsync(ServerHarness.Timeout);
            SshConnectionClosedEventArgs end = await client.Completion.WaitAsync(ServerHarness.Timeout);
            Assert.That((end.ClosedBy, end.Reason), Is.EqualTo((SshInitiator.Remote, SshDisconnectReason.ByApplication)));
        }
    }

    [Test]
    public async Task MaxSessions_MoreAreRefused()
    {
        var settings = new SshServerSettings { MaxSessions = 2 };
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler(), settings);
        await h.OpenSessionAsync();
        await h.OpenSessionAsync();
        var e = Assert.ThrowsAsync<SshChannelOpenException>(async () => await h.OpenSessionAsync());
        Assert.That(e!.Reason, Is.EqualTo(SshChannelOpenFailureReason.AdministrativelyProhibited));
    }

    [Test]
    public async Task NoMoreSessions_ThenASessionOpen_Disconnects()
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler());
        RawSession first = await h.OpenSessionAsync();
        await h.Client.SendGlobalRequestAsync<object?>(SshGlobalRequestTypes.NoMoreSessions, false, null, null);
        Assert.That(async () => await h.OpenSessionAsync(), Throws.Exception);
        var e = Assert.ThrowsAsync<SshProtocolException>(async () => await h.Serving.WaitAsync(ServerHarness.Timeout));
        Assert.That(e!.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError));
        SshConnectionClosedEventArgs end = await h.ClientTransport.Completion.WaitAsync(ServerHarness.Timeout);
        Assert.That((end.ClosedBy, end.Reason), Is.EqualTo((SshInitiator.Remote, SshDisconnectReason.ProtocolError)));
        Assert.That(first.Channel.Completion.IsCompleted, Is.True);
    }

    [Test]
    public async Task GlobalRequests_KeepAliveAndUnknown_Fail_UnknownChannelType_Refused()
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler());
        Assert.That(await h.Client.SendGlobalRequestAsync<object?>(SshGlobalRequestTypes.KeepAlive, true, null, null).WaitAsync(ServerHarness.Timeout), Is.Null);
        Assert.That(await h.Client.SendGlobalRequestAsync<object?>("unknown@example.com", true, null, null).WaitAsync(ServerHarness.Timeout), Is.Null);
        var e = Assert.ThrowsAsync<SshChannelOpenException>(async () => await h.Client.OpenChannelAsync("x11").WaitAsync(ServerHarness.Timeout));
        Assert.That(e!.Reason, Is.EqualTo(SshChannelOpenFailureReason.UnknownChannelType));

        // The connection goes on.
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.Channel.SendRequestAsync(SshChannelRequestTypes.KeepAlive, true).WaitAsync(ServerHarness.Timeout), Is.False);
        Assert.That(await session.ExecAsync("exit 0"), Is.True);
        Assert.That((await session.CollectAsync()).Status.ExitCode, Is.EqualTo(0));
    }

    [Test]
    public async Task HandlerWithoutSessions_SessionOpenRefused_PasswordNotOffered()
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new KeysOnlyHandler());
        var e = Assert.ThrowsAsync<SshChannelOpenException>(async () => await h.OpenSessionAsync());
        Assert.That(e!.Reason, Is.EqualTo(SshChannelOpenFailureReason.AdministrativelyProhibited));
    }

    [Test]
    public async Task Authentication_OnlyOverriddenMethodsOffered()
    {
        (SshTransport client, SshTransport server) = await Harness.ConnectAsync();
        await using (client)
        await using (server)
        {
            Task serving = SshServer.RunAsync(server, new KeysOnlyHandler(), new SshServerSettings());
            var auth = new SshClientAuthenticationOptions { UserName = "alice", Password = "guess" };
            var e = Assert.ThrowsAsync<SshAuthenticationException>(async () => await SshClientAuthentication.AuthenticateAsync(client, auth).WaitAsync(ServerHarness.Timeout));
            Assert.That(e!.AllowedMethods, Is.EqualTo(new[] { "publickey" }));
            await client.DisconnectAsync(SshDisconnectReason.ByApplication, "bye", CancellationToken.None);
            Assert.That(async () => await serving.WaitAsync(ServerHarness.Timeout), Throws.InstanceOf<SshAuthenticationException>());
        }
    }

    [Test]
    public async Task LateWindowAdjust_ForAClosedChannel_Ignored_AsOpenSsh()
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler());
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("exit 0"), Is.True);
        await session.CollectAsync();

        // paramiko's reader thread does this after the channel's CLOSE.
        await h.ClientTransport.WriteMessageAsync(session.Channel.RemoteId, static (buffer, id) =>
        {
            var writer = new SshWriter(buffer);
            writer.WriteByte(SshMessageNumber.ChannelWindowAdjust);
            writer.WriteUInt32(id);
            writer.WriteUInt32(65536);
        });
        RawSession next = await h.OpenSessionAsync();
        Assert.That(await next.ExecAsync("exit 2"), Is.True);
        Assert.That((await next.CollectAsync()).Status.ExitCode, Is.EqualTo(2));
        Assert.That(h.Serving.IsCompleted, Is.False);
    }

    // --- authorized_keys restrictions

    [Test]
    public async Task ForcedCommand_ReplacesExec_OriginalCommandKept()
    {
        var handler = new TestHandler { KeyOptions = "command=\"echo forced: $SSH_ORIGINAL_COMMAND\"" };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("echo mine"), Is.True);
        (string output, _, SshExitStatus status) = await session.CollectAsync();
        SshServerSession server = await handler.Started.Task;
        Assert.Multiple(() =>
        {
            Assert.That((output, status.ExitCode), Is.EqualTo(("forced: echo mine\n", (int?)0)));
            Assert.That((server.Kind, server.Command, server.OriginalCommand, server.IsCommandForced), Is.EqualTo((SshSessionKind.Exec, "echo forced: $SSH_ORIGINAL_COMMAND", "echo mine", true)));
        });
    }

    [Test]
    public async Task ForcedCommand_ReplacesShellAndSubsystem()
    {
        var handler = new TestHandler { KeyOptions = "command=\"echo forced\"" };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession shell = await h.OpenSessionAsync();
        Assert.That(await shell.ShellAsync(), Is.True);
        Assert.That((await shell.CollectAsync()).Out, Is.EqualTo("forced\n"));
        RawSession subsystem = await h.OpenSessionAsync();
        Assert.That(await subsystem.SubsystemAsync("sftp"), Is.True);
        Assert.That((await subsystem.CollectAsync()).Out, Is.EqualTo("forced\n"));
    }

    [TestCase("no-pty")]
    [TestCase("restrict")]
    public async Task NoPty_PtyReqRefused_SessionStillRuns(string options)
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler { KeyOptions = options });
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.PtyAsync(new SshPseudoTerminal("xterm", new SshTerminalSize(80, 24))), Is.False);
        Assert.That(await session.ExecAsync("echo ok"), Is.True);
        Assert.That((await session.CollectAsync()).Out, Is.EqualTo("ok\n"));
    }

    [Test]
    public async Task RestrictThenPty_PtyAllowed()
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler { KeyOptions = "restrict,pty" });
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.PtyAsync(new SshPseudoTerminal("xterm", new SshTerminalSize(80, 24))), Is.True);
    }

    [Test]
    public async Task KeyEnvironment_AddedToTheSession()
    {
        var handler = new TestHandler { KeyOptions = "environment=\"FROM_KEY=yes\"" };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("echo $FROM_KEY"), Is.True);
        Assert.That((await session.CollectAsync()).Out, Is.EqualTo("yes\n"));
    }

    // --- A client that stops reading: the server takes in no more than the window and its bounded buffers.

    [Test]
    public async Task ClientStopsReading_ProcessOutputTakenIn_BoundedByTheWindow()
    {
        const int window = 256 * 1024;
        var clientChannels = new SshChannelOptions { WindowSize = window };
        var handler = new TestHandler();
        await using ServerHarness h = await ServerHarness.StartAsync(handler, clientChannels: clientChannels);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("cat /dev/zero"), Is.True);
        SshServerSession server = await handler.Started.Task.WaitAsync(ServerHarness.Timeout);

        // The window fills (the client reads nothing) ...
        using var deadline = new CancellationTokenSource(ServerHarness.Timeout);
        while (server.ProcessOutputBytes < window)
        {
            await Task.Delay(10, deadline.Token);
        }

        // ... and from then on, however long we look, the server holds at most its output pipe (four packets) and
        // one read buffer beyond what the window let out; `cat /dev/zero` would give gigabytes otherwise.
        const long bound = window + (4 * 32 * 1024) + (2 * 16 * 1024);
        long most = 0;
        for (int i = 0; i < 50; i++)
        {
            most = Math.Max(most, server.ProcessOutputBytes);
            await Task.Delay(20);
        }

        Assert.That(most, Is.LessThanOrEqualTo(bound));
        await session.Channel.CloseAsync().WaitAsync(ServerHarness.Timeout);
    }

    private static async Task<bool> ProcessGoneAsync(int pid)
    {
        using var deadline = new CancellationTokenSource(ServerHarness.Timeout);
        while (!deadline.IsCancellationRequested)
        {
            if (!Directory.Exists($"/proc/{pid}") || File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] == "Z")
            {
                return true;
            }

            await Task.Delay(20, CancellationToken.None);
        }

        return false;
    }

    private sealed class KeysOnlyHandler : SshServerHandler
    {
        public override ValueTask<SshAuthorizedKey?> AuthenticatePublicKeyAsync(SshAuthenticationContext context, SshPublicKey key, CancellationToken cancellationToken) =>
            ValueTask.FromResult<SshAuthorizedKey?>(key == Harness.UserKey(SshHostKeyType.Ed25519).PublicKey ? new SshAuthorizedKey(key) : null);
    }
}
