using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Ssh.Transport.Connection.Authentication;

namespace Ssh.Transport.Connection;

/// <summary>A TCP connection joined to a channel (direct-tcpip and forwarded-tcpip, RFC 4254 §7), for both roles.</summary>
internal static class TcpForwarding
{
    private const int ReceiveSize = 16 * 1024;

    /// <summary>Connects to a forwarding target within <paramref name="timeout"/>; null when it refuses, is unknown or too slow.</summary>
    public static async Task<Socket?> ConnectAsync(string host, int port, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            EndPoint target = IPAddress.TryParse(host, out IPAddress? address) ? new IPEndPoint(address, port) : new DnsEndPoint(host, port);
            await socket.ConnectAsync(target, linked.Token).ConfigureAwait(false);
            return socket;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ArgumentException or NotSupportedException)
        {
            socket.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
            return null;
        }
    }

    /// <summary>
    /// Copies both ways until both ends are done: the socket's end of stream is the channel's EOF, the channel's EOF
    /// shuts the socket's sending side. A reset, or the connection's end, stops both; the channel's end (the peer's
    /// CLOSE) stops reading the socket, while what the peer sent before it still goes out. Then the channel is closed.
    /// </summary>
    public static async Task PumpAsync(Socket socket, SshChannel channel, ILogger logger, CancellationToken connectionEnded)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(connectionEnded);
        using var stopReading = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        Task stopWhenClosed = channel.Completion.ContinueWith(
            static (_, state) => ((CancellationTokenSource)state!).Cancel(),
            stopReading,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        try
        {
            Task up = SocketToChannelAsync(socket, channel.Output, stop, stopReading.Token);
            Task down = ChannelToSocketAsync(channel.Input, socket, stop);
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        finally
        {
            socket.Dispose();
        }

        try
        {
            await channel.CloseAsync(connectionEnded).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SshProtocolException or InvalidOperationException or ObjectDisposedException)
        {
            logger.LogDebug("{Channel}: closed with the connection", channel);
        }

        await stopWhenClosed.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private static async Task SocketToChannelAsync(Socket socket, PipeWriter output, CancellationTokenSource fail, CancellationToken stopping)
    {
        try
        {
            while (true)
            {
                Memory<byte> memory = output.GetMemory(ReceiveSize);
                int received = await socket.ReceiveAsync(memory, SocketFlags.None, stopping).ConfigureAwait(false);
                if (received == 0)
                {
                    break;
                }

                output.Advance(received);
                FlushResult flushed = await output.FlushAsync(stopping).ConfigureAwait(false);
                if (flushed.IsCompleted)
                {
                    return;
                }
            }

            // The socket's end of stream: EOF on the channel once the data is out.
            await output.CompleteAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested && !fail.IsCancellationRequested)
        {
            // The channel ended: nothing more can go to the peer.
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            await fail.CancelAsync().ConfigureAwait(false);
        }
    }

    private static async Task ChannelToSocketAsync(PipeReader input, Socket socket, CancellationTokenSource fail)
    {
        try
        {
            while (true)
            {
                ReadResult result = await input.ReadAsync(fail.Token).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                try
                {
                    foreach (ReadOnlyMemory<byte> segment in buffer)
                    {
                        await socket.SendAsync(segment, SocketFlags.None, fail.Token).ConfigureAwait(false);
                    }
                }
                finally
                {
                    input.AdvanceTo(buffer.End);
                }

                if (result.IsCompleted)
                {
                    break;
                }
            }

            // The channel's EOF (or CLOSE): the target reads its end of stream.
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException or InvalidOperationException or SshProtocolException)
        {
            await fail.CancelAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>The listeners of one connection's "tcpip-forward" requests (ssh -R, RFC 4254 §7.1).</summary>
internal sealed class RemoteForwarding : IAsyncDisposable
{
    private readonly ServerConnection _owner;
    private readonly SshConnection _connection;
    private readonly Lock _lock = new();
    private readonly List<Forward> _forwards = [];

    public RemoteForwarding(ServerConnection owner, SshConnection connection)
    {
        _owner = owner;
        _connection = connection;
    }

    /// <summary>Listens as asked; the port bound (the one chosen, for port 0), or null when binding failed.</summary>
    public async Task<int?> StartAsync(string address, int port, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_forwards.Any(f => f.Matches(address, port)))
            {
                _owner.Logger.LogInformation("tcpip-forward {Address}:{Port}: already listening", address, port);
                return null;
            }
        }

        IPAddress[] addresses;
        try
        {
            addresses = await ResolveAsync(address, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            _owner.Logger.LogInformation("tcpip-forward {Address}:{Port}: {Error}", address, port, e.Message);
            return null;
        }

        var listeners = new List<Socket>();
        int bound = port;
        foreach (IPAddress listenAddress in addresses)
        {
            var listener = new Socket(listenAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (listenAddress.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    // Each family on its own socket, so "" and "localhost" can take the same port on both.
                    listener.DualMode = false;
                }

                listener.Bind(new IPEndPoint(listenAddress, bound));
                listener.Listen(128);
                bound = ((IPEndPoint)listener.LocalEndPoint!).Port;
                listeners.Add(listener);
            }
            catch (SocketException e)
            {
                listener.Dispose();

                // The first address decides; the others (IPv6 where the host has none, say) are best effort.
                if (listeners.Count == 0)
                {
                    _owner.Logger.LogInformation("tcpip-forward {Address}:{Port}: cannot listen on {ListenAddress}: {Error}", address, port, listenAddress, e.Message);
                    return null;
                }
            }
        }

        var forward = new Forward(address, port, bound, listeners);
        lock (_lock)
        {
            _forwards.Add(forward);
        }

        _owner.Logger.LogInformation("tcpip-forward {Address}:{Port} for {User}: listening on port {Bound}", address, port, _owner.Context.User.UserName, bound);
        foreach (Socket listener in listeners)
        {
            _owner.Track(AcceptAsync(forward, listener));
        }

        return bound;
    }

    /// <summary>Stops listening (connections already forwarded go on); false when there is no such forwarding.</summary>
    public ValueTask<bool> CancelAsync(string address, int port)
    {
        Forward? forward;
        lock (_lock)
        {
            forward = _forwards.FirstOrDefault(f => f.Matches(address, port));
            if (forward is null)
            {
                return ValueTask.FromResult(false);
            }

            _forwards.Remove(forward);
        }

        forward.Dispose();
        return ValueTask.FromResult(true);
    }

    public ValueTask DisposeAsync()
    {
        Forward[] forwards;
        lock (_lock)
        {
            forwards = [.. _forwards];
            _forwards.Clear();
        }

        foreach (Forward forward in forwards)
        {
            forward.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>RFC 4254 §7.1: "" all families, "0.0.0.0" all IPv4, "::" all IPv6, "localhost" the loopback addresses.</summary>
    private static async Task<IPAddress[]> ResolveAsync(string address, CancellationToken cancellationToken) => address switch
    {
        "" or "*" => Socket.OSSupportsIPv6 ? [IPAddress.Any, IPAddress.IPv6Any] : [IPAddress.Any],
        "0.0.0.0" => [IPAddress.Any],
        "::" => [IPAddress.IPv6Any],
        "localhost" => Socket.OSSupportsIPv6 ? [IPAddress.Loopback, IPAddress.IPv6Loopback] : [IPAddress.Loopback],
        _ when IPAddress.TryParse(address, out IPAddress? parsed) => [parsed],
        _ => await Dns.GetHostAddressesAsync(address, cancellationToken).ConfigureAwait(false),
    };

    private async Task AcceptAsync(Forward forward, Socket listener)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await listener.AcceptAsync(forward.Stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                return;
            }

            _owner.Track(ForwardAsync(forward, accepted));
        }
    }

    /// <summary>One accepted connection: a "forwarded-tcpip" channel to the client (RFC 4254 §7.2), then both ways.</summary>
    private async Task ForwardAsync(Forward forward, Socket accepted)
    {
        accepted.NoDelay = true;
        var originator = (IPEndPoint)accepted.RemoteEndPoint!;
        IPAddress originatorAddress = originator.Address.IsIPv4MappedToIPv6 ? originator.Address.MapToIPv4() : originator.Address;

        // The address as the client asked for it and the port bound: what the client matches its forwarding with.
        var info = new SshTcpIpChannelInfo(forward.Address, forward.BoundPort, originatorAddress.ToString(), originator.Port);
        SshChannel channel;
        try
        {
            channel = await _connection.OpenChannelAsync(SshChannelTypes.ForwardedTcpIp, info, SessionWire.WriteTcpIpChannel, _owner.Ended).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshChannelOpenException or InvalidOperationException or SshProtocolException or OperationCanceledException or ObjectDisposedException)
        {
            _owner.Logger.LogInformation("forwarded-tcpip {Address}:{Port} from {Originator}: {Error}", forward.Address, forward.BoundPort, originator, e.Message);
            accepted.Dispose();
            return;
        }

        await TcpForwarding.PumpAsync(accepted, channel, _owner.Logger, _owner.Ended).ConfigureAwait(false);
    }

    private sealed class Forward(string address, int requestedPort, int boundPort, List<Socket> listeners) : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();

        public string Address { get; } = address;

        public int BoundPort { get; } = boundPort;

        public CancellationToken Stopping => _stop.Token;

        /// <summary>A cancel names the forwarding by its address and the port asked for (or, for port 0, the one bound).</summary>
        public bool Matches(string address, int port) => address == Address && (port == requestedPort || port == BoundPort);

        public void Dispose()
        {
            _stop.Cancel();
            foreach (Socket listener in listeners)
            {
                listener.Dispose();
            }
        }
    }
}

/// <summary>authorized_keys <c>permitopen=</c> and <c>permitlisten=</c>, matched as sshd matches them.</summary>
internal static class ForwardingPermissions
{
    /// <summary>permitopen="host:port": the host literally (no patterns, "*" any), the port or "*".</summary>
    public static bool IsOpenPermitted(IReadOnlyList<string> permitted, string host, int port)
    {
        foreach (string entry in permitted)
        {
            (string allowedHost, string allowedPort) = Split(entry, "*");
            if (PortMatches(allowedPort, port) && (allowedHost == "*" || string.Equals(allowedHost, host, StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>permitlisten="[host:]port": the host a pattern (a bare port means any host), the port or "*".</summary>
    public static bool IsListenPermitted(IReadOnlyList<string> permitted, string address, int port)
    {
        foreach (string entry in permitted)
        {
            (string allowedHost, string allowedPort) = Split(entry, "*");
            if (PortMatches(allowedPort, port) && Wildcard.IsMatch(address.ToLowerInvariant(), allowedHost.ToLowerInvariant()))
            {
                return true;
            }
        }

        return false;
    }

    private static (string Host, string Port) Split(string entry, string defaultHost)
    {
        int colon = entry.LastIndexOf(':');
        if (colon < 0)
        {
            return (defaultHost, entry);
        }

        string host = entry[..colon];
        if (host.Length >= 2 && host[0] == '[' && host[^1] == ']')
        {
            host = host[1..^1];
        }

        return (host, entry[(colon + 1)..]);
    }

    private static bool PortMatches(string allowed, int port) =>
        allowed == "*" || (int.TryParse(allowed, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int number) && number == port);
}
