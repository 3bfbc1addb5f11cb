using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Ssh.Transport.Cli;

/// <summary>Where a verb writes, and what stops it.</summary>
/// <param name="Out">Results and progress.</param>
/// <param name="Error">The one line that explains a failure.</param>
/// <param name="Cancellation">Signalled by SIGINT/SIGTERM (or by a test).</param>
/// <param name="Interactive">True when <paramref name="Out"/> is a terminal: progress may overwrite a line.</param>
internal sealed record CliContext(TextWriter Out, TextWriter Error, CancellationToken Cancellation, bool Interactive = false);

/// <summary>Entry point of the ssh-transport tool: verb dispatch, signals, and one-line errors.</summary>
internal static class CliMain
{
    /// <summary>Exit code for a failure at run time (connection, handshake, verification).</summary>
    public const int ExitFailure = 1;

    /// <summary>Exit code for a mistake on the command line.</summary>
    public const int ExitUsage = 2;

    /// <summary>Exit code after SIGINT/SIGTERM interrupted a verb that does not simply stop (probe, demo).</summary>
    public const int ExitInterrupted = 130;

    public const string Usage = """
        usage: ssh-transport VERB [options]

        verbs:
          demo    in one process: a Kestrel SSH server and a client on 127.0.0.1, a handshake and a timed
                  stream of data with rekeys for each cipher suite, and a table of the results
          probe   connect to an SSH server, handshake, verify its host key, request ssh-userauth, optionally
                  stream data with rekeys, and report what was negotiated (text or --json)
          serve   run an SSH server (Kestrel) that completes handshakes and refuses every login

        'ssh-transport VERB --help' describes a verb's options; 'ssh-transport --version' prints the version.
        Exit codes: 0 success, 1 failure (one line on stderr), 2 command-line mistake, 130 interrupted.
        """;

    /// <summary>Runs the tool for the real process: console output, SIGINT/SIGTERM cancel.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
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
        if (args.Count == 0)
        {
            cli.Error.WriteLine(Usage);
            return ExitUsage;
        }

        if (args[0] is "-h" or "--help" or "help")
        {
            cli.Out.WriteLine(Usage);
            return 0;
        }

        string verb = args[0];
        string[] rest = [.. args.Skip(1)];
        try
        {
            return verb switch
            {
                "demo" => await DemoCommand.RunAsync(rest, cli).ConfigureAwait(false),
                "probe" => await ProbeCommand.RunAsync(rest, cli).ConfigureAwait(false),
                "serve" => await ServeCommand.RunAsync(rest, cli).ConfigureAwait(false),
                "--version" or "-V" => Version(cli),
                _ => throw new UsageException($"unknown verb '{verb}' (verbs: demo, probe, serve; see 'ssh-transport --help')"),
            };
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

    private static int Version(CliContext cli)
    {
        cli.Out.WriteLine($"ssh-transport {typeof(CliMain).Assembly.GetName().Version?.ToString(3)}");
        return 0;
    }
}
