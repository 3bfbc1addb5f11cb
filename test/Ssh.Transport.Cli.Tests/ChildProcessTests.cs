using System.Globalization;
using System.Text.Json;

namespace Ssh.Transport.Cli.Tests;

/// <summary>The real executable: signals, exit codes, stdout and stderr kept apart.</summary>
public class ChildProcessTests
{
    [TestCase("TERM")]
    [TestCase("INT")]
    public async Task Serve_stops_cleanly_on_a_signal(string signal)
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("POSIX signals");
        }

        await using ChildProcess serve = CliRunner.StartChild("serve", "--listen", "127.0.0.1:0");
        string output = await serve.WaitForOutputAsync(o => CliRunner.ListeningPort(o) is not null, CliRunner.Timeout);
        int port = CliRunner.ListeningPort(output)!.Value;
        Assert.That(output, Does.Contain("generated in memory"));

        CliResult probe = await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{port}", "--accept-any-host-key", "--json");
        Assert.That(probe.ExitCode, Is.Zero, probe.ToString());
        using (JsonDocument json = JsonDocument.Parse(probe.Out))
        {
            // The fingerprint serve printed for its generated key is the one the client saw.
            Assert.That(output, Does.Contain(json.RootElement.GetProperty("hostKey").GetProperty("fingerprint").GetString()));
        }

        await serve.WaitForOutputAsync(o => o.Contains(" closed after ", StringComparison.Ordinal), CliRunner.Timeout);
        await CliRunner.SignalAsync(serve.Id, signal);
        int exitCode = await serve.WaitForExitAsync(CliRunner.Timeout);
        Assert.That(exitCode, Is.Zero, serve.Out + serve.Error);
        Assert.That(serve.Out, Does.Contain("stopped after 1 connection(s)"));
        Assert.That(serve.Error, Is.Empty);
    }

    [TestCase(null, CpuPolicy.SchedBatch)]
    [TestCase("batch", CpuPolicy.SchedBatch)]
    [TestCase("normal", CpuPolicy.SchedOther)]
    public async Task Every_thread_runs_under_the_chosen_cpu_policy(string? choice, int expected)
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("Linux scheduling policies");
        }

        var environment = new Dictionary<string, string>();
        if (choice is not null)
        {
            environment[CpuPolicy.EnvironmentVariable] = choice;
        }

        await using ChildProcess serve = CliRunner.StartChild(environment, "serve", "--listen", "127.0.0.1:0");
        string output = await serve.WaitForOutputAsync(o => CliRunner.ListeningPort(o) is not null, CliRunner.Timeout);
        int port = CliRunner.ListeningPort(output)!.Value;

        // A connection makes the socket and thread-pool threads that carry transfers: they inherit the policy too.
        CliResult probe = await CliRunner.RunAsync("probe", "127.0.0.1", "-p", $"{port}", "--accept-any-host-key");
        Assert.That(probe.ExitCode, Is.Zero, probe.ToString());

        var policies = new Dictionary<int, int>();
        foreach (string task in Directory.GetDirectories($"/proc/{serve.Id}/task"))
        {
            try
            {
                // /proc/PID/task/TID/stat: field 41 is the policy; the name (field 2) may hold spaces, so count from its ')'.
                string stat = File.ReadAllText(Path.Combine(task, "stat"));
                string[] rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                policies[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = int.Parse(rest[41 - 3], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // the thread ended meanwhile
            }
        }

        Assert.That(policies, Has.Count.GreaterThan(3));
        Assert.That(policies.Values, Is.All.EqualTo(expected), string.Join(", ", policies.Select(p => $"{p.Key}:{p.Value}")));
    }

    [Test]
    public async Task Probe_failure_is_one_line_on_stderr_and_nothing_on_stdout()
    {
        await using ChildProcess probe = CliRunner.StartChild("probe", "127.0.0.1", "-p", $"{CliRunner.FreePort()}", "--accept-any-host-key", "--json");
        int exitCode = await probe.WaitForExitAsync(CliRunner.Timeout);
        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(probe.Out, Is.Empty);
        Assert.That(probe.Error, Is.EqualTo("ssh-transport: connection refused\n"));
    }

    [Test]
    public async Task Usage_errors_exit_2()
    {
        await using ChildProcess probe = CliRunner.StartChild("probe", "--cipher", "rot13", "example.com");
        Assert.That(await probe.WaitForExitAsync(CliRunner.Timeout), Is.EqualTo(2));
        Assert.That(probe.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(1));
        Assert.That(probe.Error, Does.StartWith("ssh-transport: probe: --cipher: unknown algorithm 'rot13'; supported: "));
    }
}
