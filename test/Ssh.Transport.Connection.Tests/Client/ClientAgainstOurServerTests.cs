using System.Net;
using System.Net.Sockets;
using Ssh.Transport.Connection.Tests.Infrastructure;
using static Ssh.Transport.Connection.Tests.Client.ClientTestKit;

namespace Ssh.Transport.Connection.Tests.Client;

/// <summary>
/// <see cref="SshClient"/> against a server of our own on a loopback socket, for what real servers do not do on
/// demand: a channel keepalive@openssh.com and eow@openssh.com during a command, and a forwarded-tcpip channel the
/// client never asked for.
/// </summary>
public class ClientAgainstOurServerTests
{
    [Test]
    public async Task ChannelKeepAliveAnswered_UnrequestedForwardRefused_ExitStatusRead()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task<(bool KeepAliveReply, Exception? ForwardRefusal)> server = ServeOneAsync(listener);
        var settings = new SshClientSettings("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port)
        {
            UserName = "alice",
            Password = "pw",
            AcceptAnyHostKey = true,
            UseAgent = false,
        };
        await using (SshClient client = await SshClient.ConnectAsync(settings).WaitAsync(Bound))
        {
            SshCommandResult result = await client.RunCommandAsync("anything").WaitAsync(Bound);
            Assert.That((result.StandardOutput, result.ExitCode), Is.EqualTo(("ok\n", (int?)7)));
            Assert.That(client.IsConnected, Is.True);
        }

        (bool keepAliveReply, Exception? refusal) = await server.WaitAsync(Bound);
        Assert.That(keepAliveReply, Is.False, "the client answered the channel keepalive with FAILURE, as OpenSSH does");
        Assert.That(refusal, Is.TypeOf<SshChannelOpenException>());
        Assert.That(((SshChannelOpenException)refusal!).Reason, Is.EqualTo(SshChannelOpenFailureReason.AdministrativelyProhibited));
    }

    private static async Task<(bool, Exception?)> ServeOneAsync(TcpListener listener)
    {
        using Socket socket = await listener.AcceptSocketAsync();
        await using SshTransport transport = await SshTransport.AcceptAsync(SshClientConnector.CreatePipe(socket), Harness.ServerOptions());
        var auth = new SshServerAuthenticationOptions { PasswordValidator = (_, password, _) => ValueTask.FromResult(password == "pw") };
        await SshServerAuthentication.AuthenticateAsync(transport, auth, socket.RemoteEndPoint);
        await using var connection = new SshConnection(transport);
        var outcome = new TaskCompletionSource<(bool, Exception?)>(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task RunCommandAsync(SshChannel channel)
        {
            await Task.Yield();
            bool keepAlive = await channel.SendRequestAsync(SshChannelRequestTypes.KeepAlive, wantReply: true);
            await channel.SendRequestAsync(SshChannelRequestTypes.EndOfWrite, wantReply: false);
            Exception? refusal = null;
            try
            {
                await using SshChannel unexpected = await connection.OpenChannelAsync(SshChannelTypes.ForwardedTcpIp, new SshTcpIpChannelInfo("127.0.0.1", 4711, "127.0.0.1", 5000), SessionWire.WriteTcpIpChannel);
            }
            catch (SshChannelOpenException e)
            {
                refusal = e;
            }

            await channel.Output.WriteAsync("ok\n"u8.ToArray());
            await channel.Output.CompleteAsync();
            await channel.SendRequestAsync(SshChannelRequestTypes.ExitStatus, wantReply: false, SshExitStatus.FromExitCode(7), SessionWire.WriteExitStatus);
            await channel.CloseAsync();
            outcome.TrySetResult((keepAlive, refusal));
        }

        connection.ChannelOpenHandler = (request, openToken) =>
        {
            SshChannel channel = request.Accept();
            channel.RequestHandler = (ch, req, token) =>
            {
                if (req.Type == SshChannelRequestTypes.Exec)
                {
                    _ = RunCommandAsync(ch);
                    return ValueTask.FromResult(true);
                }

                return ValueTask.FromResult(false);
            };
            return ValueTask.CompletedTask;
        };
        Task loop = connection.RunAsync();
        (bool, Exception?) result = await outcome.Task.WaitAsync(Bound);
        await loop.WaitAsync(Bound);
        return result;
    }
}
