using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ssh.Transport.Cli.Tests;

/// <summary>A real client program's run: exit code, stdout, stderr.</summary>
internal sealed record ServeClientResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>
/// Runs real SSH clients (ssh, sftp, scp, dbclient) against serve: with a given stdin and environment, every wait
/// bounded, and a client still running at the end killed by its own process handle.
/// </summary>
internal sealed class ServeClient : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _error = new();
    private readonly Lock _lock = new();

    private ServeClient(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(_out, e.Data);
        process.ErrorDataReceived += (_, e) => Append(_error, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Debian's OpenSSH client folder, and OpenSSH 10.5's where the interop peers are built.</summary>
    public static readonly string[] OpenSshFolders = ["/usr/bin", "/opt/ssh-peers/openssh/bin"];

    public bool HasExited => _process.HasExited;

    public string Error
    {
        get
        {
            lock (_lock)
            {
                return _error.ToString();
            }
        }
    }

    /// <summary>The program in <paramref name="folder"/>, or the test is ignored.</summary>
    public static string Require(string folder, string name)
    {
        string path = Path.Combine(folder, name);
        if (!File.Exists(path))
        {
            Assert.Ignore($"{path} is not installed");
        }

        return path;
    }

    /// <summary>
    /// The options every OpenSSH client gets against serve: one identity and nothing of the machine's (no config,
    /// agent, known hosts or password prompt). <paramref name="more"/> come first: for ssh the first value of an
    /// option wins, so they may override these (-o LogLevel=INFO).
    /// </summary>
    public static List<string> OpenSshOptions(string portOption, int port, string identity, params string[] more) =>
    [
        .. more,
        "-F", "/dev/null", portOption, port.ToString(CultureInfo.InvariantCulture), "-i", identity,
        "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no", "-o", "ConnectTimeout=20",
    ];

    /// <summary>Starts a client; its stdin is closed at once unless <paramref name="keepStdin"/>.</summary>
    public static ServeClient Start(string program, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, bool keepStdin = false)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var client = new ServeClient(Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start"));
        if (!keepStdin)
        {
            client._process.StandardInput.Close();
        }

        return client;
    }

    /// <summary>Runs a client to its end, with <paramref name="stdin"/> as its input.</summary>
    public static async Task<ServeClientResult> RunAsync(string program, IEnumerable<string> args, string? stdin = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        using ServeClient client = Start(program, args, environment, keepStdin: stdin is not null);
        if (stdin is not null)
        {
            await client._process.StandardInput.WriteAsync(stdin);
            client._process.StandardInput.Close();
        }

        return await client.WaitAsync();
    }

    /// <summary>Waits for the end, bounded; a client that does not end fails the test (and is killed).</summary>
    public async Task<ServeClientResult> WaitAsync()
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{_process.StartInfo.FileName} did not end within {Timeout.TotalSeconds} s\n{Error}");
        }

        _process.WaitForExit(); // drains the asynchronous output readers
        lock (_lock)
        {
            return new ServeClientResult(_process.ExitCode, _out.ToString(), _error.ToString());
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(); // by our own process handle: only the client this test started
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
    }

    private void Append(StringBuilder target, string? line)
    {
        if (line is not null)
        {
            lock (_lock)
            {
                target.Append(line).Append('\n');
            }
        }
    }
}

/// <summary>A TCP echo server on 127.0.0.1: each connection gets back what it sends, then the end of the stream.</summary>
internal sealed class ServeEchoServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public ServeEchoServer()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>
    /// Sends <paramref name="data"/> through <paramref name="connection"/>, half-closes it, and returns all that comes
    /// back until the other end closes (a reset ends it too).
    /// </summary>
    public static async Task<byte[]> ThroughAsync(TcpClient connection, byte[] data)
    {
        using var timeout = new CancellationTokenSource(ServeClient.Timeout);
        NetworkStream stream = connection.GetStream();
        Task<byte[]> reading = Task.Run(async () =>
        {
            using var all = new MemoryStream();
            try
            {
                await stream.CopyToAsync(all, timeout.Token);
            }
            catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
            {
                // Closed with a reset: what came before is the answer.
            }

            return all.ToArray();
        });
        try
        {
            await stream.WriteAsync(data, timeout.Token);
            connection.Client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            // The other end is gone already (a refused forwarding): the reading says what came back.
        }

        return await reading.WaitAsync(ServeClient.Timeout);
    }

    /// <summary>Connects to a port on 127.0.0.1 once something listens there (a client's -L), while <paramref name="client"/> runs.</summary>
    public static async Task<TcpClient> ConnectWhenListeningAsync(int port, ServeClient client)
    {
        using var deadline = new CancellationTokenSource(ServeClient.Timeout);
        while (true)
        {
            var connection = new TcpClient();
            try
            {
                await connection.ConnectAsync(IPAddress.Loopback, port, deadline.Token);
                return connection;
            }
            catch (SocketException) when (!client.HasExited)
            {
                connection.Dispose();
                await Task.Delay(50, deadline.Token);
            }
            catch (SocketException)
            {
                connection.Dispose();
                Assert.Fail($"the client ended before listening: {client.Error}");
                throw;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                TcpClient connection = await _listener.AcceptTcpClientAsync(_stop.Token);
                connections.Add(EchoAsync(connection));
            }
        }
        finally
        {
            await Task.WhenAll(connections).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task EchoAsync(TcpClient connection)
    {
        using (connection)
        {
            NetworkStream stream = connection.GetStream();
            try
            {
                await stream.CopyToAsync(stream, _stop.Token);
                connection.Client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // The other end went away, or the test is over.
            }
        }
    }
}
