using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;

namespace Ssh.Transport.Cli;

/// <summary>
/// The standard streams as bytes (not text): what exec copies to and from a command's channel. The process's own by
/// default; the tests pass streams of their own through <see cref="CliContext.Streams"/>.
/// </summary>
/// <param name="Input">Standard input, copied to the command.</param>
/// <param name="Output">Where the command's standard output goes.</param>
/// <param name="Error">Where the command's standard error goes.</param>
internal sealed record StandardStreams(Stream Input, Stream Output, Stream Error)
{
    /// <summary>
    /// Whether a write to <see cref="Output"/> never waits for a reader (a file, /dev/null), so it may be made on the
    /// connection's own thread. Seekable streams never wait; the console's are probed.
    /// </summary>
    public bool OutputNeverWaits { get; init; } = Output.CanSeek;

    /// <summary>As <see cref="OutputNeverWaits"/>, for <see cref="Error"/>.</summary>
    public bool ErrorNeverWaits { get; init; } = Error.CanSeek;

    /// <summary>
    /// Whether a read of <see cref="Input"/> never waits for a writer (a file, /dev/null), so it may be made on the
    /// connection's own thread when the channel takes more. Seekable streams never wait; the console's is probed.
    /// </summary>
    public bool InputNeverWaits { get; init; } = Input.CanSeek;

    /// <summary>
    /// The process's standard streams, unbuffered: every write is a write(2) of the bytes given, at once. Standard
    /// input from a terminal is read as it is too (the terminal's own line editing, ^D for end of file), not through
    /// .NET's console line editor, which would re-encode it.
    /// </summary>
    public static StandardStreams OpenConsole() => new(OpenInput(), Console.OpenStandardOutput(), Console.OpenStandardError())
    {
        InputNeverWaits = InlineIo.NeverWaits(0),
        OutputNeverWaits = InlineIo.NeverWaits(1),
        ErrorNeverWaits = InlineIo.NeverWaits(2),
    };

    private static Stream OpenInput()
    {
        try
        {
            return !Console.IsInputRedirected && !OperatingSystem.IsWindows()
                ? new FileStream(new SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 0)
                : Console.OpenStandardInput();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return Stream.Null; // no standard input at all (a closed descriptor): the command reads end of file
        }
    }
}

/// <summary>A write to the tool's own standard output or error failed (not the connection).</summary>
internal sealed class LocalOutputException : IOException
{
    public LocalOutputException()
    {
    }

    public LocalOutputException(string message)
        : base(message)
    {
    }

    public LocalOutputException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Copies between a command's channel and the standard streams. Reads and writes that may wait (a terminal, a pipe
/// whose reader is slow) run on a thread of their own, so that they never hold the thread that runs the connection;
/// an output that never waits for a reader (a file, /dev/null) is written where the channel's data arrives, which with
/// inline scheduling is the connection's receive thread: no wake-up of another thread per packet. Large reads and
/// writes, and no allocation per chunk: the outputs go from the channel's pipe to the stream (segments gathered into
/// one buffer per write), standard input is read straight into the pipe's memory.
/// </summary>
internal static class ChannelPump
{
    /// <summary>The size of each read of standard input.</summary>
    public const int InputChunk = 512 * 1024;

    /// <summary>The most bytes gathered for one write to an output.</summary>
    public const int OutputChunk = 128 * 1024;

    /// <summary>
    /// Copies a channel's output to <paramref name="target"/> until the channel's side ends (EOF, CLOSE, or the
    /// connection failing: that error is the session's to report, so the copy just ends).
    /// </summary>
    /// <returns>Completes when everything that came is written; faults with <see cref="LocalOutputException"/> when a write failed.</returns>
    /// <param name="source">The channel's output or extended output.</param>
    /// <param name="target">Where it goes.</param>
    /// <param name="name">The target's name, for the error.</param>
    /// <param name="neverWaits">Whether a write to <paramref name="target"/> never waits for a reader: then it is made
    /// in the read's continuation, else on a thread of its own.</param>
    public static Task CopyOutAsync(PipeReader source, Stream target, string name, bool neverWaits) =>
        neverWaits ? CopyOutInlineAsync(source, target, name) : Run($"exec {name}", () => CopyOut(source, target, name));

    /// <summary>
    /// Copies <paramref name="source"/> into the channel until its end, which then completes the writer (EOF to the
    /// command), or until the channel stops taking input (the command ended). A read error counts as the end.
    /// </summary>
    /// <returns>Completes when the copy ends; nobody needs to wait for it (a read may block until the process exits).</returns>
    /// <param name="source">Standard input.</param>
    /// <param name="target">The channel's input.</param>
    /// <param name="neverWaits">Whether a read of <paramref name="source"/> never waits for a writer: then each read is made
    /// where the previous flush completed (with inline scheduling, the connection's thread that let it go on), else on a
    /// thread of its own.</param>
    public static Task CopyInAsync(Stream source, PipeWriter target, bool neverWaits) =>
        neverWaits ? CopyInInlineAsync(source, target) : Run("exec standard input", () => CopyIn(source, target));

    private static Task Run(string name, Action copy)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                copy();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        {
            IsBackground = true, // a read of a terminal never ends by itself: it must not keep the process alive
            Name = name,
        };
        thread.Start();
        return done.Task;
    }

    private static void CopyOut(PipeReader source, Stream target, string name)
    {
        using var waiter = new BlockingWaiter();
        byte[] gathered = ArrayPool<byte>.Shared.Rent(OutputChunk);
        try
        {
            while (true)
            {
                ReadResult result;
                try
                {
                    result = waiter.Wait(source.ReadAsync());
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    return; // the connection failed: the session reports why
                }

                if (WriteAndAdvance(source, result, target, gathered, name))
                {
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(gathered);
        }
    }

    /// <summary>The same copy as <see cref="CopyOut"/>, for a target whose writes never wait: each write runs in the read's continuation.</summary>
    private static async Task CopyOutInlineAsync(PipeReader source, Stream target, string name)
    {
        byte[] gathered = ArrayPool<byte>.Shared.Rent(OutputChunk);
        try
        {
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await source.ReadAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    return; // the connection failed: the session reports why
                }

                if (WriteAndAdvance(source, result, target, gathered, name))
                {
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(gathered);
        }
    }

    /// <summary>Writes what one read brought and consumes it; returns whether the channel's side has ended.</summary>
    private static bool WriteAndAdvance(PipeReader source, in ReadResult result, Stream target, byte[] gathered, string name)
    {
        ReadOnlySequence<byte> buffer = result.Buffer;
        try
        {
            Write(buffer, target, gathered);
        }
        catch (Exception e) when (e is IOException or NotSupportedException or ObjectDisposedException or UnauthorizedAccessException)
        {
            source.AdvanceTo(buffer.End);
            throw new LocalOutputException($"cannot write {name}: {CliMain.Describe(e)}", e);
        }

        source.AdvanceTo(buffer.End);
        return result.IsCompleted || result.IsCanceled;
    }

    /// <summary>The smallest segment written as it is; smaller ones are gathered first (fewer write calls).</summary>
    public const int DirectWrite = 16 * 1024;

    /// <summary>Writes what one read brought: small segments gathered, large ones (whole packets) as they are, uncopied.</summary>
    private static void Write(ReadOnlySequence<byte> buffer, Stream target, byte[] gathered)
    {
        if (buffer.IsSingleSegment)
        {
            if (!buffer.IsEmpty)
            {
                target.Write(buffer.FirstSpan);
            }

            return;
        }

        int count = 0;
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            ReadOnlySpan<byte> span = segment.Span;
            if (span.Length >= DirectWrite || count + span.Length > gathered.Length)
            {
                if (count > 0)
                {
                    target.Write(gathered.AsSpan(0, count));
                    count = 0;
                }

                if (span.Length >= DirectWrite)
                {
                    target.Write(span);
                    continue;
                }
            }

            span.CopyTo(gathered.AsSpan(count));
            count += span.Length;
        }

        if (count > 0)
        {
            target.Write(gathered.AsSpan(0, count));
        }
    }

    private static void CopyIn(Stream source, PipeWriter target)
    {
        using var waiter = new BlockingWaiter();
        try
        {
            while (ReadAndAdvance(source, target))
            {
                FlushResult flushed = waiter.Wait(target.FlushAsync());
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    return; // the channel takes no more input
                }
            }
        }
        catch (Exception e) when (IsChannelEnd(e))
        {
            // The channel or the connection ended under the copy: nothing more can go anywhere.
        }
    }

    /// <summary>
    /// The same copy as <see cref="CopyIn"/>, for a source whose reads never wait: after a flush that had to wait
    /// (window, socket), the next read runs where the flush was let go, as `ssh` reads its input when its socket is
    /// writable; no thread of its own to wake per resume.
    /// </summary>
    private static async Task CopyInInlineAsync(Stream source, PipeWriter target)
    {
        // Go on on the thread pool: while every flush completes at once the loop never awaits, and the caller (which
        // then waits for the outputs and the exit status) would be held until standard input ended.
        await Task.Yield();
        try
        {
            while (ReadAndAdvance(source, target))
            {
                FlushResult flushed = await target.FlushAsync().ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    return; // the channel takes no more input
                }
            }
        }
        catch (Exception e) when (IsChannelEnd(e))
        {
            // The channel or the connection ended under the copy: nothing more can go anywhere.
        }
    }

    /// <summary>Reads one chunk straight into the pipe's memory; at the end completes the writer and returns false.</summary>
    private static bool ReadAndAdvance(Stream source, PipeWriter target)
    {
        Memory<byte> memory = target.GetMemory(InputChunk);
        int read;
        try
        {
            read = source.Read(memory.Span);
        }
        catch (Exception e) when (e is IOException or NotSupportedException or ObjectDisposedException or UnauthorizedAccessException)
        {
            read = 0; // unreadable standard input ends like an empty one
        }

        if (read == 0)
        {
            target.Complete(); // EOF to the command, once what was written has gone
            return false;
        }

        target.Advance(read);
        return true;
    }

    private static bool IsChannelEnd(Exception e) =>
        e is InvalidOperationException or SshProtocolException or OperationCanceledException or ObjectDisposedException or IOException;
}

/// <summary>
/// Blocks a thread of its own until a <see cref="ValueTask{TResult}"/> completes, without allocating per wait (a
/// pipe's reads and flushes are backed by reusable sources): the continuation sets one reusable event.
/// </summary>
internal sealed class BlockingWaiter : IDisposable
{
    private readonly ManualResetEventSlim _completed = new(initialState: false, spinCount: 0);
    private readonly Action _signal;

    public BlockingWaiter() => _signal = _completed.Set;

    public T Wait<T>(ValueTask<T> task)
    {
        ConfiguredValueTaskAwaitable<T>.ConfiguredValueTaskAwaiter awaiter = task.ConfigureAwait(false).GetAwaiter();
        if (!awaiter.IsCompleted)
        {
            _completed.Reset();
            awaiter.UnsafeOnCompleted(_signal);
            _completed.Wait();
        }

        return awaiter.GetResult();
    }

    public void Dispose() => _completed.Dispose();
}
