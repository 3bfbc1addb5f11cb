using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport;

/// <summary>
/// The checks behind <see cref="SshTransportOptions.Validate"/> and <see cref="SshPacketizerOptions.Validate"/>:
/// each adds a sentence to a list of problems, so that one exception names them all.
/// </summary>
internal static class OptionsValidation
{
    /// <summary>
    /// The longest period a timer takes (<see cref="ITimer.Change"/>: 2^32 - 2 milliseconds, about 49.7 days).
    /// </summary>
    public static readonly TimeSpan MaxTimerPeriod = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>RFC 4251 §6: an algorithm or service name is at most 64 characters.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Throws one exception listing <paramref name="problems"/>, if there are any.</summary>
    /// <param name="problems">The problems found.</param>
    /// <param name="what">The options in words, e.g. "packetizer options".</param>
    /// <param name="paramName">The parameter the options came in, when a method checks its argument.</param>
    /// <exception cref="ArgumentException">There are problems.</exception>
    public static void ThrowIfAny(List<string> problems, string what, string? paramName)
    {
        if (problems.Count == 0)
        {
            return;
        }

        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture, $"The {what} are not valid ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}):");
        foreach (string problem in problems)
        {
            message.Append("\n  ").Append(problem);
        }

        throw new ArgumentException(message.ToString(), paramName);
    }

    /// <summary>Checks an algorithm list against the catalog: no unknown, repeated or null names, no signals.</summary>
    public static void CheckAlgorithms(List<string> problems, string property, IList<string> names, SshAlgorithmCategory category, bool allowEmpty = false)
    {
        string kind = SshAlgorithmCatalog.Describe(category);
        if (names.Count == 0 && !allowEmpty)
        {
            problems.Add($"{property} is empty; name at least one {kind}.");
            return;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string? name in names)
        {
            if (name is null)
            {
                problems.Add($"{property} contains null.");
            }
            else if (AlgorithmNegotiation.IsKexMarker(name))
            {
                problems.Add($"{property} contains '{name}', a signal the transport adds to its first KEXINIT itself, not a {kind}.");
            }
            else if (!SshAlgorithmCatalog.IsSupported(category, name))
            {
                problems.Add($"{property} contains '{name}', which is not a supported {kind}; supported: {string.Join(", ", SshAlgorithmCatalog.GetSupported(category))}.");
            }
            else if (!seen.Add(name))
            {
                problems.Add($"{property} contains '{name}' more than once.");
            }
        }
    }

    /// <summary>
    /// Checks names that are not the catalog's (services, user-authentication signature algorithms): each a
    /// well-formed RFC 4251 §6 name, listed once.
    /// </summary>
    public static void CheckNames(List<string> problems, string property, IList<string> names)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string? name in names)
        {
            if (name is null)
            {
                problems.Add($"{property} contains null.");
            }
            else if (name.Length is 0 or > MaxNameLength || name.AsSpan().IndexOfAnyExceptInRange('!', '~') >= 0 || name.Contains(',', StringComparison.Ordinal))
            {
                problems.Add($"{property} contains '{name}', which is not a name: 1 to {MaxNameLength} printable US-ASCII characters without spaces or commas (RFC 4251 §6).");
            }
            else if (!seen.Add(name))
            {
                problems.Add($"{property} contains '{name}' more than once.");
            }
        }
    }

    /// <summary>Checks a timeout or interval: positive and within a timer's range, or infinite where that means "off".</summary>
    public static void CheckTimeout(List<string> problems, string property, TimeSpan value, bool allowInfinite)
    {
        if (allowInfinite && value == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        if (value <= TimeSpan.Zero || value > MaxTimerPeriod)
        {
            string infinite = allowInfinite ? ", or Timeout.InfiniteTimeSpan for none" : string.Empty;
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{property} is {value}; it must be positive and at most {MaxTimerPeriod.TotalMilliseconds} ms (about 49.7 days){infinite}."));
        }
    }

    /// <summary>Checks that a limit is at least <paramref name="minimum"/> (and at most <paramref name="maximum"/>).</summary>
    public static void CheckRange(List<string> problems, string property, long value, long minimum, long maximum = long.MaxValue, string? why = null)
    {
        if (value < minimum || value > maximum)
        {
            string range = maximum == long.MaxValue
                ? string.Create(CultureInfo.InvariantCulture, $"at least {minimum}")
                : string.Create(CultureInfo.InvariantCulture, $"between {minimum} and {maximum}");
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{property} is {value}; it must be {range}{(why is null ? "" : " " + why)}."));
        }
    }

    /// <summary>A read-only copy of <paramref name="list"/>: later changes to either side do not reach the other.</summary>
    public static ReadOnlyCollection<T> Freeze<T>(IList<T> list)
    {
        var copy = new T[list.Count];
        list.CopyTo(copy, 0);
        return Array.AsReadOnly(copy);
    }
}
