using System.Buffers;
using System.Text;

namespace Ssh.Transport.Framing;

/// <summary>
/// Reads the peer's identification line (RFC 4253 §4.2) from the front of a buffer, across as many reads as it
/// takes, skipping the lines a server may send first.
/// </summary>
/// <remarks>
/// <code>SSH-protoversion-softwareversion SP comments CR LF</code>
/// At most 255 bytes with CR LF; a bare LF is tolerated (old peers). "SSH-1.99" is a server that also speaks 2.0.
/// Lines before it are allowed from a server only, and are bounded in count and bytes.
/// </remarks>
internal struct IdentificationReader
{
    /// <summary>RFC 4253 §4.2: the maximum length of the identification string, CR LF included.</summary>
    public const int MaxLineLength = 255;

    private readonly bool _peerIsServer;
    private readonly int _maxPreBannerLines;
    private readonly int _maxPreBannerBytes;
    private int _preBannerLines;
    private long _preBannerBytes;

    public IdentificationReader(bool peerIsServer, int maxPreBannerLines, int maxPreBannerBytes)
    {
        _peerIsServer = peerIsServer;
        _maxPreBannerLines = maxPreBannerLines;
        _maxPreBannerBytes = maxPreBannerBytes;
    }

    /// <summary>The pre-banner lines skipped so far.</summary>
    public readonly int PreBannerLines => _preBannerLines;

    /// <summary>
    /// Consumes pre-banner lines and, when it has arrived, the identification line.
    /// </summary>
    /// <param name="buffer">The received bytes; sliced past every line consumed.</param>
    /// <param name="identification">On success, the line's exact bytes without CR LF (they enter the exchange hash).</param>
    /// <param name="onPreBannerLine">Told of each skipped line (for the log); may be null.</param>
    /// <returns>True when the identification line was read; false when more bytes are needed.</returns>
    /// <exception cref="SshProtocolException">A limit was exceeded, or the line is malformed or of another version.</exception>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, out byte[] identification, Action<int, ReadOnlySequence<byte>>? onPreBannerLine = null)
    {
        while (true)
        {
            SequencePosition? lf = buffer.PositionOf((byte)'\n');
            if (lf is null)
            {
                CheckIncompleteLine(buffer);
                identification = [];
                return false;
            }

            ReadOnlySequence<byte> line = buffer.Slice(0, lf.Value);
            long lineWithTerminator = line.Length + 1;
            if (StartsWithSsh(line))
            {
                if (lineWithTerminator > MaxLineLength)
                {
                    throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"The identification line is {lineWithTerminator} bytes long; RFC 4253 §4.2 allows {MaxLineLength}.");
                }

                identification = line.ToArray();
                if (identification.Length > 0 && identification[^1] == (byte)'\r')
                {
                    identification = identification[..^1];
                }

                Validate(identification);
                buffer = buffer.Slice(buffer.GetPosition(1, lf.Value));
                return true;
            }

            if (!_peerIsServer)
            {
                // RFC 4253 §4.2: only the server may send other lines first.
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, "The client sent a line that is not an SSH identification string.");
            }

            _preBannerLines++;
            _preBannerBytes += lineWithTerminator;
            if (_preBannerLines > _maxPreBannerLines)
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"The server sent more than {_maxPreBannerLines} lines before its identification string.");
            }

            CheckPreBannerBytes(0);
            if (line.PositionOf((byte)0) is not null)
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, "A line before the identification string contains a NUL byte.");
            }

            onPreBannerLine?.Invoke(_preBannerLines, line);
            buffer = buffer.Slice(buffer.GetPosition(1, lf.Value));
        }
    }

    private readonly void CheckIncompleteLine(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return;
        }

        if (StartsWithSsh(buffer) || buffer.Length < 4)
        {
            if (buffer.Length >= MaxLineLength)
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"The identification line is longer than the {MaxLineLength} bytes RFC 4253 §4.2 allows.");
            }

            return;
        }

        if (!_peerIsServer)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "The client sent a line that is not an SSH identification string.");
        }

        CheckPreBannerBytes(buffer.Length);
    }

    private readonly void CheckPreBannerBytes(long pending)
    {
        if (_preBannerBytes + pending > _maxPreBannerBytes)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"The server sent more than {_maxPreBannerBytes} bytes before its identification string.");
        }
    }

    private static bool StartsWithSsh(in ReadOnlySequence<byte> data)
    {
        if (data.Length < 4)
        {
            return false;
        }

        Span<byte> head = stackalloc byte[4];
        data.Slice(0, 4).CopyTo(head);
        return head.SequenceEqual("SSH-"u8);
    }

    /// <summary>Checks version and characters of an identification line (without CR LF).</summary>
    internal static void Validate(ReadOnlySpan<byte> line)
    {
        // Control characters (CR, NUL and the like) have no place in the line; the comments may carry other bytes.
        foreach (byte b in line)
        {
            if (b < 0x20 || b == 0x7F)
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, "The identification line contains a control character.");
            }
        }

        ReadOnlySpan<byte> softwareVersion;
        if (line.StartsWith("SSH-2.0-"u8))
        {
            softwareVersion = line[8..];
        }
        else if (line.StartsWith("SSH-1.99-"u8))
        {
            softwareVersion = line[9..];
        }
        else
        {
            int end = line[4..].IndexOf((byte)'-');
            string version = Encoding.ASCII.GetString(end < 0 ? line[4..] : line.Slice(4, end));
            throw new SshProtocolException(SshDisconnectReason.ProtocolVersionNotSupported, $"The peer speaks SSH protocol version '{version}'; only 2.0 is supported.");
        }

        int space = softwareVersion.IndexOf((byte)' ');
        if ((space < 0 ? softwareVersion.Length : space) == 0)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "The identification line has no software version.");
        }
    }

    /// <summary>Builds our identification line (without CR LF) and checks it against RFC 4253 §4.2.</summary>
    /// <exception cref="ArgumentException">The software version or comments are not allowed.</exception>
    internal static byte[] Format(string softwareVersion, string? comments)
    {
        string? problem = FindProblem(softwareVersion, comments, out string parameter);
        if (problem is not null)
        {
            throw new ArgumentException(problem, parameter);
        }

        return Encoding.ASCII.GetBytes(comments is null ? $"SSH-2.0-{softwareVersion}" : $"SSH-2.0-{softwareVersion} {comments}");
    }

    /// <summary>
    /// What RFC 4253 §4.2 forbids in our software version or comments, or null when the line they make is allowed.
    /// </summary>
    /// <param name="softwareVersion">The softwareversion of the line.</param>
    /// <param name="comments">The optional comments.</param>
    /// <param name="parameter">The name of the parameter at fault, "softwareVersion" or "comments".</param>
    internal static string? FindProblem(string softwareVersion, string? comments, out string parameter)
    {
        parameter = nameof(softwareVersion);
        if (string.IsNullOrEmpty(softwareVersion)
            || !Ascii.IsValid(softwareVersion)
            || softwareVersion.AsSpan().IndexOfAnyExceptInRange('!', '~') >= 0
            || softwareVersion.Contains('-', StringComparison.Ordinal))
        {
            return "The software version must be printable US-ASCII without spaces or '-' (RFC 4253 §4.2).";
        }

        parameter = nameof(comments);
        if (comments is not null && (!Ascii.IsValid(comments) || comments.AsSpan().IndexOfAnyExceptInRange(' ', '~') >= 0))
        {
            return "The comments must be printable US-ASCII.";
        }

        // "SSH-2.0-" + softwareversion [+ SP + comments] + CR LF.
        int length = 8 + softwareVersion.Length + (comments is null ? 0 : 1 + comments.Length) + 2;
        if (length > MaxLineLength)
        {
            parameter = comments is null ? nameof(softwareVersion) : nameof(comments);
            return $"The identification line may not exceed {MaxLineLength} bytes with CR LF.";
        }

        return null;
    }
}
