using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Ssh.Transport.Cli.Tests;

/// <summary>The outcome of one run of the tool.</summary>
internal sealed record CliResult(int ExitCode, string Out, string Error)
{
    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>Runs the tool in-process (through <see cref="CliMain"/>) or as a child process.</summary>
internal static partial class CliRunner
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Runs a command line in-process to completion.</summary>
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        using var stop = new CancellationTokenSource(Timeout);
        int code = await CliMain.RunAsync(args, new CliContext(TextWriter.Synchronized(output), TextWriter.Synchronized(error), stop.Token)).WaitAsync(Timeout);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>A free TCP port on 127.0.0.1 (free when asked; good enough for a test).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The tool's assembly beside the tests, for child processes.</summary>
    public static string ToolPath => Path.Combine(AppContext.BaseDirectory, "ssh-transport.dll");

    /// <summary>Starts the tool as a child process: dotnet ssh-transport.dll ARGS.</summary>
    public static ChildProcess StartChild(params string[] args) => StartChild(new Dictionary<string, string>(), args);

    /// <summary>Starts the tool as a child process with <paramref name="environment"/> added to this process's environment.</summary>
    public static ChildProcess StartChild(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartChild(ToolCommand(null), environment, args);

    /// <summary>
    /// The command line that starts the tool: <c>dotnet ssh-transport.dll</c>, or <paramref name="nativeTool"/> (a Native
    /// AOT executable, <see cref="NativeAotTool"/>) when given.
    /// </summary>
    public static string[] ToolCommand(string? nativeTool) => nativeTool is null ? ["dotnet", ToolPath] : [nativeTool];

    /// <summary>Starts <paramref name="command"/> and then <paramref name="args"/> as a child process.</summary>
    public static ChildProcess StartChild(string[] command, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in command.Skip(1).Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        return new ChildProcess(Process.Start(start) ?? throw new InvalidOperationException($"{command[0]} did not start"));
    }

    /// <summary>Runs an external program to completion, or null when it is not installed.</summary>
    public static async Task<CliResult?> RunProgramAsync(string program, params string[] args)
    {
        string? path = FindProgram(program);
        if (path is null)
        {
            return null;
        }

        var start = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Timeout);
        return new CliResult(process.ExitCode, await output, await error);
    }

    /// <summary>The full path of a program on PATH (or in the sbin folders, where sshd lives), or null; a full path is checked as it is.</summary>
    public static string? FindProgram(string program)
    {
        if (Path.IsPathRooted(program))
        {
            return File.Exists(program) ? program : null;
        }

        string[] folders = [.. (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries), "/usr/sbin", "/usr/local/sbin", "/sbin"];
        return folders.Select(f => Path.Combine(f, program)).FirstOrDefault(File.Exists);
    }

    /// <summary>Sends a POSIX signal to a process, by its id.</summary>
    public static async Task SignalAsync(int pid, string signal)
    {
        CliResult? result = await RunProgramAsync("kill", "-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (result is null)
        {
            Assert.Ignore("kill(1) is not installed");
        }

        Assert.That(result!.ExitCode, Is.Zero, result.ToString());
    }

    /// <summary>The port from serve's "listening on ADDRESS:PORT" line.</summary>
    public static int? ListeningPort(string output)
    {
        Match match = ListeningLine().Match(output);
        return match.Success ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    [GeneratedRegex(@"listening on \S+:(\d+)")]
    private static partial Regex ListeningLine();
}

/// <summary>A child process of the tool, its output collected as it comes.</summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _error = new();
    private readonly Lock _lock = new();

    public ChildProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(_out, e.Data);
        process.ErrorDataReceived += (_, e) => Append(_error, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public string Out
    {
        get
        {
            lock (_lock)
            {
                return _out.ToString();
            }
        }
    }

    public string Error
    {
        get
        {
            lock (_lock)
            {
                return _error.ToString();
            }
        }
    }

    /// <summary>Waits until the output contains a match of <paramref name="pattern"/>.</summary>
    public async Task<string> WaitForOutputAsync(Func<string, bool> pattern, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            string output = Out;
            if (pattern(output))
            {
                return output;
            }

            if (_process.HasExited)
            {
                break;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"the child process did not print what was expected (exited: {_process.HasExited})\n--- stdout\n{Out}\n--- stderr\n{Error}");
        return "";
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        _process.WaitForExit(); // drains the asynchronous output readers
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(); // by our own process handle: only the child this test started
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(StringBuilder target, string? line)
    {
        if (line is not null)
        {
            lock (_lock)
            {
                target.Append(line).Append('\n');
            }
        }
    }
}
