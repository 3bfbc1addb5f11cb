using Ssh.Transport.HostKeys;
using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests;

/// <summary>
/// OpenSSH host certificates (PROTOCOL.certkeys), made by ssh-keygen -s: sshd with HostCertificate against our client
/// trusting the CA in known_hosts (@cert-authority), and ssh with an @cert-authority known_hosts and
/// StrictHostKeyChecking=yes against our server presenting a certificate; in both directions a CA that does not match
/// is refused.
/// </summary>
public sealed partial class OpenSshInteropTests
{
    private static IEnumerable<TestCaseData> CertificateCases() =>
        from generation in Generations()
        from kind in new[] { "ed25519", "ecdsa256", "rsa", "rsa-sha2-256" }
        select new TestCaseData(generation, kind);

    /// <summary>The plain host key algorithm of a key kind, and the certificate algorithm that presents it.</summary>
    private static (string Plain, string Certificate) CertificateAlgorithms(string kind) => kind switch
    {
        "ed25519" => (SshHostKeyAlgorithms.Ed25519, SshHostKeyAlgorithms.Ed25519Cert),
        "ecdsa256" => (SshHostKeyAlgorithms.EcdsaNistP256, SshHostKeyAlgorithms.EcdsaNistP256Cert),
        "rsa-sha2-256" => (SshHostKeyAlgorithms.RsaSha256, SshHostKeyAlgorithms.RsaSha256Cert),
        _ => (SshHostKeyAlgorithms.RsaSha512, SshHostKeyAlgorithms.RsaSha512Cert),
    };

    /// <summary>The key kind (PeerKeys) of a case's kind: the RSA key for both RSA signature algorithms.</summary>
    private static string KeyKind(string kind) => kind.StartsWith("rsa", StringComparison.Ordinal) ? "rsa" : kind;

    private static string Keygen => Tools.Find("ssh-keygen") ?? NewestPeers.Find("openssh/bin/ssh-keygen")
        ?? throw new InvalidOperationException("ssh-keygen is not installed (apt install openssh-client).");

    /// <summary>A new CA key pair in the case's folder; returns the private key's path.</summary>
    private static string NewCa(CaseContext context, string name)
    {
        string path = Path.Combine(context.TempDirectory, name);
        Tools.RunChecked(Keygen, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path);
        return path;
    }

    /// <summary>ssh-keygen -s CA -h -n 127.0.0.1 on a copy of <paramref name="publicKeyLine"/>; the certificate's path.</summary>
    private static string Certify(CaseContext context, string ca, string publicKeyLine, string name)
    {
        string pub = Path.Combine(context.TempDirectory, name + ".pub");
        File.WriteAllText(pub, publicKeyLine.Trim() + "\n");
        Tools.RunChecked(Keygen, "-q", "-s", ca, "-I", $"interop {name}", "-h", "-n", "127.0.0.1", "-V", "-5m:+1h", pub);
        return Path.Combine(context.TempDirectory, name + "-cert.pub");
    }

    private static SshClientOptions ClientTrusting(CaseContext context, string caPublicKeyFile, int port, string? plainAlgorithm)
    {
        SshClientOptions options = OurSide.ClientOptions(new AlgorithmChoice { HostKey = plainAlgorithm }, context.OurLog);
        options.HostKeyVerifier = KnownHostsVerifier.Parse($"@cert-authority [127.0.0.1]:{port} {File.ReadAllText(caPublicKeyFile).Trim()}\n").ForHost("127.0.0.1", port);
        return options;
    }

    [TestCaseSource(nameof(CertificateCases))]
    public Task OurClient_vs_OpenSsh_HostCertificate(PeerGeneration generation, string kind)
    {
        OpenSshPeer peer = OpenSshPeer.Of(generation);
        (string plain, string certificateAlgorithm) = CertificateAlgorithms(kind);
        return Runner.RunAsync(new InteropCase(peer, InteropRole.OurClient, Dimension.HostKey, certificateAlgorithm), async context =>
        {
            peer.RequireAvailable();
            string ca = NewCa(context, "ca");
            string certificate = Certify(context, ca, File.ReadAllText(PeerKeys.OpenSsh[KeyKind(kind)] + ".pub"), "sshd_" + kind);
            ServerHandle server = await peer.StartServerAsync(context, new AlgorithmChoice(), [$"HostCertificate {certificate}"]);
            SshClientOptions options = ClientTrusting(context, ca + ".pub", server.Port, plain);
            SshTransport transport = await SshClientConnector.ConnectAsync("127.0.0.1", server.Port, options, TimeSpan.FromSeconds(10), context.Token);
            await using (transport)
            {
                context.Ours = NegotiatedView.From(transport);
                SshCertificate? presented = transport.HostKey.Certificate;
                context.Check(presented is not null, $"sshd presented a plain {transport.HostKey.KeyType} key, not its certificate");
                context.Check(presented?.CertificateAuthority == SshPublicKey.Parse(File.ReadAllText(ca + ".pub")), "the certificate's CA is not the one that signed it");
                context.Check(transport.HostKey == SshPublicKey.Parse(File.ReadAllText(certificate)), "the certificate differs from sshd's HostCertificate file");
                await transport.RequestServiceAsync(SshTransportOptions.UserAuthService, context.Token);
                await OurSide.SendUserAuthNoneAsync(transport, "interop", context.Token);
                context.Note = $"sshd's HostCertificate verified through @cert-authority; server offered {await OurSide.ReadUserAuthFailureAsync(transport, context.Token)}";
                await transport.DisconnectAsync(SshDisconnectReason.ByApplication, "interop test done", context.Token);
            }

            context.Peer = await server.NegotiatedAsync(TimeSpan.FromSeconds(5));
            Runner.CheckNegotiation(context, peer);
        });
    }

    [TestCaseSource(nameof(Generations))]
    public Task OurClient_vs_OpenSsh_HostCertificateOfAnotherCa(PeerGeneration generation)
    {
        OpenSshPeer peer = OpenSshPeer.Of(generation);
        return Runner.RunAsync(new InteropCase(peer, InteropRole.OurClient, Dimension.Refused, "host certificate of an untrusted CA"), async context =>
        {
            peer.RequireAvailable();
            string ca = NewCa(context, "ca");
            string trusted = NewCa(context, "trusted");
            string certificate = Certify(context, ca, File.ReadAllText(PeerKeys.OpenSsh["ed25519"] + ".pub"), "sshd_ed25519");
            ServerHandle server = await peer.StartServerAsync(context, new AlgorithmChoice(), [$"HostCertificate {certificate}"]);
            SshClientOptions options = ClientTrusting(context, trusted + ".pub", server.Port, SshHostKeyAlgorithms.Ed25519);
            SshHostKeyRejectedException? refused = null;
            try
            {
                await using SshTransport transport = await SshClientConnector.ConnectAsync("127.0.0.1", server.Port, options, TimeSpan.FromSeconds(10), context.Token);
            }
            catch (SshHostKeyRejectedException e)
            {
                refused = e;
            }

            context.Check(refused?.KnownHostsResult == KnownHostsResult.CertificateUnknownAuthority,
                $"expected CertificateUnknownAuthority, got {refused?.Message ?? "a completed handshake"}");
            context.Check(refused?.Certificate?.CertificateAuthority == SshPublicKey.Parse(File.ReadAllText(ca + ".pub")), "the exception does not carry the certificate's CA");
            context.Ours = new NegotiatedView { Strict = peer.Algorithms(InteropRole.OurClient).StrictKex };
            context.Note = $"our client refuses: {refused?.Message}";
        });
    }

    [TestCaseSource(nameof(CertificateCases))]
    public Task OpenSsh_vs_OurServer_HostCertificate(PeerGeneration generation, string kind)
    {
        OpenSshPeer peer = OpenSshPeer.Of(generation);
        (_, string certificateAlgorithm) = CertificateAlgorithms(kind);
        return Runner.RunAsync(new InteropCase(peer, InteropRole.OurServer, Dimension.HostKey, certificateAlgorithm), async context =>
        {
            peer.RequireAvailable();
            string ca = NewCa(context, "ca");
            SshServerOptions options = OurSide.ServerOptions(new AlgorithmChoice(), context.OurLog);
            SshPrivateKey key = options.HostKeys.First(k => k.SignatureAlgorithms.Contains(CertificateAlgorithms(kind).Plain));
            string certificate = Certify(context, ca, key.PublicKey.ToString(), "ours_" + kind);
            options.HostCertificates.Add(SshPublicKey.Parse(File.ReadAllText(certificate)));
            string knownHosts = Path.Combine(context.TempDirectory, "known_hosts");
            await using OurServer server = OurServer.Start(options);
            File.WriteAllText(knownHosts, $"@cert-authority [127.0.0.1]:{server.Port} {File.ReadAllText(ca + ".pub").Trim()}\n");

            // ed25519: ssh's own order (certificates first, as its known_hosts has a CA); the others named.
            var choice = new AlgorithmChoice { HostKey = kind == "ed25519" ? null : certificateAlgorithm };
            ClientHandle client = await peer.RunClientAsync(context, server.Port, choice,
                ["-o", "StrictHostKeyChecking=yes", "-o", $"UserKnownHostsFile={knownHosts}", "-o", "GlobalKnownHostsFile=/dev/null"]);
            OurServer.Connection? connection = await server.WaitForFirstConnectionAsync(TimeSpan.FromSeconds(10));
            context.Peer = client.View;
            string? accepted = client.Process.Lines.FirstOrDefault(l => l.Contains("matches the", StringComparison.Ordinal) && l.Contains("host certificate", StringComparison.Ordinal));
            context.Check(accepted is not null, "ssh did not log that the host certificate matches its @cert-authority line");
            Runner.ExpectRefusedConnection(context, connection, client);
            Runner.CheckNegotiation(context, peer);
            context.Note = $"ssh (StrictHostKeyChecking=yes): {accepted?.Trim()}";
        });
    }

    [TestCaseSource(nameof(Generations))]
    public Task OpenSsh_vs_OurServer_HostCertificateOfAnotherCa(PeerGeneration generation)
    {
        OpenSshPeer peer = OpenSshPeer.Of(generation);
        return Runner.RunAsync(new InteropCase(peer, InteropRole.OurServer, Dimension.Refused, "host certificate of an untrusted CA"), async context =>
        {
            peer.RequireAvailable();
            string ca = NewCa(context, "ca");
            string trusted = NewCa(context, "trusted");
            SshServerOptions options = OurSide.ServerOptions(new AlgorithmChoice(), context.OurLog);
            SshPrivateKey key = options.HostKeys.First(k => k.KeyType == SshHostKeyAlgorithms.Ed25519);
            options.HostCertificates.Add(SshPublicKey.Parse(File.ReadAllText(Certify(context, ca, key.PublicKey.ToString(), "ours_ed25519"))));
            string knownHosts = Path.Combine(context.TempDirectory, "known_hosts");
            await using OurServer server = OurServer.Start(options);
            File.WriteAllText(knownHosts, $"@cert-authority [127.0.0.1]:{server.Port} {File.ReadAllText(trusted + ".pub").Trim()}\n");

            ClientHandle client = await peer.RunClientAsync(context, server.Port, new AlgorithmChoice(),
                ["-o", "StrictHostKeyChecking=yes", "-o", $"UserKnownHostsFile={knownHosts}", "-o", "GlobalKnownHostsFile=/dev/null"]);
            OurServer.Connection? connection = await server.WaitForFirstConnectionAsync(TimeSpan.FromSeconds(10));
            string? refusal = client.Process.Lines.FirstOrDefault(l => l.Contains("Host key verification failed", StringComparison.Ordinal));
            context.Check(client.ExitCode == 255, $"ssh exited with {client.ExitCode?.ToString() ?? "nothing (killed)"}, not 255");
            context.Check(refusal is not null, "ssh did not say 'Host key verification failed'");
            context.Check(client.Process.Lines.Any(l => l.Contains("Server host certificate", StringComparison.Ordinal)), "ssh was not presented the certificate");
            context.Check(connection?.AuthRequestCount == 0, "ssh authenticated although it refused the host");
            context.Ours = connection?.Transport is { } t ? NegotiatedView.From(t) : new NegotiatedView { Strict = peer.Algorithms(InteropRole.OurServer).StrictKex };
            context.Note = $"ssh refuses: {refusal?.Trim()}";
        });
    }
}
