namespace Ssh.Transport.Cli.Tests;

/// <summary>The key-exchange accounting of probe and serve: the transport's events, nothing else.</summary>
public class KeyExchangeTrackerTests
{
    private TempFolder _folder = null!;

    [SetUp]
    public void SetUp() => _folder = new TempFolder();

    [TearDown]
    public void TearDown() => _folder.Dispose();

    [Test]
    public async Task Rekeys_are_counted_from_the_events_with_who_started_them_and_serve_counts_the_same()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder);
        var options = new SshClientOptions { HostKeyVerifier = (k, _) => ValueTask.FromResult(k == serve.HostKey.PublicKey) };
        SshTransport client = await SshClientConnector.ConnectAsync("127.0.0.1", serve.Port, options, TimeSpan.FromSeconds(10));
        await using (client)
        {
            using var exchanges = new KeyExchangeTracker(client);
            Assert.That(exchanges.Completed, Is.EqualTo(1), "the handshake's exchange");
            Assert.That(exchanges.RekeyStartedByUs, Is.False);

            // RekeyAsync returns after KeyExchangeCompleted was raised.
            await client.RekeyAsync().WaitAsync(CliRunner.Timeout);
            await client.RekeyAsync().WaitAsync(CliRunner.Timeout);
            Assert.That(exchanges.Completed, Is.EqualTo(3));
            Assert.That(exchanges.RekeysByUs, Is.EqualTo(2));
            Assert.That(exchanges.RekeysByPeer, Is.Zero);
            Assert.That(exchanges.RekeyStartedByUs, Is.True);
            Assert.That(await exchanges.WaitForIdleAsync(CliRunner.Timeout, CancellationToken.None), Is.Null, "idle: no exchange in progress");

            await client.DisconnectAsync(SshDisconnectReason.ByApplication, "tracker test");

            // The connection has ended: the wait says how (normally; whether as our DISCONNECT or as the server
            // closing in answer depends on which the transport records first), and the counts stay.
            SshConnectionClosedEventArgs? closed = await exchanges.WaitForIdleAsync(CliRunner.Timeout, CancellationToken.None);
            Assert.That(closed, Is.Not.Null);
            Assert.That(closed!.Error, Is.Null, closed.ToString());
            Assert.That(exchanges.Completed, Is.EqualTo(3));
        }

        string log = await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal));
        Assert.That(log, Does.Contain(": client disconnected (ByApplication): tracker test; 3 key exchange(s), 0 message(s) read"));
    }

    [Test]
    public async Task Waiting_for_idle_returns_how_the_connection_ended_when_the_server_goes_away()
    {
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder);
        var options = new SshClientOptions { HostKeyVerifier = (k, _) => ValueTask.FromResult(k == serve.HostKey.PublicKey) };
        SshTransport client = await SshClientConnector.ConnectAsync("127.0.0.1", serve.Port, options, TimeSpan.FromSeconds(10));
        await using (client)
        {
            using var exchanges = new KeyExchangeTracker(client);
            Assert.That(await serve.StopAsync(), Is.Zero);
            await client.Completion.WaitAsync(CliRunner.Timeout);

            SshConnectionClosedEventArgs? closed = await exchanges.WaitForIdleAsync(CliRunner.Timeout, CancellationToken.None);
            Assert.That(closed, Is.Not.Null);
            Assert.That(closed!.ClosedBy, Is.EqualTo(SshInitiator.Remote));
            Assert.That(closed.Reason, Is.EqualTo(SshDisconnectReason.ByApplication));
            Assert.That(closed.Description, Is.EqualTo("server shutting down"));
        }
    }
}
