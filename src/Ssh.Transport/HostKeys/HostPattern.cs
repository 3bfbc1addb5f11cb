using System.Security.Cryptography;
using System.Text;

namespace Ssh.Transport.HostKeys;

/// <summary>
/// The host field of a known_hosts line (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): either a comma-separated list of
/// patterns, where '*' matches any run of characters, '?' exactly one, and a leading '!' negates (a negated match
/// overrides every positive one); or one hashed name "|1|base64(salt)|base64(HMAC-SHA1(salt, name))".
/// </summary>
/// <remarks>
/// Names are compared in lower case. A server on a port other than 22 is looked up as "[host]:port".
/// </remarks>
internal sealed class HostPattern
{
    private const string HashMagic = "|1|";
    private const int HashLength = 20;

    private readonly string[]? _patterns;
    private readonly bool[]? _negated;
    private readonly byte[]? _salt;
    private readonly byte[]? _hash;

    private HostPattern(string[] patterns, bool[] negated)
    {
        _patterns = patterns;
        _negated = negated;
    }

    private HostPattern(byte[] salt, byte[] hash)
    {
        _salt = salt;
        _hash = hash;
    }

    /// <summary>Parses a host field; null when it is malformed.</summary>
    public static HostPattern? TryParse(string field)
    {
        if (field.StartsWith(HashMagic, StringComparison.Ordinal))
        {
            string[] parts = field[HashMagic.Length..].Split('|');
            if (parts.Length != 2)
            {
                return null;
            }

            try
            {
                byte[] salt = Convert.FromBase64String(parts[0]);
                byte[] hash = Convert.FromBase64String(parts[1]);
                return hash.Length == HashLength ? new HostPattern(salt, hash) : null;
            }
            catch (FormatException)
            {
                return null;
            }
        }

        string[] patterns = field.Split(',');
        var negated = new bool[patterns.Length];
        for (int i = 0; i < patterns.Length; i++)
        {
            string pattern = patterns[i];
            negated[i] = pattern.StartsWith('!');
            patterns[i] = Lower(negated[i] ? pattern[1..] : pattern);
            if (patterns[i].Length == 0)
            {
                return null;
            }
        }

        return new HostPattern(patterns, negated);
    }

    /// <summary>The name a host is known by: "host" on port 22, "[host]:port" otherwise, in lower case.</summary>
    public static string GetLookupName(string host, int port)
    {
        string name = Lower(host);
        return port == 22 ? name : $"[{name}]:{port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    }

    /// <summary>A hashed host field for <paramref name="lookupName"/> with a fresh random salt.</summary>
    public static string Hash(string lookupName)
    {
        Span<byte> salt = stackalloc byte[HashLength];
        RandomNumberGenerator.Fill(salt);
        Span<byte> hash = stackalloc byte[HashLength];
        HMACSHA1.HashData(salt, Encoding.UTF8.GetBytes(lookupName), hash);
        return HashMagic + Convert.ToBase64String(salt) + "|" + Convert.ToBase64String(hash);
    }

    /// <summary>True when the field matches <paramref name="lookupName"/> (from <see cref="GetLookupName"/>).</summary>
    public bool Matches(string lookupName)
    {
        if (_hash is not null)
        {
            Span<byte> hash = stackalloc byte[HashLength];
            HMACSHA1.HashData(_salt, Encoding.UTF8.GetBytes(lookupName), hash);
            return CryptographicOperations.FixedTimeEquals(hash, _hash);
        }

        bool matched = false;
        for (int i = 0; i < _patterns!.Length; i++)
        {
            if (WildcardMatch(lookupName, _patterns[i]))
            {
                if (_negated![i])
                {
                    return false;
                }

                matched = true;
            }
        }

        return matched;
    }

    /// <summary>Glob matching with '*' (any run, possibly empty) and '?' (one character); no other specials.</summary>
    internal static bool WildcardMatch(ReadOnlySpan<char> text, ReadOnlySpan<char> pattern)
    {
        // Greedy scan that remembers the last '*' and, on a mismatch, lets that star swallow one more character.
        int t = 0, p = 0, starP = -1, starT = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                starP = p++;
                starT = t;
            }
            else if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]))
            {
                t++;
                p++;
            }
            else if (starP >= 0)
            {
                p = starP + 1;
                t = ++starT;
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

    private static string Lower(string value) => value.ToLowerInvariant();
}
