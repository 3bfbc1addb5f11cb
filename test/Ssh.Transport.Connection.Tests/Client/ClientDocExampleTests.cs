using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Ssh.Transport.AspNetCore;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Client;

/// <summary>
/// docs/connection.md's client example is this code, and it runs: against our Kestrel-hosted server with a known_hosts
/// file, a key file, a command run by /bin/sh and a tunnel to a TCP echo server.
/// </summary>
[NonParallelizable]
public class ClientDocExampleTests
{
    [Test]
    public void Doc_ShowsTheExample() =>
        DocExamples.AssertDocShows("docs/connection.md", "client", "test/Ssh.Transport.Connection.Tests/Client/ClientDocExampleTests.cs");

    [Test]
    public async Task Example_Runs()
    {
        string directory = Peers.NewTempDirectory();
        using SshPrivateKey hostKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        using SshPrivateKey userKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string keyFile = Path.Combine(directory, "id_ed25519");
        await File.WriteAllTextAsync(keyFile, userKey.ExportOpenSsh());
        using var echo = new EchoServer();

        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = directory });
        builder.Services.AddSshServer<ExampleServer>(options => options.Transport.HostKeys.Add(hostKey));
        builder.Services.AddSingleton(userKey.PublicKey);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, endpoint => endpoint.UseSsh()));
        await using WebApplication app = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await app.StartAsync(timeout.Token);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        int port = new Uri(address).Port;
        string host = "127.0.0.1";
        string knownHosts = Path.Combine(directory, "known_hosts");
        new KnownHostsVerifier().AddToFile(knownHosts, host, port, hostKey.PublicKey);

        (SshCommandResult result, ReadOnlySequence<byte> echoed) = await RunExampleAsync(host, port, knownHosts, keyFile, echo.Port, timeout.Token);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(0));
            Assert.That(result.StandardOutput, Is.EqualTo("Linux\n"));
            Assert.That("ping\n".StartsWith(System.Text.Encoding.ASCII.GetString(echoed.ToArray()), StringComparison.Ordinal) && echoed.Length > 0, "the tunnel echoed the start of ping");
        });
        Directory.Delete(directory, recursive: true);
    }

    private static async Task<(SshCommandResult, ReadOnlySequence<byte>)> RunExampleAsync(string host, int port, string knownHosts, string keyFile, int echoPort, CancellationToken cancellationToken)
    {
        // <example:client>
        var settings = new SshClientSettings(host, port)  // the local user's name; the agent too if SSH_AUTH_SOCK is set
        {
            KnownHostsFile = knownHosts,                   // default ~/.ssh/known_hosts: unknown or changed keys are refused
            KeepAliveInterval = TimeSpan.FromSeconds(15),  // ssh's ServerAliveInterval; KeepAliveCountMax = 3
        };
        settings.PrivateKeyFiles.Add(keyFile);
        await using SshClient client = await SshClient.ConnectAsync(settings, cancellationToken);

        SshCommandResult result = await client.RunCommandAsync("uname -s", cancellationToken);
        Console.WriteLine($"{result.ExitCode}: {result.StandardOutput}");  // stderr apart, in result.StandardError

        // A tunnel to a port the server reaches (ssh -L without the listener): the channel's pipes are the TCP stream.
        await using SshChannel tunnel = await client.OpenTcpIpTunnelAsync("127.0.0.1", echoPort, cancellationToken);
        await tunnel.Output.WriteAsync("ping\n"u8.ToArray(), cancellationToken);
        ReadResult reply = await tunnel.Input.ReadAsync(cancellationToken);
        // </example:client>

        ReadOnlySequence<byte> echoed = new(reply.Buffer.ToArray());
        tunnel.Input.AdvanceTo(reply.Buffer.End);
        return (result, echoed);
    }

    /// <summary>The server side: the example's key, commands through /bin/sh, tunnels to loopback.</summary>
    public sealed class ExampleServer(SshPublicKey allowed) : SshServerHandler
    {
        public override ValueTask<SshAuthorizedKey?> AuthenticatePublicKeyAsync(SshAuthenticationContext context, SshPublicKey key, CancellationToken cancellationToken) =>
            ValueTask.FromResult(key.Equals(allowed) ? new SshAuthorizedKey(key) : null);

        public override Task RunSessionAsync(SshServerSession session, CancellationToken cancellationToken) =>
            session.RunProcessAsync(new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", session.Command ?? "exit 1" } }, cancellationToken);

        public override ValueTask<bool> AllowDirectTcpIpAsync(SshServerContext context, SshTcpIpChannelInfo target, CancellationToken cancellationToken) =>
            ValueTask.FromResult(target.Host == "127.0.0.1");
    }
}
