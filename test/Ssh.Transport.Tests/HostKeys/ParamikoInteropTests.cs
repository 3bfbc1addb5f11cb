using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Ssh.Transport.Tests.HostKeys;

/// <summary>
/// Signature blobs checked against paramiko, an independent SSH implementation (TestData/paramiko_signatures.py): it
/// verifies ours, and we verify its, for every ssh-keygen key and every signature algorithm.
/// </summary>
public class ParamikoInteropTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData("ed25519", new[] { "ssh-ed25519" });
        yield return new TestCaseData("ecdsa256", new[] { "ecdsa-sha2-nistp256" });
        yield return new TestCaseData("ecdsa384", new[] { "ecdsa-sha2-nistp384" });
        yield return new TestCaseData("ecdsa521", new[] { "ecdsa-sha2-nistp521" });
        yield return new TestCaseData("rsa2048", new[] { "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa" });
        yield return new TestCaseData("rsa3072", new[] { "rsa-sha2-512", "rsa-sha2-256" });
    }

    [TestCaseSource(nameof(Cases))]
    public void Signatures_SshKeygenKey_InteroperateWithParamiko(string name, string[] algorithms)
    {
        string python = ExternalTools.PythonWithParamiko;
        OpenSshKey key = OpenSshKeys.Get(name);
        using SshPrivateKey hostKey = SshPrivateKey.Load(key.PrivateKeyPath);

        // Ours for paramiko to verify (every third one tampered with, which it must refuse), and data for it to sign.
        var toVerify = new JsonArray();
        var expected = new List<bool>();
        var toSign = new JsonArray();
        var signedData = new List<(string Algorithm, byte[] Data)>();
        for (int i = 0; i < 6; i++)
        {
            foreach (string algorithm in algorithms)
            {
                byte[] data = RandomNumberGenerator.GetBytes(i * 13);
                byte[] blob = HostKeyTestKeys.Sign(hostKey, algorithm, data);
                bool tamper = i % 3 == 2;
                if (tamper)
                {
                    blob[blob.Length - 1 - i] ^= 0x40;
                }

                toVerify.Add(new JsonObject { ["data"] = Convert.ToHexStringLower(data), ["signature"] = Convert.ToHexStringLower(blob) });
                expected.Add(!tamper);

                byte[] theirData = RandomNumberGenerator.GetBytes(32 + i);
                toSign.Add(new JsonObject { ["data"] = Convert.ToHexStringLower(theirData), ["algorithm"] = algorithm });
                signedData.Add((algorithm, theirData));
            }
        }

        var request = new JsonObject
        {
            ["public_blob"] = Convert.ToHexStringLower(hostKey.PublicKey.Blob.Span),
            ["private_key_file"] = key.PrivateKeyPath,
            ["verify"] = toVerify,
            ["sign"] = toSign,
        };
        (int exitCode, string output, string error) = ExternalTools.Run(
            python, [ExternalTools.TestDataFile("paramiko_signatures.py")], request.ToJsonString());
        Assert.That(exitCode, Is.Zero, error);
        JsonNode response = JsonNode.Parse(output)!;

        bool[] verified = response["verified"]!.AsArray().Select(v => v!.GetValue<bool>()).ToArray();
        Assert.That(verified, Is.EqualTo(expected), "paramiko's verdicts on our signatures");

        string[] theirs = response["signatures"]!.AsArray().Select(v => v!.GetValue<string>()).ToArray();
        Assert.That(theirs, Has.Length.EqualTo(signedData.Count));
        for (int i = 0; i < theirs.Length; i++)
        {
            (string algorithm, byte[] data) = signedData[i];
            byte[] blob = Convert.FromHexString(theirs[i]);
            Assert.That(new SshReader(blob).ReadUtf8String(), Is.EqualTo(algorithm));
            Assert.That(HostKeyTestKeys.Verify(hostKey, algorithm, data, blob), Is.True, $"paramiko's {algorithm} signature #{i}");
            Assert.That(HostKeyTestKeys.Verify(hostKey, algorithm, [.. data, 0], blob), Is.False, $"paramiko's {algorithm} signature #{i}, other data");
        }
    }
}
