using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Client;

/// <summary>Shared pieces of the client tests: settings, hashing streams, a TCP echo server, a proxy that can stall.</summary>
internal static class ClientTestKit
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    public static SshClientSettings Settings(TestServer server, ListLoggerFactory? logs = null) => new("127.0.0.1", server.Port)
    {
        UserName = TestUser.Name,
        AcceptAnyHostKey = true,
        UseAgent = false,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        AuthenticationTimeout = TimeSpan.FromSeconds(30),
        LoggerFactory = logs,
    };

    public static async Task<SshClient> ConnectAsync(SshClientSettings settings, TestServer server)
    {
        try
        {
            return await SshClient.ConnectAsync(settings).WaitAsync(Bound);
        }
        catch (Exception e) when (e is not SshAuthenticationException)
        {
            Assert.Fail($"{e}\n--- {server.Kind} log ---\n{server.Log}");
            throw;
        }
    }

    /// <summary>Reads a pipe to its end: the SHA-256 and the count of what came.</summary>
    public static async Task<(string Sha256, long Count)> HashAsync(PipeReader reader)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long count = 0;
        while (true)
        {
            ReadResult result = await reader.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                hash.AppendData(segment.Span);
                count += segment.Length;
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return (Convert.ToHexStringLower(hash.GetHashAndReset()), count);
            }
        }
    }

    /// <summary>Reads a pipe to its end as text.</summary>
    public static async Task<string> ReadTextAsync(PipeReader reader)
    {
        var text = new MemoryStream();
        while (true)
        {
            ReadResult result = await reader.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                text.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return System.Text.Encoding.UTF8.GetString(text.ToArray());
            }
        }
    }

    /// <summary>Writes <paramref name="count"/> pseudo-random bytes (fixed seed) and completes the writer: their SHA-256.</summary>
    public static async Task<string> WriteRandomAsync(PipeWriter writer, long count, int seed = 1, int chunk = 64 * 1024)
    {
        var random = new Random(seed);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long left = count;
        while (left > 0)
        {
            int size = (int)Math.Min(left, chunk);
            Memory<byte> memory = writer.GetMemory(size)[..size];
            random.NextBytes(memory.Span);
            hash.AppendData(memory.Span);
            writer.Advance(size);
            FlushResult flushed = await writer.FlushAsync();
            Assert.That(flushed.IsCompleted, Is.False, "the peer stopped reading");
            left -= size;
        }

        await writer.CompleteAsync();
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The first word of the first line that is not a debug line (sha256sum's output).</summary>
    public static string FirstWord(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).First(l => !l.StartsWith("debug", StringComparison.Ordinal)).Split(' ')[0];

    public static void Progress(string text) => TestContext.Progress.WriteLine(text);

    public static string Rate(long bytes, Stopwatch watch) => $"{bytes / 1048576.0 / watch.Elapsed.TotalSeconds:F1} MiB/s ({watch.Elapsed.TotalSeconds:F2} s)";
}

/// <summary>A logger factory whose loggers all write to one <see cref="ListLogger"/>.</summary>
internal sealed class ListLoggerFactory : ILoggerFactory
{
    public ListLogger Logger { get; } = new();

    public IReadOnlyList<string> Lines => Logger.Lines;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ILogger CreateLogger(string categoryName) => Logger;

    public void Dispose()
    {
    }
}

/// <summary>A TCP echo server on 127.0.0.1: every connection gets back what it sends, and the end of it.</summary>
internal sealed class EchoServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    public EchoServer()
    {
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Connections { get; private set; }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                return;
            }

            Connections++;
            _ = EchoAsync(socket);
        }
    }

    private static async Task EchoAsync(Socket socket)
    {
        using (socket)
        {
            byte[] buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    int read = await socket.ReceiveAsync(buffer, SocketFlags.None);
                    if (read == 0)
                    {
                        socket.Shutdown(SocketShutdown.Send);
                        return;
                    }

                    await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                }
            }
            catch (SocketException)
            {
            }
        }
    }
}

/// <summary>
/// A TCP proxy on 127.0.0.1 to a server, for one connection; <see cref="Stall"/> makes it stop passing bytes either
/// way (the server looks alive at the TCP level but answers nothing).
/// </summary>
internal sealed class StallingProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _stalled;

    public StallingProxy(int target)
    {
        _target = target;
        _listener.Start();
        _ = RunAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public void Stall() => _stalled = true;

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }

    private async Task RunAsync()
    {
        try
        {
            using Socket client = await _listener.AcceptSocketAsync(_stop.Token);
            using var server = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await server.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
            await Task.WhenAll(CopyAsync(client, server), CopyAsync(server, client));
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private async Task CopyAsync(Socket from, Socket to)
    {
        byte[] buffer = new byte[64 * 1024];
        while (true)
        {
            int read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            if (read == 0)
            {
                to.Shutdown(SocketShutdown.Send);
                return;
            }

            while (_stalled)
            {
                // Bytes from now on are held (never passed on) until the test ends.
                await Task.Delay(Timeout.Infinite, _stop.Token);
            }

            await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
        }
    }
}
