using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.Logging;
using Ssh.Transport.Connection.Authentication;

namespace Ssh.Transport.Connection;

/// <summary>
/// One session channel of a server (RFC 4254 §6): what the client asked for (a command, a shell or a subsystem, its
/// environment, a terminal), its standard streams as pipes, and its end with an exit status.
/// </summary>
/// <remarks>
/// <para>
/// Before its start request the session collects "env" (names the settings accept, <see cref="SshServerSettings.AcceptEnvironment"/>)
/// and "pty-req"; at "exec", "shell" or "subsystem" the server calls <see cref="SshServerHandler.RunSessionAsync"/> on a
/// task of its own, and the channel's requests go on being served: "window-change" raises
/// <see cref="TerminalSizeChanged"/>, "signal" raises <see cref="SignalReceived"/>; a second start request is refused.
/// Events are raised on the connection's message loop: keep their handlers short.
/// </para>
/// <para>
/// The client's EOF completes <see cref="Input"/> and the session runs on; the client's CLOSE (or the connection's end)
/// completes <see cref="Input"/>, stops the outputs and cancels the session's token.
/// </para>
/// <para>
/// The key's authorized_keys options are already applied: <c>command=</c> replaces what the client asked for (see
/// <see cref="IsCommandForced"/>), <c>no-pty</c> and <c>restrict</c> refuse "pty-req", <c>environment=</c> is in
/// <see cref="Environment"/>.
/// </para>
/// </remarks>
public sealed partial class SshServerSession
{
    /// <summary>sshd's limit on "env" requests per session.</summary>
    private const int MaxEnvironmentVariables = 128;

    private readonly ServerConnection _owner;
    private readonly SshChannel _channel;
    private readonly Dictionary<string, string> _environment = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _cancellation;
    private readonly CancellationToken _token;
    private readonly Lock _sizeLock = new();
    private SshTerminalSize? _terminalSize;
    private int _exited;
    private bool _startRequested;
    private bool _startPending;

    internal SshServerSession(ServerConnection owner, SshChannel channel)
    {
        _owner = owner;
        _channel = channel;
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(owner.Ended);
        _token = _cancellation.Token;
        channel.RequestHandler = OnRequestAsync;
        _ = CancelWhenClosedAsync();
    }

    /// <summary>What the client started: a command, a shell or a subsystem (a forced command is always <see cref="SshSessionKind.Exec"/>).</summary>
    public SshSessionKind Kind { get; private set; }

    /// <summary>
    /// The command to run: the client's "exec" command, or the key's forced command (<c>command=</c>), which replaces
    /// whatever the client started; null for a shell or a subsystem.
    /// </summary>
    public string? Command { get; private set; }

    /// <summary>True when <see cref="Command"/> is the key's forced command rather than what the client asked for.</summary>
    public bool IsCommandForced { get; private set; }

    /// <summary>
    /// With a forced command, what the client asked for (sshd's SSH_ORIGINAL_COMMAND): its "exec" command, or the
    /// subsystem's name; null for a shell, and without a forced command.
    /// </summary>
    public string? OriginalCommand { get; private set; }

    /// <summary>The subsystem's name (e.g. "sftp") for <see cref="SshSessionKind.Subsystem"/>; null otherwise.</summary>
    public string? SubsystemName { get; private set; }

    /// <summary>
    /// The environment the client set with "env" (only names <see cref="SshServerSettings.AcceptEnvironment"/> accepts),
    /// then the key's <c>environment=</c> variables.
    /// </summary>
    public IReadOnlyDictionary<string, string> Environment => _environment;

    /// <summary>The terminal the client requested with "pty-req", or null. No terminal is allocated for it.</summary>
    public SshPseudoTerminal? PseudoTerminal { get; private set; }

    /// <summary>The terminal's current size: from "pty-req", then each "window-change"; null without either.</summary>
    public SshTerminalSize? TerminalSize
    {
        get
        {
            lock (_sizeLock)
            {
                return _terminalSize;
            }
        }

        private set
        {
            lock (_sizeLock)
            {
                _terminalSize = value;
            }
        }
    }

    /// <summary>The client's standard input. Completes at the client's EOF or CLOSE.</summary>
    public PipeReader Input => _channel.Input;

    /// <summary>Standard output to the client (channel data).</summary>
    public PipeWriter Output => _channel.Output;

    /// <summary>Standard error to the client (extended data of type 1).</summary>
    public PipeWriter ErrorOutput => _channel.ExtendedOutput;

    /// <summary>The authenticated user, with the authorized_keys entry that let them in, if any.</summary>
    public SshAuthenticatedUser User => _owner.Context.User;

    /// <summary>Our end of the connection, when known.</summary>
    public EndPoint? LocalEndPoint => _owner.Context.LocalEndPoint;

    /// <summary>The client's end of the connection, when known.</summary>
    public EndPoint? RemoteEndPoint => _owner.Context.RemoteEndPoint;

    /// <summary>Raised on "window-change" (RFC 4254 §6.7) with the new size, on the connection's message loop.</summary>
    public event EventHandler<SshTerminalSize>? TerminalSizeChanged;

    /// <summary>
    /// Raised on "signal" (RFC 4254 §6.9) with the signal's name without "SIG" (e.g. "INT"), on the connection's
    /// message loop, once the session has started.
    /// </summary>
    public event EventHandler<string>? SignalReceived;

    /// <summary>Ends the session with an exit status; see <see cref="ExitAsync(SshExitStatus, CancellationToken)"/>.</summary>
    /// <param name="exitCode">The exit status, 0 for success.</param>
    /// <param name="cancellationToken">Stops waiting for the outputs to drain and for the client's CLOSE.</param>
    /// <returns>A task that completes when the channel is closed.</returns>
    public Task ExitAsync(int exitCode, CancellationToken cancellationToken = default) =>
        ExitAsync(SshExitStatus.FromExitCode(exitCode), cancellationToken);

    /// <summary>
    /// Ends the session: completes <see cref="Output"/> and <see cref="ErrorOutput"/>, and once what they hold has been
    /// sent, sends EOF, then "exit-status" (or "exit-signal" for a status made with <see cref="SshExitStatus.FromSignal"/>;
    /// nothing for <see cref="SshExitStatus.Unknown"/>), then CLOSE, and waits for the client's CLOSE (the order of
    /// sshd). Only the first call does anything; after the client closed the channel there is nobody to tell.
    /// </summary>
    /// <param name="status">How the session ended.</param>
    /// <param name="cancellationToken">Stops waiting for the outputs to drain and for the client's CLOSE.</param>
    /// <returns>A task that completes when the channel is closed.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="status"/> is null.</exception>
    public async Task ExitAsync(SshExitStatus status, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(status);
        if (Interlocked.Exchange(ref _exited, 1) != 0)
        {
            return;
        }

        await _channel.Output.CompleteAsync().ConfigureAwait(false);
        await _channel.ExtendedOutput.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _channel.OutputsSent.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The outputs stopped short: the client closed the channel, or the connection ended. Nobody to tell.
            return;
        }

        try
        {
            if (!status.IsUnknown && !_channel.Completion.IsCompleted)
            {
                _owner.Logger.LogDebug("Session {Channel} of {User} ends: {Status}", _channel.LocalId, User.UserName, status);
                string type = status.ExitCode is null ? SshChannelRequestTypes.ExitSignal : SshChannelRequestTypes.ExitStatus;
                await _channel.SendRequestAsync(type, wantReply: false, status, SessionWire.WriteExitStatus, cancellationToken).ConfigureAwait(false);
            }

            await _channel.CloseAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or InvalidOperationException or ObjectDisposedException)
        {
            // The connection ended meanwhile.
        }
    }

    /// <summary>The connection's loop answered a request: a start request's session begins now, after its SUCCESS.</summary>
    internal void OnRequestAnswered()
    {
        if (_startPending)
        {
            _startPending = false;
            _owner.Track(Task.Run(RunAsync, CancellationToken.None));
        }
    }

    private async Task RunAsync()
    {
        CancellationToken token = _token;
        try
        {
            await _owner.Handler.RunSessionAsync(this, token).ConfigureAwait(false);
            await ExitAsync(SshExitStatus.FromExitCode(0), token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The client closed the channel or the connection ended: nobody to report to.
            _owner.Logger.LogDebug("Session {Channel} of {User} cancelled", _channel.LocalId, User.UserName);
        }
        catch (Exception e)
        {
            // The exception stays in the log: its message may tell more about the server than the client should know.
            _owner.Logger.LogError(e, "Session {Channel} of {User} ({Kind} {What}) failed", _channel.LocalId, User.UserName, Kind, Command ?? SubsystemName);
            try
            {
                await ExitAsync(SshExitStatus.FromExitCode(1), token).ConfigureAwait(false);
            }
            catch (Exception exitError) when (exitError is OperationCanceledException or SshProtocolException or InvalidOperationException or IOException)
            {
                // Gone meanwhile.
            }
        }
    }

    private async Task CancelWhenClosedAsync()
    {
        // The client's CLOSE, or the connection's end, is the end of the session: its token is cancelled.
        await _channel.Completion.ConfigureAwait(false);
        await _cancellation.CancelAsync().ConfigureAwait(false);
        _cancellation.Dispose();
    }

    // --- Requests (RFC 4254 §6.2-6.9), on the connection's loop. A malformed one is a protocol error, as in sshd.

    private ValueTask<bool> OnRequestAsync(SshChannel channel, SshChannelRequest request, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> data = request.Data.Span;
        bool success = request.Type switch
        {
            SshChannelRequestTypes.Environment => OnEnvironment(SessionWire.ReadEnvironment(data)),
            SshChannelRequestTypes.PseudoTerminal => OnPseudoTerminal(SessionWire.ReadPseudoTerminal(data)),
            SshChannelRequestTypes.WindowChange => OnWindowChange(SessionWire.ReadWindowChange(data)),
            SshChannelRequestTypes.Signal => OnSignal(SessionWire.ReadName(data, "signal name")),
            SshChannelRequestTypes.Shell => OnStart(SshSessionKind.Shell, null),
            SshChannelRequestTypes.Exec => OnStart(SshSessionKind.Exec, SessionWire.ReadCommand(data)),
            SshChannelRequestTypes.Subsystem => OnStart(SshSessionKind.Subsystem, SessionWire.ReadName(data, "subsystem name")),
            _ => Refused(request.Type),
        };
        return ValueTask.FromResult(success);
    }

    private bool Refused(string type)
    {
        // x11-req, auth-agent-req@openssh.com, keepalive@openssh.com (FAILURE proves liveness), xon-xoff, break, ...
        _owner.Logger.LogDebug("Session {Channel}: request {Type} refused", _channel.LocalId, type);
        return false;
    }

    private bool OnEnvironment((string Name, string Value) variable)
    {
        if (_startRequested || _environment.Count >= MaxEnvironmentVariables && !_environment.ContainsKey(variable.Name))
        {
            return false;
        }

        foreach (string pattern in _owner.Settings.AcceptEnvironment)
        {
            if (Wildcard.IsMatch(variable.Name, pattern))
            {
                _environment[variable.Name] = variable.Value;
                return true;
            }
        }

        _owner.Logger.LogDebug("Session {Channel}: env {Name} refused (not in AcceptEnvironment)", _channel.LocalId, variable.Name);
        return false;
    }

    private bool OnPseudoTerminal(SshPseudoTerminal terminal)
    {
        if (User.AuthorizedKey is { PermitPty: false })
        {
            _owner.Logger.LogInformation("Session {Channel}: pty-req refused for {User}: no-pty (authorized_keys)", _channel.LocalId, User.UserName);
            return false;
        }

        if (_startRequested || PseudoTerminal is not null)
        {
            return false;
        }

        PseudoTerminal = terminal;
        TerminalSize = terminal.Size;
        return true;
    }

    private bool OnWindowChange(SshTerminalSize size)
    {
        TerminalSize = size;
        Raise(TerminalSizeChanged, size);
        return true;
    }

    private bool OnSignal(string name)
    {
        if (!_startRequested)
        {
            return false;
        }

        Raise(SignalReceived, name);
        return true;
    }

    private bool OnStart(SshSessionKind kind, string? what)
    {
        if (_startRequested)
        {
            _owner.Logger.LogInformation("Session {Channel}: a second start request ({Kind}) refused", _channel.LocalId, kind);
            return false;
        }

        if (!_owner.RunsSessions)
        {
            return false;
        }

        _startRequested = true;
        if (User.AuthorizedKey?.Command is { } forced)
        {
            // sshd: the forced command runs whatever the client started; what it asked for is SSH_ORIGINAL_COMMAND.
            Kind = SshSessionKind.Exec;
            Command = forced;
            IsCommandForced = true;
            OriginalCommand = kind == SshSessionKind.Shell ? null : what;
        }
        else
        {
            Kind = kind;
            Command = kind == SshSessionKind.Exec ? what : null;
            SubsystemName = kind == SshSessionKind.Subsystem ? what : null;
        }

        foreach (string variable in User.AuthorizedKey?.Environment ?? [])
        {
            int equals = variable.IndexOf('=', StringComparison.Ordinal);
            _environment[variable[..equals]] = variable[(equals + 1)..];
        }

        _owner.Logger.LogInformation(
            "Session {Channel} of {User}: {Kind} {What}{Forced}",
            _channel.LocalId, User.UserName, Kind, Command ?? SubsystemName ?? string.Empty, IsCommandForced ? " (forced command)" : string.Empty);
        _startPending = true;
        return true;
    }

    private void Raise<T>(EventHandler<T>? handler, T value)
    {
        try
        {
            handler?.Invoke(this, value);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The application's event handler must not take the connection's loop down.
            _owner.Logger.LogError(e, "Session {Channel}: an event handler failed", _channel.LocalId);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"session {_channel.LocalId} of {User.UserName}: {Kind} {Command ?? SubsystemName}";
}
