using Microsoft.Extensions.Logging;

namespace Ssh.Transport.Cli;

/// <summary>
/// Follows a client transport's key exchanges through its log events, which is the only public view of them
/// besides <see cref="SshTransport.KeyExchangeCount"/>: when one starts (ours or the server's, as our KEXINIT goes
/// out), when one completes, and when the server answers with SSH_MSG_UNIMPLEMENTED.
/// </summary>
/// <remarks>
/// The probe uses this to pause its data while keys change and to wait for an exchange in flight before it
/// disconnects. SSH_MSG_UNIMPLEMENTED matters because OpenSSH's sshd does not take a KEXINIT before user
/// authentication: it answers with UNIMPLEMENTED and the exchange never completes. The probe sends nothing else a
/// server could fail to implement (IGNORE, SERVICE_REQUEST, key-exchange messages), so an UNIMPLEMENTED after the
/// first exchange means the server refused to rekey.
/// </remarks>
internal sealed class KeyExchangeWatcher : ILogger
{
    // Event ids of the library's log messages (src/Ssh.Transport/Log.cs).
    private const int KeyExchangeStartedEvent = 20;
    private const int KeyExchangeCompletedEvent = 22;
    private const int PeerUnimplementedEvent = 24;

    private readonly Lock _lock = new();
    private TaskCompletionSource _changed = NewSignal();
    private int _started;
    private volatile bool _refused;

    /// <summary>Key exchanges started so far, the first one included.</summary>
    public int Started => Volatile.Read(ref _started);

    /// <summary>True once the server answered something of ours with SSH_MSG_UNIMPLEMENTED.</summary>
    public bool Refused => _refused;

    /// <summary>True when an exchange has started that has not completed, and the server has not refused it.</summary>
    public bool InFlight(SshTransport transport) => !_refused && Started > transport.KeyExchangeCount;

    /// <summary>True when an exchange has started that has not completed (refused or not): one to wait for.</summary>
    public bool Pending(SshTransport transport) => Started > transport.KeyExchangeCount;

    /// <summary>
    /// Waits until no exchange is in flight. <paramref name="reading"/> is the read loop that carries the exchange: if
    /// it ends first, its failure (or the closed connection) is thrown; if the server refused the exchange, the
    /// transport's refusal error is thrown.
    /// </summary>
    public async Task WaitForIdleAsync(SshTransport transport, Task reading, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            while (true)
            {
                Task changed;
                lock (_lock)
                {
                    changed = _changed.Task;
                }

                if (_refused && Started > transport.KeyExchangeCount)
                {
                    // The transport fails an exchange the server refused, right after logging the refusal: the read
                    // loop ends with that error, which is what the caller must see (not "idle", and not a race with
                    // writes that would otherwise go out as if the rekey had happened).
                    await reading.WaitAsync(deadline.Token).ConfigureAwait(false);
                    throw new IOException("the server answered SSH_MSG_UNIMPLEMENTED during a key exchange");
                }

                if (!InFlight(transport))
                {
                    return;
                }

                if (reading.IsCompleted)
                {
                    await reading.ConfigureAwait(false);
                    throw new IOException("the server closed the connection during a key exchange");
                }

                await Task.WhenAny(changed, reading).WaitAsync(deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"a key exchange did not finish within {timeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Wakes waiters, e.g. when the connection is gone.</summary>
    public void Pulse()
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            changed = _changed;
            _changed = NewSignal();
        }

        changed.TrySetResult();
    }

    IDisposable? ILogger.BeginScope<TState>(TState state) => null;

    bool ILogger.IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    void ILogger.Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        switch (eventId.Id)
        {
            case KeyExchangeStartedEvent:
                Interlocked.Increment(ref _started);
                Pulse();
                break;
            case KeyExchangeCompletedEvent:
                Pulse();
                break;
            case PeerUnimplementedEvent:
                _refused = true;
                Pulse();
                break;
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
