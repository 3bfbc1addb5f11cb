using System.Text.Json;
using Ssh.Transport.Crypto;
using static Ssh.Transport.Tests.Crypto.AesTestSupport;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>
/// Packets sealed by AsyncSSH (TestData/make_aes_vectors.py, committed output TestData/aes_vectors.json): an
/// independent implementation's bytes for every construction, several packets in sequence per construction (GCM
/// counters, CTR streams and CBC chains advance; one GCM counter and one CTR counter wrap).
/// </summary>
internal sealed class AesWireVectorTests
{
    private static readonly Lazy<JsonDocument> s_vectors = new(() => JsonDocument.Parse(File.ReadAllText(TestDataFile("aes_vectors.json"))));

    private static IEnumerable<TestCaseData> Vectors() =>
        s_vectors.Value.RootElement.GetProperty("constructions").EnumerateArray()
            .Select(c => c.GetProperty("name").GetString()!)
            .Select(name => new TestCaseData(name).SetArgDisplayNames(name));

    private static JsonElement Find(string name) =>
        s_vectors.Value.RootElement.GetProperty("constructions").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    private static (PacketSealer Sealer, PacketOpener Opener) Create(JsonElement c)
    {
        string cipher = c.GetProperty("cipher").GetString()!;
        byte[] key = Hex(c.GetProperty("key").GetString()!);
        byte[] iv = Hex(c.GetProperty("iv").GetString()!);
        if (cipher.EndsWith("-gcm@openssh.com", StringComparison.Ordinal))
        {
            return (AesGcmProtection.CreateSealer(key, iv), AesGcmProtection.CreateOpener(key, iv));
        }

        SshCipherKind kind = cipher switch
        {
            "3des-cbc" => SshCipherKind.TripleDesCbc,
            _ when cipher.EndsWith("-ctr", StringComparison.Ordinal) => SshCipherKind.AesCtr,
            _ => SshCipherKind.AesCbc,
        };
        SshMacKind mac = c.GetProperty("mac").GetString() switch
        {
            "hmac-sha1" => SshMacKind.HmacSha1,
            "hmac-sha2-256" => SshMacKind.HmacSha256,
            "hmac-sha2-512" => SshMacKind.HmacSha512,
            var other => throw new InvalidDataException(other),
        };
        byte[] macKey = Hex(c.GetProperty("macKey").GetString()!);
        bool etm = c.GetProperty("etm").GetBoolean();
        return (CipherMacProtection.CreateSealer(kind, key, iv, mac, macKey, etm), CipherMacProtection.CreateOpener(kind, key, iv, mac, macKey, etm));
    }

    [Test]
    public void Vectors_File_CoversEveryConstruction()
    {
        string[] names = [.. Vectors().Select(v => (string)v.Arguments[0]!)];
        Assert.That(names, Has.Length.GreaterThanOrEqualTo(32));
        foreach (Construction c in Construction.All.Where(c => c.Mac == SshMacKind.HmacSha256 || c.Scheme is Scheme.Gcm or Scheme.Ctr))
        {
            Assert.That(names, Does.Contain(c.Name));
        }
    }

    [TestCaseSource(nameof(Vectors))]
    public void Seal_AsyncSshVector_SameBytes(string name)
    {
        JsonElement c = Find(name);
        (PacketSealer sealer, PacketOpener opener) = Create(c);
        using (sealer)
        using (opener)
        {
            Assert.That(sealer.Name, Is.EqualTo(name));
            int index = 0;
            foreach (JsonElement p in c.GetProperty("packets").EnumerateArray())
            {
                uint sequence = p.GetProperty("seq").GetUInt32();
                byte[] plain = Hex(p.GetProperty("plain").GetString()!);
                byte[] expected = [.. Hex(p.GetProperty("sealed").GetString()!), .. Hex(p.GetProperty("tag").GetString()!)];
                Assert.That(Convert.ToHexString(Seal(sealer, sequence, plain)), Is.EqualTo(Convert.ToHexString(expected)), $"{name} packet {index}");
                index++;
            }
        }
    }

    [TestCaseSource(nameof(Vectors))]
    public void Open_AsyncSshVector_RecoversPlaintext(string name)
    {
        JsonElement c = Find(name);
        (PacketSealer sealer, PacketOpener opener) = Create(c);
        using (sealer)
        using (opener)
        {
            int index = 0;
            foreach (JsonElement p in c.GetProperty("packets").EnumerateArray())
            {
                uint sequence = p.GetProperty("seq").GetUInt32();
                byte[] plain = Hex(p.GetProperty("plain").GetString()!);
                byte[] wire = [.. Hex(p.GetProperty("sealed").GetString()!), .. Hex(p.GetProperty("tag").GetString()!)];
                byte[]? opened = Open(opener, sequence, wire, inPlace: index % 2 == 1);
                Assert.That(opened is null ? null : Convert.ToHexString(opened), Is.EqualTo(Convert.ToHexString(plain)), $"{name} packet {index}");
                index++;
            }
        }
    }
}
