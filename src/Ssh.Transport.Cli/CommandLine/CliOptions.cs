using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Ssh.Transport.Cli;

/// <summary>
/// The kinds of option the verbs share, as System.CommandLine options whose parsers check the value and, for a bad
/// one, add the error line the tool prints ("--port expects a whole number from 1 to 65535, not '70000'"; the verb's
/// name is put in front by <see cref="CommandLineMistakes"/>).
/// </summary>
internal static class CliOptions
{
    /// <summary>A flag: no value.</summary>
    public static Option<bool> Flag(string name, string description) =>
        new(name) { Arity = ArgumentArity.Zero, Description = description };

    /// <summary>A text value, null when absent.</summary>
    public static Option<string?> Text(string name, string? alias, string helpName, string description) =>
        new(name, Aliases(alias)) { HelpName = helpName, Description = description };

    /// <summary>A text value that may be given more than once, in order; empty when absent.</summary>
    public static Option<string[]> Repeatable(string name, string? alias, string helpName, string description) =>
        new(name, Aliases(alias))
        {
            HelpName = helpName,
            Description = description,
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => [],
        };

    /// <summary>A whole number within bounds.</summary>
    public static Option<int> WholeNumber(string name, string? alias, string helpName, string description, int defaultValue, int min, int max) =>
        Parsed(name, alias, helpName, description, defaultValue, text =>
            int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max
                ? (value, null)
                : (0, $"{name} expects a whole number from {min} to {max}, not '{text}'"));

    /// <summary>A number of seconds, fractions allowed, within bounds.</summary>
    public static Option<double> Seconds(string name, string? alias, string description, double defaultValue, double min, double max) =>
        Parsed(name, alias, "SECONDS", description, defaultValue, text =>
            double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) && value >= min && value <= max
                ? (value, null)
                : (0, string.Create(CultureInfo.InvariantCulture, $"{name} expects a number of seconds from {min} to {max}, not '{text}'")));

    /// <summary>A byte count of at least <paramref name="min"/>: a whole number, optionally with a K, M or G suffix; null when absent.</summary>
    public static Option<long?> Bytes(string name, string description, long min) =>
        Parsed<long?>(name, null, "N", description, null, text =>
            TryParseBytes(text, out long value) && value >= min
                ? (value, null)
                : (null, $"{name} expects a byte count of at least {min} (e.g. 4000000, 256K, 16M, 1G), not '{text}'"));

    /// <summary>
    /// An option whose value <paramref name="parse"/> checks: it returns the value, or an error line (without the
    /// verb) for the command line's mistake.
    /// </summary>
    public static Option<T> Parsed<T>(string name, string? alias, string helpName, string description, T defaultValue, Func<string, (T Value, string? Error)> parse) =>
        new(name, Aliases(alias))
        {
            HelpName = helpName,
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                (T value, string? error) = parse(result.Tokens[^1].Value);
                if (error is not null)
                {
                    result.AddError(error);
                }

                return value;
            },
        };

    /// <summary>A byte count: a whole number, optionally with a K, M or G suffix (powers of 1024).</summary>
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

    private static string[] Aliases(string? alias) => alias is null ? [] : [alias];
}

/// <summary>
/// Turns what System.CommandLine found wrong with a command line into the tool's one line: the first mistake, with
/// the verb in front ("probe: unknown option '--bogus' (see 'ssh-transport probe --help')").
/// </summary>
internal static class CommandLineMistakes
{
    /// <summary>The first mistake of <paramref name="result"/>, or null when there is none.</summary>
    public static string? First(ParseResult result, IReadOnlyList<string> args)
    {
        Command command = result.CommandResult.Command;
        bool atRoot = command is not VerbCommand;
        string verb = command.Name;

        // Words nobody claimed: an unknown option or verb, or one argument too many.
        foreach (string token in result.UnmatchedTokens)
        {
            bool looksLikeOption = token.Length > 1 && token[0] == '-' && !char.IsAsciiDigit(token[1]);
            if (atRoot)
            {
                return looksLikeOption
                    ? $"unknown option '{OptionName(token)}' (see 'ssh-transport --help')"
                    : $"unknown verb '{token}' (verbs: {string.Join(", ", result.RootCommandResult.Command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}; see 'ssh-transport --help')";
            }

            if (looksLikeOption)
            {
                return $"{verb}: unknown option '{OptionName(token)}' (see 'ssh-transport {verb} --help')";
            }

            return FlagGiven(command, args, token) is { } flag
                ? $"{verb}: option '{flag}' takes no value"
                : $"{verb}: unexpected argument '{token}'";
        }

        if (result.Errors.Count == 0)
        {
            return null;
        }

        ParseError error = result.Errors[0];
        if (atRoot)
        {
            // "--version x": System.CommandLine's own line; otherwise the verb is what is missing.
            return error.SymbolResult is OptionResult ? OneLine(error.Message) : "missing VERB (see 'ssh-transport --help')";
        }

        if (error.SymbolResult is OptionResult option)
        {
            // The parsers' own errors come with the value; these two are System.CommandLine's arity checks.
            if (option.IdentifierTokenCount > 1 && option.Option.Arity.MaximumNumberOfValues == 1)
            {
                return $"{verb}: option '{option.Option.Name}' given more than once";
            }

            if (option.Tokens.Count == 0 && option.Option.Arity.MinimumNumberOfValues > 0)
            {
                return $"{verb}: option '{option.Option.Name}' needs a value";
            }
        }

        return $"{verb}: {OneLine(error.Message)}";
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim().TrimEnd('.');

    /// <summary>"--bogus" of "--bogus=1".</summary>
    private static string OptionName(string token)
    {
        int equals = token.IndexOf('=', StringComparison.Ordinal);
        return token.StartsWith("--", StringComparison.Ordinal) && equals > 2 ? token[..equals] : token;
    }

    /// <summary>
    /// The flag that <paramref name="token"/> was given to as "--flag=VALUE": System.CommandLine then leaves the value
    /// unclaimed, which would otherwise read as an unexpected argument.
    /// </summary>
    private static string? FlagGiven(Command command, IReadOnlyList<string> args, string token)
    {
        foreach (string arg in args)
        {
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 2 && arg.AsSpan(equals + 1).SequenceEqual(token))
            {
                string name = arg[..equals];
                Option? flag = command.Options.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));
                if (flag is { Arity.MaximumNumberOfValues: 0 })
                {
                    return flag.Name;
                }
            }
        }

        return null;
    }
}

/// <summary>A mistake on the command line found while running a verb (a host key file that cannot be read): one line, exit code 2.</summary>
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
