using Ssh.Transport.Connection;

namespace Ssh.Transport.Fuzz.Targets;

/// <summary>
/// The SessionWire parsers (RFC 4254 §6, §7 request and channel data). Byte 0 picks the parser (modulo); the rest is
/// the data. A malformed field must be a <see cref="SshProtocolException"/>; what parses must write back to data that
/// parses to the same value (round trip).
/// </summary>
internal static class SessionWireTarget
{
    private static readonly Action<byte[]>[] s_parsers =
    [
        data => RoundTrip(SessionWire.ReadPseudoTerminal(data), SessionWire.WritePseudoTerminal, SessionWire.ReadPseudoTerminal,
            static (a, b) => a.TerminalType == b.TerminalType && a.Size == b.Size && a.Modes.Count == b.Modes.Count && a.Modes.All(m => b.Modes.TryGetValue(m.Key, out uint v) && v == m.Value)),
        data => RoundTrip(SessionWire.ReadWindowChange(data), SessionWire.WriteSize, SessionWire.ReadWindowChange, static (a, b) => a == b),
        data => RoundTrip(SessionWire.ReadEnvironment(data), SessionWire.WriteEnvironment, SessionWire.ReadEnvironment, static (a, b) => a == b),
        data => _ = SessionWire.ReadCommand(data),
        data => _ = SessionWire.ReadName(data, "subsystem name"),
        data => RoundTrip(SessionWire.ReadExitStatus(data), SessionWire.WriteExitStatus, SessionWire.ReadExitStatus, static (a, b) => a.ExitCode == b.ExitCode),
        data => RoundTrip(SessionWire.ReadExitSignal(data), SessionWire.WriteExitStatus, SessionWire.ReadExitSignal,
            static (a, b) => a.Signal == b.Signal && a.CoreDumped == b.CoreDumped && a.ErrorMessage == b.ErrorMessage),
        data => RoundTrip(SessionWire.ReadTcpIpChannel(data), SessionWire.WriteTcpIpChannel, SessionWire.ReadTcpIpChannel, static (a, b) => a == b),
        data => RoundTrip(SessionWire.ReadForward(data), SessionWire.WriteForward, SessionWire.ReadForward, static (a, b) => a == b),
        data =>
        {
            int port = SessionWire.ReadBoundPort(data);
            if (SessionWire.ReadBoundPort(SessionWire.WriteBoundPort(port)) != port)
            {
                throw new FuzzFindingException("Bound port does not round-trip.");
            }
        },
    ];

    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        try
        {
            s_parsers[input[0] % s_parsers.Length](input[1..]);
        }
        catch (SshProtocolException)
        {
        }
    }

    private delegate void Writer<T>(ref SshWriter writer, T value);

    private delegate T Reader<T>(ReadOnlySpan<byte> data);

    private static void RoundTrip<T>(T value, Writer<T> write, Reader<T> read, Func<T, T, bool> equal)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new SshWriter(buffer);
        write(ref writer, value);
        T again;
        try
        {
            again = read(buffer.WrittenSpan);
        }
        catch (SshProtocolException e)
        {
            throw new FuzzFindingException($"A value the parser accepted does not parse once written back: {value}", e);
        }

        if (!equal(value, again))
        {
            throw new FuzzFindingException($"A parsed value does not round-trip: {value} vs {again}.");
        }
    }
}
