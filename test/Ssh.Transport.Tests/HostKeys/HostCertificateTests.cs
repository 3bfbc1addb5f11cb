using Ssh.Transport.HostKeys;

namespace Ssh.Transport.Tests.HostKeys;

/// <summary>OpenSSH certificates (PROTOCOL.certkeys) made by ssh-keygen -s: parsing, the CA signature, the bounds.</summary>
public class HostCertificateParsingTests
{
    [TestCaseSource(typeof(HostCertificates), nameof(HostCertificates.HostAndCaKinds))]
    public void Parse_SshKeygenHostCertificate_FieldsAsWritten(string hostKind, string caKind)
    {
        string line = HostCertificates.Certify(hostKind, caKind, "-h", "-z", "42", "-n", "server.example.com,*.example.org", "-V", HostCertificates.Validity);

        SshPublicKey key = SshPublicKey.Parse(line);

        SshPublicKey plain = HostCertificates.PublicKey("host", hostKind);
        SshPublicKey ca = HostCertificates.PublicKey("ca", caKind);
        SshCertificate c = key.Certificate!;
        Assert.That(c, Is.Not.Null);
        Assert.That(key.KeyType, Is.EqualTo(line.Split(' ')[0]));
        Assert.That(key.KeyType, Is.EqualTo(SshHostKeyAlgorithms.GetCertificateKeyType(plain.KeyType)));
        Assert.That(c.Key, Is.EqualTo(plain));
        Assert.That(c.CertificateAuthority, Is.EqualTo(ca));
        Assert.That(c.Type, Is.EqualTo(SshCertificateType.Host));
        Assert.That(c.Serial, Is.EqualTo(42UL));
        Assert.That(c.KeyId, Is.EqualTo($"test {hostKind} by {caKind}"));
        Assert.That(c.Principals, Is.EqualTo(new[] { "server.example.com", "*.example.org" }));
        Assert.That(c.CriticalOptions, Is.Empty);
        Assert.That(c.Extensions, Is.Empty, "ssh-keygen gives host certificates no extensions");
        Assert.That(c.SignatureAlgorithm, Is.EqualTo(caKind == "rsa" ? "rsa-sha2-512" : ca.KeyType), "ssh-keygen signs with rsa-sha2-512 by default");

        // ssh-keygen's own reading of the file: the fingerprint (the certified key's) and the window.
        string listed = ExternalTools.RunChecked(HostCertificates.Keygen, "-L", "-f", WriteLine(line));
        Assert.That(listed, Does.Contain(key.GetFingerprint()));
        Assert.That(key.GetFingerprint(), Is.EqualTo(plain.GetFingerprint()));
        Assert.That(listed, Does.Contain($"from {c.ValidAfter.ToLocalTime():yyyy-MM-ddTHH:mm:ss} to {c.ValidBefore.ToLocalTime():yyyy-MM-ddTHH:mm:ss}"));
        Assert.That(key.ToString(), Is.EqualTo(string.Join(' ', line.Split(' ')[..2])), "written back as ssh-keygen wrote it");
        Assert.That(SshPublicKey.FromBlob(key.Blob.Span), Is.EqualTo(key));
    }

    [Test]
    public void Parse_UserCertificateAndForever_AsWritten()
    {
        SshPublicKey key = SshPublicKey.Parse(HostCertificates.Certify("ed25519", "ed25519", "-n", "alice"));

        Assert.That(key.Certificate!.Type, Is.EqualTo(SshCertificateType.User));
        Assert.That(key.Certificate.Principals, Is.EqualTo(new[] { "alice" }));
        Assert.That(key.Certificate.ValidAfter, Is.EqualTo(DateTimeOffset.UnixEpoch));
        Assert.That(key.Certificate.ValidBefore, Is.EqualTo(DateTimeOffset.MaxValue), "ssh-keygen's default is forever");
        Assert.That(key.Certificate.Extensions, Does.Contain("permit-pty"), "ssh-keygen's default user extensions");
    }

    [Test]
    public void Parse_EveryTruncationAndTrailingByte_Refused()
    {
        byte[] blob = HostCertificates.HostCertificate().Blob.ToArray();

        for (int length = 0; length < blob.Length; length++)
        {
            Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(blob.AsSpan(0, length)), $"{length} of {blob.Length} bytes");
        }

        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob([.. blob, 0]));
    }

    [Test]
    public void Parse_AnySignedByteChanged_Refused()
    {
        // Every byte before the signature is signed: changing any one either breaks the format or the CA signature.
        SshPublicKey key = HostCertificates.HostCertificate();
        byte[] blob = key.Blob.ToArray();
        int signatureLength = 4 + 4 + "ssh-ed25519".Length + 4 + 64;
        int signed = blob.Length - signatureLength;
        int signatureFailures = 0;
        for (int i = 0; i < signed; i++)
        {
            byte[] tampered = (byte[])blob.Clone();
            tampered[i] ^= 0x01;
            SshProtocolException? e = Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(tampered), $"byte {i} changed");
            signatureFailures += e!.Message.Contains("does not verify", StringComparison.Ordinal) ? 1 : 0;
        }

        Assert.That(signatureFailures, Is.GreaterThan(signed / 3), "many changes leave a well-formed certificate whose signature fails");
    }

    [Test]
    public void Parse_TamperedSignature_RefusedWithReason()
    {
        byte[] blob = HostCertificates.HostCertificate(caKind: "ecdsa384").Blob.ToArray();
        blob[^10] ^= 0x40;

        var e = Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(blob));
        Assert.That(e!.Message, Does.Contain("CA's signature").And.Contain("does not verify"));

        string line = "ssh-ed25519-cert-v01@openssh.com " + Convert.ToBase64String(HostCertificates.HostCertificate().Blob.Span[..^1]);
        Assert.Throws<FormatException>(() => SshPublicKey.Parse(line), "a .pub line with a broken certificate is a format error");
    }

    [Test]
    public void VerifySignature_Certificate_VerifiesAsItsKeyWithCertificateAlgorithms()
    {
        SshPublicKey rsa = HostCertificates.HostCertificate("rsa");
        using SshPrivateKey key = SshPrivateKey.Load(HostCertificates.KeyPath("host", "rsa"));
        byte[] data = "exchange hash"u8.ToArray();
        byte[] signature = HostKeyTestKeys.Sign(key, "rsa-sha2-256", data);

        Assert.That(rsa.VerifySignature(SshHostKeyAlgorithms.RsaSha256Cert, data, signature), Is.True);
        Assert.That(rsa.VerifySignature(SshHostKeyAlgorithms.RsaSha512Cert, data, signature), Is.False, "the blob must name the algorithm's signature");
        Assert.That(rsa.VerifySignature("rsa-sha2-256", data, signature), Is.False, "a certificate presents certificate algorithms");
        Assert.That(rsa.VerifySignature(data, signature), Is.True);
        Assert.That(rsa.Certificate!.Key.VerifySignature(SshHostKeyAlgorithms.RsaSha256Cert, data, signature), Is.False, "a plain key is no certificate");
    }

    private static string WriteLine(string line)
    {
        string path = Path.Combine(Path.GetDirectoryName(HostCertificates.KeyPath("ca", "ed25519"))!, $"listed-{Guid.NewGuid():N}-cert.pub");
        File.WriteAllText(path, line + "\n");
        return path;
    }
}

/// <summary>known_hosts @cert-authority and @revoked against ssh-keygen's certificates: every reason to refuse, as ssh.</summary>
public class HostCertificateVerifierTests
{
    private static string CaLine(string hosts = "*.example.com,*.example.org", string caKind = "ed25519") =>
        $"@cert-authority {hosts} {HostCertificates.PublicKey("ca", caKind)}\n";

    [TestCaseSource(typeof(HostCertificates), nameof(HostCertificates.HostAndCaKinds))]
    public void Verify_TrustedCa_Trusted(string hostKind, string caKind)
    {
        KnownHostsVerifier verifier = HostCertificates.Verifier(CaLine(caKind: caKind));
        SshPublicKey certificate = HostCertificates.HostCertificate(hostKind, caKind);

        Assert.That(verifier.Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("www.example.org", 22, certificate), Is.EqualTo(KnownHostsResult.Trusted), "a wildcard principal");
        Assert.That(verifier.Verify("SERVER.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Trusted), "host names compare case-insensitively");
        Assert.That(verifier.Verify("server.example.com", 22, certificate.Certificate!.Key), Is.EqualTo(KnownHostsResult.Unknown), "the CA line is not a host key line");
    }

    [Test]
    public void Verify_CaNotTrustedForHost_UnknownAuthority()
    {
        SshPublicKey certificate = HostCertificates.HostCertificate();

        Assert.That(HostCertificates.Verifier(CaLine(hosts: "*.example.net")).Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.CertificateUnknownAuthority));
        Assert.That(HostCertificates.Verifier(CaLine(caKind: "ecdsa384")).Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.CertificateUnknownAuthority), "another CA");
        Assert.That(HostCertificates.Verifier(CaLine()).Verify("server.example.com", 2222, certificate), Is.EqualTo(KnownHostsResult.CertificateUnknownAuthority), "another port is another host");
        Assert.That(HostCertificates.Verifier(CaLine(hosts: "[server.example.com]:2222")).Verify("server.example.com", 2222, certificate), Is.EqualTo(KnownHostsResult.Trusted));
        SshPublicKey byEcdsa = HostCertificates.HostCertificate(caKind: "ecdsa384");
        Assert.That(HostCertificates.Verifier($"server.example.com {HostCertificates.PublicKey("ca", "ecdsa384")}\n").Verify("server.example.com", 22, byEcdsa),
            Is.EqualTo(KnownHostsResult.CertificateUnknownAuthority), "a CA key on a plain line is not a CA");
    }

    [Test]
    public void Verify_OutsideValidity_NotYetValidOrExpired()
    {
        KnownHostsVerifier early = HostCertificates.Verifier(CaLine(), new DateTimeOffset(2029, 12, 29, 0, 0, 0, TimeSpan.Zero));
        KnownHostsVerifier late = HostCertificates.Verifier(CaLine(), new DateTimeOffset(2030, 2, 3, 0, 0, 0, TimeSpan.Zero));
        SshPublicKey certificate = HostCertificates.HostCertificate();

        Assert.That(early.Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.CertificateNotYetValid));
        Assert.That(late.Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.CertificateExpired));

        // The boundaries, exactly: valid after <= now < valid before.
        var atStart = HostCertificates.Verifier(CaLine(), certificate.Certificate!.ValidAfter);
        var atEnd = HostCertificates.Verifier(CaLine(), certificate.Certificate.ValidBefore);
        var beforeEnd = HostCertificates.Verifier(CaLine(), certificate.Certificate.ValidBefore.AddSeconds(-1));
        Assert.That(atStart.Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(beforeEnd.Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(atEnd.Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.CertificateExpired));
    }

    [Test]
    public void Verify_HostNotAPrincipal_WrongPrincipal()
    {
        KnownHostsVerifier verifier = HostCertificates.Verifier(CaLine(hosts: "*"));

        Assert.That(verifier.Verify("other.example.com", 22, HostCertificates.HostCertificate()), Is.EqualTo(KnownHostsResult.CertificateWrongPrincipal));
        Assert.That(verifier.Verify("example.org", 22, HostCertificates.HostCertificate()), Is.EqualTo(KnownHostsResult.CertificateWrongPrincipal), "*.example.org needs a dot");

        // Without -n the certificate has no principals: OpenSSH refuses it ("Certificate lacks principal list").
        SshPublicKey none = SshPublicKey.Parse(HostCertificates.Certify("ed25519", "ed25519", "-h", "-V", HostCertificates.Validity));
        Assert.That(none.Certificate!.Principals, Is.Empty);
        Assert.That(verifier.Verify("server.example.com", 22, none), Is.EqualTo(KnownHostsResult.CertificateWrongPrincipal));
    }

    [Test]
    public void Verify_UserCertificate_WrongType()
    {
        SshPublicKey user = SshPublicKey.Parse(HostCertificates.Certify("ed25519", "ed25519", "-n", "server.example.com", "-V", HostCertificates.Validity));

        Assert.That(HostCertificates.Verifier(CaLine()).Verify("server.example.com", 22, user), Is.EqualTo(KnownHostsResult.CertificateWrongType));
    }

    [Test]
    public void Verify_CriticalOption_Unsupported()
    {
        SshPublicKey certificate = HostCertificates.HostCertificate(more: ["-O", "critical:verify-host@example.com=yes"]);

        Assert.That(certificate.Certificate!.CriticalOptions, Is.EqualTo(new[] { "verify-host@example.com" }));
        Assert.That(HostCertificates.Verifier(CaLine()).Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.CertificateUnsupportedCriticalOption));
    }

    [Test]
    public void Verify_Sha1CaSignature_Weak()
    {
        SshPublicKey certificate = HostCertificates.HostCertificate("ed25519", "rsa", "-t", "ssh-rsa");

        Assert.That(certificate.Certificate!.SignatureAlgorithm, Is.EqualTo("ssh-rsa"));
        Assert.That(HostCertificates.Verifier(CaLine(caKind: "rsa")).Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.CertificateWeakSignature));
    }

    [Test]
    public void Verify_RevokedKeyCertificateOrCa_Revoked()
    {
        SshPublicKey certificate = HostCertificates.HostCertificate();
        SshPublicKey other = HostCertificates.HostCertificate("ecdsa256");
        string trust = CaLine();

        Assert.That(HostCertificates.Verifier(trust).Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(HostCertificates.Verifier(trust + $"@revoked * {certificate.Certificate!.Key}\n").Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Revoked), "the host key");
        Assert.That(HostCertificates.Verifier(trust + $"@revoked * {certificate}\n").Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Revoked), "the certificate");
        Assert.That(HostCertificates.Verifier(trust + $"@revoked * {certificate}\n").Verify("server.example.com", 22, certificate.Certificate.Key), Is.EqualTo(KnownHostsResult.Revoked), "a revoked certificate revokes its key");
        Assert.That(HostCertificates.Verifier(trust + $"@revoked *.example.com {certificate.Certificate.CertificateAuthority}\n").Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Revoked), "the CA");
        Assert.That(HostCertificates.Verifier(trust + $"@revoked * {certificate}\n").Verify("server.example.com", 22, other), Is.EqualTo(KnownHostsResult.Trusted), "another certificate of the CA");
        Assert.That(HostCertificates.Verifier(trust + $"@revoked other.example.com {certificate.Certificate.CertificateAuthority}\n").Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Trusted), "revoked for another host");
    }

    [Test]
    public void Verify_FailingCertificateOfKnownKey_TrustedAsPlainKey()
    {
        // sshconnect.c: "No matching CA found. Retry with plain key".
        SshPublicKey certificate = HostCertificates.HostCertificate();
        string plainLine = $"server.example.com {certificate.Certificate!.Key}\n";
        var late = new DateTimeOffset(2031, 1, 1, 0, 0, 0, TimeSpan.Zero);

        Assert.That(HostCertificates.Verifier(CaLine() + plainLine, late).Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(HostCertificates.Verifier(plainLine).Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Trusted));

        string otherKey = $"server.example.com {HostKeyTestKeys.Get(SshHostKeyType.Ed25519).PublicKey}\n";
        Assert.That(HostCertificates.Verifier(otherKey).Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Changed), "no CA, another key on record");
        Assert.That(HostCertificates.Verifier(CaLine() + otherKey, late).Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.CertificateExpired), "the CA's verdict is the reason");
    }

    [Test]
    public void HasCertificateAuthority_MatchesHostPatterns()
    {
        KnownHostsVerifier verifier = KnownHostsVerifier.Parse(CaLine(hosts: "*.example.com,!bad.example.com") + $"@revoked * {HostCertificates.PublicKey("ca", "rsa")}\n");

        Assert.That(verifier.HasCertificateAuthority("server.example.com", 22), Is.True);
        Assert.That(verifier.HasCertificateAuthority("bad.example.com", 22), Is.False);
        Assert.That(verifier.HasCertificateAuthority("server.example.org", 22), Is.False, "@revoked lines are no CA");
        Assert.That(verifier.HasCertificateAuthority("server.example.com", 2222), Is.False);
    }

    [Test]
    public void Add_Certificate_RecordsItsPlainKey()
    {
        var verifier = new KnownHostsVerifier();
        SshPublicKey certificate = HostCertificates.HostCertificate();

        string line = verifier.Add("server.example.com", 22, certificate, hashHostName: false);

        Assert.That(line, Is.EqualTo($"server.example.com {certificate.Certificate!.Key}"));
        Assert.That(verifier.Verify("server.example.com", 22, certificate), Is.EqualTo(KnownHostsResult.Trusted));
    }

    [Test]
    public async Task ForHost_Refusal_ExceptionSaysWhyWithCertificateAndCa()
    {
        SshPublicKey certificate = HostCertificates.HostCertificate();
        KnownHostsVerifier verifier = HostCertificates.Verifier(CaLine(), new DateTimeOffset(2030, 3, 1, 0, 0, 0, TimeSpan.Zero));

        SshHostKeyVerifier check = verifier.ForHost("server.example.com");
        var e = Assert.ThrowsAsync<SshHostKeyRejectedException>(async () => await check(certificate, CancellationToken.None));

        Assert.That(e!.KnownHostsResult, Is.EqualTo(KnownHostsResult.CertificateExpired));
        Assert.That(e.Certificate!.CertificateAuthority, Is.EqualTo(HostCertificates.PublicKey("ca", "ed25519")));
        Assert.That(e.Reason, Is.EqualTo(SshDisconnectReason.HostKeyNotVerifiable));
        Assert.That(e.Message, Does.Contain("has expired").And.Contain(certificate.Certificate!.CertificateAuthority.GetFingerprint()).And.Contain("serial 42"));

        verifier.TimeProvider = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(HostCertificates.InsideValidity);
        Assert.That(await check(certificate, CancellationToken.None), Is.True);
    }
}
