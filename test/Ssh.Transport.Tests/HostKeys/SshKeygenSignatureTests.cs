using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Ssh.Transport.Tests.HostKeys;

/// <summary>
/// Signature blobs checked against OpenSSH itself through its file signatures, "ssh-keygen -Y sign/verify"
/// (PROTOCOL.sshsig): an SSHSIG file wraps exactly the blob SshPrivateKey.Sign writes, over data built from the
/// message. Ours are verified by ssh-keygen, and ssh-keygen's by SshPublicKey.VerifySignature.
/// </summary>
public class SshKeygenSignatureTests
{
    private const string Namespace = "file";
    private const string Identity = "test@example.org";

    private static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData("ed25519", "ssh-ed25519");
        yield return new TestCaseData("ecdsa256", "ecdsa-sha2-nistp256");
        yield return new TestCaseData("ecdsa384", "ecdsa-sha2-nistp384");
        yield return new TestCaseData("ecdsa521", "ecdsa-sha2-nistp521");
        yield return new TestCaseData("rsa2048", "rsa-sha2-512");
        yield return new TestCaseData("rsa2048", "rsa-sha2-256");
        yield return new TestCaseData("rsa3072", "rsa-sha2-512");
    }

    [TestCaseSource(nameof(Cases))]
    public void OurSignature_SshKeygenVerifies_AndRefusesOtherMessage(string name, string algorithm)
    {
        OpenSshKey key = OpenSshKeys.Get(name);
        using SshPrivateKey privateKey = SshPrivateKey.Load(key.PrivateKeyPath);
        byte[] message = RandomMessage();
        string messagePath = OpenSshKeys.NewPath("message");
        File.WriteAllBytes(messagePath, message);

        string signaturePath = messagePath + ".sig";
        File.WriteAllText(signaturePath, Armor(SshSig(privateKey, algorithm, message)));
        string allowedSigners = WriteAllowedSigners(privateKey.PublicKey);

        (int exitCode, string output, string error) = Verify(allowedSigners, signaturePath, messagePath);
        Assert.That(exitCode, Is.Zero, $"ssh-keygen -Y verify refused our {algorithm} signature: {output} {error}");
        Assert.That(output, Does.Contain("Good"));

        message[17] ^= 1;
        File.WriteAllBytes(messagePath, message);
        (exitCode, _, _) = Verify(allowedSigners, signaturePath, messagePath);
        Assert.That(exitCode, Is.Not.Zero, "ssh-keygen accepted our signature for another message");
    }

    [TestCase("ed25519")]
    [TestCase("ecdsa256")]
    [TestCase("ecdsa384")]
    [TestCase("ecdsa521")]
    [TestCase("rsa2048")]
    public void SshKeygenSignature_WeVerify_AndRefuseOtherMessage(string name)
    {
        OpenSshKey key = OpenSshKeys.Get(name);
        SshPublicKey publicKey = SshPublicKey.Parse(File.ReadAllText(key.PublicKeyPath));
        byte[] message = RandomMessage();
        string messagePath = OpenSshKeys.NewPath("message");
        File.WriteAllBytes(messagePath, message);

        ExternalTools.RunChecked(ExternalTools.SshKeygen, "-Y", "sign", "-f", key.PrivateKeyPath, "-n", Namespace, messagePath);
        byte[] sshsig = Dearmor(File.ReadAllText(messagePath + ".sig"));

        // byte[6] "SSHSIG", uint32 1, string publickey, string namespace, string reserved, string hash_algorithm, string signature.
        Assert.That(sshsig.AsSpan(0, 6).SequenceEqual("SSHSIG"u8), Is.True);
        var reader = new SshReader(sshsig.AsSpan(6));
        Assert.That(reader.ReadUInt32(), Is.EqualTo(1));
        Assert.That(reader.ReadString().SequenceEqual(publicKey.Blob.Span), Is.True);
        Assert.That(reader.ReadUtf8String(), Is.EqualTo(Namespace));
        reader.ReadString();
        string hash = reader.ReadUtf8String();
        ReadOnlySpan<byte> blob = reader.ReadString();
        Assert.That(reader.End, Is.True);

        string algorithm = new SshReader(blob).ReadUtf8String();
        Assert.That(algorithm, Is.EqualTo(publicKey.KeyType == "ssh-rsa" ? "rsa-sha2-512" : publicKey.KeyType));
        Assert.That(publicKey.VerifySignature(SignedData(hash, message), blob), Is.True);
        Assert.That(publicKey.VerifySignature(algorithm, SignedData(hash, message), blob), Is.True);
        message[0] ^= 1;
        Assert.That(publicKey.VerifySignature(SignedData(hash, message), blob), Is.False);
    }

    // Printable: ssh-keygen -Y verify reads the message from standard input, which ExternalTools.Run feeds as text.
    private static byte[] RandomMessage() => Encoding.ASCII.GetBytes(Convert.ToHexString(RandomNumberGenerator.GetBytes(50)));

    /// <summary>PROTOCOL.sshsig §"Signed Data": what the signature covers.</summary>
    private static byte[] SignedData(string hashAlgorithm, byte[] message)
    {
        byte[] digest = hashAlgorithm switch
        {
            "sha512" => SHA512.HashData(message),
            "sha256" => SHA256.HashData(message),
            _ => throw new AssertionException($"Unknown SSHSIG hash '{hashAlgorithm}'."),
        };
        var output = new ArrayBufferWriter<byte>();
        output.Write("SSHSIG"u8);
        var writer = new SshWriter(output);
        writer.WriteString(Namespace);
        writer.WriteString(ReadOnlySpan<byte>.Empty);
        writer.WriteString(hashAlgorithm);
        writer.WriteString(digest);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] SshSig(SshPrivateKey key, string algorithm, byte[] message)
    {
        var output = new ArrayBufferWriter<byte>();
        output.Write("SSHSIG"u8);
        var writer = new SshWriter(output);
        writer.WriteUInt32(1);
        writer.WriteString(key.PublicKey.Blob.Span);
        writer.WriteString(Namespace);
        writer.WriteString(ReadOnlySpan<byte>.Empty);
        writer.WriteString("sha512");
        key.WriteSignature(ref writer, algorithm, SignedData("sha512", message));
        return output.WrittenSpan.ToArray();
    }

    private static string Armor(byte[] sshsig)
    {
        string base64 = Convert.ToBase64String(sshsig);
        var text = new StringBuilder("-----BEGIN SSH SIGNATURE-----\n");
        for (int i = 0; i < base64.Length; i += 70)
        {
            text.Append(base64.AsSpan(i, Math.Min(70, base64.Length - i))).Append('\n');
        }

        return text.Append("-----END SSH SIGNATURE-----\n").ToString();
    }

    private static byte[] Dearmor(string text)
    {
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.That(lines[0], Is.EqualTo("-----BEGIN SSH SIGNATURE-----"));
        Assert.That(lines[^1], Is.EqualTo("-----END SSH SIGNATURE-----"));
        return Convert.FromBase64String(string.Concat(lines[1..^1]));
    }

    private static string WriteAllowedSigners(SshPublicKey key)
    {
        string path = OpenSshKeys.NewPath("allowed_signers");
        File.WriteAllText(path, $"{Identity} {key}\n");
        return path;
    }

    private static (int ExitCode, string Output, string Error) Verify(string allowedSigners, string signaturePath, string messagePath) =>
        ExternalTools.Run(ExternalTools.SshKeygen,
            ["-Y", "verify", "-f", allowedSigners, "-I", Identity, "-n", Namespace, "-s", signaturePath],
            File.ReadAllText(messagePath, Encoding.ASCII));
}
