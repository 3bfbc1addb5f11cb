using System.Text;
using Ssh.Transport.HostKeys;

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
}
