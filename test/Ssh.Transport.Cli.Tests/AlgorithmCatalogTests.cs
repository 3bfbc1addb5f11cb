using System.CommandLine;
using System.IO.Pipelines;

namespace Ssh.Transport.Cli.Tests;

/// <summary>
/// The tool checks its algorithm options against the library's <see cref="SshAlgorithmCatalog"/>: every option
/// accepts exactly the catalog's names, and every name of the catalog is negotiated here, alone, between a client and
/// a server of the library, so the catalog cannot promise what the transport does not do.
/// </summary>
public class AlgorithmCatalogTests
{
    private static readonly Lazy<SshPrivateKey> s_ed25519 = new(() => SshPrivateKey.Generate(SshHostKeyType.Ed25519));
    private static readonly Lazy<SshPrivateKey> s_rsa = new(() => SshPrivateKey.Generate(SshHostKeyType.Rsa, 2048));

    private static IEnumerable<string> KeyExchange => SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.KeyExchange);

    private static IEnumerable<string> Cipher => SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.Cipher);

    private static IEnumerable<string> Mac => SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.Mac);

    private static IEnumerable<string> HostKey => SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.HostKey);

    private static IEnumerable<string> Compression => SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.Compression);

    private static IEnumerable<TestCaseData> ListOptions => Algorithms.ListOptions.Select(o => new TestCaseData(o.Option, o.Category));

    // ---- The tool agrees with the catalog -----------------------------------------------------------------------

    [Test]
    public void Every_category_has_exactly_one_option()
    {
        Assert.That(Algorithms.ListOptions.Select(o => o.Category), Is.EquivalentTo(Enum.GetValues<SshAlgorithmCategory>()));
    }

    [TestCaseSource(nameof(ListOptions))]
    public void An_option_accepts_every_supported_name_in_the_order_given(string option, SshAlgorithmCategory category)
    {
        string[] reversed = [.. SshAlgorithmCatalog.GetSupported(category).Reverse()];
        List<string>? names = Algorithms.ParseList(option, string.Join(',', reversed), category, out string? error);
        Assert.That(error, Is.Null);
        Assert.That(names, Is.EqualTo(reversed));
    }

    [TestCaseSource(nameof(ListOptions))]
    public void An_option_refuses_an_unknown_name_and_lists_the_catalog(string option, SshAlgorithmCategory category)
    {
        Assert.That(Algorithms.ParseList(option, "no-such-algorithm", category, out string? error), Is.Null);
        Assert.That(error, Is.EqualTo($"{option}: unknown algorithm 'no-such-algorithm'; supported: {string.Join(',', SshAlgorithmCatalog.GetSupported(category))}"));
    }

    [TestCase("--kex", "ext-info-c")]
    [TestCase("--kex", "kex-strict-c-v00@openssh.com")]
    [TestCase("--cipher", "AES128-CTR")]
    [TestCase("--hostkey", "ssh-dss")]
    public void Signals_and_near_misses_are_unknown(string option, string name)
    {
        SshAlgorithmCategory category = Algorithms.ListOptions.Single(o => o.Option == option).Category;
        Assert.That(Algorithms.ParseList(option, name, category, out string? error), Is.Null);
        Assert.That(error, Does.Contain($"unknown algorithm '{name}'"));
    }

    [TestCaseSource(nameof(ListOptions))]
    public void Apply_replaces_the_matching_list_and_nothing_else(string option, SshAlgorithmCategory category)
    {
        string last = SshAlgorithmCatalog.GetSupported(category)[^1];
        var options = new SshClientOptions();
        var untouched = new SshClientOptions();
        var command = new Command("t");
        var algorithms = new AlgorithmOptions(command);
        ParseResult parsed = command.Parse([option, last]);
        Assert.That(parsed.Errors, Is.Empty);
        algorithms.Read(parsed).ApplyTo(options);
        foreach ((_, SshAlgorithmCategory other, _) in Algorithms.ListOptions)
        {
            IList<string> expected = other == category ? [last] : Algorithms.Target(untouched, other);
            Assert.That(Algorithms.Target(options, other), Is.EqualTo(expected), other.ToString());
        }
    }

    [Test]
    public void The_demo_suites_are_supported_and_not_legacy()
    {
        foreach ((string cipher, string? mac) in DemoCommand.Suites)
        {
            Assert.That(SshAlgorithmCatalog.IsSupported(SshAlgorithmCategory.Cipher, cipher), Is.True, cipher);
            Assert.That(SshAlgorithmCatalog.IsLegacy(SshAlgorithmCategory.Cipher, cipher), Is.False, cipher);
            Assert.That(mac is null || (SshAlgorithmCatalog.IsSupported(SshAlgorithmCategory.Mac, mac) && !SshAlgorithmCatalog.IsLegacy(SshAlgorithmCategory.Mac, mac)), Is.True, mac);
        }
    }

    [Test]
    public async Task The_demo_suites_negotiate_as_written()
    {
        foreach ((string cipher, string? mac) in DemoCommand.Suites)
        {
            SshAlgorithms negotiated = await NegotiateAsync(o =>
            {
                Only(o.Ciphers, cipher);
                if (mac is not null)
                {
                    Only(o.Macs, mac);
                }
            });
            Assert.That(negotiated.CipherClientToServer, Is.EqualTo(cipher));
            Assert.That(negotiated.MacClientToServer, Is.EqualTo(mac), $"{cipher}: a null MAC means an AEAD cipher");
        }
    }

    // ---- The catalog agrees with what a real negotiation accepts -------------------------------------------------

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
        Assert.That(negotiated.MacServerToClient, Is.EqualTo(negotiated.MacClientToServer));
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
            "rsa-sha2-512" or "rsa-sha2-256" or "ssh-rsa" => SshHostKeyType.Rsa,
            _ => throw new AssertionException($"no host key type for {name}: teach this test the new algorithm"),
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
    public async Task The_defaults_negotiate_the_first_default_of_each_category()
    {
        SshAlgorithms negotiated = await NegotiateAsync(_ => { });
        Assert.That(negotiated.KeyExchange, Is.EqualTo(SshAlgorithmCatalog.GetDefaults(SshAlgorithmCategory.KeyExchange)[0]));
        Assert.That(negotiated.HostKey, Is.EqualTo(SshAlgorithmCatalog.GetDefaults(SshAlgorithmCategory.HostKey)[0]));
        Assert.That(negotiated.CipherClientToServer, Is.EqualTo(SshAlgorithmCatalog.GetDefaults(SshAlgorithmCategory.Cipher)[0]));
        Assert.That(negotiated.CompressionClientToServer, Is.EqualTo(SshAlgorithmCatalog.GetDefaults(SshAlgorithmCategory.Compression)[0]));
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
        server.Validate();
        client.Validate();

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
