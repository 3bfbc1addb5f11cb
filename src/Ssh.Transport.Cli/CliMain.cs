using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Ssh.Transport.Cli;

/// <summary>Where a verb writes, and what stops it.</summary>
/// <param name="Out">Results and progress.</param>
/// <param name="Error">The one line that explains a failure.</param>
/// <param name="Cancellation">Signalled by SIGINT/SIGTERM (or by a test).</param>
/// <param name="Interactive">True when <paramref name="Out"/> is a terminal: progress may overwrite a line.</param>
/// <param name="Streams">The standard streams as bytes, for exec's data; null for the process's own (a test passes its own).</param>
internal sealed record CliContext(TextWriter Out, TextWriter Error, CancellationToken Cancellation, bool Interactive = false, StandardStreams? Streams = null);

/// <summary>
/// Entry point of the ssh-transport tool: the command line (System.CommandLine: a root command with one command per
/// verb), signals, and the exit codes with their one-line errors.
/// </summary>
internal static class CliMain
{
    /// <summary>Exit code for a failure at run time (connection, handshake, verification).</summary>
    public const int ExitFailure = 1;

    /// <summary>Exit code for a mistake on the command line.</summary>
    public const int ExitUsage = 2;

    /// <summary>Exit code after SIGINT/SIGTERM interrupted a verb that does not simply stop (probe, demo).</summary>
    public const int ExitInterrupted = 130;

    /// <summary>
    /// The verbs, in the order the tool's help lists them. A verb is one file whose <c>Create</c> builds its
    /// <see cref="VerbCommand"/> (options, arguments, help text, action); adding one is that file and a line here.
    /// </summary>
    internal static IReadOnlyList<Func<CliContext, VerbCommand>> Verbs { get; } =
    [
        DemoCommand.Create,
        ExecCommand.Create,
        ProbeCommand.Create,
        ServeCommand.Create,
    ];

    /// <summary>"@file" is an argument like any other (no response files): a host, a path.</summary>
    private static readonly ParserConfiguration s_parserConfiguration = new() { ResponseFileTokenReplacer = null };

    /// <summary>Runs the tool for the real process: its CPU policy (<see cref="CpuPolicy"/>), console output, SIGINT/SIGTERM cancel.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        CpuPolicy.Apply();
        if (InlineIo.Wanted(args))
        {
            InlineIo.PreferInlineSocketCompletions(); // before the first socket operation, which reads it
        }

        using var stop = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // we stop ourselves, cleanly
            stop.Cancel();
        }

        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        var output = TextWriter.Synchronized(Console.Out);
        var error = TextWriter.Synchronized(Console.Error);
        return await RunAsync(args, new CliContext(output, error, stop.Token, Interactive: !Console.IsOutputRedirected)).ConfigureAwait(false);
    }

    /// <summary>Runs one command line; the tests call this in-process.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, CliContext cli)
    {
        RootCommand root = CreateRootCommand(cli, out IReadOnlyList<VerbCommand> verbs);
        if (args.Count == 0)
        {
            cli.Error.Write(CliHelp.Tool(verbs));
            return ExitUsage;
        }

        args = VerbCommand.MarkVerbatimWords(args, verbs);
        ParseResult parsed = root.Parse(args, s_parserConfiguration);

        // --help wins over any other mistake on its line; otherwise the first mistake is the one line.
        if (parsed.Action is not CliHelp.Action && CommandLineMistakes.First(parsed, args) is { } mistake)
        {
            return Fail(cli, mistake, ExitUsage);
        }

        var invocation = new InvocationConfiguration
        {
            Output = cli.Out,
            Error = cli.Error,
            EnableDefaultExceptionHandler = false, // failures are one line, below
            ProcessTerminationTimeout = null,      // SIGINT/SIGTERM are ours: serve stops cleanly and exits 0
        };
        try
        {
            return await parsed.InvokeAsync(invocation, cli.Cancellation).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            return Fail(cli, e.Message, ExitUsage);
        }
        catch (OperationCanceledException) when (cli.Cancellation.IsCancellationRequested)
        {
            return Fail(cli, "interrupted", ExitInterrupted);
        }
        catch (Exception e) when (IsExpected(e))
        {
            return Fail(cli, Describe(e), ExitFailure);
        }
    }

    /// <summary>
    /// The tool's command line: a root command with --help, --version and the verbs, and a hidden 'help' verb. Built
    /// per run, since the verbs' actions write to <paramref name="cli"/>.
    /// </summary>
    internal static RootCommand CreateRootCommand(CliContext cli, out IReadOnlyList<VerbCommand> verbs)
    {
        VerbCommand[] created = [.. Verbs.Select(create => create(cli))];
        verbs = created;
        var help = new CliHelp.Action(created);
        var root = new RootCommand("the ssh-transport tool");
        root.Options.Clear();    // System.CommandLine's help and version: replaced by the tool's below
        root.Directives.Clear(); // no [suggest] or [diagram] before the verb
        root.Options.Add(new HelpOption("--help", "-h") { Description = "this text", Action = help });
        root.Options.Add(new VersionOption("--version", "-V") { Description = "the version", Action = new VersionAction() });
        foreach (VerbCommand verb in created)
        {
            root.Subcommands.Add(verb);
        }

        // 'ssh-transport help [VERB]' as 'ssh-transport [VERB] --help'.
        var helpVerb = new Command("help", "this text") { Hidden = true };
        var verbName = new Argument<string?>("VERB") { Arity = ArgumentArity.ZeroOrOne };
        helpVerb.Arguments.Add(verbName);
        helpVerb.SetAction(parseResult =>
        {
            string? name = parseResult.GetValue(verbName);
            Command about = name is null
                ? root
                : created.FirstOrDefault(v => v.Name == name) ?? throw new UsageException($"unknown verb '{name}' (see 'ssh-transport --help')");
            CliHelp.Write(about, created, parseResult.InvocationConfiguration.Output);
            return 0;
        });
        root.Subcommands.Add(helpVerb);
        return root;
    }

    /// <summary>Writes "ssh-transport: message" as one line on stderr.</summary>
    public static int Fail(CliContext cli, string message, int exitCode = ExitFailure)
    {
        cli.Error.WriteLine($"ssh-transport: {OneLine(message)}");
        return exitCode;
    }

    /// <summary>The failures a network tool expects, as opposed to bugs.</summary>
    public static bool IsExpected(Exception e) =>
        e is SshProtocolException or SocketException or IOException or TimeoutException or UnauthorizedAccessException
            or FormatException or NotSupportedException or OperationCanceledException or ObjectDisposedException
            or InvalidOperationException or ArgumentException;

    /// <summary>One lower-case line for an exception, e.g. "connection refused".</summary>
    public static string Describe(Exception e)
    {
        switch (e)
        {
            case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                return "connection refused";
            case SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } s:
                return $"could not resolve host: {Lower(s.Message)}";
            case SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }:
                return "address already in use";
            case SocketException s:
                return Lower(s.Message);
            case IOException { InnerException: SocketException inner }:
                return Describe(inner);
            case SshAlgorithmNegotiationException n:
                return $"no common {(n.Direction is null ? "" : n.Direction + " ")}{CategoryName(n.Category)}: " +
                    $"client offers {string.Join(',', n.ClientAlgorithms)}; server offers {string.Join(',', n.ServerAlgorithms)}";
            case SshTimeoutException t:
                return DescribeTimeout(t);
            case SshPeerDisconnectedException d:
                return $"the peer disconnected ({d.Reason}){(d.Description.Length == 0 ? "" : ": " + d.Description)}";
            case SshProtocolException { InnerException: SshProtocolException cause }:
                // "The connection has ended": a call made after the failure, which carries the failure itself.
                return Describe(cause);
            default:
                // SshHostKeyRejectedException and the other protocol errors say it best themselves.
                return Lower(e.Message);
        }
    }

    private static string CategoryName(SshAlgorithmCategory category) => category switch
    {
        SshAlgorithmCategory.KeyExchange => "key exchange",
        SshAlgorithmCategory.HostKey => "host key",
        SshAlgorithmCategory.Cipher => "cipher",
        SshAlgorithmCategory.Mac => "MAC",
        _ => "compression",
    };

    private static string DescribeTimeout(SshTimeoutException e)
    {
        string within = string.Create(CultureInfo.InvariantCulture, $"within {e.Timeout.TotalSeconds:0.###} s");
        return e.Kind switch
        {
            SshTimeoutKind.Identification => $"the peer's identification line did not arrive {within}",
            SshTimeoutKind.Handshake => $"the SSH handshake did not complete {within}",
            SshTimeoutKind.KeyExchange => $"a key exchange did not complete {within}",
            SshTimeoutKind.Authentication => $"user authentication did not complete {within}",
            SshTimeoutKind.KeepAlive => $"the peer stopped answering keepalives (no answer {within})",
            _ => Lower(e.Message),
        };
    }

    private static string Lower(string message)
    {
        message = OneLine(message).TrimEnd('.');
        return message.Length > 1 && char.IsUpper(message[0]) && !char.IsUpper(message[1])
            ? char.ToLowerInvariant(message[0]) + message[1..]
            : message;
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();

    /// <summary>--version: "ssh-transport 0.1.0" (System.CommandLine's would add the commit to the informational version).</summary>
    private sealed class VersionAction : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine($"ssh-transport {typeof(CliMain).Assembly.GetName().Version?.ToString(3)}");
            return 0;
        }
    }
}
