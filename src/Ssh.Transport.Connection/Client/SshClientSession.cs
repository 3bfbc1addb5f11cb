using System.IO.Pipelines;

namespace Ssh.Transport.Connection;

/// <summary>
/// A running command, shell or subsystem (a "session" channel, RFC 4254 §6) as pipes: write its standard input,
/// read its standard output and standard error, wait for its exit status.
/// </summary>
/// <remarks>
/// Standard output and standard error share the channel's window: read both (or complete the one you do not want),
/// or the server stops sending once a window's worth is unread. The session ends when the server closes the channel,
/// after the process has ended and its output has been sent. Disposing closes the channel.
/// </remarks>
public sealed class SshClientSession : IAsyncDisposable
{
    private readonly SshClient _client;
    private SshExitStatus? _exitStatus;

    internal SshClientSession(SshClient client, SshChannel channel)
    {
        _client = client;
        Channel = channel;
        channel.RequestHandler = OnRequestAsync;
    }

    /// <summary>The channel underneath.</summary>
    public SshChannel Channel { get; }

    /// <summary>The process's standard input. Complete it to send EOF (the process reads end of file).</summary>
    public PipeWriter StandardInput => Channel.Output;

    /// <summary>The process's standard output (channel data). Completes when the server sends EOF or closes the channel.</summary>
    public PipeReader StandardOutput => Channel.Input;

    /// <summary>The process's standard error (extended data of type 1). Completes with <see cref="StandardOutput"/>.</summary>
    public PipeReader StandardError => Channel.ExtendedInput;

    /// <summary>How the process ended, once the server said (exit-status or exit-signal); null until then.</summary>
    public SshExitStatus? ExitStatus => Volatile.Read(ref _exitStatus);

    /// <summary>
    /// Waits for the session to end (the server closes the channel) and returns how the process ended; read the
    /// outputs meanwhile, or the server cannot finish sending them.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the session goes on).</param>
    /// <returns>The exit status or signal; <see cref="SshExitStatus.Unknown"/> when the server closed the channel without either.</returns>
    /// <exception cref="SshProtocolException">The connection failed before the session ended.</exception>
    public async Task<SshExitStatus> WaitForExitAsync(CancellationToken cancellationToken = default)
    {
        await Channel.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (ExitStatus is { } status)
        {
            return status;
        }

        if (!Channel.IsCloseReceived && _client.Failure is not null)
        {
            throw _client.EndedError();
        }

        return SshExitStatus.Unknown;
    }

    /// <summary>Delivers a signal to the remote process ("signal", RFC 4254 §6.9); servers may ignore it (OpenSSH before 7.9 did).</summary>
    /// <param name="signal">The signal name without "SIG", e.g. "TERM", "INT", "KILL".</param>
    /// <param name="cancellationToken">Cancels sending.</param>
    /// <exception cref="ArgumentException"><paramref name="signal"/> is empty or starts with "SIG".</exception>
    /// <exception cref="SshProtocolException">The connection has ended.</exception>
    public async Task SendSignalAsync(string signal, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(signal);
        if (signal.StartsWith("SIG", StringComparison.Ordinal))
        {
            throw new ArgumentException($"Signal names are sent without \"SIG\" (RFC 4254 §6.10): \"{signal[3..]}\", not \"{signal}\".", nameof(signal));
        }

        await Channel.SendRequestAsync(SshChannelRequestTypes.Signal, wantReply: false, signal, SessionWire.WriteText, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Tells the server the terminal's new size ("window-change", RFC 4254 §6.7), for a session with a pseudo-terminal.</summary>
    /// <param name="size">The new size.</param>
    /// <param name="cancellationToken">Cancels sending.</param>
    /// <exception cref="SshProtocolException">The connection has ended.</exception>
    public async Task ResizeTerminalAsync(SshTerminalSize size, CancellationToken cancellationToken = default) =>
        await Channel.SendRequestAsync(SshChannelRequestTypes.WindowChange, wantReply: false, size, SessionWire.WriteSize, cancellationToken).ConfigureAwait(false);

    /// <summary>Closes the channel (waiting at most two seconds for the server's CLOSE); the remote process may be ended by it.</summary>
    public ValueTask DisposeAsync() => Channel.DisposeAsync();

    /// <inheritdoc/>
    public override string ToString() => $"session on {Channel}";

    /// <summary>The server's requests on the session (RFC 4254 §6.10, OpenSSH PROTOCOL §2).</summary>
    private ValueTask<bool> OnRequestAsync(SshChannel channel, SshChannelRequest request, CancellationToken cancellationToken)
    {
        switch (request.Type)
        {
            case SshChannelRequestTypes.ExitStatus:
                Volatile.Write(ref _exitStatus, SessionWire.ReadExitStatus(request.Data.Span));
                return ValueTask.FromResult(true);
            case SshChannelRequestTypes.ExitSignal:
                Volatile.Write(ref _exitStatus, SessionWire.ReadExitSignal(request.Data.Span));
                return ValueTask.FromResult(true);
            case SshChannelRequestTypes.EndOfWrite:
                // The process closed its standard input: more input would go nowhere, and that is all it means.
                return ValueTask.FromResult(true);
            default:
                // keepalive@openssh.com among them: FAILURE is OpenSSH's own answer, and any answer proves liveness.
                return ValueTask.FromResult(false);
        }
    }
}
