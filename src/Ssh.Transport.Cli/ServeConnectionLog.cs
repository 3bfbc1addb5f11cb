using Microsoft.Extensions.Logging;
using Ssh.Transport.Connection;

namespace Ssh.Transport.Cli;

/// <summary>
/// One served connection's log: serve's lines about it, and the logger factory of its <see cref="SshServerSettings"/>.
/// </summary>
/// <remarks>
/// <para>
/// The server runner reports the user it let in through its logger: the entries that carry the
/// <see cref="SshAuthenticatedUser"/> itself as a value (authentication's success, the connection layer's start). The
/// first one is serve's "authenticated" line; the text of the library's messages is not read. The handler reports the
/// user too when it sees one first (<see cref="Authenticated"/>).
/// </para>
/// <para>
/// The library's own messages are passed on as serve's lines from Warning up (a session that failed, say); its
/// Information messages would repeat serve's lines.
/// </para>
/// </remarks>
internal sealed class ServeConnectionLog : ILoggerFactory
{
    private readonly ILogger _output;
    private SshAuthenticatedUser? _user;

    /// <param name="output">serve's logger (one line a message).</param>
    /// <param name="peer">The client's address, at the start of each line.</param>
    public ServeConnectionLog(ILogger output, string peer)
    {
        _output = output;
        Peer = peer;
    }

    /// <summary>The client's address.</summary>
    public string Peer { get; }

    /// <summary>Who logged in, once someone has.</summary>
    public SshAuthenticatedUser? User => Volatile.Read(ref _user);

    /// <summary>Writes one line about this connection: the peer, then the message.</summary>
    public void Line(string message) => _output.LogInformation("{Peer} {Message}", Peer, message);

    /// <summary>The user is in: the "authenticated" line, once.</summary>
    public void Authenticated(SshAuthenticatedUser user)
    {
        if (Interlocked.CompareExchange(ref _user, user, null) is null)
        {
            string key = user.PublicKey is { } k ? $" ({Algorithms.KeyLabel(k.KeyType)} {k.GetFingerprint()})" : "";
            Line($"authenticated {user.UserName} by {string.Join(", ", user.Methods)}{key}");
        }
    }

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => new LibraryLogger(this);

    /// <inheritdoc/>
    public void AddProvider(ILoggerProvider provider)
    {
        // One connection's log: nothing else is attached to it.
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        // Nothing is held.
    }

    /// <summary>The library's logger for this connection: the user it let in, and its warnings and errors.</summary>
    private sealed class LibraryLogger(ServeConnectionLog owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
            {
                foreach (KeyValuePair<string, object?> value in values)
                {
                    if (value.Value is SshAuthenticatedUser user)
                    {
                        owner.Authenticated(user);
                        break;
                    }
                }
            }

            if (logLevel >= LogLevel.Warning)
            {
                string message = formatter(state, exception);
                owner.Line(exception is null ? message : $"{message}: {exception.Message}");
            }
        }
    }
}
