using Microsoft.Extensions.Logging;

namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>Our side's log for one case: the last lines are kept for the failure report.</summary>
internal sealed class ListLogger(string name, int capacity = 400) : ILogger
{
    private readonly Queue<string> _lines = new();
    private readonly Lock _gate = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        string line = $"{DateTime.UtcNow:HH:mm:ss.fff} {name} {logLevel}: {formatter(state, exception)}" + (exception is null ? string.Empty : $" ({exception.GetType().Name}: {exception.Message})");
        lock (_gate)
        {
            _lines.Enqueue(line);
            while (_lines.Count > capacity)
            {
                _lines.Dequeue();
            }
        }
    }

    public void Add(string line) => Log(LogLevel.Information, default, line, null, static (s, _) => s);

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }
}
