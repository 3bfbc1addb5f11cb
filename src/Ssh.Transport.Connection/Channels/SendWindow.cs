namespace Ssh.Transport.Connection;

/// <summary>
/// The peer's window for one channel (RFC 4254 §5.2): data bytes we may still send. Senders take credit, waiting when
/// there is none; WINDOW_ADJUST adds credit. A window above 2^32-1 is the peer's protocol error.
/// </summary>
internal sealed class SendWindow
{
    private readonly Lock _lock = new();
    private readonly TaskCreationOptions _waiterOptions;
    private long _available;
    private long _largest;
    private TaskCompletionSource? _waiter;
    private Exception? _failure;

    /// <param name="initial">The window the peer granted at the open.</param>
    /// <param name="inline">Whether a sender waiting for credit continues in <see cref="Add"/>, on the connection's
    /// loop (<see cref="SshTransportOptions.UnsafePreferInlineScheduling"/>), instead of on the thread pool.</param>
    public SendWindow(uint initial, bool inline = false)
    {
        _available = initial;
        _largest = initial;
        _waiterOptions = inline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously;
    }

    /// <summary>Credit now available (for tests and diagnostics).</summary>
    public long Available
    {
        get
        {
            lock (_lock)
            {
                return _available;
            }
        }
    }

    /// <summary>Adds credit from SSH_MSG_CHANNEL_WINDOW_ADJUST.</summary>
    /// <exception cref="SshProtocolException">The window would exceed 2^32-1 bytes.</exception>
    public void Add(uint bytes)
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            if (_available + bytes > uint.MaxValue)
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"The peer's window adjust of {bytes} bytes takes the channel window past 2^32-1.");
            }

            _available += bytes;
            _largest = Math.Max(_largest, _available);
            waiter = _waiter;
            _waiter = null;
        }

        waiter?.TrySetResult();
    }

    /// <summary>The most credit there has been at once: at least the window the peer granted at the open.</summary>
    public long Largest
    {
        get
        {
            lock (_lock)
            {
                return _largest;
            }
        }
    }

    /// <summary>
    /// Waits until at least <paramref name="amount"/> bytes of credit are there (without taking them), for at most
    /// <paramref name="bound"/>.
    /// </summary>
    /// <returns>False when the time ran out first.</returns>
    public async ValueTask<bool> WaitForAsync(long amount, TimeSpan bound, TimeProvider time, CancellationToken cancellationToken)
    {
        long deadline = time.GetTimestamp() + (long)(bound.TotalSeconds * time.TimestampFrequency);
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_failure is not null)
                {
                    throw _failure;
                }

                if (_available >= amount)
                {
                    return true;
                }

                _waiter ??= new TaskCompletionSource(_waiterOptions);
                wait = _waiter.Task;
            }

            TimeSpan left = time.GetElapsedTime(time.GetTimestamp(), deadline);
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            try
            {
                await wait.WaitAsync(left, time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return false;
            }
        }
    }

    /// <summary>Takes exactly <paramref name="amount"/> bytes of credit if that much is there now.</summary>
    public bool TryTakeExactly(int amount)
    {
        lock (_lock)
        {
            if (_failure is null && _available >= amount)
            {
                _available -= amount;
                return true;
            }
        }

        return false;
    }

    /// <summary>Takes up to <paramref name="wanted"/> bytes of credit, at least one, if there is any now.</summary>
    /// <returns>False when there is no credit (or the window failed: <see cref="TakeAsync"/> then throws).</returns>
    public bool TryTake(int wanted, out int granted)
    {
        lock (_lock)
        {
            if (_failure is null && _available > 0)
            {
                granted = (int)Math.Min(wanted, _available);
                _available -= granted;
                return true;
            }
        }

        granted = 0;
        return false;
    }

    /// <summary>Takes up to <paramref name="wanted"/> bytes of credit, at least one, waiting while there is none.</summary>
    public async ValueTask<int> TakeAsync(int wanted, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_failure is not null)
                {
                    throw _failure;
                }

                if (_available > 0)
                {
                    int granted = (int)Math.Min(wanted, _available);
                    _available -= granted;
                    return granted;
                }

                _waiter ??= new TaskCompletionSource(_waiterOptions);
                wait = _waiter.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>No more credit will come (the channel or connection closed): waiting senders fail.</summary>
    public void Fail(Exception error)
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            _failure ??= error;
            waiter = _waiter;
            _waiter = null;
        }

        // Never inline: the caller may be ending the connection under its own lock.
        if (waiter is not null)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static w => w.TrySetResult(), waiter, preferLocal: false);
        }
    }
}
