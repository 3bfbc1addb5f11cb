using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Ssh.Transport.Cli.Tests;

/// <summary>
/// The tool published with Native AOT (docs/performance.md, "Native AOT"), once per test run, into a temporary folder:
/// <c>dotnet publish src/Ssh.Transport.Cli -r RID -p:PublishAot=true -p:IlcInstructionSet=native</c>. The machine's
/// own instruction set is the configuration most likely to expose a code-generation difference (AES-GCM's self-test
/// exists because of one); SSH_TRANSPORT_AOT_TOOL names an executable already published instead.
/// </summary>
internal static class NativeAotTool
{
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(10);
    private static readonly Lazy<Task<string>> s_tool = new(PublishAsync);

    /// <summary>The executable; ignored where clang is missing (CI installs it), a failure where publishing fails.</summary>
    public static Task<string> GetAsync() => s_tool.Value;

    private static async Task<string> PublishAsync()
    {
        string? given = Environment.GetEnvironmentVariable("SSH_TRANSPORT_AOT_TOOL");
        if (!string.IsNullOrEmpty(given))
        {
            return File.Exists(given) ? given : throw new FileNotFoundException("SSH_TRANSPORT_AOT_TOOL names no file.", given);
        }

        if (CliRunner.FindProgram("clang") is null)
        {
            Assert.Ignore("Native AOT publishing links with clang (Debian package clang; CI installs it).");
        }

        string project = Path.Combine(RepositoryRoot(), "src", "Ssh.Transport.Cli", "Ssh.Transport.Cli.csproj");
        string output = Directory.CreateTempSubdirectory("ssh-transport-aot-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(output, recursive: true);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "publish", project, "-c", "Release", "-r", RuntimeInformation.RuntimeIdentifier, "-p:PublishAot=true", "-p:IlcInstructionSet=native", "-o", output, "--nologo" })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        try
        {
            await process.WaitForExitAsync().WaitAsync(PublishTimeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        string log = await stdout + await stderr;
        string tool = Path.Combine(output, "ssh-transport");
        if (process.ExitCode != 0 || !File.Exists(tool))
        {
            throw new InvalidOperationException($"Native AOT publish failed (exit {process.ExitCode}):\n{log}");
        }

        TestContext.Progress.WriteLine($"Native AOT publish: {clock.Elapsed.TotalSeconds:F0} s, {new FileInfo(tool).Length >> 20} MiB, {tool}");
        return tool;
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? folder = new(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Ssh.Transport.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No Ssh.Transport.sln above {AppContext.BaseDirectory}.");
    }
}
