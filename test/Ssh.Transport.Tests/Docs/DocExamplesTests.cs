using System.IO.Pipelines;
using System.Text;
using Ssh.Transport.Tests.Infrastructure;
using Ssh.Transport.Tests.Session;

namespace Ssh.Transport.Tests.Docs;

/// <summary>
/// The code examples of docs/session.md are compiled here and run against each other; a test checks the doc shows
/// exactly this code (between the example markers), so the docs cannot drift from what compiles and works.
/// </summary>
[CancelAfter(60_000)]
public class DocExamplesTests
{
    // <example:client>
    public static async Task<string> ClientAsync(IDuplexPipe connection, SshHostKeyVerifier verifier, CancellationToken cancellationToken)
    {
        var options = new SshClientOptions { HostKeyVerifier = verifier };
        options.Packetizer.RekeyBytes = 64 * 1024;   // small, to show rekeys while data flows
        await using SshTransport transport = await SshTransport.ConnectAsync(connection, options, cancellationToken);
        transport.KeyExchangeCompleted += (_, e) =>
            Console.WriteLine($"key exchange {e.Number} ({e.InitiatedBy}): {e.Algorithms} in {e.Duration.TotalMilliseconds:F1} ms");

        await transport.RequestServiceAsync("ssh-userauth", cancellationToken);
        await transport.WriteMessageAsync("alice", static (buffer, user) =>
        {
            var writer = new SshWriter(buffer);              // straight into the pipe's memory
            writer.WriteByte(SshMessageNumber.UserAuthRequest);
            writer.WriteString(user);
            writer.WriteString("ssh-connection");
            writer.WriteString("none");
        }, cancellationToken);

        SshPacket reply = await transport.ReadMessageAsync(cancellationToken);   // valid until the next read
        string methods = string.Empty;
        if (reply.MessageNumber == SshMessageNumber.UserAuthFailure)
        {
            var reader = new SshReader(reply.Payload.Span[1..]);
            methods = Encoding.ASCII.GetString(reader.ReadString());       // e.g. "publickey,password"
        }

        await transport.DisconnectAsync(SshDisconnectReason.ByApplication, "bye", cancellationToken);
        return methods;
    }

    // </example:client>

    // <example:server>
    public static async Task<SshConnectionClosedEventArgs> ServeAsync(SshTransport transport, CancellationToken cancellationToken)
    {
        while (true)
        {
            SshPacket message = await transport.ReadMessageAsync(cancellationToken);
            if (message.IsCompleted)
            {
                break;                                        // the client disconnected or closed: a normal end
            }

            if (message.MessageNumber == SshMessageNumber.UserAuthRequest)
            {
                // Awaiting a write inside the loop is safe, also while a key exchange runs: the transport
                // queues it and carries the exchange on by itself.
                await transport.WriteMessageAsync("publickey,password", static (buffer, methods) =>
                {
                    var writer = new SshWriter(buffer);
                    writer.WriteByte(SshMessageNumber.UserAuthFailure);
                    writer.WriteString(methods);
                    writer.WriteBoolean(false);
                }, cancellationToken);
            }
        }

        return await transport.Completion;                 // who ended it, the reason, the error if any
    }

    // </example:server>

    [Test]
    public async Task ClientAndServerExamples_RunAgainstEachOther()
    {
        var pipes = new PipePair();
        SshServerOptions serverOptions = SessionHarness.ServerOptions();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Task<SshTransport> accepting = SshTransport.AcceptAsync(pipes.Server, serverOptions, cancel.Token);
        Task<string> client = ClientAsync(pipes.Client, (key, _) => ValueTask.FromResult(key == SessionHarness.Key(SshHostKeyType.Ed25519).PublicKey), cancel.Token);
        await using SshTransport server = await accepting;
        SshConnectionClosedEventArgs end = await ServeAsync(server, cancel.Token);
        Assert.That(await client, Is.EqualTo("publickey,password"));
        Assert.That((end.ClosedBy, end.Reason, end.Description, end.Error), Is.EqualTo((SshInitiator.Remote, SshDisconnectReason.ByApplication, "bye", (Exception?)null)));
    }

    [TestCase("client")]
    [TestCase("server")]
    public void Docs_ShowExactlyTheCompiledExample(string name)
    {
        string root = FindRepositoryRoot();
        string code = Extract(File.ReadAllLines(Path.Combine(root, "test", "Ssh.Transport.Tests", "Docs", "DocExamplesTests.cs")), $"// <example:{name}>", $"// </example:{name}>");
        string[] doc = File.ReadAllLines(Path.Combine(root, "docs", "session.md"));
        int marker = Array.FindIndex(doc, l => l.Trim() == $"<!-- example:{name} -->");
        Assert.That(marker, Is.GreaterThanOrEqualTo(0), $"docs/session.md has a <!-- example:{name} --> marker");
        string block = Extract(doc[(marker + 1)..], "```csharp", "```");
        Assert.That(Normalize(block), Is.EqualTo(Normalize(code)), $"docs/session.md's '{name}' example is the compiled one (test/Ssh.Transport.Tests/Docs/DocExamplesTests.cs)");
    }

    private static string Extract(string[] lines, string begin, string end)
    {
        int start = Array.FindIndex(lines, l => l.Trim() == begin);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), begin);
        int stop = Array.FindIndex(lines, start + 1, l => l.Trim() == end);
        Assert.That(stop, Is.GreaterThan(start), end);
        return string.Join('\n', lines[(start + 1)..stop]);
    }

    private static string Normalize(string text) =>
        string.Join('\n', text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));

    private static string FindRepositoryRoot()
    {
        string? directory = TestContext.CurrentContext.TestDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Ssh.Transport.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("Ssh.Transport.sln not found above the test directory.");
    }
}
