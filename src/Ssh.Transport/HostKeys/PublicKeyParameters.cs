namespace Ssh.Transport.HostKeys;

/// <summary>
/// The parsed contents of a public key blob (RFC 4253 §6.6), one subclass per key type, able to check signatures.
/// </summary>
internal abstract class PublicKeyParameters
{
    /// <summary>The key type, the first string of the blob.</summary>
    public abstract string KeyType { get; }

    /// <summary>The key size in bits, as ssh-keygen -l shows it.</summary>
    public abstract int KeySize { get; }

    /// <summary>
    /// Checks <paramref name="signature"/>, the second string of a signature blob, over <paramref name="data"/>.
    /// The caller has checked that <paramref name="signatureAlgorithm"/> suits this key type.
    /// </summary>
    /// <returns>True when the signature is valid; false for any invalid or malformed signature.</returns>
    public abstract bool Verify(string signatureAlgorithm, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature);

    /// <summary>Parses and validates a public key blob.</summary>
    /// <exception cref="SshProtocolException">
    /// The blob is malformed or holds an invalid key (<see cref="SshDisconnectReason.ProtocolError"/>), or holds a key
    /// of a type or size this library does not support (<see cref="SshDisconnectReason.KeyExchangeFailed"/>).
    /// </exception>
    public static PublicKeyParameters Parse(ReadOnlySpan<byte> blob)
    {
        var reader = new SshReader(blob);
        ReadOnlySpan<byte> type = reader.ReadString();
        PublicKeyParameters key;
        if (type.SequenceEqual("ssh-ed25519"u8))
        {
            key = Ed25519PublicKeyParameters.Read(ref reader);
        }
        else if (type.SequenceEqual("ssh-rsa"u8))
        {
            key = RsaPublicKeyParameters.Read(ref reader);
        }
        else if (type.StartsWith("ecdsa-sha2-"u8))
        {
            key = EcdsaPublicKeyParameters.Read(type, ref reader);
        }
        else
        {
            throw Unsupported(type);
        }

        if (!reader.End)
        {
            throw Invalid($"{reader.Remaining} bytes follow the {key.KeyType} public key.");
        }

        return key;
    }

    /// <summary>Reads an mpint that must be positive and minimally encoded (RFC 4251 §5) and returns its magnitude.</summary>
    internal static ReadOnlySpan<byte> ReadCanonicalPositiveMPInt(ref SshReader reader, string what)
    {
        ReadOnlySpan<byte> value = reader.ReadMPInt();
        if (value.IsEmpty || (value[0] & 0x80) != 0)
        {
            throw Invalid($"The {what} is not a positive number.");
        }

        if (value[0] == 0)
        {
            if (value.Length == 1 || (value[1] & 0x80) == 0)
            {
                throw Invalid($"The {what} has superfluous leading zero bytes.");
            }

            value = value[1..];
        }

        return value;
    }

    internal static SshProtocolException Invalid(string message, Exception? inner = null) =>
        new(SshDisconnectReason.ProtocolError, "Invalid public key: " + message, inner);

    internal static SshProtocolException Unsupported(ReadOnlySpan<byte> type) =>
        new(SshDisconnectReason.KeyExchangeFailed, $"Unsupported public key type '{Printable(type)}'.");

    /// <summary>A name from the wire, made safe for an exception message.</summary>
    internal static string Printable(ReadOnlySpan<byte> name)
    {
        const int Max = 64;
        var chars = new char[Math.Min(name.Length, Max)];
        for (int i = 0; i < chars.Length; i++)
        {
            byte b = name[i];
            chars[i] = b is >= 0x20 and < 0x7F ? (char)b : '?';
        }

        return name.Length > Max ? new string(chars) + "..." : new string(chars);
    }
}
