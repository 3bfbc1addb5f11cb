namespace Ssh.Transport.Tests.HostKeys;

/// <summary>known_hosts matching as sshd(8) describes it, with ssh-keygen -H and -F as ground truth for hashing.</summary>
public class KnownHostsVerifierTests
{
    private static readonly Lazy<SshPublicKey[]> s_ed25519 = new(() =>
        Enumerable.Range(0, 3).Select(_ => { using var k = SshPrivateKey.Generate(SshHostKeyType.Ed25519); return k.PublicKey; }).ToArray());

    private static SshPublicKey A => s_ed25519.Value[0];

    private static SshPublicKey B => s_ed25519.Value[1];

    private static SshPublicKey C => s_ed25519.Value[2];

    private static SshPublicKey Ecdsa => HostKeyTestKeys.Get(SshHostKeyType.EcdsaNistP256).PublicKey;

    [Test]
    public void Verify_PlainHostList_TrustedForEachNameOnly()
    {
        var verifier = KnownHostsVerifier.Parse($"server.example.com,192.0.2.7 {A} comment here\n");

        Assert.That(verifier.Verify("server.example.com", 22, A), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("192.0.2.7", 22, A), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("SERVER.Example.COM", 22, A), Is.EqualTo(KnownHostsResult.Trusted), "names match case-insensitively");
        Assert.That(verifier.Verify("other.example.com", 22, A), Is.EqualTo(KnownHostsResult.Unknown));
        Assert.That(verifier.Verify("server.example.co", 22, A), Is.EqualTo(KnownHostsResult.Unknown));
        Assert.That(verifier.Verify("server.example.com", 2222, A), Is.EqualTo(KnownHostsResult.Unknown), "another port is another host");
    }

    [Test]
    public void Verify_OtherKeyOfSameType_Changed()
    {
        var verifier = KnownHostsVerifier.Parse($"server {A}\n");

        Assert.That(verifier.Verify("server", 22, B), Is.EqualTo(KnownHostsResult.Changed));
        Assert.That(verifier.Verify("elsewhere", 22, B), Is.EqualTo(KnownHostsResult.Unknown));
    }

    [Test]
    public void Verify_HostKnownOnlyWithOtherKeyType_Unknown()
    {
        // Like ssh: no key of this type is recorded, so the key is new (ssh then mentions the other keys).
        var verifier = KnownHostsVerifier.Parse($"server {A}\n");

        Assert.That(verifier.Verify("server", 22, Ecdsa), Is.EqualTo(KnownHostsResult.Unknown));
    }

    [Test]
    public void Verify_SeveralKeysForHost_TrustedWhenAnyMatches()
    {
        var verifier = KnownHostsVerifier.Parse($"server {A}\nserver {B}\nserver {Ecdsa}\n");

        Assert.That(verifier.Verify("server", 22, A), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("server", 22, B), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("server", 22, Ecdsa), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("server", 22, C), Is.EqualTo(KnownHostsResult.Changed));
    }

    [TestCase("*.example.com", "a.example.com", true)]
    [TestCase("*.example.com", "a.b.example.com", true)]
    [TestCase("*.example.com", "example.com", false)]
    [TestCase("*.example.com", "a.example.com.evil", false)]
    [TestCase("host?.example.com", "host1.example.com", true)]
    [TestCase("host?.example.com", "host.example.com", false)]
    [TestCase("host?.example.com", "host12.example.com", false)]
    [TestCase("192.0.2.*", "192.0.2.200", true)]
    [TestCase("192.0.2.*", "192.0.20.1", false)]
    [TestCase("*", "anything", true)]
    [TestCase("a*b*c", "aXXbYYc", true)]
    [TestCase("a*b*c", "aXXbYY", false)]
    [TestCase("*.EXAMPLE.com", "www.example.COM", true)]
    [TestCase("*.example.com,!bad.example.com", "good.example.com", true)]
    [TestCase("*.example.com,!bad.example.com", "bad.example.com", false)]
    [TestCase("!bad.example.com,*.example.com", "bad.example.com", false)]
    [TestCase("!bad.example.com", "good.example.com", false)]
    [TestCase("!*.internal,*", "db.internal", false)]
    [TestCase("!*.internal,*", "db.external", true)]
    public void Verify_Patterns_MatchAsSshd(string patterns, string host, bool matches)
    {
        var verifier = KnownHostsVerifier.Parse($"{patterns} {A}\n");

        Assert.That(verifier.Verify(host, 22, A), Is.EqualTo(matches ? KnownHostsResult.Trusted : KnownHostsResult.Unknown));
    }

    [Test]
    public void Verify_NonStandardPort_UsesBracketForm()
    {
        var verifier = KnownHostsVerifier.Parse(
            $"[server]:2222 {A}\n" +
            $"[*.example.com]:2200 {B}\n" +
            $"[::1]:2022,::1 {C}\n" +
            $"[plain]:22 {A}\n");

        Assert.That(verifier.Verify("server", 2222, A), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("server", 22, A), Is.EqualTo(KnownHostsResult.Unknown));
        Assert.That(verifier.Verify("server", 2223, A), Is.EqualTo(KnownHostsResult.Unknown));
        Assert.That(verifier.Verify("www.example.com", 2200, B), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("::1", 2022, C), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("::1", 22, C), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("plain", 22, A), Is.EqualTo(KnownHostsResult.Unknown), "port 22 is looked up without brackets, as ssh does");
    }

    [Test]
    public void Verify_RevokedKey_RevokedEvenWhenAnotherLineTrustsIt()
    {
        var verifier = KnownHostsVerifier.Parse($"server {A}\nserver {B}\n@revoked * {A}\n");

        Assert.That(verifier.Verify("server", 22, A), Is.EqualTo(KnownHostsResult.Revoked));
        Assert.That(verifier.Verify("anywhere", 22, A), Is.EqualTo(KnownHostsResult.Revoked));
        Assert.That(verifier.Verify("server", 22, B), Is.EqualTo(KnownHostsResult.Trusted), "a revoked key does not taint the others");
        Assert.That(verifier.Verify("server", 22, C), Is.EqualTo(KnownHostsResult.Changed), "the revoked line is not a known key");
    }

    [Test]
    public void Verify_RevokedForOtherHost_NotRevokedHere()
    {
        var verifier = KnownHostsVerifier.Parse($"@revoked other {A}\nserver {A}\n");

        Assert.That(verifier.Verify("server", 22, A), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("other", 22, A), Is.EqualTo(KnownHostsResult.Revoked));
    }

    [Test]
    public void Parse_CommentsBlankCertAuthorityAndGarbage_Skipped()
    {
        string text =
            "# a comment line\n" +
            "\n" +
            "   \t  \n" +
            $"@cert-authority *.example.com {B}\n" +
            $"@unknown-marker server {B}\n" +
            "server ssh-ed25519 !!!notbase64!!!\n" +
            "server ssh-ed25519\n" +
            $"server ecdsa-sha2-nistp256 {A.ToString().Split(' ')[1]}\n" + // type field disagrees with the blob
            "server 1024 35 1234567890\n" + // SSH-1 RSA
            $"server ssh-dss AAAAB3NzaC1kc3MAAACBAP//\n" +
            "|1|bad|hash " + A + "\n" +
            $"  server {A}  # trailing comment\r\n";

        var verifier = KnownHostsVerifier.Parse(text);

        Assert.That(verifier.Verify("server", 22, A), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("www.example.com", 22, B), Is.EqualTo(KnownHostsResult.Unknown), "@cert-authority lines are not host keys");
        Assert.That(verifier.Verify("server", 22, B), Is.EqualTo(KnownHostsResult.Changed));
    }

    [Test]
    public void Parse_RandomlyMutatedLines_NeverThrows()
    {
        var random = new Random(4716);
        string line = $"@revoked |1|{Convert.ToBase64String(new byte[20])}|{Convert.ToBase64String(new byte[20])} {A}\n[h]:2,*.x,!y {B} c\n";
        for (int i = 0; i < 2000; i++)
        {
            char[] chars = line.ToCharArray();
            for (int flips = random.Next(1, 5); flips > 0; flips--)
            {
                const string Specials = " \t\n|,!*?@#[]:=\0x";
                chars[random.Next(chars.Length)] = Specials[random.Next(Specials.Length)];
            }

            var verifier = KnownHostsVerifier.Parse(new string(chars));
            Assert.That(verifier.Verify("h", 2, A), Is.AnyOf(Enum.GetValues<KnownHostsResult>()));
        }
    }

    [Test]
    public void Verify_HashedBySshKeygen_SameVerdictsAsPlain()
    {
        string sshKeygen = ExternalTools.SshKeygen;
        string plain =
            $"server.example.com,192.0.2.7 {A}\n" +
            $"[server.example.com]:2222 {B}\n" +
            $"other {Ecdsa}\n";
        string path = OpenSshKeys.NewPath("known_hosts");
        File.WriteAllText(path, plain);

        ExternalTools.RunChecked(sshKeygen, "-H", "-f", path);

        string[] hashed = File.ReadAllLines(path);
        Assert.That(hashed, Has.Length.EqualTo(4), "ssh-keygen -H writes one line per name");
        Assert.That(hashed, Is.All.StartsWith("|1|"));
        var verifier = KnownHostsVerifier.Load(path);
        var reference = KnownHostsVerifier.Parse(plain);
        foreach ((string host, int port) in new[] { ("server.example.com", 22), ("192.0.2.7", 22), ("server.example.com", 2222), ("other", 22), ("other", 2222), ("nobody", 22) })
        {
            foreach (SshPublicKey key in new[] { A, B, C, Ecdsa })
            {
                Assert.That(verifier.Verify(host, port, key), Is.EqualTo(reference.Verify(host, port, key)), $"{host}:{port} {key.GetFingerprint()}");
            }
        }

        Assert.That(verifier.Verify("server.example.com", 22, A), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("server.example.com", 2222, B), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("SERVER.EXAMPLE.COM", 22, C), Is.EqualTo(KnownHostsResult.Changed));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void AddToFile_TrustOnFirstUse_SshKeygenFindsEntryAndReloadTrusts(bool hashed)
    {
        string sshKeygen = ExternalTools.SshKeygen;
        string path = OpenSshKeys.NewPath("known_hosts");
        File.WriteAllText(path, $"# existing, no final newline\nold {C}");
        var verifier = KnownHostsVerifier.Load(path);
        Assert.That(verifier.Verify("new.example.com", 22, A), Is.EqualTo(KnownHostsResult.Unknown));

        string line = verifier.AddToFile(path, "New.Example.com", 22, A, hashed);
        string portLine = verifier.AddToFile(path, "new.example.com", 2022, B, hashed);

        Assert.That(line, Does.StartWith(hashed ? "|1|" : "new.example.com ").And.EndWith(A.ToString()));
        Assert.That(portLine, Does.StartWith(hashed ? "|1|" : "[new.example.com]:2022 "));
        Assert.That(verifier.Verify("new.example.com", 22, A), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(verifier.Verify("new.example.com", 2022, B), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(File.ReadAllText(path), Is.EqualTo($"# existing, no final newline\nold {C}\n{line}\n{portLine}\n"));

        var reloaded = KnownHostsVerifier.Load(path);
        Assert.That(reloaded.Verify("new.example.com", 22, A), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(reloaded.Verify("new.example.com", 22, B), Is.EqualTo(KnownHostsResult.Changed));
        Assert.That(reloaded.Verify("old", 22, C), Is.EqualTo(KnownHostsResult.Trusted));

        // ssh-keygen -F looks names up the way ssh does, hashed or not.
        string found = ExternalTools.RunChecked(sshKeygen, "-F", "new.example.com", "-f", path);
        Assert.That(found, Does.Contain(A.ToString()).And.Not.Contain(B.ToString()));
        string foundPort = ExternalTools.RunChecked(sshKeygen, "-F", "[new.example.com]:2022", "-f", path);
        Assert.That(foundPort, Does.Contain(B.ToString()));
    }

    [Test]
    public void Add_HashedWithFreshSalt_DifferentLinesBothMatch()
    {
        var verifier = new KnownHostsVerifier();
        string first = verifier.Add("host", 22, A);
        string second = verifier.Add("host", 22, A);

        Assert.That(first, Is.Not.EqualTo(second));
        Assert.That(first.Split(' ')[0].Split('|'), Has.Length.EqualTo(4));
        Assert.That(KnownHostsVerifier.Parse(first).Verify("host", 22, A), Is.EqualTo(KnownHostsResult.Trusted));
        Assert.That(KnownHostsVerifier.Parse(first).Verify("hos", 22, A), Is.EqualTo(KnownHostsResult.Unknown));
    }

    [TestCase("")]
    [TestCase("two words")]
    [TestCase("a,b")]
    [TestCase("|1|x")]
    [TestCase("@revoked")]
    [TestCase("#host")]
    [TestCase("!host")]
    [TestCase("tab\there")]
    public void Add_HostNotWritable_ThrowsArgumentException(string host)
    {
        Assert.Throws<ArgumentException>(() => new KnownHostsVerifier().Add(host, 22, A, hashHostName: false));
    }

    [TestCase(0)]
    [TestCase(-1)]
    [TestCase(65536)]
    public void VerifyAndAdd_PortOutOfRange_ThrowsArgumentOutOfRange(int port)
    {
        var verifier = new KnownHostsVerifier();
        Assert.Throws<ArgumentOutOfRangeException>(() => verifier.Verify("host", port, A));
        Assert.Throws<ArgumentOutOfRangeException>(() => verifier.Add("host", port, A));
    }

    [Test]
    public void Load_MissingFile_ThrowsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => KnownHostsVerifier.Load(OpenSshKeys.NewPath("missing")));
    }
}
