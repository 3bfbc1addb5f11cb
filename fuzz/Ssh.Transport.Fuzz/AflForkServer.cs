using System.IO.Pipes;
using System.Runtime.InteropServices;

namespace Ssh.Transport.Fuzz;

/// <summary>
/// afl-fuzz's fork-server protocol in persistent mode, served by this process (no fork): the same protocol SharpFuzz's
/// <c>Fuzzer.Run</c> speaks, with one difference that matters under load. SharpFuzz 2.3.0 reads its first input as
/// soon as it has sent its hello, but afl-fuzz writes the first input into the harness's standard input (a file,
/// empty until then) only after it has read that hello. When the harness won that race it ran an empty input, which
/// most targets answer without touching the instrumented libraries, and afl-fuzz stopped its dry run with "No
/// instrumentation detected". Here every input, the first included, is read after afl-fuzz's "go" for it.
/// </summary>
internal static partial class AflForkServer
{
    // AFL's fixed descriptors: control (afl-fuzz to us) and status (us to afl-fuzz).
    private const string ControlFd = "198";
    private const string StatusFd = "199";

    // What afl-fuzz reads as a wait status: 0 a normal exit, 2 "killed by signal 2", a crash (SharpFuzz's codes).
    private const int StatusOk = 0;
    private const int StatusCrash = 2;

    // SharpFuzz's instrumentation writes into a 64 KiB map (AFL's default MAP_SIZE).
    private const int MapSize = 1 << 16;

    /// <summary>
    /// Serves inputs to <paramref name="run"/> until afl-fuzz ends the process; returns false at once when the
    /// process is not run by afl-fuzz (no <c>__AFL_SHM_ID</c>).
    /// </summary>
    public static unsafe bool TryServe(Action<byte[]> run)
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable("__AFL_SHM_ID"), out int shmId))
        {
            return false;
        }

        nint map = Shmat(shmId, 0, 0);
        if (map == -1)
        {
            throw new InvalidOperationException($"shmat({shmId}) failed: errno {Marshal.GetLastPInvokeError()}.");
        }

        using var control = new BinaryReader(new AnonymousPipeClientStream(PipeDirection.In, ControlFd));
        using var status = new BinaryWriter(new AnonymousPipeClientStream(PipeDirection.Out, StatusFd));
        using Stream input = Console.OpenStandardInput();
        using var buffer = new MemoryStream();
        int pid = Environment.ProcessId;
        byte* scratch = (byte*)NativeMemory.AllocZeroed(MapSize);

        status.Write(0); // hello: no options, the default map size
        for (bool first = true; ; first = false)
        {
            control.ReadInt32(); // go (the value says whether the last run timed out: nothing to do in process)
            status.Write(pid);

            // afl-fuzz has written this input and put the shared offset back at 0.
            buffer.SetLength(0);
            input.CopyTo(buffer);
            byte[] data = buffer.ToArray();

            if (first)
            {
                // Static constructors and first-call paths run once per process: run the first input once into a
                // scratch map so they do not show in its coverage as edges that vary between runs.
                SharpFuzz.Common.Trace.SharedMem = scratch;
                Execute(run, data);
                SharpFuzz.Common.Trace.SharedMem = (byte*)map;
            }

            SharpFuzz.Common.Trace.PrevLocation = 0;
            status.Write(Execute(run, data));
        }
    }

    private static int Execute(Action<byte[]> run, byte[] data)
    {
        try
        {
            run(data);
            return StatusOk;
        }
#pragma warning disable CA1031 // Any exception escaping a target is the finding afl-fuzz saves.
        catch
#pragma warning restore CA1031
        {
            return StatusCrash;
        }
    }

    [LibraryImport("libc", EntryPoint = "shmat", SetLastError = true)]
    private static partial nint Shmat(int shmId, nint address, int flags);
}
