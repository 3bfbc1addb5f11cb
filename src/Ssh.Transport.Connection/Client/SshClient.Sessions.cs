using System.Buffers;
using System.IO.Pipelines;

namespace Ssh.Transport.Connection;

/// <summary>Sessions (RFC 4254 §6): commands, shells and subsystems.</summary>
public sealed partial class SshClient
{
    /// <summary>
    /// Runs a command to completion (an "exec" session with empty standard input) and returns what it printed and
    /// how it ended, as ssh HOST COMMAND does.
    /// </summary>
    /// <param name="command">The command, as the user's shell on the server reads it.</param>
    /// <param name="cancellationToken">Cancels the command (its channel is closed).</param>
    /// <returns>The exit status and both outputs.</returns>
    /// <exception cref="SshRequestFailedException">The server refused to run the command.</exception>
    /// <exception cref="SshChannelOpenException">The server refused to open a session.</exception>
    /// <exception cref="InvalidOperationException">
    /// An output grew past <see cref="SshClientSettings.MaxCapturedOutputBytes"/> (the command is stopped: use
    /// <see cref="ExecuteAsync"/> to stream it instead).
    /// </exception>
    /// <exception cref="SshProtocolException">The connection failed or has ended.</exception>
    public Task<SshCommandResult> RunCommandAsync(string command, CancellationToken cancellationToken = default) =>
        RunCommandAsync(command, null, cancellationToken);

    /// <summary>Runs a command to completion, with environment variables or a pseudo-terminal; see <see cref="RunCommandAsync(string, CancellationToken)"/>.</summary>
    /// <param name="command">The command.</param>
    /// <param name="options">Environment variables and pseudo-terminal; null for none.</param>
    /// <param name="cancellationToken">Cancels the command (its channel is closed).</param>
    /// <returns>The exit status and both outputs.</returns>
    /// <exception cref="SshRequestFailedException">The server refused to run the command, or to allocate the pseudo-terminal.</exception>
    /// <exception cref="SshChannelOpenException">The server refused to open a session.</exception>
    /// <exception cref="InvalidOperationException">An output grew past <see cref="SshClientSettings.MaxCapturedOutputBytes"/>.</exception>
    /// <exception cref="SshProtocolException">The connection failed or has ended.</exception>
    public async Task<SshCommandResult> RunCommandAsync(string command, SshSessionOptions? options, CancellationToken cancellationToken = default)
    {
        SshClientSession session = await ExecuteAsync(command, options, cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            await session.StandardInput.CompleteAsync().ConfigureAwait(false);
            int limit = _maxCapturedOutputBytes;
            Task<ArrayBufferWriter<byte>> stdout = CaptureAsync(session.StandardOutput, limit, "standard output", cancellationToken);
            Task<ArrayBufferWriter<byte>> stderr = CaptureAsync(session.StandardError, limit, "standard error", cancellationToken);
            try
            {
                // Not WhenAll: one output past the limit must stop the command while the other is still open.
                Task first = await Task.WhenAny(stdout, stderr).ConfigureAwait(false);
                await first.ConfigureAwait(false);
                await (first == stdout ? stderr : stdout).ConfigureAwait(false);
            }
            catch
            {
                // Stop the command; both readers end with the channel. The first failure is the one to report.
                await session.DisposeAsync().ConfigureAwait(false);
                await Task.WhenAny(Task.WhenAll(stdout, stderr)).ConfigureAwait(false);
                throw;
            }

            SshExitStatus status = await session.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            return new SshCommandResult(status, (await stdout.ConfigureAwait(false)).WrittenMemory, (await stderr.ConfigureAwait(false)).WrittenMemory);
        }
    }

    /// <summary>
    /// Starts a command (an "exec" session, RFC 4254 §6.5) and returns it as pipes: standard input, output and
    /// error, and its exit status to wait for.
    /// </summary>
    /// <param name="command">The command, as the user's shell on the server reads it.</param>
    /// <param name="options">Environment variables and pseudo-terminal; null for none.</param>
    /// <param name="cancellationToken">Cancels starting it.</param>
    /// <returns>The running session; dispose it when done.</returns>
    /// <exception cref="SshRequestFailedException">The server refused to run the command, or to allocate the pseudo-terminal.</exception>
    /// <exception cref="SshChannelOpenException">The server refused to open a session.</exception>
    /// <exception cref="SshProtocolException">The connection failed or has ended.</exception>
    public Task<SshClientSession> ExecuteAsync(string command, SshSessionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        return StartSessionAsync(SshChannelRequestTypes.Exec, command, options, cancellationToken);
    }

    /// <summary>Starts the user's login shell (a "shell" session, RFC 4254 §6.5), usually with a pseudo-terminal in <paramref name="options"/>.</summary>
    /// <param name="options">Environment variables and pseudo-terminal; null for none.</param>
    /// <param name="cancellationToken">Cancels starting it.</param>
    /// <returns>The running session; dispose it when done.</returns>
    /// <exception cref="SshRequestFailedException">The server refused the shell, or the pseudo-terminal.</exception>
    /// <exception cref="SshChannelOpenException">The server refused to open a session.</exception>
    /// <exception cref="SshProtocolException">The connection failed or has ended.</exception>
    public Task<SshClientSession> StartShellAsync(SshSessionOptions? options = null, CancellationToken cancellationToken = default) =>
        StartSessionAsync(SshChannelRequestTypes.Shell, null, options, cancellationToken);

    /// <summary>Starts a subsystem (RFC 4254 §6.5), e.g. "sftp", whose protocol then runs over the session's pipes.</summary>
    /// <param name="subsystem">The subsystem's name.</param>
    /// <param name="options">Environment variables and pseudo-terminal; null for none.</param>
    /// <param name="cancellationToken">Cancels starting it.</param>
    /// <returns>The running session; dispose it when done.</returns>
    /// <exception cref="SshRequestFailedException">The server does not offer the subsystem.</exception>
    /// <exception cref="SshChannelOpenException">The server refused to open a session.</exception>
    /// <exception cref="SshProtocolException">The connection failed or has ended.</exception>
    public Task<SshClientSession> StartSubsystemAsync(string subsystem, SshSessionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(subsystem);
        return StartSessionAsync(SshChannelRequestTypes.Subsystem, subsystem, options, cancellationToken);
    }

    private async Task<SshClientSession> StartSessionAsync(string requestType, string? argument, SshSessionOptions? options, CancellationToken cancellationToken)
    {
        ThrowIfEnded();
        SshChannel channel = await Connection.OpenChannelAsync(SshChannelTypes.Session, cancellationToken).ConfigureAwait(false);
        var session = new SshClientSession(this, channel);
        try
        {
            if (options is not null)
            {
                // Without a reply, as ssh sends them: a server that does not accept a name ignores it.
                foreach (KeyValuePair<string, string> variable in options.EnvironmentVariables)
                {
                    await channel.SendRequestAsync(SshChannelRequestTypes.Environment, wantReply: false, (variable.Key, variable.Value), SessionWire.WriteEnvironment, cancellationToken).ConfigureAwait(false);
                }

                if (options.PseudoTerminal is { } terminal
                    && !await channel.SendRequestAsync(SshChannelRequestTypes.PseudoTerminal, wantReply: true, terminal, SessionWire.WritePseudoTerminal, cancellationToken).ConfigureAwait(false))
                {
                    throw new SshRequestFailedException(SshChannelRequestTypes.PseudoTerminal, $"The server refused to allocate a pseudo-terminal ({terminal}).");
                }
            }

            bool started;
            try
            {
                started = argument is null
                    ? await channel.SendRequestAsync(requestType, wantReply: true, cancellationToken).ConfigureAwait(false)
                    : await channel.SendRequestAsync(requestType, wantReply: true, argument, SessionWire.WriteText, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException) when (channel.IsCloseReceived && session.ExitStatus is not null)
            {
                // The server ran it, reported its exit and closed the channel before answering the request (a paramiko
                // server that starts the command from its request check can): the outputs and status are all here.
                started = true;
            }

            if (!started)
            {
                string what = requestType switch
                {
                    SshChannelRequestTypes.Exec => $"to run the command '{argument}'",
                    SshChannelRequestTypes.Subsystem => $"to start the subsystem '{argument}'",
                    _ => "to start a shell",
                };
                throw new SshRequestFailedException(requestType, $"The server refused {what}.");
            }

            return session;
        }
        catch (Exception e)
        {
            await session.DisposeAsync().ConfigureAwait(false);
            if (e is InvalidOperationException && !IsConnected)
            {
                throw EndedError();
            }

            throw;
        }
    }

    /// <summary>Reads one output to its end, keeping at most <paramref name="limit"/> bytes.</summary>
    private static async Task<ArrayBufferWriter<byte>> CaptureAsync(PipeReader reader, int limit, string name, CancellationToken cancellationToken)
    {
        var captured = new ArrayBufferWriter<byte>();
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (captured.WrittenCount + buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.Start);
                throw new InvalidOperationException($"The command's {name} exceeded {limit} bytes ({nameof(SshClientSettings)}.{nameof(SshClientSettings.MaxCapturedOutputBytes)}); it was stopped. Use {nameof(ExecuteAsync)} to stream a large output.");
            }

            foreach (ReadOnlyMemory<byte> segment in buffer)
            {
                captured.Write(segment.Span);
            }

            reader.AdvanceTo(buffer.End);
            if (result.IsCompleted)
            {
                return captured;
            }
        }
    }
}
