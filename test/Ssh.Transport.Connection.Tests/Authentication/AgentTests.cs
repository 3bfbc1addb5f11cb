using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Authentication;

/// <summary>The client with an ssh-agent of our own making (the real ssh-agent is in the OpenSSH tests).</summary>
public class AgentTests
{
    [Test]
    public async Task Agent_RsaKeySignsWithTheFlagForTheServersAlgorithm()
    {
        SshPrivateKey rsa = Harness.UserKey(SshHostKeyType.Rsa);
        SshPrivateKey unused = Harness.UserKey(SshHostKeyType.EcdsaNistP384);
        await using var agent = FakeAgent.Start([unused, rsa]);
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        var server = new SshServerAuthenticationOptions
        {
            PublicKeyValidator = (_, key, _) => ValueTask.FromResult(key == rsa.PublicKey ? new SshAuthorizedKey(key) : null),
        };
        Task<SshAuthenticatedUser> serving = SshServerAuthentication.AuthenticateAsync(s, server);
        var client = new SshClientAuthenticationOptions { UserName = "alice", UseAgent = true, AgentSocketPath = agent.Path };
        SshAuthenticatedUser user = await SshClientAuthentication.AuthenticateAsync(c, client).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(user.PublicKey, Is.EqualTo(rsa.PublicKey));
        Assert.That((await serving).PublicKey, Is.EqualTo(rsa.PublicKey));

        // The ECDSA key was only offered (a query, refused): the agent signed once, for RSA, asking for SHA-512.
        Assert.That(agent.SignRequests, Is.EqualTo(new[] { ("ssh-rsa", 4u) }));
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public async Task Agent_RefusingToSign_MovesOnToThePassword()
    {
        SshPrivateKey key = Harness.UserKey(SshHostKeyType.Ed25519);
        await using var agent = FakeAgent.Start([key], refuseToSign: true);
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        var server = new SshServerAuthenticationOptions
        {
            PublicKeyValidator = (_, k, _) => ValueTask.FromResult<SshAuthorizedKey?>(new SshAuthorizedKey(k)),
            PasswordValidator = (_, p, _) => ValueTask.FromResult(p == "pw"),
        };
        Task<SshAuthenticatedUser> serving = SshServerAuthentication.AuthenticateAsync(s, server);
        var client = new SshClientAuthenticationOptions { UserName = "alice", UseAgent = true, AgentSocketPath = agent.Path, Password = "pw" };
        SshAuthenticatedUser user = await SshClientAuthentication.AuthenticateAsync(c, client).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(user.Methods, Is.EqualTo(new[] { "password" }));
        await serving;
        Assert.That(agent.SignRequests, Has.Count.EqualTo(1));
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public async Task Agent_Missing_IsNotAnError()
    {
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        var server = new SshServerAuthenticationOptions { PasswordValidator = (_, p, _) => ValueTask.FromResult(p == "pw") };
        server.PublicKeyValidator = (_, _, _) => ValueTask.FromResult<SshAuthorizedKey?>(null);
        Task<SshAuthenticatedUser> serving = SshServerAuthentication.AuthenticateAsync(s, server);
        var client = new SshClientAuthenticationOptions { UserName = "alice", UseAgent = true, AgentSocketPath = "/nonexistent/agent.sock", Password = "pw" };
        Assert.That((await SshClientAuthentication.AuthenticateAsync(c, client).WaitAsync(TimeSpan.FromSeconds(30))).Methods, Is.EqualTo(new[] { "password" }));
        await serving;
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    /// <summary>
    /// An agent on a Unix socket: answers REQUEST_IDENTITIES (with an unusable ssh-dss entry first) and SIGN_REQUEST
    /// (flags 2/4 choose rsa-sha2-256/512), and records what it was asked to sign.
    /// </summary>
    private sealed class FakeAgent : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly SshPrivateKey[] _keys;
        private readonly bool _refuseToSign;
        private readonly Task _serving;
        private readonly List<(string, uint)> _signRequests = [];

        private FakeAgent(string path, SshPrivateKey[] keys, bool refuseToSign)
        {
            Path = path;
            _keys = keys;
            _refuseToSign = refuseToSign;
            _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            _listener.Bind(new UnixDomainSocketEndPoint(path));
            _listener.Listen();
            _serving = ServeAsync();
        }

        public string Path { get; }

        public List<(string, uint)> SignRequests
        {
            get
            {
                lock (_signRequests)
                {
                    return [.. _signRequests];
                }
            }
        }

        public static FakeAgent Start(SshPrivateKey[] keys, bool refuseToSign = false) =>
            new(System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"agent-{Guid.NewGuid():N}.sock"), keys, refuseToSign);

        private async Task ServeAsync()
        {
            try
            {
                while (true)
                {
                    Socket connection = await _listener.AcceptAsync();
                    _ = ConverseAsync(connection);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        private async Task ConverseAsync(Socket connection)
        {
            await using var stream = new NetworkStream(connection, ownsSocket: true);
            var header = new byte[4];
            try
            {
                while (true)
                {
                    await stream.ReadExactlyAsync(header);
                    var message = new byte[BinaryPrimitives.ReadUInt32BigEndian(header)];
                    await stream.ReadExactlyAsync(message);
                    byte[] answer = Answer(message);
                    BinaryPrimitives.WriteUInt32BigEndian(header, (uint)answer.Length);
                    await stream.WriteAsync(header);
                    await stream.WriteAsync(answer);
                }
            }
            catch (EndOfStreamException)
            {
            }
        }

        private byte[] Answer(byte[] message)
        {
            var output = new ArrayBufferWriter<byte>();
            var writer = new SshWriter(output);
            if (message[0] == 11)
            {
                writer.WriteByte(12);
                writer.WriteUInt32((uint)_keys.Length + 1);
                var dss = new ArrayBufferWriter<byte>();
                var d = new SshWriter(dss);
                d.WriteString("ssh-dss");
                d.WriteString(new byte[] { 1 });
                writer.WriteString(dss.WrittenSpan);
                writer.WriteString("an old dsa key");
                foreach (SshPrivateKey key in _keys)
                {
                    writer.WriteString(key.PublicKey.Blob.Span);
                    writer.WriteString("agent " + key.KeyType);
                }
            }
            else if (message[0] == 13)
            {
                var reader = new SshReader(message.AsSpan(1));
                SshPublicKey wanted = SshPublicKey.FromBlob(reader.ReadString());
                ReadOnlySpan<byte> data = reader.ReadString();
                uint flags = reader.ReadUInt32();
                lock (_signRequests)
                {
                    _signRequests.Add((wanted.KeyType, flags));
                }

                SshPrivateKey? key = _keys.FirstOrDefault(k => k.PublicKey == wanted);
                if (key is null || _refuseToSign)
                {
                    writer.WriteByte(5);
                }
                else
                {
                    string algorithm = key.KeyType != "ssh-rsa" ? key.KeyType : (flags & 4) != 0 ? "rsa-sha2-512" : (flags & 2) != 0 ? "rsa-sha2-256" : "ssh-rsa";
                    writer.WriteByte(14);
                    key.WriteSignature(ref writer, algorithm, data, allowSha1: true);
                }
            }
            else
            {
                writer.WriteByte(5);
            }

            return output.WrittenSpan.ToArray();
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Dispose();
            await _serving;
            File.Delete(Path);
        }
    }
}
