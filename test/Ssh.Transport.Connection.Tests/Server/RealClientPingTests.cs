using System.Text.RegularExpressions;
using Ssh.Transport.Connection.Tests.Client;

namespace Ssh.Transport.Connection.Tests.Server;

/// <summary>
/// OpenSSH 10.5's ssh pinging our server: with a terminal session and keystrokes, ssh hides their timing
/// (ObscureKeystrokeTiming, on by default) and sends SSH2_MSG_PING as chaff between them, but only to a server that
/// advertised ping@openssh.com.
/// </summary>
public partial class RealClientTests
{
    [Test]
    public async Task Ssh10_KeystrokeChaff_PingsAnsweredWithPongs()
    {
        const string Folder = "/opt/ssh-peers/openssh/bin";
        string ssh = RequireProgram(Folder, "ssh");
        await using var server = RealServer.Start();
        var logs = new ListLoggerFactory();
        server.TransportOptions.LoggerFactory = logs;

        // Three keystrokes 300 ms apart on a forced terminal (-tt), then stdin stays open 3.5 s: ssh sends chaff every
        // ~20 ms from the first keystroke until 1 to 3 s after the last. The remote command outlives it and ignores stdin.
        List<string> arguments = [.. SshOptions("-p", server.Port, "-tt", "-o", "LogLevel=DEBUG3", "-o", "ObscureKeystrokeTiming=interval:20"), "alice@127.0.0.1", "sleep 5"];
        string command = string.Join(' ', arguments.Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
        string script = $"(printf a; sleep 0.3; printf b; sleep 0.3; printf c; sleep 3.5) | '{ssh}' {command}";
        ClientRun.Result result = await ClientRun.RunAsync("/bin/sh", ["-c", script], timeout: TimeSpan.FromSeconds(60));
        await server.WaitForConnectionsAsync();

        // "obfuscate_keystroke_timing: stopping: chaff time expired (N chaff packets sent)" (clientloop.c).
        MatchCollection stops = Regex.Matches(result.Stderr, @"obfuscate_keystroke_timing: stopping: [^(\n]*\((\d+) chaff packets sent\)");
        long chaff = stops.Sum(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        int pongs = logs.Lines.Count(l => l.StartsWith("PONG of 5 bytes sent", StringComparison.Ordinal));
        TestContext.Progress.WriteLine($"ssh 10.5 sent {chaff} chaff PINGs (\"PING!\"); our server answered {pongs} with PONGs");
        Assert.That(result.ExitCode, Is.Zero, result.Stderr);
        Assert.That(server.Errors, Is.Empty);
        Assert.That(chaff, Is.GreaterThan(0), "ssh sent PINGs only because our EXT_INFO advertised ping@openssh.com\n" + result.Stderr);
        Assert.That(pongs, Is.EqualTo(chaff), "every PING answered with a PONG carrying its 5 bytes; ssh parsed each (a bad one is fatal to it)");
    }
}
