using System.Collections.Immutable;
using Microsoft.Extensions.Logging;

namespace Ssh.Transport.Tests.Infrastructure;

/// <summary>One log entry, with its category and the scopes it was written in (innermost first).</summary>
internal sealed record CapturedLogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception, ImmutableArray<object> Scopes)
{
    /// <summary>The value of <paramref name="key"/> in the innermost structured scope that has it, or null.</summary>
    public object? ScopeValue(string key)
    {
        foreach (object scope in Scopes)
        {
            if (scope is IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                foreach (KeyValuePair<string, object?> pair in pairs)
                {
                    if (pair.Key == key)
                    {
                        return pair.Value;
                    }
                }
            }
        }

        return null;
    }

    public override string ToString() => $"{Level} [{Category}] {Message} {{{string.Join(" | ", Scopes)}}}";
}

/// <summary>A logger factory that keeps every entry, its category and its scopes, as a real provider with scopes would.</summary>
internal sealed class CapturingLoggerFactory : ILoggerFactory
{
    private readonly List<CapturedLogEntry> _entries = [];
    private readonly AsyncLocal<ImmutableStack<object>> _scopes = new();

    public IReadOnlyList<CapturedLogEntry> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerFactory factory, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
        {
            ImmutableStack<object> outer = factory._scopes.Value ?? [];
            factory._scopes.Value = outer.Push(state);
            return new Scope(factory, outer);
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var entry = new CapturedLogEntry(category, logLevel, eventId, formatter(state, exception), exception, [.. factory._scopes.Value ?? []]);
            lock (factory._entries)
            {
                factory._entries.Add(entry);
            }
        }
    }

    private sealed class Scope(CapturingLoggerFactory factory, ImmutableStack<object> outer) : IDisposable
    {
        public void Dispose() => factory._scopes.Value = outer;
    }
}
