using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Ssh.Transport.Connection;

/// <summary>
/// A local port whose connections are carried through tunnels to a host the server reaches (ssh -L), from
/// <see cref="SshClient.ForwardLocalPortAsync"/>. Disposing it stops listening and closes its connections.
/// </summary>
public sealed class SshLocalForward : IAsyncDisposable
{
    private readonly SshClient _client;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stopping = new();
    private Task _accepting = Task.CompletedTask;
    private int _disposed;

    internal SshLocalForward(SshClient client, TcpListener listener, string remoteHost, int remotePort)
    {
        _client = client;
        _listener = listener;
        RemoteHost = remoteHost;
        RemotePort = remotePort;
        LocalEndPoint = (IPEndPoint)listener.LocalEndpoint;
    }

    /// <summary>Where this forward listens (with the port the system chose, when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The host the server connects each connection to.</summary>
    public string RemoteHost { get; }

    /// <summary>The port the server connects each connection to.</summary>
    public int RemotePort { get; }

    /// <summary>Stops listening and closes the connections this forward carries.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _accepting.ConfigureAwait(false);
        _client.RemoveLocalForward(this);
    }

    /// <inheritdoc/>
    public override string ToString() => $"local forward {LocalEndPoint} -> {RemoteHost}:{RemotePort}";

    internal void Start() => _accepting = AcceptAsync();

    private async Task AcceptAsync()
    {
        CancellationToken token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                return;
            }

            socket.NoDelay = true;
            _client.StartBackground(() => ServeAsync(socket, token));
        }
    }

    private async Task ServeAsync(Socket socket, CancellationToken cancellationToken)
    {
        SshChannel channel;
        try
        {
            channel = await _client.OpenTcpIpTunnelAsync(RemoteHost, RemotePort, socket.RemoteEndPoint as IPEndPoint, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshChannelOpenException or SshProtocolException or OperationCanceledException or InvalidOperationException or ObjectDisposedException)
        {
            _client.Logger.LogWarning("Forwarding {Source} to {Host}:{Port} failed: {Error}", socket.RemoteEndPoint, RemoteHost, RemotePort, e.Message);
            socket.Dispose();
            return;
        }

        await TcpForwarding.PumpAsync(socket, channel, _client.Logger, cancellationToken).ConfigureAwait(false);
    }
}
