using System.Buffers;
using System.Text;

namespace Ssh.Transport.Connection.Authentication;

/// <summary>The messages of RFC 4252 (and RFC 4256's two), written and read the same way by both roles.</summary>
internal static class UserAuthWire
{
    /// <summary>SSH_MSG_USERAUTH_PK_OK (publickey), SSH_MSG_USERAUTH_PASSWD_CHANGEREQ (password), SSH_MSG_USERAUTH_INFO_REQUEST (keyboard-interactive).</summary>
    public const byte MethodSpecific = 60;

    /// <summary>The longest user name, method or algorithm name accepted from the peer, in bytes.</summary>
    public const int MaxNameLength = 1024;

    /// <summary>The longest password or keyboard-interactive answer accepted from the peer, in bytes (OpenSSH allows no more than a packet either).</summary>
    public const int MaxSecretLength = 8 * 1024;

    /// <summary>
    /// The data a publickey signature covers (RFC 4252 §7), and for the host-bound variant the server's host key blob
    /// after the user's (OpenSSH PROTOCOL §2.5): string session_id, byte 50, string user, string service, string
    /// method, TRUE, string algorithm, string key blob [, string host key blob].
    /// </summary>
    public static byte[] SignedData(ReadOnlySpan<byte> sessionId, string user, string service, string method, string algorithm, ReadOnlySpan<byte> keyBlob, ReadOnlySpan<byte> hostKeyBlob)
    {
        var buffer = new ArrayBufferWriter<byte>(sessionId.Length + keyBlob.Length + hostKeyBlob.Length + 128 + user.Length);
        var writer = new SshWriter(buffer);
        writer.WriteString(sessionId);
        WritePublicKeyRequest(ref writer, user, service, method, hasSignature: true, algorithm, keyBlob, hostKeyBlob);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>USERAUTH_REQUEST of publickey (or its host-bound variant) up to the key blob (and host key), without the signature.</summary>
    public static void WritePublicKeyRequest(ref SshWriter writer, string user, string service, string method, bool hasSignature, string algorithm, ReadOnlySpan<byte> keyBlob, ReadOnlySpan<byte> hostKeyBlob)
    {
        WriteRequestHeader(ref writer, user, service, method);
        writer.WriteBoolean(hasSignature);
        writer.WriteString(algorithm);
        writer.WriteString(keyBlob);
        if (method == SshAuthenticationMethods.PublicKeyHostBound)
        {
            writer.WriteString(hostKeyBlob);
        }
    }

    /// <summary>byte 50, string user, string service, string method.</summary>
    public static void WriteRequestHeader(ref SshWriter writer, string user, string service, string method)
    {
        writer.WriteByte(SshMessageNumber.UserAuthRequest);
        writer.WriteString(user);
        writer.WriteString(service);
        writer.WriteString(method);
    }

    /// <summary>Reads a "string" as memory over the payload, for use after the reader is gone (across an await).</summary>
    public static ReadOnlyMemory<byte> ReadStringMemory(ref SshReader reader, ReadOnlyMemory<byte> payload)
    {
        int start = reader.Consumed + 4;
        int length = reader.ReadString().Length;
        return payload.Slice(start, length);
    }

    /// <summary>Reads a "string" holding a name (US-ASCII), bounded.</summary>
    public static string ReadName(ref SshReader reader, string what)
    {
        ReadOnlySpan<byte> value = reader.ReadString();
        if (value.Length > MaxNameLength || !Ascii.IsValid(value))
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"The {what} is not a name of at most {MaxNameLength} US-ASCII characters.");
        }

        return Encoding.ASCII.GetString(value);
    }

    /// <summary>Reads a UTF-8 "string" of at most <paramref name="maxLength"/> bytes.</summary>
    public static string ReadText(ref SshReader reader, int maxLength, string what)
    {
        int before = reader.Consumed;
        string text = reader.ReadUtf8String();
        if (reader.Consumed - before - 4 > maxLength)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"The {what} is longer than {maxLength} bytes.");
        }

        return text;
    }

    /// <summary>A name-list as strings (RFC 4251 §5).</summary>
    public static string[] ReadNameList(ref SshReader reader) => reader.ReadNameList().ToArray();

    /// <summary>The key type of a signature algorithm: RSA's SHA-2 variants sign with "ssh-rsa" keys (RFC 8332 §3); the others are their key type.</summary>
    public static string KeyTypeOf(string algorithm) => algorithm is "rsa-sha2-256" or "rsa-sha2-512" ? "ssh-rsa" : algorithm;
}
