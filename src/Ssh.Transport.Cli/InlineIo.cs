using System.Runtime.InteropServices;

namespace Ssh.Transport.Cli;

/// <summary>
/// exec's receive path on one thread, as OpenSSH's client runs it: the socket's completion, decryption, the channel's
/// data and the write to a standard output that never waits for a reader, with no wake-up of another thread between
/// them (docs/performance.md, "One thread per received packet").
/// </summary>
internal static class InlineIo
{
    /// <summary>.NET's switch for running socket completions on the socket engine's own thread (read once, at the first socket operation).</summary>
    public const string SocketCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Socket completions inline for this process, unless its environment already chose: call before the first socket
    /// operation. Only for a process that runs one connection whose continuations never block (exec): inline, one slow
    /// continuation would hold up every socket sharing the engine's thread.
    /// </summary>
    public static void PreferInlineSocketCompletions()
    {
        if (Environment.GetEnvironmentVariable(SocketCompletionsVariable) is null)
        {
            Environment.SetEnvironmentVariable(SocketCompletionsVariable, "1");
        }
    }

    /// <summary>
    /// Whether a write to <paramref name="fd"/> never waits for a reader: it is seekable, a regular file or a device such
    /// as /dev/null. Pipes, terminals and sockets are not (a reader that stops stops the writer), and get a thread.
    /// </summary>
    public static bool NeverWaitsForReader(int fd) =>
        !OperatingSystem.IsWindows() && NativeMethods.Seek(fd, 0, NativeMethods.SeekCurrent) >= 0;

    private static class NativeMethods
    {
        public const int SeekCurrent = 1;

        [DllImport("libc", EntryPoint = "lseek", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern long Seek(int fd, long offset, int whence);
    }
}
