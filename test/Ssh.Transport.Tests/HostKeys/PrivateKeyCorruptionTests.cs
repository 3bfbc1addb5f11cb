using System.Numerics;
using System.Text.RegularExpressions;

namespace Ssh.Transport.Tests.HostKeys;

/// <summary>
/// Corrupted private key files: every change is either refused with FormatException or NotSupportedException, or
/// yields the same key, still making valid signatures. Nothing else escapes, and no broken key signs.
/// </summary>
public class PrivateKeyCorruptionTests
{
    [TestCase("ed25519", 1)]
    [TestCase("ecdsa256", 1)]
    [TestCase("ecdsa521", 2)]
    [TestCase("rsa2048", 5)]
    public void Parse_OpenSshFileWithFlippedBit_RefusedOrStillSignsCorrectly(string name, int step)
    {
        OpenSshKey key = OpenSshKeys.Get(name);
        string text = File.ReadAllText(key.PrivateKeyPath);
        Match body = Regex.Match(text, "-----\n(.*)\n-----END", RegexOptions.Singleline);
        byte[] data = Convert.FromBase64String(body.Groups[1].Value);
        SshPublicKey expected = SshPublicKey.Parse(File.ReadAllText(key.PublicKeyPath));

        int refused = 0;
        for (int i = 15; i < data.Length; i += step)
        {
            byte[] copy = (byte[])data.Clone();
            copy[i] ^= (byte)(1 << (i % 8));
            Check(text.Replace(body.Groups[1].Value, Convert.ToBase64String(copy)), expected, $"byte {i}", ref refused);
        }

        Assert.That(refused, Is.GreaterThan(data.Length / step / 2));
    }

    [TestCase("ecdsa256", "PEM")]
    [TestCase("ecdsa384", "PKCS8")]
    [TestCase("rsa2048", "PEM")]
    [TestCase("rsa2048", "PKCS8")]
    public void Parse_PemFileWithFlippedBit_RefusedOrStillSignsCorrectly(string name, string format)
    {
        OpenSshKey key = OpenSshKeys.Get(name);
        string text = File.ReadAllText(OpenSshKeys.Rewrite(key, format, "-N", "", "-m", format));
        Match body = Regex.Match(text, "-----\n(.*)\n-----END", RegexOptions.Singleline);
        byte[] der = Convert.FromBase64String(body.Groups[1].Value);
        SshPublicKey expected = SshPublicKey.Parse(File.ReadAllText(key.PublicKeyPath));

        int refused = 0;
        int step = der.Length > 600 ? 5 : 1;
        for (int i = 0; i < der.Length; i += step)
        {
            byte[] copy = (byte[])der.Clone();
            copy[i] ^= (byte)(1 << (i % 8));
            string pem = text.Replace(body.Groups[1].Value, string.Join('\n', Convert.ToBase64String(copy).Chunk(64).Select(c => new string(c))));
            Check(pem, expected, $"byte {i}", ref refused);
        }

        Assert.That(refused, Is.GreaterThan(0));
    }

    [Test]
    public void Parse_RsaKeyWithConsistentButWrongPrivateExponent_Refused()
    {
        // d' = d + 2 with the CRT exponents recomputed from it: a well-formed PKCS#1 key whose signatures are wrong.
        // On Linux the OpenSSL import refuses it; elsewhere the pairwise self-test at load time must.
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var p = rsa.ExportParameters(true);
        BigInteger Num(byte[] b) => new(b, isUnsigned: true, isBigEndian: true);
        BigInteger d = Num(p.D!) + 2, pp = Num(p.P!), qq = Num(p.Q!);
        var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteInteger(0);
            foreach (BigInteger value in new[] { Num(p.Modulus!), Num(p.Exponent!), d, pp, qq, d % (pp - 1), d % (qq - 1), Num(p.InverseQ!) })
            {
                writer.WriteInteger(value);
            }
        }

        string pem = new(System.Security.Cryptography.PemEncoding.Write("RSA PRIVATE KEY", writer.Encode()));

        Assert.Throws<FormatException>(() => SshPrivateKey.Parse(pem));
    }

    private static void Check(string text, SshPublicKey expected, string what, ref int refused)
    {
        SshPrivateKey loaded;
        try
        {
            loaded = SshPrivateKey.Parse(text);
        }
        catch (Exception e) when (e is FormatException or NotSupportedException)
        {
            refused++;
            return;
        }

        using (loaded)
        {
            // PEM keys carry the public key only implicitly, so a changed private key may load as another key; it must
            // at least be a working one.
            byte[] data = [1, 2, 3];
            foreach (string algorithm in loaded.SignatureAlgorithms)
            {
                byte[] blob = HostKeyTestKeys.Sign(loaded, algorithm, data);
                Assert.That(HostKeyTestKeys.Verify(loaded, algorithm, data, blob), Is.True, $"{what}: loaded, but signs wrongly with {algorithm}");
            }

            if (text.Contains("OPENSSH", StringComparison.Ordinal))
            {
                Assert.That(loaded.PublicKey, Is.EqualTo(expected), $"{what}: loaded as another key");
            }
        }
    }
}
