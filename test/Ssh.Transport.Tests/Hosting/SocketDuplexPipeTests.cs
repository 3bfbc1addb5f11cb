using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Ssh.Transport.Tests.Hosting;

/// <summary>
/// The socket pipe of SshClientConnector.CreatePipe: bytes arrive in order both ways (large bursts, many small writes),
/// completing both ends closes the socket (the peer reads EOF), completing the output sends a FIN, and a reset
/// connection ends the input with an IOException.
/// </summary>
public class SocketDuplexPipeTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Test]
    public async Task LargeAndSmallWrites_ArriveInOrder_BothWays()
    {
        (Socket a, Socket b) = await ConnectedPairAsync();
        IDuplexPipe left = SshClientConnector.CreatePipe(a);
        IDuplexPipe right = SshClientConnector.CreatePipe(b);
        byte[] big = RandomNumberGenerator.GetBytes(3 * SocketDuplexPipe.ReceiveSegmentSize + 12345);

        Task<byte[]> toRight = ReadAllAsync(right.Input);
        Task<byte[]> toLeft = ReadAllAsync(left.Input);
        await left.Output.WriteAsync(big);
        for (int i = 0; i < 1000; i++)
        {
            // Many small flushes, as a transport writing one packet at a time.
            await right.Output.WriteAsync(big.AsMemory(i * 7, 7));
        }

        await left.Output.CompleteAsync();
        await right.Output.CompleteAsync();
        byte[] atRight = await toRight.WaitAsync(s_timeout);
        byte[] atLeft = await toLeft.WaitAsync(s_timeout);
        await left.Input.CompleteAsync();
        await right.Input.CompleteAsync();

        Assert.Multiple(() =>
        {
            Assert.That(atRight.AsSpan().SequenceEqual(big), Is.True, "left to right");
            Assert.That(atLeft.AsSpan().SequenceEqual(big.AsSpan(0, 7000)), Is.True, "right to left");
        });
    }

    [Test]
    public async Task CompletingBothEnds_ClosesTheSocket_PeerReadsEof()
    {
        (Socket a, Socket b) = await ConnectedPairAsync();
        using Socket peer = b;
        IDuplexPipe pipe = SshClientConnector.CreatePipe(a);
        await pipe.Output.WriteAsync(new byte[] { 1, 2, 3 });
        await pipe.Output.CompleteAsync();
        await pipe.Input.CompleteAsync();

        byte[] buffer = new byte[16];
        int first = await peer.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(s_timeout);
        int second = await peer.ReceiveAsync(buffer.AsMemory(first), SocketFlags.None).AsTask().WaitAsync(s_timeout);
        Assert.Multiple(() =>
        {
            Assert.That(first + second, Is.EqualTo(3).Or.EqualTo(first), "the data before the end");
            Assert.That(buffer.AsSpan(0, 3).ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));
        });
        await WaitForSocketClosedAsync(a);
    }

    [Test]
    public async Task CompletingOutput_SendsFin_InputStillReads()
    {
        (Socket a, Socket b) = await ConnectedPairAsync();
        using Socket peer = b;
        IDuplexPipe pipe = SshClientConnector.CreatePipe(a);
        await pipe.Output.CompleteAsync();

        byte[] buffer = new byte[4];
        Assert.That(await peer.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(s_timeout), Is.Zero, "FIN after the output completed");
        await peer.SendAsync(new byte[] { 9, 8 }, SocketFlags.None);
        peer.Shutdown(SocketShutdown.Send);
        byte[] received = await ReadAllAsync(pipe.Input).WaitAsync(s_timeout);
        await pipe.Input.CompleteAsync();
        Assert.That(received, Is.EqualTo(new byte[] { 9, 8 }));
    }

    [Test]
    public async Task PeerReset_EndsInputWithIOException()
    {
        (Socket a, Socket b) = await ConnectedPairAsync();
        IDuplexPipe pipe = SshClientConnector.CreatePipe(a);
        b.LingerState = new LingerOption(true, 0); // close with RST
        b.Dispose();
        Assert.ThrowsAsync<IOException>(async () => await ReadAllAsync(pipe.Input).WaitAsync(s_timeout));
        await pipe.Input.CompleteAsync();
        await pipe.Output.CompleteAsync();
    }

    /// <summary>A peer that never reads: once the transport is done with both ends, the socket still closes (after the drain timeout).</summary>
    [Test]
    public async Task PeerNeverReads_SocketClosesAfterTheDrainTimeout()
    {
        (Socket a, Socket b) = await ConnectedPairAsync();
        using Socket peer = b;
        var pipe = new SocketDuplexPipe(a, TimeSpan.FromMilliseconds(200));
        byte[] chunk = new byte[256 * 1024];
        using var stuck = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        long written = 0;
        try
        {
            while (true)
            {
                // Kernel buffers and the pipe's limit fill up; then the flush waits for a peer that never reads.
                ValueTask<FlushResult> flushing = pipe.Output.WriteAsync(chunk, stuck.Token);
                if (!flushing.IsCompleted)
                {
                    pipe.Output.CancelPendingFlush();
                    await flushing;
                    break;
                }

                await flushing;
                written += chunk.Length;
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the flush never waited ({written} bytes written)");
        }

        await pipe.Output.CompleteAsync();
        await pipe.Input.CompleteAsync();
        await WaitForSocketClosedAsync(a);
    }

    private static async Task<(Socket, Socket)> ConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Task<Socket> accepted = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        return (client, await accepted);
    }

    private static async Task<byte[]> ReadAllAsync(PipeReader reader)
    {
        var all = new List<byte>();
        while (true)
        {
            ReadResult result = await reader.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                all.AddRange(segment.ToArray());
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return [.. all];
            }
        }
    }

    private static async Task WaitForSocketClosedAsync(Socket socket)
    {
        for (int i = 0; i < 500; i++)
        {
            if (socket.SafeHandle.IsClosed)
            {
                return;
            }

            await Task.Delay(10);
        }

        Assert.Fail("the socket was not closed after both ends completed");
    }
}
