using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Ssh.Transport;

/// <summary>
/// A connected socket as a duplex pipe, for connections we make ourselves (Kestrel has its own for accepted ones).
/// Receiving waits for data with a zero-byte read, holding no buffer while the connection is idle, then reads up to
/// <see cref="ReceiveSegmentSize"/> at once, so a burst of packets costs one wake-up and one read instead of one per
/// 64 KiB (docs/performance.md). Sending runs inside the writer's flush; while a send is pending, later packets queue in
/// the pipe and leave together.
/// </summary>
/// <remarks>
/// Completing <see cref="Output"/> sends what is queued and then a FIN; the socket is closed once both <see cref="Input"/>
/// and <see cref="Output"/> are complete, or <see cref="DefaultSendDrainTimeout"/> after Input when a peer that does not
/// read keeps the last bytes from leaving. Socket errors reach the transport as <see cref="IOException"/>, as they did
/// through <see cref="NetworkStream"/>.
/// </remarks>
internal sealed class SocketDuplexPipe : IDuplexPipe
{
    /// <summary>
    /// The receive pipe's segment size: the most one read takes. Reads go on filling a segment while 16 KiB of it are
    /// left, so a receiver that falls behind finds its packets side by side, where hmac-sha2-256-etm tags are checked
    /// sixteen 32 KiB packets at a time (a quarter of this; <see cref="Crypto.PacketOpener.VerifyAhead"/>).
    /// </summary>
    public const int ReceiveSegmentSize = 1024 * 1024;

    /// <summary>
    /// The send pipe's segment size: packets written together share a segment and leave in one send (a 32 KiB packet
    /// per 64 KiB segment made every packet a send of its own).
    /// </summary>
    public const int SendSegmentSize = 256 * 1024;

    /// <summary>The least room a read is given; with less left in the current segment, a new one is taken.</summary>
    private const int MinimumReadSize = 16 * 1024;

    /// <summary>Received bytes the transport has not read yet, past which reading the socket pauses.</summary>
    private const long MaxUnreadBytes = 1024 * 1024;

    /// <summary>Bytes waiting to be sent, past which the writer's flush waits.</summary>
    private const long MaxUnsentBytes = 1024 * 1024;

    /// <summary>
    /// How long what is still queued may take to leave once the transport has completed <see cref="Input"/> (it is
    /// done with the connection): a peer that never reads would otherwise hold the socket open forever.
    /// </summary>
    public static readonly TimeSpan DefaultSendDrainTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly Task _sending;
    private readonly TimeSpan _sendDrainTimeout;
    private int _openSides = 2;

    public SocketDuplexPipe(Socket socket)
        : this(socket, DefaultSendDrainTimeout)
    {
    }

    internal SocketDuplexPipe(Socket socket, TimeSpan sendDrainTimeout)
    {
        _socket = socket;
        _sendDrainTimeout = sendDrainTimeout;

        // Inline: the transport's read loop continues on the thread that completed the socket read, and its flush
        // sends on its own thread; no hand-over to another thread-pool thread on either side.
        _input = new Pipe(new PipeOptions(
            pauseWriterThreshold: MaxUnreadBytes, resumeWriterThreshold: MaxUnreadBytes / 2, minimumSegmentSize: ReceiveSegmentSize,
            readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(
            pauseWriterThreshold: MaxUnsentBytes, resumeWriterThreshold: MaxUnsentBytes / 2, minimumSegmentSize: SendSegmentSize,
            readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false));
        Input = new InputReader(this, _input.Reader);
        Output = _output.Writer;
        _ = ReceiveAsync();
        _sending = SendAsync();
    }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    private async Task ReceiveAsync()
    {
        PipeWriter writer = _input.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                // Wait for data without a buffer (what Kestrel calls WaitForDataBeforeAllocatingBuffer).
                await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                Memory<byte> memory = writer.GetMemory(MinimumReadSize);
                int read = await _socket.ReceiveAsync(memory, SocketFlags.None).ConfigureAwait(false);
                if (read == 0)
                {
                    break; // the peer's FIN
                }

                writer.Advance(read);
                FlushResult flushed = await writer.FlushAsync().ConfigureAwait(false);
                if (flushed.IsCompleted)
                {
                    break; // the transport stopped reading
                }
            }
        }
        catch (SocketException e)
        {
            error = new IOException($"Unable to read data from the transport connection: {e.Message}", e);
        }
        catch (ObjectDisposedException e)
        {
            error = new IOException("The connection was closed.", e);
        }

        await writer.CompleteAsync(error).ConfigureAwait(false);
    }

    private async Task SendAsync()
    {
        PipeReader reader = _output.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                try
                {
                    foreach (ReadOnlyMemory<byte> segment in buffer)
                    {
                        ReadOnlyMemory<byte> rest = segment;
                        while (!rest.IsEmpty)
                        {
                            int sent = await _socket.SendAsync(rest, SocketFlags.None).ConfigureAwait(false);
                            rest = rest[sent..];
                        }
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.End);
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }

            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException e)
        {
            error = new IOException($"Unable to write data to the transport connection: {e.Message}", e);
        }
        catch (ObjectDisposedException e)
        {
            error = new IOException("The connection was closed.", e);
        }

        // With an error, the transport's next flush throws it.
        await reader.CompleteAsync(error).ConfigureAwait(false);
        SideClosed();
    }

    /// <summary>One side is done: the transport completed Input, or everything it wrote went out. After both, close.</summary>
    private bool SideClosed()
    {
        if (Interlocked.Decrement(ref _openSides) == 0)
        {
            _socket.Dispose(); // also ends a zero-byte read still waiting
            return true;
        }

        return false;
    }

    /// <summary>The transport completed Input: close once the queued bytes have left, or after the drain timeout.</summary>
    private void InputCompleted()
    {
        if (!SideClosed())
        {
            _ = CloseAfterDrainAsync();
        }
    }

    private async Task CloseAfterDrainAsync()
    {
        await Task.WhenAny(_sending, Task.Delay(_sendDrainTimeout)).ConfigureAwait(false);
        _socket.Dispose(); // a send still waiting for the peer to read fails, and the send loop ends
    }

    /// <summary>The transport's reader: completing it counts as one side closed.</summary>
    private sealed class InputReader(SocketDuplexPipe owner, PipeReader inner) : PipeReader
    {
        private int _completed;

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => inner.ReadAsync(cancellationToken);

        public override bool TryRead(out ReadResult result) => inner.TryRead(out result);

        public override void Complete(Exception? exception = null)
        {
            inner.Complete(exception);
            if (Interlocked.Exchange(ref _completed, 1) == 0)
            {
                owner.InputCompleted();
            }
        }
    }
}
