using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Framing;

public class IdentificationTests
{
    private static async Task<SshPacketizer> ReadAsClientAsync(string serverSends, SshPacketizerOptions? options = null)
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client, options);
        await pipes.ServerToClient.Writer.WriteAsync(Encoding.Latin1.GetBytes(serverSends));
        await client.ExchangeIdentificationAsync();
        return client;
    }

    [Test]
    public async Task Exchange_WritesOurLineWithCrLf()
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client, new SshPacketizerOptions { SoftwareVersion = "Test_1.0", Comments = "hello there" });
        await pipes.ServerToClient.Writer.WriteAsync("SSH-2.0-Peer\r\n"u8.ToArray());
        await client.ExchangeIdentificationAsync();
        ReadResult sent = await pipes.ClientToServer.Reader.ReadAsync();
        Assert.That(Encoding.ASCII.GetString(sent.Buffer), Is.EqualTo("SSH-2.0-Test_1.0 hello there\r\n"));
        Assert.That(client.LocalIdentification, Is.EqualTo("SSH-2.0-Test_1.0 hello there"));
    }

    [Test]
    public async Task Exchange_KeepsExactBytesWithoutCrLf()
    {
        SshPacketizer client = await ReadAsClientAsync("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
        Assert.That(client.RemoteIdentification, Is.EqualTo("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"));
        Assert.That(client.RemoteIdentificationBytes.ToArray(), Is.EqualTo("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"u8.ToArray()));
    }

    [Test]
    public async Task Exchange_BareLf_IsTolerated()
    {
        SshPacketizer client = await ReadAsClientAsync("SSH-2.0-OldPeer\n");
        Assert.That(client.RemoteIdentification, Is.EqualTo("SSH-2.0-OldPeer"));
    }

    [Test]
    public async Task Exchange_Version199_IsAccepted()
    {
        SshPacketizer client = await ReadAsClientAsync("SSH-1.99-Compat\r\n");
        Assert.That(client.RemoteIdentification, Is.EqualTo("SSH-1.99-Compat"));
    }

    [TestCase("SSH-1.5-Old\r\n", "1.5")]
    [TestCase("SSH-3.0-Future\r\n", "3.0")]
    [TestCase("SSH-2.00-Odd\r\n", "2.00")]
    public void Exchange_OtherVersion_IsRejected(string line, string version)
    {
        var ex = Assert.ThrowsAsync<SshProtocolException>(() => ReadAsClientAsync(line));
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.ProtocolVersionNotSupported));
        Assert.That(ex.Message, Does.Contain($"'{version}'"));
    }

    [Test]
    public void Exchange_NoSoftwareVersion_IsRejected()
    {
        Assert.ThrowsAsync<SshProtocolException>(() => ReadAsClientAsync("SSH-2.0-\r\n"));
    }

    [Test]
    public void Exchange_ControlCharacter_IsRejected()
    {
        Assert.ThrowsAsync<SshProtocolException>(() => ReadAsClientAsync("SSH-2.0-Bad\0Peer\r\n"));
    }

    [Test]
    public async Task Exchange_LineOf255BytesWithCrLf_IsAccepted()
    {
        string line = "SSH-2.0-" + new string('x', 255 - 2 - 8);
        SshPacketizer client = await ReadAsClientAsync(line + "\r\n");
        Assert.That(client.RemoteIdentification, Is.EqualTo(line));
    }

    [Test]
    public void Exchange_LineOf256BytesWithCrLf_IsRejected()
    {
        string line = "SSH-2.0-" + new string('x', 256 - 2 - 8);
        var ex = Assert.ThrowsAsync<SshProtocolException>(() => ReadAsClientAsync(line + "\r\n"));
        Assert.That(ex!.Message, Does.Contain("255"));
    }

    [Test]
    public void Exchange_EndlessLineWithoutLf_IsRejectedAtTheLimit()
    {
        var ex = Assert.ThrowsAsync<SshProtocolException>(() => ReadAsClientAsync("SSH-2.0-" + new string('x', 400)));
        Assert.That(ex!.Message, Does.Contain("255"));
    }

    [Test]
    public async Task Exchange_ClientSkipsLinesBeforeTheServersLine()
    {
        SshPacketizer client = await ReadAsClientAsync("Welcome!\r\nThis host is monitored.\n\r\nSSH-2.0-Server\r\n");
        Assert.That(client.RemoteIdentification, Is.EqualTo("SSH-2.0-Server"));
    }

    [Test]
    public void Exchange_TooManyPreBannerLines_IsRejected()
    {
        string lines = string.Concat(Enumerable.Repeat("junk\r\n", 11)) + "SSH-2.0-Server\r\n";
        var ex = Assert.ThrowsAsync<SshProtocolException>(() => ReadAsClientAsync(lines, new SshPacketizerOptions { MaxPreBannerLines = 10 }));
        Assert.That(ex!.Message, Does.Contain("10 lines"));
    }

    [Test]
    public async Task Exchange_PreBannerLinesAtTheLimit_AreAccepted()
    {
        string lines = string.Concat(Enumerable.Repeat("junk\r\n", 10)) + "SSH-2.0-Server\r\n";
        SshPacketizer client = await ReadAsClientAsync(lines, new SshPacketizerOptions { MaxPreBannerLines = 10 });
        Assert.That(client.RemoteIdentification, Is.EqualTo("SSH-2.0-Server"));
    }

    [Test]
    public void Exchange_TooManyPreBannerBytes_IsRejected()
    {
        var ex = Assert.ThrowsAsync<SshProtocolException>(() => ReadAsClientAsync(new string('a', 5000) + "\r\nSSH-2.0-Server\r\n", new SshPacketizerOptions { MaxPreBannerBytes = 4096 }));
        Assert.That(ex!.Message, Does.Contain("4096 bytes"));
    }

    [Test]
    public void Exchange_EndlessPreBannerWithoutLf_IsRejected()
    {
        Assert.ThrowsAsync<SshProtocolException>(() => ReadAsClientAsync(new string('a', 5000), new SshPacketizerOptions { MaxPreBannerBytes = 4096 }));
    }

    [Test]
    public void Exchange_PreBannerLineWithNul_IsRejected()
    {
        Assert.ThrowsAsync<SshProtocolException>(() => ReadAsClientAsync("bad\0line\r\nSSH-2.0-Server\r\n"));
    }

    [Test]
    public async Task Exchange_ServerRejectsLinesBeforeTheClientsLine()
    {
        var pipes = new PipePair();
        var server = new SshPacketizer(pipes.Server, SshRole.Server);
        await pipes.ClientToServer.Writer.WriteAsync("hello\r\nSSH-2.0-Client\r\n"u8.ToArray());
        var ex = Assert.ThrowsAsync<SshProtocolException>(async () => await server.ExchangeIdentificationAsync());
        Assert.That(ex!.Message, Does.Contain("not an SSH identification"));
    }

    [Test]
    public async Task Exchange_ServerRejectsNonSshBytesBeforeAnyLf()
    {
        var pipes = new PipePair();
        var server = new SshPacketizer(pipes.Server, SshRole.Server);
        await pipes.ClientToServer.Writer.WriteAsync("GET / HTTP/1.1"u8.ToArray());
        Assert.ThrowsAsync<SshProtocolException>(async () => await server.ExchangeIdentificationAsync());
    }

    [Test]
    public async Task Exchange_ArrivingByteByByte_IsRead()
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        Task exchange = client.ExchangeIdentificationAsync().AsTask();
        foreach (byte b in "pre\r\nSSH-2.0-Slow\r\n"u8.ToArray())
        {
            await pipes.ServerToClient.Writer.WriteAsync(new[] { b });
        }

        await exchange;
        Assert.That(client.RemoteIdentification, Is.EqualTo("SSH-2.0-Slow"));
    }

    [Test]
    public async Task Exchange_BytesAfterTheLine_StayForThePacketReader()
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        byte[] packet = Packets.None(Packets.Payload(SshMessageNumber.KexInit, 40, 9));
        await pipes.ServerToClient.Writer.WriteAsync((byte[])[.. "SSH-2.0-Fast\r\n"u8.ToArray(), .. packet]);
        await client.ExchangeIdentificationAsync();
        SshPacket read = await client.ReadPacketAsync();
        Assert.That(read.Payload.ToArray(), Is.EqualTo(Packets.Payload(SshMessageNumber.KexInit, 40, 9)));
    }

    [Test]
    public async Task Exchange_ConnectionClosedFirst_IsConnectionLost()
    {
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client);
        await pipes.ServerToClient.Writer.WriteAsync("SSH-2.0-Cut"u8.ToArray());
        await pipes.ServerToClient.Writer.CompleteAsync();
        var ex = Assert.ThrowsAsync<SshProtocolException>(async () => await client.ExchangeIdentificationAsync());
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.ConnectionLost));
    }

    [Test]
    public async Task Exchange_NoLineWithinTimeout_TimesOut()
    {
        var time = new FakeTimeProvider();
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client, new SshPacketizerOptions { TimeProvider = time, IdentificationTimeout = TimeSpan.FromSeconds(10) });
        Task exchange = client.ExchangeIdentificationAsync().AsTask();
        await pipes.ServerToClient.Writer.WriteAsync("SSH-2.0-Stal"u8.ToArray());
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.That(exchange.IsCompleted, Is.False);
        time.Advance(TimeSpan.FromSeconds(1));
        var ex = Assert.ThrowsAsync<SshTimeoutException>(() => exchange);
        Assert.That(ex!.Message, Does.Contain("identification"));
        Assert.That((ex.Kind, ex.Timeout), Is.EqualTo((SshTimeoutKind.Identification, TimeSpan.FromSeconds(10))));
    }

    [Test]
    public async Task Exchange_LineInTime_DoesNotTimeOutLaterReads()
    {
        var time = new FakeTimeProvider();
        var pipes = new PipePair();
        var client = new SshPacketizer(pipes.Client, SshRole.Client, new SshPacketizerOptions { TimeProvider = time, IdentificationTimeout = TimeSpan.FromSeconds(10) });
        await pipes.ServerToClient.Writer.WriteAsync("SSH-2.0-Ok\r\n"u8.ToArray());
        await client.ExchangeIdentificationAsync();
        time.Advance(TimeSpan.FromSeconds(60));
        Task<SshPacket> read = client.ReadPacketAsync().AsTask();
        await pipes.ServerToClient.Writer.WriteAsync(Packets.None([SshMessageNumber.Ignore, 0, 0, 0, 0]));
        Assert.That((await read).MessageNumber, Is.EqualTo(SshMessageNumber.Ignore));
    }

    [TestCase("Has Space")]
    [TestCase("Has-Minus")]
    [TestCase("")]
    [TestCase("Ünicode")]
    public void Options_BadSoftwareVersion_IsRejected(string version)
    {
        var pipes = new PipePair();
        Assert.Throws<ArgumentException>(() => _ = new SshPacketizer(pipes.Client, SshRole.Client, new SshPacketizerOptions { SoftwareVersion = version }));
    }
}
