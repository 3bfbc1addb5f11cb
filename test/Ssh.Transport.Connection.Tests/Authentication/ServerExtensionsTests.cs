using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Authentication;

/// <summary>SshServerOptions.Extensions, the transport change the host-bound method needs.</summary>
public class ServerExtensionsTests
{
    [Test]
    public async Task Extensions_AreSentWithServerSigAlgs_AndSnapshotted()
    {
        SshServerOptions server = Harness.ServerOptions();
        server.Extensions["publickey-hostbound@openssh.com"] = "0";
        server.Extensions["example@test"] = "value";
        Task<(SshTransport Client, SshTransport Server)> connecting = Harness.ConnectAsync(server: server);
        server.Extensions["late@test"] = "not sent";
        (SshTransport c, SshTransport s) = await connecting;
        Assert.That(c.RemoteExtensions.Keys, Is.EquivalentTo(new[] { "server-sig-algs", "publickey-hostbound@openssh.com", "example@test", "ping@openssh.com" }));
        Assert.That(c.RemoteExtensions["example@test"], Is.EqualTo("value"u8.ToArray()));
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public void Extensions_AreValidated()
    {
        SshServerOptions server = Harness.ServerOptions();
        server.Extensions["server-sig-algs"] = "ssh-ed25519";
        server.Extensions["has space"] = "x";
        server.Extensions["ping@openssh.com"] = "0";
        ArgumentException error = Assert.Throws<ArgumentException>(server.Validate)!;
        Assert.That(error.Message, Does.Contain("set ServerSignatureAlgorithms instead").And.Contain("'has space'").And.Contain("MaxQueuedPongs to 0"));
    }
}
