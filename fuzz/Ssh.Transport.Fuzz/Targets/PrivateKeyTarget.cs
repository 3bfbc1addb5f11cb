using System.Buffers.Binary;
using System.Text;

namespace Ssh.Transport.Fuzz.Targets;

/// <summary>
/// Private key files: OpenSSH "openssh-key-v1" (unencrypted and encrypted; passphrase <see cref="Passphrase"/>) and
/// PEM (PKCS#8, PKCS#1, SEC 1). The input is the file. Documented failures: <see cref="FormatException"/>,
/// <see cref="NotSupportedException"/>, <see cref="SshKeyPassphraseException"/>. The bcrypt rounds of an encrypted
/// OpenSSH key are capped at <see cref="MaxRounds"/> before parsing, so one input costs milliseconds (the library's
/// own bound is checked by a regression test).
/// </summary>
internal static class PrivateKeyTarget
{
    public const string Passphrase = "fuzz";
    public const int MaxRounds = 2;

    private const string Begin = "-----BEGIN OPENSSH PRIVATE KEY-----";
    private const string End = "-----END OPENSSH PRIVATE KEY-----";

    public static void Run(byte[] input)
    {
        string text = CapRounds(Encoding.UTF8.GetString(input));
        try
        {
            using SshPrivateKey key = SshPrivateKey.Parse(text, Passphrase);
            string exported = key.ExportOpenSsh();
            using SshPrivateKey again = SshPrivateKey.Parse(exported);
            if (!again.PublicKey.Equals(key.PublicKey))
            {
                throw new FuzzFindingException("An exported key reads back as another key.");
            }
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or SshKeyPassphraseException)
        {
        }
    }

    /// <summary>Rewrites the rounds of a bcrypt kdf above <see cref="MaxRounds"/> to it (the text is left alone otherwise).</summary>
    internal static string CapRounds(string text)
    {
        int begin = text.IndexOf(Begin, StringComparison.Ordinal);
        int end = begin < 0 ? -1 : text.IndexOf(End, begin + Begin.Length, StringComparison.Ordinal);
        if (end < 0)
        {
            return text;
        }

        string body = text[(begin + Begin.Length)..end];
        byte[] data;
        try
        {
            data = Convert.FromBase64String(body);
        }
        catch (FormatException)
        {
            return text;
        }

        // "openssh-key-v1\0", string cipher, string kdf, string kdfoptions { string salt, uint32 rounds }.
        int offset = 15;
        for (int field = 0; field < 2; field++)
        {
            if (data.Length < offset + 4)
            {
                return text;
            }

            offset += 4 + (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset)), int.MaxValue / 2);
        }

        if (data.Length < offset + 8)
        {
            return text;
        }

        int saltLength = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset + 4)), int.MaxValue / 2);
        int roundsAt = offset + 8 + saltLength;
        if (roundsAt < 0 || data.Length < roundsAt + 4 || BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(roundsAt)) <= MaxRounds)
        {
            return text;
        }

        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(roundsAt), MaxRounds);
        return text[..(begin + Begin.Length)] + "\n" + Convert.ToBase64String(data) + "\n" + text[end..];
    }
}
