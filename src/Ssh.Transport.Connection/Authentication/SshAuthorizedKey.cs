using System.Globalization;
using System.Net;
using System.Text;
using Ssh.Transport.Connection.Authentication;

namespace Ssh.Transport.Connection;

/// <summary>
/// A key a server accepts for a user, with the restrictions of its authorized_keys line (sshd(8) "AUTHORIZED_KEYS FILE
/// FORMAT"): <c>[options] keytype base64 [comment]</c>.
/// </summary>
/// <remarks>
/// <para>
/// Options: <c>restrict</c>, <c>command="..."</c>, <c>from="pattern-list"</c>, <c>expiry-time="YYYYMMDD[HHMM[SS]][Z]"</c>,
/// <c>no-pty</c>/<c>pty</c>, <c>no-port-forwarding</c>/<c>port-forwarding</c>, <c>no-agent-forwarding</c>/<c>agent-forwarding</c>,
/// <c>no-X11-forwarding</c>/<c>X11-forwarding</c>, <c>no-user-rc</c>/<c>user-rc</c>, <c>permitopen="host:port"</c>,
/// <c>permitlisten="[host:]port"</c>, <c>environment="NAME=value"</c>, <c>principals="..."</c>, <c>tunnel="n"</c>, and the
/// FIDO-only <c>no-touch-required</c> and <c>verify-required</c> (FIDO keys are not supported, so they change nothing).
/// Option names are case-insensitive; later options override earlier ones (<c>restrict,pty</c> allows a pty). An
/// unknown option, and <c>cert-authority</c> (certificates are not supported), refuse the whole line, as sshd does.
/// </para>
/// <para>
/// <see cref="FromPatterns"/> and <see cref="ExpiryTime"/> are checked by <see cref="IsAllowed"/>; the others are for the
/// connection layer to enforce. An expiry time without "Z" is the server's local time, as sshd reads it.
/// </para>
/// </remarks>
public sealed class SshAuthorizedKey
{
    private static readonly string[] s_supportedKeyTypes =
        ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"];

    private static readonly string[] s_otherKeyTypes =
        ["ssh-dss", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-xmss@openssh.com"];

    private HostAddressPatterns? _from;

    /// <summary>An entry with no options, for an application that keeps its keys elsewhere.</summary>
    /// <param name="key">The accepted key.</param>
    /// <param name="comment">A comment, e.g. where the key came from.</param>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    public SshAuthorizedKey(SshPublicKey key, string comment = "")
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(comment);
        Key = key;
        Comment = comment;
    }

    /// <summary>The key.</summary>
    public SshPublicKey Key { get; }

    /// <summary>The comment after the key, or empty.</summary>
    public string Comment { get; }

    /// <summary>The line's number in its file (from 1), or 0 when the entry did not come from a file.</summary>
    public int LineNumber { get; private init; }

    /// <summary>The options as written (e.g. "no-pty", "command=\"/bin/true\""), in order.</summary>
    public IReadOnlyList<string> Options { get; private init; } = [];

    /// <summary>True when <c>restrict</c> was given.</summary>
    public bool IsRestricted { get; private set; }

    /// <summary>The forced command (<c>command="..."</c>), run instead of whatever the client asks; null for none.</summary>
    public string? Command { get; private set; }

    /// <summary>The from= pattern list, or null when the key may be used from anywhere.</summary>
    public string? FromPatterns { get; private set; }

    /// <summary>When the key stops being accepted (<c>expiry-time=</c>), or null.</summary>
    public DateTimeOffset? ExpiryTime { get; private set; }

    /// <summary>False after <c>no-pty</c> or <c>restrict</c> (unless a later <c>pty</c>).</summary>
    public bool PermitPty { get; private set; } = true;

    /// <summary>False after <c>no-port-forwarding</c> or <c>restrict</c> (unless a later <c>port-forwarding</c>).</summary>
    public bool PermitPortForwarding { get; private set; } = true;

    /// <summary>False after <c>no-agent-forwarding</c> or <c>restrict</c> (unless a later <c>agent-forwarding</c>).</summary>
    public bool PermitAgentForwarding { get; private set; } = true;

    /// <summary>False after <c>no-X11-forwarding</c> or <c>restrict</c> (unless a later <c>X11-forwarding</c>).</summary>
    public bool PermitX11Forwarding { get; private set; } = true;

    /// <summary>False after <c>no-user-rc</c> or <c>restrict</c> (unless a later <c>user-rc</c>).</summary>
    public bool PermitUserRc { get; private set; } = true;

    /// <summary>The destinations of <c>permitopen=</c> ("host:port", port may be "*"); empty when not limited.</summary>
    public IReadOnlyList<string> PermitOpen { get; private set; } = [];

    /// <summary>The listen addresses of <c>permitlisten=</c> ("[host:]port"); empty when not limited.</summary>
    public IReadOnlyList<string> PermitListen { get; private set; } = [];

    /// <summary>The variables of <c>environment=</c>, each "NAME=value".</summary>
    public IReadOnlyList<string> Environment { get; private set; } = [];

    /// <summary>The <c>principals=</c> list (used by sshd with certificates only), or null.</summary>
    public string? Principals { get; private set; }

    /// <summary>The <c>tunnel=</c> device number, or null.</summary>
    public int? Tunnel { get; private set; }

    /// <summary>
    /// Parses one authorized_keys line: options (optional), key type, base64 key, comment (optional).
    /// </summary>
    /// <param name="line">The line, without its line break.</param>
    /// <returns>The entry.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="line"/> is null.</exception>
    /// <exception cref="FormatException">The line is malformed, or has an unknown or malformed option.</exception>
    /// <exception cref="NotSupportedException">The key is of a type this library does not support (ssh-dss, FIDO, certificates), or the line has <c>cert-authority</c>.</exception>
    public static SshAuthorizedKey Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        return Parse(line, lineNumber: 0);
    }

    /// <summary>
    /// Whether the key may be used now by this client: its from= patterns match (the client's address, or its host
    /// name where the end point names one) and its expiry time has not passed.
    /// </summary>
    /// <param name="remoteEndPoint">The client: an <see cref="IPEndPoint"/>, or a <see cref="DnsEndPoint"/> naming its host; null when unknown (then from= refuses).</param>
    /// <param name="now">The current time.</param>
    /// <param name="reason">Why not, when the answer is false.</param>
    /// <returns>True when the key may be used.</returns>
    public bool IsAllowed(EndPoint? remoteEndPoint, DateTimeOffset now, out string? reason)
    {
        if (ExpiryTime is { } expiry && now >= expiry)
        {
            reason = $"the key expired at {expiry:u} (line {LineNumber})";
            return false;
        }

        if (_from is { } from)
        {
            (IPAddress? address, string? host) = remoteEndPoint switch
            {
                IPEndPoint ip => (ip.Address, null),
                DnsEndPoint dns => (IPAddress.TryParse(dns.Host, out IPAddress? parsed) ? parsed : null, dns.Host),
                _ => ((IPAddress?)null, (string?)null),
            };
            if (!from.IsMatch(address, host))
            {
                reason = $"the client ({remoteEndPoint?.ToString() ?? "unknown address"}) does not match from=\"{FromPatterns}\" (line {LineNumber})";
                return false;
            }
        }

        reason = null;
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() =>
        (Options.Count == 0 ? string.Empty : string.Join(',', Options) + " ") + Key + (Comment.Length == 0 ? string.Empty : " " + Comment);

    internal static SshAuthorizedKey Parse(string line, int lineNumber)
    {
        ReadOnlySpan<char> rest = line.AsSpan().Trim();
        string first = NextToken(ref rest);
        string? optionText = null;
        if (!IsKeyType(first))
        {
            optionText = first;
            first = NextToken(ref rest);
        }

        if (first.Length == 0)
        {
            throw new FormatException("The line has no key type.");
        }

        if (!s_supportedKeyTypes.Contains(first))
        {
            throw IsKeyType(first)
                ? new NotSupportedException($"Keys of type {first} are not supported.")
                : new FormatException(optionText is null ? $"'{first}' is not a key type." : $"'{first}' after the options is not a key type.");
        }

        string base64 = NextToken(ref rest);
        if (base64.Length == 0)
        {
            throw new FormatException($"The {first} key has no base64 blob.");
        }

        SshPublicKey key = SshPublicKey.Parse(first + " " + base64);
        List<string> options = optionText is null ? [] : SplitOptions(optionText);
        var entry = new SshAuthorizedKey(key, rest.Trim().ToString()) { LineNumber = lineNumber, Options = options };
        foreach (string option in options)
        {
            entry.Apply(option);
        }

        return entry;
    }

    private void Apply(string option)
    {
        int equals = option.IndexOf('=', StringComparison.Ordinal);
        string name = (equals < 0 ? option : option[..equals]).ToLowerInvariant();
        string? value = equals < 0 ? null : Dequote(name, option[(equals + 1)..]);
        bool needsValue = name is "command" or "from" or "expiry-time" or "environment" or "permitopen" or "permitlisten" or "principals" or "tunnel";
        bool flag = name is "restrict" or "no-pty" or "pty" or "no-port-forwarding" or "port-forwarding" or "no-agent-forwarding" or "agent-forwarding"
            or "no-x11-forwarding" or "x11-forwarding" or "no-user-rc" or "user-rc" or "no-touch-required" or "verify-required" or "cert-authority";
        if (!needsValue && !flag)
        {
            throw new FormatException($"Unknown option '{name}'; the line is refused, as sshd refuses it.");
        }

        if (needsValue != value is not null)
        {
            throw new FormatException(needsValue ? $"Option '{name}' needs a quoted value." : $"Option '{name}' takes no value.");
        }

        switch (name)
        {
            case "restrict":
                IsRestricted = true;
                PermitPty = PermitPortForwarding = PermitAgentForwarding = PermitX11Forwarding = PermitUserRc = false;
                break;
            case "no-pty" or "pty":
                PermitPty = name == "pty";
                break;
            case "no-port-forwarding" or "port-forwarding":
                PermitPortForwarding = name == "port-forwarding";
                break;
            case "no-agent-forwarding" or "agent-forwarding":
                PermitAgentForwarding = name == "agent-forwarding";
                break;
            case "no-x11-forwarding" or "x11-forwarding":
                PermitX11Forwarding = name == "x11-forwarding";
                break;
            case "no-user-rc" or "user-rc":
                PermitUserRc = name == "user-rc";
                break;
            case "no-touch-required" or "verify-required":
                break;
            case "command":
                Command = Command is null ? value : throw new FormatException("Option 'command' is given twice.");
                break;
            case "from":
                _from = _from is null ? HostAddressPatterns.Parse(value!) : throw new FormatException("Option 'from' is given twice.");
                FromPatterns = value;
                break;
            case "expiry-time":
                DateTimeOffset expiry = ParseExpiry(value!);
                ExpiryTime = ExpiryTime is { } earlier && earlier < expiry ? earlier : expiry;
                break;
            case "environment":
                int nameEnd = value!.IndexOf('=', StringComparison.Ordinal);
                if (nameEnd <= 0 || value.AsSpan(0, nameEnd).ContainsAnyExcept(s_environmentNameChars))
                {
                    throw new FormatException($"environment=\"{value}\" is not NAME=value.");
                }

                Environment = [.. Environment, value];
                break;
            case "permitopen":
                PermitOpen = [.. PermitOpen, CheckHostPort(name, value!, hostRequired: true)];
                break;
            case "permitlisten":
                PermitListen = [.. PermitListen, CheckHostPort(name, value!, hostRequired: false)];
                break;
            case "principals":
                Principals = Principals is null ? value : throw new FormatException("Option 'principals' is given twice.");
                break;
            case "tunnel":
                Tunnel = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int tunnel)
                    ? tunnel
                    : throw new FormatException($"tunnel=\"{value}\" is not a device number.");
                break;
            case "cert-authority":
                throw new NotSupportedException("cert-authority: certificates are not supported, so the line is refused.");
            default:
                throw new FormatException($"Unknown option '{name}'; the line is refused, as sshd refuses it.");
        }
    }

    private static readonly System.Buffers.SearchValues<char> s_environmentNameChars =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");

    /// <summary>"host:port" (permitopen) or "[host:]port" (permitlisten); host may be [IPv6]; port a number or "*".</summary>
    private static string CheckHostPort(string option, string value, bool hostRequired)
    {
        int colon = value.LastIndexOf(':');
        if ((colon < 0 && hostRequired) || colon == 0)
        {
            throw new FormatException($"{option}=\"{value}\" is not {(hostRequired ? "host:port" : "[host:]port")}.");
        }

        string port = value[(colon + 1)..];
        if (port != "*" && !(ushort.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out ushort number) && (number > 0 || !hostRequired)))
        {
            throw new FormatException($"{option}=\"{value}\": '{port}' is not a port number or '*'.");
        }

        return value;
    }

    /// <summary>YYYYMMDD[HHMM[SS]], local time unless it ends in Z (UTC), as sshd's expiry-time.</summary>
    internal static DateTimeOffset ParseExpiry(string value, TimeZoneInfo? zone = null)
    {
        bool utc = value.EndsWith('Z') || value.EndsWith('z');
        string digits = utc ? value[..^1] : value;
        string format = digits.Length switch
        {
            8 => "yyyyMMdd",
            12 => "yyyyMMddHHmm",
            14 => "yyyyMMddHHmmss",
            _ => string.Empty,
        };
        if (format.Length == 0 || digits.AsSpan().ContainsAnyExceptInRange('0', '9')
            || !DateTime.TryParseExact(digits, format, CultureInfo.InvariantCulture, DateTimeStyles.None, out DateTime time))
        {
            throw new FormatException($"expiry-time=\"{value}\" is not YYYYMMDD[HHMM[SS]], optionally followed by Z for UTC.");
        }

        if (utc)
        {
            return new DateTimeOffset(time, TimeSpan.Zero);
        }

        zone ??= TimeZoneInfo.Local;
        if (zone.IsInvalidTime(time))
        {
            // A local time skipped by a clock change: the moment the clock jumped past it.
            time = time.AddHours(1);
        }

        return new DateTimeOffset(time, zone.GetUtcOffset(time));
    }

    private static bool IsKeyType(string token) =>
        s_supportedKeyTypes.Contains(token) || s_otherKeyTypes.Contains(token) || token.EndsWith("-cert-v01@openssh.com", StringComparison.Ordinal);

    /// <summary>The next run of characters up to white space outside double quotes.</summary>
    private static string NextToken(ref ReadOnlySpan<char> rest)
    {
        rest = rest.TrimStart();
        bool quoted = false;
        int i = 0;
        for (; i < rest.Length; i++)
        {
            char c = rest[i];
            if (c == '\\' && quoted && i + 1 < rest.Length && rest[i + 1] == '"')
            {
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && c is ' ' or '\t')
            {
                break;
            }
        }

        if (quoted)
        {
            throw new FormatException("An option's quoted value has no closing quote.");
        }

        string token = rest[..i].ToString();
        rest = rest[i..];
        return token;
    }

    /// <summary>Splits the options at commas outside double quotes.</summary>
    private static List<string> SplitOptions(string text)
    {
        var options = new List<string>();
        bool quoted = false;
        int start = 0;
        for (int i = 0; i <= text.Length; i++)
        {
            if (i == text.Length || (text[i] == ',' && !quoted))
            {
                if (i == start)
                {
                    throw new FormatException("The options have an empty entry (two commas, or a trailing comma).");
                }

                options.Add(text[start..i]);
                start = i + 1;
            }
            else if (text[i] == '\\' && quoted && i + 1 < text.Length && text[i + 1] == '"')
            {
                i++;
            }
            else if (text[i] == '"')
            {
                quoted = !quoted;
            }
        }

        return options;
    }

    /// <summary>A value in double quotes, \" standing for a quote.</summary>
    private static string Dequote(string name, string value)
    {
        if (value.Length < 2 || value[0] != '"' || value[^1] != '"')
        {
            throw new FormatException($"Option '{name}' needs its value in double quotes.");
        }

        var text = new StringBuilder(value.Length);
        for (int i = 1; i < value.Length - 1; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length - 1 && value[i + 1] == '"')
            {
                i++;
            }

            text.Append(value[i]);
        }

        return text.ToString();
    }
}
