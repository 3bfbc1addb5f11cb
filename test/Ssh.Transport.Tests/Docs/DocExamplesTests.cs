using System.Buffers;
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

    // <example:keys>
    public static SshPrivateKey LoadKey(string path, Func<string> askPassphrase)
    {
        try
        {
            return SshPrivateKey.Load(path);
        }
        catch (SshKeyPassphraseException)
        {
            return SshPrivateKey.Load(path, askPassphrase());   // wrong again: SshKeyPassphraseException, PassphraseMissing false
        }
    }

    // </example:keys>

    // <example:publickey>
    public static ValueTask WritePublicKeyRequestAsync(SshTransport transport, string user, SshPrivateKey key, string algorithm)
    {
        // RFC 4252 §7: the signature covers the session id and the request itself (its signature field left out).
        var signed = new ArrayBufferWriter<byte>();
        var s = new SshWriter(signed);
        s.WriteString(transport.SessionId.Span);
        s.WriteByte(SshMessageNumber.UserAuthRequest);
        s.WriteString(user);
        s.WriteString("ssh-connection");
        s.WriteString("publickey");
        s.WriteBoolean(true);
        s.WriteString(algorithm);                               // e.g. "rsa-sha2-256" for an ssh-rsa key
        s.WriteString(key.PublicKey.Blob.Span);

        return transport.WriteMessageAsync((user, key, algorithm, signed.WrittenMemory), static (buffer, r) =>
        {
            var w = new SshWriter(buffer);
            w.WriteByte(SshMessageNumber.UserAuthRequest);
            w.WriteString(r.user);
            w.WriteString("ssh-connection");
            w.WriteString("publickey");
            w.WriteBoolean(true);
            w.WriteString(r.algorithm);
            w.WriteString(r.key.PublicKey.Blob.Span);
            r.key.WriteSignature(ref w, r.algorithm, r.WrittenMemory.Span);   // string(signature blob), in place
        });
    }

    // </example:publickey>

    [Test]
    public void KeysExample_AsksForThePassphraseOnlyWhenNeeded()
    {
        using SshPrivateKey original = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string folder = Directory.CreateTempSubdirectory("doc-keys").FullName;
        try
        {
            string plain = Path.Combine(folder, "plain");
            string encrypted = Path.Combine(folder, "encrypted");
            File.WriteAllText(plain, original.ExportOpenSsh());
            File.WriteAllText(encrypted, original.ExportOpenSsh("correct horse"));
            int asked = 0;
            using SshPrivateKey fromPlain = LoadKey(plain, () => { asked++; return "unused"; });
            Assert.That(asked, Is.Zero);
            using SshPrivateKey fromEncrypted = LoadKey(encrypted, () => { asked++; return "correct horse"; });
            Assert.That(asked, Is.EqualTo(1));
            Assert.That((fromPlain.PublicKey, fromEncrypted.PublicKey), Is.EqualTo((original.PublicKey, original.PublicKey)));
            Assert.Throws<SshKeyPassphraseException>(() => LoadKey(encrypted, () => "wrong"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestCase(SshHostKeyType.Ed25519, "ssh-ed25519")]
    [TestCase(SshHostKeyType.Rsa, "rsa-sha2-256")]
    public async Task PublicKeyExample_WritesARequestTheServerCanVerify(SshHostKeyType type, string algorithm)
    {
        using SshPrivateKey user = type == SshHostKeyType.Rsa ? SshPrivateKey.Generate(type, 2048) : SshPrivateKey.Generate(type);
        (SshTransport client, SshTransport server) = await SessionHarness.ConnectAsync(SessionHarness.ClientOptions(), SessionHarness.ServerOptions());
        await using (client)
        await using (server)
        {
            await WritePublicKeyRequestAsync(client, "alice", user, algorithm);
            SshPacket request = await server.ReadMessageAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

            // The server's side, as RFC 4252 §7 has it: rebuild the signed data from the request and check the blob.
            var reader = new SshReader(request.Payload.Span[1..]);
            string name = Encoding.UTF8.GetString(reader.ReadString());
            string service = Encoding.ASCII.GetString(reader.ReadString());
            string method = Encoding.ASCII.GetString(reader.ReadString());
            Assert.That(reader.ReadBoolean(), Is.True);
            string named = Encoding.ASCII.GetString(reader.ReadString());
            SshPublicKey key = SshPublicKey.FromBlob(reader.ReadString());
            int requestLength = 1 + reader.Consumed;               // message number through the key blob
            ReadOnlySpan<byte> blob = reader.ReadString();
            var signed = new ArrayBufferWriter<byte>();
            var w = new SshWriter(signed);
            w.WriteString(server.SessionId.Span);
            w.WriteBytes(request.Payload.Span[..requestLength]);
            Assert.That((name, service, method, named, key), Is.EqualTo(("alice", "ssh-connection", "publickey", algorithm, user.PublicKey)));
            Assert.That(key.VerifySignature(algorithm, signed.WrittenSpan, blob), Is.True);
        }
    }

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
    [TestCase("keys")]
    [TestCase("publickey")]
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
