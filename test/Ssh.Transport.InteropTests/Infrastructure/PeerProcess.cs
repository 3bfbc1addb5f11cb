using System.Diagnostics;

namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>
/// A peer process we started: its standard output and error go, line by line, to a log file and to memory; it is
/// stopped by the process id we started (and that process's own children), never by name.
/// </summary>
internal sealed class PeerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly List<string> _stdout = [];
    private readonly StreamWriter _log;
    private readonly Lock _gate = new();
    private bool _stopped;
    private bool _disposed;

    private PeerProcess(Process process, StreamWriter log, string logPath, string commandLine)
    {
        _process = process;
        _log = log;
        LogPath = logPath;
        CommandLine = commandLine;
    }

    /// <summary>The log file: every output line of the process, stdout and stderr interleaved.</summary>
    public string LogPath { get; }

    /// <summary>What was started, for the failure report.</summary>
    public string CommandLine { get; }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>True once the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Every output line so far (stdout and stderr).</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>The standard output lines only (the Python peers' JSON events).</summary>
    public IReadOnlyList<string> OutputLines
    {
        get
        {
            lock (_gate)
            {
                return [.. _stdout];
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/> with <paramref name="arguments"/>, logging to <paramref name="logPath"/>.</summary>
    public static PeerProcess Start(string fileName, IEnumerable<string> arguments, string logPath, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetDirectoryName(logPath)!,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // Python peers: unbuffered, so every JSON line is there the moment it is printed.
        start.Environment["PYTHONUNBUFFERED"] = "1";
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        string commandLine = fileName + " " + string.Join(' ', start.ArgumentList.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a));
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        log.WriteLine($"# {commandLine}");
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var peer = new PeerProcess(process, log, logPath, commandLine);
        process.OutputDataReceived += (_, e) => peer.OnLine(e.Data, stdout: true);
        process.ErrorDataReceived += (_, e) => peer.OnLine(e.Data, stdout: false);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {fileName}.");
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    private void OnLine(string? line, bool stdout)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _lines.Add(line);
            if (stdout)
            {
                _stdout.Add(line);
            }

            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // A line after the log was closed: kept in memory only.
            }
        }
    }

    /// <summary>Waits until an output line matches, the process exits, or the time is up; returns the line or null.</summary>
    public async Task<string?> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, bool stdoutOnly = false)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            string? found = (stdoutOnly ? OutputLines : Lines).FirstOrDefault(match);
            if (found is not null)
            {
                return found;
            }

            if (DateTime.UtcNow > deadline)
            {
                return null;
            }

            if (_process.HasExited)
            {
                // Let the last lines drain, then look once more.
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                return (stdoutOnly ? OutputLines : Lines).FirstOrDefault(match);
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the process to end; kills it if it outlives <paramref name="timeout"/>. Returns the exit code, or null if killed.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout).ConfigureAwait(false);
            return _process.ExitCode;
        }
        catch (TimeoutException)
        {
            OnLine($"# killed after {timeout.TotalSeconds:0} s", stdout: false);
            Stop();
            return null;
        }
    }

    /// <summary>The last lines of the log, for a failure report.</summary>
    public string Tail(int count = 60) => $"--- {CommandLine}\n--- log {LogPath} (last {count} lines)\n{Tools.Tail(Lines, count)}";

    /// <summary>Kills the process we started (and its children, by process id) if it still runs.</summary>
    public void Stop()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Stop();
        try
        {
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Reported by the log; nothing more to do.
        }

        lock (_gate)
        {
            _log.Dispose();
        }

        _process.Dispose();
    }
}
