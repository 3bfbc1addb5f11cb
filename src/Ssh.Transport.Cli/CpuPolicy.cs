using System.Globalization;
using System.Runtime.InteropServices;

namespace Ssh.Transport.Cli;

/// <summary>
/// Puts the tool's threads under Linux's SCHED_BATCH policy (sched(7)): a thread that wakes another no longer gets
/// preempted by it on its own core. A transfer hands every packet from the socket's thread to the receive loop, to the
/// connection's consumer and to the output thread; under the default policy each of those wake-ups preempted the
/// waker, and scheduler entry and exit were the largest cost of a transfer on two cores (docs/performance.md,
/// "Process settings").
/// </summary>
/// <remarks>
/// Linux keeps the policy per thread and a new thread (or child process) inherits its creator's, so every thread that
/// exists at start is switched, and every later one inherits the policy. Only threads under the default policy
/// (SCHED_OTHER) are touched: a process started with <c>chrt</c> keeps what it was given. The environment variable
/// <see cref="EnvironmentVariable"/> set to <c>normal</c> leaves the process as it started.
/// </remarks>
internal static class CpuPolicy
{
    /// <summary>The environment variable that chooses the policy: <c>batch</c> (the default) or <c>normal</c>.</summary>
    public const string EnvironmentVariable = "SSH_TRANSPORT_CPU_POLICY";

    /// <summary>sched(7): the default time-sharing policy.</summary>
    internal const int SchedOther = 0;

    /// <summary>sched(7): time-sharing for throughput; a woken thread does not preempt the running one.</summary>
    internal const int SchedBatch = 3;

    /// <summary>Applies the policy the environment chooses; a no-op off Linux or with <c>normal</c>.</summary>
    /// <returns>How many threads were switched to SCHED_BATCH.</returns>
    public static int Apply()
    {
        string? choice = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!OperatingSystem.IsLinux() || string.Equals(choice, "normal", StringComparison.OrdinalIgnoreCase))
        {
            return 0;
        }

        // Two passes: a thread started during the first by a thread not yet switched inherited the old policy.
        return SwitchThreads() + SwitchThreads();
    }

    private static int SwitchThreads()
    {
        int switched = 0;
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories("/proc/self/task");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0; // no /proc: nothing to switch
        }

        foreach (string task in tasks)
        {
            if (!int.TryParse(Path.GetFileName(task), NumberStyles.None, CultureInfo.InvariantCulture, out int tid))
            {
                continue;
            }

            // A thread that ended meanwhile fails with ESRCH: nothing to do for it.
            var parameters = default(NativeMethods.SchedParam);
            if (NativeMethods.GetScheduler(tid) == SchedOther && NativeMethods.SetScheduler(tid, SchedBatch, ref parameters) == 0)
            {
                switched++;
            }
        }

        return switched;
    }

    private static class NativeMethods
    {
        /// <summary>struct sched_param: the static priority, 0 for the time-sharing policies.</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct SchedParam
        {
            public int Priority;
        }

        [DllImport("libc", EntryPoint = "sched_getscheduler", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int GetScheduler(int pid);

        [DllImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int SetScheduler(int pid, int policy, ref SchedParam parameters);
    }
}
