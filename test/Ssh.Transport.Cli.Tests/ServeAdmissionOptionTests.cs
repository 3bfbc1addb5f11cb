using Ssh.Transport.Connection;

namespace Ssh.Transport.Cli.Tests;

/// <summary>serve's admission options, spelled as sshd_config(5) spells MaxStartups, PerSourcePenalties and PerSourceNetBlockSize.</summary>
public class ServeAdmissionOptionTests
{
    [TestCase("10:30:100", 10, 30, 100)]
    [TestCase("50", 50, 100, 50)]
    [TestCase("5000:100:5001", 5000, 100, 5001)]
    public void MaxStartups_Parses(string text, int begin, int rate, int full) =>
        Assert.That(ServeAdmission.ParseMaxStartups(text), Is.EqualTo((((int, int, int)?)(begin, rate, full), (string?)null)));

    [TestCase("10:30")]
    [TestCase("10:0:100")]
    [TestCase("100:30:10")]
    [TestCase("a:b:c")]
    public void MaxStartups_RefusesNonsense(string text) =>
        Assert.That(ServeAdmission.ParseMaxStartups(text).Error, Does.StartWith("--max-startups expects"));

    [Test]
    public void NetBlockSize_Parses()
    {
        Assert.That(ServeAdmission.ParseNetBlockSize("24:64").Value, Is.EqualTo(((int, int)?)(24, 64)));
        Assert.That(ServeAdmission.ParseNetBlockSize("16").Value, Is.EqualTo(((int, int)?)(16, 128)));
        Assert.That(ServeAdmission.ParseNetBlockSize("33").Error, Is.Not.Null);
        Assert.That(ServeAdmission.ParseNetBlockSize("24:129").Error, Is.Not.Null);
    }

    [Test]
    public void Penalties_ApplySshdsWords()
    {
        var options = new SshServerAdmissionOptions();
        Assert.That(ServeAdmission.ApplyPenalties("authfail:7 noauth:0.5,grace-exceeded:12 crash:100 max:300 min:20 max-sources4:10 max-sources6:20 overflow:deny-all overflow6:permissive", options), Is.Null);
        Assert.Multiple(() =>
        {
            Assert.That(options.PenaltyAuthFail, Is.EqualTo(TimeSpan.FromSeconds(7)));
            Assert.That(options.PenaltyNoAuth, Is.EqualTo(TimeSpan.FromSeconds(0.5)));
            Assert.That(options.PenaltyGraceExceeded, Is.EqualTo(TimeSpan.FromSeconds(12)));
            Assert.That(options.PenaltyCrash, Is.EqualTo(TimeSpan.FromSeconds(100)));
            Assert.That((options.PenaltyMax, options.PenaltyMin), Is.EqualTo((TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(20))));
            Assert.That((options.PenaltyMaxSourcesIPv4, options.PenaltyMaxSourcesIPv6), Is.EqualTo((10, 20)));
            Assert.That((options.PenaltyOverflowMode, options.PenaltyOverflowModeIPv6), Is.EqualTo((SshPenaltyOverflowMode.DenyAll, (SshPenaltyOverflowMode?)SshPenaltyOverflowMode.Permissive)));
        });

        Assert.That(ServeAdmission.ApplyPenalties("no", options), Is.Null);
        Assert.That(options.PerSourcePenalties, Is.False);
        Assert.That(ServeAdmission.ApplyPenalties("authfail:soon", options), Does.Contain("not 'authfail:soon'"));
        Assert.That(ServeAdmission.ApplyPenalties("bogus:1", options), Does.Contain("not 'bogus:1'"));
    }

    [Test]
    public void ExemptList_Parses()
    {
        Assert.That(ServeAdmission.ParseExemptList("127.0.0.1, 10.0.0.0/8,::1").Value, Is.EqualTo(new[] { "127.0.0.1", "10.0.0.0/8", "::1" }));
        Assert.That(ServeAdmission.ParseExemptList("10.0.0.0/33").Error, Does.Contain("'10.0.0.0/33'"));
    }
}
