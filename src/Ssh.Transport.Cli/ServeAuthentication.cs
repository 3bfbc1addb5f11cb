using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Ssh.Transport.Connection;

namespace Ssh.Transport.Cli;

/// <summary>
/// Whom serve lets in (--authorized-keys, --password-file) and the limits of a login (--max-auth-tries,
/// --login-grace-time, --banner): the decisions of <see cref="ServeHandler"/>'s authentication methods and the
/// <see cref="SshServerSettings"/> of each connection. One instance serves every connection; the files are read once,
/// when serve starts.
/// </summary>
internal sealed class ServeAuthentication
{
    /// <summary>OpenSSH's MaxAuthTries.</summary>
    public const int DefaultMaxAuthTries = 6;

    /// <summary>OpenSSH's LoginGraceTime, in seconds.</summary>
    public const double DefaultLoginGraceTime = 120;

    /// <summary>publickey: the keys of an authorized_keys file, for any user name; null: publickey is not offered.</summary>
    public SshAuthorizedKeys? AuthorizedKeys { get; init; }

    /// <summary>password: the user:password lines of a file; null: password is not offered.</summary>
    public PasswordFile? Passwords { get; init; }

    /// <summary>Failed attempts before the server disconnects.</summary>
    public int MaxAuthTries { get; init; } = DefaultMaxAuthTries;

    /// <summary>How long a client has to log in.</summary>
    public TimeSpan LoginGraceTime { get; init; } = TimeSpan.FromSeconds(DefaultLoginGraceTime);

    /// <summary>The text of SSH_MSG_USERAUTH_BANNER, or null.</summary>
    public string? Banner { get; init; }

    /// <summary>
    /// The settings of one connection's <see cref="SshServer.RunAsync"/>: the login limits, and the connection's log as
    /// the library's logger (it reports the user it lets in there).
    /// </summary>
    /// <param name="log">The connection's log.</param>
    public SshServerSettings CreateSettings(ServeConnectionLog log) => new()
    {
        MaxAuthTries = MaxAuthTries,
        LoginGraceTime = LoginGraceTime,
        Banner = Banner,
        LoggerFactory = log,
    };

    /// <summary>
    /// publickey: the entry of the authorized_keys file that lets <paramref name="key"/> in, with its options, or null
    /// (logged, with the reason). Called for the client's query (answered with PK_OK) and again for its signed
    /// request; the key's from= and expiry-time= are checked against this client, now. The server runner enforces the
    /// entry's other options (command=, no-pty, no-port-forwarding, permitopen, permitlisten, environment=).
    /// </summary>
    public SshAuthorizedKey? FindKey(SshAuthenticationContext context, SshPublicKey key, ServeConnectionLog log)
    {
        if (AuthorizedKeys is not { } keys)
        {
            return null;
        }

        SshAuthorizedKey? entry = keys.Find(key, context.RemoteEndPoint, TimeProvider.System.GetUtcNow(), out string? refusal);
        if (entry is null)
        {
            // "publickey" for publickey-hostbound-v00@openssh.com too: the same method, the host key also signed.
            log.Line($"refused publickey {Algorithms.KeyLabel(key.KeyType)} {key.GetFingerprint()} for {context.UserName}: {refusal ?? "not in the authorized keys"}");
        }

        return entry;
    }

    /// <summary>password: true when <paramref name="password"/> is the user's in the password file (compared in constant time); a refusal is logged.</summary>
    public bool VerifyPassword(SshAuthenticationContext context, string password, ServeConnectionLog log)
    {
        bool accepted = Passwords is { } passwords && passwords.Verify(context.UserName, password);
        if (!accepted)
        {
            log.Line($"refused password for {context.UserName}");
        }

        return accepted;
    }

    /// <summary>What is offered, for serve's start-up line: "publickey (2 key(s) from FILE), password (1 user(s) from FILE); ...".</summary>
    /// <param name="keysFile">The authorized_keys file's name.</param>
    /// <param name="passwordFile">The password file's name.</param>
    public string Describe(string? keysFile, string? passwordFile)
    {
        var methods = new List<string>();
        if (AuthorizedKeys is { } keys)
        {
            methods.Add($"publickey ({keys.Keys.Count} key(s) from {keysFile})");
        }

        if (Passwords is { } passwords)
        {
            methods.Add($"password ({passwords.Count} user(s) from {passwordFile})");
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"{string.Join(", ", methods)}; {MaxAuthTries} tries, {LoginGraceTime.TotalSeconds:0.###} s to log in{(Banner is null ? "" : ", with a banner")}");
    }

}

/// <summary>
/// A file of user:password lines (for tests: the passwords are in clear). Blank lines and lines starting with '#'
/// are skipped; a password may contain ':' (the first one ends the user name).
/// </summary>
internal sealed class PasswordFile
{
    private readonly Dictionary<string, byte[]> _passwords;

    private PasswordFile(Dictionary<string, byte[]> passwords) => _passwords = passwords;

    /// <summary>The number of users.</summary>
    public int Count => _passwords.Count;

    /// <summary>Parses the text of a password file.</summary>
    /// <exception cref="FormatException">A line is not user:password, has an empty part, or repeats a user.</exception>
    public static PasswordFile Parse(string text)
    {
        var passwords = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        int number = 0;
        foreach (ReadOnlySpan<char> line in text.AsSpan().EnumerateLines())
        {
            number++;
            if (line.IsWhiteSpace() || line.TrimStart()[0] == '#')
            {
                continue;
            }

            int colon = line.IndexOf(':');
            if (colon <= 0 || colon == line.Length - 1)
            {
                throw new FormatException($"line {number} is not user:password (with neither part empty)");
            }

            string user = line[..colon].ToString();
            if (!passwords.TryAdd(user, Encoding.UTF8.GetBytes(line[(colon + 1)..].ToString())))
            {
                throw new FormatException($"line {number} repeats the user '{user}'");
            }
        }

        return new PasswordFile(passwords);
    }

    /// <summary>
    /// True when <paramref name="password"/> is the user's. The UTF-8 bytes are compared in constant time
    /// (<see cref="CryptographicOperations.FixedTimeEquals"/>, which does not hide a difference in length); for an
    /// unknown user the password is compared with itself, so that the answer takes as long.
    /// </summary>
    public bool Verify(string user, string password)
    {
        bool known = _passwords.TryGetValue(user, out byte[]? expected);
        byte[] given = Encoding.UTF8.GetBytes(password);
        bool equal = CryptographicOperations.FixedTimeEquals(given, expected ?? given);
        return known & equal;
    }
}
