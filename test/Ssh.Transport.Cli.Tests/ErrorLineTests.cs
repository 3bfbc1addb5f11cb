namespace Ssh.Transport.Cli.Tests;

/// <summary>The one-line error messages come from the exceptions' types and fields, not from their message text.</summary>
public class ErrorLineTests
{
    [Test]
    public void No_common_algorithm_names_the_direction_the_category_and_both_lists()
    {
        var e = new SshAlgorithmNegotiationException(SshAlgorithmCategory.Cipher, "client-to-server", ["aes256-gcm@openssh.com", "aes128-ctr"], ["chacha20-poly1305@openssh.com"]);
        Assert.That(CliMain.Describe(e), Is.EqualTo("no common client-to-server cipher: client offers aes256-gcm@openssh.com,aes128-ctr; server offers chacha20-poly1305@openssh.com"));
    }

    [TestCase(SshAlgorithmCategory.KeyExchange, "key exchange")]
    [TestCase(SshAlgorithmCategory.HostKey, "host key")]
    public void No_common_algorithm_without_a_direction(SshAlgorithmCategory category, string name)
    {
        var e = new SshAlgorithmNegotiationException(category, null, ["a", "b"], ["c"]);
        Assert.That(CliMain.Describe(e), Is.EqualTo($"no common {name}: client offers a,b; server offers c"));
    }

    [TestCase(SshTimeoutKind.Identification, 0.5, "the peer's identification line did not arrive within 0.5 s")]
    [TestCase(SshTimeoutKind.Handshake, 30, "the SSH handshake did not complete within 30 s")]
    [TestCase(SshTimeoutKind.KeyExchange, 60, "a key exchange did not complete within 60 s")]
    public void Timeouts_say_which_deadline_passed(SshTimeoutKind kind, double seconds, string expected)
    {
        var e = new SshTimeoutException(kind, TimeSpan.FromSeconds(seconds), SshDisconnectReason.ConnectionLost, "(not this text)");
        Assert.That(CliMain.Describe(e), Is.EqualTo(expected));
    }

    [Test]
    public void A_peer_disconnect_gives_its_reason_and_description()
    {
        Assert.That(CliMain.Describe(new SshPeerDisconnectedException(SshDisconnectReason.HostKeyNotVerifiable, "no")), Is.EqualTo("the peer disconnected (HostKeyNotVerifiable): no"));
        Assert.That(CliMain.Describe(new SshPeerDisconnectedException(SshDisconnectReason.TooManyConnections, "")), Is.EqualTo("the peer disconnected (TooManyConnections)"));
    }

    [Test]
    public void A_call_after_the_connection_ended_is_described_by_what_ended_it()
    {
        var cause = new SshAlgorithmNegotiationException(SshAlgorithmCategory.Mac, "server-to-client", ["x"], ["y"]);
        var e = new SshProtocolException(SshDisconnectReason.KeyExchangeFailed, "The connection has ended (closed by Local: KeyExchangeFailed).", cause);
        Assert.That(CliMain.Describe(e), Is.EqualTo("no common server-to-client MAC: client offers x; server offers y"));
    }
}
