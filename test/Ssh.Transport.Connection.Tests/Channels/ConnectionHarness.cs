using System.IO.Pipelines;

namespace Ssh.Transport.Connection.Tests.Channels;

/// <summary>Client and server transports of ours joined by in-memory pipes, each with a connection layer running.</summary>
internal sealed class ConnectionHarness : IAsyncDisposable
{
    private static readonly Lazy<SshPrivateKey> s_hostKey = new(() => SshPrivateKey.Generate(SshHostKeyType.Ed25519));

    private ConnectionHarness(SshTransport client, SshTransport server, SshChannelOptions? clientChannels, SshChannelOptions? serverChannels)
    {
        ClientTransport = client;
        ServerTransport = server;
        Client = new SshConnection(client, clientChannels);
        Server = new SshConnection(server, serverChannels);
    }

    public SshTransport ClientTransport { get; }

    public SshTransport ServerTransport { get; }

    public SshConnection Client { get; }

    public SshConnection Server { get; }

    public Task? ClientLoop { get; private set; }

    public Task? ServerLoop { get; private set; }

    // pauseWriterThreshold 0: pipes that never push back; otherwise like a socket's buffer.
    public static async Task<ConnectionHarness> StartAsync(
        Action<SshTransportOptions>? configure = null, SshChannelOptions? clientChannels = null, SshChannelOptions? serverChannels = null, long pauseWriterThreshold = 256 * 1024, Action<ConnectionHarness>? beforeRun = null, bool runClient = true)
    {
        var pipeOptions = new PipeOptions(pauseWriterThreshold: pauseWriterThreshold, resumeWriterThreshold: pauseWriterThreshold / 2, useSynchronizationContext: false);
        var toServer = new Pipe(pipeOptions);
        var toClient = new Pipe(pipeOptions);
        var serverOptions = new SshServerOptions { HandshakeTimeout = TimeSpan.FromSeconds(30) };
        serverOptions.HostKeys.Add(s_hostKey.Value);
        var clientOptions = new SshClientOptions
        {
            HandshakeTimeout = TimeSpan.FromSeconds(30),
            HostKeyVerifier = (key, _) => ValueTask.FromResult(key == s_hostKey.Value.PublicKey),
        };
        configure?.Invoke(serverOptions);
        configure?.Invoke(clientOptions);
        Task<SshTransport> accepting = SshTransport.AcceptAsync(new Duplex(toServer.Reader, toClient.Writer), serverOptions);
        Task<SshTransport> connecting = SshTransport.ConnectAsync(new Duplex(toClient.Reader, toServer.Writer), clientOptions);
        await Task.WhenAll(accepting, connecting).WaitAsync(TimeSpan.FromSeconds(30));
        var harness = new ConnectionHarness(await connecting, await accepting, clientChannels, serverChannels);
        beforeRun?.Invoke(harness);
        // Without the client's loop, ClientTransport is a raw peer: the test writes and reads its messages itself.
        harness.ClientLoop = runClient ? harness.Client.RunAsync() : null;
        harness.ServerLoop = harness.Server.RunAsync();
        return harness;
    }

    /// <summary>The server accepts every channel and hands it to <paramref name="serve"/> on a task of its own.</summary>
    public static Action<ConnectionHarness> ServerAccepts(Func<SshChannel, Task> serve) => h => h.Server.ChannelOpenHandler = (request, cancellationToken) =>
    {
        SshChannel channel = request.Accept();
        _ = Task.Run(() => serve(channel), CancellationToken.None);
        return ValueTask.CompletedTask;
    };

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        await ClientTransport.DisposeAsync();
        await ServerTransport.DisposeAsync();
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
