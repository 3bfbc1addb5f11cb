using System.Net;
using Microsoft.Extensions.Time.Testing;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Authentication;

/// <summary>Our client against our server over in-memory pipes: every method, refusals, limits, partial success, banners, host-bound.</summary>
public class AuthenticationTests
{
    private static readonly IPEndPoint s_remote = new(IPAddress.Parse("192.0.2.7"), 50123);

    private static SshServerAuthenticationOptions AcceptKeys(params SshPrivateKey[] keys) => new()
    {
        PublicKeyValidator = (context, key, _) => ValueTask.FromResult(
            context.UserName == "alice" && keys.Any(k => k.PublicKey == key) ? new SshAuthorizedKey(key, "test") : null),
    };

    private static SshClientAuthenticationOptions Alice(params SshPrivateKey[] keys)
    {
        var options = new SshClientAuthenticationOptions { UserName = "alice" };
        foreach (SshPrivateKey key in keys)
        {
            options.PrivateKeys.Add(key);
        }

        return options;
    }

    /// <summary>Both sides at once; the client's transport is disposed once it is done, so a waiting server sees the end.</summary>
    private static async Task<(Task<SshAuthenticatedUser> Client, Task<SshAuthenticatedUser> Server, SshTransport ClientTransport, SshTransport ServerTransport)> RunAsync(
        SshClientAuthenticationOptions client, SshServerAuthenticationOptions server, SshServerOptions? serverTransport = null, SshClientOptions? clientTransport = null)
    {
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync(clientTransport, serverTransport);
        Task<SshAuthenticatedUser> serving = SshServerAuthentication.AuthenticateAsync(s, server, s_remote);
        Task<SshAuthenticatedUser> authenticating = SshClientAuthentication.AuthenticateAsync(c, client);
        _ = authenticating.ContinueWith(async t =>
        {
            if (t.IsFaulted)
            {
                await c.DisposeAsync();
            }
        }, TaskScheduler.Default);
        _ = serving.ContinueWith(async t =>
        {
            if (t.IsFaulted)
            {
                await s.DisposeAsync();
            }
        }, TaskScheduler.Default);
        try
        {
            await Task.WhenAll(serving, authenticating).WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch (Exception) when (serving.IsCompleted && authenticating.IsCompleted)
        {
            // The test looks at each side.
        }

        return (authenticating, serving, c, s);
    }

    [TestCase(SshHostKeyType.Ed25519, "ssh-ed25519")]
    [TestCase(SshHostKeyType.EcdsaNistP256, "ecdsa-sha2-nistp256")]
    [TestCase(SshHostKeyType.EcdsaNistP384, "ecdsa-sha2-nistp384")]
    [TestCase(SshHostKeyType.EcdsaNistP521, "ecdsa-sha2-nistp521")]
    [TestCase(SshHostKeyType.Rsa, "ssh-rsa")]
    public async Task PublicKey_EveryKeyType_AuthenticatesWithTheKeyAndItsEntry(SshHostKeyType type, string keyType)
    {
        SshPrivateKey key = Harness.UserKey(type);
        var (client, server, c, s) = await RunAsync(Alice(key), AcceptKeys(key));
        SshAuthenticatedUser ours = await client;
        SshAuthenticatedUser theirs = await server;
        Assert.Multiple(() =>
        {
            Assert.That(ours.UserName, Is.EqualTo("alice"));
            Assert.That(ours.Methods, Is.EqualTo(new[] { "publickey" }));
            Assert.That(ours.PublicKey, Is.EqualTo(key.PublicKey));
            Assert.That(theirs.UserName, Is.EqualTo("alice"));
            Assert.That(theirs.ServiceName, Is.EqualTo("ssh-connection"));
            Assert.That(theirs.Methods, Is.EqualTo(new[] { "publickey" }));
            Assert.That(theirs.PublicKey!.KeyType, Is.EqualTo(keyType));
            Assert.That(theirs.AuthorizedKey!.Comment, Is.EqualTo("test"));
        });
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public async Task PublicKey_RsaKey_QueriesFirstAndSignsWithTheServersAlgorithm()
    {
        SshPrivateKey key = Harness.UserKey(SshHostKeyType.Rsa);
        foreach (string algorithm in new[] { "rsa-sha2-256", "rsa-sha2-512" })
        {
            SshServerOptions transport = Harness.ServerOptions();
            transport.ServerSignatureAlgorithms.Clear();
            transport.ServerSignatureAlgorithms.Add("ssh-ed25519");
            transport.ServerSignatureAlgorithms.Add(algorithm);
            var logger = new ListLogger();
            SshServerAuthenticationOptions server = AcceptKeys(key);
            server.PublicKeyAlgorithms.Clear();
            server.PublicKeyAlgorithms.Add(algorithm);
            server.Logger = logger;
            int calls = 0;
            var validator = server.PublicKeyValidator!;
            server.PublicKeyValidator = (context, k, ct) =>
            {
                Interlocked.Increment(ref calls);
                return validator(context, k, ct);
            };
            var (client, served, c, s) = await RunAsync(Alice(key), server, transport);
            await client;
            await served;
            Assert.That(calls, Is.EqualTo(2), "a query (PK_OK), then the signed request");
            Assert.That(logger.Lines, Has.Some.Contains($"Signed {algorithm} key"));
            await c.DisposeAsync();
            await s.DisposeAsync();
        }
    }

    [Test]
    public async Task PublicKey_Ed25519_IsSignedAtOnce()
    {
        SshPrivateKey key = Harness.UserKey(SshHostKeyType.Ed25519);
        SshServerAuthenticationOptions server = AcceptKeys(key);
        int calls = 0;
        var validator = server.PublicKeyValidator!;
        server.PublicKeyValidator = (context, k, ct) =>
        {
            Interlocked.Increment(ref calls);
            return validator(context, k, ct);
        };
        var (client, served, c, s) = await RunAsync(Alice(key), server);
        await client;
        await served;
        Assert.That(calls, Is.EqualTo(1));
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public async Task PublicKey_WrongKey_ClientSaysWhatItTriedAndWhatTheServerAllows()
    {
        SshServerAuthenticationOptions server = AcceptKeys(Harness.UserKey(SshHostKeyType.Ed25519));
        server.PasswordValidator = (_, _, _) => ValueTask.FromResult(false);
        var (client, served, _, s) = await RunAsync(Alice(Harness.StrangerKey, Harness.UserKey(SshHostKeyType.Rsa)), server);
        SshAuthenticationException refused = await Harness.Throws<SshAuthenticationException>(client);
        Assert.Multiple(() =>
        {
            Assert.That(refused.Reason, Is.EqualTo(SshDisconnectReason.NoMoreAuthMethodsAvailable));
            Assert.That(refused.TriedMethods, Is.EqualTo(new[] { "publickey" }));
            Assert.That(refused.AllowedMethods, Is.EqualTo(new[] { "publickey", "password" }));
            Assert.That(refused.Message, Does.Contain("tried publickey (2 keys)").And.Contain("the server allows publickey, password").And.Contain("No password was given"));
        });

        // The client went away: the server says so, with what was tried.
        SshAuthenticationException left = await Harness.Throws<SshAuthenticationException>(served);
        Assert.That(left.TriedMethods, Is.EqualTo(new[] { "publickey" }));
        Assert.That(left.Message, Does.Contain("closed the connection"));
        await s.DisposeAsync();
    }

    [Test]
    public async Task Password_RightAndWrong()
    {
        SshServerAuthenticationOptions server = new()
        {
            PasswordValidator = (context, password, _) => ValueTask.FromResult(context.UserName == "alice" && password == "sésame ouvre-toi" && context.RemoteEndPoint == s_remote),
        };
        var right = Alice();
        right.Password = "sésame ouvre-toi";
        var (client, served, c, s) = await RunAsync(right, server);
        Assert.That((await client).Methods, Is.EqualTo(new[] { "password" }));
        Assert.That((await served).PublicKey, Is.Null);
        await c.DisposeAsync();
        await s.DisposeAsync();

        var wrong = Alice();
        wrong.Password = "sesame";
        (client, served, _, s) = await RunAsync(wrong, server);
        SshAuthenticationException refused = await Harness.Throws<SshAuthenticationException>(client);
        Assert.That(refused.TriedMethods, Is.EqualTo(new[] { "password" }));
        Assert.That(refused.AllowedMethods, Is.EqualTo(new[] { "password" }));
        await Harness.Throws<SshAuthenticationException>(served);
        await s.DisposeAsync();
    }

    [Test]
    public async Task None_RefusedUnlessConfigured()
    {
        var server = new SshServerAuthenticationOptions { NoneValidator = (context, _) => ValueTask.FromResult(context.UserName == "anonymous") };
        var (client, served, c, s) = await RunAsync(new SshClientAuthenticationOptions { UserName = "anonymous" }, server);
        Assert.That((await client).Methods, Is.EqualTo(new[] { "none" }));
        Assert.That((await served).Methods, Is.EqualTo(new[] { "none" }));
        await c.DisposeAsync();
        await s.DisposeAsync();

        (client, served, _, s) = await RunAsync(Alice(), server);
        SshAuthenticationException refused = await Harness.Throws<SshAuthenticationException>(client);
        Assert.That(refused.AllowedMethods, Is.Empty);
        Assert.That(refused.TriedMethods, Is.Empty);
        await Harness.Throws<SshAuthenticationException>(served);
        await s.DisposeAsync();
    }

    [Test]
    public async Task AttemptLimit_ServerDisconnectsWithNoMoreAuthMethods()
    {
        SshServerAuthenticationOptions server = AcceptKeys(Harness.UserKey(SshHostKeyType.Ed25519));
        server.MaxAttempts = 3;
        SshPrivateKey[] strangers = [.. Enumerable.Range(0, 5).Select(_ => SshPrivateKey.Generate(SshHostKeyType.Ed25519))];
        var (client, served, _, s) = await RunAsync(Alice(strangers), server);
        SshAuthenticationException cut = await Harness.Throws<SshAuthenticationException>(client);
        Assert.Multiple(() =>
        {
            Assert.That(cut.Reason, Is.EqualTo(SshDisconnectReason.NoMoreAuthMethodsAvailable));
            Assert.That(cut.InnerException, Is.TypeOf<SshPeerDisconnectedException>());
            Assert.That(cut.Message, Does.Contain("Too many authentication failures for alice (3)"));
        });
        SshAuthenticationException limit = await Harness.Throws<SshAuthenticationException>(served);
        Assert.That(limit.Reason, Is.EqualTo(SshDisconnectReason.NoMoreAuthMethodsAvailable));
        await s.DisposeAsync();
    }

    [Test]
    public async Task Deadline_ServerDisconnectsAndThrowsTimeout()
    {
        var time = new FakeTimeProvider();
        SshServerAuthenticationOptions server = AcceptKeys(Harness.UserKey(SshHostKeyType.Ed25519));
        server.TimeProvider = time;
        server.Timeout = TimeSpan.FromSeconds(30);
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        await c.RequestServiceAsync("ssh-userauth");
        Task<SshAuthenticatedUser> serving = SshServerAuthentication.AuthenticateAsync(s, server);
        Task<SshPacket> clientRead = c.ReadMessageAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(29));
        await Task.Delay(50);
        Assert.That(serving.IsCompleted, Is.False);
        time.Advance(TimeSpan.FromSeconds(1));
        SshTimeoutException timeout = await Harness.Throws<SshTimeoutException>(serving);
        Assert.That(timeout.Kind, Is.EqualTo(SshTimeoutKind.Authentication));
        Assert.That(timeout.Timeout, Is.EqualTo(TimeSpan.FromSeconds(30)));
        SshPeerDisconnectedException gone = await Harness.Throws<SshPeerDisconnectedException>(clientRead);
        Assert.That(gone.Description, Does.Contain("Authentication did not complete within 30 s"));
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public async Task PartialSuccess_PublicKeyThenPassword()
    {
        SshPrivateKey key = Harness.UserKey(SshHostKeyType.EcdsaNistP256);
        SshServerAuthenticationOptions server = AcceptKeys(key);
        var passwordContexts = new List<IReadOnlyList<string>>();
        server.PasswordValidator = (context, password, _) =>
        {
            passwordContexts.Add([.. context.CompletedMethods]);
            return ValueTask.FromResult(password == "second factor");
        };
        server.RequiredMethods.Add("publickey");
        server.RequiredMethods.Add("password");
        SshClientAuthenticationOptions client = Alice(key);
        client.Password = "second factor";
        var (ours, theirs, c, s) = await RunAsync(client, server);
        Assert.That((await ours).Methods, Is.EqualTo(new[] { "publickey", "password" }));
        SshAuthenticatedUser user = await theirs;
        Assert.That(user.Methods, Is.EqualTo(new[] { "publickey", "password" }));
        Assert.That(user.PublicKey, Is.EqualTo(key.PublicKey));
        Assert.That(passwordContexts, Has.Count.EqualTo(1));
        Assert.That(passwordContexts[0], Is.EqualTo(new[] { "publickey" }));
        await c.DisposeAsync();
        await s.DisposeAsync();

        // The password alone is not enough: publickey comes first.
        SshClientAuthenticationOptions passwordOnly = Alice();
        passwordOnly.Password = "second factor";
        (ours, theirs, _, s) = await RunAsync(passwordOnly, server);
        SshAuthenticationException refused = await Harness.Throws<SshAuthenticationException>(ours);
        Assert.That(refused.AllowedMethods, Is.EqualTo(new[] { "publickey" }));
        await Harness.Throws<SshAuthenticationException>(theirs);
        await s.DisposeAsync();
    }

    [Test]
    public async Task Banner_ReachesTheClientBeforeTheFirstAnswer()
    {
        SshPrivateKey key = Harness.UserKey(SshHostKeyType.Ed25519);
        SshServerAuthenticationOptions server = AcceptKeys(key);
        server.Banner = "Authorized use only.\r\n";
        var banners = new List<string>();
        SshClientAuthenticationOptions client = Alice(key);
        client.BannerReceived = banners.Add;
        var (ours, theirs, c, s) = await RunAsync(client, server);
        await ours;
        await theirs;
        Assert.That(banners, Is.EqualTo(new[] { "Authorized use only.\r\n" }));
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task HostBound_UsedWhenTheServerAnnouncesIt(bool announce)
    {
        SshPrivateKey key = Harness.UserKey(SshHostKeyType.Ed25519);
        SshServerAuthenticationOptions server = AcceptKeys(key);
        var methods = new List<string>();
        var validator = server.PublicKeyValidator!;
        server.PublicKeyValidator = (context, k, ct) =>
        {
            methods.Add(context.Method);
            return validator(context, k, ct);
        };
        SshServerOptions transport = Harness.ServerOptions();
        if (announce)
        {
            transport.Extensions[SshAuthenticationMethods.PublicKeyHostBoundExtension] = "0";
        }

        var (ours, theirs, c, s) = await RunAsync(Alice(key), server, transport);
        Assert.That((await ours).Methods, Is.EqualTo(new[] { "publickey" }));
        Assert.That((await theirs).Methods, Is.EqualTo(new[] { "publickey" }));
        Assert.That(methods, Is.EqualTo(new[] { announce ? "publickey-hostbound-v00@openssh.com" : "publickey" }));
        Assert.That(c.RemoteExtensions.ContainsKey("publickey-hostbound@openssh.com"), Is.EqualTo(announce));
        Assert.That(c.ServerSignatureAlgorithms, Is.Not.Empty);
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public async Task UnexpectedMessageBeforeAuthentication_IsAProtocolError()
    {
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        await c.RequestServiceAsync("ssh-userauth");
        Task<SshAuthenticatedUser> serving = SshServerAuthentication.AuthenticateAsync(s, AcceptKeys());
        await c.WriteMessageAsync(new byte[] { SshMessageNumber.ChannelOpen, 0, 0, 0, 0 });
        SshProtocolException error = await Harness.Throws<SshProtocolException>(serving);
        Assert.That(error.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError));
        Assert.That(error.Message, Does.Contain("CHANNEL_OPEN"));
        SshPeerDisconnectedException gone = await Harness.Throws<SshPeerDisconnectedException>(c.ReadMessageAsync().AsTask());
        Assert.That(gone.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError));
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public async Task DelayedCompression_OnAfterSuccess_BothWays()
    {
        SshPrivateKey key = Harness.UserKey(SshHostKeyType.Ed25519);
        SshClientOptions clientTransport = Harness.ClientOptions();
        clientTransport.CompressionAlgorithms.Clear();
        clientTransport.CompressionAlgorithms.Add("zlib@openssh.com");
        var (ours, theirs, c, s) = await RunAsync(Alice(key), AcceptKeys(key), clientTransport: clientTransport);
        await ours;
        await theirs;
        Assert.That(c.Algorithms.CompressionClientToServer, Is.EqualTo("zlib@openssh.com"));

        // The server writes right after SUCCESS: a client reading ahead must already inflate it.
        var zeros = new byte[32 * 1024];
        zeros[0] = SshMessageNumber.ChannelData;
        long written = s.BytesWritten;
        for (int i = 0; i < 8; i++)
        {
            await s.WriteMessageAsync(zeros);
            await c.WriteMessageAsync(zeros);
        }

        for (int i = 0; i < 8; i++)
        {
            SshPacket atClient = await c.ReadMessageAsync();
            Assert.That(atClient.Payload.Length, Is.EqualTo(zeros.Length));
            SshPacket atServer = await s.ReadMessageAsync();
            Assert.That(atServer.Payload.Length, Is.EqualTo(zeros.Length));
        }

        Assert.That(s.BytesWritten - written, Is.LessThan(8 * zeros.Length / 10), "compressed");
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public async Task ChangeOfUserName_IsRefusedWithADisconnect()
    {
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        await c.RequestServiceAsync("ssh-userauth");
        Task<SshAuthenticatedUser> serving = SshServerAuthentication.AuthenticateAsync(s, AcceptKeys());
        await RawClient.WriteRequestAsync(c, "alice", "none", static (ref SshWriter _) => { });
        Assert.That((await c.ReadMessageAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.UserAuthFailure));
        await RawClient.WriteRequestAsync(c, "mallory", "none", static (ref SshWriter _) => { });
        SshProtocolException error = await Harness.Throws<SshProtocolException>(serving);
        Assert.That(error.Message, Does.Contain("Change of user name"));
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public async Task PublicKey_UserCertificate_IsRefusedEvenByAValidatorThatAcceptsAnyKey()
    {
        // Host certificates parse as keys; user certificates (ssh-keygen -s without -h) are still not supported.
        string directory = Peers.NewTempDirectory();
        string ca = Path.Combine(directory, "ca");
        string pub = Path.Combine(directory, "user.pub");
        Peers.RunChecked(Peers.Require("ssh-keygen", "openssh-client"), "-q", "-t", "ed25519", "-N", "", "-f", ca);
        File.WriteAllText(pub, Harness.UserKey(SshHostKeyType.Ed25519).PublicKey + "\n");
        Peers.RunChecked("ssh-keygen", "-q", "-s", ca, "-I", "alice", "-n", "alice", pub);
        SshPublicKey certificate = SshPublicKey.Parse(File.ReadAllText(Path.Combine(directory, "user-cert.pub")));
        Directory.Delete(directory, recursive: true);
        Assert.That(certificate.Certificate?.Type, Is.EqualTo(SshCertificateType.User));

        var server = new SshServerAuthenticationOptions { PublicKeyValidator = (_, key, _) => ValueTask.FromResult<SshAuthorizedKey?>(new SshAuthorizedKey(key)) };
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        await c.RequestServiceAsync("ssh-userauth");
        Task<SshAuthenticatedUser> serving = SshServerAuthentication.AuthenticateAsync(s, server);
        await RawClient.WriteRequestAsync(c, "alice", "publickey", (ref SshWriter w) =>
        {
            w.WriteBoolean(false);
            w.WriteString(certificate.KeyType);
            w.WriteString(certificate.Blob.Span);
        });

        Assert.That((await c.ReadMessageAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.UserAuthFailure), "no PK_OK for a certificate");
        await c.DisposeAsync();
        await Harness.Throws<SshAuthenticationException>(serving);
        await s.DisposeAsync();
    }

    [Test]
    public async Task PasswordChangeRequest_IsRefusedAsAFailure()
    {
        var server = new SshServerAuthenticationOptions { PasswordValidator = (_, _, _) => throw new AssertionException("not asked") };
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        await c.RequestServiceAsync("ssh-userauth");
        Task<SshAuthenticatedUser> serving = SshServerAuthentication.AuthenticateAsync(s, server);
        await RawClient.WriteRequestAsync(c, "alice", "password", static (ref SshWriter w) =>
        {
            w.WriteBoolean(true);
            w.WriteString("old");
            w.WriteString("new");
        });
        SshPacket reply = await c.ReadMessageAsync();
        Assert.That(reply.MessageNumber, Is.EqualTo(SshMessageNumber.UserAuthFailure));
        var reader = new SshReader(reply.Payload.Span[1..]);
        Assert.That(reader.ReadNameList().ToString(), Is.EqualTo("password"));
        Assert.That(reader.ReadBoolean(), Is.False);
        await c.DisposeAsync();
        await Harness.Throws<SshAuthenticationException>(serving);
        await s.DisposeAsync();
    }

    [Test]
    public async Task PublicKey_BadSignatureOrWrongHostKey_IsRefused()
    {
        SshPrivateKey key = Harness.UserKey(SshHostKeyType.Ed25519);
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        await c.RequestServiceAsync("ssh-userauth");
        SshServerAuthenticationOptions server = AcceptKeys(key);
        Task<SshAuthenticatedUser> serving = SshServerAuthentication.AuthenticateAsync(s, server);

        // Signed over another session id: refused.
        byte[] wrongSession = new byte[c.SessionId.Length];
        await SignedRequestAsync(c, key, "publickey", wrongSession, ReadOnlyMemory<byte>.Empty);
        Assert.That((await c.ReadMessageAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.UserAuthFailure));

        // Host-bound to another server's host key: refused, even though the signature is good.
        byte[] otherHost = Harness.StrangerKey.PublicKey.Blob.ToArray();
        await SignedRequestAsync(c, key, "publickey-hostbound-v00@openssh.com", c.SessionId.ToArray(), otherHost);
        Assert.That((await c.ReadMessageAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.UserAuthFailure));

        // The right host key: accepted.
        await SignedRequestAsync(c, key, "publickey-hostbound-v00@openssh.com", c.SessionId.ToArray(), c.HostKey.Blob);
        Assert.That((await c.ReadMessageAsync()).MessageNumber, Is.EqualTo(SshMessageNumber.UserAuthSuccess));
        Assert.That((await serving).PublicKey, Is.EqualTo(key.PublicKey));
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    private static ValueTask SignedRequestAsync(SshTransport c, SshPrivateKey key, string method, byte[] sessionId, ReadOnlyMemory<byte> hostKey)
    {
        byte[] signed = Ssh.Transport.Connection.Authentication.UserAuthWire.SignedData(sessionId, "alice", "ssh-connection", method, "ssh-ed25519", key.PublicKey.Blob.Span, hostKey.Span);
        return c.WriteMessageAsync((key, method, hostKey, signed), static (b, s) =>
        {
            var w = new SshWriter(b);
            Ssh.Transport.Connection.Authentication.UserAuthWire.WritePublicKeyRequest(ref w, "alice", "ssh-connection", s.method, true, "ssh-ed25519", s.key.PublicKey.Blob.Span, s.hostKey.Span);
            s.key.WriteSignature(ref w, "ssh-ed25519", s.signed);
        });
    }

    [Test]
    public async Task KeyboardInteractive_AnswersThePasswordPromptOnly()
    {
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        var client = Alice();
        client.Password = "hunter2";
        var banners = new List<string>();
        client.BannerReceived = banners.Add;
        Task<SshAuthenticatedUser> authenticating = SshClientAuthentication.AuthenticateAsync(c, client);

        // A hand-written server: none → FAILURE(keyboard-interactive); then two prompts; then SUCCESS.
        SshPacket request = await s.ReadMessageAsync();
        Assert.That(RawClient.Method(request), Is.EqualTo("none"));
        await RawServer.FailureAsync(s, "keyboard-interactive");
        request = await s.ReadMessageAsync();
        Assert.That(RawClient.Method(request), Is.EqualTo("keyboard-interactive"));
        await s.WriteMessageAsync(0, static (b, _) =>
        {
            var w = new SshWriter(b);
            w.WriteByte(SshMessageNumber.UserAuthInfoRequest);
            w.WriteString("Login");
            w.WriteString("Answer the questions");
            w.WriteString(string.Empty);
            w.WriteUInt32(2);
            w.WriteString("Favourite colour: ");
            w.WriteBoolean(true);
            w.WriteString("Password: ");
            w.WriteBoolean(false);
        });
        SshPacket response = await s.ReadMessageAsync();
        Assert.That(response.MessageNumber, Is.EqualTo(SshMessageNumber.UserAuthInfoResponse));
        var reader = new SshReader(response.Payload.Span[1..]);
        Assert.That(reader.ReadUInt32(), Is.EqualTo(2));
        Assert.That(reader.ReadUtf8String(), Is.Empty);
        Assert.That(reader.ReadUtf8String(), Is.EqualTo("hunter2"));

        // A second round with no prompts (as PAM does), answered with no responses.
        await s.WriteMessageAsync(0, static (b, _) =>
        {
            var w = new SshWriter(b);
            w.WriteByte(SshMessageNumber.UserAuthInfoRequest);
            w.WriteString(string.Empty);
            w.WriteString(string.Empty);
            w.WriteString(string.Empty);
            w.WriteUInt32(0);
        });
        response = await s.ReadMessageAsync();
        Assert.That(response.Payload.ToArray(), Is.EqualTo(new byte[] { SshMessageNumber.UserAuthInfoResponse, 0, 0, 0, 0 }));
        await s.WriteMessageAsync(new byte[] { SshMessageNumber.UserAuthSuccess });
        SshAuthenticatedUser user = await authenticating.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(user.Methods, Is.EqualTo(new[] { "keyboard-interactive" }));
        Assert.That(banners, Is.EqualTo(new[] { "Login\nAnswer the questions" }));
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public async Task Password_PreferredOverKeyboardInteractive_AndChangeRequestEndsIt()
    {
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        var client = Alice();
        client.Password = "expired";
        Task<SshAuthenticatedUser> authenticating = SshClientAuthentication.AuthenticateAsync(c, client);
        await s.ReadMessageAsync();
        await RawServer.FailureAsync(s, "keyboard-interactive,password");
        SshPacket request = await s.ReadMessageAsync();
        Assert.That(RawClient.Method(request), Is.EqualTo("password"));

        // PASSWD_CHANGEREQ: the client does not change passwords; it goes on with keyboard-interactive.
        await s.WriteMessageAsync(0, static (b, _) =>
        {
            var w = new SshWriter(b);
            w.WriteByte(60);
            w.WriteString("Password expired");
            w.WriteString(string.Empty);
        });
        request = await s.ReadMessageAsync();
        Assert.That(RawClient.Method(request), Is.EqualTo("keyboard-interactive"));
        await RawServer.FailureAsync(s, "keyboard-interactive,password");
        SshAuthenticationException refused = await Harness.Throws<SshAuthenticationException>(authenticating);
        Assert.That(refused.TriedMethods, Is.EqualTo(new[] { "password", "keyboard-interactive" }));
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public async Task Options_AreChecked()
    {
        Assert.Throws<ArgumentNullException>(() => SshServerAuthentication.AuthenticateAsync(null!, new SshServerAuthenticationOptions()));
        Assert.Throws<ArgumentNullException>(() => SshClientAuthentication.AuthenticateAsync(null!, new SshClientAuthenticationOptions { UserName = "a" }));
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        Assert.Throws<ArgumentException>(() => SshClientAuthentication.AuthenticateAsync(c, new SshClientAuthenticationOptions()));
        Assert.Throws<InvalidOperationException>(() => SshClientAuthentication.AuthenticateAsync(s, Alice()));
        Assert.Throws<InvalidOperationException>(() => SshServerAuthentication.AuthenticateAsync(c, AcceptKeys()));
        ArgumentException none = Assert.Throws<ArgumentException>(() => SshServerAuthentication.AuthenticateAsync(s, new SshServerAuthenticationOptions()))!;
        Assert.That(none.Message, Does.Contain("No method is enabled"));
        var required = AcceptKeys();
        required.RequiredMethods.Add("password");
        required.MaxAttempts = 0;
        ArgumentException both = Assert.Throws<ArgumentException>(() => SshServerAuthentication.AuthenticateAsync(s, required))!;
        Assert.That(both.Message, Does.Contain("RequiredMethods lists 'password'").And.Contain("MaxAttempts is 0"));
        await c.DisposeAsync();
        await s.DisposeAsync();
    }
}

/// <summary>Requests written by hand, for cases our client would not produce.</summary>
internal static class RawClient
{
    public delegate void Fields(ref SshWriter writer);

    public static ValueTask WriteRequestAsync(SshTransport c, string user, string method, Fields fields) =>
        c.WriteMessageAsync((user, method, fields), static (b, s) =>
        {
            var w = new SshWriter(b);
            w.WriteByte(SshMessageNumber.UserAuthRequest);
            w.WriteString(s.user);
            w.WriteString("ssh-connection");
            w.WriteString(s.method);
            s.fields(ref w);
        });

    public static string Method(SshPacket request)
    {
        Assert.That(request.MessageNumber, Is.EqualTo(SshMessageNumber.UserAuthRequest));
        var reader = new SshReader(request.Payload.Span[1..]);
        reader.ReadString();
        reader.ReadString();
        return reader.ReadUtf8String();
    }
}

/// <summary>Answers written by hand.</summary>
internal static class RawServer
{
    public static ValueTask FailureAsync(SshTransport s, string methods) =>
        s.WriteMessageAsync(methods, static (b, m) =>
        {
            var w = new SshWriter(b);
            w.WriteByte(SshMessageNumber.UserAuthFailure);
            w.WriteString(m);
            w.WriteBoolean(false);
        });
}
