using System.Globalization;

namespace Ssh.Transport.Cli;

/// <summary>A mistake on the command line: reported on one line, exit code 2.</summary>
internal sealed class UsageException : Exception
{
    public UsageException()
    {
    }

    public UsageException(string message)
        : base(message)
    {
    }

    public UsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>One option a verb accepts.</summary>
/// <param name="Name">The long name, with its dashes ("--port").</param>
/// <param name="Alias">A short name ("-p"), or null.</param>
/// <param name="TakesValue">True when a value follows ("--port 22" or "--port=22").</param>
/// <param name="Repeatable">True when the option may be given more than once.</param>
internal sealed record OptionSpec(string Name, string? Alias = null, bool TakesValue = true, bool Repeatable = false);

/// <summary>
/// The parsed command line of one verb: positional arguments, options and their values. Hand-written on purpose:
/// the tool has a handful of options and no dependency is worth it.
/// </summary>
internal sealed class ParsedArguments
{
    private readonly string _verb;
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    private ParsedArguments(string verb) => _verb = verb;

    /// <summary>The arguments that are not options, in order.</summary>
    public List<string> Positionals { get; } = [];

    /// <summary>True when -h or --help was given.</summary>
    public bool Help { get; private set; }

    /// <summary>Parses <paramref name="args"/> against the options the verb knows.</summary>
    /// <exception cref="UsageException">An unknown option, a missing value, or an option repeated that may not be.</exception>
    public static ParsedArguments Parse(string verb, IReadOnlyList<string> args, IReadOnlyList<OptionSpec> specs)
    {
        var parsed = new ParsedArguments(verb);
        bool optionsEnded = false;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (optionsEnded || arg.Length < 2 || arg[0] != '-' || IsNegativeNumber(arg))
            {
                parsed.Positionals.Add(arg);
                continue;
            }

            if (arg == "--")
            {
                optionsEnded = true;
                continue;
            }

            if (arg is "-h" or "--help")
            {
                parsed.Help = true;
                continue;
            }

            string name = arg;
            string? inlineValue = null;
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                name = arg[..equals];
                inlineValue = arg[(equals + 1)..];
            }

            OptionSpec spec = specs.FirstOrDefault(s => s.Name == name || s.Alias == name)
                ?? throw new UsageException($"{verb}: unknown option '{name}' (see 'ssh-transport {verb} --help')");

            string value;
            if (!spec.TakesValue)
            {
                if (inlineValue is not null)
                {
                    throw new UsageException($"{verb}: option '{spec.Name}' takes no value");
                }

                value = "true";
            }
            else if (inlineValue is not null)
            {
                value = inlineValue;
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }
            else
            {
                throw new UsageException($"{verb}: option '{spec.Name}' needs a value");
            }

            if (!parsed._values.TryGetValue(spec.Name, out List<string>? list))
            {
                parsed._values[spec.Name] = list = [];
            }
            else if (!spec.Repeatable)
            {
                throw new UsageException($"{verb}: option '{spec.Name}' given more than once");
            }

            list.Add(value);
        }

        return parsed;
    }

    /// <summary>True when the option was given.</summary>
    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>The option's value, or null.</summary>
    public string? Value(string name) => _values.TryGetValue(name, out List<string>? list) ? list[^1] : null;

    /// <summary>Every value of a repeatable option, in order.</summary>
    public IReadOnlyList<string> Values(string name) => _values.TryGetValue(name, out List<string>? list) ? list : [];

    /// <summary>An integer option within bounds.</summary>
    public int Int32(string name, int defaultValue, int min, int max)
    {
        string? text = Value(name);
        if (text is null)
        {
            return defaultValue;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw new UsageException($"{_verb}: {name} expects a whole number from {min} to {max}, not '{text}'");
        }

        return value;
    }

    /// <summary>A byte count: a whole number, optionally with a K, M or G suffix (powers of 1024).</summary>
    public long? Bytes(string name, long min)
    {
        string? text = Value(name);
        if (text is null)
        {
            return null;
        }

        if (!TryParseBytes(text, out long value) || value < min)
        {
            throw new UsageException($"{_verb}: {name} expects a byte count of at least {min} (e.g. 4000000, 256K, 16M, 1G), not '{text}'");
        }

        return value;
    }

    /// <summary>A number of seconds, fractions allowed.</summary>
    public double Seconds(string name, double defaultValue, double min, double max)
    {
        string? text = Value(name);
        if (text is null)
        {
            return defaultValue;
        }

        if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) || value < min || value > max)
        {
            throw new UsageException($"{_verb}: {name} expects a number of seconds from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, not '{text}'");
        }

        return value;
    }

    /// <summary>Checks the number of positional arguments.</summary>
    public void ExpectPositionals(int min, int max, string what)
    {
        if (Positionals.Count < min)
        {
            throw new UsageException($"{_verb}: missing {what} (see 'ssh-transport {_verb} --help')");
        }

        if (Positionals.Count > max)
        {
            throw new UsageException($"{_verb}: unexpected argument '{Positionals[max]}'");
        }
    }

    internal static bool TryParseBytes(string text, out long value)
    {
        value = 0;
        long multiplier = 1;
        ReadOnlySpan<char> digits = text.AsSpan().Trim();
        if (digits.Length > 1)
        {
            multiplier = char.ToUpperInvariant(digits[^1]) switch
            {
                'K' => 1L << 10,
                'M' => 1L << 20,
                'G' => 1L << 30,
                _ => 1,
            };
            if (multiplier != 1)
            {
                digits = digits[..^1];
            }
        }

        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long number) || number > long.MaxValue / multiplier)
        {
            return false;
        }

        value = number * multiplier;
        return true;
    }

    private static bool IsNegativeNumber(string arg) => arg.Length > 1 && arg[0] == '-' && char.IsAsciiDigit(arg[1]);
}
