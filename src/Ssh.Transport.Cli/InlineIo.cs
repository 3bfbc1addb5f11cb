using System.Runtime.InteropServices;

namespace Ssh.Transport.Cli;

/// <summary>
/// A packet's way on one thread, as OpenSSH runs it: exec's socket completion, decryption, the channel's data and the
/// write to a standard output that never waits for a reader; with serve --inline-io the same from Kestrel's socket to
/// a session's process. No wake-up of another thread between them (docs/performance.md, "One thread per packet").
/// </summary>
internal static class InlineIo
{
    /// <summary>.NET's switch for running socket completions on the socket engine's own thread (read once, at the first socket operation).</summary>
    public const string SocketCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>serve's flag for running its connections' I/O inline.</summary>
    public const string ServeFlag = "--inline-io";

    /// <summary>
    /// Whether this command line runs its connections' I/O inline: exec always (one connection, whose continuations
    /// never block), serve with <see cref="ServeFlag"/>.
    /// </summary>
    public static bool Wanted(IReadOnlyList<string> args) =>
        args.Count > 0 && (args[0] == "exec" || args[0] == "serve" && args.Contains(ServeFlag));

    /// <summary>
    /// Socket completions inline for this process, unless its environment already chose: call before the first socket
    /// operation. Only for a process whose continuations never block (see <see cref="Wanted"/>): inline, a slow
    /// continuation holds up every socket that shares the engine's thread.
    /// </summary>
    public static void PreferInlineSocketCompletions()
    {
        if (Environment.GetEnvironmentVariable(SocketCompletionsVariable) is null)
        {
            Environment.SetEnvironmentVariable(SocketCompletionsVariable, "1");
        }
    }

    /// <summary>
    /// Whether a read or write of <paramref name="fd"/> never waits for the other end: it is seekable, a regular file or
    /// a device such as /dev/null. Pipes, terminals and sockets are not (a reader that stops stops the writer, a
    /// writer that pauses holds the reader), and get a thread.
    /// </summary>
    public static bool NeverWaits(int fd) =>
        !OperatingSystem.IsWindows() && NativeMethods.Seek(fd, 0, NativeMethods.SeekCurrent) >= 0;

    private static class NativeMethods
    {
        public const int SeekCurrent = 1;

        [DllImport("libc", EntryPoint = "lseek", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern long Seek(int fd, long offset, int whence);
    }
}
