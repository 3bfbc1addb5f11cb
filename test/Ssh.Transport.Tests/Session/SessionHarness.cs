using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Session;

/// <summary>Client and server transports of our own, joined by in-memory pipes or a loopback socket.</summary>
internal static class SessionHarness
{
    private static readonly Lazy<Dictionary<SshHostKeyType, SshPrivateKey>> s_keys = new(() => new()
    {
        [SshHostKeyType.Ed25519] = SshPrivateKey.Generate(SshHostKeyType.Ed25519),
        [SshHostKeyType.EcdsaNistP256] = SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP256),
        [SshHostKeyType.EcdsaNistP384] = SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP384),
        [SshHostKeyType.EcdsaNistP521] = SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP521),
        [SshHostKeyType.Rsa] = SshPrivateKey.Generate(SshHostKeyType.Rsa, 2048),
    });

    public static SshPrivateKey Key(SshHostKeyType type) => s_keys.Value[type];

    public static SshServerOptions ServerOptions(SshHostKeyType keyType = SshHostKeyType.Ed25519)
    {
        var options = new SshServerOptions { HandshakeTimeout = TimeSpan.FromSeconds(30) };
        options.HostKeys.Add(Key(keyType));
        return options;
    }

    public static SshClientOptions ClientOptions(SshPublicKey? trusted = null) => new()
    {
        HandshakeTimeout = TimeSpan.FromSeconds(30),
        HostKeyVerifier = (key, _) => ValueTask.FromResult(trusted is null || key == trusted),
    };

    public static async Task<(SshTransport Client, SshTransport Server)> ConnectAsync(SshClientOptions client, SshServerOptions server, IDuplexPipe? clientPipe = null, IDuplexPipe? serverPipe = null)
    {
        if (clientPipe is null || serverPipe is null)
        {
            var pipes = new PipePair();
            clientPipe = pipes.Client;
            serverPipe = pipes.Server;
        }

        Task<SshTransport> accepting = SshTransport.AcceptAsync(serverPipe, server);
        Task<SshTransport> connecting = SshTransport.ConnectAsync(clientPipe, client);
        await WhenBothOrFirstFailure(accepting, connecting);
        return (await connecting, await accepting);
    }

    /// <summary>A loopback TCP connection, both ends as pipes.</summary>
    public static async Task<(IDuplexPipe Client, IDuplexPipe Server, IDisposable Cleanup)> LoopbackAsync()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Task<Socket> accepting = listener.AcceptSocketAsync();
        await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint);
        Socket server = await accepting;
        listener.Stop();
        return (SshClientConnector.CreatePipe(client), SshClientConnector.CreatePipe(server), new Cleanup(client, server));
    }

    private sealed class Cleanup(Socket a, Socket b) : IDisposable
    {
        public void Dispose()
        {
            a.Dispose();
            b.Dispose();
        }
    }

    /// <summary>Awaits both; if one fails first, its exception surfaces rather than the other hanging.</summary>
    public static async Task WhenBothOrFirstFailure(Task a, Task b)
    {
        Task first = await Task.WhenAny(a, b);
        await first;
        await (first == a ? b : a).WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>The client asks for ssh-userauth while the server's read loop answers it.</summary>
    public static async Task<Task<SshPacket>> RequestUserAuthAsync(SshTransport client, SshTransport server)
    {
        Task<SshPacket> serverRead = server.ReadMessageAsync().AsTask();
        await client.RequestServiceAsync(SshTransportOptions.UserAuthService).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(client.Service, Is.EqualTo("ssh-userauth"));
        Assert.That(server.Service, Is.EqualTo("ssh-userauth"));
        return serverRead;
    }

    /// <summary>Message 94 (CHANNEL_DATA-like): uint32 index, uint32 checksum, filler.</summary>
    public static ValueTask WriteNumberedAsync(SshTransport transport, int index, int length) =>
        transport.WriteMessageAsync((index, length), static (w, s) =>
        {
            Span<byte> span = w.GetSpan(s.length);
            span[0] = SshMessageNumber.ChannelData;
            BinaryPrimitives.WriteInt32BigEndian(span[1..], s.index);
            var random = new Random(s.index);
            random.NextBytes(span[9..s.length]);
            BinaryPrimitives.WriteUInt32BigEndian(span[5..], Checksum(span[9..s.length]));
            w.Advance(s.length);
        }, length);

    public static int CheckNumbered(SshPacket packet)
    {
        ReadOnlySpan<byte> p = packet.Payload.Span;
        Assert.That(p[0], Is.EqualTo(SshMessageNumber.ChannelData));
        int index = BinaryPrimitives.ReadInt32BigEndian(p[1..]);
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(p[5..]), Is.EqualTo(Checksum(p[9..])), $"message {index} intact");
        return index;
    }

    private static uint Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 2166136261;
        foreach (byte b in data)
        {
            sum = (sum ^ b) * 16777619;
        }

        return sum;
    }
}
