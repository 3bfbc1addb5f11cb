using System.Net;

namespace Ssh.Transport.Connection;

/// <summary>
/// The keys of an OpenSSH authorized_keys file (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"): one key a line, with its
/// options; blank lines and lines starting with '#' are ignored. A line that cannot be used (malformed, an unknown
/// option, an unsupported key type) is skipped and listed in <see cref="SkippedLines"/> with the reason.
/// </summary>
/// <remarks>Instances are immutable and may be shared among connections.</remarks>
public sealed class SshAuthorizedKeys
{
    private SshAuthorizedKeys(IReadOnlyList<SshAuthorizedKey> keys, IReadOnlyList<SshAuthorizedKeysSkippedLine> skipped)
    {
        Keys = keys;
        SkippedLines = skipped;
    }

    /// <summary>The usable entries, in file order.</summary>
    public IReadOnlyList<SshAuthorizedKey> Keys { get; }

    /// <summary>The lines that were skipped, with why.</summary>
    public IReadOnlyList<SshAuthorizedKeysSkippedLine> SkippedLines { get; }

    /// <summary>Reads an authorized_keys file.</summary>
    /// <param name="path">The file, e.g. ~/.ssh/authorized_keys.</param>
    /// <returns>The keys.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    public static SshAuthorizedKeys Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(File.ReadAllText(path));
    }

    /// <summary>Parses the text of an authorized_keys file.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The keys.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    public static SshAuthorizedKeys Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var keys = new List<SshAuthorizedKey>();
        var skipped = new List<SshAuthorizedKeysSkippedLine>();
        int number = 0;
        foreach (ReadOnlySpan<char> raw in text.AsSpan().EnumerateLines())
        {
            number++;
            ReadOnlySpan<char> line = raw.Trim();
            if (line.IsEmpty || line[0] == '#')
            {
                continue;
            }

            string lineText = line.ToString();
            try
            {
                keys.Add(SshAuthorizedKey.Parse(lineText, number));
            }
            catch (Exception e) when (e is FormatException or NotSupportedException)
            {
                skipped.Add(new SshAuthorizedKeysSkippedLine(number, lineText, e.Message));
            }
        }

        return new SshAuthorizedKeys(keys.AsReadOnly(), skipped.AsReadOnly());
    }

    /// <summary>
    /// The first entry for <paramref name="key"/> that this client may use now (see
    /// <see cref="SshAuthorizedKey.IsAllowed"/>); as sshd, an entry whose from= or expiry-time refuses the client
    /// does not stop the search, a later line for the same key may still allow it.
    /// </summary>
    /// <param name="key">The key the client offers.</param>
    /// <param name="remoteEndPoint">The client's end point, or null when unknown (entries with from= then refuse).</param>
    /// <param name="now">The current time (e.g. <see cref="TimeProvider.GetUtcNow"/>).</param>
    /// <returns>The entry, or null when none allows the key.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    public SshAuthorizedKey? Find(SshPublicKey key, EndPoint? remoteEndPoint, DateTimeOffset now) => Find(key, remoteEndPoint, now, out _);

    /// <summary>As <see cref="Find(SshPublicKey, EndPoint?, DateTimeOffset)"/>, saying why no entry allowed a listed key.</summary>
    /// <param name="key">The key the client offers.</param>
    /// <param name="remoteEndPoint">The client's end point, or null when unknown.</param>
    /// <param name="now">The current time.</param>
    /// <param name="refusal">When null is returned: why the key's lines refused the client, or null when the key is not listed.</param>
    /// <returns>The entry, or null.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    public SshAuthorizedKey? Find(SshPublicKey key, EndPoint? remoteEndPoint, DateTimeOffset now, out string? refusal)
    {
        ArgumentNullException.ThrowIfNull(key);
        refusal = null;
        foreach (SshAuthorizedKey entry in Keys)
        {
            if (entry.Key.Equals(key))
            {
                if (entry.IsAllowed(remoteEndPoint, now, out string? reason))
                {
                    refusal = null;
                    return entry;
                }

                refusal = reason;
            }
        }

        return null;
    }
}

/// <summary>An authorized_keys line that was not used, and why.</summary>
public sealed class SshAuthorizedKeysSkippedLine
{
    internal SshAuthorizedKeysSkippedLine(int lineNumber, string line, string reason)
    {
        LineNumber = lineNumber;
        Line = line;
        Reason = reason;
    }

    /// <summary>The line's number, from 1.</summary>
    public int LineNumber { get; }

    /// <summary>The line's text.</summary>
    public string Line { get; }

    /// <summary>Why it was skipped, e.g. "Unknown option 'foo'; the line is refused, as sshd refuses it."</summary>
    public string Reason { get; }

    /// <inheritdoc/>
    public override string ToString() => $"line {LineNumber}: {Reason}";
}
