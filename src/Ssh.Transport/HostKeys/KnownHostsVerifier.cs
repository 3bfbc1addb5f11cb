using System.Text;
using Ssh.Transport.HostKeys;

namespace Ssh.Transport;

/// <summary>
/// Checks servers' host keys against an OpenSSH known_hosts file, the way ssh does (sshd(8), "SSH_KNOWN_HOSTS FILE
/// FORMAT"), and records new keys for trust on first use.
/// </summary>
/// <remarks>
/// <para>
/// Each line is "[marker] hosts keytype base64 [comment]". Hosts are comma-separated patterns with '*' and '?'
/// wildcards and '!' negation, or one hashed name "|1|salt|hash" (ssh-keygen -H, HashKnownHosts). A server on a port
/// other than 22 is known as "[host]:port". Host names match case-insensitively.
/// </para>
/// <para>
/// "@revoked" marks a key that must be refused even where another line trusts it. "@cert-authority" lines are
/// ignored: certificates are not supported. Comments, blank lines and lines that cannot be parsed (including keys of
/// types this library does not know) are skipped, as ssh skips them.
/// </para>
/// <para>An instance may be shared: <see cref="Verify"/> and <see cref="Add"/> may run on several threads at once.</para>
/// </remarks>
public sealed class KnownHostsVerifier
{
    private readonly Lock _lock = new();
    private Entry[] _entries;

    /// <summary>Creates a verifier that knows no hosts yet.</summary>
    public KnownHostsVerifier() => _entries = [];

    private KnownHostsVerifier(Entry[] entries) => _entries = entries;

    /// <summary>Reads a known_hosts file.</summary>
    /// <param name="path">The file, e.g. ~/.ssh/known_hosts.</param>
    /// <returns>The verifier.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="IOException">The file cannot be read (<see cref="FileNotFoundException"/> when it does not exist).</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    public static KnownHostsVerifier Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(File.ReadAllText(path));
    }

    /// <summary>Parses the text of a known_hosts file.</summary>
    /// <param name="text">The text; lines end in LF or CR LF.</param>
    /// <returns>The verifier.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    public static KnownHostsVerifier Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var entries = new List<Entry>();
        foreach (string line in text.Split('\n'))
        {
            if (Entry.TryParse(line) is Entry entry)
            {
                entries.Add(entry);
            }
        }

        return new KnownHostsVerifier([.. entries]);
    }

    /// <summary>
    /// A host key verifier for <see cref="SshClientOptions.HostKeyVerifier"/> that trusts exactly the keys this
    /// file trusts for <paramref name="host"/>:<paramref name="port"/>: unknown, changed and revoked keys are refused.
    /// </summary>
    /// <param name="host">The host name or address connected to.</param>
    /// <param name="port">The server's port.</param>
    /// <returns>The verifier.</returns>
    public SshHostKeyVerifier ForHost(string host, int port = 22)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        return (key, _) => ValueTask.FromResult(Verify(host, port, key) == KnownHostsResult.Trusted);
    }

    /// <summary>Checks the host key a server presented.</summary>
    /// <param name="host">The host name or address the user connected to, as typed (e.g. "example.com", "192.0.2.1", "::1").</param>
    /// <param name="port">The server's port; 22 looks up "host", any other "[host]:port".</param>
    /// <param name="key">The key from the server's key exchange reply.</param>
    /// <returns>
    /// <see cref="KnownHostsResult.Revoked"/> when a line marks the key @revoked for the host; otherwise
    /// <see cref="KnownHostsResult.Trusted"/> when a line for the host lists the key; otherwise
    /// <see cref="KnownHostsResult.Changed"/> when lines for the host list other keys of its type; otherwise
    /// <see cref="KnownHostsResult.Unknown"/>.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="host"/> or <paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="host"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not in 1-65535.</exception>
    public KnownHostsResult Verify(string host, int port, SshPublicKey key)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentNullException.ThrowIfNull(key);
        ValidatePort(port);

        string name = HostPattern.GetLookupName(host, port);
        ReadOnlySpan<byte> blob = key.Blob.Span;
        bool trusted = false, otherKeyOfType = false;
        foreach (Entry entry in Volatile.Read(ref _entries))
        {
            bool sameKey = blob.SequenceEqual(entry.Blob);
            if (!(sameKey || (!entry.Revoked && entry.KeyType == key.KeyType)) || !entry.Hosts.Matches(name))
            {
                continue;
            }

            if (entry.Revoked)
            {
                return KnownHostsResult.Revoked;
            }

            trusted |= sameKey;
            otherKeyOfType |= !sameKey;
        }

        return trusted ? KnownHostsResult.Trusted : otherKeyOfType ? KnownHostsResult.Changed : KnownHostsResult.Unknown;
    }

    /// <summary>Trusts <paramref name="key"/> for a host from now on (in this instance only).</summary>
    /// <param name="host">The host name or address, as for <see cref="Verify"/>.</param>
    /// <param name="port">The server's port.</param>
    /// <param name="key">The key to trust.</param>
    /// <param name="hashHostName">
    /// True (the default) to store the name hashed with a random salt, as ssh does with HashKnownHosts, so that the
    /// file does not reveal which hosts the user visits; false to store it in clear.
    /// </param>
    /// <returns>The known_hosts line, without a line ending, e.g. for appending to a file.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="host"/> or <paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="host"/> is empty, or holds characters a known_hosts host field cannot (white space, ',', or a
    /// leading '|', '@', '#' or '!').
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not in 1-65535.</exception>
    public string Add(string host, int port, SshPublicKey key, bool hashHostName = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentNullException.ThrowIfNull(key);
        ValidatePort(port);
        if (host.AsSpan().ContainsAny(s_forbiddenInHost) || host[0] is '|' or '@' or '#' or '!')
        {
            throw new ArgumentException($"'{host}' cannot be written as a known_hosts host name.", nameof(host));
        }

        string name = HostPattern.GetLookupName(host, port);
        string line = (hashHostName ? HostPattern.Hash(name) : name) + " " + key;
        Entry entry = Entry.TryParse(line) ?? throw new InvalidOperationException("A known_hosts line did not parse back.");
        lock (_lock)
        {
            _entries = [.. _entries, entry];
        }

        return line;
    }

    /// <summary>
    /// Trusts <paramref name="key"/> for a host from now on, like <see cref="Add"/>, and appends the line to a
    /// known_hosts file (created if missing), as ssh does when the user accepts a new host key.
    /// </summary>
    /// <param name="path">The known_hosts file.</param>
    /// <param name="host">The host name or address, as for <see cref="Verify"/>.</param>
    /// <param name="port">The server's port.</param>
    /// <param name="key">The key to trust.</param>
    /// <param name="hashHostName">True (the default) to store the name hashed, false to store it in clear.</param>
    /// <returns>The line appended, without a line ending.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/>, <paramref name="host"/> or <paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="host"/> cannot be written (see <see cref="Add"/>).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not in 1-65535.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be written.</exception>
    public string AddToFile(string path, string host, int port, SshPublicKey key, bool hashHostName = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        string line = Add(host, port, key, hashHostName);
        using var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        bool needsNewline = false;
        if (file.Length > 0)
        {
            file.Seek(-1, SeekOrigin.End);
            needsNewline = file.ReadByte() != '\n';
        }

        file.Seek(0, SeekOrigin.End);
        file.Write(Encoding.UTF8.GetBytes((needsNewline ? "\n" : "") + line + "\n"));
        return line;
    }

    private static void ValidatePort(int port, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(port))] string? name = null)
    {
        if (port is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(name, port, "A TCP port is in 1-65535.");
        }
    }

    private static readonly System.Buffers.SearchValues<char> s_forbiddenInHost =
        System.Buffers.SearchValues.Create(" \t\r\n\v\f,");

    /// <summary>One usable line of a known_hosts file.</summary>
    private sealed class Entry
    {
        private Entry(bool revoked, HostPattern hosts, string keyType, byte[] blob)
        {
            Revoked = revoked;
            Hosts = hosts;
            KeyType = keyType;
            Blob = blob;
        }

        public bool Revoked { get; }

        public HostPattern Hosts { get; }

        public string KeyType { get; }

        public byte[] Blob { get; }

        /// <summary>Parses a line; null for comments, blank lines, @cert-authority lines and anything malformed.</summary>
        public static Entry? TryParse(string line)
        {
            string[] fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || fields[0].StartsWith('#'))
            {
                return null;
            }

            int next = 0;
            bool revoked = false;
            if (fields[0].StartsWith('@'))
            {
                if (fields[0] != "@revoked")
                {
                    return null; // @cert-authority, or a marker ssh does not know either.
                }

                revoked = true;
                next = 1;
            }

            if (fields.Length < next + 3 || HostPattern.TryParse(fields[next]) is not HostPattern hosts)
            {
                return null;
            }

            string keyType = fields[next + 1];
            byte[] blob;
            try
            {
                blob = Convert.FromBase64String(fields[next + 2]);
                var reader = new SshReader(blob);
                if (!Ascii.Equals(reader.ReadString(), keyType))
                {
                    return null;
                }
            }
            catch (Exception e) when (e is FormatException or SshProtocolException)
            {
                return null;
            }

            return new Entry(revoked, hosts, keyType, blob);
        }
    }
}
