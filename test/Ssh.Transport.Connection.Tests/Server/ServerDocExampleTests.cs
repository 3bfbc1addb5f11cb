using System.Diagnostics;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Server;

/// <summary>docs/connection.md's server example is this compiled code.</summary>
public class ServerDocExampleTests
{
    [Test]
    public void Doc_ShowsTheCompiledExample() =>
        DocExamples.AssertDocShows("docs/connection.md", "server", "test/Ssh.Transport.Connection.Tests/Server/ServerDocExampleTests.cs");

    // <example:server>
    public sealed class ShellHandler : SshServerHandler
    {
        private readonly SshAuthorizedKeys _keys = SshAuthorizedKeys.Load("/etc/myapp/authorized_keys");

        public override ValueTask<SshAuthorizedKey?> AuthenticatePublicKeyAsync(SshAuthenticationContext context, SshPublicKey key, CancellationToken cancellationToken) =>
            ValueTask.FromResult(context.UserName == "deploy" ? _keys.Find(key, context.RemoteEndPoint, DateTimeOffset.UtcNow) : null);

        public override Task RunSessionAsync(SshServerSession session, CancellationToken cancellationToken)
        {
            ProcessStartInfo? start = session.Kind switch
            {
                SshSessionKind.Exec => new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", session.Command! } },
                SshSessionKind.Subsystem when session.SubsystemName == "sftp" => new ProcessStartInfo("/usr/lib/openssh/sftp-server"),
                _ => null,
            };
            return start is null ? session.ExitAsync(1, cancellationToken) : session.RunProcessAsync(start, cancellationToken);
        }

        public override ValueTask<bool> AllowDirectTcpIpAsync(SshServerContext context, SshTcpIpChannelInfo target, CancellationToken cancellationToken) =>
            ValueTask.FromResult(target.Host is "localhost" or "127.0.0.1");
    }

    // Per connection, e.g. in Kestrel's listenOptions.UseSsh(serverOptions, (transport, connection) => ...):
    //     SshServer.RunAsync(transport, new ShellHandler(), settings, connection.RemoteEndPoint, connection.ConnectionClosed)
    // </example:server>
}
