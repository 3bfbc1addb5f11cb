using System.Buffers.Binary;
using Ssh.Transport.HostKeys;

namespace Ssh.Transport.Fuzz.Targets;

/// <summary>
/// Public key blobs as a server sends them (K_S, plain keys and host certificates) and as known_hosts and
/// authorized_keys hold them, and signature verification. Input: uint16 blob length, the blob, then the signature blob (string algorithm, string signature)
/// over <see cref="SignedData"/>. FromBlob may fail only with <see cref="SshProtocolException"/>; VerifySignature never
/// throws; an accepted key's text form parses back to the same key.
/// </summary>
internal static class HostKeyTarget
{
    /// <summary>What the seed signatures sign.</summary>
    public static ReadOnlySpan<byte> SignedData => "Ssh.Transport fuzz: the exchange hash"u8;

    private static readonly string[] s_algorithms =
        [.. SshHostKeyAlgorithms.All, .. SshHostKeyAlgorithms.All.Select(SshHostKeyAlgorithms.GetCertificateAlgorithm).OfType<string>()];

    public static void Run(byte[] input)
    {
        if (input.Length < 2)
        {
            return;
        }

        int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(input), input.Length - 2);
        ReadOnlySpan<byte> blob = input.AsSpan(2, length);
        ReadOnlySpan<byte> signature = input.AsSpan(2 + length);
        SshPublicKey key;
        try
        {
            key = SshPublicKey.FromBlob(blob);
        }
        catch (SshProtocolException)
        {
            return;
        }

        _ = key.GetFingerprint();
        _ = key.GetMd5Fingerprint();
        _ = key.KeySize;
        SshPublicKey again = SshPublicKey.Parse(key.ToString() + " comment");
        if (!again.Equals(key))
        {
            throw new FuzzFindingException("A key's text form parses to another key.");
        }

        bool any = key.VerifySignature(SignedData, signature, allowSha1: true);
        bool named = false;
        // A certificate (PROTOCOL.certkeys) verifies with its certificate algorithms, which options never list.
        foreach (string algorithm in s_algorithms)
        {
            named |= key.VerifySignature(algorithm, SignedData, signature, allowSha1: true);
            if (key.VerifySignature(algorithm, SignedData, signature, allowSha1: false) && algorithm == SshHostKeyAlgorithms.RsaSha1)
            {
                throw new FuzzFindingException("An ssh-rsa (SHA-1) signature verified although SHA-1 was not allowed.");
            }
        }

        if (any != named)
        {
            throw new FuzzFindingException("VerifySignature with the blob's own algorithm and with the algorithm named disagree.");
        }
    }
}
