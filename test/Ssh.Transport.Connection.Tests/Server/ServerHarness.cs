using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Server;

/// <summary>
/// Our server runner (<see cref="SshServer.RunAsync"/>) over in-memory pipes, and a client made from the raw API: our
/// transport, our client authentication, an <see cref="SshConnection"/> whose channels the tests drive by hand.
/// </summary>
internal sealed class ServerHarness : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    public static readonly IPEndPoint ClientEndPoint = new(IPAddress.Parse("192.0.2.7"), 50123);

    private ServerHarness(SshTransport client, SshTransport server, Task serving, SshConnection connection)
    {
        ClientTransport = client;
        ServerTransport = server;
        Serving = serving;
        Client = connection;
        ClientLoop = connection.RunAsync();
    }

    public SshTransport ClientTransport { get; }

    public SshTransport ServerTransport { get; }

    /// <summary>The runner: completes when the connection ends.</summary>
    public Task Serving { get; }

    public SshConnection Client { get; }

    public Task ClientLoop { get; }

    public static async Task<ServerHarness> StartAsync(SshServerHandler handler, SshServerSettings? settings = null, SshChannelOptions? clientChannels = null, Action<SshConnection>? beforeRun = null)
    {
        (SshTransport client, SshTransport server) = await Harness.ConnectAsync();
        Task serving = SshServer.RunAsync(server, handler, settings ?? new SshServerSettings(), ClientEndPoint);
        var auth = new SshClientAuthenticationOptions { UserName = "alice" };
        auth.PrivateKeys.Add(Harness.UserKey(SshHostKeyType.Ed25519));
        Task<SshAuthenticatedUser> authenticating = SshClientAuthentication.AuthenticateAsync(client, auth);
        await Task.WhenAny(authenticating, serving).WaitAsync(Timeout);
        if (serving.IsFaulted)
        {
            await serving;
        }

        await authenticating.WaitAsync(Timeout);
        var connection = new SshConnection(client, clientChannels);
        beforeRun?.Invoke(connection);
        return new ServerHarness(client, server, serving, connection);
    }

    public async Task<RawSession> OpenSessionAsync()
    {
        SshChannel channel = await Client.OpenChannelAsync(SshChannelTypes.Session).WaitAsync(Timeout);
        return new RawSession(channel);
    }

    public async ValueTask DisposeAsync()
    {
        await ClientTransport.DisconnectAsync(SshDisconnectReason.ByApplication, "test over", CancellationToken.None);
        await Client.DisposeAsync();
        try
        {
            await Serving.WaitAsync(Timeout);
        }
        catch (Exception e) when (e is SshProtocolException or TimeoutException or OperationCanceledException)
        {
            // Tests that end the connection look at Serving themselves.
        }

        await ClientTransport.DisposeAsync();
        await ServerTransport.DisposeAsync();
    }
}

/// <summary>A session channel as a client drives it: requests, and what comes back.</summary>
internal sealed class RawSession
{
    private readonly TaskCompletionSource<SshExitStatus> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public RawSession(SshChannel channel)
    {
        Channel = channel;
        channel.RequestHandler = (_, request, _) =>
        {
            switch (request.Type)
            {
                case SshChannelRequestTypes.ExitStatus:
                    _exit.TrySetResult(SessionWire.ReadExitStatus(request.Data.Span));
                    return ValueTask.FromResult(true);
                case SshChannelRequestTypes.ExitSignal:
                    _exit.TrySetResult(SessionWire.ReadExitSignal(request.Data.Span));
                    return ValueTask.FromResult(true);
                default:
                    return ValueTask.FromResult(false);
            }
        };
    }

    public SshChannel Channel { get; }

    public Task<SshExitStatus> Exit => _exit.Task;

    public Task<bool> ExecAsync(string command) =>
        Channel.SendRequestAsync(SshChannelRequestTypes.Exec, true, command, SessionWire.WriteText).WaitAsync(ServerHarness.Timeout);

    public Task<bool> ShellAsync() =>
        Channel.SendRequestAsync(SshChannelRequestTypes.Shell, true).WaitAsync(ServerHarness.Timeout);

    public Task<bool> SubsystemAsync(string name) =>
        Channel.SendRequestAsync(SshChannelRequestTypes.Subsystem, true, name, SessionWire.WriteText).WaitAsync(ServerHarness.Timeout);

    public Task<bool> EnvAsync(string name, string value) =>
        Channel.SendRequestAsync(SshChannelRequestTypes.Environment, true, (name, value), SessionWire.WriteEnvironment).WaitAsync(ServerHarness.Timeout);

    public Task<bool> PtyAsync(SshPseudoTerminal terminal) =>
        Channel.SendRequestAsync(SshChannelRequestTypes.PseudoTerminal, true, terminal, SessionWire.WritePseudoTerminal).WaitAsync(ServerHarness.Timeout);

    public Task<bool> WindowChangeAsync(SshTerminalSize size) =>
        Channel.SendRequestAsync(SshChannelRequestTypes.WindowChange, false, size, SessionWire.WriteSize).WaitAsync(ServerHarness.Timeout);

    public Task<bool> SignalAsync(string name) =>
        Channel.SendRequestAsync(SshChannelRequestTypes.Signal, false, name, SessionWire.WriteText).WaitAsync(ServerHarness.Timeout);

    /// <summary>Reads stdout and stderr to their ends, then the exit status and the channel's end (all bounded).</summary>
    public async Task<(string Out, string Err, SshExitStatus Status)> CollectAsync()
    {
        Task<byte[]> stdout = ReadAllAsync(Channel.Input);
        Task<byte[]> stderr = ReadAllAsync(Channel.ExtendedInput);
        byte[] output = await stdout.WaitAsync(ServerHarness.Timeout);
        byte[] error = await stderr.WaitAsync(ServerHarness.Timeout);
        SshExitStatus status = await Exit.WaitAsync(ServerHarness.Timeout);
        await Channel.Completion.WaitAsync(ServerHarness.Timeout);
        return (System.Text.Encoding.UTF8.GetString(output), System.Text.Encoding.UTF8.GetString(error), status);
    }

    public static async Task<byte[]> ReadAllAsync(PipeReader reader)
    {
        using var all = new MemoryStream();
        while (true)
        {
            ReadResult result = await reader.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                all.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return all.ToArray();
            }
        }
    }
}

/// <summary>
/// A handler for tests: accepts our test user's Ed25519 key (with an authorized_keys line's options when given), runs
/// sessions with <see cref="Session"/> or else as <c>/bin/sh -c Command</c>, allows forwardings as told.
/// </summary>
internal class TestHandler : SshServerHandler
{
    /// <summary>authorized_keys options for the test key, e.g. "no-pty" or "command=\"echo forced\"".</summary>
    public string? KeyOptions { get; init; }

    public Func<SshServerSession, CancellationToken, Task>? Session { get; init; }

    public Func<SshTcpIpChannelInfo, bool> AllowDirect { get; init; } = _ => true;

    public Func<string, int, bool> AllowForward { get; init; } = (_, _) => true;

    public TaskCompletionSource<SshServerSession> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override ValueTask<SshAuthorizedKey?> AuthenticatePublicKeyAsync(SshAuthenticationContext context, SshPublicKey key, CancellationToken cancellationToken)
    {
        if (key != Harness.UserKey(SshHostKeyType.Ed25519).PublicKey)
        {
            return ValueTask.FromResult<SshAuthorizedKey?>(null);
        }

        return ValueTask.FromResult<SshAuthorizedKey?>(KeyOptions is null ? new SshAuthorizedKey(key) : SshAuthorizedKey.Parse($"{KeyOptions} {key}"));
    }

    public override Task RunSessionAsync(SshServerSession session, CancellationToken cancellationToken)
    {
        Started.TrySetResult(session);
        return Session is not null ? Session(session, cancellationToken) : RunShellAsync(session, cancellationToken);
    }

    public override ValueTask<bool> AllowDirectTcpIpAsync(SshServerContext context, SshTcpIpChannelInfo target, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AllowDirect(target));

    public override ValueTask<bool> AllowTcpIpForwardAsync(SshServerContext context, string address, int port, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AllowForward(address, port));

    /// <summary>exec: /bin/sh -c COMMAND; shell: /bin/sh; subsystem sftp: OpenSSH's sftp-server.</summary>
    public static Task RunShellAsync(SshServerSession session, CancellationToken cancellationToken)
    {
        ProcessStartInfo start;
        if (session.Kind == SshSessionKind.Subsystem)
        {
            if (session.SubsystemName != "sftp" || !File.Exists("/usr/lib/openssh/sftp-server"))
            {
                return session.ExitAsync(1, cancellationToken);
            }

            start = new ProcessStartInfo("/usr/lib/openssh/sftp-server");
        }
        else
        {
            start = new ProcessStartInfo("/bin/sh");
            if (session.Command is { } command)
            {
                start.ArgumentList.Add("-c");
                start.ArgumentList.Add(command);
            }
        }

        return session.RunProcessAsync(start, cancellationToken);
    }
}
