using System.Net;
using Microsoft.Extensions.Logging;
using Ssh.Transport.Tests.Infrastructure;
using static Ssh.Transport.Tests.Session.SessionHarness;

namespace Ssh.Transport.Tests.Diagnostics;

/// <summary>Loggers per component from <see cref="SshTransportOptions.LoggerFactory"/>, inside the connection's scope.</summary>
[CancelAfter(60_000)]
public class LoggingTests
{
    private static readonly IPEndPoint s_clientEnd = new(IPAddress.Parse("192.0.2.7"), 50022);
    private static readonly DnsEndPoint s_serverEnd = new("ssh.example", 2222);

    private static async Task<(SshTransport Client, SshTransport Server)> ConnectAsync(SshClientOptions clientOptions, SshServerOptions serverOptions)
    {
        var pipes = new PipePair();
        Task<SshTransport> accepting = SshTransport.AcceptAsync(pipes.Server, serverOptions, s_serverEnd, s_clientEnd);
        Task<SshTransport> connecting = SshTransport.ConnectAsync(pipes.Client, clientOptions, s_clientEnd, s_serverEnd);
        await WhenBothOrFirstFailure(accepting, connecting);
        return (await connecting, await accepting);
    }

    [Test]
    public async Task LoggerFactory_OneCategoryPerComponent_EachEntryInTheConnectionsScope()
    {
        var factory = new CapturingLoggerFactory();
        SshClientOptions clientOptions = ClientOptions();
        SshServerOptions serverOptions = ServerOptions();
        clientOptions.LoggerFactory = factory;
        serverOptions.LoggerFactory = factory;
        (SshTransport client, SshTransport server) = await ConnectAsync(clientOptions, serverOptions);
        await client.WriteMessageAsync(new byte[] { SshMessageNumber.ChannelData, 1, 2, 3 });
        await server.ReadMessageAsync();
        await client.DisconnectAsync(SshDisconnectReason.ByApplication, "bye");
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        await server.DisposeAsync();

        IReadOnlyList<CapturedLogEntry> entries = factory.Entries;
        Assert.That(entries.Select(e => e.Category).Distinct(), Is.EquivalentTo(new[] { "Ssh.Transport.Connection", "Ssh.Transport.KeyExchange", "Ssh.Transport.Packetizer" }));
        Assert.That(entries.Where(e => e.Level >= LogLevel.Warning), Is.Empty, string.Join("\n", entries));

        // Each message in its component's category.
        Assert.That(entries.Where(e => e.EventId.Id is 1 or 2 or 4 or 6).Select(e => e.Category), Has.All.EqualTo("Ssh.Transport.Packetizer"), "packets, keys switched, identification");
        Assert.That(entries.Where(e => e.EventId.Id is 20 or 21 or 22).Select(e => e.Category), Has.All.EqualTo("Ssh.Transport.KeyExchange"), "key exchange started, negotiated, completed");
        Assert.That(entries.Where(e => e.EventId.Id is 25 or 27).Select(e => e.Category), Has.All.EqualTo("Ssh.Transport.Connection"), "disconnect sent, ended by the peer");
        Assert.That(entries.Count(e => e.EventId.Id == 22), Is.EqualTo(2), "each side completed its key exchange");
        Assert.That(entries.Count(e => e.EventId.Id == 1), Is.GreaterThan(4));

        // The scope: role and peer on every entry; the session identifier's prefix once the first exchange is over.
        string session = Convert.ToHexStringLower(client.SessionId.Span[..4]);
        Assert.That(server.SessionId.ToArray(), Is.EqualTo(client.SessionId.ToArray()));
        foreach (CapturedLogEntry entry in entries)
        {
            string role = (string)entry.ScopeValue("SshRole")!;
            Assert.That(role, Is.AnyOf("client", "server"), entry.ToString());
            Assert.That(entry.ScopeValue("SshRemoteEndPoint"), Is.EqualTo(role == "client" ? "ssh.example:2222" : "192.0.2.7:50022"), entry.ToString());
        }

        CapturedLogEntry disconnecting = entries.Single(e => e.EventId.Id == 25);
        Assert.That(disconnecting.ScopeValue("SshSessionId"), Is.EqualTo(session));
        Assert.That(disconnecting.Scopes.Single().ToString(), Is.EqualTo($"SSH client ssh.example:2222 session {session}"));
        Assert.That(entries.Where(e => e.EventId.Id == 1 && e.Message.Contains("CHANNEL_DATA", StringComparison.Ordinal)).Select(e => e.ScopeValue("SshSessionId")), Has.All.EqualTo(session));
        Assert.That(entries.Where(e => e.EventId.Id == 21).Select(e => e.ScopeValue("SshSessionId")), Has.All.Null, "negotiation comes before the session identifier");
    }

    [Test]
    public async Task LoggerFactory_TakesPrecedenceOverLogger_AndLoggerAloneStillWorks()
    {
        var factory = new CapturingLoggerFactory();
        var ignored = new CapturingLogger();
        var single = new CapturingLogger();
        SshClientOptions clientOptions = ClientOptions();
        clientOptions.LoggerFactory = factory;
        clientOptions.Packetizer.Logger = ignored;
        SshServerOptions serverOptions = ServerOptions();
        serverOptions.Packetizer.Logger = single;
        (SshTransport client, SshTransport server) = await ConnectAsync(clientOptions, serverOptions);
        await client.DisposeAsync();
        await server.DisposeAsync();

        Assert.That(ignored.Entries, Is.Empty);
        Assert.That(factory.Entries, Is.Not.Empty);
        Assert.That(factory.Entries.Select(e => e.ScopeValue("SshRole")), Has.All.EqualTo("client"));
        Assert.That(single.Entries.Select(e => e.Message), Has.Some.Contains("Key exchange 1 completed").And.Some.Contains("KEXINIT"), "one logger gets every component's entries");
    }

    [Test]
    public async Task NoEndPoints_ScopeHasTheRoleOnly()
    {
        var factory = new CapturingLoggerFactory();
        SshServerOptions serverOptions = ServerOptions();
        serverOptions.LoggerFactory = factory;
        (SshTransport client, SshTransport server) = await Session.SessionHarness.ConnectAsync(ClientOptions(), serverOptions);
        Assert.That((server.LocalEndPoint, server.RemoteEndPoint), Is.EqualTo(((EndPoint?)null, (EndPoint?)null)));
        await client.DisposeAsync();
        await server.DisposeAsync();
        CapturedLogEntry first = factory.Entries[0];
        Assert.That(first.ScopeValue("SshRole"), Is.EqualTo("server"));
        Assert.That(first.ScopeValue("SshRemoteEndPoint"), Is.Null);
        Assert.That(first.Scopes.Single().ToString(), Is.EqualTo("SSH server"));
    }

    [Test]
    public void IsPeerOrNetwork_OnlyUnexpectedFailuresAreOurs()
    {
        Assert.That(Log.IsPeerOrNetwork(new SshProtocolException(SshDisconnectReason.MacError, "bad MAC")), Is.True);
        Assert.That(Log.IsPeerOrNetwork(new SshPeerDisconnectedException(SshDisconnectReason.ByApplication, "bye")), Is.True);
        Assert.That(Log.IsPeerOrNetwork(new IOException("reset")), Is.True);
        Assert.That(Log.IsPeerOrNetwork(new OperationCanceledException()), Is.True);
        Assert.That(Log.IsPeerOrNetwork(new SshProtocolException(SshDisconnectReason.ConnectionLost, "lost", new IOException())), Is.True);
        Assert.That(Log.IsPeerOrNetwork(new SshProtocolException(SshDisconnectReason.KeyExchangeFailed, "malformed host key", new ArgumentException())), Is.True);
        Assert.That(Log.IsPeerOrNetwork(new SshProtocolException(SshDisconnectReason.ProtocolError, "Unexpected error", new NullReferenceException())), Is.False);
        Assert.That(Log.IsPeerOrNetwork(new InvalidOperationException()), Is.False);
    }

    [Test]
    public async Task EndPoints_GivenToTheOverloads_AreReportedBack()
    {
        // What SshConnectionHandler and SshClientConnector do, without Kestrel: endpoints are reported back.
        var pipes = new PipePair();
        Task<SshTransport> accepting = SshTransport.AcceptAsync(pipes.Server, ServerOptions(), s_serverEnd, s_clientEnd);
        Task<SshTransport> connecting = SshTransport.ConnectAsync(pipes.Client, ClientOptions(), localEndPoint: null, s_serverEnd);
        await WhenBothOrFirstFailure(accepting, connecting);
        await using SshTransport client = await connecting;
        await using SshTransport server = await accepting;
        Assert.That((server.LocalEndPoint, server.RemoteEndPoint), Is.EqualTo(((EndPoint)s_serverEnd, (EndPoint)s_clientEnd)));
        Assert.That((client.LocalEndPoint, client.RemoteEndPoint), Is.EqualTo(((EndPoint?)null, (EndPoint)s_serverEnd)));
    }
}
