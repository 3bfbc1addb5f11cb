using System.Net;
using System.Net.Sockets;

namespace Ssh.Transport.Cli.Tests;

/// <summary>exec against servers that misbehave at the TCP level: no real sshd needed.</summary>
public class ExecNetworkTests
{
    [Test]
    public async Task A_server_that_never_speaks_is_a_timeout_of_255_with_one_line()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task<Socket> accepted = listener.AcceptSocketAsync();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        ExecResult result = await ExecRunner.RunAsync(null, "exec", "-p", $"{port}", "--accept-any-host-key", "--timeout", "1", "-l", "nobody", "127.0.0.1", "true");
        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.ToolErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ToolErrorLines[0], Does.StartWith("ssh-transport: ").And.Contain("within 1 s"));
        (await accepted).Dispose();
    }

    [Test]
    public async Task A_server_that_is_not_ssh_is_255_with_one_line()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Task serving = Task.Run(async () =>
        {
            using Socket socket = await listener.AcceptSocketAsync();
            await socket.SendAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray());
            socket.Shutdown(SocketShutdown.Both);
        });

        ExecResult result = await ExecRunner.RunAsync(null, "exec", "-p", $"{port}", "--accept-any-host-key", "--timeout", "20", "-l", "nobody", "127.0.0.1", "true");
        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.ToolErrorLines, Has.Length.EqualTo(1), result.ToString());
        await serving.WaitAsync(CliRunner.Timeout);
    }
}
