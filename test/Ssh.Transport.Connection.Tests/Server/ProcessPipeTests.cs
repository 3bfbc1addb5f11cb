using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Server;

/// <summary>
/// The pipes to a session process (<see cref="SshServerSettings.ProcessPipeSize"/>): their size as the process sees it
/// (F_GETPIPE_SZ through Python's fcntl), the setting's range, and the budget that keeps the server within half of the
/// user's pipe limit.
/// </summary>
[CancelAfter(60_000)]
public class ProcessPipeTests
{
    private const string Python = "/usr/bin/python3";

    // Prints the capacity of the process's standard input, output and error pipes.
    private const string PrintPipeSizes = Python + " -c 'import fcntl; print(*(fcntl.fcntl(fd, 1032) for fd in (0, 1, 2)))'";

    [Test]
    public async Task ByDefault_StdinAndStdoutHold256KiB_StderrKeepsTheSystemsSize()
    {
        int[] sizes = await PipeSizesAsync(new SshServerSettings());
        Assert.That(sizes, Is.EqualTo(new[] { 256 * 1024, 256 * 1024, SystemPipeSize() }));
    }

    [Test]
    public async Task Zero_KeepsTheSystemsSize()
    {
        int[] sizes = await PipeSizesAsync(new SshServerSettings { ProcessPipeSize = 0 });
        Assert.That(sizes, Is.EqualTo(Enumerable.Repeat(SystemPipeSize(), 3)));
    }

    [Test]
    public async Task TheMost_OneMiB_IsTaken()
    {
        int[] sizes = await PipeSizesAsync(new SshServerSettings { ProcessPipeSize = SshServerSettings.MaxProcessPipeSize });
        Assert.That(sizes[..2], Is.EqualTo(new[] { 1024 * 1024, 1024 * 1024 }));
    }

    [TestCase(-1)]
    [TestCase(SshServerSettings.MaxProcessPipeSize + 1)]
    public void OutOfRange_IsAProblem(int size)
    {
        var e = Assert.Throws<ArgumentException>(() => new SshServerSettings { ProcessPipeSize = size }.Validate());
        Assert.That(e!.Message, Does.Contain("ProcessPipeSize"));
    }

    [TestCase(0)]
    [TestCase(4096)]
    [TestCase(SshServerSettings.MaxProcessPipeSize)]
    public void InRange_IsAccepted(int size) =>
        Assert.DoesNotThrow(() => new SshServerSettings { ProcessPipeSize = size }.Validate());

    [Test]
    public void Budget_RefusesWhatDoesNotFit_UntilReleased()
    {
        var budget = new ProcessPipeBudget(1024 * 1024);
        Assert.Multiple(() =>
        {
            Assert.That(budget.TryReserve(512 * 1024), Is.True);
            Assert.That(budget.TryReserve(512 * 1024), Is.True);
            Assert.That(budget.TryReserve(1), Is.False);
            Assert.That(budget.Used, Is.EqualTo(1024 * 1024));
        });
        budget.Release(512 * 1024);
        Assert.Multiple(() =>
        {
            Assert.That(budget.TryReserve(512 * 1024 + 1), Is.False);
            Assert.That(budget.TryReserve(512 * 1024), Is.True);
        });
    }

    [Test]
    public void Budget_UnderContention_NeverExceedsItsCapacity()
    {
        var budget = new ProcessPipeBudget(100);
        int granted = 0;
        Parallel.For(0, 1000, _ =>
        {
            if (budget.TryReserve(1))
            {
                Interlocked.Increment(ref granted);
            }
        });
        Assert.That((granted, budget.Used), Is.EqualTo((100, 100L)));
    }

    [Test]
    public void Capacity_IsHalfTheUsersSoftLimit_ZeroIsNoLimit_UnreadableIsTheKernelsDefault()
    {
        string file = Path.GetTempFileName();
        try
        {
            long page = Environment.SystemPageSize;
            File.WriteAllText(file, "1000\n");
            long half = ProcessPipeBudget.ReadCapacity(file);
            File.WriteAllText(file, "0\n");
            long off = ProcessPipeBudget.ReadCapacity(file);
            long missing = ProcessPipeBudget.ReadCapacity(file + ".missing");
            Assert.That((half, off, missing), Is.EqualTo((500 * page, long.MaxValue, 8192 * page)));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<int[]> PipeSizesAsync(SshServerSettings settings)
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(Python))
        {
            Assert.Ignore("Pipe sizes are Linux's; the probe needs /usr/bin/python3.");
        }

        await using ServerHarness h = await ServerHarness.StartAsync(new TestHandler(), settings);
        RawSession session = await h.OpenSessionAsync();
        Assert.That(await session.ExecAsync(PrintPipeSizes), Is.True);
        (string output, string error, SshExitStatus status) = await session.CollectAsync();
        Assert.That(status.ExitCode, Is.EqualTo(0), error);
        return [.. output.Split(' ', StringSplitOptions.TrimEntries).Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture))];
    }

    /// <summary>A new pipe's capacity here: 16 pages unless the user is past the soft limit.</summary>
    private static int SystemPipeSize() => 16 * Environment.SystemPageSize;
}
