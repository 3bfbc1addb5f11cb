using System.CommandLine;

namespace Ssh.Transport.Cli;

/// <summary>
/// One verb of the tool: a System.CommandLine <see cref="Command"/> (its options, arguments, validators and action)
/// with the pieces of its --help text that are not generated from the options.
/// </summary>
/// <remarks>
/// A verb is one file with a <c>static VerbCommand Create(CliContext cli)</c> that builds this command and sets its
/// action, listed once in <see cref="CliMain.Verbs"/>. <see cref="CliHelp"/> writes its help: the usage line, the
/// description, the arguments and options (from their descriptions), the notes and the examples.
/// </remarks>
internal sealed class VerbCommand : Command
{
    /// <summary>Creates a verb.</summary>
    /// <param name="name">The verb, e.g. "probe".</param>
    /// <param name="usage">What follows the verb in the usage line, e.g. "HOST [options]".</param>
    /// <param name="summary">One sentence for the tool's list of verbs.</param>
    public VerbCommand(string name, string usage, string summary)
        : base(name, summary)
    {
        Usage = usage;
        Summary = summary;
    }

    /// <summary>What follows "ssh-transport VERB" in the usage line.</summary>
    public string Usage { get; }

    /// <summary>One sentence for the tool's list of verbs.</summary>
    public string Summary { get; }

    /// <summary>Text after the options (conventions shared by several of them), or null.</summary>
    public string? Notes { get; init; }

    /// <summary>Example command lines, one a line, or null.</summary>
    public string? Examples { get; init; }

    /// <summary>
    /// After this many arguments, the words that follow are arguments as they are, options or not (exec: after HOST,
    /// COMMAND's words, as ssh takes them: "exec host ls -l" runs "ls -l"); null (the default) parses options anywhere.
    /// </summary>
    public int? VerbatimAfterArguments { get; init; }

    /// <summary>
    /// The command line with "--" put where a verb's verbatim words begin (see <see cref="VerbatimAfterArguments"/>),
    /// so that System.CommandLine takes them as arguments, unbundled; unchanged for the other verbs, or when the
    /// command line has its own "--" first. (System.CommandLine's CaptureRemainingTokens starts right after the
    /// arguments before, so it would take options between them and the words.)
    /// </summary>
    /// <param name="args">The command line, the verb first.</param>
    /// <param name="verbs">The tool's verbs.</param>
    public static IReadOnlyList<string> MarkVerbatimWords(IReadOnlyList<string> args, IEnumerable<VerbCommand> verbs)
    {
        if (args.Count == 0 || verbs.FirstOrDefault(v => v.Name == args[0]) is not { VerbatimAfterArguments: int count } verb)
        {
            return args;
        }

        int arguments = 0;
        for (int i = 1; i < args.Count; i++)
        {
            string token = args[i];
            if (token == "--")
            {
                return args;
            }

            if (token.Length > 1 && token[0] == '-')
            {
                // An option; one that takes a value and was not given it inline ("--port=22") takes the next word.
                int equals = token.IndexOf('=', StringComparison.Ordinal);
                string name = equals > 0 ? token[..equals] : token;
                Option? option = verb.Options.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));
                if (option is { Arity.MaximumNumberOfValues: > 0 } && equals < 0)
                {
                    i++;
                }

                continue;
            }

            if (++arguments > count)
            {
                return [.. args.Take(i), "--", .. args.Skip(i)];
            }
        }

        return args;
    }
}
