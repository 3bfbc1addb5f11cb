using Microsoft.Extensions.Time.Testing;

namespace Ssh.Transport.Connection.Tests.Channels;

/// <summary>The peer's window for batches: exact takes, the largest credit, and the bounded wait for a batch's credit.</summary>
public class SendWindowBatchTests
{
    [Test]
    public void TryTakeExactly_TakesAllOrNothing()
    {
        var window = new SendWindow(100);
        Assert.That(window.TryTakeExactly(101), Is.False);
        Assert.That(window.Available, Is.EqualTo(100));
        Assert.That(window.TryTakeExactly(60), Is.True);
        Assert.That(window.Available, Is.EqualTo(40));
        window.Fail(new InvalidOperationException("closed"));
        Assert.That(window.TryTakeExactly(1), Is.False, "nothing after a failure");
    }

    [Test]
    public void Largest_FollowsTheMostCreditAtOnce()
    {
        var window = new SendWindow(100);
        Assert.That(window.Largest, Is.EqualTo(100));
        Assert.That(window.TryTakeExactly(100), Is.True);
        window.Add(30);
        Assert.That(window.Largest, Is.EqualTo(100));
        window.Add(200);
        Assert.That(window.Largest, Is.EqualTo(230));
    }

    [Test]
    public async Task WaitFor_CreditArrivesInTime_True_AndNothingTaken()
    {
        var time = new FakeTimeProvider();
        var window = new SendWindow(10);
        ValueTask<bool> waiting = window.WaitForAsync(100, TimeSpan.FromMilliseconds(2), time, CancellationToken.None);
        Assert.That(waiting.IsCompleted, Is.False);
        window.Add(50);
        Assert.That(waiting.IsCompleted, Is.False, "60 of 100");
        window.Add(40);
        Assert.That(await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(window.Available, Is.EqualTo(100), "waiting takes nothing");
    }

    [Test]
    public async Task WaitFor_TimeRunsOut_False()
    {
        var time = new FakeTimeProvider();
        var window = new SendWindow(10);
        ValueTask<bool> waiting = window.WaitForAsync(100, TimeSpan.FromMilliseconds(2), time, CancellationToken.None);
        window.Add(20);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.That(waiting.IsCompleted, Is.False);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.That(await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10)), Is.False);
        Assert.That(window.Available, Is.EqualTo(30));
    }

    [Test]
    public void WaitFor_Failure_Throws()
    {
        var window = new SendWindow(0);
        ValueTask<bool> waiting = window.WaitForAsync(100, TimeSpan.FromSeconds(30), TimeProvider.System, CancellationToken.None);
        window.Fail(new InvalidOperationException("closed"));
        Assert.That(async () => await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10)), Throws.InstanceOf<InvalidOperationException>());
    }
}
