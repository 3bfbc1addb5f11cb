using System.Collections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ssh.Transport.Diagnostics;

/// <summary>
/// The logging scope of one connection: SshRole, SshRemoteEndPoint (when known) and SshSessionId (the first 8 hex
/// digits of the session identifier, once the first key exchange has completed). Read as structured properties or,
/// by a text logger, as "SSH server 192.0.2.1:50022 session 1a2b3c4d".
/// </summary>
/// <remarks>
/// Immutable: when the session identifier becomes known the connection moves to a new scope, so that an entry a
/// provider buffers keeps the scope it was written in. The session identifier is the exchange hash of the first key
/// exchange, public rather than secret; only its prefix is shown.
/// </remarks>
internal sealed class ConnectionLogScope : IReadOnlyList<KeyValuePair<string, object?>>
{
    public const string RoleKey = "SshRole";
    public const string RemoteEndPointKey = "SshRemoteEndPoint";
    public const string SessionIdKey = "SshSessionId";

    private readonly KeyValuePair<string, object?>[] _entries;
    private readonly string _text;

    public ConnectionLogScope(SshRole role, string? remoteEndPoint)
        : this(SshTelemetry.RoleName(role), remoteEndPoint, sessionId: null)
    {
    }

    private ConnectionLogScope(string role, string? remoteEndPoint, string? sessionId)
    {
        Role = role;
        RemoteEndPoint = remoteEndPoint;
        SessionId = sessionId;
        var entries = new List<KeyValuePair<string, object?>>(3) { new(RoleKey, role) };
        string text = "SSH " + role;
        if (remoteEndPoint is not null)
        {
            entries.Add(new(RemoteEndPointKey, remoteEndPoint));
            text += " " + remoteEndPoint;
        }

        if (sessionId is not null)
        {
            entries.Add(new(SessionIdKey, sessionId));
            text += " session " + sessionId;
        }

        _entries = [.. entries];
        _text = text;
    }

    public string Role { get; }

    public string? RemoteEndPoint { get; }

    public string? SessionId { get; }

    public int Count => _entries.Length;

    public KeyValuePair<string, object?> this[int index] => _entries[index];

    /// <summary>This scope with the first 4 bytes of <paramref name="sessionId"/> in hex.</summary>
    public ConnectionLogScope WithSessionId(ReadOnlySpan<byte> sessionId) =>
        sessionId.Length < 4 ? this : new ConnectionLogScope(Role, RemoteEndPoint, Convert.ToHexStringLower(sessionId[..4]));

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_entries).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => _text;
}

/// <summary>A connection's current <see cref="ConnectionLogScope"/>, and the loggers that write inside it.</summary>
internal sealed class ConnectionLogContext(ConnectionLogScope scope)
{
    private volatile ConnectionLogScope _scope = scope;

    public ConnectionLogScope Scope => _scope;

    /// <summary>The first key exchange has completed: entries from now on name the session too.</summary>
    public void SetSessionId(ReadOnlySpan<byte> sessionId)
    {
        if (_scope.SessionId is null)
        {
            _scope = _scope.WithSessionId(sessionId);
        }
    }

    /// <summary>
    /// <paramref name="inner"/>, each entry of which is written inside the connection's scope; null or the null
    /// logger stay as they are (nothing to wrap, nothing to pay).
    /// </summary>
    public ILogger Wrap(ILogger? inner) => inner is null || inner is NullLogger ? NullLogger.Instance : new ScopedLogger(inner, this);

    /// <summary>
    /// Enters the connection's scope around every entry rather than once per connection: a connection logs from its
    /// receive loop, its timers and every writer's task, and an ambient scope would reach only the first. The cost
    /// (a scope per entry) is paid only for entries that are enabled.
    /// </summary>
    private sealed class ScopedLogger(ILogger inner, ConnectionLogContext context) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!inner.IsEnabled(logLevel))
            {
                return;
            }

            using (inner.BeginScope(context.Scope))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
