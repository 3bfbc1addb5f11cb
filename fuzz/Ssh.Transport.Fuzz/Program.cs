namespace Ssh.Transport.Fuzz;

/// <summary>
/// The fuzzing harness: <c>Ssh.Transport.Fuzz TARGET</c> runs one target under afl-fuzz (persistent mode: one
/// process, one input after another, <see cref="AflForkServer"/>); <c>TARGET --replay FILE|DIR...</c> runs inputs
/// once each and reports the ones that fail (for triage and regression); <c>seeds DIR</c> writes the seed corpora;
/// <c>list</c> names the targets.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.Error.WriteLine("usage: Ssh.Transport.Fuzz TARGET | TARGET --replay PATH... | seeds DIR | list");
            Console.Error.WriteLine("targets: " + string.Join(' ', FuzzTargets.All.Keys));
            return 2;
        }

        if (args[0] == "list")
        {
            foreach ((string name, FuzzTarget target) in FuzzTargets.All)
            {
                Console.WriteLine($"{name}\t{target.Description}");
            }

            return 0;
        }

        if (args[0] == "seeds")
        {
            Seeds.WriteAll(args.Length > 1 ? args[1] : "corpus");
            return 0;
        }

        if (!FuzzTargets.All.TryGetValue(args[0], out FuzzTarget? fuzzTarget))
        {
            Console.Error.WriteLine($"unknown target '{args[0]}'; targets: {string.Join(' ', FuzzTargets.All.Keys)}");
            return 2;
        }

        if (args.Length > 1 && args[1] == "--replay")
        {
            return Replay(fuzzTarget, args.Skip(2));
        }

        // Persistent mode: afl-fuzz hands one input after another to this process; an exception that escapes the
        // target is reported to it as a crash.
        if (!AflForkServer.TryServe(input =>
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            fuzzTarget.Run(input);
            Harness.Trace($"{input.Length} bytes in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds:0.0} ms (at {Environment.TickCount64 % 1000000} ms)");
        }))
        {
            Console.Error.WriteLine("not run by afl-fuzz (no __AFL_SHM_ID): use --replay to run inputs");
            return 2;
        }

        return 0;
    }

    private static unsafe int Replay(FuzzTarget target, IEnumerable<string> paths)
    {
        // Instrumented libraries (fuzz/out/bin) record every branch in SharpFuzz's coverage map, which only afl-fuzz
        // provides; outside it they need one of their own.
        if (SharpFuzz.Common.Trace.SharedMem == null)
        {
            SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);
        }

        int failures = 0, count = 0;
        foreach (string path in paths)
        {
            IEnumerable<string> files = Directory.Exists(path)
                ? Directory.EnumerateFiles(path).Where(f => !Path.GetFileName(f).StartsWith('.') && !f.EndsWith("README.txt", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
                : [path];
            foreach (string file in files)
            {
                count++;
                var watch = System.Diagnostics.Stopwatch.StartNew();
                try
                {
                    target.Run(File.ReadAllBytes(file));
                }
                catch (Exception e)
                {
                    failures++;
                    Console.WriteLine($"FAIL {file} ({watch.ElapsedMilliseconds} ms): {e}");
                    continue;
                }

                if (watch.ElapsedMilliseconds > 2000)
                {
                    Console.WriteLine($"SLOW {file}: {watch.ElapsedMilliseconds} ms");
                }
            }
        }

        Console.WriteLine($"{count} inputs, {failures} failed");
        return failures == 0 ? 0 : 1;
    }
}
