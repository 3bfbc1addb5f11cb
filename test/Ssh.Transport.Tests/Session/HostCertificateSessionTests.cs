using Ssh.Transport.HostKeys;
using Ssh.Transport.Tests.HostKeys;

namespace Ssh.Transport.Tests.Session;

/// <summary>
/// A server of ours presenting an ssh-keygen host certificate to a client of ours: certificate algorithms negotiated
/// only when the client wants them, the certified key signs the exchange, refusals carry the reason.
/// </summary>
public class HostCertificateSessionTests
{
    private static SshServerOptions ServerWithCertificate(string hostKind, out SshPublicKey certificate, params string[] more)
    {
        certificate = HostCertificates.HostCertificate(hostKind, "ed25519", ["-n", "127.0.0.1", .. more]);
        var options = new SshServerOptions { HandshakeTimeout = TimeSpan.FromSeconds(30) };
        options.HostKeys.Add(SshPrivateKey.Load(HostCertificates.KeyPath("host", hostKind)));
        options.HostCertificates.Add(certificate);
        return options;
    }

    private static SshClientOptions ClientTrustingCa(KnownHostsVerifier verifier, int port = 22) => new()
    {
        HandshakeTimeout = TimeSpan.FromSeconds(30),
        HostKeyVerifier = verifier.ForHost("127.0.0.1", port),
    };

    /// <summary>
    /// Connects and returns the client's outcome only: the server may fail first on the client's DISCONNECT, which
    /// <see cref="SessionHarness.ConnectAsync"/> would report instead.
    /// </summary>
    private static async Task ConnectClientAsync(SshClientOptions client, SshServerOptions server)
    {
        var pipes = new Infrastructure.PipePair();
        Task<SshTransport> accepting = SshTransport.AcceptAsync(pipes.Server, server);
        try
        {
            await using SshTransport transport = await SshTransport.ConnectAsync(pipes.Client, client);
        }
        finally
        {
            try
            {
                await (await accepting.WaitAsync(TimeSpan.FromSeconds(30))).DisposeAsync();
            }
            catch (SshProtocolException)
            {
                // The server's view of the client's refusal.
            }
        }
    }

    private static KnownHostsVerifier CaVerifier(DateTimeOffset? now = null) =>
        HostCertificates.Verifier($"@cert-authority 127.0.0.1 {HostCertificates.PublicKey("ca", "ed25519")}\n", now);

    [TestCase("ed25519", SshHostKeyAlgorithms.Ed25519Cert)]
    [TestCase("ecdsa256", SshHostKeyAlgorithms.EcdsaNistP256Cert)]
    [TestCase("rsa", SshHostKeyAlgorithms.RsaSha512Cert)]
    public async Task Connect_ClientTrustsCa_CertificateNegotiatedAndVerified(string hostKind, string algorithm)
    {
        SshServerOptions server = ServerWithCertificate(hostKind, out SshPublicKey certificate);

        (SshTransport client, SshTransport serverSide) = await SessionHarness.ConnectAsync(ClientTrustingCa(CaVerifier()), server);
        await using (client)
        await using (serverSide)
        {
            Assert.That(client.Algorithms.HostKey, Is.EqualTo(algorithm));
            Assert.That(client.HostKey, Is.EqualTo(certificate));
            Assert.That(client.HostKey.Certificate!.CertificateAuthority, Is.EqualTo(HostCertificates.PublicKey("ca", "ed25519")));
            Assert.That(serverSide.HostKey, Is.EqualTo(certificate));

            // A rekey presents the same certificate.
            await client.RekeyAsync();
            Assert.That(client.KeyExchangeCount, Is.EqualTo(2));
        }
    }

    [Test]
    public async Task Connect_RsaSha256Only_CertificateVariantOfThatAlgorithm()
    {
        SshServerOptions server = ServerWithCertificate("rsa", out _);
        SshClientOptions options = ClientTrustingCa(CaVerifier());
        options.HostKeyAlgorithms.Clear();
        options.HostKeyAlgorithms.Add(SshHostKeyAlgorithms.RsaSha256);

        (SshTransport client, SshTransport serverSide) = await SessionHarness.ConnectAsync(options, server);
        await using (client)
        await using (serverSide)
        {
            Assert.That(client.Algorithms.HostKey, Is.EqualTo(SshHostKeyAlgorithms.RsaSha256Cert));
        }
    }

    [Test]
    public async Task Connect_NoCaForHost_PlainKeyNegotiated()
    {
        SshServerOptions server = ServerWithCertificate("ed25519", out SshPublicKey certificate);
        KnownHostsVerifier verifier = HostCertificates.Verifier($"127.0.0.1 {certificate.Certificate!.Key}\n");

        (SshTransport client, SshTransport serverSide) = await SessionHarness.ConnectAsync(ClientTrustingCa(verifier), server);
        await using (client)
        await using (serverSide)
        {
            Assert.That(client.Algorithms.HostKey, Is.EqualTo(SshHostKeyAlgorithms.Ed25519));
            Assert.That(client.HostKey, Is.EqualTo(certificate.Certificate.Key));
        }
    }

    [Test]
    public async Task Connect_OwnVerifierPreferringCertificates_ReceivesCertificate()
    {
        SshServerOptions server = ServerWithCertificate("ecdsa256", out SshPublicKey certificate);
        SshPublicKey? seen = null;
        var options = new SshClientOptions
        {
            PreferHostCertificates = true,
            HostKeyVerifier = (key, _) =>
            {
                seen = key;
                return ValueTask.FromResult(key.Certificate?.CertificateAuthority == HostCertificates.PublicKey("ca", "ed25519"));
            },
        };

        (SshTransport client, SshTransport serverSide) = await SessionHarness.ConnectAsync(options, server);
        await using (client)
        await using (serverSide)
        {
            Assert.That(seen, Is.EqualTo(certificate));
        }

        // PreferHostCertificates = false wins over the known_hosts CA.
        SshClientOptions never = ClientTrustingCa(CaVerifier());
        never.PreferHostCertificates = false;
        var e = Assert.ThrowsAsync<SshHostKeyRejectedException>(() => ConnectClientAsync(never, ServerWithCertificate("ecdsa256", out _)));
        Assert.That(e!.KnownHostsResult, Is.EqualTo(KnownHostsResult.Unknown));
        Assert.That(e.Certificate, Is.Null);
    }

    [Test]
    public void Connect_ExpiredCertificate_RejectedWithReasonAndCa()
    {
        SshServerOptions server = ServerWithCertificate("ed25519", out SshPublicKey certificate);
        KnownHostsVerifier verifier = CaVerifier(new DateTimeOffset(2030, 2, 2, 0, 0, 0, TimeSpan.Zero));

        var e = Assert.ThrowsAsync<SshHostKeyRejectedException>(() => ConnectClientAsync(ClientTrustingCa(verifier), server));

        Assert.That(e!.Reason, Is.EqualTo(SshDisconnectReason.HostKeyNotVerifiable));
        Assert.That(e.KnownHostsResult, Is.EqualTo(KnownHostsResult.CertificateExpired));
        Assert.That(e.HostKey, Is.EqualTo(certificate));
        Assert.That(e.Certificate!.CertificateAuthority, Is.EqualTo(HostCertificates.PublicKey("ca", "ed25519")));
        Assert.That(e.Message, Does.Contain("has expired"));
    }

    [Test]
    public void Connect_WrongPrincipal_Rejected()
    {
        SshServerOptions server = new() { HandshakeTimeout = TimeSpan.FromSeconds(30) };
        server.HostKeys.Add(SshPrivateKey.Load(HostCertificates.KeyPath("host", "ed25519")));
        server.HostCertificates.Add(HostCertificates.HostCertificate());   // server.example.com, *.example.org

        var e = Assert.ThrowsAsync<SshHostKeyRejectedException>(() => ConnectClientAsync(ClientTrustingCa(CaVerifier()), server));

        Assert.That(e!.KnownHostsResult, Is.EqualTo(KnownHostsResult.CertificateWrongPrincipal));
        Assert.That(e.Message, Does.Contain("server.example.com,*.example.org"));
    }

    [Test]
    public void Validate_CertificateOfAnotherKeyOrNotAHostCertificate_Refused()
    {
        var options = new SshServerOptions();
        options.HostKeys.Add(SshPrivateKey.Load(HostCertificates.KeyPath("host", "ed25519")));
        options.HostCertificates.Add(HostCertificates.HostCertificate("ecdsa256"));
        options.HostCertificates.Add(SshPublicKey.Parse(HostCertificates.Certify("ed25519", "ed25519", "-n", "alice")));
        options.HostCertificates.Add(HostCertificates.PublicKey("host", "ed25519"));

        var e = Assert.Throws<ArgumentException>(options.Validate);

        Assert.That(e!.Message, Does.Contain("which is not one of the HostKeys"));
        Assert.That(e.Message, Does.Contain("a user certificate"));
        Assert.That(e.Message, Does.Contain("not a certificate"));
    }
}
