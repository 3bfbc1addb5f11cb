using System.Text;

namespace Ssh.Transport.Connection;

/// <summary>
/// The type-specific data of session and forwarding messages (RFC 4254 §6, §7), written in place and parsed from a
/// request's data. A malformed message is a protocol error: OpenSSH disconnects for it too.
/// </summary>
internal static class SessionWire
{
    /// <summary>The longest name or value we accept in a string field that names something (a command may be longer).</summary>
    internal const int MaxNameLength = 1024;

    /// <summary>RFC 4254 §7.1: a port is a uint32 on the wire but a TCP port in fact.</summary>
    private const uint MaxPort = 65535;

    private static readonly UTF8Encoding s_lenientUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    // --- §6.2 pty-req: string TERM, uint32 cols, rows, width px, height px, string encoded modes.

    public static void WritePseudoTerminal(ref SshWriter writer, SshPseudoTerminal terminal)
    {
        writer.WriteString(terminal.TerminalType);
        WriteSize(ref writer, terminal.Size);
        writer.WriteString(terminal.Modes.Count * 5 + 1, terminal.Modes, static (ref SshWriter w, IReadOnlyDictionary<byte, uint> modes) =>
        {
            foreach (KeyValuePair<byte, uint> mode in modes.OrderBy(m => m.Key))
            {
                w.WriteByte(mode.Key);
                w.WriteUInt32(mode.Value);
            }

            w.WriteByte(SshPseudoTerminal.TtyOpEnd);
        });
    }

    public static SshPseudoTerminal ReadPseudoTerminal(ReadOnlySpan<byte> data)
    {
        var reader = new SshReader(data);
        string term = ReadName(ref reader, "pty-req terminal type");
        SshTerminalSize size = ReadSize(ref reader);
        ReadOnlySpan<byte> encoded = reader.ReadString();
        var modes = new Dictionary<byte, uint>();
        var modeReader = new SshReader(encoded);
        while (!modeReader.End)
        {
            byte opcode = modeReader.ReadByte();

            // §8: opcodes 160-255 are not defined and stop the parse (their arguments are unknown), as in OpenSSH.
            if (opcode is SshPseudoTerminal.TtyOpEnd or >= 160)
            {
                break;
            }

            modes[opcode] = modeReader.ReadUInt32();
        }

        return new SshPseudoTerminal(term, size, modes);
    }

    // --- §6.7 window-change: uint32 cols, rows, width px, height px.

    public static void WriteSize(ref SshWriter writer, SshTerminalSize size)
    {
        writer.WriteUInt32(size.Columns);
        writer.WriteUInt32(size.Rows);
        writer.WriteUInt32(size.PixelWidth);
        writer.WriteUInt32(size.PixelHeight);
    }

    public static SshTerminalSize ReadWindowChange(ReadOnlySpan<byte> data)
    {
        var reader = new SshReader(data);
        return ReadSize(ref reader);
    }

    private static SshTerminalSize ReadSize(ref SshReader reader) =>
        new(reader.ReadUInt32(), reader.ReadUInt32(), reader.ReadUInt32(), reader.ReadUInt32());

    // --- §6.4 env: string name, string value.

    public static void WriteEnvironment(ref SshWriter writer, (string Name, string Value) variable)
    {
        writer.WriteString(variable.Name);
        writer.WriteString(variable.Value);
    }

    public static (string Name, string Value) ReadEnvironment(ReadOnlySpan<byte> data)
    {
        var reader = new SshReader(data);
        string name = ReadName(ref reader, "env name");
        string value = Decode(reader.ReadString());
        return (name, value);
    }

    // --- §6.5 exec (string command), subsystem (string name); §6.9 signal (string name without "SIG").

    public static void WriteText(ref SshWriter writer, string text) => writer.WriteString(text);

    /// <summary>A command: bytes, decoded leniently (a shell gets what the user typed, whatever its encoding).</summary>
    public static string ReadCommand(ReadOnlySpan<byte> data)
    {
        var reader = new SshReader(data);
        return Decode(reader.ReadString());
    }

    public static string ReadName(ReadOnlySpan<byte> data, string what)
    {
        var reader = new SshReader(data);
        return ReadName(ref reader, what);
    }

    // --- §6.10 exit-status (uint32), exit-signal (string name, boolean core dumped, string message, string language).

    public static void WriteExitStatus(ref SshWriter writer, SshExitStatus status)
    {
        if (status.ExitCode is int code)
        {
            writer.WriteUInt32(unchecked((uint)code));
            return;
        }

        writer.WriteString(status.Signal ?? throw new ArgumentException("An unknown exit status cannot be sent.", nameof(status)));
        writer.WriteBoolean(status.CoreDumped);
        writer.WriteString(status.ErrorMessage);
        writer.WriteString(string.Empty);
    }

    public static SshExitStatus ReadExitStatus(ReadOnlySpan<byte> data)
    {
        var reader = new SshReader(data);
        return SshExitStatus.FromExitCode(unchecked((int)reader.ReadUInt32()));
    }

    public static SshExitStatus ReadExitSignal(ReadOnlySpan<byte> data)
    {
        var reader = new SshReader(data);
        string signal = ReadName(ref reader, "exit-signal name");
        if (signal.Length == 0)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "exit-signal without a signal name.");
        }

        bool core = reader.ReadBoolean();
        string message = Decode(reader.ReadString());
        return SshExitStatus.FromSignal(signal, core, message);
    }

    // --- §7.2 direct-tcpip / forwarded-tcpip: string host, uint32 port, string originator address, uint32 port.

    public static void WriteTcpIpChannel(ref SshWriter writer, SshTcpIpChannelInfo info)
    {
        writer.WriteString(info.Host);
        writer.WriteUInt32((uint)info.Port);
        writer.WriteString(info.OriginatorAddress);
        writer.WriteUInt32((uint)info.OriginatorPort);
    }

    public static SshTcpIpChannelInfo ReadTcpIpChannel(ReadOnlySpan<byte> data)
    {
        var reader = new SshReader(data);
        string host = ReadName(ref reader, "host");
        int port = ReadPort(ref reader);
        string originator = ReadName(ref reader, "originator address");
        int originatorPort = ReadPort(ref reader);
        return new SshTcpIpChannelInfo(host, port, originator, originatorPort);
    }

    // --- §7.1 tcpip-forward / cancel-tcpip-forward: string address to bind, uint32 port (0: the server chooses).

    public static void WriteForward(ref SshWriter writer, (string Address, int Port) forward)
    {
        writer.WriteString(forward.Address);
        writer.WriteUInt32((uint)forward.Port);
    }

    public static (string Address, int Port) ReadForward(ReadOnlySpan<byte> data)
    {
        var reader = new SshReader(data);
        string address = ReadName(ref reader, "bind address");
        return (address, ReadPort(ref reader));
    }

    /// <summary>The REQUEST_SUCCESS data of a "tcpip-forward" for port 0: the port the server bound (§7.1).</summary>
    public static byte[] WriteBoundPort(int port)
    {
        var data = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(data, (uint)port);
        return data;
    }

    public static int ReadBoundPort(ReadOnlySpan<byte> data)
    {
        var reader = new SshReader(data);
        return ReadPort(ref reader);
    }

    private static int ReadPort(ref SshReader reader)
    {
        uint port = reader.ReadUInt32();
        if (port > MaxPort)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Port {port} is not a TCP port.");
        }

        return (int)port;
    }

    private static string ReadName(ref SshReader reader, string what)
    {
        ReadOnlySpan<byte> bytes = reader.ReadString();
        if (bytes.Length > MaxNameLength)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"The {what} is {bytes.Length} bytes long; at most {MaxNameLength} are accepted.");
        }

        return Decode(bytes);
    }

    private static string Decode(ReadOnlySpan<byte> bytes) => s_lenientUtf8.GetString(bytes);
}
