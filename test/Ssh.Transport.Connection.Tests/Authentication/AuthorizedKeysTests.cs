using System.Net;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Authentication;

public class AuthorizedKeysTests
{
    private static readonly DateTimeOffset s_now = new(2030, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly IPEndPoint s_client = new(IPAddress.Parse("192.0.2.10"), 40000);

    private static string Ed => Harness.UserKey(SshHostKeyType.Ed25519).PublicKey.ToString();

    private static string Rsa => Harness.UserKey(SshHostKeyType.Rsa).PublicKey.ToString();

    [Test]
    public void Parse_PlainLine_KeyAndComment()
    {
        SshAuthorizedKey entry = SshAuthorizedKey.Parse($"{Ed} alice@laptop  work key");
        Assert.Multiple(() =>
        {
            Assert.That(entry.Key, Is.EqualTo(Harness.UserKey(SshHostKeyType.Ed25519).PublicKey));
            Assert.That(entry.Comment, Is.EqualTo("alice@laptop  work key"));
            Assert.That(entry.Options, Is.Empty);
            Assert.That(entry.PermitPty && entry.PermitPortForwarding && entry.PermitAgentForwarding && entry.PermitX11Forwarding && entry.PermitUserRc, Is.True);
            Assert.That(entry.IsAllowed(null, s_now, out _), Is.True);
        });
    }

    [Test]
    public void Parse_EveryOption()
    {
        SshAuthorizedKey entry = SshAuthorizedKey.Parse(
            $"command=\"echo \\\"hi, there\\\"\",from=\"192.0.2.0/24\",expiry-time=\"20351231\",no-pty,no-port-forwarding,no-agent-forwarding," +
            $"no-X11-forwarding,no-user-rc,permitopen=\"localhost:8080\",permitopen=\"[::1]:*\",permitlisten=\"2222\",environment=\"LANG=C\"," +
            $"principals=\"alice,bob\",tunnel=\"3\",no-touch-required {Rsa} comment");
        Assert.Multiple(() =>
        {
            Assert.That(entry.Command, Is.EqualTo("echo \"hi, there\""));
            Assert.That(entry.FromPatterns, Is.EqualTo("192.0.2.0/24"));
            Assert.That(entry.ExpiryTime!.Value.Year, Is.EqualTo(2035));
            Assert.That(entry.PermitPty, Is.False);
            Assert.That(entry.PermitPortForwarding, Is.False);
            Assert.That(entry.PermitAgentForwarding, Is.False);
            Assert.That(entry.PermitX11Forwarding, Is.False);
            Assert.That(entry.PermitUserRc, Is.False);
            Assert.That(entry.IsRestricted, Is.False);
            Assert.That(entry.PermitOpen, Is.EqualTo(new[] { "localhost:8080", "[::1]:*" }));
            Assert.That(entry.PermitListen, Is.EqualTo(new[] { "2222" }));
            Assert.That(entry.Environment, Is.EqualTo(new[] { "LANG=C" }));
            Assert.That(entry.Principals, Is.EqualTo("alice,bob"));
            Assert.That(entry.Tunnel, Is.EqualTo(3));
            Assert.That(entry.Key.KeyType, Is.EqualTo("ssh-rsa"));
            Assert.That(entry.Comment, Is.EqualTo("comment"));
            Assert.That(entry.Options, Has.Count.EqualTo(15));
        });
    }

    [Test]
    public void Restrict_ThenLaterOptionsReEnable_InOrder()
    {
        SshAuthorizedKey restricted = SshAuthorizedKey.Parse($"restrict,pty,command=\"/usr/bin/backup\" {Ed}");
        Assert.That(restricted.IsRestricted, Is.True);
        Assert.That(restricted.PermitPty, Is.True);
        Assert.That(restricted.PermitPortForwarding || restricted.PermitAgentForwarding || restricted.PermitX11Forwarding || restricted.PermitUserRc, Is.False);
        Assert.That(restricted.Command, Is.EqualTo("/usr/bin/backup"));

        SshAuthorizedKey later = SshAuthorizedKey.Parse($"PTY,Restrict {Ed}");
        Assert.That(later.PermitPty, Is.False, "restrict after pty wins; names are case-insensitive");
    }

    [TestCase("frobnicate", "Unknown option 'frobnicate'")]
    [TestCase("no-pty,bogus=\"x\"", "Unknown option 'bogus'")]
    [TestCase("command=unquoted", "double quotes")]
    [TestCase("no-pty=\"x\"", "takes no value")]
    [TestCase("from", "needs a quoted value")]
    [TestCase("command=\"a\",command=\"b\"", "given twice")]
    [TestCase("from=\"10.0.0.0/33\"", "not an address block")]
    [TestCase("from=\"10.0.0.0/x\"", "not an address block")]
    [TestCase("from=\"a,,b\"", "empty pattern")]
    [TestCase("expiry-time=\"2030\"", "YYYYMMDD")]
    [TestCase("expiry-time=\"20301340\"", "YYYYMMDD")]
    [TestCase("environment=\"=x\"", "NAME=value")]
    [TestCase("permitopen=\"localhost\"", "host:port")]
    [TestCase("permitopen=\"localhost:http\"", "port number")]
    [TestCase("tunnel=\"any\"", "device number")]
    [TestCase("no-pty,,no-x11-forwarding", "empty entry")]
    [TestCase("command=\"unterminated", "closing quote")]
    [TestCase("cert-authority", "certificates are not supported")]
    public void Parse_BadOption_RefusesTheLine(string options, string reason)
    {
        SshAuthorizedKeys file = SshAuthorizedKeys.Parse($"{Ed} first\n{options} {Ed} second\n");
        Assert.That(file.Keys, Has.Count.EqualTo(1));
        Assert.That(file.Keys[0].Comment, Is.EqualTo("first"));
        Assert.That(file.SkippedLines, Has.Count.EqualTo(1));
        Assert.That(file.SkippedLines[0].LineNumber, Is.EqualTo(2));
        Assert.That(file.SkippedLines[0].Reason, Does.Contain(reason));
        Assert.That(file.SkippedLines[0].ToString(), Does.StartWith("line 2: "));
    }

    [Test]
    public void Parse_File_CommentsBlankLinesAndUnusableKeys()
    {
        string text = string.Join("\n",
            "# a comment",
            string.Empty,
            "   ",
            $"{Ed} ok",
            "ssh-dss AAAAB3NzaC1kc3MAAACBAP== old",
            "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIA== fido",
            "ssh-ed25519-cert-v01@openssh.com AAAA cert",
            "ssh-ed25519 !!!notbase64 broken",
            "ssh-ed25519",
            $"no-pty notakeytype {Ed[12..]}",
            $"\t{Rsa}\r");
        SshAuthorizedKeys file = SshAuthorizedKeys.Parse(text);
        Assert.That(file.Keys.Select(k => k.LineNumber), Is.EqualTo(new[] { 4, 11 }));
        Assert.That(file.SkippedLines.Select(l => l.LineNumber), Is.EqualTo(new[] { 5, 6, 7, 8, 9, 10 }));
        Assert.That(file.SkippedLines[0].Reason, Does.Contain("ssh-dss are not supported"));
        Assert.That(file.SkippedLines[4].Reason, Does.Contain("no base64"));
        Assert.That(file.SkippedLines[5].Reason, Does.Contain("after the options is not a key type"));
    }

    [TestCase("192.0.2.10", "192.0.2.10", true)]
    [TestCase("192.0.2.*", "192.0.2.10", true)]
    [TestCase("192.0.2.?", "192.0.2.10", false)]
    [TestCase("192.0.2.??", "192.0.2.10", true)]
    [TestCase("192.0.2.0/24", "192.0.2.10", true)]
    [TestCase("192.0.3.0/24", "192.0.2.10", false)]
    [TestCase("*,!192.0.2.10", "192.0.2.10", false)]
    [TestCase("!192.0.2.10,*", "192.0.2.10", false)]
    [TestCase("!192.0.2.0/24,10.*", "10.1.2.3", true)]
    [TestCase("!10.0.0.0/8", "10.1.2.3", false)]
    [TestCase("!10.0.0.0/8", "192.0.2.10", false)]
    [TestCase("2001:db8::/32", "2001:db8::5", true)]
    [TestCase("2001:db8::/32", "192.0.2.10", false)]
    [TestCase("192.0.2.0/24", "::ffff:192.0.2.10", true)]
    [TestCase("127.0.0.1", "::ffff:127.0.0.1", true)]
    public void From_MatchesTheClientAddress(string patterns, string address, bool allowed)
    {
        SshAuthorizedKey entry = SshAuthorizedKey.Parse($"from=\"{patterns}\" {Ed}");
        Assert.That(entry.IsAllowed(new IPEndPoint(IPAddress.Parse(address), 1), s_now, out string? reason), Is.EqualTo(allowed));
        Assert.That(reason, allowed ? Is.Null : Does.Contain("does not match from="));
    }

    [TestCase("*.example.com", "host.example.com", true)]
    [TestCase("*.EXAMPLE.com", "Host.Example.COM", true)]
    [TestCase("*.example.com,!bad.example.com", "bad.example.com", false)]
    [TestCase("host?.example.com", "host1.example.com", true)]
    [TestCase("host?.example.com", "host12.example.com", false)]
    public void From_MatchesTheClientHostName(string patterns, string host, bool allowed)
    {
        SshAuthorizedKey entry = SshAuthorizedKey.Parse($"from=\"{patterns}\" {Ed}");
        Assert.That(entry.IsAllowed(new DnsEndPoint(host, 22), s_now, out _), Is.EqualTo(allowed));
    }

    [Test]
    public void From_UnknownClient_IsRefused()
    {
        SshAuthorizedKey entry = SshAuthorizedKey.Parse($"from=\"*\" {Ed}");
        Assert.That(entry.IsAllowed(null, s_now, out string? reason), Is.False);
        Assert.That(reason, Does.Contain("unknown address"));
    }

    [Test]
    public void Expiry_UtcAndLocal()
    {
        SshAuthorizedKey utc = SshAuthorizedKey.Parse($"expiry-time=\"203006011200Z\" {Ed}");
        Assert.That(utc.ExpiryTime, Is.EqualTo(s_now));
        Assert.That(utc.IsAllowed(s_client, s_now.AddSeconds(-1), out _), Is.True);
        Assert.That(utc.IsAllowed(s_client, s_now, out string? reason), Is.False);
        Assert.That(reason, Does.Contain("expired"));

        SshAuthorizedKey seconds = SshAuthorizedKey.Parse($"expiry-time=\"20300601120030z\" {Ed}");
        Assert.That(seconds.ExpiryTime, Is.EqualTo(s_now.AddSeconds(30)));

        // Without Z: the server's local time, as sshd.
        SshAuthorizedKey local = SshAuthorizedKey.Parse($"expiry-time=\"20300601\" {Ed}");
        var midnight = new DateTime(2030, 6, 1, 0, 0, 0, DateTimeKind.Unspecified);
        Assert.That(local.ExpiryTime, Is.EqualTo(new DateTimeOffset(midnight, TimeZoneInfo.Local.GetUtcOffset(midnight))));

        // Another zone, for the conversion itself.
        TimeZoneInfo plus2 = TimeZoneInfo.CreateCustomTimeZone("test+2", TimeSpan.FromHours(2), "test+2", "test+2");
        Assert.That(SshAuthorizedKey.ParseExpiry("203006011400", plus2), Is.EqualTo(s_now));

        // Repeated: the earliest counts.
        SshAuthorizedKey twice = SshAuthorizedKey.Parse($"expiry-time=\"20400101Z\",expiry-time=\"20350101Z\" {Ed}");
        Assert.That(twice.ExpiryTime!.Value.Year, Is.EqualTo(2035));
    }

    [Test]
    public void Find_SkipsLinesThatRefuseTheClient_AndSaysWhy()
    {
        SshPublicKey key = Harness.UserKey(SshHostKeyType.Ed25519).PublicKey;
        SshAuthorizedKeys file = SshAuthorizedKeys.Parse(
            $"from=\"10.0.0.0/8\" {Ed} office\n" +
            $"{Rsa} other\n" +
            $"from=\"192.0.2.0/24\",command=\"/bin/date\" {Ed} lab\n");
        SshAuthorizedKey? entry = file.Find(key, s_client, s_now);
        Assert.That(entry?.Comment, Is.EqualTo("lab"));
        Assert.That(entry!.Command, Is.EqualTo("/bin/date"));

        Assert.That(file.Find(key, new IPEndPoint(IPAddress.Parse("198.51.100.1"), 1), s_now, out string? refusal), Is.Null);
        Assert.That(refusal, Does.Contain("192.0.2.0/24"));
        Assert.That(file.Find(Harness.StrangerKey.PublicKey, s_client, s_now, out refusal), Is.Null);
        Assert.That(refusal, Is.Null, "not listed at all");
    }

    [Test]
    public void Load_ReadsAFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"authorized_keys-{Guid.NewGuid():N}");
        File.WriteAllText(path, $"{Ed} from-file\n");
        try
        {
            Assert.That(SshAuthorizedKeys.Load(path).Keys.Single().Comment, Is.EqualTo("from-file"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void ToString_GivesTheLineBack()
    {
        SshAuthorizedKey entry = SshAuthorizedKey.Parse($"no-pty,command=\"x y\" {Ed} c");
        Assert.That(entry.ToString(), Is.EqualTo($"no-pty,command=\"x y\" {Ed} c"));
        Assert.That(SshAuthorizedKey.Parse(entry.ToString()).Command, Is.EqualTo("x y"));
    }
}
