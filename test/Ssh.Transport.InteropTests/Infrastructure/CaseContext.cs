using System.Text;

namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>
/// One running case: its temporary folder, the peer processes it started, our log, both sides' view of the
/// negotiation, and the mismatches found.
/// </summary>
internal sealed class CaseContext : IAsyncDisposable
{
    private readonly List<PeerProcess> _peers = [];
    private readonly List<string> _mismatches = [];
    private readonly CancellationTokenSource _timeout;

    public CaseContext(InteropCase interopCase, TimeSpan timeout)
    {
        Case = interopCase;
        Name = interopCase.TestName;
        OurLog = new ListLogger(interopCase.Role == InteropRole.OurClient ? "our-client" : "our-server", capacity: 20_000);
        TempDirectory = Tools.NewTempDirectory("case");
        _timeout = new CancellationTokenSource(timeout);
    }

    public InteropCase Case { get; }

    /// <summary>The test name, also the log files' name.</summary>
    public string Name { get; }

    public ListLogger OurLog { get; }

    public string TempDirectory { get; }

    public CancellationToken Token => _timeout.Token;

    /// <summary>Our side's view of the (first) negotiation.</summary>
    public NegotiatedView? Ours { get; set; }

    /// <summary>The peer's own view, from its log or JSON; null when it does not tell.</summary>
    public NegotiatedView? Peer { get; set; }

    /// <summary>A remark for the matrix, e.g. how many key exchanges ran.</summary>
    public string? Note { get; set; }

    public IReadOnlyList<string> Mismatches => _mismatches;

    /// <summary>The log file of a peer process of this case.</summary>
    public string LogPath(string what)
    {
        string safe = new([.. Name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')]);
        return Path.Combine(Tools.ResultsDirectory, "logs", $"{safe}.{what}.log");
    }

    public PeerProcess Track(PeerProcess process)
    {
        _peers.Add(process);
        return process;
    }

    public void Check(bool condition, string message)
    {
        if (!condition)
        {
            _mismatches.Add(message);
        }
    }

    public void ExpectEqual(string what, string? expected, string? actual) =>
        Check(string.Equals(expected, actual, StringComparison.Ordinal), $"{what}: expected {expected ?? "(none)"}, got {actual ?? "(none)"}");

    /// <summary>Stops every peer process still running (by the process id we started).</summary>
    public async Task StopPeersAsync()
    {
        foreach (PeerProcess peer in _peers)
        {
            await peer.DisposeAsync();
        }
    }

    /// <summary>The failure report: what differed, our exception, our log tail, each peer's log tail.</summary>
    public string Report(Exception? error)
    {
        var report = new StringBuilder();
        report.AppendLine($"{Name} failed.");
        foreach (string mismatch in _mismatches)
        {
            report.AppendLine($"  mismatch: {mismatch}");
        }

        report.AppendLine($"  ours: {Ours?.ToString() ?? "(no key exchange completed)"}");
        report.AppendLine($"  peer: {Peer?.ToString() ?? "(not reported)"}");
        if (error is not null)
        {
            report.AppendLine("--- our side's exception");
            report.AppendLine(error.ToString());
        }

        report.AppendLine("--- our side's log (last 40 lines)");
        report.AppendLine(Tools.Tail(OurLog.Lines, 40));
        foreach (PeerProcess peer in _peers)
        {
            report.AppendLine(peer.Tail(60));
        }

        return report.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await StopPeersAsync();
        _timeout.Dispose();
        try
        {
            Directory.Delete(TempDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A peer may still hold a file for a moment; the folder is under /tmp.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }
    }
}
