using System.IO.Pipelines;

namespace Ssh.Transport.Cli.Tests;

/// <summary>
/// The tool's lists of algorithm names (the library keeps its tables internal) must name exactly what the library
/// negotiates: every entry is negotiated here, alone, between a client and a server of the library.
/// </summary>
public class AlgorithmCatalogTests
{
    private static readonly Lazy<SshPrivateKey> s_ed25519 = new(() => SshPrivateKey.Generate(SshHostKeyType.Ed25519));
    private static readonly Lazy<SshPrivateKey> s_rsa = new(() => SshPrivateKey.Generate(SshHostKeyType.Rsa, 2048));

    private static IEnumerable<string> KeyExchange => Algorithms.KeyExchange;

    private static IEnumerable<string> Cipher => Algorithms.Cipher;

    private static IEnumerable<string> Mac => Algorithms.Mac;

    private static IEnumerable<string> HostKey => Algorithms.HostKey;

    private static IEnumerable<string> Compression => Algorithms.Compression;

    [TestCaseSource(nameof(KeyExchange))]
    public async Task Key_exchange(string name)
    {
        SshAlgorithms negotiated = await NegotiateAsync(o => Only(o.KeyExchangeAlgorithms, name));
        Assert.That(negotiated.KeyExchange, Is.EqualTo(name));
    }

    [TestCaseSource(nameof(Cipher))]
    public async Task Cipher_(string name)
    {
        SshAlgorithms negotiated = await NegotiateAsync(o => Only(o.Ciphers, name));
        Assert.That(negotiated.CipherClientToServer, Is.EqualTo(name));
        Assert.That(negotiated.CipherServerToClient, Is.EqualTo(name));
        Assert.That(negotiated.MacClientToServer is null, Is.EqualTo(Algorithms.AeadCipher.Contains(name)), "AEAD ciphers use no MAC");
    }

    [TestCaseSource(nameof(Mac))]
    public async Task Mac_(string name)
    {
        SshAlgorithms negotiated = await NegotiateAsync(o =>
        {
            Only(o.Ciphers, "aes128-ctr");
            Only(o.Macs, name);
        });
        Assert.That(negotiated.MacClientToServer, Is.EqualTo(name));
        Assert.That(negotiated.MacServerToClient, Is.EqualTo(name));
    }

    [TestCaseSource(nameof(HostKey))]
    public async Task Host_key(string name)
    {
        SshHostKeyType type = name switch
        {
            "ssh-ed25519" => SshHostKeyType.Ed25519,
            "ecdsa-sha2-nistp256" => SshHostKeyType.EcdsaNistP256,
            "ecdsa-sha2-nistp384" => SshHostKeyType.EcdsaNistP384,
            "ecdsa-sha2-nistp521" => SshHostKeyType.EcdsaNistP521,
            _ => SshHostKeyType.Rsa,
        };
        SshPrivateKey key = type switch
        {
            SshHostKeyType.Ed25519 => s_ed25519.Value,
            SshHostKeyType.Rsa => s_rsa.Value,
            _ => SshPrivateKey.Generate(type),
        };
        SshAlgorithms negotiated = await NegotiateAsync(o => Only(o.HostKeyAlgorithms, name), key);
        Assert.That(negotiated.HostKey, Is.EqualTo(name));
    }

    [TestCaseSource(nameof(Compression))]
    public async Task Compression_(string name)
    {
        SshAlgorithms negotiated = await NegotiateAsync(o => Only(o.CompressionAlgorithms, name));
        Assert.That(negotiated.CompressionClientToServer, Is.EqualTo(name));
    }

    [Test]
    public void The_demo_suites_are_in_the_catalog()
    {
        foreach ((string cipher, string? mac) in DemoCommand.Suites)
        {
            Assert.That(Algorithms.Cipher, Does.Contain(cipher));
            Assert.That(mac is null || Algorithms.Mac.Contains(mac), Is.True);
            Assert.That(mac is null, Is.EqualTo(Algorithms.AeadCipher.Contains(cipher)));
        }
    }

    private static void Only(IList<string> list, string name)
    {
        list.Clear();
        list.Add(name);
    }

    private static async Task<SshAlgorithms> NegotiateAsync(Action<SshTransportOptions> configure, SshPrivateKey? key = null)
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        var server = new SshServerOptions { HandshakeTimeout = TimeSpan.FromSeconds(60) };
        server.HostKeys.Add(key ?? s_ed25519.Value);
        var client = new SshClientOptions
        {
            HandshakeTimeout = TimeSpan.FromSeconds(60),
            HostKeyVerifier = (_, _) => ValueTask.FromResult(true),
        };
        configure(server);
        configure(client);

        Task<SshTransport> accepting = SshTransport.AcceptAsync(new Duplex(toServer.Reader, toClient.Writer), server);
        Task<SshTransport> connecting = SshTransport.ConnectAsync(new Duplex(toClient.Reader, toServer.Writer), client);
        Task first = await Task.WhenAny(accepting, connecting).WaitAsync(CliRunner.Timeout);
        await first; // a failure on either side surfaces here
        await using SshTransport clientTransport = await connecting.WaitAsync(CliRunner.Timeout);
        await using SshTransport serverTransport = await accepting.WaitAsync(CliRunner.Timeout);
        Assert.That(serverTransport.Algorithms.ToString(), Is.EqualTo(clientTransport.Algorithms.ToString()));
        return clientTransport.Algorithms;
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
