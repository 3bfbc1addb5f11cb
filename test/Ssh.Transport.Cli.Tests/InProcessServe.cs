using System.Diagnostics;

namespace Ssh.Transport.Cli.Tests;

/// <summary>
/// 'ssh-transport serve' running in the test process on 127.0.0.1 with a host key file of its own; stopping it is
/// what SIGINT/SIGTERM do in the real process (the verb's cancellation token).
/// </summary>
internal sealed class InProcessServe : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly StringWriter _out = new();
    private readonly StringWriter _error = new();
    private readonly TextWriter _syncOut;
    private readonly Task<int> _running;

    private InProcessServe(SshPrivateKey key, string keyFile, string[] extraArgs)
    {
        HostKey = key;
        KeyFile = keyFile;
        _syncOut = TextWriter.Synchronized(_out);
        string[] args = ["serve", "--listen", "127.0.0.1:0", "--host-key", keyFile, .. extraArgs];
        _running = Task.Run(() => CliMain.RunAsync(args, new CliContext(_syncOut, TextWriter.Synchronized(_error), _stop.Token)));
    }

    public SshPrivateKey HostKey { get; }

    public string KeyFile { get; }

    public int Port { get; private set; }

    /// <summary>What serve printed so far.</summary>
    public string Out
    {
        get
        {
            lock (_syncOut)
            {
                return _out.ToString();
            }
        }
    }

    public string Error => _error.ToString();

    /// <summary>Writes <paramref name="key"/> (a new ed25519 key by default) to a file and serves with it.</summary>
    public static async Task<InProcessServe> StartAsync(TempFolder folder, SshPrivateKey? key = null, params string[] extraArgs)
    {
        key ??= SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string keyFile = folder.Write($"host_key_{Guid.NewGuid():N}", key.ExportOpenSsh());
        var serve = new InProcessServe(key, keyFile, extraArgs);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < CliRunner.Timeout)
        {
            if (CliRunner.ListeningPort(serve.Out) is int port)
            {
                serve.Port = port;
                return serve;
            }

            if (serve._running.IsCompleted)
            {
                Assert.Fail($"serve exited with {await serve._running}:\n{serve.Out}\n{serve.Error}");
            }

            await Task.Delay(20);
        }

        Assert.Fail("serve did not start listening:\n" + serve.Out);
        return serve;
    }

    /// <summary>Waits until serve's output satisfies <paramref name="condition"/> (lines are logged as connections end).</summary>
    public async Task<string> WaitForOutputAsync(Func<string, bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            string output = Out;
            if (condition(output))
            {
                return output;
            }

            await Task.Delay(20);
        }

        Assert.Fail("serve did not log what was expected:\n" + Out);
        return "";
    }

    /// <summary>Stops serve as a signal would, and returns its exit code.</summary>
    public async Task<int> StopAsync()
    {
        await _stop.CancelAsync();
        return await _running.WaitAsync(CliRunner.Timeout);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_running.IsCompleted)
        {
            await StopAsync();
        }

        _stop.Dispose();
        HostKey.Dispose();
    }
}

/// <summary>A temporary folder, deleted afterwards.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = Directory.CreateTempSubdirectory("ssh-transport-cli-tests-").FullName;
    }

    public string Path { get; }

    /// <summary>Writes a file readable by its owner only (private keys must be, for sshd).</summary>
    public string Write(string name, string text)
    {
        string path = System.IO.Path.Combine(Path, name);
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return path;
    }

    public string PathOf(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}
