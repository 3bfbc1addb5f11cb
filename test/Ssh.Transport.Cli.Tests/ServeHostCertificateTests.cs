namespace Ssh.Transport.Cli.Tests;

/// <summary>
/// 'serve --host-cert': an ssh-keygen host certificate of the --host-key key, presented to ssh (both generations) that
/// trusts its CA with StrictHostKeyChecking=yes; a certificate that does not fit is refused at start.
/// </summary>
[NonParallelizable]
public class ServeHostCertificateTests
{
    private static readonly string[] s_sshClients = ["ssh", "/opt/ssh-peers/openssh/bin/ssh"];

    private TempFolder _folder = null!;

    [SetUp]
    public void SetUp() => _folder = new TempFolder();

    [TearDown]
    public void TearDown() => _folder.Dispose();

    /// <summary>A CA key pair (ssh-keygen), its private key's path; ignored without ssh-keygen.</summary>
    private async Task<string> NewCaAsync(string name = "ca")
    {
        if (CliRunner.FindProgram("ssh-keygen") is null)
        {
            Assert.Ignore("ssh-keygen is not installed");
        }

        string path = _folder.PathOf(name);
        CliResult keygen = (await CliRunner.RunProgramAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path))!;
        Assert.That(keygen.ExitCode, Is.Zero, keygen.ToString());
        return path;
    }

    /// <summary>ssh-keygen -s CA [-h] -n 127.0.0.1 on <paramref name="key"/>'s public key; the certificate file.</summary>
    private async Task<string> CertifyAsync(string ca, SshPublicKey key, bool host = true)
    {
        string pub = _folder.Write($"key_{Guid.NewGuid():N}.pub", key + "\n");
        string[] args = ["-q", "-s", ca, "-I", "serve test", .. host ? new[] { "-h" } : [], "-n", "127.0.0.1", "-V", "-5m:+1h", pub];
        CliResult keygen = (await CliRunner.RunProgramAsync("ssh-keygen", args))!;
        Assert.That(keygen.ExitCode, Is.Zero, keygen.ToString());
        return pub[..^".pub".Length] + "-cert.pub";
    }

    private static async Task<CliResult> SshAsync(string ssh, int port, string knownHosts) =>
        (await CliRunner.RunProgramAsync(ssh,
            "-v", "-F", "/dev/null", "-p", $"{port}", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", $"UserKnownHostsFile={knownHosts}", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no",
            "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no", "-o", "GSSAPIAuthentication=no",
            "-o", "ConnectTimeout=20", "tester@127.0.0.1", "true"))!;

    [TestCaseSource(nameof(s_sshClients))]
    public async Task Ssh_trusting_the_CA_accepts_the_certificate_serve_presents(string ssh)
    {
        if (CliRunner.FindProgram(ssh) is null)
        {
            Assert.Ignore($"{ssh} is not installed");
        }

        string ca = await NewCaAsync();
        using SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string certificate = await CertifyAsync(ca, key.PublicKey);
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, SshPrivateKey.Parse(key.ExportOpenSsh()), "--host-cert", certificate);
        Assert.That(serve.Out, Does.Contain("host certificate: ssh-ed25519-cert-v01@openssh.com " + key.PublicKey.GetFingerprint()).And.Contain("principals 127.0.0.1"));
        string knownHosts = _folder.Write("known_hosts", $"@cert-authority [127.0.0.1]:{serve.Port} {File.ReadAllText(ca + ".pub").Trim()}\n");

        CliResult result = await SshAsync(ssh, serve.Port, knownHosts);

        // The host is verified through the CA; then serve refuses the login (no login file): exit 255.
        Assert.That(result.Error, Does.Contain("Server host certificate: ssh-ed25519-cert-v01@openssh.com"), result.ToString());
        Assert.That(result.Error, Does.Contain("matches the ED25519-CERT host certificate"), result.ToString());
        Assert.That(result.Error, Does.Contain("Authentications that can continue"), result.ToString());
        Assert.That(result.Error, Does.Not.Contain("Host key verification failed"));
        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
    }

    [TestCaseSource(nameof(s_sshClients))]
    public async Task Ssh_logs_in_with_a_key_after_verifying_the_certificate(string ssh)
    {
        // publickey-hostbound-v00@openssh.com signs the host key as presented: here the certificate.
        if (CliRunner.FindProgram(ssh) is null)
        {
            Assert.Ignore($"{ssh} is not installed");
        }

        string ca = await NewCaAsync();
        string identity = _folder.PathOf("id_ed25519");
        CliResult keygen = (await CliRunner.RunProgramAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", identity))!;
        Assert.That(keygen.ExitCode, Is.Zero, keygen.ToString());
        string authorizedKeys = _folder.Write("authorized_keys", File.ReadAllText(identity + ".pub"));
        using SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP256);
        string certificate = await CertifyAsync(ca, key.PublicKey);
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, SshPrivateKey.Parse(key.ExportOpenSsh()),
            "--host-cert", certificate, "--authorized-keys", authorizedKeys);
        string knownHosts = _folder.Write("known_hosts", $"@cert-authority [127.0.0.1]:{serve.Port} {File.ReadAllText(ca + ".pub").Trim()}\n");

        CliResult result = (await CliRunner.RunProgramAsync(ssh,
            "-v", "-F", "/dev/null", "-p", $"{serve.Port}", "-i", identity, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", $"UserKnownHostsFile={knownHosts}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=20", "tester@127.0.0.1", "true"))!;

        Assert.That(result.Error, Does.Contain("matches the ECDSA-CERT host certificate"), result.ToString());
        Assert.That(result.Error, Does.Contain($"Authenticated to 127.0.0.1 ([127.0.0.1]:{serve.Port}) using \"publickey\""), result.ToString());
        Assert.That(result.Error, Does.Contain("publickey-hostbound"), result.ToString());
    }

    [TestCaseSource(nameof(s_sshClients))]
    public async Task Ssh_trusting_another_CA_refuses_the_host(string ssh)
    {
        if (CliRunner.FindProgram(ssh) is null)
        {
            Assert.Ignore($"{ssh} is not installed");
        }

        string ca = await NewCaAsync();
        string other = await NewCaAsync("other");
        using SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string certificate = await CertifyAsync(ca, key.PublicKey);
        await using InProcessServe serve = await InProcessServe.StartAsync(_folder, SshPrivateKey.Parse(key.ExportOpenSsh()), "--host-cert", certificate);
        string knownHosts = _folder.Write("known_hosts", $"@cert-authority [127.0.0.1]:{serve.Port} {File.ReadAllText(other + ".pub").Trim()}\n");

        CliResult result = await SshAsync(ssh, serve.Port, knownHosts);

        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.Error, Does.Contain("Server host certificate: ssh-ed25519-cert-v01@openssh.com"), result.ToString());
        Assert.That(result.Error, Does.Contain("Host key verification failed"), result.ToString());
        Assert.That(result.Error, Does.Not.Contain("Authentications that can continue"));
    }

    [Test]
    public async Task A_certificate_of_another_key_is_refused_at_start()
    {
        string ca = await NewCaAsync();
        using SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        using SshPrivateKey other = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string keyFile = _folder.Write("host_key", key.ExportOpenSsh());
        string certificate = await CertifyAsync(ca, other.PublicKey);

        CliResult result = await CliRunner.RunAsync("serve", "--listen", "127.0.0.1:0", "--host-key", keyFile, "--host-cert", certificate);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.ErrorLines, Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.ErrorLines[0], Does.Contain($"serve: cannot use host certificate {certificate}: it certifies 256 {other.PublicKey.GetFingerprint()} (ED25519), which is not the key of any --host-key"));
        Assert.That(result.Out, Is.Empty);
    }

    [Test]
    public async Task A_user_certificate_or_a_plain_key_is_refused_at_start()
    {
        string ca = await NewCaAsync();
        using SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string keyFile = _folder.Write("host_key", key.ExportOpenSsh());
        string user = await CertifyAsync(ca, key.PublicKey, host: false);
        string plain = _folder.Write("plain.pub", key.PublicKey + "\n");

        CliResult userResult = await CliRunner.RunAsync("serve", "--listen", "127.0.0.1:0", "--host-key", keyFile, "--host-cert", user);
        CliResult plainResult = await CliRunner.RunAsync("serve", "--listen", "127.0.0.1:0", "--host-key", keyFile, "--host-cert", plain);

        Assert.That(userResult.ExitCode, Is.EqualTo(2), userResult.ToString());
        Assert.That(userResult.ErrorLines.Single(), Does.Contain("it is a user certificate, not a host certificate (ssh-keygen -h)"));
        Assert.That(plainResult.ExitCode, Is.EqualTo(2), plainResult.ToString());
        Assert.That(plainResult.ErrorLines.Single(), Does.Contain("it holds a plain ssh-ed25519 key, not a certificate"));
    }

    [Test]
    public async Task A_certificate_without_a_host_key_is_a_mistake()
    {
        CliResult result = await CliRunner.RunAsync("serve", "--host-cert", "/nonexistent-cert.pub");

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.ErrorLines.Single(), Does.Contain("serve: --host-cert certifies a host key: give its --host-key too"));
    }

    [Test]
    public async Task Help_lists_host_cert()
    {
        CliResult help = await CliRunner.RunAsync("serve", "--help");

        Assert.That(help.ExitCode, Is.Zero, help.ToString());
        Assert.That(help.Out, Does.Contain("--host-cert FILE").And.Contain("ssh-keygen -s CA -h"));
    }
}
