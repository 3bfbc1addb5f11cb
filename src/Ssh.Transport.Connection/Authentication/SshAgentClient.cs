using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Ssh.Transport.Connection.Authentication;

/// <summary>
/// A client of ssh-agent over its Unix socket (draft-miller-ssh-agent: uint32 length, byte type, contents): lists the
/// agent's keys and has it sign with them. The private keys never leave the agent.
/// </summary>
internal sealed class SshAgentClient : IAsyncDisposable
{
    public const byte Failure = 5;
    public const byte RequestIdentities = 11;
    public const byte IdentitiesAnswer = 12;
    public const byte SignRequest = 13;
    public const byte SignResponse = 14;

    /// <summary>SSH_AGENT_RSA_SHA2_256 and _512: the flags of a sign request that ask for RSA with SHA-2.</summary>
    public const uint RsaSha2_256 = 2;
    public const uint RsaSha2_512 = 4;

    /// <summary>The longest message accepted from the agent (OpenSSH's own limit is 256 KiB).</summary>
    public const int MaxMessageLength = 256 * 1024;

    /// <summary>The most identities read from one answer.</summary>
    public const int MaxIdentities = 1024;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private SshAgentClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Connects to the agent's socket.</summary>
    /// <exception cref="SocketException">No agent listens there.</exception>
    public static async Task<SshAgentClient> ConnectAsync(string path, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            return new SshAgentClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// SSH_AGENTC_REQUEST_IDENTITIES: the agent's keys, with their comments. Keys of types this library does not
    /// support (certificates, FIDO, DSA) are left out.
    /// </summary>
    /// <exception cref="SshProtocolException">The agent's answer is malformed or too long.</exception>
    public async Task<List<(SshPublicKey Key, string Comment)>> RequestIdentitiesAsync(CancellationToken cancellationToken)
    {
        byte[] answer = await RequestAsync([RequestIdentities], cancellationToken).ConfigureAwait(false);
        if (answer[0] != IdentitiesAnswer)
        {
            throw Malformed($"answered REQUEST_IDENTITIES with message {answer[0]}");
        }

        var reader = new SshReader(answer.AsSpan(1));
        uint count = reader.ReadUInt32();
        if (count > MaxIdentities)
        {
            throw Malformed($"lists {count} identities");
        }

        var keys = new List<(SshPublicKey, string)>((int)count);
        for (uint i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> blob = reader.ReadString();
            string comment = Encoding.UTF8.GetString(reader.ReadString());
            try
            {
                // A user certificate parses (as host certificates do) but is not used for authentication: skip it.
                if (SshPublicKey.FromBlob(blob) is { Certificate: null } key)
                {
                    keys.Add((key, comment));
                }
            }
            catch (SshProtocolException)
            {
                // A key type we cannot use (a FIDO key, a certificate of one): skip it.
            }
        }

        return keys;
    }

    /// <summary>SSH_AGENTC_SIGN_REQUEST: string key blob, string data, uint32 flags; the answer is the signature blob, or null for SSH_AGENT_FAILURE.</summary>
    /// <exception cref="SshProtocolException">The agent's answer is malformed or too long.</exception>
    public async Task<byte[]?> SignAsync(SshPublicKey key, ReadOnlyMemory<byte> data, uint flags, CancellationToken cancellationToken)
    {
        var request = new byte[1 + 4 + key.Blob.Length + 4 + data.Length + 4];
        var writer = new SshWriter(request.AsSpan());
        writer.WriteByte(SignRequest);
        writer.WriteString(key.Blob.Span);
        writer.WriteString(data.Span);
        writer.WriteUInt32(flags);
        byte[] answer = await RequestAsync(request, cancellationToken).ConfigureAwait(false);
        if (answer[0] == Failure)
        {
            return null;
        }

        if (answer[0] != SignResponse)
        {
            throw Malformed($"answered SIGN_REQUEST with message {answer[0]}");
        }

        var reader = new SshReader(answer.AsSpan(1));
        return reader.ReadString().ToArray();
    }

    /// <summary>One request and its answer; the agent answers in order.</summary>
    private async Task<byte[]> RequestAsync(byte[] message, CancellationToken cancellationToken)
    {
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)message.Length);
        await _stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        await _stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        await _stream.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length is 0 or > MaxMessageLength)
        {
            throw Malformed($"sent a message of {length} bytes (at most {MaxMessageLength})");
        }

        var answer = new byte[length];
        await _stream.ReadExactlyAsync(answer, cancellationToken).ConfigureAwait(false);
        return answer;
    }

    private static SshProtocolException Malformed(string what) => new(SshDisconnectReason.ByApplication, $"The ssh-agent {what}.");

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }
}
