using System.Globalization;

namespace Ssh.Transport.Connection;

/// <summary>
/// How much pipe memory this process may add to its session processes' pipes (<see cref="SshServerSettings.ProcessPipeSize"/>):
/// half of Linux's per-user soft limit, so that the user's other pipes never fall to the kernel's minimum.
/// </summary>
/// <remarks>
/// Linux counts the pages of every pipe of a user (pipe(7), /proc/sys/fs/pipe-user-pages-soft, 16,384 pages by
/// default). Past the soft limit, an unprivileged user's new pipes get two pages, and enlarging them fails. Only this
/// process's enlargements are counted here, against half the limit: the other half is left to pipes the server does
/// not size, its sessions' own pipelines among them.
/// </remarks>
internal sealed class ProcessPipeBudget
{
    /// <summary>The kernel's default soft limit, in pages, where /proc does not say.</summary>
    private const long DefaultSoftLimitPages = 16384;

    private readonly long _capacity;
    private long _used;

    internal ProcessPipeBudget(long capacity) => _capacity = capacity;

    /// <summary>The budget of this process, read once from /proc.</summary>
    public static ProcessPipeBudget Shared { get; } = new(ReadCapacity("/proc/sys/fs/pipe-user-pages-soft"));

    /// <summary>Bytes reserved now.</summary>
    public long Used => Interlocked.Read(ref _used);

    /// <summary>Reserves <paramref name="bytes"/> when they fit; false (nothing reserved) when they do not.</summary>
    public bool TryReserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        long used = Interlocked.Read(ref _used);
        while (true)
        {
            if (bytes > _capacity - used)
            {
                return false;
            }

            long seen = Interlocked.CompareExchange(ref _used, used + bytes, used);
            if (seen == used)
            {
                return true;
            }

            used = seen;
        }
    }

    /// <summary>Gives back what <see cref="TryReserve"/> reserved.</summary>
    public void Release(long bytes) => Interlocked.Add(ref _used, -bytes);

    /// <summary>Half the soft limit that <paramref name="path"/> gives in pages; unlimited for 0.</summary>
    internal static long ReadCapacity(string path)
    {
        long pages = DefaultSoftLimitPages;
        try
        {
            if (long.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long read))
            {
                pages = read;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux, or /proc is hidden: the kernel's default.
        }

        // 0 turns the limit off.
        return pages == 0 ? long.MaxValue : pages * Environment.SystemPageSize / 2;
    }
}
