using System.Globalization;

namespace Ssh.Transport.Connection;

/// <summary>The size of a terminal (RFC 4254 §6.2, §6.7): characters, and pixels where known (0 otherwise).</summary>
/// <param name="Columns">Width in characters.</param>
/// <param name="Rows">Height in rows.</param>
/// <param name="PixelWidth">Width in pixels, or 0.</param>
/// <param name="PixelHeight">Height in pixels, or 0.</param>
public readonly record struct SshTerminalSize(uint Columns, uint Rows, uint PixelWidth = 0, uint PixelHeight = 0);

/// <summary>A pseudo-terminal request of a session (RFC 4254 §6.2).</summary>
public sealed class SshPseudoTerminal
{
    /// <summary>The opcode that ends the encoded terminal modes (RFC 4254 §8).</summary>
    internal const byte TtyOpEnd = 0;

    /// <summary>Creates a request.</summary>
    /// <param name="terminalType">The TERM value, e.g. "xterm-256color".</param>
    /// <param name="size">The terminal's size.</param>
    /// <param name="modes">Terminal modes (RFC 4254 §8 opcodes and their uint32 arguments); empty for none.</param>
    public SshPseudoTerminal(string terminalType, SshTerminalSize size, IReadOnlyDictionary<byte, uint>? modes = null)
    {
        ArgumentNullException.ThrowIfNull(terminalType);
        if (modes is not null)
        {
            foreach (byte opcode in modes.Keys)
            {
                if (opcode is TtyOpEnd or >= 160)
                {
                    throw new ArgumentException($"Terminal mode opcode {opcode} is not one of RFC 4254 §8 (1-159).", nameof(modes));
                }
            }
        }

        TerminalType = terminalType;
        Size = size;
        Modes = modes ?? new Dictionary<byte, uint>();
    }

    /// <summary>The TERM value.</summary>
    public string TerminalType { get; }

    /// <summary>The terminal's size when requested.</summary>
    public SshTerminalSize Size { get; }

    /// <summary>Terminal modes by opcode (RFC 4254 §8), e.g. 53 (ECHO) = 1.</summary>
    public IReadOnlyDictionary<byte, uint> Modes { get; }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{TerminalType} {Size.Columns}x{Size.Rows}");
}

/// <summary>How a remote command ended (RFC 4254 §6.10): an exit status or a signal.</summary>
public sealed class SshExitStatus
{
    private SshExitStatus(int? exitCode, string? signal, bool coreDumped, string errorMessage)
    {
        ExitCode = exitCode;
        Signal = signal;
        CoreDumped = coreDumped;
        ErrorMessage = errorMessage;
    }

    /// <summary>The exit status ("exit-status"), or null when the command was killed by a signal or the server sent neither.</summary>
    public int? ExitCode { get; }

    /// <summary>The signal name without "SIG" ("exit-signal"), e.g. "TERM"; null otherwise.</summary>
    public string? Signal { get; }

    /// <summary>Whether the process dumped core (with <see cref="Signal"/>).</summary>
    public bool CoreDumped { get; }

    /// <summary>The server's message with <see cref="Signal"/>; empty when none.</summary>
    public string ErrorMessage { get; }

    /// <summary>True when the server reported neither an exit status nor a signal before closing the channel.</summary>
    public bool IsUnknown => ExitCode is null && Signal is null;

    /// <summary>An exit status.</summary>
    /// <param name="exitCode">The status, 0 for success.</param>
    /// <returns>The status.</returns>
    public static SshExitStatus FromExitCode(int exitCode) => new(exitCode, null, false, string.Empty);

    /// <summary>A termination by signal.</summary>
    /// <param name="signal">The signal name without "SIG", e.g. "KILL".</param>
    /// <param name="coreDumped">Whether the process dumped core.</param>
    /// <param name="errorMessage">An optional message.</param>
    /// <returns>The status.</returns>
    public static SshExitStatus FromSignal(string signal, bool coreDumped = false, string? errorMessage = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(signal);
        return new(null, signal, coreDumped, errorMessage ?? string.Empty);
    }

    /// <summary>Neither status nor signal was reported.</summary>
    public static SshExitStatus Unknown { get; } = new(null, null, false, string.Empty);

    /// <inheritdoc/>
    public override string ToString() =>
        ExitCode is int code ? string.Create(CultureInfo.InvariantCulture, $"exit status {code}")
        : Signal is not null ? $"killed by signal {Signal}{(CoreDumped ? " (core dumped)" : string.Empty)}{(ErrorMessage.Length > 0 ? ": " + ErrorMessage : string.Empty)}"
        : "no exit status";
}

/// <summary>
/// The addresses of a TCP/IP channel (RFC 4254 §7.2): for "direct-tcpip", the host and port to connect to and where
/// the connection came from on the client's side; for "forwarded-tcpip", the address and port that were connected on
/// the server and the originator of that connection.
/// </summary>
/// <param name="Host">The host to connect to, or the listening address that was connected.</param>
/// <param name="Port">The port to connect to, or the listening port that was connected.</param>
/// <param name="OriginatorAddress">The address the connection came from.</param>
/// <param name="OriginatorPort">The port the connection came from.</param>
public sealed record SshTcpIpChannelInfo(string Host, int Port, string OriginatorAddress, int OriginatorPort);
