using Microsoft.Extensions.Time.Testing;
using Ssh.Transport.Tests.HostKeys;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests;

/// <summary>
/// <see cref="SshTransportOptions.Validate"/> and <see cref="SshPacketizerOptions.Validate"/>: the defaults pass,
/// every mistake is named, all at once, in one <see cref="ArgumentException"/>.
/// </summary>
public class OptionsValidationTests
{
    private static SshAlgorithmCategory[] Categories() => Enum.GetValues<SshAlgorithmCategory>();

    private static SshClientOptions Client() => new() { HostKeyVerifier = (_, _) => ValueTask.FromResult(true) };

    private static SshServerOptions Server(SshHostKeyType type = SshHostKeyType.Ed25519)
    {
        var options = new SshServerOptions();
        options.HostKeys.Add(HostKeyTestKeys.Get(type));
        return options;
    }

    private static IList<string> List(SshTransportOptions options, SshAlgorithmCategory category) => category switch
    {
        SshAlgorithmCategory.KeyExchange => options.KeyExchangeAlgorithms,
        SshAlgorithmCategory.HostKey => options.HostKeyAlgorithms,
        SshAlgorithmCategory.Cipher => options.Ciphers,
        SshAlgorithmCategory.Mac => options.Macs,
        _ => options.CompressionAlgorithms,
    };

    private static string Property(SshAlgorithmCategory category) => category switch
    {
        SshAlgorithmCategory.KeyExchange => "KeyExchangeAlgorithms",
        SshAlgorithmCategory.HostKey => "HostKeyAlgorithms",
        SshAlgorithmCategory.Cipher => "Ciphers",
        SshAlgorithmCategory.Mac => "Macs",
        _ => "CompressionAlgorithms",
    };

    private static string Problems(SshTransportOptions options) => Assert.Throws<ArgumentException>(options.Validate)!.Message;

    private static string Problems(SshPacketizerOptions options) => Assert.Throws<ArgumentException>(options.Validate)!.Message;

    private static void Only(IList<string> list, params string[] names)
    {
        list.Clear();
        foreach (string name in names)
        {
            list.Add(name);
        }
    }

    // ---- What passes --------------------------------------------------------------------------------------------

    [Test]
    public void Validate_Defaults_Pass()
    {
        Assert.DoesNotThrow(() => new SshPacketizerOptions().Validate());
        Assert.DoesNotThrow(() => Client().Validate());
        Assert.DoesNotThrow(() => Server().Validate());
    }

    [TestCase(SshHostKeyType.Ed25519)]
    [TestCase(SshHostKeyType.EcdsaNistP256)]
    [TestCase(SshHostKeyType.Rsa)]
    public void Validate_ServerWithAnyKeyType_Passes(SshHostKeyType type) => Assert.DoesNotThrow(() => Server(type).Validate());

    [TestCaseSource(nameof(Categories))]
    public void Validate_EverySupportedNameAlone_Passes(SshAlgorithmCategory category)
    {
        foreach (string name in SshAlgorithmCatalog.GetSupported(category))
        {
            SshClientOptions options = Client();
            Only(List(options, category), name);
            Assert.DoesNotThrow(options.Validate, name);
        }
    }

    [Test]
    public void Validate_EveryLegacyName_PassesWhenNamed()
    {
        SshClientOptions options = Client();
        foreach (SshAlgorithmCategory category in Categories())
        {
            Only(List(options, category), [.. SshAlgorithmCatalog.GetSupported(category)]);
        }

        Assert.DoesNotThrow(options.Validate);
    }

    [Test]
    public void Validate_NoMacsWithOnlyAeadCiphers_Passes()
    {
        SshClientOptions options = Client();
        Only(options.Ciphers, "aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com");
        options.Macs.Clear();
        Assert.DoesNotThrow(options.Validate);
    }

    [Test]
    public void Validate_BoundaryValues_Pass()
    {
        SshClientOptions options = Client();
        options.KeepAliveInterval = TimeSpan.FromSeconds(15);
        options.MaxNameListLength = 64;
        options.MaxQueuedPacketsDuringKeyExchange = 1;
        options.MaxBufferedInboundBytes = 4096;
        options.HandshakeTimeout = TimeSpan.FromMilliseconds(uint.MaxValue - 1);
        options.Packetizer.MaxPreBannerLines = 0;
        options.Packetizer.MaxPreBannerBytes = 0;
        options.Packetizer.RekeyBytes = 1;
        options.Packetizer.RekeyPackets = 1;
        options.Packetizer.RekeyOverflowBytes = 0;
        options.Packetizer.RekeyOverflowPackets = 0;
        options.Packetizer.IdentificationTimeout = Timeout.InfiniteTimeSpan;
        options.Packetizer.RekeyInterval = Timeout.InfiniteTimeSpan;
        options.Packetizer.TimeProvider = new FakeTimeProvider();
        options.Packetizer.Comments = "a comment, with spaces";
        Assert.DoesNotThrow(options.Validate);
    }

    // ---- Algorithm lists ----------------------------------------------------------------------------------------

    [TestCaseSource(nameof(Categories))]
    public void Validate_UnknownName_NamesTheListTheNameAndEverySupportedName(SshAlgorithmCategory category)
    {
        SshClientOptions options = Client();
        List(options, category).Add("rot13@example.com");
        string message = Problems(options);
        Assert.That(message, Does.Contain($"{Property(category)} contains 'rot13@example.com', which is not a supported"));
        Assert.That(message, Does.Contain("supported: " + string.Join(", ", SshAlgorithmCatalog.GetSupported(category)) + "."));
    }

    [TestCase(SshAlgorithmCategory.KeyExchange)]
    [TestCase(SshAlgorithmCategory.HostKey)]
    [TestCase(SshAlgorithmCategory.Cipher)]
    [TestCase(SshAlgorithmCategory.Compression)]
    public void Validate_EmptyList_IsAProblem(SshAlgorithmCategory category)
    {
        SshClientOptions options = Client();
        List(options, category).Clear();
        Assert.That(Problems(options), Does.Contain($"{Property(category)} is empty"));
    }

    [Test]
    public void Validate_NoMacsWithACipherThatNeedsOne_NamesTheCipher()
    {
        SshClientOptions options = Client();
        Only(options.Ciphers, "aes128-gcm@openssh.com", "aes256-ctr");
        options.Macs.Clear();
        Assert.That(Problems(options), Does.Contain("Macs is empty, but Ciphers offers 'aes256-ctr', which needs a MAC"));
    }

    [TestCaseSource(nameof(Categories))]
    public void Validate_DuplicateName_IsAProblem(SshAlgorithmCategory category)
    {
        SshClientOptions options = Client();
        string name = SshAlgorithmCatalog.GetDefaults(category)[0];
        List(options, category).Add(name);
        Assert.That(Problems(options), Does.Contain($"{Property(category)} contains '{name}' more than once."));
    }

    [TestCase("ext-info-c")]
    [TestCase("ext-info-s")]
    [TestCase("kex-strict-c-v00@openssh.com")]
    [TestCase("kex-strict-s-v00@openssh.com")]
    public void Validate_KexSignalInAList_IsNotAnAlgorithm(string marker)
    {
        SshClientOptions options = Client();
        options.KeyExchangeAlgorithms.Add(marker);
        options.Ciphers.Add(marker);
        string message = Problems(options);
        Assert.That(message, Does.Contain($"KeyExchangeAlgorithms contains '{marker}', a signal the transport adds to its first KEXINIT itself"));
        Assert.That(message, Does.Contain($"Ciphers contains '{marker}', a signal"));
    }

    [Test]
    public void Validate_NullName_IsAProblem()
    {
        SshClientOptions options = Client();
        options.Macs.Add(null!);
        Assert.That(Problems(options), Does.Contain("Macs contains null."));
    }

    [Test]
    public void Validate_WrongCase_IsUnknown()
    {
        SshClientOptions options = Client();
        options.Ciphers.Add("AES128-CTR");
        Assert.That(Problems(options), Does.Contain("'AES128-CTR', which is not a supported cipher"));
    }

    // ---- Roles --------------------------------------------------------------------------------------------------

    [Test]
    public void Validate_ClientWithoutVerifier_IsAProblem()
    {
        Assert.That(Problems(new SshClientOptions()), Does.Contain("HostKeyVerifier is null").And.Contain("KnownHostsVerifier"));
    }

    [Test]
    public void Validate_ServerWithoutHostKeys_IsAProblem()
    {
        Assert.That(Problems(new SshServerOptions()), Does.Contain("HostKeys is empty; a server needs at least one host key."));
    }

    [Test]
    public void Validate_ServerWhoseKeysSignWithNoListedAlgorithm_SaysWhatTheyCanSign()
    {
        SshServerOptions options = Server(SshHostKeyType.Ed25519);
        Only(options.HostKeyAlgorithms, "rsa-sha2-256", "ecdsa-sha2-nistp256");
        Assert.That(Problems(options), Does.Contain("HostKeyAlgorithms (rsa-sha2-256, ecdsa-sha2-nistp256) names no algorithm the host keys can sign with; they sign with ssh-ed25519."));
    }

    [Test]
    public void Validate_ServerWithOneUsableHostKeyAlgorithm_Passes()
    {
        SshServerOptions options = Server(SshHostKeyType.Rsa);
        Only(options.HostKeyAlgorithms, "ssh-ed25519", "ssh-rsa");
        Assert.DoesNotThrow(options.Validate);
    }

    [Test]
    public void Validate_ServerWithANullHostKey_IsAProblem()
    {
        SshServerOptions options = Server();
        options.HostKeys.Add(null!);
        Assert.That(Problems(options), Does.Contain("HostKeys contains null."));
    }

    [TestCase("ssh userauth", "not a name")]
    [TestCase("", "not a name")]
    [TestCase("a,b", "not a name")]
    [TestCase("ssh-userauth", "more than once")]
    public void Validate_BadServiceName_IsAProblem(string service, string expected)
    {
        SshServerOptions options = Server();
        options.Services.Add(service);
        Assert.That(Problems(options), Does.Contain($"Services contains '{service}'").And.Contain(expected));
    }

    [Test]
    public void Validate_BadServerSignatureAlgorithm_IsAProblem()
    {
        SshServerOptions options = Server();
        options.ServerSignatureAlgorithms.Add(new string('x', 65));
        Assert.That(Problems(options), Does.Contain("ServerSignatureAlgorithms contains 'xxx").And.Contain("1 to 64 printable US-ASCII characters"));
    }

    [Test]
    public void Validate_ServerSignatureAlgorithmsOutsideTheCatalog_Pass()
    {
        // They name what the user-authentication layer accepts, which the transport does not decide.
        SshServerOptions options = Server();
        options.ServerSignatureAlgorithms.Add("sk-ssh-ed25519@openssh.com");
        Assert.DoesNotThrow(options.Validate);
    }

    // ---- Timeouts and limits ------------------------------------------------------------------------------------

    private static IEnumerable<TestCaseData> BadTransportSettings()
    {
        TimeSpan tooLong = TimeSpan.FromDays(50);
        int n = 0;
        yield return Case("HandshakeTimeout", o => o.HandshakeTimeout = TimeSpan.Zero);
        yield return Case("HandshakeTimeout", o => o.HandshakeTimeout = TimeSpan.FromSeconds(-1));
        yield return Case("HandshakeTimeout", o => o.HandshakeTimeout = Timeout.InfiniteTimeSpan);
        yield return Case("HandshakeTimeout", o => o.HandshakeTimeout = tooLong);
        yield return Case("KeyExchangeTimeout", o => o.KeyExchangeTimeout = TimeSpan.Zero);
        yield return Case("KeyExchangeTimeout", o => o.KeyExchangeTimeout = Timeout.InfiniteTimeSpan);
        yield return Case("KeyExchangeTimeout", o => o.KeyExchangeTimeout = TimeSpan.MaxValue);
        yield return Case("KeepAliveInterval", o => o.KeepAliveInterval = TimeSpan.Zero);
        yield return Case("KeepAliveInterval", o => o.KeepAliveInterval = TimeSpan.FromMinutes(-5));
        yield return Case("KeepAliveInterval", o => o.KeepAliveInterval = tooLong);
        yield return Case("MaxNameListLength", o => o.MaxNameListLength = 0);
        yield return Case("MaxNameListLength", o => o.MaxNameListLength = 63);
        yield return Case("MaxNameListLength", o => o.MaxNameListLength = o.Packetizer.MaxPacketLength + 1);
        yield return Case("MaxQueuedPacketsDuringKeyExchange", o => o.MaxQueuedPacketsDuringKeyExchange = 0);
        yield return Case("MaxQueuedPacketsDuringKeyExchange", o => o.MaxQueuedPacketsDuringKeyExchange = -1);
        yield return Case("MaxQueuedPongs", o => o.MaxQueuedPongs = -1);
        yield return Case("MaxQueuedPongs", o => o.MaxQueuedPongs = 4097);
        yield return Case("MaxBufferedInboundBytes", o => o.MaxBufferedInboundBytes = 4095);
        yield return Case("MaxBufferedInboundBytes", o => o.MaxBufferedInboundBytes = 0);
        yield return Case("Packetizer is null", o => o.Packetizer = null!);
        yield return Case("Packetizer.SoftwareVersion: ", o => o.Packetizer.SoftwareVersion = "has space");
        yield return Case("Packetizer.SoftwareVersion: ", o => o.Packetizer.SoftwareVersion = "Has-Dash");
        yield return Case("Packetizer.SoftwareVersion: ", o => o.Packetizer.SoftwareVersion = "");
        yield return Case("Packetizer.SoftwareVersion: ", o => o.Packetizer.SoftwareVersion = "caf\u00e9");
        yield return Case("Packetizer.Comments: ", o => o.Packetizer.Comments = "tab\there");
        yield return Case("Packetizer.Comments: The identification line may not exceed 255 bytes", o => o.Packetizer.Comments = new string('c', 240));
        yield return Case("Packetizer.SoftwareVersion: The identification line may not exceed 255 bytes", o => o.Packetizer.SoftwareVersion = new string('v', 250));
        yield return Case("Packetizer.MaxPreBannerLines", o => o.Packetizer.MaxPreBannerLines = -1);
        yield return Case("Packetizer.MaxPreBannerBytes", o => o.Packetizer.MaxPreBannerBytes = -1);
        yield return Case("Packetizer.IdentificationTimeout", o => o.Packetizer.IdentificationTimeout = TimeSpan.Zero);
        yield return Case("Packetizer.IdentificationTimeout", o => o.Packetizer.IdentificationTimeout = tooLong);
        yield return Case("Packetizer.RekeyBytes", o => o.Packetizer.RekeyBytes = 0);
        yield return Case("Packetizer.RekeyPackets", o => o.Packetizer.RekeyPackets = -1);
        yield return Case("Packetizer.RekeyInterval", o => o.Packetizer.RekeyInterval = TimeSpan.Zero);
        yield return Case("Packetizer.RekeyInterval", o => o.Packetizer.RekeyInterval = TimeSpan.MaxValue);
        yield return Case("Packetizer.RekeyOverflowBytes", o => o.Packetizer.RekeyOverflowBytes = -1);
        yield return Case("Packetizer.RekeyOverflowPackets", o => o.Packetizer.RekeyOverflowPackets = long.MinValue);
        yield return Case("Packetizer.ReceiveBatchHold", o => o.Packetizer.ReceiveBatchHold = TimeSpan.FromTicks(-1));
        yield return Case("Packetizer.ReceiveBatchHold", o => o.Packetizer.ReceiveBatchHold = TimeSpan.FromSeconds(1));
        yield return Case("Packetizer.TimeProvider is null", o => o.Packetizer.TimeProvider = null!);

        TestCaseData Case(string expected, Action<SshTransportOptions> change) =>
            new TestCaseData(expected, change).SetArgDisplayNames($"{++n}: {expected.TrimEnd(' ', ':')}");
    }

    [TestCaseSource(nameof(BadTransportSettings))]
    public void Validate_BadSetting_IsNamed(string expected, Action<SshTransportOptions> change)
    {
        SshClientOptions options = Client();
        change(options);
        string message = Problems(options);
        Assert.That(message, Does.Contain("\n  " + expected));
        Assert.That(message, Does.StartWith("The SshClientOptions settings are not valid (1 problem):"));
    }

    [Test]
    public void Validate_PacketizerOnItsOwn_NamesItsProperties()
    {
        var options = new SshPacketizerOptions { RekeyBytes = 0, SoftwareVersion = "a b" };
        string message = Problems(options);
        Assert.That(message, Does.StartWith("The packetizer options are not valid (2 problems):"));
        Assert.That(message, Does.Contain("\n  RekeyBytes is 0; it must be at least 1."));
        Assert.That(message, Does.Contain("\n  SoftwareVersion: The software version must be printable US-ASCII without spaces or '-' (RFC 4253 §4.2)."));
    }

    [Test]
    public void SshPacketizer_InvalidOptions_ThrowsTheValidationMessage()
    {
        var pipes = new PipePair();
        var ex = Assert.Throws<ArgumentException>(() => _ = new SshPacketizer(pipes.Client, SshRole.Client, new SshPacketizerOptions { RekeyBytes = 0, RekeyPackets = 0 }));
        Assert.That(ex!.Message, Does.StartWith("The packetizer options are not valid (2 problems):"));
        Assert.That(ex.ParamName, Is.EqualTo("options"));
    }

    [Test]
    public void Validate_WithAParameterName_NamesIt()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => new SshClientOptions().ValidateArgument("options"))!.ParamName, Is.EqualTo("options"));
        Assert.That(Assert.Throws<ArgumentException>(new SshClientOptions().Validate)!.ParamName, Is.Null);
    }

    [Test]
    public void Validate_ManyProblems_AreAllInOneException()
    {
        var options = new SshServerOptions { HandshakeTimeout = TimeSpan.Zero, MaxQueuedPacketsDuringKeyExchange = 0 };
        options.Ciphers.Add("rot13");
        options.Macs.Add(options.Macs[0]);
        options.KeyExchangeAlgorithms.Add("ext-info-s");
        options.Packetizer.RekeyPackets = 0;
        var ex = Assert.Throws<ArgumentException>(options.Validate)!;
        Assert.That(ex.Message, Does.StartWith("The SshServerOptions settings are not valid (7 problems):"));
        string[] lines = ex.Message.Split('\n');
        Assert.That(lines, Has.Length.EqualTo(8));
        Assert.That(lines[1..], Has.Some.Contains("KeyExchangeAlgorithms contains 'ext-info-s'"));
        Assert.That(lines[1..], Has.Some.Contains("Ciphers contains 'rot13'"));
        Assert.That(lines[1..], Has.Some.Contains("Macs contains 'hmac-sha2-256-etm@openssh.com' more than once."));
        Assert.That(lines[1..], Has.Some.Contains("HandshakeTimeout is 00:00:00; it must be positive"));
        Assert.That(lines[1..], Has.Some.Contains("MaxQueuedPacketsDuringKeyExchange is 0; it must be at least 1."));
        Assert.That(lines[1..], Has.Some.Contains("Packetizer.RekeyPackets is 0"));
        Assert.That(lines[1..], Has.Some.Contains("HostKeys is empty"));
    }

    [Test]
    public void Validate_DoesNotChangeTheOptions()
    {
        SshServerOptions options = Server();
        options.Ciphers.Add("rot13");
        string[] before = [.. options.Ciphers];
        Assert.Throws<ArgumentException>(options.Validate);
        Assert.That(options.Ciphers, Is.EqualTo(before));
    }

    [Test]
    public void NewSettings_HaveTheirDefaults()
    {
        var options = new SshClientOptions();
        Assert.That(options.KeyExchangeTimeout, Is.EqualTo(TimeSpan.FromSeconds(60)));
        Assert.That(options.MaxQueuedPacketsDuringKeyExchange, Is.EqualTo(64));
        Assert.That(options.MaxBufferedInboundBytes, Is.EqualTo(1024 * 1024));
    }
}
