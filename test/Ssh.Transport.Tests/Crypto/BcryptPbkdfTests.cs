using System.Text.Json;
using System.Text.Json.Nodes;
using Ssh.Transport.Crypto.Primitives;
using Ssh.Transport.Tests.HostKeys;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>
/// bcrypt_pbkdf, proven three ways: the published vectors of the python bcrypt package (TestData/bcrypt_pbkdf_vectors.json,
/// which cites them), a differential test against that package on random inputs (TestData/bcrypt_kdf.py), and keys
/// encrypted by ssh-keygen itself (HostKeys/EncryptedPrivateKeyTests).
/// </summary>
public class BcryptPbkdfTests
{
    private static readonly Lazy<JsonDocument> s_vectors =
        new(() => JsonDocument.Parse(File.ReadAllText(ExternalTools.TestDataFile("bcrypt_pbkdf_vectors.json"))));

    private static IEnumerable<TestCaseData> Vectors() =>
        s_vectors.Value.RootElement.GetProperty("vectors").EnumerateArray().Select((v, i) =>
            new TestCaseData(
                v.GetProperty("rounds").GetInt32(),
                v.GetProperty("password").GetString()!,
                v.GetProperty("salt").GetString()!,
                v.GetProperty("key").GetString()!).SetArgDisplayNames($"vector {i}: {v.GetProperty("rounds").GetInt32()} rounds, {v.GetProperty("key").GetString()!.Length / 2} bytes"));

    [TestCaseSource(nameof(Vectors))]
    public void DeriveKey_PyCaBcryptVectors(int rounds, string password, string salt, string key)
    {
        byte[] derived = new byte[key.Length / 2];
        BcryptPbkdf.DeriveKey(Convert.FromHexString(password), Convert.FromHexString(salt), rounds, derived);
        Assert.That(Convert.ToHexStringLower(derived), Is.EqualTo(key));
    }

    [Test]
    public void DeriveKey_RandomInputs_SameAsPythonBcrypt()
    {
        string python = ExternalTools.PythonWithBcrypt;
        var random = new Random(2013);
        var requests = new JsonArray();
        var cases = new List<(byte[] Password, byte[] Salt, int Rounds, int Length)>();
        for (int i = 0; i < 40; i++)
        {
            // Lengths around the 32-byte block and the stride boundaries; OpenSSH's own 48 (aes256-ctr key and IV),
            // 44 (aes256-gcm) and 32 (aes128-ctr) among them; passwords past SHA-512's block; 16 blocks at once.
            int length = i switch
            {
                0 => 48,
                1 => 44,
                2 => 32,
                3 => 1,
                4 => 33,
                5 => 64,
                6 => 65,
                7 => 512, // the most the python package derives (OpenBSD allows 1024)
                _ => random.Next(1, 200),
            };
            byte[] password = new byte[random.Next(1, i % 5 == 0 ? 300 : 40)];
            byte[] salt = new byte[random.Next(1, i % 4 == 0 ? 100 : 17)];
            random.NextBytes(password);
            random.NextBytes(salt);
            int rounds = i == 7 ? 1 : random.Next(1, 5);
            cases.Add((password, salt, rounds, length));
            requests.Add(new JsonObject
            {
                ["password"] = Convert.ToHexStringLower(password),
                ["salt"] = Convert.ToHexStringLower(salt),
                ["rounds"] = rounds,
                ["length"] = length,
            });
        }

        (int exitCode, string output, string error) = ExternalTools.Run(python, [ExternalTools.TestDataFile("bcrypt_kdf.py")], requests.ToJsonString());
        Assert.That(exitCode, Is.Zero, error);
        string[] theirs = JsonNode.Parse(output)!.AsArray().Select(k => k!.GetValue<string>()).ToArray();
        Assert.That(theirs, Has.Length.EqualTo(cases.Count));

        for (int i = 0; i < cases.Count; i++)
        {
            (byte[] password, byte[] salt, int rounds, int length) = cases[i];
            byte[] ours = new byte[length];
            BcryptPbkdf.DeriveKey(password, salt, rounds, ours);
            Assert.That(Convert.ToHexStringLower(ours), Is.EqualTo(theirs[i]), $"case {i}: {password.Length}-byte password, {salt.Length}-byte salt, {rounds} rounds, {length} bytes");
        }
    }

    [Test]
    public void DeriveKey_PrefixOfALongerKeyDiffers_BytesAreInterleaved()
    {
        // Not PBKDF2: the first bytes of a 64-byte key are not a 32-byte key, since block 1 fills bytes 0, 2, 4, ...
        byte[] short32 = new byte[32];
        byte[] long64 = new byte[64];
        BcryptPbkdf.DeriveKey("password"u8, "salt"u8, 2, short32);
        BcryptPbkdf.DeriveKey("password"u8, "salt"u8, 2, long64);

        Assert.That(long64.AsSpan(0, 32).SequenceEqual(short32), Is.False);
        Assert.That(Enumerable.Range(0, 32).Select(i => long64[2 * i]), Is.EqualTo(short32), "block 1 at the even positions");
    }

    [Test]
    public void DeriveKey_BadArguments_Throw()
    {
        byte[] key = new byte[32];
        Assert.Throws<ArgumentException>(() => BcryptPbkdf.DeriveKey([], "salt"u8, 4, key));
        Assert.Throws<ArgumentException>(() => BcryptPbkdf.DeriveKey("password"u8, [], 4, key));
        Assert.Throws<ArgumentOutOfRangeException>(() => BcryptPbkdf.DeriveKey("password"u8, "salt"u8, 0, key));
        Assert.Throws<ArgumentException>(() => BcryptPbkdf.DeriveKey("password"u8, "salt"u8, 4, Span<byte>.Empty));
        Assert.Throws<ArgumentException>(() => BcryptPbkdf.DeriveKey("password"u8, "salt"u8, 4, new byte[BcryptPbkdf.MaxKeyLength + 1]));
    }
}
