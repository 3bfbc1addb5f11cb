using System.Text.RegularExpressions;

namespace Ssh.Transport.Tests.HostKeys;

/// <summary>ssh-keygen (OpenSSH) as ground truth for loading, exporting, public key blobs and fingerprints.</summary>
public class SshPrivateKeyOpenSshTests
{
    private static readonly string[] s_names = OpenSshKeys.Names;

    private static SshPublicKey ReadPub(OpenSshKey key) => SshPublicKey.Parse(File.ReadAllText(key.PublicKeyPath));

    [TestCaseSource(nameof(s_names))]
    public void Load_SshKeygenKey_PublicBlobAndCommentMatchPubFile(string name)
    {
        OpenSshKey key = OpenSshKeys.Get(name);
        using SshPrivateKey hostKey = SshPrivateKey.Load(key.PrivateKeyPath);

        string[] pub = File.ReadAllText(key.PublicKeyPath).Trim().Split(' ', 3);
        Assert.That(hostKey.KeyType, Is.EqualTo(key.KeyType));
        Assert.That(Convert.ToBase64String(hostKey.PublicKey.Blob.Span), Is.EqualTo(pub[1]));
        Assert.That(hostKey.PublicKey.ToString(), Is.EqualTo(pub[0] + " " + pub[1]));
        Assert.That(hostKey.PublicKey, Is.EqualTo(ReadPub(key)));
        Assert.That(hostKey.Comment, Is.EqualTo(pub[2]));
    }

    [TestCaseSource(nameof(s_names))]
    public void GetFingerprint_SshKeygenKey_MatchesSshKeygenList(string name)
    {
        OpenSshKey key = OpenSshKeys.Get(name);
        SshPublicKey publicKey = ReadPub(key);

        // "3072 SHA256:base64 comment (RSA)": the size, then the fingerprint.
        string[] sha256 = ExternalTools.RunChecked(ExternalTools.SshKeygen, "-l", "-f", key.PublicKeyPath).Split(' ');
        string[] md5 = ExternalTools.RunChecked(ExternalTools.SshKeygen, "-l", "-E", "md5", "-f", key.PublicKeyPath).Split(' ');

        Assert.That(publicKey.GetFingerprint(), Is.EqualTo(sha256[1]));
        Assert.That(publicKey.GetMd5Fingerprint(), Is.EqualTo(md5[1]));
        Assert.That(publicKey.KeySize.ToString(), Is.EqualTo(sha256[0]));
    }

    [TestCaseSource(nameof(s_names))]
    public void ExportOpenSsh_SshKeygenKey_SshKeygenReadsSamePublicKey(string name)
    {
        OpenSshKey key = OpenSshKeys.Get(name);
        using SshPrivateKey hostKey = SshPrivateKey.Load(key.PrivateKeyPath);

        string exported = hostKey.ExportOpenSsh();
        string path = OpenSshKeys.WritePrivate(name + "-export", exported);

        Assert.That(exported, Does.StartWith("-----BEGIN OPENSSH PRIVATE KEY-----\n").And.EndWith("-----END OPENSSH PRIVATE KEY-----\n"));
        Assert.That(exported.Split('\n').Max(l => l.Length), Is.LessThanOrEqualTo(70));
        string derived = ExternalTools.RunChecked(ExternalTools.SshKeygen, "-y", "-f", path).Trim();
        Assert.That(SshPublicKey.Parse(derived), Is.EqualTo(hostKey.PublicKey));
        Assert.That(derived, Does.EndWith(hostKey.Comment), "ssh-keygen -y prints the comment it read");
        using SshPrivateKey reloaded = SshPrivateKey.Parse(exported);
        Assert.That(reloaded.PublicKey, Is.EqualTo(hostKey.PublicKey));
        Assert.That(reloaded.Comment, Is.EqualTo(hostKey.Comment));
    }

    [TestCase(SshHostKeyType.Ed25519)]
    [TestCase(SshHostKeyType.EcdsaNistP256)]
    [TestCase(SshHostKeyType.EcdsaNistP384)]
    [TestCase(SshHostKeyType.EcdsaNistP521)]
    [TestCase(SshHostKeyType.Rsa)]
    public void ExportOpenSsh_GeneratedKey_SshKeygenDerivesSamePublicKeyAndFingerprint(SshHostKeyType type)
    {
        using SshPrivateKey hostKey = type == SshHostKeyType.Rsa ? SshPrivateKey.Generate(type, 2048) : SshPrivateKey.Generate(type);
        string path = OpenSshKeys.WritePrivate("generated", hostKey.ExportOpenSsh());

        string derived = ExternalTools.RunChecked(ExternalTools.SshKeygen, "-y", "-f", path).Trim();
        Assert.That(derived, Is.EqualTo(hostKey.PublicKey.ToString()), "no comment: the generated key has none");

        // ssh-keygen -l on the private key file computes the fingerprint from what it parsed.
        string listed = ExternalTools.RunChecked(ExternalTools.SshKeygen, "-l", "-f", path);
        Assert.That(listed.Split(' ')[1], Is.EqualTo(hostKey.PublicKey.GetFingerprint()));
    }

    [TestCase("ecdsa256", "PEM", "-----BEGIN EC PRIVATE KEY-----")]
    [TestCase("ecdsa384", "PKCS8", "-----BEGIN PRIVATE KEY-----")]
    [TestCase("ecdsa521", "PEM", "-----BEGIN EC PRIVATE KEY-----")]
    [TestCase("ecdsa521", "PKCS8", "-----BEGIN PRIVATE KEY-----")]
    [TestCase("rsa2048", "PEM", "-----BEGIN RSA PRIVATE KEY-----")]
    [TestCase("rsa3072", "PKCS8", "-----BEGIN PRIVATE KEY-----")]
    public void Load_PemFormatsWrittenBySshKeygen_SameKeyAsPubFile(string name, string format, string header)
    {
        OpenSshKey key = OpenSshKeys.Get(name);
        string path = OpenSshKeys.Rewrite(key, format, "-N", "", "-m", format);
        Assert.That(File.ReadAllText(path), Does.StartWith(header));

        using SshPrivateKey hostKey = SshPrivateKey.Load(path);

        Assert.That(hostKey.PublicKey, Is.EqualTo(ReadPub(key)));
        Assert.That(hostKey.Comment, Is.Empty, "PEM has no comment");
    }

    [Test]
    public void Load_Ed25519Pkcs8FromOpenSsl_PublicKeyMatchesOpenSsl()
    {
        string path = OpenSshKeys.NewPath("ed25519-pkcs8.pem");
        ExternalTools.RunChecked(ExternalTools.OpenSsl, "genpkey", "-algorithm", "ed25519", "-out", path);
        string derPath = path + ".der";
        ExternalTools.RunChecked(ExternalTools.OpenSsl, "pkey", "-in", path, "-pubout", "-outform", "DER", "-out", derPath);
        byte[] spki = File.ReadAllBytes(derPath);

        using SshPrivateKey hostKey = SshPrivateKey.Load(path);

        // RFC 8410: the SubjectPublicKeyInfo ends in the 32-byte key; RFC 8709: the blob is string type, string key.
        byte[] expected = [0, 0, 0, 11, .. "ssh-ed25519"u8, 0, 0, 0, 32, .. spki[^32..]];
        Assert.That(hostKey.PublicKey.Blob.ToArray(), Is.EqualTo(expected));
        string exported = OpenSshKeys.WritePrivate("ed25519-from-pkcs8", hostKey.ExportOpenSsh());
        Assert.That(ExternalTools.RunChecked(ExternalTools.SshKeygen, "-y", "-f", exported).Trim(), Is.EqualTo(hostKey.PublicKey.ToString()));
    }

    [TestCase("ed25519")]
    [TestCase("rsa2048")]
    public void Load_EncryptedOpenSshKeyWithoutPassphrase_ThrowsSayingAPassphraseIsNeeded(string name)
    {
        OpenSshKey key = OpenSshKeys.Get(name);
        string path = OpenSshKeys.Rewrite(key, "encrypted", "-N", "secret", "-a", "1");

        var e = Assert.Throws<SshKeyPassphraseException>(() => SshPrivateKey.Load(path));
        Assert.That(e!.PassphraseMissing, Is.True);
        Assert.That(e.Message, Does.Contain("encrypted").And.Contain("passphrase is needed"));
    }

    [TestCase("ecdsa256", "PEM")]
    [TestCase("rsa2048", "PEM")]
    [TestCase("ecdsa384", "PKCS8")]
    public void Load_EncryptedPemKey_ThrowsNotSupportedSayingEncrypted(string name, string format)
    {
        OpenSshKey key = OpenSshKeys.Get(name);
        string path = OpenSshKeys.Rewrite(key, "encrypted", "-N", "secret", "-m", format);

        var e = Assert.Throws<NotSupportedException>(() => SshPrivateKey.Load(path));
        Assert.That(e!.Message, Does.Contain("encrypted"));
        Assert.Throws<NotSupportedException>(() => SshPrivateKey.Load(path, "secret"));
    }

    [Test]
    public void Load_DsaKey_ThrowsNotSupported()
    {
        OpenSshKey key;
        try
        {
            key = OpenSshKeys.Get("dsa");
        }
        catch (AssertionException)
        {
            Assert.Ignore("This ssh-keygen cannot make DSA keys.");
            return;
        }

        var e = Assert.Throws<NotSupportedException>(() => SshPrivateKey.Load(key.PrivateKeyPath));
        Assert.That(e!.Message, Does.Contain("ssh-dss"));
        Assert.Throws<NotSupportedException>(() => SshPublicKey.Parse(File.ReadAllText(key.PublicKeyPath)));
    }

    [Test]
    public void Load_PublicKeyFile_ThrowsFormatExceptionSayingPublic()
    {
        OpenSshKey key = OpenSshKeys.Get("ed25519");
        var e = Assert.Throws<FormatException>(() => SshPrivateKey.Load(key.PublicKeyPath));
        Assert.That(e!.Message, Does.Contain("public key"));
    }

    [Test]
    public void Load_CorruptedOpenSshFile_ThrowsFormatException()
    {
        OpenSshKey key = OpenSshKeys.Get("ed25519");
        string text = File.ReadAllText(key.PrivateKeyPath);
        Match body = Regex.Match(text, "-----\n(.*)\n-----END", RegexOptions.Singleline);
        byte[] data = Convert.FromBase64String(body.Groups[1].Value);

        string With(byte[] bytes) => text.Replace(body.Groups[1].Value, Convert.ToBase64String(bytes));

        // Every truncation of the binary key.
        for (int length = 0; length < data.Length; length += 3)
        {
            Assert.Throws<FormatException>(() => SshPrivateKey.Parse(With(data[..length])), $"truncated to {length}");
        }

        // Every single-bit change in the private section's check integers, key fields and padding is caught, or yields
        // a key that no longer matches the public one. (The comment is free text: a changed comment, or one whose
        // length grows into the padding, still loads, in OpenSSH too.)
        var reader = new SshReader(data.AsSpan(15)); // after "openssh-key-v1\0"
        reader.ReadString(); // cipher
        reader.ReadString(); // kdf
        reader.ReadString(); // kdf options
        reader.ReadUInt32(); // number of keys
        reader.ReadString(); // public key
        int sectionStart = 15 + reader.Consumed + 4;
        var section = new SshReader(data.AsSpan(sectionStart));
        section.ReadUInt64(); // check integers
        section.ReadString(); // key type
        section.ReadString(); // public key
        section.ReadString(); // seed || public key
        int commentStart = sectionStart + section.Consumed;
        section.ReadString();
        int paddingStart = sectionStart + section.Consumed;
        Assert.That(paddingStart, Is.LessThan(data.Length), "ssh-keygen padded the section");
        foreach (int i in Enumerable.Range(sectionStart, commentStart - sectionStart).Concat(Enumerable.Range(paddingStart, data.Length - paddingStart)))
        {
            byte[] copy = (byte[])data.Clone();
            copy[i] ^= 0x01;
            try
            {
                using SshPrivateKey loaded = SshPrivateKey.Parse(With(copy));
                Assert.Fail($"byte {i} changed, key still loaded");
            }
            catch (FormatException)
            {
            }
            catch (NotSupportedException)
            {
                // A changed key type name.
            }
        }

        Assert.Throws<FormatException>(() => SshPrivateKey.Parse(text.Replace("-----END OPENSSH PRIVATE KEY-----", "")));
        Assert.Throws<FormatException>(() => SshPrivateKey.Parse(text.Replace("b3BlbnNz", "b3Blb!Nz")));
    }

    [TestCase("")]
    [TestCase("hello world")]
    [TestCase("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")]
    [TestCase("-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n")]
    [TestCase("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")]
    [TestCase("PuTTY-User-Key-File-3: ssh-ed25519\n")]
    public void Parse_Garbage_ThrowsFormatException(string text)
    {
        var e = Assert.Throws<FormatException>(() => SshPrivateKey.Parse(text));
        Assert.That(e!.Message, Is.Not.Empty);
    }
}
