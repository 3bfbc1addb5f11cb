using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Ssh.Transport.Connection;

/// <summary>
/// Joins a TCP connection and a channel, both ways: what the socket reads goes out as channel data, what the channel
/// receives is written to the socket. Half-closes travel across: the socket's end of input becomes the channel's
/// EOF, the channel's EOF a shutdown of the socket's sending side. Both directions ended, the channel is closed and
/// the socket too.
/// </summary>
internal static class TcpChannelPump
{
    private const int ReadSize = 32 * 1024;

    public static async Task RunAsync(Socket socket, SshChannel channel, CancellationToken cancellationToken)
    {
        try
        {
            Task up = SocketToChannelAsync(socket, channel.Output, cancellationToken);
            Task down = ChannelToSocketAsync(channel.Input, socket, cancellationToken);
            Task first = await Task.WhenAny(up, down).ConfigureAwait(false);
            if (first.IsFaulted || first.IsCanceled)
            {
                // One way broke (a reset, the channel closed under us): the other cannot go on meaningfully.
                channel.Input.CancelPendingRead();
                try
                {
                    socket.Shutdown(SocketShutdown.Both);
                }
                catch (SocketException)
                {
                    // Already down.
                }
            }

            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidOperationException or SshProtocolException or ObjectDisposedException)
        {
            // Either end went away; closing both below is all there is to do.
        }
        finally
        {
            await channel.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
        }
    }

    private static async Task SocketToChannelAsync(Socket socket, PipeWriter output, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                Memory<byte> memory = output.GetMemory(ReadSize);
                int read = await socket.ReceiveAsync(memory, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                output.Advance(read);
                FlushResult flushed = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    break;
                }
            }
        }
        finally
        {
            // EOF to the peer, after what was written.
            await output.CompleteAsync().ConfigureAwait(false);
        }
    }

    private static async Task ChannelToSocketAsync(PipeReader input, Socket socket, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            try
            {
                foreach (ReadOnlyMemory<byte> segment in buffer)
                {
                    await socket.SendAsync(segment, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                input.AdvanceTo(buffer.End);
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                break;
            }
        }

        // The peer's EOF: the local side reads end of file, and may still send.
        socket.Shutdown(SocketShutdown.Send);
    }
}
