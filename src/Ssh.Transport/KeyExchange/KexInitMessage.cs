using System.Buffers;
using System.Security.Cryptography;

namespace Ssh.Transport.KeyExchange;

/// <summary>
/// SSH_MSG_KEXINIT (RFC 4253 §7.1): a random cookie, ten name-lists and first_kex_packet_follows. The exact payload
/// is kept: it enters the exchange hash as I_C or I_S.
/// </summary>
internal sealed class KexInitMessage
{
    public required byte[] Payload { get; init; }
    public required string[] KexAlgorithms { get; init; }
    public required string[] HostKeyAlgorithms { get; init; }
    public required string[] CiphersClientToServer { get; init; }
    public required string[] CiphersServerToClient { get; init; }
    public required string[] MacsClientToServer { get; init; }
    public required string[] MacsServerToClient { get; init; }
    public required string[] CompressionClientToServer { get; init; }
    public required string[] CompressionServerToClient { get; init; }
    public bool FirstKexPacketFollows { get; init; }

    /// <summary>Parses a received KEXINIT payload (message number included) and keeps a copy of it.</summary>
    /// <param name="payload">The payload.</param>
    /// <param name="maxNameListLength">The longest name-list accepted.</param>
    /// <exception cref="SshProtocolException">The message is truncated or malformed.</exception>
    public static KexInitMessage Parse(ReadOnlySpan<byte> payload, int maxNameListLength)
    {
        var reader = new SshReader(payload);
        if (reader.ReadByte() != SshMessageNumber.KexInit)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "Not a KEXINIT message.");
        }

        reader.Skip(16);
        var message = new KexInitMessage
        {
            Payload = payload.ToArray(),
            KexAlgorithms = reader.ReadNameList(maxNameListLength).ToArray(),
            HostKeyAlgorithms = reader.ReadNameList(maxNameListLength).ToArray(),
            CiphersClientToServer = reader.ReadNameList(maxNameListLength).ToArray(),
            CiphersServerToClient = reader.ReadNameList(maxNameListLength).ToArray(),
            MacsClientToServer = reader.ReadNameList(maxNameListLength).ToArray(),
            MacsServerToClient = reader.ReadNameList(maxNameListLength).ToArray(),
            CompressionClientToServer = reader.ReadNameList(maxNameListLength).ToArray(),
            CompressionServerToClient = reader.ReadNameList(maxNameListLength).ToArray(),
            FirstKexPacketFollows = SkipLanguagesAndReadGuess(ref reader, maxNameListLength),
        };

        // uint32 reserved: present in every real KEXINIT; tolerate its absence like OpenSSH does not, but do not
        // require trailing bytes to be absent either.
        return message;
    }

    private static bool SkipLanguagesAndReadGuess(ref SshReader reader, int maxNameListLength)
    {
        reader.ReadNameList(maxNameListLength);
        reader.ReadNameList(maxNameListLength);
        bool follows = reader.ReadBoolean();
        reader.ReadUInt32();
        return follows;
    }

    /// <summary>Builds our KEXINIT with a fresh random cookie.</summary>
    public static KexInitMessage Create(
        IReadOnlyList<string> kex,
        IReadOnlyList<string> hostKeys,
        IReadOnlyList<string> ciphers,
        IReadOnlyList<string> macs,
        IReadOnlyList<string> compression)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        var writer = new SshWriter(buffer);
        writer.WriteByte(SshMessageNumber.KexInit);
        Span<byte> cookie = stackalloc byte[16];
        RandomNumberGenerator.Fill(cookie);
        writer.WriteBytes(cookie);
        string[] k = [.. kex], h = [.. hostKeys], c = [.. ciphers], m = [.. macs], z = [.. compression];
        writer.WriteNameList(k);
        writer.WriteNameList(h);
        writer.WriteNameList(c);
        writer.WriteNameList(c);
        writer.WriteNameList(m);
        writer.WriteNameList(m);
        writer.WriteNameList(z);
        writer.WriteNameList(z);
        writer.WriteNameList([]);
        writer.WriteNameList([]);
        writer.WriteBoolean(false);
        writer.WriteUInt32(0);
        return new KexInitMessage
        {
            Payload = buffer.WrittenSpan.ToArray(),
            KexAlgorithms = k,
            HostKeyAlgorithms = h,
            CiphersClientToServer = c,
            CiphersServerToClient = c,
            MacsClientToServer = m,
            MacsServerToClient = m,
            CompressionClientToServer = z,
            CompressionServerToClient = z,
        };
    }
}
