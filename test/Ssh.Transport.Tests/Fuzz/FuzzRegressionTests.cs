using System.Buffers.Binary;
using System.Text;
using Ssh.Transport.Compression;
using Ssh.Transport.Crypto;
using Ssh.Transport.HostKeys;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Fuzz;

/// <summary>
/// Inputs the fuzzer (fuzz/, docs/fuzzing.md) found to fail in an undocumented way, replayed through the same API, and
/// the library's bound on what a key file may cost. The files in TestData/Fuzz are the crashing inputs as saved.
/// </summary>
public class FuzzRegressionTests
{
    private static byte[] Input(string name) => File.ReadAllBytes(Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "Fuzz", name));

    [Test]
    public void PrivateKey_BeginAndEndLinesSharingDashes_IsFormatException()
    {
        // "-----BEGIN OPENSSH PRIVATE KEY------- END..." : the END line started inside the BEGIN line's dashes, and the
        // text between them had a negative length (ArgumentOutOfRangeException).
        string text = Encoding.UTF8.GetString(Input("private-key-overlapping-begin-end"));

        Assert.Throws<FormatException>(() => SshPrivateKey.Parse(text, "fuzz"));
        Assert.Throws<FormatException>(() => SshPrivateKey.Parse(OpenSshPrivateKeyFile.BeginLine + "--" + OpenSshPrivateKeyFile.EndLine));
    }

    [Test]
    public async Task ZlibPayload_AskingForPresetDictionary_IsCompressionError()
    {
        // The fuzzer's wire: IGNORE, NEWKEYS (zlib from here), then a payload whose zlib header sets FDICT: zlib's
        // Z_NEED_DICT surfaced as ZLibException, an IOException, which the receive loop took for a lost connection.
        var pipes = new PipePair();
        await using var server = new SshPacketizer(pipes.Server, SshRole.Server, new SshPacketizerOptions());
        server.SetPendingInbound(NoneProtection.CreateOpener(), CompressionMethod.Zlib);
        await pipes.ClientToServer.Writer.WriteAsync(Input("packet-none-zlib-preset-dictionary"));
        await pipes.ClientToServer.Writer.CompleteAsync();

        var error = Assert.ThrowsAsync<SshProtocolException>(async () =>
        {
            while (!(await server.ReadPacketAsync()).IsCompleted)
            {
            }
        });
        Assert.That(error!.Reason, Is.EqualTo(SshDisconnectReason.CompressionError));
    }

    [Test]
    public void ZlibDecompressor_PresetDictionaryHeader_IsCompressionError()
    {
        using var inflater = new ZlibDecompressor(1024);

        // 0x78 0x20: deflate, 32 KiB window, FDICT; then a dictionary id.
        var error = Assert.Throws<SshProtocolException>(() => inflater.Decompress(new byte[] { 0x78, 0x20, 0, 0, 0, 1, 0x01, 0x01, 0x00, 0xFE, 0xFF, 0x05 }));
        Assert.That(error!.Reason, Is.EqualTo(SshDisconnectReason.CompressionError));
    }

    [TestCase(0x7FFFFFFFu)]
    [TestCase(0xFFFFFFFFu)]
    [TestCase((uint)OpenSshKeyCipher.MaxBcryptRounds + 1)]
    [CancelAfter(10_000)]
    public void EncryptedKey_AskingForTooManyBcryptRounds_IsRefusedAtOnce(uint rounds)
    {
        // A key file names its own work factor: 2^31 rounds would run for months before the passphrase is checked.
        using SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string text = WithRounds(key.ExportOpenSsh("fuzz"), rounds);

        Assert.That(() => SshPrivateKey.Parse(text, "fuzz"), Throws.InstanceOf(rounds > int.MaxValue ? typeof(FormatException) : typeof(NotSupportedException)));
    }

    /// <summary>The file with the rounds of its bcrypt kdfoptions replaced.</summary>
    private static string WithRounds(string text, uint rounds)
    {
        string body = text.Replace(OpenSshPrivateKeyFile.BeginLine, "", StringComparison.Ordinal).Replace(OpenSshPrivateKeyFile.EndLine, "", StringComparison.Ordinal);
        byte[] data = Convert.FromBase64String(body);

        // "openssh-key-v1\0", string cipher, string kdf, string kdfoptions { string salt, uint32 rounds }.
        int offset = 15;
        offset += 4 + (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset));
        offset += 4 + (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset));
        int saltLength = (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset + 4));
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(offset + 8 + saltLength), rounds);
        return OpenSshPrivateKeyFile.BeginLine + "\n" + Convert.ToBase64String(data) + "\n" + OpenSshPrivateKeyFile.EndLine + "\n";
    }
}
