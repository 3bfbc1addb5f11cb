namespace Ssh.Transport.Cli.Tests;

public class DemoTests
{
    [Test]
    public async Task Demo_runs_every_suite_and_prints_the_table()
    {
        CliResult result = await CliRunner.RunAsync("demo", "--seconds", "0.2");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Error, Is.Empty);
        string[] lines = result.Out.Split('\n');
        Assert.That(lines, Has.Some.Match(@"^suite\s+handshake\s+throughput\s+rekeys"));
        foreach (string suite in new[]
        {
            "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
            "aes128-ctr + hmac-sha2-256-etm@openssh.com", "aes256-ctr + hmac-sha2-512-etm@openssh.com",
        })
        {
            string pattern = "^" + System.Text.RegularExpressions.Regex.Escape(suite) + @"\s+\d+\.\d ms\s+\d+\.\d MB/s\s+\d+\s*$";
            Assert.That(lines, Has.One.Match(pattern), result.Out);
        }

        Assert.That(result.Out, Does.Contain("5 suites OK"));
    }

    [Test]
    public async Task A_small_rekey_limit_shows_rekeys_in_the_table()
    {
        CliResult result = await CliRunner.RunAsync("demo", "--seconds", "0.2", "--rekey-bytes", "256K");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var rekeys = result.Out.Split('\n')
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"MB/s\s+(\d+)\s*$"))
            .Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        Assert.That(rekeys, Has.Count.EqualTo(5));
        Assert.That(rekeys, Has.All.GreaterThan(0), result.Out);
    }
}
