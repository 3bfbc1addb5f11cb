using System.Diagnostics;
using System.Net;
using System.Text;
using Ssh.Transport.Tests.Infrastructure;
using static Ssh.Transport.Tests.Session.SessionHarness;

namespace Ssh.Transport.Tests.Diagnostics;

/// <summary>
/// The "Ssh.Transport" meter and activity source over client and server transports joined in memory. Every test
/// gives its connection a server endpoint of its own and reads only the measurements and spans that carry it.
/// </summary>
[NonParallelizable] // ssh.io.* are process-wide totals, with no tag a test could filter by.
[CancelAfter(60_000)]
public class TelemetryTests
{
    private static readonly IPEndPoint s_clientEnd = new(IPAddress.Parse("192.0.2.7"), 50022);

    private static async Task<(SshTransport Client, SshTransport Server)> ConnectAsync(DnsEndPoint server, SshClientOptions? clientOptions = null, SshServerOptions? serverOptions = null)
    {
        var pipes = new PipePair();
        Task<SshTransport> accepting = SshTransport.AcceptAsync(pipes.Server, serverOptions ?? ServerOptions(), server, s_clientEnd);
        Task<SshTransport> connecting = SshTransport.ConnectAsync(pipes.Client, clientOptions ?? ClientOptions(), s_clientEnd, server);
        await WhenBothOrFirstFailure(accepting, connecting);
        return (await connecting, await accepting);
    }

    private static async Task CloseAsync(SshTransport client, SshTransport server)
    {
        await client.DisconnectAsync(SshDisconnectReason.ByApplication, "bye");
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        await server.DisposeAsync();
    }

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.That(deadline.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), what);
            await Task.Delay(10);
        }
    }

    [Test]
    public async Task Handshake_RecordsDurationWithAlgorithms_AndActiveCountersGoUpAndBackDown()
    {
        using var telemetry = new TelemetryCapture();
        DnsEndPoint endPoint = TelemetryCapture.UniqueServer();
        string host = endPoint.Host;
        (SshTransport client, SshTransport server) = await ConnectAsync(endPoint);
        Assert.That(client.RemoteEndPoint, Is.EqualTo(endPoint));
        Assert.That(server.RemoteEndPoint, Is.EqualTo(s_clientEnd));

        IReadOnlyList<CapturedMeasurement> durations = telemetry.Measurements("ssh.handshake.duration", host);
        Assert.That(durations.Select(m => m["ssh.role"]), Is.EquivalentTo(new[] { "client", "server" }));
        foreach (CapturedMeasurement m in durations)
        {
            Assert.That(m.Value, Is.GreaterThan(0).And.LessThan(30), m.ToString());
            Assert.That(m["ssh.kex"], Is.EqualTo(client.Algorithms.KeyExchange), m.ToString());
            Assert.That(m["ssh.host_key"], Is.EqualTo(client.Algorithms.HostKey), m.ToString());
            Assert.That(m["ssh.cipher"], Is.EqualTo(client.Algorithms.CipherClientToServer), m.ToString());
            Assert.That(m["server.port"], Is.EqualTo(22), m.ToString());
            Assert.That(m.Tags.ContainsKey("error.type"), Is.False, m.ToString());
            Assert.That(m.Tags.ContainsKey("client.address"), Is.False, "a client's address is no metric tag");
        }

        foreach (string role in new[] { "client", "server" })
        {
            Assert.That(telemetry.Measurements("ssh.handshakes.active", host).Count(m => Equals(m["ssh.role"], role) && m.Value == 1), Is.EqualTo(1), $"{role}: one handshake went up");
            Assert.That(telemetry.Sum("ssh.handshakes.active", host, role), Is.Zero, $"{role}: and back down");
            Assert.That(telemetry.Sum("ssh.connections.active", host, role), Is.EqualTo(1), $"{role}: one active connection");
        }

        await CloseAsync(client, server);
        foreach (string role in new[] { "client", "server" })
        {
            Assert.That(telemetry.Sum("ssh.connections.active", host, role), Is.Zero, $"{role}: no active connection after the close");
        }

        // One each, as Completion tells it. (The client's is normally by_application/local; a cold first run has seen
        // its receive loop report the server's close, connection_lost/remote, before DisconnectAsync recorded its own.)
        IReadOnlyList<CapturedMeasurement> disconnects = telemetry.Measurements("ssh.disconnects", host);
        SshConnectionClosedEventArgs clientEnd = await client.Completion;
        TestContext.Out.WriteLine($"client {clientEnd}");
        Assert.That(
            disconnects.Select(m => (m["ssh.role"], m["ssh.disconnect.reason"], m["ssh.disconnect.initiator"], m.Value)),
            Is.EquivalentTo(new[]
            {
                ((object?)"client", (object?)(clientEnd.Reason == SshDisconnectReason.ByApplication ? "by_application" : "connection_lost"), (object?)(clientEnd.ClosedBy == SshInitiator.Local ? "local" : "remote"), 1.0),
                ("server", "by_application", "remote", 1.0),
            }));

        IReadOnlyList<Activity> spans = telemetry.Activities("ssh.handshake", host);
        Assert.That(spans.Select(a => a.Kind), Is.EquivalentTo(new[] { ActivityKind.Client, ActivityKind.Server }));
        foreach (Activity span in spans)
        {
            Assert.That(span.Status, Is.EqualTo(ActivityStatusCode.Unset));
            Assert.That(span.GetTagItem("network.protocol.name"), Is.EqualTo("ssh"));
            Assert.That(span.GetTagItem("ssh.kex"), Is.EqualTo(client.Algorithms.KeyExchange));
            Assert.That(span.GetTagItem("server.port"), Is.EqualTo(22));
        }

        Activity serverSpan = spans.Single(a => a.Kind == ActivityKind.Server);
        Assert.That((serverSpan.GetTagItem("client.address"), serverSpan.GetTagItem("client.port")), Is.EqualTo(((object)"192.0.2.7", (object)50022)));
        Assert.That(serverSpan.GetTagItem("ssh.role"), Is.EqualTo("server"));
    }

    [Test]
    public async Task Handshake_NoCommonCipher_RecordsErrorType_AndNoActiveConnection()
    {
        using var telemetry = new TelemetryCapture();
        DnsEndPoint endPoint = TelemetryCapture.UniqueServer();
        string host = endPoint.Host;
        SshClientOptions clientOptions = ClientOptions();
        SshServerOptions serverOptions = ServerOptions();
        clientOptions.Ciphers.Clear();
        clientOptions.Ciphers.Add("aes128-ctr");
        serverOptions.Ciphers.Clear();
        serverOptions.Ciphers.Add("aes256-gcm@openssh.com");
        var pipes = new PipePair();
        Task<SshTransport> accepting = SshTransport.AcceptAsync(pipes.Server, serverOptions, endPoint, s_clientEnd);
        Task<SshTransport> connecting = SshTransport.ConnectAsync(pipes.Client, clientOptions, s_clientEnd, endPoint);
        Assert.ThrowsAsync<SshAlgorithmNegotiationException>(() => connecting);
        Assert.CatchAsync<SshProtocolException>(() => accepting);

        IReadOnlyList<CapturedMeasurement> durations = telemetry.Measurements("ssh.handshake.duration", host);
        Assert.That(durations, Has.Count.EqualTo(2));
        CapturedMeasurement ours = durations.Single(m => Equals(m["ssh.role"], "client"));
        Assert.That(ours["error.type"], Is.EqualTo(typeof(SshAlgorithmNegotiationException).FullName));
        Assert.That(ours["ssh.disconnect.reason"], Is.EqualTo("key_exchange_failed"));
        Assert.That(ours.Tags.ContainsKey("ssh.kex"), Is.False, "no algorithms for a failed handshake");
        Assert.That(durations.Single(m => Equals(m["ssh.role"], "server"))["error.type"], Is.Not.Null);

        foreach (string role in new[] { "client", "server" })
        {
            Assert.That(telemetry.Sum("ssh.handshakes.active", host, role), Is.Zero, $"{role}: the handshake is over");
        }

        Assert.That(telemetry.Measurements("ssh.connections.active", host), Is.Empty, "a failed handshake never makes a connection active");
        Assert.That(
            telemetry.Measurements("ssh.disconnects", host).Where(m => Equals(m["ssh.role"], "client")).Select(m => (m["ssh.disconnect.reason"], m["ssh.disconnect.initiator"])),
            Is.EqualTo(new[] { ((object?)"key_exchange_failed", (object?)"local") }));

        Activity span = telemetry.Activities("ssh.handshake", host).Single(a => a.Kind == ActivityKind.Client);
        Assert.That(span.Status, Is.EqualTo(ActivityStatusCode.Error));
        Assert.That(span.StatusDescription, Does.Contain("cipher"));
        Assert.That(span.GetTagItem("error.type"), Is.EqualTo(typeof(SshAlgorithmNegotiationException).FullName));
        Assert.That(span.Events.Select(e => e.Name), Does.Contain("exception"));
    }

    [Test]
    public async Task Rekey_RecordsKeyExchanges_AndASpanOfItsOwnLinkedToTheHandshake()
    {
        using var telemetry = new TelemetryCapture();
        DnsEndPoint endPoint = TelemetryCapture.UniqueServer();
        string host = endPoint.Host;
        (SshTransport client, SshTransport server) = await ConnectAsync(endPoint);
        await client.RekeyAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await WaitUntil(() => telemetry.Measurements("ssh.key_exchanges", host).Count == 4 && telemetry.Activities("ssh.key_exchange", host).Count == 2, "both sides recorded both exchanges");

        IReadOnlyList<CapturedMeasurement> exchanges = telemetry.Measurements("ssh.key_exchanges", host);
        Assert.That(
            exchanges.Select(m => (m["ssh.role"], m["ssh.key_exchange.initiator"])),
            Is.EquivalentTo(new[] { ((object?)"client", (object?)"local"), ("client", "local"), ("server", "local"), ("server", "remote") }),
            "the handshake's exchange, started by each side for itself; then the client's rekey");
        Assert.That(exchanges.Select(m => m["ssh.kex"]), Has.All.EqualTo(client.Algorithms.KeyExchange));

        IReadOnlyList<Activity> handshakes = telemetry.Activities("ssh.handshake", host);
        foreach (Activity span in telemetry.Activities("ssh.key_exchange", host))
        {
            bool isClient = Equals(span.GetTagItem("ssh.role"), "client");
            Assert.That(span.GetTagItem("ssh.key_exchange.number"), Is.EqualTo(2));
            Assert.That(span.GetTagItem("ssh.key_exchange.initiator"), Is.EqualTo(isClient ? "local" : "remote"));
            Assert.That(span.GetTagItem("ssh.kex"), Is.EqualTo(client.Algorithms.KeyExchange));
            Assert.That(span.GetTagItem("ssh.cipher"), Is.EqualTo(client.Algorithms.CipherClientToServer));
            Assert.That(span.Status, Is.EqualTo(ActivityStatusCode.Unset));
            Assert.That(span.ParentSpanId, Is.EqualTo(default(ActivitySpanId)), "a root: not a child of the handshake, nor of whatever was current");
            Activity handshake = handshakes.Single(a => Equals(a.GetTagItem("ssh.role"), span.GetTagItem("ssh.role")));
            Assert.That(span.Links.Select(l => l.Context.SpanId), Is.EqualTo(new[] { handshake.SpanId }));
        }

        await CloseAsync(client, server);
    }

    [Test]
    public async Task Traffic_MatchesTheTransportsOwnCounters_LiveAndAfterTheyClose()
    {
        using var telemetry = new TelemetryCapture();
        Dictionary<(string, string), long> bytesBefore = telemetry.ObserveTraffic("ssh.io.bytes");
        Dictionary<(string, string), long> packetsBefore = telemetry.ObserveTraffic("ssh.io.packets");
        (SshTransport client, SshTransport server) = await ConnectAsync(TelemetryCapture.UniqueServer());
        for (int i = 0; i < 10; i++)
        {
            await WriteNumberedAsync(client, i, 100 + (i * 50));
            await WriteNumberedAsync(server, i, 2000);
            CheckNumbered(await server.ReadMessageAsync());
            CheckNumbered(await client.ReadMessageAsync());
        }

        await client.RekeyAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await WaitUntil(() => server.KeyExchangeCount == 2 && !server.IsKeyExchangeInProgress, "the server finished the rekey");

        void AssertTotals(string what)
        {
            Dictionary<(string, string), long> bytes = telemetry.ObserveTraffic("ssh.io.bytes");
            Dictionary<(string, string), long> packets = telemetry.ObserveTraffic("ssh.io.packets");
            long Delta(Dictionary<(string, string), long> now, Dictionary<(string, string), long> before, string role, string direction) =>
                now.GetValueOrDefault((role, direction)) - before.GetValueOrDefault((role, direction));

            Assert.Multiple(() =>
            {
                Assert.That(Delta(bytes, bytesBefore, "client", "receive"), Is.EqualTo(client.BytesRead), $"{what}: client bytes received");
                Assert.That(Delta(bytes, bytesBefore, "client", "transmit"), Is.EqualTo(client.BytesWritten), $"{what}: client bytes sent");
                Assert.That(Delta(bytes, bytesBefore, "server", "receive"), Is.EqualTo(server.BytesRead), $"{what}: server bytes received");
                Assert.That(Delta(bytes, bytesBefore, "server", "transmit"), Is.EqualTo(server.BytesWritten), $"{what}: server bytes sent");
                Assert.That(Delta(packets, packetsBefore, "client", "receive"), Is.EqualTo(client.PacketsRead), $"{what}: client packets received");
                Assert.That(Delta(packets, packetsBefore, "client", "transmit"), Is.EqualTo(client.PacketsWritten), $"{what}: client packets sent");
                Assert.That(Delta(packets, packetsBefore, "server", "receive"), Is.EqualTo(server.PacketsRead), $"{what}: server packets received");
                Assert.That(Delta(packets, packetsBefore, "server", "transmit"), Is.EqualTo(server.PacketsWritten), $"{what}: server packets sent");
            });
        }

        // Nothing in flight: the live connection's counters, read at the collection.
        AssertTotals("live");
        await CloseAsync(client, server);
        await client.DisposeAsync();
        Assert.That(client.BytesWritten, Is.GreaterThan(10 * 100));
        AssertTotals("after the close");
    }

    [TestCase("closes before identifying", "")]
    [TestCase("speaks HTTP", "GET / HTTP/1.1\r\nHost: example\r\n\r\n")]
    [TestCase("closes after identifying", "SSH-2.0-Scanner_1.0\r\n")]
    public async Task Handshake_PeerThatDrops_IsDebugWithTheException_NeverAWarning(string scanner, string sends)
    {
        using var telemetry = new TelemetryCapture();
        DnsEndPoint endPoint = TelemetryCapture.UniqueServer();
        var factory = new CapturingLoggerFactory();
        SshServerOptions options = ServerOptions();
        options.LoggerFactory = factory;
        var pipes = new PipePair();
        Task<SshTransport> accepting = SshTransport.AcceptAsync(pipes.Server, options, endPoint, s_clientEnd);
        await pipes.Client.Output.WriteAsync(Encoding.ASCII.GetBytes(sends));
        await pipes.Client.Output.CompleteAsync();
        SshProtocolException? error = Assert.CatchAsync<SshProtocolException>(() => accepting);
        TestContext.Out.WriteLine($"{scanner}: {error!.GetType().Name} {error.Reason}: {error.Message}");

        IReadOnlyList<CapturedLogEntry> entries = factory.Entries;
        Assert.That(entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning), Is.Empty, string.Join("\n", entries));
        CapturedLogEntry failed = entries.Single(e => e.EventId.Id == 31);
        Assert.That((failed.Category, failed.Level), Is.EqualTo(("Ssh.Transport.Connection", Microsoft.Extensions.Logging.LogLevel.Debug)));
        Assert.That(failed.Exception, Is.SameAs(error));
        Assert.That(failed.Message, Does.Contain(error.GetType().FullName));
        Assert.That((failed.ScopeValue("SshRole"), failed.ScopeValue("SshRemoteEndPoint")), Is.EqualTo(((object)"server", (object)"192.0.2.7:50022")));

        CapturedMeasurement duration = telemetry.Measurements("ssh.handshake.duration", endPoint.Host).Single();
        Assert.That(duration["error.type"], Is.EqualTo(error.GetType().FullName));
        Assert.That(duration["ssh.disconnect.reason"], Is.Not.Null);
        Assert.That(telemetry.Measurements("ssh.disconnects", endPoint.Host), Has.Count.EqualTo(1));
        Assert.That(telemetry.Measurements("ssh.connections.active", endPoint.Host), Is.Empty);
        Assert.That(telemetry.Sum("ssh.handshakes.active", endPoint.Host, "server"), Is.Zero);
    }
}
