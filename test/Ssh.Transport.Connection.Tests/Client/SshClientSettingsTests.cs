using System.Reflection;
using Microsoft.Extensions.Time.Testing;

namespace Ssh.Transport.Connection.Tests.Client;

public class SshClientSettingsTests
{
    [Test]
    public void Defaults_AreValidOnceAHostIsSet()
    {
        var settings = new SshClientSettings("example.com");
        Assert.Multiple(() =>
        {
            Assert.That(settings.Port, Is.EqualTo(22));
            Assert.That(settings.UserName, Is.EqualTo(Environment.UserName));
            Assert.That(settings.KnownHostsFile, Does.EndWith(Path.Combine(".ssh", "known_hosts")));
            Assert.That(settings.AcceptAnyHostKey, Is.False);
            Assert.That(settings.KeepAliveInterval, Is.EqualTo(TimeSpan.Zero));
            Assert.That(settings.KeepAliveCountMax, Is.EqualTo(3));
            Assert.That(settings.MaxCapturedOutputBytes, Is.EqualTo(16 * 1024 * 1024));
        });
        settings.Validate();
    }

    [Test]
    public void Validate_ListsEveryProblem()
    {
        var settings = new SshClientSettings { Port = 0, UserName = string.Empty, KnownHostsFile = string.Empty, KeepAliveInterval = TimeSpan.FromSeconds(-1), KeepAliveCountMax = 0, ConnectTimeout = TimeSpan.Zero };
        ArgumentException e = Assert.Throws<ArgumentException>(settings.Validate)!;
        Assert.That(e.Message, Does.Contain("Host").And.Contain("Port").And.Contain("UserName").And.Contain("KnownHostsFile")
            .And.Contain("KeepAliveInterval").And.Contain("KeepAliveCountMax").And.Contain("ConnectTimeout"));
        Assert.ThrowsAsync<ArgumentException>(() => SshClient.ConnectAsync(settings));
    }

    /// <summary>
    /// The client connects with a copy of the caller's transport options: every property must be copied. A property
    /// added to the transport's options fails this test until the copy knows it.
    /// </summary>
    [Test]
    public void TransportOptionsCopy_CopiesEveryProperty()
    {
        Assert.That(Names(typeof(SshClientOptions)), Is.EqualTo(new[]
        {
            "Ciphers", "CompressionAlgorithms", "HandshakeTimeout", "HostKeyAlgorithms", "HostKeyVerifier", "KeepAliveInterval",
            "KeyExchangeAlgorithms", "KeyExchangeTimeout", "LoggerFactory", "Macs", "MaxBufferedInboundBytes", "MaxNameListLength",
            "MaxQueuedPacketsDuringKeyExchange", "MaxQueuedPongs", "Packetizer", "PreferHostCertificates", "UnsafePreferInlineScheduling",
        }), "a new transport option: copy it in TransportOptionsCopy, then list it here");
        Assert.That(Names(typeof(SshPacketizerOptions)), Is.EqualTo(new[]
        {
            "Comments", "IdentificationTimeout", "LogPacketContents", "Logger", "MaxPacketLength", "MaxPreBannerBytes", "MaxPreBannerLines",
            "ReceiveBatchHold", "RekeyBytes", "RekeyInterval", "RekeyOverflowBytes", "RekeyOverflowPackets", "RekeyPackets", "SoftwareVersion", "TimeProvider",
        }), "a new packetizer option: copy it in TransportOptionsCopy, then list it here");

        var template = new SshClientOptions
        {
            HostKeyVerifier = (_, _) => ValueTask.FromResult(true),
            HandshakeTimeout = TimeSpan.FromSeconds(7),
            KeyExchangeTimeout = TimeSpan.FromSeconds(8),
            MaxQueuedPacketsDuringKeyExchange = 9,
            MaxQueuedPongs = 3,
            MaxBufferedInboundBytes = 10000,
            KeepAliveInterval = TimeSpan.FromSeconds(11),
            MaxNameListLength = 12000,
            PreferHostCertificates = true,
            UnsafePreferInlineScheduling = true,
        };
        template.Ciphers.Clear();
        template.Ciphers.Add("aes256-ctr");
        template.CompressionAlgorithms.Add("zlib@openssh.com");
        template.Packetizer.RekeyBytes = 12345;
        template.Packetizer.ReceiveBatchHold = TimeSpan.FromMilliseconds(5);
        template.Packetizer.SoftwareVersion = "Test_1";
        template.Packetizer.TimeProvider = new FakeTimeProvider();
        SshClientOptions copy = TransportOptionsCopy.Create(template);
        Assert.That(copy.Packetizer, Is.Not.SameAs(template.Packetizer));
        Assert.That(copy.Ciphers, Is.Not.SameAs(template.Ciphers));
        foreach (PropertyInfo property in typeof(SshClientOptions).GetProperties().Where(p => p.Name != "Packetizer"))
        {
            Assert.That(property.GetValue(copy), Is.EqualTo(property.GetValue(template)), property.Name);
        }

        foreach (PropertyInfo property in typeof(SshPacketizerOptions).GetProperties())
        {
            Assert.That(property.GetValue(copy.Packetizer), Is.EqualTo(property.GetValue(template.Packetizer)), "Packetizer." + property.Name);
        }
    }

    private static string[] Names(Type type) => [.. type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).Order(StringComparer.Ordinal)];
}
