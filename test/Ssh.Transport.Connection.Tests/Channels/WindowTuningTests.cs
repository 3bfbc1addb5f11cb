using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;

namespace Ssh.Transport.Connection.Tests.Channels;

/// <summary>
/// Channel windows that follow the path (<see cref="SshChannelOptions.MaxWindowSize"/>): grown when half the window
/// goes by within two round trips, bounded per channel and per connection, given back when the reader is slow, and the
/// round trip measured once with keepalive@openssh.com. The clock is fake, so "fast" and "slow" are exact.
/// </summary>
[CancelAfter(60_000)]
public class WindowTuningTests
{
    private const int Initial = 128 * 1024;
    private const int Max = 1024 * 1024;

    private static SshChannelOptions Tuned(int maxConnection = 64 * 1024 * 1024) =>
        new() { WindowSize = Initial, MaxWindowSize = Max, MaxConnectionWindowSize = maxConnection };

    /// <summary>The server sends <paramref name="data"/> on every channel the client opens, then closes it.</summary>
    private static Action<ConnectionHarness> ServerSends(byte[] data, Action<ConnectionHarness>? more = null) => h =>
    {
        ConnectionHarness.ServerAccepts(async channel =>
        {
            await channel.Output.WriteAsync(data);
            await channel.CloseAsync();
        })(h);
        more?.Invoke(h);
    };

    private static Task<byte[]> ReadAllAsync(PipeReader reader) => Server.RawSession.ReadAllAsync(reader);

    [Test]
    public async Task Window_GrowsToMax_WhenHalfOfItGoesByWithinTwoRoundTrips()
    {
        byte[] data = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(clientChannels: Tuned(), beforeRun: ServerSends(data, h =>
        {
            h.Client.TimeProvider = new FakeTimeProvider(); // no time passes: every half window comes within the round trip
            h.Client.OnRoundTrip(TimeSpan.FromMilliseconds(100));
        }));

        SshChannel channel = await h.Client.OpenChannelAsync("session");
        Assert.That(channel.WindowTarget, Is.EqualTo(Initial));
        Assert.That(SHA256.HashData(await ReadAllAsync(channel.Input)), Is.EqualTo(SHA256.HashData(data)));
        Assert.That(channel.WindowTarget, Is.EqualTo(Max), "doubled at each adjust up to the maximum, and no further");

        // A grown window (a long path) gives credit back an eighth at a time, so that 7/8 of it stays in flight: in
        // halves, the half being consumed would wait at the receiver until whole, and only half the window would move.
        Assert.That(channel.CreditStep, Is.EqualTo(Max / 8));
    }

    [Test]
    public async Task Credit_AtTheInitialWindow_GoesBackInHalves()
    {
        // A short path keeps the initial window: credit goes back in halves, few large adjusts.
        const int Window = 2 * 1024 * 1024;
        byte[] data = RandomNumberGenerator.GetBytes(Window);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(
            clientChannels: new SshChannelOptions { WindowSize = Window },
            beforeRun: ConnectionHarness.ServerAccepts(async channel =>
            {
                await channel.Output.WriteAsync(data);
                await release.Task;
                await channel.CloseAsync();
            }));

        SshChannel channel = await h.Client.OpenChannelAsync("session");
        Assert.That(channel.CreditStep, Is.EqualTo(Window / 2));
        while (channel.ReceiveWindowLeft > 0)
        {
            await Task.Delay(5); // the whole window arrives
        }

        long consumed = 0;
        while (consumed < Window / 2)
        {
            ReadResult result = await channel.Input.ReadAsync();
            long take = Math.Min(Math.Min(Window / 2 - consumed, 100_000), result.Buffer.Length);
            channel.Input.AdvanceTo(result.Buffer.GetPosition(take));
            consumed += take;
            Assert.That(channel.ReceiveWindowLeft, Is.EqualTo(consumed < Window / 2 ? 0 : Window / 2), $"after {consumed} bytes read");
        }

        release.SetResult();
        Assert.That((await ReadAllAsync(channel.Input)).Length, Is.EqualTo(Window / 2));
    }

    [Test]
    public async Task Window_StaysFixed_WhenTheRateIsBelowWhatItAllows()
    {
        byte[] data = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        var clock = new FakeTimeProvider { AutoAdvanceAmount = TimeSpan.FromSeconds(1) };
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(clientChannels: Tuned(), beforeRun: ServerSends(data, h =>
        {
            h.Client.TimeProvider = clock; // a second between any two readings of the clock: far more than two round trips
            h.Client.OnRoundTrip(TimeSpan.FromMilliseconds(1));
        }));

        SshChannel channel = await h.Client.OpenChannelAsync("session");
        Assert.That(SHA256.HashData(await ReadAllAsync(channel.Input)), Is.EqualTo(SHA256.HashData(data)));
        Assert.That(channel.WindowTarget, Is.EqualTo(Initial));
    }

    [Test]
    public async Task Window_Shrinks_WhenTheApplicationLeavesItUnread()
    {
        byte[] data = RandomNumberGenerator.GetBytes(16 * 1024 * 1024);
        var clock = new FakeTimeProvider();
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(clientChannels: Tuned(), beforeRun: ServerSends(data, h =>
        {
            h.Client.TimeProvider = clock;
            h.Client.OnRoundTrip(TimeSpan.FromMilliseconds(100));
        }));

        SshChannel channel = await h.Client.OpenChannelAsync("session");
        long received = 0;

        // A fast reader first: the window grows to the maximum.
        while (channel.WindowTarget < Max)
        {
            ReadResult result = await channel.Input.ReadAsync();
            received += result.Buffer.Length;
            channel.Input.AdvanceTo(result.Buffer.End);
        }

        // Then a slow one: before each 64 KiB it takes, the peer has filled the window and 100 ms have gone by.
        long before = channel.WindowTarget;
        while (channel.WindowTarget == before)
        {
            while (channel.ReceiveWindowLeft > 0)
            {
                await Task.Delay(1);
            }

            clock.Advance(TimeSpan.FromMilliseconds(100));
            ReadResult result = await channel.Input.ReadAsync();
            Assert.That(result.IsCompleted, Is.False, "the window never shrank");
            long take = Math.Min(64 * 1024, result.Buffer.Length);
            received += take;
            channel.Input.AdvanceTo(result.Buffer.GetPosition(take));
        }

        Assert.That(channel.WindowTarget, Is.EqualTo(before / 2));
        Assert.That(h.Client.TotalWindow, Is.EqualTo(before / 2), "the connection's total follows");
        received += (await ReadAllAsync(channel.Input)).Length;
        Assert.That(received, Is.EqualTo(data.Length), "nothing lost while the window changed");
    }

    /// <summary>
    /// Reads everything, moving <paramref name="clock"/> on as the bytes are taken: <paramref name="ticksPerByte"/> says
    /// how long each byte took (given the window at the time), which sets the rate the window tuning measures.
    /// </summary>
    private static async Task<(byte[] Data, long HighestWindow)> ReadOnTheClockAsync(SshChannel channel, FakeTimeProvider clock, Func<long, double> ticksPerByte)
    {
        using var all = new MemoryStream();
        long highest = 0;
        while (true)
        {
            ReadResult result = await channel.Input.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                all.Write(segment.Span);
            }

            clock.Advance(TimeSpan.FromTicks((long)(ticksPerByte(channel.WindowTarget) * result.Buffer.Length)));
            channel.Input.AdvanceTo(result.Buffer.End);
            highest = Math.Max(highest, channel.WindowTarget);
            if (result.IsCompleted)
            {
                return (all.ToArray(), highest);
            }
        }
    }

    /// <summary>
    /// 16 MiB sent over a 1 ms round trip (short: growth is a trial there) and read on a fake clock that
    /// <paramref name="ticksPerByte"/> moves; returns whether everything arrived, and the highest and the last window.
    /// </summary>
    private static async Task<(bool Intact, long Highest, long Last)> ReadOverAShortPathAsync(Func<long, double> ticksPerByte)
    {
        byte[] data = RandomNumberGenerator.GetBytes(16 * 1024 * 1024);
        var clock = new FakeTimeProvider();
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(clientChannels: Tuned(), beforeRun: ServerSends(data, h =>
        {
            h.Client.TimeProvider = clock;
            h.Client.WindowGrowthDelay = TimeSpan.Zero;
            h.Client.OnRoundTrip(TimeSpan.FromMilliseconds(1));
        }));

        SshChannel channel = await h.Client.OpenChannelAsync("session");
        (byte[] received, long highest) = await ReadOnTheClockAsync(channel, clock, ticksPerByte);
        return (SHA256.HashData(received).AsSpan().SequenceEqual(SHA256.HashData(data)), highest, channel.WindowTarget);
    }

    [Test]
    public async Task ShortRoundTrip_Growth_IsGivenBack_WhenTheRateDoesNotRise()
    {
        // A short path where the round trip alone would grow the window (half of it comes within two round trips),
        // but the reader's pace, not the window, sets the rate: each growth is tried, does not pay, and goes back.
        double perByte = TimeSpan.TicksPerMillisecond / (2.0 * Initial); // a whole initial window in half a millisecond
        (bool intact, long highest, long last) = await ReadOverAShortPathAsync(_ => perByte);

        Assert.That(intact, Is.True);
        Assert.That(highest, Is.EqualTo(2 * Initial), "tried once at a time, never further");
        Assert.That(last, Is.EqualTo(Initial), "given back");
    }

    [Test]
    public async Task ShortRoundTrip_Growth_IsKept_WhenTheRateRisesWithIt()
    {
        // The same short path, but the window sets the rate (each byte takes less time, the larger the window): every
        // growth pays, and the window reaches the maximum.
        (bool intact, long highest, _) = await ReadOverAShortPathAsync(window => TimeSpan.TicksPerMillisecond / (2.0 * window));

        Assert.That(intact, Is.True);
        Assert.That(highest, Is.EqualTo(Max));
    }

    [Test]
    public async Task Windows_Together_StayWithinTheConnectionBound_AndAreReleasedAtClose()
    {
        const int Bound = Max + Max / 2;
        byte[] data = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(clientChannels: Tuned(Bound), beforeRun: ServerSends(data, h =>
        {
            h.Client.TimeProvider = new FakeTimeProvider();
            h.Client.OnRoundTrip(TimeSpan.FromMilliseconds(100));
        }));

        SshChannel[] channels = await Task.WhenAll(h.Client.OpenChannelAsync("session"), h.Client.OpenChannelAsync("session"));
        long highest = 0;
        async Task<byte[]> ReadWatchingAsync(SshChannel channel)
        {
            using var all = new MemoryStream();
            while (true)
            {
                ReadResult result = await channel.Input.ReadAsync();
                foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                {
                    all.Write(segment.Span);
                }

                channel.Input.AdvanceTo(result.Buffer.End);
                Interlocked.Exchange(ref highest, Math.Max(Interlocked.Read(ref highest), h.Client.TotalWindow));
                if (result.IsCompleted)
                {
                    return all.ToArray();
                }
            }
        }

        byte[][] received = await Task.WhenAll(channels.Select(ReadWatchingAsync));
        Assert.That(received.Select(SHA256.HashData), Has.All.EqualTo(SHA256.HashData(data)));
        Assert.That(highest, Is.InRange(2 * Initial + 1, Bound), "grew, within the connection's bound");
        foreach (SshChannel channel in channels)
        {
            await channel.CloseAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.That(h.Client.TotalWindow, Is.Zero);
    }

    [Test]
    public async Task RoundTrip_MeasuredOnce_WithKeepAlive_WhenBulkDataFirstFlows()
    {
        byte[] data = RandomNumberGenerator.GetBytes(2 * 1024 * 1024);
        var seen = new List<string>();
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(clientChannels: Tuned(), beforeRun: ServerSends(data, h =>
        {
            h.Server.GlobalRequestHandler = (name, _, _) =>
            {
                lock (seen)
                {
                    seen.Add(name);
                }

                return ValueTask.FromResult<byte[]?>(null);
            };
        }));

        // Nothing is measured while nothing flows.
        Assert.That(h.Client.MinRoundTrip, Is.Null);

        for (int i = 0; i < 2; i++)
        {
            SshChannel channel = await h.Client.OpenChannelAsync("session");
            Assert.That(SHA256.HashData(await ReadAllAsync(channel.Input)), Is.EqualTo(SHA256.HashData(data)));
        }

        await h.Client.SendGlobalRequestAsync<object?>("marker@test", wantReply: true, null, null).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(seen, Is.EqualTo(new[] { "keepalive@openssh.com", "marker@test" }));
        Assert.That(h.Client.MinRoundTrip, Is.Not.Null);
    }

    [Test]
    public void Options_MaxWindowBelowInitial_Refused()
    {
        Assert.Throws<ArgumentException>(() => new SshChannelOptions { WindowSize = Max, MaxWindowSize = Initial }.Validate());
        Assert.Throws<ArgumentException>(() => new SshChannelOptions { WindowSize = Max, MaxConnectionWindowSize = Initial }.Validate());
        Assert.DoesNotThrow(() => new SshChannelOptions { WindowSize = Max, MaxWindowSize = Max }.Validate());
    }
}
