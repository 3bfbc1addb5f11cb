using System.Diagnostics;

namespace Ssh.Transport.Connection.Tests.Server;

/// <summary>docs/connection.md's server example is this compiled code.</summary>
public class ServerDocExampleTests
{
    [Test]
    public void Doc_ShowsTheCompiledExample()
    {
        string root = TestContext.CurrentContext.TestDirectory;
        while (!File.Exists(Path.Combine(root, "Ssh.Transport.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("Ssh.Transport.sln not found.");
        }

        string[] source = File.ReadAllLines(Path.Combine(root, "test", "Ssh.Transport.Connection.Tests", "Server", "ServerDocExampleTests.cs"));
        string code = Between(source, "// <example:server>", "// </example:server>");
        string[] doc = File.ReadAllLines(Path.Combine(root, "docs", "connection.md"));
        int marker = Array.FindIndex(doc, l => l.Trim() == "<!-- example:server -->");
        Assert.That(marker, Is.GreaterThanOrEqualTo(0), "docs/connection.md has its <!-- example:server --> marker");
        Assert.That(Normalize(Between(doc[(marker + 1)..], "```csharp", "```")), Is.EqualTo(Normalize(code)));
    }

    private static string Between(string[] lines, string begin, string end)
    {
        int start = Array.FindIndex(lines, l => l.Trim() == begin);
        int stop = Array.FindIndex(lines, start + 1, l => l.Trim() == end);
        Assert.That((start >= 0, stop > start), Is.EqualTo((true, true)), begin);
        return string.Join('\n', lines[(start + 1)..stop]);
    }

    private static string Normalize(string text) =>
        string.Join('\n', text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));

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
