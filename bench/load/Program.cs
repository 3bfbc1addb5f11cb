using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Ssh.Transport.Connection;

namespace Ssh.Transport.Load;

/// <summary>
/// Holds many concurrent SSH connections against 'ssh-transport serve' on 127.0.0.1 and reports what the server holds
/// per connection: half of them idle after the key exchange (before authentication), half authenticated and idle. While
/// they are held, new connections are timed: each must complete its handshake within 1 s. See docs/security.md.
/// </summary>
/// <remarks>
/// Bounded: at most 20,000 connections, a hold of at most 600 s, and a deadline for the whole run; loopback only (the
/// server is started by the tool on 127.0.0.1:0). The server is configured for the test: MaxStartups above the
/// connection count (sshd's default would drop the unauthenticated half), per-source penalties off (every connection
/// comes from 127.0.0.1), a login grace time of an hour, and --stats-interval for its GC heap and RSS.
/// </remarks>
internal static partial class Program
{
    private const int MaxConnections = 20_000;
    private const string Password = "load-test";

    private static async Task<int> Main(string[] args)
    {
        Settings settings;
        try
        {
            settings = Settings.Parse(args);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"load: {e.Message}");
            Console.Error.WriteLine(Settings.Usage);
            return 2;
        }

        using var deadline = new CancellationTokenSource(settings.Deadline);
        try
        {
            return await RunAsync(settings, deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Console.Error.WriteLine($"load: the run passed its deadline ({settings.Deadline.TotalSeconds:0} s)");
            return 1;
        }
    }

    private static async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
    {
        // Each connection is a socket in this process and one in the server, which inherits our limit.
        (ulong before, ulong after) = FileDescriptors.Raise((ulong)settings.Connections + 1024);
        Console.WriteLine($"file descriptors: soft limit {before} -> {after} (RLIMIT_NOFILE, inherited by the server)");
        if (after < (ulong)settings.Connections + 256)
        {
            Console.Error.WriteLine($"load: {settings.Connections} connections need about {settings.Connections + 256} file descriptors; the hard limit allows {after}");
            return 1;
        }

        string folder = Directory.CreateTempSubdirectory("ssh-load-").FullName;
        try
        {
            string passwords = Path.Combine(folder, "passwords");
            await File.WriteAllTextAsync(passwords, $"load:{Password}\n", cancellationToken);
            await using var server = await ServeProcess.StartAsync(settings, passwords, cancellationToken);
            Console.WriteLine($"server: pid {server.Pid}, {server.Command}");

            var client = new ClientFactory(server.Port, settings.KeyExchange);

            // Warm-up (JIT, pools), then the baseline the connections are measured against.
            await using (var warm = new ConnectionSet())
            {
                await warm.OpenAsync(client, 50, settings.Parallel, cancellationToken);
            }

            ServerStats baseline = await server.NextStatsAsync(s => s.Connections == 0, cancellationToken);
            long baselineRss = server.ReadRssKiB();
            Console.WriteLine($"baseline: {baseline}");

            await using var held = new ConnectionSet();
            var opening = Stopwatch.StartNew();
            await held.OpenAsync(client, settings.Connections, settings.Parallel, cancellationToken, progress: true);
            Console.WriteLine($"opened {held.Count} connections ({held.Authenticated} authenticated, {held.Count - held.Authenticated} before authentication) in {opening.Elapsed.TotalSeconds:0.0} s; {held.Failures} failed");
            ServerStats loaded = await server.NextStatsAsync(s => s.Connections >= held.Count, cancellationToken);
            long loadedRss = server.ReadRssKiB();
            Console.WriteLine($"loaded: {loaded}");

            // New connections while they are held: each must complete its handshake within 1 s.
            var probes = new List<double>();
            for (int i = 0; i < settings.Probes; i++)
            {
                var clock = Stopwatch.StartNew();
                await using SshTransport probe = await client.ConnectAsync(cancellationToken);
                probes.Add(clock.Elapsed.TotalMilliseconds);
                await Task.Delay(200, cancellationToken);
            }

            await Task.Delay(settings.Hold, cancellationToken);
            int lost = held.CountClosed();
            ServerStats end = await server.NextStatsAsync(_ => true, cancellationToken);

            int n = held.Count;
            double rssPer = (loadedRss - baselineRss) * 1024.0 / n;
            double heapPer = (loaded.GcHeapKiB - baseline.GcHeapKiB) * 1024.0 / n;
            probes.Sort();
            bool probesOk = probes.Count > 0 && probes[^1] < 1000;
            Console.WriteLine();
            Console.WriteLine($"connections held          {n} ({held.Authenticated} authenticated, {n - held.Authenticated} before authentication), {lost} lost during a {settings.Hold.TotalSeconds:0} s hold");
            Console.WriteLine($"server RSS                {baselineRss / 1024.0:0.0} MiB -> {loadedRss / 1024.0:0.0} MiB: {rssPer / 1024:0.0} KiB per connection");
            Console.WriteLine($"server GC heap            {baseline.GcHeapKiB / 1024.0:0.0} MiB -> {loaded.GcHeapKiB / 1024.0:0.0} MiB: {heapPer / 1024:0.0} KiB per connection (after a full collection)");
            Console.WriteLine($"server at the end         {end}");
            Console.WriteLine($"new handshakes meanwhile  {probes.Count}: median {Median(probes):0.0} ms, max {(probes.Count > 0 ? probes[^1] : 0):0.0} ms ({(probesOk ? "all within 1 s" : "NOT all within 1 s")})");
            return probesOk && held.Failures == 0 && lost == 0 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static double Median(List<double> sorted) => sorted.Count == 0 ? 0 : sorted[sorted.Count / 2];

    /// <summary>The command line: bounded numbers only.</summary>
    private sealed record Settings(int Connections, int Parallel, TimeSpan Hold, TimeSpan Deadline, int Probes, string KeyExchange, string? ServeDll)
    {
        public const string Usage =
            "usage: Ssh.Transport.Load [--connections N (2-20000, default 10000)] [--parallel N (1-256, default 32)] [--hold SECONDS (0-600, default 20)]\n" +
            "                          [--deadline SECONDS (10-3600, default 900)] [--probes N (1-100, default 5)] [--kex NAME (default curve25519-sha256)] [--serve PATH/ssh-transport.dll]";

        public static Settings Parse(string[] args)
        {
            var s = new Settings(10_000, 32, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(900), 5, "curve25519-sha256", null);
            for (int i = 0; i < args.Length; i++)
            {
                string value = i + 1 < args.Length ? args[i + 1] : throw new FormatException($"{args[i]} needs a value");
                s = args[i] switch
                {
                    "--connections" => s with { Connections = Number(args[i], value, 2, MaxConnections) },
                    "--parallel" => s with { Parallel = Number(args[i], value, 1, 256) },
                    "--hold" => s with { Hold = TimeSpan.FromSeconds(Number(args[i], value, 0, 600)) },
                    "--deadline" => s with { Deadline = TimeSpan.FromSeconds(Number(args[i], value, 10, 3600)) },
                    "--probes" => s with { Probes = Number(args[i], value, 1, 100) },
                    "--kex" => s with { KeyExchange = value },
                    "--serve" => s with { ServeDll = value },
                    _ => throw new FormatException($"unknown option '{args[i]}'"),
                };
                i++;
            }

            return s;
        }

        private static int Number(string option, string text, int min, int max) =>
            int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
                ? n
                : throw new FormatException($"{option} expects a whole number from {min} to {max}, not '{text}'");
    }

    /// <summary>Client connections to the server on 127.0.0.1: handshake only, or handshake and password login.</summary>
    private sealed class ClientFactory(int port, string keyExchange)
    {
        private readonly SshClientOptions _options = CreateOptions(keyExchange);

        public async Task<SshTransport> ConnectAsync(CancellationToken cancellationToken) =>
            await SshClientConnector.ConnectAsync("127.0.0.1", port, _options, TimeSpan.FromSeconds(30), cancellationToken);

        public async Task<SshTransport> ConnectAndLogInAsync(CancellationToken cancellationToken)
        {
            SshTransport transport = await ConnectAsync(cancellationToken);
            try
            {
                var login = new SshClientAuthenticationOptions { UserName = "load", Password = Password };
                await SshClientAuthentication.AuthenticateAsync(transport, login, cancellationToken);
                return transport;
            }
            catch
            {
                await transport.DisposeAsync();
                throw;
            }
        }

        private static SshClientOptions CreateOptions(string keyExchange)
        {
            var options = new SshClientOptions { HostKeyVerifier = static (_, _) => ValueTask.FromResult(true) };
            options.KeyExchangeAlgorithms.Clear();
            options.KeyExchangeAlgorithms.Add(keyExchange);
            return options;
        }
    }

    /// <summary>Connections held open; odd ones authenticated.</summary>
    private sealed class ConnectionSet : IAsyncDisposable
    {
        private readonly List<SshTransport> _transports = [];
        private int _failures;
        private int _authenticated;

        public int Count
        {
            get
            {
                lock (_transports)
                {
                    return _transports.Count;
                }
            }
        }

        public int Authenticated => Volatile.Read(ref _authenticated);

        public int Failures => Volatile.Read(ref _failures);

        public async Task OpenAsync(ClientFactory client, int count, int parallel, CancellationToken cancellationToken, bool progress = false)
        {
            using var slots = new SemaphoreSlim(parallel);
            var clock = Stopwatch.StartNew();
            var tasks = new List<Task>(count);
            for (int i = 0; i < count; i++)
            {
                await slots.WaitAsync(cancellationToken);
                bool logIn = i % 2 == 1;
                tasks.Add(OpenOneAsync(client, logIn, slots, cancellationToken));
                if (progress && (i + 1) % 1000 == 0)
                {
                    Console.WriteLine($"  {i + 1} started, {Count} open, {Failures} failed, {clock.Elapsed.TotalSeconds:0.0} s");
                }
            }

            await Task.WhenAll(tasks);
        }

        private async Task OpenOneAsync(ClientFactory client, bool logIn, SemaphoreSlim slots, CancellationToken cancellationToken)
        {
            try
            {
                SshTransport transport = logIn ? await client.ConnectAndLogInAsync(cancellationToken) : await client.ConnectAsync(cancellationToken);
                lock (_transports)
                {
                    _transports.Add(transport);
                }

                if (logIn)
                {
                    Interlocked.Increment(ref _authenticated);
                }
            }
            catch (Exception e) when (e is SshProtocolException or IOException or TimeoutException or System.Net.Sockets.SocketException)
            {
                if (Interlocked.Increment(ref _failures) <= 5)
                {
                    Console.Error.WriteLine($"  connection failed: {e.GetType().Name}: {e.Message}");
                }
            }
            finally
            {
                slots.Release();
            }
        }

        public int CountClosed()
        {
            lock (_transports)
            {
                return _transports.Count(t => t.Completion.IsCompleted);
            }
        }

        public async ValueTask DisposeAsync()
        {
            SshTransport[] all;
            lock (_transports)
            {
                all = [.. _transports];
                _transports.Clear();
            }

            foreach (SshTransport[] chunk in all.Chunk(256))
            {
                await Task.WhenAll(chunk.Select(async t =>
                {
                    try
                    {
                        await t.DisconnectAsync(SshDisconnectReason.ByApplication, "load test over");
                    }
                    catch (Exception e) when (e is SshProtocolException or IOException or ObjectDisposedException or OperationCanceledException)
                    {
                    }

                    await t.DisposeAsync();
                }));
            }
        }
    }

    /// <summary>One "stats:" line of serve (--stats-interval).</summary>
    private sealed partial record ServerStats(int Connections, int Unauthenticated, long GcHeapKiB, long RssKiB)
    {
        public static ServerStats? TryParse(string line)
        {
            Match m = Pattern().Match(line);
            return !m.Success ? null : new ServerStats(
                int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
                long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture));
        }

        public override string ToString() =>
            $"{Connections} connections ({Unauthenticated} unauthenticated), GC heap {GcHeapKiB / 1024.0:0.0} MiB, RSS {RssKiB / 1024.0:0.0} MiB";

        [GeneratedRegex(@"stats: (\d+) connection\(s\), (\d+) unauthenticated, .*gc heap (\d+) KiB, rss (\d+) KiB")]
        private static partial Regex Pattern();
    }

    /// <summary>'ssh-transport serve' as a child process on 127.0.0.1:0, configured for the test; its output read as it comes.</summary>
    private sealed partial class ServeProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly Lock _lock = new();
        private readonly List<ServerStats> _stats = [];
        private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task _reading;

        private ServeProcess(Process process, string command)
        {
            _process = process;
            Command = command;
            _reading = Task.WhenAll(ReadAsync(process.StandardOutput), ReadAsync(process.StandardError));
        }

        public int Pid => _process.Id;

        public string Command { get; }

        public int Port => _port.Task.Result;

        public static async Task<ServeProcess> StartAsync(Settings settings, string passwords, CancellationToken cancellationToken)
        {
            string dll = settings.ServeDll ?? FindServe();
            int startups = settings.Connections + 100;
            string[] args =
            [
                dll, "serve", "--listen", "127.0.0.1:0", "--password-file", passwords, "--login-grace-time", "3600",
                "--max-startups", $"{startups}:100:{startups + 1}", "--per-source-penalties", "no", "--stats-interval", "2",
            ];
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
            var serve = new ServeProcess(process, "dotnet " + string.Join(' ', args.Select(a => a.Contains(' ') ? $"'{a}'" : a)));
            await serve._port.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            return serve;
        }

        /// <summary>The first stats line, from now on, that satisfies <paramref name="condition"/>.</summary>
        public async Task<ServerStats> NextStatsAsync(Func<ServerStats, bool> condition, CancellationToken cancellationToken)
        {
            int seen;
            lock (_lock)
            {
                seen = _stats.Count;
            }

            while (true)
            {
                lock (_lock)
                {
                    for (int i = seen; i < _stats.Count; i++)
                    {
                        if (condition(_stats[i]))
                        {
                            return _stats[i];
                        }
                    }

                    seen = _stats.Count;
                }

                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"the server exited with {_process.ExitCode}");
                }

                await Task.Delay(100, cancellationToken);
            }
        }

        /// <summary>VmRSS of /proc/PID/status, in KiB.</summary>
        public long ReadRssKiB()
        {
            foreach (string line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line["VmRSS:".Length..].Replace("kB", "", StringComparison.Ordinal).Trim(), CultureInfo.InvariantCulture);
                }
            }

            return 0;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _ = NativeMethods.Kill(_process.Id, NativeMethods.SigTerm); // serve stops cleanly on SIGTERM
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    await _process.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill();
                }
            }

            await _reading.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _process.Dispose();
        }

        private static string FindServe()
        {
            // The repository's build output: bench/load/bin/<Configuration>/net10.0 -> src/Ssh.Transport.Cli/bin/<Configuration>/net10.0.
            string here = AppContext.BaseDirectory;
            string configuration = new DirectoryInfo(here).Parent!.Name;
            for (DirectoryInfo? dir = new(here); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Ssh.Transport.sln")))
                {
                    string dll = Path.Combine(dir.FullName, "src", "Ssh.Transport.Cli", "bin", configuration, "net10.0", "ssh-transport.dll");
                    return File.Exists(dll) ? dll : throw new FileNotFoundException($"no {dll}: build src/Ssh.Transport.Cli -c {configuration}, or give --serve");
                }
            }

            throw new FileNotFoundException("the repository was not found above the tool: give --serve PATH/ssh-transport.dll");
        }

        private async Task ReadAsync(StreamReader reader)
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                if (ServerStats.TryParse(line) is { } stats)
                {
                    lock (_lock)
                    {
                        _stats.Add(stats);
                    }
                }
                else if (ListeningPattern().Match(line) is { Success: true } m)
                {
                    _port.TrySetResult(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
                }
                else if (line.StartsWith("ssh-transport", StringComparison.Ordinal) || line.StartsWith("limits:", StringComparison.Ordinal))
                {
                    Console.WriteLine($"server: {line}");
                }
            }
        }

        [GeneratedRegex(@"^listening on 127\.0\.0\.1:(\d+)")]
        private static partial Regex ListeningPattern();
    }

    /// <summary>setrlimit(RLIMIT_NOFILE): the soft limit raised toward what the run needs (the hard limit too, where permitted).</summary>
    private static class FileDescriptors
    {
        private const int RlimitNofile = 7; // Linux

        public static (ulong Before, ulong After) Raise(ulong wanted)
        {
            if (NativeMethods.GetRLimit(RlimitNofile, out NativeMethods.RLimit limit) != 0)
            {
                return (0, 0);
            }

            ulong before = limit.Current;
            if (limit.Current >= wanted)
            {
                return (before, before);
            }

            // Raising the hard limit needs CAP_SYS_RESOURCE; without it, the soft limit goes as far as the hard one.
            var raised = new NativeMethods.RLimit { Current = wanted, Maximum = Math.Max(wanted, limit.Maximum) };
            if (NativeMethods.SetRLimit(RlimitNofile, in raised) != 0)
            {
                raised = new NativeMethods.RLimit { Current = Math.Min(wanted, limit.Maximum), Maximum = limit.Maximum };
                _ = NativeMethods.SetRLimit(RlimitNofile, in raised);
            }

            return NativeMethods.GetRLimit(RlimitNofile, out limit) == 0 ? (before, limit.Current) : (before, before);
        }
    }

    /// <summary>libc: file-descriptor limits and signals.</summary>
    private static class NativeMethods
    {
        public const int SigTerm = 15;

        [StructLayout(LayoutKind.Sequential)]
        public struct RLimit
        {
            public ulong Current;
            public ulong Maximum;
        }

        [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int GetRLimit(int resource, out RLimit limit);

        [DllImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int SetRLimit(int resource, in RLimit limit);

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Kill(int pid, int signal);
    }
}
