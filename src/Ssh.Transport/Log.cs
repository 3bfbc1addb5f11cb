using Microsoft.Extensions.Logging;
using Ssh.Transport.Framing;

namespace Ssh.Transport;

/// <summary>
/// Log messages (the set_log of paramiko's Packetizer). Packet summaries at Debug, payload hex dumps at Trace only
/// when <see cref="SshPacketizerOptions.LogPacketContents"/> is on. Key material is never logged; user-authentication
/// requests, which may carry passwords, are never dumped.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "<< #{SequenceNumber} {MessageName} ({MessageNumber}), {PayloadLength} bytes")]
    private static partial void PacketReadCore(ILogger logger, uint sequenceNumber, string messageName, byte messageNumber, int payloadLength);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = ">> #{SequenceNumber} {MessageName} ({MessageNumber}), {PayloadLength} bytes")]
    private static partial void PacketWrittenCore(ILogger logger, uint sequenceNumber, string messageName, byte messageNumber, int payloadLength);

    [LoggerMessage(EventId = 3, Level = LogLevel.Trace, Message = "{Direction} payload:\n{Dump}")]
    private static partial void PayloadDump(ILogger logger, string direction, string dump);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "New {Direction} keys in use: {Algorithm}")]
    public static partial void KeysSwitched(ILogger logger, string direction, string algorithm);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "Rekey needed: the {Direction} limit was reached")]
    public static partial void RekeyNeeded(ILogger logger, string direction);

    [LoggerMessage(EventId = 6, Level = LogLevel.Debug, Message = "Remote identification: {Identification}")]
    public static partial void RemoteIdentification(ILogger logger, string identification);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, Message = "Ignoring pre-identification line {LineNumber} from the server: {Line}")]
    public static partial void PreBannerLine(ILogger logger, int lineNumber, string line);

    [LoggerMessage(EventId = 8, Level = LogLevel.Debug, Message = "Keepalive: no packet for {Idle}")]
    public static partial void KeepAlive(ILogger logger, TimeSpan idle);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "Keepalive callback failed")]
    private static partial void KeepAliveFailedUnexpectedly(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 11, Level = LogLevel.Debug, Message = "Keepalive not sent: the connection has ended or is failing")]
    private static partial void KeepAliveFailedWithConnection(ILogger logger, Exception exception);

    /// <summary>Debug when the connection is going down (the peer dropped), Warning when the callback failed on its own.</summary>
    public static void KeepAliveFailed(ILogger logger, Exception exception)
    {
        if (IsPeerOrNetwork(exception))
        {
            KeepAliveFailedWithConnection(logger, exception);
        }
        else
        {
            KeepAliveFailedUnexpectedly(logger, exception);
        }
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "Handshake timed out after {Timeout}")]
    public static partial void HandshakeTimedOut(ILogger logger, TimeSpan timeout);

    [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "Key exchange {Number} started")]
    public static partial void KeyExchangeStarted(ILogger logger, int number);

    [LoggerMessage(EventId = 21, Level = LogLevel.Debug, Message = "Negotiated: {Algorithms}")]
    public static partial void Negotiated(ILogger logger, string algorithms);

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "Key exchange {Number} completed: {Algorithms}")]
    public static partial void KeyExchangeCompleted(ILogger logger, int number, string algorithms);

    [LoggerMessage(EventId = 23, Level = LogLevel.Debug, Message = "Peer DEBUG message: {Text}")]
    public static partial void PeerDebug(ILogger logger, string text);

    [LoggerMessage(EventId = 24, Level = LogLevel.Debug, Message = "Peer did not implement our packet #{SequenceNumber}")]
    public static partial void PeerUnimplemented(ILogger logger, uint sequenceNumber);

    [LoggerMessage(EventId = 25, Level = LogLevel.Information, Message = "Disconnecting ({Reason}): {Description}")]
    public static partial void SendingDisconnect(ILogger logger, SshDisconnectReason reason, string description);

    [LoggerMessage(EventId = 26, Level = LogLevel.Warning, Message = "Could not start a rekey")]
    private static partial void RekeyStartFailedUnexpectedly(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 30, Level = LogLevel.Debug, Message = "Rekey not started: the connection has ended or is failing")]
    private static partial void RekeyStartFailedWithConnection(ILogger logger, Exception exception);

    /// <summary>Debug when the connection is going down, Warning otherwise.</summary>
    public static void RekeyStartFailed(ILogger logger, Exception exception)
    {
        if (IsPeerOrNetwork(exception))
        {
            RekeyStartFailedWithConnection(logger, exception);
        }
        else
        {
            RekeyStartFailedUnexpectedly(logger, exception);
        }
    }

    public static void PacketRead(TransportState transport, uint sequenceNumber, byte messageNumber, ReadOnlySpan<byte> payload)
    {
        ILogger logger = transport.Logger;
        if (logger.IsEnabled(LogLevel.Debug))
        {
            PacketReadCore(logger, sequenceNumber, SshMessageNumber.GetName(messageNumber), messageNumber, payload.Length);
            DumpIfEnabled(transport, "<<", messageNumber, payload);
        }
    }

    public static void PacketWritten(TransportState transport, uint sequenceNumber, byte messageNumber, ReadOnlySpan<byte> payload)
    {
        ILogger logger = transport.Logger;
        if (logger.IsEnabled(LogLevel.Debug))
        {
            PacketWrittenCore(logger, sequenceNumber, SshMessageNumber.GetName(messageNumber), messageNumber, payload.Length);
            DumpIfEnabled(transport, ">>", messageNumber, payload);
        }
    }

    private static void DumpIfEnabled(TransportState transport, string direction, byte messageNumber, ReadOnlySpan<byte> payload)
    {
        if (!transport.Options.LogPacketContents || !transport.Logger.IsEnabled(LogLevel.Trace))
        {
            return;
        }

        // USERAUTH_REQUEST (50) and USERAUTH_INFO_RESPONSE (61) can carry passwords: name them, never dump them.
        string dump = messageNumber is SshMessageNumber.UserAuthRequest or SshMessageNumber.UserAuthInfoResponse
            ? "(user authentication payload not shown)"
            : HexDump(payload);
        PayloadDump(transport.Logger, direction, dump);
    }

    /// <summary>16 bytes a line: offset, hex, ASCII.</summary>
    internal static string HexDump(ReadOnlySpan<byte> data)
    {
        var text = new System.Text.StringBuilder(data.Length * 4 + 16);
        for (int offset = 0; offset < data.Length; offset += 16)
        {
            ReadOnlySpan<byte> line = data.Slice(offset, Math.Min(16, data.Length - offset));
            text.Append(offset.ToString("x4", System.Globalization.CultureInfo.InvariantCulture)).Append("  ");
            for (int i = 0; i < 16; i++)
            {
                text.Append(i < line.Length ? line[i].ToString("x2", System.Globalization.CultureInfo.InvariantCulture) : "  ").Append(' ');
            }

            text.Append(' ');
            foreach (byte b in line)
            {
                text.Append(b is >= 0x20 and < 0x7F ? (char)b : '.');
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    [LoggerMessage(EventId = 27, Level = LogLevel.Debug, Message = "The peer ended the connection ({Reason}): {Description}")]
    public static partial void ConnectionEndedByPeer(ILogger logger, SshDisconnectReason reason, string description);

    [LoggerMessage(EventId = 28, Level = LogLevel.Debug, Message = "Connection failed ({Reason})")]
    private static partial void ConnectionFailedByProtocol(ILogger logger, SshDisconnectReason reason, Exception exception);

    [LoggerMessage(EventId = 32, Level = LogLevel.Warning, Message = "Connection failed unexpectedly ({Reason})")]
    private static partial void ConnectionFailedUnexpectedly(ILogger logger, SshDisconnectReason reason, Exception exception);

    /// <summary>
    /// Debug for what peers and networks do (a protocol violation, a MAC error, a timeout, a lost connection); Warning
    /// for an exception the library did not expect, i.e. a fault of ours or of a callback.
    /// </summary>
    public static void ConnectionFailed(ILogger logger, SshDisconnectReason reason, Exception exception)
    {
        if (IsPeerOrNetwork(exception))
        {
            ConnectionFailedByProtocol(logger, reason, exception);
        }
        else
        {
            ConnectionFailedUnexpectedly(logger, reason, exception);
        }
    }

    [LoggerMessage(EventId = 29, Level = LogLevel.Warning, Message = "An event handler for {EventArgs} threw")]
    public static partial void EventHandlerFailed(ILogger logger, string eventArgs, Exception exception);

    [LoggerMessage(EventId = 31, Level = LogLevel.Debug, Message = "Handshake failed after {ElapsedMilliseconds} ms ({ErrorType})")]
    public static partial void HandshakeFailed(ILogger logger, long elapsedMilliseconds, string errorType, Exception exception);

    [LoggerMessage(EventId = 33, Level = LogLevel.Warning, Message = "Recording telemetry failed (a meter or activity listener threw?)")]
    public static partial void TelemetryFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 60, Level = LogLevel.Debug, Message = "PING of {Length} bytes not answered: before user authentication")]
    public static partial void PingBeforeAuthentication(ILogger logger, int length);

    [LoggerMessage(EventId = 62, Level = LogLevel.Debug, Message = "PING of {Length} bytes not answered: {Queued} answers already queued")]
    public static partial void PingOverLimit(ILogger logger, int length, int queued);

    [LoggerMessage(EventId = 61, Level = LogLevel.Trace, Message = "PONG of {Length} bytes sent")]
    public static partial void PongSent(ILogger logger, int length);

    [LoggerMessage(EventId = 63, Level = LogLevel.Debug, Message = "{Count} unanswered PING(s) sent again after a key exchange")]
    public static partial void PingsResent(ILogger logger, int count);

    /// <summary>
    /// True when <paramref name="exception"/> is what a peer or the network causes: an SSH protocol failure (a
    /// violation, a disconnect, a timeout, a rejected host key), a lost connection, a cancellation, or malformed input
    /// reported as such. False for anything else wrapped by the transport (an "Unexpected error"): a bug of ours or
    /// an exception out of a callback, which deserves a Warning.
    /// </summary>
    internal static bool IsPeerOrNetwork(Exception exception) => exception switch
    {
        SshProtocolException { InnerException: null } => true,
        // The transport wraps what it did not expect as ProtocolError ("Unexpected error"); a wrapper with another
        // reason (a malformed host key, corrupt zlib data) reports the peer's input.
        SshProtocolException { InnerException: { } inner } wrapper =>
            wrapper.Reason != SshDisconnectReason.ProtocolError || IsPeerOrNetwork(inner)
            || inner is FormatException or System.Security.Cryptography.CryptographicException or System.Text.DecoderFallbackException,
        IOException or System.Net.Sockets.SocketException or ObjectDisposedException or OperationCanceledException or TimeoutException => true,
        _ => false,
    };
}
