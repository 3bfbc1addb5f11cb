using System.Net;

namespace Ssh.Transport.Connection.Authentication;

/// <summary>
/// The pattern list of an authorized_keys from= option (sshd(8) "AUTHORIZED_KEYS FILE FORMAT", ssh_config(5)
/// "PATTERNS"): comma-separated entries, each a wildcard pattern ('*' any run of characters, '?' exactly one) matched
/// against the client's host name and address, or an address/prefix-length block (CIDR) matched against its address;
/// a leading '!' negates an entry. The client is allowed when some entry matches and no negated entry does.
/// </summary>
/// <remarks>
/// As sshd with UseDNS off (its default), a client whose host name is not known is matched by its address text in
/// both roles. Host names compare case-insensitively. An IPv4 address carried as IPv4-mapped IPv6 is compared as IPv4.
/// </remarks>
internal sealed class HostAddressPatterns
{
    private readonly Entry[] _entries;

    private HostAddressPatterns(Entry[] entries) => _entries = entries;

    /// <summary>Parses a list; throws <see cref="FormatException"/> for an empty entry or a malformed address block.</summary>
    public static HostAddressPatterns Parse(string list)
    {
        string[] items = list.Split(',');
        var entries = new Entry[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            string item = items[i].Trim();
            bool negated = item.StartsWith('!');
            string pattern = negated ? item[1..] : item;
            if (pattern.Length == 0)
            {
                throw new FormatException($"from=\"{list}\" has an empty pattern.");
            }

            IPNetwork? network = null;
            if (pattern.Contains('/', StringComparison.Ordinal))
            {
                if (!IPNetwork.TryParse(pattern, out IPNetwork parsed))
                {
                    throw new FormatException($"from=\"{list}\": '{pattern}' is not an address block such as 192.0.2.0/24.");
                }

                network = parsed;
            }

            entries[i] = new Entry(pattern.ToLowerInvariant(), negated, network);
        }

        return new HostAddressPatterns(entries);
    }

    /// <summary>True when the client at <paramref name="address"/> (host name <paramref name="hostName"/>, if known) is allowed.</summary>
    public bool IsMatch(IPAddress? address, string? hostName)
    {
        if (address is null && hostName is null)
        {
            return false;
        }

        if (address is { IsIPv4MappedToIPv6: true })
        {
            address = address.MapToIPv4();
        }

        string? addressText = address?.ToString().ToLowerInvariant();
        string? host = hostName?.ToLowerInvariant() ?? addressText;
        bool allowed = false;
        foreach (Entry entry in _entries)
        {
            bool match = entry.Network is { } network
                ? address is not null && network.Contains(address)
                : (addressText is not null && Wildcard.IsMatch(addressText, entry.Pattern)) || (host is not null && Wildcard.IsMatch(host, entry.Pattern));
            if (match && entry.Negated)
            {
                return false;
            }

            allowed |= match;
        }

        return allowed;
    }

    private readonly record struct Entry(string Pattern, bool Negated, IPNetwork? Network);
}

/// <summary>'*' and '?' wildcards, as OpenSSH's patterns use them.</summary>
internal static class Wildcard
{
    /// <summary>True when all of <paramref name="text"/> matches <paramref name="pattern"/>.</summary>
    public static bool IsMatch(ReadOnlySpan<char> text, ReadOnlySpan<char> pattern)
    {
        // Greedy with one backtrack point: the last '*' seen, and where in the text it started matching.
        int t = 0, p = 0, star = -1, resume = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]))
            {
                t++;
                p++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++resume;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
