namespace Ssh.Transport.Tests.HostKeys;

/// <summary>
/// Keys generated once by this library for the tests that need no external tool; one RSA key of 2048 bits, since
/// RSA generation is slow. Never disposed: tests must not dispose them.
/// </summary>
internal static class HostKeyTestKeys
{
    private static readonly Lazy<SshPrivateKey>[] s_keys =
    [
        new(() => SshPrivateKey.Generate(SshHostKeyType.Ed25519)),
        new(() => SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP256)),
        new(() => SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP384)),
        new(() => SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP521)),
        new(() => SshPrivateKey.Generate(SshHostKeyType.Rsa, 2048)),
    ];

    public static SshPrivateKey Get(SshHostKeyType type) => s_keys[(int)type].Value;

    /// <summary>Every (key type, signature algorithm) pair, "ssh-rsa" included.</summary>
    public static IEnumerable<TestCaseData> Algorithms()
    {
        yield return new TestCaseData(SshHostKeyType.Ed25519, "ssh-ed25519");
        yield return new TestCaseData(SshHostKeyType.EcdsaNistP256, "ecdsa-sha2-nistp256");
        yield return new TestCaseData(SshHostKeyType.EcdsaNistP384, "ecdsa-sha2-nistp384");
        yield return new TestCaseData(SshHostKeyType.EcdsaNistP521, "ecdsa-sha2-nistp521");
        yield return new TestCaseData(SshHostKeyType.Rsa, "rsa-sha2-512");
        yield return new TestCaseData(SshHostKeyType.Rsa, "rsa-sha2-256");
        yield return new TestCaseData(SshHostKeyType.Rsa, "ssh-rsa");
    }

    public static byte[] Sign(SshPrivateKey key, string algorithm, ReadOnlySpan<byte> data)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        key.Sign(algorithm, data, output, allowSha1: true);
        return output.WrittenSpan.ToArray();
    }

    public static bool Verify(SshPrivateKey key, string algorithm, ReadOnlySpan<byte> data, ReadOnlySpan<byte> blob) =>
        key.PublicKey.VerifySignature(algorithm, data, blob, allowSha1: true);
}
