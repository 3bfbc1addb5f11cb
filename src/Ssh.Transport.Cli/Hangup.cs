namespace Ssh.Transport.Cli;

/// <summary>
/// A client's polite end of a connection: SSH_MSG_DISCONNECT, then reading until the server closes its side, then
/// closing ours.
/// </summary>
/// <remarks>
/// <see cref="SshTransport.DisconnectAsync"/> closes the socket right after the DISCONNECT. If the server still has
/// something in flight to us (a KEXINIT of its own, say), closing with unread data makes the kernel reset the
/// connection, and the server may lose our DISCONNECT and the data before it. So the DISCONNECT goes out through the
/// packetizer, and the read loop keeps going until the server hangs up.
/// </remarks>
internal static class Hangup
{
    public static async Task DisconnectAndDrainAsync(SshTransport transport, Task reading, CancellationTokenSource readStop, string description, TimeSpan drainTimeout)
    {
        try
        {
            using var sendTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await transport.DisconnectAsync(SshDisconnectReason.ByApplication, description, sendTimeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (CliMain.IsExpected(e))
        {
            // The server may already have gone.
        }

        await readStop.CancelAsync().ConfigureAwait(false);
        try
        {
            await reading.ConfigureAwait(false);
        }
        catch (Exception e) when (CliMain.IsExpected(e))
        {
            // The read loop ends with the connection: closed, reset, or cancelled just now.
        }

        await transport.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>SSH_MSG_DISCONNECT (RFC 4253 §11.1): reason by-application, a description, no language tag.</summary>
    private static byte[] DisconnectPayload(string description)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new SshWriter(buffer);
        writer.WriteByte(SshMessageNumber.Disconnect);
        writer.WriteUInt32((uint)SshDisconnectReason.ByApplication);
        writer.WriteString(description);
        writer.WriteString(string.Empty);
        return buffer.WrittenSpan.ToArray();
    }
}
