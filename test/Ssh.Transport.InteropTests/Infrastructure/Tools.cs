using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>Finding peer binaries, free loopback ports, temporary folders, and running tools to completion.</summary>
internal static class Tools
{
    private static readonly string[] s_extraPath = ["/usr/sbin", "/sbin", "/usr/local/sbin"];
    private static readonly Lazy<string> s_resultsDirectory = new(FindResultsDirectory);

    /// <summary>The full path of <paramref name="name"/> on PATH (or in an sbin folder), or null.</summary>
    public static string? Find(string name)
    {
        if (Path.IsPathRooted(name))
        {
            return File.Exists(name) ? name : null;
        }

        IEnumerable<string> folders = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(s_extraPath);
        foreach (string folder in folders)
        {
            string candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago (the peer may still lose a race for it: callers retry).</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>A new empty folder under the system temporary folder.</summary>
    public static string NewTempDirectory(string prefix)
    {
        string path = Path.Combine(Path.GetTempPath(), "ssh-interop", $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>
    /// Where logs and the matrix results go: test/Ssh.Transport.InteropTests/TestResults in the repository (found
    /// upwards from the test binaries), or INTEROP_RESULTS_DIR when set.
    /// </summary>
    public static string ResultsDirectory => s_resultsDirectory.Value;

    private static string FindResultsDirectory()
    {
        string? configured = Environment.GetEnvironmentVariable("INTEROP_RESULTS_DIR");
        string path = configured ?? Path.Combine(TestContext.CurrentContext.TestDirectory, "TestResults");
        if (configured is null)
        {
            for (var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Ssh.Transport.sln")))
                {
                    path = Path.Combine(directory.FullName, "test", "Ssh.Transport.InteropTests", "TestResults");
                    break;
                }
            }
        }

        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>The folder holding the peer scripts (copied next to the test binaries).</summary>
    public static string PeersDirectory => Path.Combine(TestContext.CurrentContext.TestDirectory, "Peers");

    /// <summary>Runs a tool to completion; kills it (by its process id) if it outlives <paramref name="timeout"/>.</summary>
    public static (int ExitCode, string Output, string Error) Run(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
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

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill();
            process.WaitForExit();
            return (-1, output.GetAwaiter().GetResult(), error.GetAwaiter().GetResult() + $"\n(killed after {timeout.TotalSeconds} s)");
        }

        process.WaitForExit();
        return (process.ExitCode, output.GetAwaiter().GetResult(), error.GetAwaiter().GetResult());
    }

    /// <summary>Runs a tool and throws unless it exits with 0.</summary>
    public static string RunChecked(string fileName, params string[] arguments)
    {
        (int exitCode, string output, string error) = Run(fileName, arguments, TimeSpan.FromSeconds(60));
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} exited with {exitCode}: {error}");
        }

        return output;
    }

    /// <summary>The last <paramref name="count"/> lines of <paramref name="lines"/>, as one string.</summary>
    public static string Tail(IReadOnlyList<string> lines, int count = 60) =>
        string.Join('\n', lines.Skip(Math.Max(0, lines.Count - count)));
}
