using System.Text;

namespace Ssh.Transport.Connection;

/// <summary>What a command run by <see cref="SshClient.RunCommandAsync(string, CancellationToken)"/> printed, and how it ended.</summary>
public sealed class SshCommandResult
{
    private string? _standardOutput;
    private string? _standardError;

    internal SshCommandResult(SshExitStatus exitStatus, ReadOnlyMemory<byte> standardOutput, ReadOnlyMemory<byte> standardError)
    {
        ExitStatus = exitStatus;
        StandardOutputBytes = standardOutput;
        StandardErrorBytes = standardError;
    }

    /// <summary>How the command ended: an exit status, a signal, or <see cref="SshExitStatus.Unknown"/> when the server said neither.</summary>
    public SshExitStatus ExitStatus { get; }

    /// <summary>The exit status (0 for success); null when the command was killed by a signal or the server reported none.</summary>
    public int? ExitCode => ExitStatus.ExitCode;

    /// <summary>Standard output, as UTF-8 text (invalid bytes become U+FFFD).</summary>
    public string StandardOutput => _standardOutput ??= Encoding.UTF8.GetString(StandardOutputBytes.Span);

    /// <summary>Standard error (extended data of type 1), as UTF-8 text (invalid bytes become U+FFFD).</summary>
    public string StandardError => _standardError ??= Encoding.UTF8.GetString(StandardErrorBytes.Span);

    /// <summary>Standard output, the bytes as they came.</summary>
    public ReadOnlyMemory<byte> StandardOutputBytes { get; }

    /// <summary>Standard error, the bytes as they came.</summary>
    public ReadOnlyMemory<byte> StandardErrorBytes { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{ExitStatus}, {StandardOutputBytes.Length} bytes of output, {StandardErrorBytes.Length} of errors";
}
