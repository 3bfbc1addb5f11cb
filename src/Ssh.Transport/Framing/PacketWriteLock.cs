using System.Diagnostics.CodeAnalysis;

namespace Ssh.Transport.Framing;

/// <summary>
/// The lock that serializes a connection's packet writers (RFC 4253 §6.4: sequence numbers and cipher state follow
/// the order packets leave in). Taking it free and giving it back are one interlocked instruction each, where
/// <see cref="SemaphoreSlim"/> takes a <see cref="Monitor"/> in both; a writer that finds it held waits on a
/// semaphore.
/// </summary>
/// <remarks>
/// <para>
/// No barging: while writers wait, one that arrives queues behind them rather than taking the lock as it is given
/// back, so a writer in a loop (bulk channel data) cannot starve a waiting one (a window adjust, a reply).
/// </para>
/// <para>
/// Why no wakeup is lost: a waiter counts itself in <c>_waiters</c> before it tries the lock, and <see cref="Exit"/>
/// frees the lock before it reads <c>_waiters</c>, both with full fences. Either the exit sees the waiter and
/// releases the semaphore once, or the waiter, counted after that read, finds the lock free. A release that no
/// waiter takes (the waiter took the lock on its own, or its wait was cancelled) leaves a count that only makes a
/// later waiter try the lock once more.
/// </para>
/// </remarks>
[SuppressMessage("Design", "CA1001", Justification = "SemaphoreSlim holds nothing to release unless its AvailableWaitHandle is used, and it is not; disposing it would make an Exit racing the connection's disposal throw.")]
internal sealed class PacketWriteLock
{
    private readonly SemaphoreSlim _wake = new(0);
    private int _held;
    private int _waiters;

    /// <summary>Takes the lock if it is free and nobody waits for it.</summary>
    public bool TryEnter() => Volatile.Read(ref _waiters) == 0 && Interlocked.CompareExchange(ref _held, 1, 0) == 0;

    /// <summary>Takes the lock, waiting behind the writers already waiting.</summary>
    /// <param name="cancellationToken">Cancels the wait (as <see cref="SemaphoreSlim.WaitAsync(CancellationToken)"/>, also when already cancelled); the lock is then not held.</param>
    public ValueTask EnterAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        return TryEnter() || TryEnterAsFirstWaiter() ? ValueTask.CompletedTask : WaitAsync(cancellationToken);
    }

    /// <summary>Takes the lock, blocking the thread (disposal and key installation, never a packet's path).</summary>
    public void Enter()
    {
        if (TryEnter() || TryEnterAsFirstWaiter())
        {
            return;
        }

        try
        {
            do
            {
                _wake.Wait();
            }
            while (!TryTake());
        }
        finally
        {
            Interlocked.Decrement(ref _waiters);
        }
    }

    /// <summary>Gives the lock back and wakes a waiter, if any.</summary>
    public void Exit()
    {
        Interlocked.Exchange(ref _held, 0);
        if (Volatile.Read(ref _waiters) > 0)
        {
            _wake.Release();
        }
    }

    /// <summary>
    /// Counts this caller among the waiters; the first to wait tries the lock once more (its holder may have left
    /// meanwhile), later ones wait their turn. False when the caller must wait (it stays counted).
    /// </summary>
    private bool TryEnterAsFirstWaiter()
    {
        if (Interlocked.Increment(ref _waiters) == 1 && TryTake())
        {
            Interlocked.Decrement(ref _waiters);
            return true;
        }

        return false;
    }

    private async ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        try
        {
            do
            {
                await _wake.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            while (!TryTake());
        }
        finally
        {
            Interlocked.Decrement(ref _waiters);
        }
    }

    private bool TryTake() => Interlocked.CompareExchange(ref _held, 1, 0) == 0;
}
