using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Ssh.Transport.Connection.Tests.Infrastructure;

/// <summary>Real peers' programs: finding them, running them to completion, and daemons stopped by their own process id.</summary>
internal static class Peers
{
    private static readonly string[] s_sbin = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

    /// <summary>The full path of a program on PATH or in an sbin folder, or null.</summary>
    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(s_sbin).Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);

    /// <summary>The path of a program, or the test is ignored saying what to install.</summary>
    public static string Require(string name, string package)
    {
        string? path = Find(name);
        if (path is null)
        {
            Assert.Ignore($"{name} is not installed (apt install {package}).");
        }

        return path!;
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static string NewTempDirectory()
    {
        string path = Path.Combine(Path.GetTempPath(), "ssh-auth-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Runs a program to completion (killed, by its id, after <paramref name="timeout"/>).</summary>
    public static (int ExitCode, string Output) Run(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, string? input = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        if (input is not null)
        {
            process.StandardInput.Write(input);
        }

        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, output.Result + error.Result + "\n(killed: timeout)");
        }

        process.WaitForExit();
        return (process.ExitCode, output.Result + error.Result);
    }

    public static string RunChecked(string fileName, params string[] arguments)
    {
        (int code, string output) = Run(fileName, arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} exited with {code}: {output}");
        }

        return output;
    }
}

/// <summary>A program we started that runs until stopped (sshd -D, ssh-agent -D, ssh): its output lines kept in memory.</summary>
internal sealed class PeerProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];

    private PeerProcess(Process process) => _process = process;

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public string Log => string.Join('\n', Lines);

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static PeerProcess Start(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start };
        var peer = new PeerProcess(process);
        process.OutputDataReceived += (_, e) => peer.Add(e.Data);
        process.ErrorDataReceived += (_, e) => peer.Add(e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    private void Add(string? line)
    {
        if (line is not null)
        {
            lock (_lines)
            {
                _lines.Add(line);
            }
        }
    }

    /// <summary>Waits for a line that matches; null if the process ends or the time runs out first.</summary>
    public async Task<string?> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            string? line = Lines.FirstOrDefault(match);
            if (line is not null)
            {
                return line;
            }

            if (_process.HasExited)
            {
                await Task.Delay(100);
                return Lines.FirstOrDefault(match);
            }

            await Task.Delay(20);
        }

        return null;
    }

    /// <summary>Waits for the process to end; kills it after <paramref name="timeout"/>. The exit code, or null if killed.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            _process.WaitForExit();
            return _process.ExitCode;
        }
        catch (TimeoutException)
        {
            Dispose();
            return null;
        }
    }

    /// <summary>Kills the process we started (by its id, with its children).</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }
}
