using System.Buffers;
using System.Text.RegularExpressions;

namespace Ssh.Transport.Tests.HostKeys;

/// <summary>
/// OpenSSH private keys encrypted with a passphrase (PROTOCOL.key: kdf bcrypt, a cipher): keys encrypted by ssh-keygen
/// load with the right passphrase and fail clearly without it or with a wrong one; keys we encrypt, ssh-keygen decrypts.
/// </summary>
public class EncryptedPrivateKeyTests
{
    private const string Passphrase = "correct horse battery staple";

    private static readonly string[] s_ciphers =
    [
        "aes256-ctr", "aes192-ctr", "aes128-ctr", "aes256-cbc", "aes192-cbc", "aes128-cbc",
        "aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "3des-cbc",
    ];

    private static SshPublicKey ReadPub(string path) => SshPublicKey.Parse(File.ReadAllText(path));

    private static void AssertSigns(SshPrivateKey key)
    {
        var blob = new ArrayBufferWriter<byte>();
        key.Sign(key.SignatureAlgorithms[0], "data"u8, blob);
        Assert.That(key.PublicKey.VerifySignature("data"u8, blob.WrittenSpan), Is.True);
    }

    [TestCase("ed25519", "256")]
    [TestCase("ecdsa", "256")]
    [TestCase("ecdsa", "384")]
    [TestCase("ecdsa", "521")]
    [TestCase("rsa", "2048")]
    public void Load_KeyGeneratedBySshKeygenWithPassphrase_SameKeyAsPubFile(string type, string bits)
    {
        // ssh-keygen's defaults: aes256-ctr, bcrypt with 16 rounds.
        string path = OpenSshKeys.NewPath($"{type}{bits}-encrypted");
        ExternalTools.RunChecked(ExternalTools.SshKeygen, "-q", "-t", type, "-b", bits, "-N", Passphrase, "-C", "user@host", "-f", path);
        Assert.That(Header(File.ReadAllText(path)), Is.EqualTo(("aes256-ctr", "bcrypt", 16)));

        using SshPrivateKey key = SshPrivateKey.Load(path, Passphrase);

        Assert.That(key.PublicKey, Is.EqualTo(ReadPub(path + ".pub")));
        Assert.That(key.Comment, Is.EqualTo("user@host"));
        AssertSigns(key);
    }

    [TestCaseSource(nameof(s_ciphers))]
    public void Load_EveryCipherSshKeygenWrites_LoadsAndRefusesWrongOrMissingPassphrase(string cipher)
    {
        OpenSshKey original = OpenSshKeys.Get("ecdsa256");
        string path = OpenSshKeys.Rewrite(original, "cipher", "-N", Passphrase, "-Z", cipher, "-a", "2");
        (string fileCipher, string kdf, int rounds) = Header(File.ReadAllText(path));
        Assert.That((fileCipher, kdf, rounds), Is.EqualTo((cipher, "bcrypt", 2)));

        using (SshPrivateKey key = SshPrivateKey.Load(path, Passphrase))
        {
            Assert.That(key.PublicKey, Is.EqualTo(ReadPub(original.PublicKeyPath)));
            Assert.That(key.Comment, Is.EqualTo("test ecdsa256"));
            AssertSigns(key);
        }

        var wrong = Assert.Throws<SshKeyPassphraseException>(() => SshPrivateKey.Load(path, Passphrase + "!"));
        Assert.That(wrong!.PassphraseMissing, Is.False);
        Assert.That(wrong.Message, Does.Contain("passphrase is wrong"));

        foreach (string? none in new[] { null, "" })
        {
            var missing = Assert.Throws<SshKeyPassphraseException>(() => SshPrivateKey.Load(path, none));
            Assert.That(missing!.PassphraseMissing, Is.True);
            Assert.That(missing.Message, Does.Contain("passphrase is needed").And.Contain(cipher));
        }
    }

    [TestCase("ed25519")]
    [TestCase("ecdsa384")]
    [TestCase("ecdsa521")]
    [TestCase("rsa3072")]
    public void Load_SshKeygenRewrittenWithPassphrase_EveryKeyType(string name)
    {
        OpenSshKey original = OpenSshKeys.Get(name);
        string path = OpenSshKeys.Rewrite(original, "encrypted", "-N", Passphrase, "-a", "3");

        using SshPrivateKey key = SshPrivateKey.Load(path, Passphrase);

        Assert.That(key.PublicKey, Is.EqualTo(ReadPub(original.PublicKeyPath)));
        Assert.Throws<SshKeyPassphraseException>(() => SshPrivateKey.Load(path, "correct horse battery stapl"));
    }

    [Test]
    public void Load_NonAsciiPassphrase_UsedAsUtf8LikeSshKeygen()
    {
        const string unicode = "pässwörd ключ 🔑";
        OpenSshKey original = OpenSshKeys.Get("ed25519");
        string path = OpenSshKeys.Rewrite(original, "unicode", "-N", unicode, "-a", "2");

        using SshPrivateKey key = SshPrivateKey.Load(path, unicode);

        Assert.That(key.PublicKey, Is.EqualTo(ReadPub(original.PublicKeyPath)));
        Assert.Throws<SshKeyPassphraseException>(() => SshPrivateKey.Load(path, "passwort ключ 🔑"));
    }

    [Test]
    public void Load_UnencryptedKeyWithAPassphrase_PassphraseIgnored()
    {
        OpenSshKey original = OpenSshKeys.Get("ed25519");
        using SshPrivateKey key = SshPrivateKey.Load(original.PrivateKeyPath, "not needed");
        Assert.That(key.PublicKey, Is.EqualTo(ReadPub(original.PublicKeyPath)));
    }

    [TestCase("openssh_encrypted_ed25519", "aes256-ctr")]
    [TestCase("openssh_encrypted_ecdsa256", "chacha20-poly1305@openssh.com")]
    public void Load_CommittedSshKeygenKeys_NoToolNeeded(string file, string cipher)
    {
        // Made once by ssh-keygen 9.2 ("ssh-keygen -t ... -N 'correct horse battery staple' [-Z cipher]"); test keys only.
        string path = ExternalTools.TestDataFile(file);
        Assert.That(Header(File.ReadAllText(path)), Is.EqualTo((cipher, "bcrypt", 16)));

        using SshPrivateKey key = SshPrivateKey.Load(path, Passphrase);

        string[] pub = File.ReadAllText(path + ".pub").Trim().Split(' ', 3);
        Assert.That(key.PublicKey, Is.EqualTo(SshPublicKey.Parse(pub[0] + " " + pub[1])));
        Assert.That(key.Comment, Is.EqualTo(pub[2]));
        AssertSigns(key);
        Assert.That(Assert.Throws<SshKeyPassphraseException>(() => SshPrivateKey.Load(path))!.PassphraseMissing, Is.True);
        Assert.That(Assert.Throws<SshKeyPassphraseException>(() => SshPrivateKey.Load(path, "Correct horse battery staple"))!.PassphraseMissing, Is.False);
    }

    [TestCase(SshHostKeyType.Ed25519)]
    [TestCase(SshHostKeyType.EcdsaNistP256)]
    [TestCase(SshHostKeyType.EcdsaNistP384)]
    [TestCase(SshHostKeyType.EcdsaNistP521)]
    [TestCase(SshHostKeyType.Rsa)]
    public void ExportOpenSsh_WithPassphrase_SshKeygenDecryptsIt(SshHostKeyType type)
    {
        SshPrivateKey key = HostKeyTestKeys.Get(type);

        string exported = key.ExportOpenSsh(Passphrase);

        Assert.That(Header(exported), Is.EqualTo(("aes256-ctr", "bcrypt", 16)));
        string path = OpenSshKeys.WritePrivate("exported-encrypted", exported);
        string derived = ExternalTools.RunChecked(ExternalTools.SshKeygen, "-y", "-P", Passphrase, "-f", path).Trim();
        Assert.That(SshPublicKey.Parse(derived), Is.EqualTo(key.PublicKey));
        (int exitCode, _, _) = ExternalTools.Run(ExternalTools.SshKeygen, ["-y", "-P", "wrong", "-f", path]);
        Assert.That(exitCode, Is.Not.Zero, "ssh-keygen accepted a wrong passphrase");

        using SshPrivateKey reloaded = SshPrivateKey.Parse(exported, Passphrase);
        Assert.That(reloaded.PublicKey, Is.EqualTo(key.PublicKey));
        Assert.That(Assert.Throws<SshKeyPassphraseException>(() => SshPrivateKey.Parse(exported))!.PassphraseMissing, Is.True);
    }

    [Test]
    public void ExportOpenSsh_WithPassphrase_FreshSaltEachTime()
    {
        SshPrivateKey key = HostKeyTestKeys.Get(SshHostKeyType.Ed25519);
        string first = key.ExportOpenSsh("x");
        string second = key.ExportOpenSsh("x");
        Assert.That(second, Is.Not.EqualTo(first));
        Assert.That(Header(key.ExportOpenSsh("")), Is.EqualTo(("none", "none", 0)), "an empty passphrase means unencrypted, as in ssh-keygen");
    }

    [Test]
    public void Load_EncryptedSectionTampered_WrongPassphraseOrFormatError()
    {
        // One bcrypt round: the key is loaded once per byte of the section.
        OpenSshKey original = OpenSshKeys.Get("ed25519");
        string text = File.ReadAllText(OpenSshKeys.Rewrite(original, "ctr", "-N", Passphrase, "-a", "1"));
        using SshPrivateKey key = SshPrivateKey.Parse(text, Passphrase);
        byte[] data = Body(text);
        int sectionStart = SectionStart(data);

        // A changed check integer (CTR: the same bit of the plaintext) reads as a wrong passphrase, as in OpenSSH.
        byte[] copy = (byte[])data.Clone();
        copy[sectionStart + 1] ^= 0x01;
        Assert.That(Assert.Throws<SshKeyPassphraseException>(() => SshPrivateKey.Parse(WithBody(text, copy), Passphrase))!.PassphraseMissing, Is.False);

        // Anywhere else it breaks the key, the comment or the padding: never a silently different key.
        for (int i = sectionStart + 8; i < data.Length; i++)
        {
            copy = (byte[])data.Clone();
            copy[i] ^= 0x01;
            try
            {
                using SshPrivateKey loaded = SshPrivateKey.Parse(WithBody(text, copy), Passphrase);
                Assert.That(loaded.PublicKey, Is.EqualTo(key.PublicKey), $"byte {i}");
                Assert.That(loaded.Comment, Is.Not.EqualTo(key.Comment), $"byte {i}: only the comment may change");
            }
            catch (FormatException)
            {
            }
            catch (NotSupportedException)
            {
                // A changed key type name.
            }
        }
    }

    [Test]
    public void Load_AeadTagOrCiphertextTampered_WrongPassphrase()
    {
        OpenSshKey original = OpenSshKeys.Get("ed25519");
        string path = OpenSshKeys.Rewrite(original, "gcm", "-N", Passphrase, "-Z", "aes256-gcm@openssh.com", "-a", "1");
        string text = File.ReadAllText(path);
        byte[] data = Body(text);
        int sectionStart = SectionStart(data);

        foreach (int i in new[] { sectionStart, sectionStart + 40, data.Length - 17, data.Length - 16, data.Length - 1 })
        {
            byte[] copy = (byte[])data.Clone();
            copy[i] ^= 0x80;
            Assert.Throws<SshKeyPassphraseException>(() => SshPrivateKey.Parse(WithBody(text, copy), Passphrase), $"byte {i}");
        }

        Assert.Throws<FormatException>(() => SshPrivateKey.Parse(WithBody(text, data[..^1]), Passphrase), "a tag byte short");
        Assert.Throws<FormatException>(() => SshPrivateKey.Parse(WithBody(text, [.. data, 0]), Passphrase), "a byte after the tag");
    }

    [TestCase("aes256-ctr", "scrypt", typeof(NotSupportedException), "scrypt")]
    [TestCase("twofish256-ctr", "bcrypt", typeof(NotSupportedException), "aes256-ctr, ")]
    [TestCase("none", "bcrypt", typeof(FormatException), "bcrypt")]
    [TestCase("aes256-ctr", "none", typeof(FormatException), "aes256-ctr")]
    public void Load_CipherOrKdfUnsupportedOrInconsistent_Throws(string cipher, string kdf, Type exception, string mentioned)
    {
        string text = HostKeyTestKeys.Get(SshHostKeyType.Ed25519).ExportOpenSsh(Passphrase);
        string changed = Rebuild(text, cipher, kdf, null);

        Exception e = Assert.Catch(() => SshPrivateKey.Parse(changed, Passphrase))!;
        Assert.That(e, Is.TypeOf(exception));
        Assert.That(e.Message, Does.Contain(mentioned));
    }

    [TestCase("00000000" + "00000010")]
    [TestCase("00000010" + "000102030405060708090a0b0c0d0e0f" + "00000000")]
    [TestCase("00000010" + "000102030405060708090a0b0c0d0e0f" + "80000000")]
    [TestCase("00000010" + "000102030405060708090a0b0c0d0e0f" + "00000010" + "00")]
    [TestCase("00000010" + "000102030405060708090a0b0c0d0e0f" + "0000")]
    [TestCase("")]
    public void Load_BcryptOptionsMalformed_FormatException(string optionsHex)
    {
        string text = HostKeyTestKeys.Get(SshHostKeyType.Ed25519).ExportOpenSsh(Passphrase);
        string changed = Rebuild(text, "aes256-ctr", "bcrypt", Convert.FromHexString(optionsHex));

        Assert.Throws<FormatException>(() => SshPrivateKey.Parse(changed, Passphrase));
    }

    [Test]
    public void Load_PemEncrypted_NotSupportedSayingHowToConvert()
    {
        OpenSshKey original = OpenSshKeys.Get("rsa2048");
        string path = OpenSshKeys.Rewrite(original, "pem", "-N", Passphrase, "-m", "PEM");

        var e = Assert.Throws<NotSupportedException>(() => SshPrivateKey.Load(path, Passphrase));
        Assert.That(e!.Message, Does.Contain("ssh-keygen -p"));
    }

    /// <summary>The cipher, kdf and bcrypt rounds (0 for none) of an OpenSSH private key file.</summary>
    private static (string Cipher, string Kdf, int Rounds) Header(string text)
    {
        var reader = new SshReader(Body(text).AsSpan(15));
        string cipher = reader.ReadUtf8String();
        string kdf = reader.ReadUtf8String();
        var options = new SshReader(reader.ReadString());
        if (options.End)
        {
            return (cipher, kdf, 0);
        }

        Assert.That(options.ReadString().Length, Is.EqualTo(16), "salt");
        return (cipher, kdf, (int)options.ReadUInt32());
    }

    private static byte[] Body(string text) =>
        Convert.FromBase64String(Regex.Match(text, "-----\n(.*)\n-----END", RegexOptions.Singleline).Groups[1].Value);

    private static string WithBody(string text, byte[] data) =>
        "-----BEGIN OPENSSH PRIVATE KEY-----\n" + Convert.ToBase64String(data) + "\n-----END OPENSSH PRIVATE KEY-----\n";

    /// <summary>The offset of the private section's first byte (after its length).</summary>
    private static int SectionStart(byte[] data)
    {
        var reader = new SshReader(data.AsSpan(15));
        reader.ReadString();
        reader.ReadString();
        reader.ReadString();
        reader.ReadUInt32();
        reader.ReadString();
        return 15 + reader.Consumed + 4;
    }

    /// <summary>The same file with other cipher and kdf names, and other kdf options if given.</summary>
    private static string Rebuild(string text, string cipher, string kdf, byte[]? kdfOptions)
    {
        byte[] data = Body(text);
        var reader = new SshReader(data.AsSpan(15));
        reader.ReadString();
        reader.ReadString();
        byte[] options = kdfOptions ?? reader.ReadString().ToArray();
        if (kdfOptions is not null)
        {
            reader.ReadString();
        }

        var output = new ArrayBufferWriter<byte>();
        output.Write(data.AsSpan(0, 15));
        var writer = new SshWriter(output);
        writer.WriteString(cipher);
        writer.WriteString(kdf);
        writer.WriteString(options);
        writer.WriteBytes(reader.UnreadSpan);
        return WithBody(text, output.WrittenSpan.ToArray());
    }
}
