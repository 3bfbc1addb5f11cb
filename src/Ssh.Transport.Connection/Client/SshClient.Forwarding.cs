using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Ssh.Transport.Connection;

/// <summary>TCP/IP forwarding (RFC 4254 §7): tunnels to hosts the server reaches, local and remote port forwarding.</summary>
public sealed partial class SshClient
{
    private static readonly TimeSpan s_cancelForwardTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _forwardLock = new();
    private readonly List<SshRemoteForward> _remoteForwards = [];
    private readonly List<TaskCompletionSource> _pendingForwardRequests = [];
    private readonly List<SshLocalForward> _localForwards = [];
    private readonly HashSet<Task> _background = [];

    /// <summary>
    /// Opens a tunnel to <paramref name="host"/>:<paramref name="port"/> as the server reaches it (a "direct-tcpip"
    /// channel, RFC 4254 §7.2; ssh -L without the listener): the channel's pipes carry the TCP connection's bytes.
    /// The originator reported to the server is 127.0.0.1 port 0.
    /// </summary>
    /// <param name="host">The host to connect to, as the server resolves it.</param>
    /// <param name="port">The port to connect to.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <returns>The open tunnel: read <see cref="SshChannel.Input"/>, write <see cref="SshChannel.Output"/> (complete it to half-close); dispose it to close.</returns>
    /// <exception cref="SshChannelOpenException">The server refused or could not connect (e.g. <see cref="SshChannelOpenFailureReason.ConnectFailed"/>).</exception>
    /// <exception cref="SshProtocolException">The connection failed or has ended.</exception>
    public Task<SshChannel> OpenTcpIpTunnelAsync(string host, int port, CancellationToken cancellationToken = default) =>
        OpenTcpIpTunnelAsync(host, port, null, cancellationToken);

    /// <summary>Opens a tunnel to <paramref name="host"/>:<paramref name="port"/>, naming where the connection came from; see <see cref="OpenTcpIpTunnelAsync(string, int, CancellationToken)"/>.</summary>
    /// <param name="host">The host to connect to, as the server resolves it.</param>
    /// <param name="port">The port to connect to.</param>
    /// <param name="originator">The local end of the connection being forwarded, reported to the server; null for 127.0.0.1 port 0.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <returns>The open tunnel.</returns>
    /// <exception cref="SshChannelOpenException">The server refused or could not connect.</exception>
    /// <exception cref="SshProtocolException">The connection failed or has ended.</exception>
    public async Task<SshChannel> OpenTcpIpTunnelAsync(string host, int port, IPEndPoint? originator, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        ThrowIfEnded();
        IPAddress address = originator?.Address ?? IPAddress.Loopback;
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var info = new SshTcpIpChannelInfo(host, port, address.ToString(), originator?.Port ?? 0);
        return await Connection.OpenChannelAsync(SshChannelTypes.DirectTcpIp, info, SessionWire.WriteTcpIpChannel, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Listens on a local endpoint and carries each connection to it through a tunnel to
    /// <paramref name="remoteHost"/>:<paramref name="remotePort"/> as the server reaches it, as ssh -L does.
    /// </summary>
    /// <param name="localEndPoint">Where to listen, e.g. 127.0.0.1 port 8080 (port 0: the system picks one; see <see cref="SshLocalForward.LocalEndPoint"/>).</param>
    /// <param name="remoteHost">The host the server connects to.</param>
    /// <param name="remotePort">The port the server connects to.</param>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <returns>The forward; dispose it to stop listening and close its connections.</returns>
    /// <exception cref="SocketException">The local endpoint cannot be listened on.</exception>
    /// <exception cref="SshProtocolException">The connection has ended.</exception>
    public Task<SshLocalForward> ForwardLocalPortAsync(IPEndPoint localEndPoint, string remoteHost, int remotePort, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(localEndPoint);
        ArgumentException.ThrowIfNullOrEmpty(remoteHost);
        ArgumentOutOfRangeException.ThrowIfLessThan(remotePort, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(remotePort, IPEndPoint.MaxPort);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfEnded();
        var listener = new TcpListener(localEndPoint);
        listener.Start();
        var forward = new SshLocalForward(this, listener, remoteHost, remotePort);
        lock (_forwardLock)
        {
            _localForwards.Add(forward);
        }

        forward.Start();
        return Task.FromResult(forward);
    }

    /// <summary>
    /// Asks the server to listen on <paramref name="bindAddress"/>:<paramref name="bindPort"/> ("tcpip-forward",
    /// RFC 4254 §7.1; ssh -R) and connects each connection it accepts to <paramref name="localHost"/>:<paramref name="localPort"/>
    /// here, carrying the bytes both ways.
    /// </summary>
    /// <param name="bindAddress">The address the server listens on: "localhost", "127.0.0.1", "" or "0.0.0.0" for all (servers may restrict it, as sshd's GatewayPorts).</param>
    /// <param name="bindPort">The port the server listens on; 0 to let it choose (see <see cref="SshRemoteForward.Port"/>).</param>
    /// <param name="localHost">The host to connect each forwarded connection to, from here.</param>
    /// <param name="localPort">The port to connect to.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The forward; dispose it to stop the server listening ("cancel-tcpip-forward").</returns>
    /// <exception cref="SshRequestFailedException">The server refused to listen there.</exception>
    /// <exception cref="SshProtocolException">The connection failed or has ended.</exception>
    public Task<SshRemoteForward> ForwardRemotePortAsync(string bindAddress, int bindPort, string localHost, int localPort, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(localHost);
        ArgumentOutOfRangeException.ThrowIfLessThan(localPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(localPort, IPEndPoint.MaxPort);
        return ForwardRemotePortAsync(bindAddress, bindPort, (channel, _, token) => ConnectLocalAsync(channel, localHost, localPort, token), cancellationToken);
    }

    /// <summary>
    /// Asks the server to listen on <paramref name="bindAddress"/>:<paramref name="bindPort"/> ("tcpip-forward",
    /// RFC 4254 §7.1) and hands each connection it accepts (a "forwarded-tcpip" channel) to <paramref name="handler"/>.
    /// Forwarded channels that match no forward of this client are refused.
    /// </summary>
    /// <param name="bindAddress">The address the server listens on.</param>
    /// <param name="bindPort">The port the server listens on; 0 to let it choose.</param>
    /// <param name="handler">
    /// Serves one forwarded connection: the channel (its pipes carry the connection's bytes), the addresses the
    /// server reports, and a token cancelled when the forward or the client is disposed. Runs on a task of its own;
    /// the channel is closed when the returned task completes.
    /// </param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The forward; dispose it to stop the server listening ("cancel-tcpip-forward").</returns>
    /// <exception cref="SshRequestFailedException">The server refused to listen there.</exception>
    /// <exception cref="SshProtocolException">The connection failed or has ended.</exception>
    public async Task<SshRemoteForward> ForwardRemotePortAsync(string bindAddress, int bindPort, Func<SshChannel, SshTcpIpChannelInfo, CancellationToken, Task> handler, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bindAddress);
        ArgumentOutOfRangeException.ThrowIfLessThan(bindPort, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bindPort, IPEndPoint.MaxPort);
        ArgumentNullException.ThrowIfNull(handler);
        ThrowIfEnded();

        // Channels for the new forward may arrive right after the reply, before this method resumes: while a request
        // is outstanding, unmatched forwarded channels wait for it to settle (see OnForwardedChannel).
        var settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_forwardLock)
        {
            _pendingForwardRequests.Add(settled);
        }

        try
        {
            byte[]? reply = await Connection.SendGlobalRequestAsync(SshGlobalRequestTypes.TcpIpForward, wantReply: true, (bindAddress, bindPort), SessionWire.WriteForward, cancellationToken).ConfigureAwait(false);
            if (reply is null)
            {
                throw new SshRequestFailedException(SshGlobalRequestTypes.TcpIpForward, $"The server refused to listen on {FormatEndPoint(bindAddress, bindPort)}.");
            }

            // RFC 4254 §7.1: with port 0 the reply holds the port the server chose.
            int port = bindPort == 0 ? SessionWire.ReadBoundPort(reply) : bindPort;
            var forward = new SshRemoteForward(this, bindAddress, port, handler);
            lock (_forwardLock)
            {
                _remoteForwards.Add(forward);
            }

            _logger.LogInformation("The server listens on {EndPoint} for us", FormatEndPoint(bindAddress, port));
            return forward;
        }
        catch (InvalidOperationException) when (!IsConnected)
        {
            throw EndedError();
        }
        finally
        {
            lock (_forwardLock)
            {
                _pendingForwardRequests.Remove(settled);
            }

            settled.TrySetResult();
        }
    }

    /// <summary>Stops a remote forward: no more channels for it, and the server is asked to stop listening.</summary>
    internal async ValueTask CancelRemoteForwardAsync(SshRemoteForward forward)
    {
        lock (_forwardLock)
        {
            if (!_remoteForwards.Remove(forward))
            {
                return;
            }
        }

        if (!IsConnected)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(s_cancelForwardTimeout, _time);
        try
        {
            byte[]? reply = await Connection.SendGlobalRequestAsync(SshGlobalRequestTypes.CancelTcpIpForward, wantReply: true, (forward.BindAddress, forward.Port), SessionWire.WriteForward, timeout.Token).ConfigureAwait(false);
            if (reply is null)
            {
                _logger.LogWarning("The server refused to stop listening on {EndPoint}", FormatEndPoint(forward.BindAddress, forward.Port));
            }
        }
        catch (Exception e) when (e is SshProtocolException or InvalidOperationException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection is going away, and the listener with it.
        }
    }

    internal void RemoveLocalForward(SshLocalForward forward)
    {
        lock (_forwardLock)
        {
            _localForwards.Remove(forward);
        }
    }

    /// <summary>Runs a forwarding task in the background, for <see cref="DisposeAsync"/> to wait for.</summary>
    internal void StartBackground(Func<Task> work)
    {
        Task task;
        lock (_forwardLock)
        {
            task = Task.Run(work);
            _background.Add(task);
        }

        _ = task.ContinueWith(
            static (t, s) =>
            {
                var client = (SshClient)s!;
                lock (client._forwardLock)
                {
                    client._background.Remove(t);
                }

                if (t.Exception is { } e)
                {
                    client._logger.LogWarning(e.InnerException, "A forwarded connection failed");
                }
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>Connects a forwarded channel to a local host and port; the channel is closed if that fails.</summary>
    internal async Task ConnectLocalAsync(SshChannel channel, string host, int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            _logger.LogWarning("Forwarded connection to {Host}:{Port} failed: {Error}", host, port, e.Message);
            socket.Dispose();
            await channel.DisposeAsync().ConfigureAwait(false);
            return;
        }

        await TcpForwarding.PumpAsync(socket, channel, _logger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The server opens channels only for forwards we asked for (and refuses to be opened otherwise: x11, agent).</summary>
    private ValueTask OnChannelOpenAsync(SshChannelOpenRequest request, CancellationToken cancellationToken)
    {
        if (request.Type != SshChannelTypes.ForwardedTcpIp)
        {
            request.Reject(SshChannelOpenFailureReason.UnknownChannelType, $"This client does not accept '{request.Type}' channels.");
            return ValueTask.CompletedTask;
        }

        SshTcpIpChannelInfo info = SessionWire.ReadTcpIpChannel(request.Data.Span);
        SshRemoteForward? forward;
        Task[] pending;
        lock (_forwardLock)
        {
            forward = FindRemoteForward(info);
            pending = forward is null ? [.. _pendingForwardRequests.Select(p => p.Task)] : [];
        }

        if (forward is null && pending.Length == 0)
        {
            _logger.LogWarning("Refused a forwarded connection to {EndPoint}, which this client did not ask for", FormatEndPoint(info.Host, info.Port));
            request.Reject(SshChannelOpenFailureReason.AdministrativelyProhibited, $"No forward of {FormatEndPoint(info.Host, info.Port)} was requested.");
            return ValueTask.CompletedTask;
        }

        SshChannel channel = request.Accept();
        StartBackground(() => ServeForwardedAsync(forward, pending, channel, info));
        return ValueTask.CompletedTask;
    }

    private async Task ServeForwardedAsync(SshRemoteForward? forward, Task[] pending, SshChannel channel, SshTcpIpChannelInfo info)
    {
        try
        {
            if (forward is null)
            {
                await Task.WhenAll(pending).ConfigureAwait(false);
                lock (_forwardLock)
                {
                    forward = FindRemoteForward(info);
                }

                if (forward is null)
                {
                    _logger.LogWarning("Closed a forwarded connection to {EndPoint}, which this client did not ask for", FormatEndPoint(info.Host, info.Port));
                    return;
                }
            }

            await forward.Handler(channel, info, forward.Stopping).ConfigureAwait(false);
        }
        finally
        {
            await channel.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The forward a forwarded-tcpip channel is for: by the port the server listens on, then by address when ports repeat.</summary>
    private SshRemoteForward? FindRemoteForward(SshTcpIpChannelInfo info)
    {
        SshRemoteForward? byPort = null;
        int count = 0;
        foreach (SshRemoteForward forward in _remoteForwards)
        {
            if (forward.Port != info.Port)
            {
                continue;
            }

            if (string.Equals(forward.BindAddress, info.Host, StringComparison.OrdinalIgnoreCase))
            {
                return forward;
            }

            byPort = forward;
            count++;
        }

        return count == 1 ? byPort : null;
    }

    private async Task StopForwardingAsync()
    {
        SshRemoteForward[] remote;
        SshLocalForward[] local;
        Task[] background;
        lock (_forwardLock)
        {
            remote = [.. _remoteForwards];
            local = [.. _localForwards];
            _remoteForwards.Clear();
            _localForwards.Clear();
        }

        foreach (SshRemoteForward forward in remote)
        {
            forward.Stop();
        }

        foreach (SshLocalForward forward in local)
        {
            await forward.DisposeAsync().ConfigureAwait(false);
        }

        lock (_forwardLock)
        {
            background = [.. _background];
        }

        // Each ends with its channel, which ends with the connection (or within its close timeout); failures are
        // logged where they end.
        await Task.WhenAny(Task.WhenAll(background), Task.Delay(TimeSpan.FromSeconds(10), _time)).ConfigureAwait(false);
    }

    private static string FormatEndPoint(string address, int port) => address.Contains(':', StringComparison.Ordinal) ? $"[{address}]:{port}" : $"{address}:{port}";
}
