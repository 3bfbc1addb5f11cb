using System.Buffers;

namespace Ssh.Transport.Connection.Tests.Server;

/// <summary>The RFC 4254 wire forms of session and forwarding requests: written, read back, and malformed input refused.</summary>
public class SessionWireTests
{
    private static byte[] Write<T>(T value, SshDataWriter<T> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(buffer);
        write(ref writer, value);
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Bytes(Action<SshWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(new SshWriter(buffer));
        return buffer.WrittenSpan.ToArray();
    }

    [Test]
    public void PseudoTerminal_WithModes_RoundTrips()
    {
        var modes = new Dictionary<byte, uint> { [53] = 1, [3] = 127, [128] = 38400, [129] = 38400 };
        var terminal = new SshPseudoTerminal("xterm-256color", new SshTerminalSize(132, 43, 1056, 688), modes);
        byte[] data = Write(terminal, SessionWire.WritePseudoTerminal);
        SshPseudoTerminal read = SessionWire.ReadPseudoTerminal(data);
        Assert.Multiple(() =>
        {
            Assert.That(read.TerminalType, Is.EqualTo("xterm-256color"));
            Assert.That(read.Size, Is.EqualTo(new SshTerminalSize(132, 43, 1056, 688)));
            Assert.That(read.Modes, Is.EquivalentTo(modes));
        });
    }

    [Test]
    public void PseudoTerminal_ModesAsOpenSshEncodesThem_OpcodeThenUInt32_EndsAtTtyOpEnd()
    {
        // string TERM, uint32 x4, string modes = { 53 (ECHO) 1, 0 (TTY_OP_END) }, as ssh(1) sends it.
        byte[] data = Bytes(w =>
        {
            w.WriteString("vt100");
            w.WriteUInt32(80);
            w.WriteUInt32(24);
            w.WriteUInt32(0);
            w.WriteUInt32(0);
            w.WriteString([53, 0, 0, 0, 1, 0]);
        });
        SshPseudoTerminal read = SessionWire.ReadPseudoTerminal(data);
        Assert.That((read.TerminalType, read.Size, read.Modes[53]), Is.EqualTo(("vt100", new SshTerminalSize(80, 24), 1u)));
    }

    [Test]
    public void WindowChange_RoundTrips()
    {
        var size = new SshTerminalSize(200, 50, 1600, 900);
        Assert.That(SessionWire.ReadWindowChange(Write(size, SessionWire.WriteSize)), Is.EqualTo(size));
    }

    [Test]
    public void Environment_RoundTrips()
    {
        byte[] data = Write(("LC_ALL", "de_DE.UTF-8"), SessionWire.WriteEnvironment);
        Assert.That(SessionWire.ReadEnvironment(data), Is.EqualTo(("LC_ALL", "de_DE.UTF-8")));
    }

    [Test]
    public void Command_NotUtf8_IsReadLeniently()
    {
        byte[] data = Bytes(w => w.WriteString([(byte)'e', (byte)'c', (byte)'h', (byte)'o', (byte)' ', 0xFF]));
        Assert.That(SessionWire.ReadCommand(data), Is.EqualTo("echo \uFFFD"));
    }

    [Test]
    public void ExitStatus_RoundTrips_AsUInt32()
    {
        byte[] data = Write(SshExitStatus.FromExitCode(3), SessionWire.WriteExitStatus);
        Assert.That(data, Is.EqualTo(new byte[] { 0, 0, 0, 3 }));
        Assert.That(SessionWire.ReadExitStatus(data).ExitCode, Is.EqualTo(3));
    }

    [Test]
    public void ExitSignal_RoundTrips()
    {
        byte[] data = Write(SshExitStatus.FromSignal("KILL", coreDumped: true, "killed"), SessionWire.WriteExitStatus);
        SshExitStatus read = SessionWire.ReadExitSignal(data);
        Assert.That((read.Signal, read.CoreDumped, read.ErrorMessage, read.ExitCode), Is.EqualTo(("KILL", true, "killed", (int?)null)));
    }

    [Test]
    public void TcpIpChannel_RoundTrips()
    {
        var info = new SshTcpIpChannelInfo("example.com", 443, "192.0.2.1", 50000);
        Assert.That(SessionWire.ReadTcpIpChannel(Write(info, SessionWire.WriteTcpIpChannel)), Is.EqualTo(info));
    }

    [Test]
    public void Forward_AndBoundPort_RoundTrip()
    {
        Assert.That(SessionWire.ReadForward(Write(("localhost", 0), SessionWire.WriteForward)), Is.EqualTo(("localhost", 0)));
        Assert.That(SessionWire.ReadBoundPort(SessionWire.WriteBoundPort(40123)), Is.EqualTo(40123));
    }

    private static IEnumerable<TestCaseData> Malformed()
    {
        yield return new TestCaseData("pty-req cut in its sizes", (Action)(() => SessionWire.ReadPseudoTerminal(Bytes(w =>
        {
            w.WriteString("xterm");
            w.WriteUInt32(80);
        }))));
        yield return new TestCaseData("pty-req mode without its argument", (Action)(() => SessionWire.ReadPseudoTerminal(Bytes(w =>
        {
            w.WriteString("xterm");
            w.WriteUInt32(80);
            w.WriteUInt32(24);
            w.WriteUInt32(0);
            w.WriteUInt32(0);
            w.WriteString([53, 0, 0]);
        }))));
        yield return new TestCaseData("window-change cut", (Action)(() => SessionWire.ReadWindowChange([0, 0, 0, 80, 0, 0])));
        yield return new TestCaseData("env without value", (Action)(() => SessionWire.ReadEnvironment(Bytes(w => w.WriteString("LANG")))));
        yield return new TestCaseData("env name too long", (Action)(() => SessionWire.ReadEnvironment(Bytes(w =>
        {
            w.WriteString(new string('A', 2000));
            w.WriteString("x");
        }))));
        yield return new TestCaseData("string length past the end", (Action)(() => SessionWire.ReadCommand([0, 0, 1, 0, (byte)'x'])));
        yield return new TestCaseData("exit-signal without name", (Action)(() => SessionWire.ReadExitSignal(Bytes(w =>
        {
            w.WriteString(string.Empty);
            w.WriteBoolean(false);
            w.WriteString(string.Empty);
            w.WriteString(string.Empty);
        }))));
        yield return new TestCaseData("direct-tcpip port above 65535", (Action)(() => SessionWire.ReadTcpIpChannel(Bytes(w =>
        {
            w.WriteString("localhost");
            w.WriteUInt32(70000);
            w.WriteString("127.0.0.1");
            w.WriteUInt32(1);
        }))));
        yield return new TestCaseData("direct-tcpip without originator", (Action)(() => SessionWire.ReadTcpIpChannel(Bytes(w =>
        {
            w.WriteString("localhost");
            w.WriteUInt32(22);
        }))));
        yield return new TestCaseData("tcpip-forward without port", (Action)(() => SessionWire.ReadForward(Bytes(w => w.WriteString("")))));
        yield return new TestCaseData("bound port short", (Action)(() => SessionWire.ReadBoundPort([0, 1])));
    }

    [TestCaseSource(nameof(Malformed))]
    public void Malformed_IsAProtocolError(string what, Action read)
    {
        var e = Assert.Throws<SshProtocolException>(() => read(), what);
        Assert.That(e!.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError));
    }
}
