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
/// "@revoked" marks a key that must be refused even where another line trusts it. "@cert-authority" lines name the
/// key of a certificate authority (CA) trusted to certify the host keys of the hosts they match: a server that
/// presents an OpenSSH host certificate (<see cref="SshPublicKey.Certificate"/>) is trusted when such a line lists
/// its CA and the certificate is a host certificate, valid now, for the host name connected to, with no critical
/// option, as ssh checks it. Comments, blank lines and lines that cannot be parsed (including keys of types this
/// library does not know) are skipped, as ssh skips them.
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
    /// The clock certificates' validity windows are checked against. Default: <see cref="TimeProvider.System"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException">The value set is null.</exception>
    public TimeProvider TimeProvider
    {
        get => _timeProvider;
        set => _timeProvider = value ?? throw new ArgumentNullException(nameof(value));
    }

    private TimeProvider _timeProvider = TimeProvider.System;

    /// <summary>
    /// A host key verifier for <see cref="SshClientOptions.HostKeyVerifier"/> that trusts exactly the keys this
    /// file trusts for <paramref name="host"/>:<paramref name="port"/>: unknown, changed and revoked keys, and host
    /// certificates that do not pass (see <see cref="Verify"/>), are refused with an
    /// <see cref="SshHostKeyRejectedException"/> that says why (<see cref="SshHostKeyRejectedException.KnownHostsResult"/>).
    /// </summary>
    /// <remarks>
    /// When the file has an @cert-authority line for the host, a client with this verifier offers the certificate
    /// host key algorithms first (unless <see cref="SshClientOptions.PreferHostCertificates"/> says otherwise), as
    /// ssh does, so that a server with a host certificate presents it.
    /// </remarks>
    /// <param name="host">The host name or address connected to.</param>
    /// <param name="port">The server's port.</param>
    /// <returns>The verifier.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="host"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="host"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not in 1-65535.</exception>
    public SshHostKeyVerifier ForHost(string host, int port = 22)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ValidatePort(port);
        return new HostCheck(this, host, port).VerifyAsync;
    }

    /// <summary>
    /// True when an @cert-authority line matches <paramref name="host"/>:<paramref name="port"/>: a client should
    /// then offer the certificate host key algorithms first (<see cref="SshClientOptions.PreferHostCertificates"/>),
    /// as ssh does.
    /// </summary>
    /// <param name="host">The host name or address, as for <see cref="Verify"/>.</param>
    /// <param name="port">The server's port.</param>
    /// <returns>True when a CA is trusted for the host.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="host"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="host"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not in 1-65535.</exception>
    public bool HasCertificateAuthority(string host, int port)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ValidatePort(port);
        string name = HostPattern.GetLookupName(host, port);
        return Volatile.Read(ref _entries).Any(e => e.Marker == Marker.CertificateAuthority && e.Hosts.Matches(name));
    }

    /// <summary>Checks the host key a server presented.</summary>
    /// <param name="host">The host name or address the user connected to, as typed (e.g. "example.com", "192.0.2.1", "::1").</param>
    /// <param name="port">The server's port; 22 looks up "host", any other "[host]:port".</param>
    /// <param name="key">The key from the server's key exchange reply: a plain key or a host certificate.</param>
    /// <returns>
    /// <para>
    /// For a plain key: <see cref="KnownHostsResult.Revoked"/> when a line marks the key @revoked for the host
    /// (or a certificate of it); otherwise <see cref="KnownHostsResult.Trusted"/> when a line for the host lists the
    /// key; otherwise <see cref="KnownHostsResult.Changed"/> when lines for the host list other keys of its type;
    /// otherwise <see cref="KnownHostsResult.Unknown"/>.
    /// </para>
    /// <para>
    /// For a certificate (sshconnect.c's order): <see cref="KnownHostsResult.Revoked"/> when the certificate, its key
    /// or its CA is @revoked for the host. Otherwise, when an @cert-authority line for the host lists its CA, the
    /// certificate is checked: a user certificate, one not yet valid or expired on <see cref="TimeProvider"/>'s clock,
    /// one whose principals do not name <paramref name="host"/>, one with a critical option, or one signed with SHA-1
    /// is refused with the matching <c>Certificate...</c> result; one that passes is
    /// <see cref="KnownHostsResult.Trusted"/>. A certificate that fails, or whose CA no line lists
    /// (<see cref="KnownHostsResult.CertificateUnknownAuthority"/>), is still <see cref="KnownHostsResult.Trusted"/>
    /// when a plain line lists its certified key (ssh retries with the plain key), and
    /// <see cref="KnownHostsResult.Changed"/> when its CA is unknown and plain lines list other keys of its type.
    /// </para>
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
        Entry[] entries = Volatile.Read(ref _entries);
        SshCertificate? certificate = key.Certificate;
        SshPublicKey plain = certificate?.Key ?? key;

        // hostfile.c check_key_not_revoked: the key itself, and for a certificate also its CA.
        foreach (Entry entry in entries)
        {
            if (entry.Marker == Marker.Revoked && entry.Hosts.Matches(name)
                && (entry.Matches(key) || entry.Matches(plain) || (certificate is not null && entry.Matches(certificate.CertificateAuthority))))
            {
                return KnownHostsResult.Revoked;
            }
        }

        KnownHostsResult plainResult = VerifyPlain(entries, name, plain);
        if (certificate is null)
        {
            return plainResult;
        }

        bool caTrusted = entries.Any(e => e.Marker == Marker.CertificateAuthority && e.Hosts.Matches(name) && e.Matches(certificate.CertificateAuthority));
        KnownHostsResult certificateResult = caTrusted ? CheckHostCertificate(certificate, host, _timeProvider.GetUtcNow()) : KnownHostsResult.CertificateUnknownAuthority;

        // sshconnect.c: a certificate that does not pass is retried as its plain key ("No matching CA found. Retry
        // with plain key").
        return certificateResult == KnownHostsResult.Trusted || plainResult == KnownHostsResult.Trusted ? KnownHostsResult.Trusted
            : !caTrusted && plainResult == KnownHostsResult.Changed ? KnownHostsResult.Changed
            : certificateResult;
    }

    private static KnownHostsResult VerifyPlain(Entry[] entries, string name, SshPublicKey key)
    {
        ReadOnlySpan<byte> blob = key.Blob.Span;
        bool trusted = false, otherKeyOfType = false;
        foreach (Entry entry in entries)
        {
            if (entry.Marker != Marker.None || !entry.Hosts.Matches(name))
            {
                continue;
            }

            bool sameKey = blob.SequenceEqual(entry.Blob);
            trusted |= sameKey;
            otherKeyOfType |= !sameKey && entry.KeyType == key.KeyType;
        }

        return trusted ? KnownHostsResult.Trusted : otherKeyOfType ? KnownHostsResult.Changed : KnownHostsResult.Unknown;
    }

    /// <summary>sshkey_cert_check_host with ssh's defaults, in its order; <paramref name="host"/> as connected to.</summary>
    internal static KnownHostsResult CheckHostCertificate(SshCertificate certificate, string host, DateTimeOffset now)
    {
        if (certificate.Type != SshCertificateType.Host)
        {
            return KnownHostsResult.CertificateWrongType;
        }

        if (certificate.IsNotYetValid(now))
        {
            return KnownHostsResult.CertificateNotYetValid;
        }

        if (certificate.IsExpired(now))
        {
            return KnownHostsResult.CertificateExpired;
        }

        // Principals may be wildcard patterns (match_pattern); host names compare case-insensitively.
        string name = host.ToLowerInvariant();
        if (!certificate.Principals.Any(p => HostPattern.WildcardMatch(name, p.ToLowerInvariant())))
        {
            return KnownHostsResult.CertificateWrongPrincipal;
        }

        // PROTOCOL.certkeys: "No critical options are defined for host certificates at present."
        if (certificate.CriticalOptions.Count != 0)
        {
            return KnownHostsResult.CertificateUnsupportedCriticalOption;
        }

        return certificate.SignatureAlgorithm == SshHostKeyAlgorithms.RsaSha1 ? KnownHostsResult.CertificateWeakSignature : KnownHostsResult.Trusted;
    }

    /// <summary>Why <paramref name="result"/> refuses <paramref name="key"/>, in a sentence for an exception or a log.</summary>
    internal static string Explain(KnownHostsResult result, string host, int port, SshPublicKey key)
    {
        string name = HostPattern.GetLookupName(host, port);
        SshCertificate? c = key.Certificate;
        string what = c is null
            ? $"The host key {key.KeyType} {key.GetFingerprint()} of {name}"
            : $"The host certificate {key.KeyType} {key.GetFingerprint()} of {name} (serial {c.Serial}, ID \"{c.KeyId}\", CA {c.CertificateAuthority.KeyType} {c.CertificateAuthority.GetFingerprint()})";
        return result switch
        {
            KnownHostsResult.Trusted => $"{what} is trusted.",
            KnownHostsResult.Unknown => $"{what} is not known.",
            KnownHostsResult.Changed => $"{what} does not match the {(c?.Key ?? key).KeyType} key on record: the host key has CHANGED (possible man-in-the-middle).",
            KnownHostsResult.Revoked => $"{what} is marked @revoked{(c is null ? "" : " (the certificate, its key or its CA)")}.",
            KnownHostsResult.CertificateUnknownAuthority => $"{what} is signed by a CA that no @cert-authority line trusts for {name}.",
            KnownHostsResult.CertificateWrongType => $"{what} is a {c?.Type.ToString().ToLowerInvariant()} certificate, not a host certificate.",
            KnownHostsResult.CertificateNotYetValid => $"{what} is not yet valid (valid from {c?.ValidAfter:u}).",
            KnownHostsResult.CertificateExpired => $"{what} has expired (valid before {c?.ValidBefore:u}).",
            KnownHostsResult.CertificateWrongPrincipal => $"{what} is not valid for '{host}': its principals are {(c is { Principals.Count: > 0 } ? string.Join(",", c.Principals) : "none")}.",
            KnownHostsResult.CertificateUnsupportedCriticalOption => $"{what} carries critical options ({string.Join(",", c?.CriticalOptions ?? [])}), which host certificates do not support.",
            KnownHostsResult.CertificateWeakSignature => $"{what} is signed with ssh-rsa (SHA-1), which is refused.",
            _ => $"{what} is refused ({result}).",
        };
    }

    /// <summary>What <see cref="ForHost"/> returns: the delegate's target, which the transport also asks about CAs.</summary>
    internal sealed class HostCheck(KnownHostsVerifier verifier, string host, int port)
    {
        /// <summary>True when the file trusts a CA for the host: the client then offers certificate algorithms first.</summary>
        public bool HasCertificateAuthority => verifier.HasCertificateAuthority(host, port);

        public ValueTask<bool> VerifyAsync(SshPublicKey key, CancellationToken cancellationToken)
        {
            KnownHostsResult result = verifier.Verify(host, port, key);
            return result == KnownHostsResult.Trusted
                ? ValueTask.FromResult(true)
                : throw new SshHostKeyRejectedException(key, result, Explain(result, host, port, key));
        }
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

        // ssh records the certified key of a certificate it accepts as a plain key.
        key = key.Certificate?.Key ?? key;
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

    private enum Marker
    {
        None,
        Revoked,
        CertificateAuthority,
    }

    /// <summary>One usable line of a known_hosts file.</summary>
    private sealed class Entry
    {
        private Entry(Marker marker, HostPattern hosts, string keyType, byte[] blob, byte[]? plainBlob)
        {
            Marker = marker;
            Hosts = hosts;
            KeyType = keyType;
            Blob = blob;
            PlainBlob = plainBlob;
        }

        public Marker Marker { get; }

        public HostPattern Hosts { get; }

        public string KeyType { get; }

        public byte[] Blob { get; }

        /// <summary>For a @revoked certificate, its certified key's blob (sshkey_equal_public ignores the certificate).</summary>
        public byte[]? PlainBlob { get; }

        /// <summary>True when the line's key is <paramref name="key"/>, or a certificate of it.</summary>
        public bool Matches(SshPublicKey key)
        {
            ReadOnlySpan<byte> blob = key.Blob.Span;
            return blob.SequenceEqual(Blob) || (PlainBlob is not null && blob.SequenceEqual(PlainBlob));
        }

        /// <summary>Parses a line; null for comments, blank lines, unknown markers and anything malformed.</summary>
        public static Entry? TryParse(string line)
        {
            string[] fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || fields[0].StartsWith('#'))
            {
                return null;
            }

            int next = 0;
            Marker marker = Marker.None;
            if (fields[0].StartsWith('@'))
            {
                Marker? known = fields[0] switch
                {
                    "@revoked" => Marker.Revoked,
                    "@cert-authority" => Marker.CertificateAuthority,
                    _ => null, // a marker ssh does not know either
                };
                if (known is null)
                {
                    return null;
                }

                marker = known.Value;

                next = 1;
            }

            if (fields.Length < next + 3 || HostPattern.TryParse(fields[next]) is not HostPattern hosts)
            {
                return null;
            }

            string keyType = fields[next + 1];
            byte[] blob;
            byte[]? plainBlob = null;
            try
            {
                blob = Convert.FromBase64String(fields[next + 2]);
                var reader = new SshReader(blob);
                ReadOnlySpan<byte> type = reader.ReadString();
                if (!Ascii.Equals(type, keyType))
                {
                    return null;
                }

                if (SshCertificate.IsCertificateKeyType(type))
                {
                    // A CA is a plain key (chained certificates are not supported); a revoked certificate also
                    // revokes its key, so that is kept.
                    if (marker != Marker.Revoked)
                    {
                        return null;
                    }

                    plainBlob = SshPublicKey.FromBlob(blob).Certificate!.Key.Blob.ToArray();
                }
            }
            catch (Exception e) when (e is FormatException or SshProtocolException)
            {
                return null;
            }

            return new Entry(marker, hosts, keyType, blob, plainBlob);
        }
    }
}
