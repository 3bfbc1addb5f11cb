using Microsoft.Extensions.Time.Testing;
using Ssh.Transport.Tests.HostKeys;

namespace Ssh.Transport.Tests;

/// <summary>
/// The copy a transport keeps of its options: equal to them when taken, read-only, and out of reach of later changes
/// to the caller's object (one options object serves every connection of a server).
/// </summary>
public class OptionsSnapshotTests
{
    private static SshServerOptions Server()
    {
        var options = new SshServerOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) };
        options.HostKeys.Add(HostKeyTestKeys.Get(SshHostKeyType.Ed25519));
        options.Ciphers.Add("aes256-cbc");
        options.Packetizer.RekeyBytes = 1 << 20;
        return options;
    }

    private static IEnumerable<IList<string>> Lists(SshTransportOptions o) =>
        [o.KeyExchangeAlgorithms, o.HostKeyAlgorithms, o.Ciphers, o.Macs, o.CompressionAlgorithms];

    [Test]
    public void Snapshot_EqualsTheOriginal()
    {
        SshServerOptions original = Server();
        SshServerOptions snapshot = original.Snapshot();
        Assert.That(snapshot, Is.Not.SameAs(original));
        Assert.That(Lists(snapshot), Is.EqualTo(Lists(original)));
        Assert.That(snapshot.HostKeys, Is.EqualTo(original.HostKeys));
        Assert.That(snapshot.Services, Is.EqualTo(original.Services));
        Assert.That(snapshot.ServerSignatureAlgorithms, Is.EqualTo(original.ServerSignatureAlgorithms));
        Assert.That(snapshot.KeepAliveInterval, Is.EqualTo(original.KeepAliveInterval));
        Assert.That(snapshot.Packetizer.RekeyBytes, Is.EqualTo(1 << 20));
        Assert.DoesNotThrow(snapshot.Validate);
    }

    [Test]
    public void Snapshot_ListsAreReadOnly()
    {
        SshServerOptions snapshot = Server().Snapshot();
        foreach (IList<string> list in Lists(snapshot).Append(snapshot.Services).Append(snapshot.ServerSignatureAlgorithms))
        {
            Assert.That(list.IsReadOnly, Is.True);
            Assert.Throws<NotSupportedException>(() => list.Add("x"));
            Assert.Throws<NotSupportedException>(list.Clear);
            Assert.Throws<NotSupportedException>(() => list[0] = "x");
        }

        Assert.Throws<NotSupportedException>(() => snapshot.HostKeys.Add(HostKeyTestKeys.Get(SshHostKeyType.EcdsaNistP256)));
    }

    [Test]
    public void Snapshot_LaterChangesToTheOriginal_DoNotReachIt()
    {
        SshServerOptions original = Server();
        SshServerOptions snapshot = original.Snapshot();
        string[][] lists = [.. Lists(snapshot).Select(l => l.ToArray())];
        SshPacketizerOptions packetizer = snapshot.Packetizer;

        foreach (IList<string> list in Lists(original))
        {
            list.Clear();
            list.Add("changed");
        }

        original.HostKeys.Clear();
        original.Services.Add("changed");
        original.ServerSignatureAlgorithms.Clear();
        original.KeepAliveInterval = TimeSpan.FromSeconds(1);
        original.HandshakeTimeout = TimeSpan.FromSeconds(1);
        original.MaxQueuedPacketsDuringKeyExchange = 1;
        original.Packetizer.RekeyBytes = 7;
        original.Packetizer.SoftwareVersion = "Changed";
        original.Packetizer = new SshPacketizerOptions { TimeProvider = new FakeTimeProvider() };

        Assert.That(Lists(snapshot).Select(l => l.ToArray()), Is.EqualTo(lists));
        Assert.That(snapshot.HostKeys, Has.Count.EqualTo(1));
        Assert.That(snapshot.Services, Is.EqualTo(new[] { SshTransportOptions.UserAuthService }));
        Assert.That(snapshot.ServerSignatureAlgorithms, Is.Not.Empty);
        Assert.That(snapshot.KeepAliveInterval, Is.EqualTo(TimeSpan.FromSeconds(30)));
        Assert.That(snapshot.HandshakeTimeout, Is.EqualTo(TimeSpan.FromSeconds(60)));
        Assert.That(snapshot.MaxQueuedPacketsDuringKeyExchange, Is.EqualTo(64));
        Assert.That(snapshot.Packetizer, Is.SameAs(packetizer));
        Assert.That(snapshot.Packetizer.RekeyBytes, Is.EqualTo(1 << 20));
        Assert.That(snapshot.Packetizer.SoftwareVersion, Does.StartWith("SshTransport_"));
        Assert.That(snapshot.Packetizer.TimeProvider, Is.SameAs(TimeProvider.System));
        Assert.DoesNotThrow(snapshot.Validate);
    }

    [Test]
    public void Snapshot_DoesNotChangeTheOriginal()
    {
        SshServerOptions original = Server();
        SshPacketizerOptions packetizer = original.Packetizer;
        _ = original.Snapshot();
        original.Ciphers.Add("aes128-cbc");
        original.HostKeys.Add(HostKeyTestKeys.Get(SshHostKeyType.EcdsaNistP256));
        Assert.That(original.Ciphers.IsReadOnly, Is.False);
        Assert.That(original.Packetizer, Is.SameAs(packetizer));
    }

    [Test]
    public void Snapshot_Client_KeepsTheVerifier()
    {
        SshHostKeyVerifier verifier = (_, _) => ValueTask.FromResult(true);
        var original = new SshClientOptions { HostKeyVerifier = verifier };
        SshClientOptions snapshot = original.Snapshot();
        original.HostKeyVerifier = null;
        Assert.That(snapshot.HostKeyVerifier, Is.SameAs(verifier));
        Assert.DoesNotThrow(snapshot.Validate);
        Assert.Throws<ArgumentException>(original.Validate);
    }

    [Test]
    public void Snapshot_OfInvalidOptions_KeepsTheProblemsForValidate()
    {
        // Taken first, then validated: what is checked is what the connection uses.
        var original = new SshClientOptions { Packetizer = null! };
        original.Ciphers.Add("rot13");
        SshClientOptions snapshot = original.Snapshot();
        string message = Assert.Throws<ArgumentException>(snapshot.Validate)!.Message;
        Assert.That(message, Does.Contain("Ciphers contains 'rot13'").And.Contain("Packetizer is null").And.Contain("HostKeyVerifier is null"));
    }

    [Test]
    public void Snapshot_OfASnapshot_IsAnotherEqualCopy()
    {
        SshServerOptions first = Server().Snapshot();
        SshServerOptions second = first.Snapshot();
        Assert.That(second, Is.Not.SameAs(first));
        Assert.That(Lists(second), Is.EqualTo(Lists(first)));
        Assert.That(second.Packetizer, Is.Not.SameAs(first.Packetizer));
    }

    [Test]
    public void PacketizerClone_IsIndependent()
    {
        var original = new SshPacketizerOptions { RekeyPackets = 10, Comments = "c" };
        SshPacketizerOptions clone = original.Clone();
        original.RekeyPackets = 20;
        original.Comments = null;
        original.MaxPacketLength = 40_000;
        Assert.That(clone.RekeyPackets, Is.EqualTo(10));
        Assert.That(clone.Comments, Is.EqualTo("c"));
        Assert.That(clone.MaxPacketLength, Is.EqualTo(SshPacketizerOptions.DefaultMaxPacketLength));
    }
}
