using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;

namespace Ssh.Transport.Benchmarks;

/// <summary>
/// Full handshakes (identification, KEXINIT, the key exchange, host-key signature and verification, NEWKEYS) between
/// our client and our server over in-memory pipes: both sides' work, so handshakes per second per core pair. The
/// baseline is the cheapest modern pair, curve25519 with ed25519.
/// </summary>
[MemoryDiagnoser]
public class HandshakeBenchmarks
{
    private SshPrivateKey _key = null!;

    [Params(
        "curve25519-sha256",
        "ecdh-sha2-nistp256",
        "ecdh-sha2-nistp384",
        "ecdh-sha2-nistp521",
        "diffie-hellman-group14-sha256",
        "diffie-hellman-group16-sha512",
        "diffie-hellman-group-exchange-sha256",
        "mlkem768x25519-sha256",
        "sntrup761x25519-sha512")]
    public string Kex { get; set; } = "";

    [Params(SshHostKeyType.Ed25519, SshHostKeyType.EcdsaNistP256, SshHostKeyType.Rsa)]
    public SshHostKeyType HostKey { get; set; }

    [GlobalSetup]
    public void Setup() => _key = HostKey == SshHostKeyType.Rsa ? SshPrivateKey.Generate(HostKey, 3072) : SshPrivateKey.Generate(HostKey);

    [GlobalCleanup]
    public void Cleanup() => _key.Dispose();

    [Benchmark]
    public async Task<int> Handshake()
    {
        var options = new PipeOptions(useSynchronizationContext: false);
        var toServer = new Pipe(options);
        var toClient = new Pipe(options);
        var server = new SshServerOptions();
        server.HostKeys.Add(_key);
        server.KeyExchangeAlgorithms.Clear();
        server.KeyExchangeAlgorithms.Add(Kex);
        var client = new SshClientOptions { HostKeyVerifier = static (_, _) => ValueTask.FromResult(true) };
        client.KeyExchangeAlgorithms.Clear();
        client.KeyExchangeAlgorithms.Add(Kex);
        Task<SshTransport> accepting = SshTransport.AcceptAsync(new Duplex(toServer.Reader, toClient.Writer), server);
        SshTransport connected = await SshTransport.ConnectAsync(new Duplex(toClient.Reader, toServer.Writer), client);
        SshTransport accepted = await accepting;
        int count = connected.KeyExchangeCount + accepted.KeyExchangeCount;
        await connected.DisposeAsync();
        await accepted.DisposeAsync();
        return count;
    }

}
