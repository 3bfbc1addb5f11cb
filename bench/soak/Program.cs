using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Ssh.Transport;
using Ssh.Transport.Connection;

namespace Ssh.Transport.Soak;

/// <summary>
/// The soak (issue #13): our server and our client in one process over real TCP on 127.0.0.1, N connections moving data
/// both ways through session channels that open and close continuously, both sides rekeying every --rekey-bytes. Every
/// channel's echo is hashed against what was sent. RSS and the live GC heap (after a full collection) are sampled; the
/// slope over the run after the warm-up is reported. Exit 0 only with zero errors and every hash equal.
///
///   ssh-transport-soak [--minutes 30] [--connections 16] [--rekey-bytes 1048576] [--max-chunk-mib 4]
///                      [--sample-seconds 10] [--warmup-minutes 2] [--out results.json]
/// </summary>
internal static class Program
{
    private const string Password = "soak";

    public static async Task<int> Main(string[] args)
    {
        var options = SoakOptions.Parse(args);
        Console.WriteLine($"soak: {options.Connections} connections, {options.Duration.TotalMinutes:0.#} min, rekey every {options.RekeyBytes} bytes, chunks up to {options.MaxChunkBytes / (1024 * 1024)} MiB");

        var hostKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(512);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;

        using var stop = new CancellationTokenSource();
        var stats = new SoakStats();
        Task serving = ServeAsync(listener, hostKey, options, stats, stop.Token);

        var samples = new List<Sample>();
        var clock = Stopwatch.StartNew();
        DateTime deadline = DateTime.UtcNow + options.Duration;
        Task[] clients = Enumerable.Range(0, options.Connections).Select(i => ClientAsync(i, port, hostKey.PublicKey, options, stats, deadline)).ToArray();
        Task allClients = Task.WhenAll(clients);
        while (!allClients.IsCompleted)
        {
            await Task.WhenAny(allClients, Task.Delay(options.SampleInterval));
            Sample s = Sample.Take(clock.Elapsed, stats);
            if (allClients.IsCompleted)
            {
                // Taken after the load stopped: reported, not part of the slope.
                samples.Add(s with { AfterLoad = true });
                break;
            }

            samples.Add(s);
            Console.WriteLine($"{s.Minutes,7:0.00} min  rss {s.RssBytes / 1048576.0,7:0.0} MiB  heap {s.HeapBytes / 1048576.0,6:0.0} MiB  moved {s.BytesMoved / 1073741824.0,7:0.00} GiB  channels {s.Channels,7}  rekeys {s.Rekeys,7}  errors {s.Errors}  mismatches {s.Mismatches}");
        }

        await allClients.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await stop.CancelAsync();
        listener.Dispose();
        await serving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        Sample[] steady = samples.Where(s => s.Minutes >= options.WarmupMinutes && !s.AfterLoad).ToArray();
        double rssSlope = Slope(steady, s => s.RssBytes) / 1024; // KiB per minute
        double heapSlope = Slope(steady, s => s.HeapBytes) / 1024;
        Sample last = samples[^1];
        Console.WriteLine();
        Console.WriteLine("| minutes | connections | GiB moved (both ways) | channels | rekeys (both sides) | errors | hash mismatches | RSS start→end (MiB) | RSS slope (KiB/min) | GC heap start→end (MiB) | GC heap slope (KiB/min) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        Sample first = steady.Length > 0 ? steady[0] : samples[0];
        Sample lastSteady = steady.Length > 0 ? steady[^1] : last;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {last.Minutes:0.0} | {options.Connections} | {last.BytesMoved / 1073741824.0:0.0} | {last.Channels} | {last.Rekeys} | {last.Errors} | {last.Mismatches} | {first.RssBytes / 1048576.0:0.0}→{lastSteady.RssBytes / 1048576.0:0.0} | {rssSlope:0.0} | {first.HeapBytes / 1048576.0:0.0}→{lastSteady.HeapBytes / 1048576.0:0.0} | {heapSlope:0.0} |"));
        foreach (string error in stats.FirstErrors)
        {
            Console.WriteLine($"error: {error}");
        }

        if (options.OutFile is { } outFile)
        {
            await File.WriteAllTextAsync(outFile, JsonSerializer.Serialize(new { options.Connections, Minutes = last.Minutes, options.RekeyBytes, RssSlopeKiBPerMinute = rssSlope, HeapSlopeKiBPerMinute = heapSlope, Samples = samples }));
        }

        bool ok = last.Errors == 0 && last.Mismatches == 0 && last.Channels > 0;
        Console.WriteLine(ok ? "soak: PASS" : "soak: FAIL");
        return ok ? 0 : 1;
    }

    /// <summary>Least-squares slope of <paramref name="value"/> in units per minute.</summary>
    private static double Slope(Sample[] samples, Func<Sample, double> value)
    {
        if (samples.Length < 2)
        {
            return 0;
        }

        double meanX = samples.Average(s => s.Minutes);
        double meanY = samples.Average(value);
        double num = samples.Sum(s => (s.Minutes - meanX) * (value(s) - meanY));
        double den = samples.Sum(s => (s.Minutes - meanX) * (s.Minutes - meanX));
        return den == 0 ? 0 : num / den;
    }

    private static async Task ServeAsync(Socket listener, SshPrivateKey hostKey, SoakOptions options, SoakStats stats, CancellationToken stopping)
    {
        var settings = new SshServerSettings { LoggerFactory = options.Logging };
        var handler = new EchoHandler();
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                Socket socket = await listener.AcceptAsync(stopping);
                socket.NoDelay = true;
                connections.Add(Task.Run(async () =>
                {
                    var transportOptions = new SshServerOptions();
                    transportOptions.HostKeys.Add(hostKey);
                    transportOptions.Packetizer.RekeyBytes = options.RekeyBytes;
                    try
                    {
                        await using SshTransport transport = await SshTransport.AcceptAsync(SshClientConnector.CreatePipe(socket), transportOptions, socket.LocalEndPoint, socket.RemoteEndPoint, stopping);
                        try
                        {
                            await SshServer.RunAsync(transport, handler, settings, socket.RemoteEndPoint, stopping);
                        }
                        finally
                        {
                            stats.AddRekeys(transport.KeyExchangeCount - 1);
                        }
                    }
                    catch (Exception e) when (!stopping.IsCancellationRequested)
                    {
                        stats.Error($"server: {e}");
                    }
                    catch (Exception)
                    {
                        // Stopping.
                    }
                }, CancellationToken.None));
            }
        }
        catch (Exception) when (stopping.IsCancellationRequested)
        {
            // The listener closed at the end.
        }

        await Task.WhenAll(connections).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private static async Task ClientAsync(int index, int port, SshPublicKey hostKey, SoakOptions options, SoakStats stats, DateTime deadline)
    {
        var settings = new SshClientSettings("127.0.0.1", port)
        {
            UserName = $"soak{index}",
            Password = Password,
            HostKeyVerifier = (key, _) => ValueTask.FromResult(key == hostKey),
            LoggerFactory = options.Logging,
        };
        settings.TransportOptions.Packetizer.RekeyBytes = options.RekeyBytes;
        var random = new Random(index);
        try
        {
            await using SshClient client = await SshClient.ConnectAsync(settings);
            try
            {
                while (DateTime.UtcNow < deadline)
                {
                    byte[] data = new byte[random.Next(1, options.MaxChunkBytes + 1)];
                    random.NextBytes(data);
                    await EchoOnceAsync(client, data, stats);
                }
            }
            finally
            {
                stats.AddRekeys(client.Transport.KeyExchangeCount - 1);
            }
        }
        catch (Exception e)
        {
            stats.Error($"client {index}: {e}");
        }
    }

    /// <summary>One session channel: the data up, its echo down at the same time, hashes compared, exit status 0.</summary>
    private static async Task EchoOnceAsync(SshClient client, byte[] data, SoakStats stats)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using SshClientSession session = await client.ExecuteAsync("echo", cancellationToken: timeout.Token);
        Task<byte[]> echoed = HashAsync(session.StandardOutput, timeout.Token);
        for (int offset = 0; offset < data.Length; offset += 64 * 1024)
        {
            await session.StandardInput.WriteAsync(data.AsMemory(offset, Math.Min(64 * 1024, data.Length - offset)), timeout.Token);
        }

        await session.StandardInput.CompleteAsync();
        byte[] hash = await echoed;
        SshExitStatus status = await session.WaitForExitAsync(timeout.Token);
        stats.Channel(2L * data.Length, CryptographicOperations.FixedTimeEquals(hash, SHA256.HashData(data)) && status.ExitCode == 0);
    }

    private static async Task<byte[]> HashAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                hash.AppendData(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return hash.GetHashAndReset();
            }
        }
    }

    /// <summary>Password "soak" for every user; each session echoes its input, then exits 0.</summary>
    private sealed class EchoHandler : SshServerHandler
    {
        public override ValueTask<bool> AuthenticatePasswordAsync(SshAuthenticationContext context, string password, CancellationToken cancellationToken) =>
            ValueTask.FromResult(password == Password);

        public override async Task RunSessionAsync(SshServerSession session, CancellationToken cancellationToken)
        {
            while (true)
            {
                ReadResult result = await session.Input.ReadAsync(cancellationToken);
                foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                {
                    await session.Output.WriteAsync(segment, cancellationToken);
                }

                session.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            await session.ExitAsync(0, cancellationToken);
        }
    }
}

internal sealed class SoakStats
{
    private readonly Lock _lock = new();
    private long _bytes;
    private long _channels;
    private long _mismatches;
    private long _errors;
    private long _rekeys;

    public List<string> FirstErrors { get; } = [];

    public long Bytes => Interlocked.Read(ref _bytes);

    public long Channels => Interlocked.Read(ref _channels);

    public long Mismatches => Interlocked.Read(ref _mismatches);

    public long Errors => Interlocked.Read(ref _errors);

    public long Rekeys => Interlocked.Read(ref _rekeys);

    public void Channel(long bytes, bool ok)
    {
        Interlocked.Add(ref _bytes, bytes);
        Interlocked.Increment(ref _channels);
        if (!ok)
        {
            Interlocked.Increment(ref _mismatches);
        }
    }

    public void AddRekeys(int count) => Interlocked.Add(ref _rekeys, count);

    public void Error(string what)
    {
        Interlocked.Increment(ref _errors);
        lock (_lock)
        {
            if (FirstErrors.Count < 20)
            {
                FirstErrors.Add(what);
            }
        }
    }
}

internal sealed record Sample(double Minutes, long RssBytes, long HeapBytes, long BytesMoved, long Channels, long Rekeys, long Errors, long Mismatches)
{
    /// <summary>Taken after every client had finished (the final counts).</summary>
    public bool AfterLoad { get; init; }

    /// <summary>RSS from /proc/self/status and the live heap after a full collection.</summary>
    public static Sample Take(TimeSpan elapsed, SoakStats stats)
    {
        long heap = GC.GetTotalMemory(forceFullCollection: true);
        long rss = 0;
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
            }
        }

        return new Sample(elapsed.TotalMinutes, rss, heap, stats.Bytes, stats.Channels, stats.Rekeys, stats.Errors, stats.Mismatches);
    }
}

internal sealed record SoakOptions(TimeSpan Duration, int Connections, long RekeyBytes, int MaxChunkBytes, TimeSpan SampleInterval, double WarmupMinutes, string? OutFile)
{
    /// <summary>Warnings and errors of both sides, on standard error.</summary>
    public ILoggerFactory Logging { get; } = new WarningLoggerFactory(Environment.GetEnvironmentVariable("SOAK_LOG") == "info" ? LogLevel.Information : LogLevel.Warning);

    public static SoakOptions Parse(string[] args)
    {
        var o = new SoakOptions(TimeSpan.FromMinutes(30), 16, 1024 * 1024, 4 * 1024 * 1024, TimeSpan.FromSeconds(10), 2, null);
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            double number = args[i] == "--out" ? 0 : double.Parse(value, CultureInfo.InvariantCulture);
            o = args[i++] switch
            {
                "--minutes" => o with { Duration = TimeSpan.FromMinutes(number) },
                "--connections" => o with { Connections = (int)number },
                "--rekey-bytes" => o with { RekeyBytes = (long)number },
                "--max-chunk-mib" => o with { MaxChunkBytes = (int)(number * 1024 * 1024) },
                "--sample-seconds" => o with { SampleInterval = TimeSpan.FromSeconds(number) },
                "--warmup-minutes" => o with { WarmupMinutes = number },
                "--out" => o with { OutFile = value },
                var unknown => throw new ArgumentException($"unknown option {unknown}"),
            };
        }

        return o;
    }
}

/// <summary>Warnings and errors of both sides to standard error, with their category: why a connection ended.</summary>
internal sealed class WarningLoggerFactory(LogLevel minimum) : Microsoft.Extensions.Logging.ILoggerFactory
{
    public void AddProvider(Microsoft.Extensions.Logging.ILoggerProvider provider)
    {
    }

    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(categoryName, minimum);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, LogLevel minimum) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Console.Error.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? string.Empty : " " + exception.GetType().Name + ": " + exception.Message)}");
            }
        }
    }
}
