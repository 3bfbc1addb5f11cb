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
}
