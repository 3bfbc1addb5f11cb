using System.Net;
using System.Net.Sockets;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Authentication;

/// <summary>
/// OpenSSH's ssh, Debian's and the newest (one fixture per <see cref="OpenSshGeneration"/>), against our server: a
/// small in-test server (SshTransport.AcceptAsync on a loopback listener, then our server authentication). The
/// connection layer is not there, so the clients fail at opening a channel; these tests look at what our server saw.
/// Skipped when that ssh is not installed.
/// </summary>
[Category("Interop")]
[NonParallelizable]
[TestFixtureSource(typeof(OpenSsh), nameof(OpenSsh.Generations))]
public class OpenSshServerTests(OpenSshGeneration generation)
{
    private readonly OpenSsh _openssh = OpenSsh.Get(generation);
    private string _directory = null!;

    [SetUp]
    public void SetUp() => _directory = Peers.NewTempDirectory();

    [TearDown]
    public void TearDown()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [TestCase("ed25519", false)]
    [TestCase("ecdsa256", false)]
    [TestCase("ecdsa384", false)]
    [TestCase("ecdsa521", false)]
    [TestCase("rsa", false)]
    [TestCase("ed25519", true)]
    public async Task Ssh_PublicKey_AuthenticatesAndOpensAChannel(string kind, bool compression)
    {
        string keyFile = OpenSshKeys.File(kind);
        SshAuthorizedKeys keys = SshAuthorizedKeys.Parse($"no-pty {File.ReadAllText(keyFile + ".pub")}");
        var methods = new List<string>();
        SshServerAuthenticationOptions auth = new()
        {
            PublicKeyValidator = (context, key, _) =>
            {
                lock (methods)
                {
                    methods.Add(context.Method);
                }

                return ValueTask.FromResult(context.UserName == "alice" ? keys.Find(key, context.RemoteEndPoint, DateTimeOffset.UtcNow) : null);
            },
        };
        await using var server = OurServer.Start(auth);
        string[] options = compression ? ["-C"] : [];
        (int code, string output) = RunSsh(server.Port, ["-i", keyFile, "-o", "PreferredAuthentications=publickey", .. options]);
        OurServer.Outcome outcome = await server.OutcomeAsync();
        Assert.That(outcome.Error, Is.Null, $"our server: {outcome.Error}\n--- ssh ---\n{output}");
        SshAuthenticatedUser user = outcome.User!;
        Assert.Multiple(() =>
        {
            Assert.That(user.UserName, Is.EqualTo("alice"));
            Assert.That(user.Methods, Is.EqualTo(new[] { "publickey" }));
            Assert.That(user.PublicKey, Is.EqualTo(SshPrivateKey.Load(keyFile).PublicKey));
            Assert.That(user.AuthorizedKey!.PermitPty, Is.False);
            Assert.That(methods[^1], Is.EqualTo("publickey-hostbound-v00@openssh.com"), "ssh 8.9+ binds its signature to our host key");
            Assert.That(outcome.NextMessage, Is.EqualTo(SshMessageNumber.ChannelOpen), "ssh's first message after SUCCESS (compressed with -C) read intact");
            Assert.That(output, Does.Contain("Authenticated to 127.0.0.1"));
            Assert.That(code, Is.Not.Zero, "no connection layer yet: ssh fails after authenticating");
        });
        if (compression)
        {
            Assert.That(outcome.Compression, Is.EqualTo("zlib@openssh.com"));
        }

        if (kind == "rsa")
        {
            Assert.That(output, Does.Contain("rsa-sha2-512"));
        }
    }

    [Test]
    public async Task Ssh_RsaSha256_WhenOurServerListsOnlyThat()
    {
        string keyFile = OpenSshKeys.File("rsa");
        SshPublicKey expected = SshPrivateKey.Load(keyFile).PublicKey;
        SshServerAuthenticationOptions auth = new()
        {
            PublicKeyValidator = (_, key, _) => ValueTask.FromResult(key == expected ? new SshAuthorizedKey(key) : null),
        };
        auth.PublicKeyAlgorithms.Clear();
        auth.PublicKeyAlgorithms.Add("rsa-sha2-256");
        await using var server = OurServer.Start(auth, transport => transport.ServerSignatureAlgorithms.Remove("rsa-sha2-512"));
        (_, string output) = RunSsh(server.Port, ["-i", keyFile, "-o", "PreferredAuthentications=publickey"]);
        OurServer.Outcome outcome = await server.OutcomeAsync();
        Assert.That(outcome.Error, Is.Null, $"our server: {outcome.Error}\n--- ssh ---\n{output}");
        Assert.That(output, Does.Contain("rsa-sha2-256"));
    }

    [Test]
    public async Task Ssh_WrongKey_IsRefused()
    {
        SshPublicKey authorized = SshPrivateKey.Load(OpenSshKeys.File("ed25519")).PublicKey;
        SshServerAuthenticationOptions auth = new()
        {
            PublicKeyValidator = (_, key, _) => ValueTask.FromResult(key == authorized ? new SshAuthorizedKey(key) : null),
        };
        await using var server = OurServer.Start(auth);
        (int code, string output) = RunSsh(server.Port, ["-i", OpenSshKeys.File("ecdsa256"), "-o", "PreferredAuthentications=publickey"]);
        OurServer.Outcome outcome = await server.OutcomeAsync();
        Assert.That(code, Is.EqualTo(255));
        Assert.That(output, Does.Contain("Permission denied (publickey)"));
        Assert.That(outcome.Error, Is.TypeOf<SshAuthenticationException>(), outcome.Error?.ToString());
        Assert.That(((SshAuthenticationException)outcome.Error!).TriedMethods, Is.EqualTo(new[] { "publickey" }));
    }

    [Test]
    public async Task Ssh_TooManyKeys_AttemptLimitDisconnects()
    {
        SshServerAuthenticationOptions auth = new()
        {
            PublicKeyValidator = (_, _, _) => ValueTask.FromResult<SshAuthorizedKey?>(null),
            MaxAttempts = 2,
        };
        await using var server = OurServer.Start(auth);
        (int code, string output) = RunSsh(server.Port, [
            "-i", OpenSshKeys.File("ecdsa256"), "-i", OpenSshKeys.File("ecdsa384"), "-i", OpenSshKeys.File("ecdsa521"),
            "-o", "PreferredAuthentications=publickey"]);
        OurServer.Outcome outcome = await server.OutcomeAsync();
        Assert.That(code, Is.EqualTo(255));
        Assert.That(output, Does.Contain("Too many authentication failures for alice (2)"));
        Assert.That(((SshAuthenticationException)outcome.Error!).Reason, Is.EqualTo(SshDisconnectReason.NoMoreAuthMethodsAvailable));
    }

    [Test]
    public async Task Ssh_Password_ThroughAskPass()
    {
        string askpass = Path.Combine(_directory, "askpass.sh");
        File.WriteAllText(askpass, "#!/bin/sh\necho 'open sesame'\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(askpass, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
        }
        SshServerAuthenticationOptions auth = new()
        {
            PasswordValidator = (context, password, _) => ValueTask.FromResult(context.UserName == "alice" && password == "open sesame"),
            Banner = "Our banner\r\n",
        };
        await using var server = OurServer.Start(auth);
        var environment = new Dictionary<string, string> { ["SSH_ASKPASS"] = askpass, ["SSH_ASKPASS_REQUIRE"] = "force", ["DISPLAY"] = ":0" };
        (_, string output) = RunSsh(server.Port, ["-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"], environment, batch: false);
        OurServer.Outcome outcome = await server.OutcomeAsync();
        Assert.That(outcome.Error, Is.Null, $"our server: {outcome.Error}\n--- ssh ---\n{output}");
        Assert.That(outcome.User!.Methods, Is.EqualTo(new[] { "password" }));
        Assert.That(output, Does.Contain("Our banner"));
    }

    private (int Code, string Output) RunSsh(int port, string[] options, Dictionary<string, string>? environment = null, bool batch = true)
    {
        string ssh = _openssh.Require("ssh");
        string[] arguments = [
            "-v", "-F", "/dev/null", "-p", port.ToString(),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", $"BatchMode={(batch ? "yes" : "no")}",
            "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
            .. options, "alice@127.0.0.1", "true"];
        var env = new Dictionary<string, string>(environment ?? []) { ["SSH_AUTH_SOCK"] = string.Empty };
        return Peers.Run(ssh, arguments, env, timeout: TimeSpan.FromSeconds(60));
    }

    /// <summary>Accepts one connection, authenticates it, reads the next message, and disconnects.</summary>
    internal sealed class OurServer : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly Task<Outcome> _outcome;

        private OurServer(SshServerAuthenticationOptions auth, Action<SshServerOptions>? configure)
        {
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            SshServerOptions options = Harness.ServerOptions();
            options.Extensions[SshAuthenticationMethods.PublicKeyHostBoundExtension] = "0";
            configure?.Invoke(options);
            _outcome = ServeAsync(options, auth);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static OurServer Start(SshServerAuthenticationOptions auth, Action<SshServerOptions>? configure = null) => new(auth, configure);

        public Task<Outcome> OutcomeAsync() => _outcome.WaitAsync(TimeSpan.FromSeconds(30));

        private async Task<Outcome> ServeAsync(SshServerOptions options, SshServerAuthenticationOptions auth)
        {
            using Socket socket = await _listener.AcceptSocketAsync();
            _listener.Stop();
            SshTransport? transport = null;
            try
            {
                transport = await SshTransport.AcceptAsync(SshClientConnector.CreatePipe(socket), options);
                SshAuthenticatedUser user = await SshServerAuthentication.AuthenticateAsync(transport, auth, socket.RemoteEndPoint);
                SshPacket next = await transport.ReadMessageAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
                byte number = next.MessageNumber; // the payload is valid only until the next read or the end
                string compression = transport.Algorithms.CompressionClientToServer;
                await transport.DisconnectAsync(SshDisconnectReason.ByApplication, "no connection layer yet");
                return new Outcome(user, number, compression, null);
            }
            catch (Exception e)
            {
                return new Outcome(null, 0, null, e);
            }
            finally
            {
                if (transport is not null)
                {
                    await transport.DisposeAsync();
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            try
            {
                await _outcome.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or TimeoutException)
            {
            }
        }

        public sealed record Outcome(SshAuthenticatedUser? User, byte NextMessage, string? Compression, Exception? Error);
    }
}

/// <summary>paramiko's client against the same server (no OpenSSH generation involved, so outside those fixtures).</summary>
[Category("Interop")]
[NonParallelizable]
public class ParamikoClientTests
{
    [Test]
    public async Task Paramiko_PublicKeyAndPassword()
    {
        const string Python = "/usr/bin/python3";
        if (!File.Exists(Python) || Peers.Run(Python, ["-c", "import paramiko"]).ExitCode != 0)
        {
            Assert.Ignore("paramiko is not installed (apt install python3-paramiko).");
        }

        string keyFile = OpenSshKeys.File("ecdsa256");
        SshPublicKey expected = SshPrivateKey.Load(keyFile).PublicKey;
        SshServerAuthenticationOptions auth = new()
        {
            PublicKeyValidator = (_, key, _) => ValueTask.FromResult(key == expected ? new SshAuthorizedKey(key) : null),
            PasswordValidator = (_, password, _) => ValueTask.FromResult(password == "pw"),
        };
        auth.RequiredMethods.Add("publickey");
        auth.RequiredMethods.Add("password");
        await using var server = OpenSshServerTests.OurServer.Start(auth);
        string script = """
            import sys, paramiko
            t = paramiko.Transport(("127.0.0.1", int(sys.argv[1])))
            t.start_client(timeout=20)
            key = paramiko.ECDSAKey.from_private_key_file(sys.argv[2])
            left = t.auth_publickey("alice", key)
            print("after publickey:", ",".join(left))
            t.auth_password("alice", "pw")
            print("authenticated:", t.is_authenticated())
            t.close()
            """;
        (int code, string output) = Peers.Run(Python, ["-c", script, server.Port.ToString(), keyFile], timeout: TimeSpan.FromSeconds(60));
        OpenSshServerTests.OurServer.Outcome outcome = await server.OutcomeAsync();
        Assert.That(outcome.Error, Is.Null, $"our server: {outcome.Error}\n--- paramiko ---\n{output}");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("after publickey: password").And.Contain("authenticated: True"));
        Assert.That(outcome.User!.Methods, Is.EqualTo(new[] { "publickey", "password" }));
    }
}
