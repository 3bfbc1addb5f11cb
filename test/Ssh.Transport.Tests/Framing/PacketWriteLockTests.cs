using Ssh.Transport.Framing;

namespace Ssh.Transport.Tests.Framing;

public class PacketWriteLockTests
{
    [Test]
    public void TryEnter_FreeThenHeld()
    {
        var gate = new PacketWriteLock();
        Assert.That(gate.TryEnter(), Is.True);
        Assert.That(gate.TryEnter(), Is.False);
        gate.Exit();
        Assert.That(gate.TryEnter(), Is.True);
    }

    [Test]
    public async Task Waiter_GetsTheLockWhenTheHolderExits_AndNoLaterCallerBargesIn()
    {
        var gate = new PacketWriteLock();
        Assert.That(gate.TryEnter(), Is.True);
        Task waiting = gate.EnterAsync().AsTask();
        Assert.That(waiting.IsCompleted, Is.False);

        gate.Exit();
        Assert.That(gate.TryEnter(), Is.False, "a writer arriving as the lock is given back queues behind the waiter");
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(gate.TryEnter(), Is.False, "the waiter holds it");
        gate.Exit();
        Assert.That(gate.TryEnter(), Is.True);
    }

    [Test]
    public async Task Waiters_AreServedInTurn()
    {
        var gate = new PacketWriteLock();
        Assert.That(gate.TryEnter(), Is.True);
        var order = new List<int>();
        Task[] waiters = Enumerable.Range(0, 5).Select(i => EnterAndRecord(i)).ToArray();
        gate.Exit();
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(order, Is.EqualTo(new[] { 0, 1, 2, 3, 4 }));

        async Task EnterAndRecord(int i)
        {
            await gate.EnterAsync();
            order.Add(i);
            gate.Exit();
        }
    }

    [Test]
    public async Task CancelledWait_Throws_DoesNotHoldTheLock_AndLeavesItUsable()
    {
        var gate = new PacketWriteLock();
        Assert.That(gate.TryEnter(), Is.True);
        using var cts = new CancellationTokenSource();
        Task cancelled = gate.EnterAsync(cts.Token).AsTask();
        Task next = gate.EnterAsync().AsTask();
        cts.Cancel();
        Assert.CatchAsync<OperationCanceledException>(() => cancelled);

        gate.Exit();
        await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(gate.TryEnter(), Is.False, "the waiter after the cancelled one holds it");
        gate.Exit();
        Assert.That(gate.TryEnter(), Is.True);
    }

    [Test]
    public void AlreadyCancelledToken_ThrowsEvenWhenFree()
    {
        var gate = new PacketWriteLock();
        Assert.That(gate.EnterAsync(new CancellationToken(canceled: true)).AsTask().IsCanceled, Is.True);
        Assert.That(gate.TryEnter(), Is.True, "and nothing was taken");
    }

    /// <summary>
    /// Writers taking the lock every way (TryEnter, EnterAsync, Enter, cancelled waits) never overlap, and none is left
    /// waiting with the lock free.
    /// </summary>
    [Test]
    public async Task Contention_EveryWayOfTakingIt_MutualExclusionAndNoLostWakeup()
    {
        var gate = new PacketWriteLock();
        int inside = 0;
        long entries = 0;
        long counter = 0;

        async Task Worker(int seed)
        {
            var random = new Random(seed);
            for (int i = 0; i < 2000; i++)
            {
                int way = random.Next(4);
                if (way == 0)
                {
                    if (!gate.TryEnter())
                    {
                        continue;
                    }
                }
                else if (way == 1)
                {
                    using var cts = new CancellationTokenSource();
                    Task entering = gate.EnterAsync(cts.Token).AsTask();
                    if (random.Next(2) == 0)
                    {
                        cts.Cancel();
                    }

                    try
                    {
                        await entering;
                    }
                    catch (OperationCanceledException)
                    {
                        continue;
                    }
                }
                else if (way == 2)
                {
                    gate.Enter();
                }
                else
                {
                    await gate.EnterAsync();
                }

                Assert.That(Interlocked.Exchange(ref inside, 1), Is.Zero, "two holders at once");
                counter++;
                if (random.Next(8) == 0)
                {
                    await Task.Yield();
                }

                Volatile.Write(ref inside, 0);
                Interlocked.Increment(ref entries);
                gate.Exit();
            }
        }

        Task[] workers = Enumerable.Range(0, 8).Select(seed => Task.Run(() => Worker(seed))).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.That(counter, Is.EqualTo(Interlocked.Read(ref entries)));
        Assert.That(gate.TryEnter(), Is.True, "free at the end");
    }
}
