using System.CommandLine;
using System.CommandLine.Invocation;
using System.Text;

namespace Ssh.Transport.Cli;

/// <summary>
/// The tool's --help text, written from the command definitions: a usage line, the description, the arguments and
/// options with their descriptions (one column for names, one wrapped column for what they do), notes and examples.
/// System.CommandLine's own help layout is not customizable in 3.0, so the tool writes its own in the same spirit.
/// </summary>
internal static class CliHelp
{
    /// <summary>The width the text is wrapped to.</summary>
    public const int Width = 110;

    private const string Indent = "  ";

    /// <summary>Writes the help of <paramref name="command"/>: the tool's when it is the root, else the verb's.</summary>
    public static void Write(Command command, IEnumerable<VerbCommand> verbs, TextWriter output)
    {
        output.Write(command is VerbCommand verb ? Verb(verb) : Tool(verbs));
        output.Flush();
    }

    /// <summary>The tool's help: usage, the verbs with their summaries, exit codes.</summary>
    public static string Tool(IEnumerable<VerbCommand> verbs)
    {
        var text = new StringBuilder();
        text.Append("usage: ssh-transport VERB [options]\n\nverbs:\n");
        VerbCommand[] visible = [.. verbs.Where(v => !v.Hidden)];
        int column = visible.Max(v => v.Name.Length) + 4;
        foreach (VerbCommand verb in visible)
        {
            AppendRow(text, verb.Name, verb.Summary, column);
        }

        text.Append('\n')
            .Append("'ssh-transport VERB --help' describes a verb's options; 'ssh-transport --version' prints the version.\n")
            .Append("Exit codes: 0 success, 1 failure (one line on stderr), 2 command-line mistake, 130 interrupted;\n")
            .Append("exec exits with the remote command's status, or 255 when it has none (as ssh).\n");
        return text.ToString();
    }

    /// <summary>A verb's help.</summary>
    public static string Verb(VerbCommand verb)
    {
        var text = new StringBuilder();
        text.Append("usage: ssh-transport ").Append(verb.Name).Append(' ').Append(verb.Usage).Append("\n\n");
        if (verb.Description is { Length: > 0 } description)
        {
            text.Append(description.TrimEnd()).Append("\n\n");
        }

        List<(string Label, string Description)> arguments = [.. verb.Arguments.Where(a => !a.Hidden).Select(a => (a.Name, a.Description ?? ""))];
        List<(string Label, string Description)> options = [.. AllOptions(verb).Where(o => !o.Hidden).Select(o => (Label(o), o.Description ?? ""))];
        int column = arguments.Concat(options).Select(r => r.Label.Length).DefaultIfEmpty(0).Max() + 4;
        if (arguments.Count > 0)
        {
            text.Append("arguments:\n");
            foreach ((string label, string what) in arguments)
            {
                AppendRow(text, label, what, column);
            }

            text.Append('\n');
        }

        text.Append("options:\n");
        foreach ((string label, string what) in options)
        {
            AppendRow(text, label, what, column);
        }

        if (verb.Notes is { } notes)
        {
            text.Append('\n').Append(notes.TrimEnd()).Append('\n');
        }

        if (verb.Examples is { } examples)
        {
            text.Append("\nexamples:\n");
            foreach (string line in examples.TrimEnd().Split('\n'))
            {
                text.Append(Indent).Append(line.TrimEnd()).Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>"-p, --port PORT": short aliases first, then the name, then the value's name unless it is a flag.</summary>
    private static string Label(Option option)
    {
        IEnumerable<string> names = option.Aliases.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
            .Append(option.Name)
            .Concat(option.Aliases.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        string label = string.Join(", ", names);
        return option.Arity.MaximumNumberOfValues == 0 ? label : $"{label} {option.HelpName ?? "VALUE"}";
    }

    /// <summary>The verb's options, then the recursive ones of its parents (--help).</summary>
    private static IEnumerable<Option> AllOptions(Command command)
    {
        foreach (Option option in command.Options)
        {
            yield return option;
        }

        foreach (Command parent in command.Parents.OfType<Command>())
        {
            foreach (Option option in parent.Options.Where(o => o.Recursive))
            {
                yield return option;
            }
        }
    }

    /// <summary>"  label   description", the description wrapped to <see cref="Width"/> under its own column.</summary>
    private static void AppendRow(StringBuilder text, string label, string description, int column)
    {
        text.Append(Indent).Append(label);
        int start = Indent.Length + label.Length;
        if (start + 2 > column)
        {
            // A label too long for the column: the description starts on the next line.
            text.Append('\n');
            start = 0;
        }

        bool first = true;
        foreach (string line in Wrap(description, Width - column))
        {
            text.Append(' ', first ? column - start : column).Append(line).Append('\n');
            first = false;
        }

        if (first)
        {
            text.Append('\n');
        }
    }

    /// <summary>Greedy word wrap; explicit line breaks are kept.</summary>
    internal static IEnumerable<string> Wrap(string text, int width)
    {
        width = Math.Max(width, 20);
        foreach (string paragraph in text.Split('\n'))
        {
            var line = new StringBuilder();
            foreach (string word in paragraph.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.Length > 0 && line.Length + 1 + word.Length > width)
                {
                    yield return line.ToString();
                    line.Clear();
                }

                if (line.Length > 0)
                {
                    line.Append(' ');
                }

                line.Append(word);
            }

            yield return line.ToString();
        }
    }

    /// <summary>The action of --help (and of the hidden 'help' verb): writes the help of the command it was given to.</summary>
    internal sealed class Action(IEnumerable<VerbCommand> verbs) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            Write(parseResult.CommandResult.Command, verbs, parseResult.InvocationConfiguration.Output);
            return 0;
        }
    }
}
