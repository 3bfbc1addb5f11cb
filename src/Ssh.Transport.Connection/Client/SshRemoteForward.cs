namespace Ssh.Transport.Connection;

/// <summary>
/// A port the server listens on for this client ("tcpip-forward", RFC 4254 §7.1; ssh -R), from
/// <see cref="SshClient.ForwardRemotePortAsync(string, int, string, int, CancellationToken)"/>. Disposing it asks the
/// server to stop listening ("cancel-tcpip-forward") and cancels the handlers' token; connections already forwarded
/// go on until they end.
/// </summary>
public sealed class SshRemoteForward : IAsyncDisposable
{
    private readonly SshClient _client;
    private readonly CancellationTokenSource _stopping = new();

    internal SshRemoteForward(SshClient client, string bindAddress, int port, Func<SshChannel, SshTcpIpChannelInfo, CancellationToken, Task> handler)
    {
        _client = client;
        BindAddress = bindAddress;
        Port = port;
        Handler = handler;
        Stopping = _stopping.Token;
    }

    /// <summary>The address the server listens on, as requested.</summary>
    public string BindAddress { get; }

    /// <summary>The port the server listens on: the one requested, or the one it chose when 0 was requested.</summary>
    public int Port { get; }

    internal Func<SshChannel, SshTcpIpChannelInfo, CancellationToken, Task> Handler { get; }

    internal CancellationToken Stopping { get; }

    /// <summary>Asks the server to stop listening (waiting at most ten seconds for its answer).</summary>
    public async ValueTask DisposeAsync()
    {
        Stop();
        await _client.CancelRemoteForwardAsync(this).ConfigureAwait(false);
    }

    internal void Stop()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"remote forward {BindAddress}:{Port}";
}
