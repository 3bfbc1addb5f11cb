using System.ComponentModel;
using System.Diagnostics;
using System.IO.Pipelines;
using System.IO.Pipes;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Ssh.Transport.Connection;

public sealed partial class SshServerSession
{
    // One read of the process's output takes up to four 32 KiB packets, where the channel's outbound pipe pauses, and
    // half of what its enlarged pipe holds (SshServerSettings.ProcessPipeSize): each read is a wake-up, and 128 KiB
    // beat 64 and 256 KiB in interleaved runs (docs/performance.md). Under keys that seal in batches
    // (hmac-sha2-256-etm) a read takes a whole batch, and the output pipe holds two (SshChannel.BulkWriteSize).
    private const int CopyBufferSize = 128 * 1024;

    // A read holds its buffer while the process is silent (a zero-byte read of a process pipe returns at once rather
    // than wait), so standard error, rarely bulk, reads one packet at a time.
    private const int ErrorCopyBufferSize = 32 * 1024;

    private long _processOutputBytes;

    /// <summary>Bytes read so far from the process's standard output and error (for tests: what the server took in).</summary>
    internal long ProcessOutputBytes => Interlocked.Read(ref _processOutputBytes);

    /// <summary>
    /// Runs the session as an operating-system process and ends the session with its exit status: the process's
    /// standard input, output and error are the channel's, "signal" requests are delivered to it.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Standard streams are redirected (<paramref name="startInfo"/>'s Redirect* and UseShellExecute are set for that)
    /// and copied with backpressure through bounded buffers: a client that stops reading stops the process's writes
    /// once the channel's window and a few packets are full; a process that stops reading stops the client within one
    /// window. The client's EOF closes the process's standard input. The session ends once the process has exited
    /// and its standard output and error have ended (a background process that keeps them open keeps the session
    /// open, as with sshd).
    /// </para>
    /// <para>
    /// The process runs as the server's own user: logging in as someone else (setuid, a login shell) is the application's.
    /// </para>
    /// <para>
    /// The process runs without a terminal: a "pty-req" is recorded in <see cref="PseudoTerminal"/>, but no
    /// pseudo-terminal is allocated, so programs see pipes (no job control, no line editing, no echo).
    /// </para>
    /// <para>
    /// Environment: <see cref="Environment"/> is added to <paramref name="startInfo"/>'s, and SSH_ORIGINAL_COMMAND
    /// (with a forced command), SSH_CONNECTION and SSH_CLIENT as sshd sets them.
    /// </para>
    /// <para>
    /// Signals (RFC 4254 §6.9: ABRT, ALRM, FPE, HUP, ILL, INT, KILL, PIPE, QUIT, SEGV, TERM, USR1, USR2) are sent to the
    /// process with kill(2) on Unix, KILL to its descendants too (on Windows KILL, TERM and INT terminate the tree).
    /// Other signals reach the process itself, not its children: sshd, whose child leads a process group of its own,
    /// signals the group. As sshd, signals are not delivered to a forced command or a subsystem. On Unix .NET reports a process killed by signal n as exit code 128+n, which a
    /// process can also exit with: the session reports "exit-signal" only when the code is 128+n for a signal n this
    /// session delivered, and "exit-status" otherwise (the shell's <c>$?</c> for a killed child is 128+n too).
    /// </para>
    /// <para>
    /// When <paramref name="cancellationToken"/> or the session's own token (the client's CLOSE, the connection's end) is
    /// cancelled, the process and its descendants are killed. A process that cannot be started is reported on
    /// standard error, with exit status 127.
    /// </para>
    /// </remarks>
    /// <param name="startInfo">The program and its arguments, e.g. <c>/bin/sh -c Command</c>.</param>
    /// <param name="cancellationToken">Kills the process.</param>
    /// <returns>How the process ended, as reported to the client.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="startInfo"/> is null.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the process was killed.</exception>
    public async Task<SshExitStatus> RunProcessAsync(ProcessStartInfo startInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        startInfo.RedirectStandardInput = true;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.UseShellExecute = false;
        AddEnvironment(startInfo);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _token);
        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException or PlatformNotSupportedException)
        {
            _owner.Logger.LogInformation("Session {Channel}: {Program} could not be started: {Error}", _channel.LocalId, startInfo.FileName, e.Message);
            await ErrorOutput.WriteAsync(Encoding.UTF8.GetBytes($"{startInfo.FileName}: {e.Message}\n"), stop.Token).ConfigureAwait(false);
            SshExitStatus notStarted = SshExitStatus.FromExitCode(127);
            await ExitAsync(notStarted, cancellationToken).ConfigureAwait(false);
            return notStarted;
        }

        _owner.Logger.LogDebug("Session {Channel}: process {ProcessId} ({Program}) started", _channel.LocalId, process.Id, startInfo.FileName);
        string? delivered = null;
        bool signals = !IsCommandForced && Kind != SshSessionKind.Subsystem;
        void OnSignal(object? sender, string name)
        {
            if (!signals || ProcessSignals.Number(name) is null)
            {
                return;
            }

            // Recorded before it is sent: the process may be gone, and its exit seen, before kill(2) returns here.
            string? before = Interlocked.Exchange(ref delivered, name);
            if (ProcessSignals.Send(process, name))
            {
                _owner.Logger.LogDebug("Session {Channel}: SIG{Signal} sent to process {ProcessId}", _channel.LocalId, name, process.Id);
            }
            else
            {
                Interlocked.CompareExchange(ref delivered, before, name);
            }
        }

        SignalReceived += OnSignal;
        long pipeBytes = EnlargePipes(process);
        Task stdout = CopyFromProcessAsync(process.StandardOutput.BaseStream, Output, CopyBufferSize, bulk: true, stop.Token);
        Task stderr = CopyFromProcessAsync(process.StandardError.BaseStream, ErrorOutput, ErrorCopyBufferSize, bulk: false, stop.Token);
        using var stdinStop = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        Task stdin = CopyToProcessAsync(Input, process.StandardInput.BaseStream, stdinStop.Token);
        try
        {
            await process.WaitForExitAsync(stop.Token).ConfigureAwait(false);
            await Task.WhenAll(stdout, stderr).WaitAsync(stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(stdout, stderr, stdin).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }
        finally
        {
            SignalReceived -= OnSignal;
            ProcessPipeBudget.Shared.Release(pipeBytes);
        }

        // The process is gone: what the client still sends has no reader.
        await stdinStop.CancelAsync().ConfigureAwait(false);
        await stdin.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        int code = process.ExitCode;
        SshExitStatus status = Volatile.Read(ref delivered) is { } signal && !OperatingSystem.IsWindows() && code - 128 == ProcessSignals.Number(signal)
            ? SshExitStatus.FromSignal(signal)
            : SshExitStatus.FromExitCode(code);
        _owner.Logger.LogDebug("Session {Channel}: process {ProcessId} ended: {Status}", _channel.LocalId, process.Id, status);
        await ExitAsync(status, cancellationToken).ConfigureAwait(false);
        return status;
    }

    /// <summary>
    /// Sizes the pipes to the process's standard input and from its standard output (<see cref="SshServerSettings.ProcessPipeSize"/>)
    /// within the process-wide budget; returns the bytes reserved, to release when the process is done.
    /// </summary>
    private long EnlargePipes(Process process)
    {
        int size = _owner.Settings.ProcessPipeSize;
        if (size == 0 || !OperatingSystem.IsLinux())
        {
            return 0;
        }

        // Output read a batch at a time needs room for two: one being read while the process writes the next.
        int outputSize = Math.Clamp(2 * _channel.BulkWriteSize(CopyBufferSize), size, SshServerSettings.MaxProcessPipeSize);
        long reserved = (long)size + outputSize;
        if (!ProcessPipeBudget.Shared.TryReserve(reserved))
        {
            _owner.Logger.LogDebug("Session {Channel}: process pipes keep the system's size (the pipe budget is spent)", _channel.LocalId);
            return 0;
        }

        foreach ((Stream stream, int wanted) in (ReadOnlySpan<(Stream, int)>)[(process.StandardInput.BaseStream, size), (process.StandardOutput.BaseStream, outputSize)])
        {
            // F_SETPIPE_SZ (fcntl(2)); the kernel rounds up to a power of two pages. A refusal (EPERM past
            // pipe-max-size or the user's limit) leaves the pipe as it was.
            if (stream is PipeStream pipe && PipeNativeMethods.Fcntl(pipe.SafePipeHandle, PipeNativeMethods.SetPipeSize, wanted) < 0)
            {
                _owner.Logger.LogDebug("Session {Channel}: a process pipe keeps the system's size (fcntl error {Error})", _channel.LocalId, Marshal.GetLastPInvokeError());
            }
        }

        return reserved;
    }

    private void AddEnvironment(ProcessStartInfo startInfo)
    {
        IDictionary<string, string?> environment = startInfo.Environment;
        foreach ((string name, string value) in _environment)
        {
            environment[name] = value;
        }

        if (IsCommandForced && OriginalCommand is not null)
        {
            environment["SSH_ORIGINAL_COMMAND"] = OriginalCommand;
        }

        if (RemoteEndPoint is IPEndPoint client)
        {
            environment["SSH_CLIENT"] = $"{Plain(client.Address)} {client.Port} {(LocalEndPoint as IPEndPoint)?.Port ?? 0}";
            if (LocalEndPoint is IPEndPoint server)
            {
                environment["SSH_CONNECTION"] = $"{Plain(client.Address)} {client.Port} {Plain(server.Address)} {server.Port}";
            }
        }

        // A dual-mode socket (Kestrel's) reports IPv4 peers as ::ffff:a.b.c.d; sshd shows a.b.c.d.
        static IPAddress Plain(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    /// <summary>
    /// Process output into a channel pipe, read straight into the pipe's memory; the pipe's pause is the backpressure.
    /// <paramref name="bulk"/> output is read a batch of packets at a time under keys that seal in batches.
    /// </summary>
    private async Task CopyFromProcessAsync(Stream source, PipeWriter target, int readSize, bool bulk, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                Memory<byte> memory = target.GetMemory(bulk ? _channel.BulkWriteSize(readSize) : readSize);
                int read = await source.ReadAsync(memory, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                Interlocked.Add(ref _processOutputBytes, read);
                target.Advance(read);
                FlushResult flushed = await target.FlushAsync(cancellationToken).ConfigureAwait(false);
                if (flushed.IsCompleted)
                {
                    // The channel no longer sends (the client closed it): the process gets no more reads.
                    return;
                }
            }
        }
        catch (IOException)
        {
            // The process's end of the pipe broke.
        }
    }

    /// <summary>The client's data into the process's standard input; closed at the client's EOF.</summary>
    private static async Task CopyToProcessAsync(PipeReader source, Stream target, CancellationToken cancellationToken)
    {
        bool broken = false;
        try
        {
            while (true)
            {
                ReadResult result = await source.ReadAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    if (!broken)
                    {
                        foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                        {
                            await target.WriteAsync(segment, cancellationToken).ConfigureAwait(false);
                        }
                    }
                }
                catch (IOException)
                {
                    // The process closed its standard input: what the client still sends is read and dropped, so
                    // the client is not stalled by a closed window (sshd drops it too).
                    broken = true;
                }
                finally
                {
                    source.AdvanceTo(result.Buffer.End);
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The process exited, or the session ended.
        }
        finally
        {
            try
            {
                await target.DisposeAsync().ConfigureAwait(false);
            }
            catch (IOException)
            {
                // Already broken.
            }
        }
    }

    private void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            _owner.Logger.LogDebug("Session {Channel}: process {ProcessId} killed", _channel.LocalId, process.Id);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            // It exited meanwhile.
        }
    }
}

internal static class PipeNativeMethods
{
    /// <summary>Linux's F_SETPIPE_SZ.</summary>
    public const int SetPipeSize = 1031;

    [DllImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern int Fcntl(SafeHandle fd, int command, int argument);
}

/// <summary>The signal names of RFC 4254 §6.10 and their numbers, and delivering them to a process.</summary>
internal static class ProcessSignals
{
    /// <summary>The platform's number of a signal named without "SIG", or null for a name RFC 4254 does not define.</summary>
    public static int? Number(string name)
    {
        bool bsd = OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();
        return name switch
        {
            "HUP" => 1,
            "INT" => 2,
            "QUIT" => 3,
            "ILL" => 4,
            "ABRT" => 6,
            "FPE" => 8,
            "KILL" => 9,
            "USR1" => bsd ? 30 : 10,
            "SEGV" => 11,
            "USR2" => bsd ? 31 : 12,
            "PIPE" => 13,
            "ALRM" => 14,
            "TERM" => 15,
            _ => null,
        };
    }

    /// <summary>Sends the signal to the process; false when the name is unknown, the process has exited or the platform cannot.</summary>
    public static bool Send(Process process, string name)
    {
        if (Number(name) is not int signal || process.HasExited)
        {
            return false;
        }

        if (name == "KILL" || OperatingSystem.IsWindows())
        {
            if (name is not ("KILL" or "TERM" or "INT"))
            {
                return false;
            }

            // KILL takes the descendants too, as the session's end does (sshd signals the process group).
            process.Kill(entireProcessTree: true);
            return true;
        }

        return NativeMethods.Kill(process.Id, signal) == 0;
    }

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Kill(int pid, int signal);
    }
}
