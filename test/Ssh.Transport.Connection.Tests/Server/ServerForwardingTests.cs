using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Server;

/// <summary>
/// Forwarding through our server runner, driven by the raw client API: direct-tcpip (ssh -L) to a TCP echo server on
/// 127.0.0.1, tcpip-forward (ssh -R) with the port the server chose, cancel, and the authorized_keys restrictions.
/// </summary>
[CancelAfter(120_000)]
public class ServerForwardingTests
{
    private static Task<SshChannel> OpenDirectAsync(ServerHarness h, int port, string host = "127.0.0.1") =>
        h.Client.OpenChannelAsync(SshChannelTypes.DirectTcpIp, new SshTcpIpChannelInfo(host, port, "127.0.0.1", 40000), SessionWire.WriteTcpIpChannel).WaitAsync(ServerHarness.Timeout);

    private static async Task<byte[]> RoundTripAsync(SshChannel channel, byte[] data)
    {
        Task<byte[]> reading = RawSession.ReadAllAsync(channel.Input);
        for (int offset = 0; offset < data.Length; offset += 10_000)
        {
            await channel.Output.WriteAsync(data.AsMemory(offset, Math.Min(10_000, data.Length - offset)));
        }

        await channel.Output.CompleteAsync();
        return await reading.WaitAsync(ServerHarness.Timeout);
    }

    [Test]
    public async Task DirectTcpIp_ToEchoServer_ByteIdentical_ThenClosed()
    {
        await using var echo = EchoServer.Start();
        SshTcpIpChannelInfo? asked = null;
        var handler = new TestHandler { AllowDirect = target => (asked = target) is not null };
        await using ServerHarness h = await ServerHarness.StartAsync(handler);
        SshChannel channel = await OpenDirectAsync(h, echo.Port);
        byte[] data = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        byte[] back = await RoundTripAsync(channel, data);
        Assert.That(back, Is.EqualTo(data));
        await channel.Completion.WaitAsync(ServerHarness.Timeout);
        Assert.That(asked, Is.EqualTo(new SshTcpIpChannelInfo("127.0.0.1", echo.Port, "127.0.0.1", 40000)));
    }

    [Test]
    public async Task DirectTcpIp_TargetRefuses_ConnectFailed()
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler());
        var e = Assert.ThrowsAsync<SshChannelOpenException>(() => OpenDirectAsync(h, Peers.FreePort()));
        Assert.That(e!.Reason, Is.EqualTo(SshChannelOpenFailureReason.ConnectFailed));
    }

    [Test]
    public async Task DirectTcpIp_HandlerDenies_AdministrativelyProhibited()
    {
        await using var echo = EchoServer.Start();
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler { AllowDirect = _ => false });
        var e = Assert.ThrowsAsync<SshChannelOpenException>(() => OpenDirectAsync(h, echo.Port));
        Assert.That(e!.Reason, Is.EqualTo(SshChannelOpenFailureReason.AdministrativelyProhibited));
    }

    [Test]
    public async Task DirectTcpIp_SlowDecision_DoesNotHoldOtherChannels()
    {
        await using var echo = EchoServer.Start();
        var decide = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using ServerHarness h = await ServerHarness.StartAsync(new SlowForwardHandler(decide.Task));
        Task<SshChannel> opening = OpenDirectAsync(h, echo.Port);

        // While the handler decides, a session opens and runs.
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync("exit 5"), Is.True);
        Assert.That((await session.CollectAsync()).Status.ExitCode, Is.EqualTo(5));
        Assert.That(opening.IsCompleted, Is.False);
        decide.SetResult(true);
        SshChannel channel = await opening;
        Assert.That(await RoundTripAsync(channel, [1, 2, 3]), Is.EqualTo(new byte[] { 1, 2, 3 }));
    }

    [Test]
    public async Task PermitOpen_OnlyThatDestination()
    {
        await using var allowed = EchoServer.Start();
        await using var other = EchoServer.Start();
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler { KeyOptions = $"permitopen=\"127.0.0.1:{allowed.Port}\"" });
        SshChannel channel = await OpenDirectAsync(h, allowed.Port);
        Assert.That(await RoundTripAsync(channel, [7]), Is.EqualTo(new byte[] { 7 }));
        var e = Assert.ThrowsAsync<SshChannelOpenException>(() => OpenDirectAsync(h, other.Port));
        Assert.That(e!.Reason, Is.EqualTo(SshChannelOpenFailureReason.AdministrativelyProhibited));
    }

    [TestCase("no-port-forwarding")]
    [TestCase("restrict")]
    public async Task NoPortForwarding_DirectAndRemoteRefused(string options)
    {
        await using var echo = EchoServer.Start();
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler { KeyOptions = options });
        var e = Assert.ThrowsAsync<SshChannelOpenException>(() => OpenDirectAsync(h, echo.Port));
        Assert.That(e!.Reason, Is.EqualTo(SshChannelOpenFailureReason.AdministrativelyProhibited));
        Assert.That(await ForwardAsync(h, "127.0.0.1", 0), Is.Null);
    }

    private static Task<byte[]?> ForwardAsync(ServerHarness h, string address, int port, string request = SshGlobalRequestTypes.TcpIpForward) =>
        h.Client.SendGlobalRequestAsync(request, true, (address, port), SessionWire.WriteForward).WaitAsync(ServerHarness.Timeout);

    /// <summary>The client's side of ssh -R: forwarded-tcpip channels accepted and echoed.</summary>
    private static Action<SshConnection> EchoForwarded(List<SshTcpIpChannelInfo> opened) => connection => connection.ChannelOpenHandler = (request, cancellationToken) =>
    {
        if (request.Type != SshChannelTypes.ForwardedTcpIp)
        {
            return ValueTask.CompletedTask;
        }

        lock (opened)
        {
            opened.Add(SessionWire.ReadTcpIpChannel(request.Data.Span));
        }

        SshChannel channel = request.Accept();
        _ = Task.Run(async () =>
        {
            byte[] data = await RawSession.ReadAllAsync(channel.Input);
            await channel.Output.WriteAsync(data);
            await channel.CloseAsync();
        }, CancellationToken.None);
        return ValueTask.CompletedTask;
    };

    private static async Task<byte[]> ThroughAsync(IPAddress address, int port, byte[] data)
    {
        using var client = new TcpClient(address.AddressFamily);
        await client.ConnectAsync(address, port).WaitAsync(ServerHarness.Timeout);
        NetworkStream stream = client.GetStream();
        Task<byte[]> reading = Task.Run(async () =>
        {
            using var all = new MemoryStream();
            await stream.CopyToAsync(all);
            return all.ToArray();
        });
        await stream.WriteAsync(data);
        client.Client.Shutdown(SocketShutdown.Send);
        return await reading.WaitAsync(ServerHarness.Timeout);
    }

    [Test]
    public async Task TcpIpForward_PortZero_ServerChooses_ConnectionsComeAsForwardedChannels_CancelStops()
    {
        var opened = new List<SshTcpIpChannelInfo>();
        string? askedAddress = null;
        var handler = new TestHandler { AllowForward = (address, _) => (askedAddress = address) is not null };
        await using ServerHarness h = await ServerHarness.StartAsync(handler, beforeRun: EchoForwarded(opened));
        byte[]? answer = await ForwardAsync(h, "127.0.0.1", 0);
        Assert.That(answer, Is.Not.Null);
        int port = SessionWire.ReadBoundPort(answer);
        Assert.That(port, Is.GreaterThan(0));

        byte[] data = RandomNumberGenerator.GetBytes(2 * 1024 * 1024);
        Assert.That(await ThroughAsync(IPAddress.Loopback, port, data), Is.EqualTo(data));
        Assert.That(await ThroughAsync(IPAddress.Loopback, port, [42]), Is.EqualTo(new byte[] { 42 }));
        lock (opened)
        {
            Assert.That(opened, Has.Count.EqualTo(2));
            Assert.That((opened[0].Host, opened[0].Port, opened[0].OriginatorAddress), Is.EqualTo(("127.0.0.1", port, "127.0.0.1")));
        }

        Assert.That(await ForwardAsync(h, "127.0.0.1", port), Is.Null, "already listening");
        Assert.That(await ForwardAsync(h, "127.0.0.1", port, SshGlobalRequestTypes.CancelTcpIpForward), Is.Empty);
        Assert.That(await ForwardAsync(h, "127.0.0.1", port, SshGlobalRequestTypes.CancelTcpIpForward), Is.Null, "no longer there");
        Assert.ThrowsAsync<SocketException>(() => ThroughAsync(IPAddress.Loopback, port, [1]));
    }

    [Test]
    public async Task TcpIpForward_FixedPort_SuccessWithoutData_ListenersClosedAtTheEnd()
    {
        int port = Peers.FreePort();
        var opened = new List<SshTcpIpChannelInfo>();
        ServerHarness h = await ServerHarness.StartAsync(new TestHandler(), beforeRun: EchoForwarded(opened));
        Assert.That(await ForwardAsync(h, "localhost", port), Is.Empty);
        Assert.That(await ThroughAsync(IPAddress.Loopback, port, [5]), Is.EqualTo(new byte[] { 5 }));
        if (Socket.OSSupportsIPv6 && HasIPv6Loopback())
        {
            Assert.That(await ThroughAsync(IPAddress.IPv6Loopback, port, [6]), Is.EqualTo(new byte[] { 6 }), "localhost is ::1 too");
        }

        await h.DisposeAsync();
        Assert.ThrowsAsync<SocketException>(() => ThroughAsync(IPAddress.Loopback, port, [1]));
    }

    [Test]
    public async Task TcpIpForward_HandlerDenies_Failure()
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler { AllowForward = (_, _) => false });
        Assert.That(await ForwardAsync(h, "127.0.0.1", 0), Is.Null);
    }

    [Test]
    public async Task PermitListen_OnlyThatAddress()
    {
        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler { KeyOptions = "permitlisten=\"127.0.0.1:*\"" });
        Assert.That(await ForwardAsync(h, "127.0.0.1", 0), Is.Not.Null);
        Assert.That(await ForwardAsync(h, "0.0.0.0", 0), Is.Null);
    }

    [TestCase(new[] { "127.0.0.1:22" }, "127.0.0.1", 22, true)]
    [TestCase(new[] { "127.0.0.1:22" }, "127.0.0.1", 23, false)]
    [TestCase(new[] { "127.0.0.1:*" }, "127.0.0.1", 23, true)]
    [TestCase(new[] { "*:80" }, "example.com", 80, true)]
    [TestCase(new[] { "[::1]:80" }, "::1", 80, true)]
    [TestCase(new[] { "Host.Example:80" }, "host.example", 80, true)]
    [TestCase(new[] { "a:1", "b:2" }, "b", 2, true)]
    public void PermitOpen_Matches(string[] permitted, string host, int port, bool expected) =>
        Assert.That(ForwardingPermissions.IsOpenPermitted(permitted, host, port), Is.EqualTo(expected));

    [TestCase(new[] { "8080" }, "localhost", 8080, true)]
    [TestCase(new[] { "8080" }, "0.0.0.0", 8081, false)]
    [TestCase(new[] { "localhost:*" }, "localhost", 0, true)]
    [TestCase(new[] { "localhost:*" }, "127.0.0.1", 1, false)]
    [TestCase(new[] { "*.example:443" }, "www.example", 443, true)]
    public void PermitListen_Matches(string[] permitted, string address, int port, bool expected) =>
        Assert.That(ForwardingPermissions.IsListenPermitted(permitted, address, port), Is.EqualTo(expected));

    private static bool HasIPv6Loopback()
    {
        try
        {
            using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private sealed class SlowForwardHandler(Task<bool> decision) : TestHandler
    {
        public override async ValueTask<bool> AllowDirectTcpIpAsync(SshServerContext context, SshTcpIpChannelInfo target, CancellationToken cancellationToken) =>
            await decision.WaitAsync(cancellationToken);
    }
}

/// <summary>A TCP echo server on 127.0.0.1: each connection gets back what it sent, then the end of stream.</summary>
internal sealed class EchoServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private EchoServer()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static EchoServer Start() => new();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket = await _listener.AcceptSocketAsync(_stop.Token);
            _ = Task.Run(async () =>
            {
                using (socket)
                {
                    byte[] buffer = new byte[65536];
                    while (true)
                    {
                        int read = await socket.ReceiveAsync(buffer, SocketFlags.None);
                        if (read == 0)
                        {
                            break;
                        }

                        await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                    }

                    socket.Shutdown(SocketShutdown.Send);
                }
            });
        }
    }
}
