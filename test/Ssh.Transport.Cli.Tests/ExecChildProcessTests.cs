using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Ssh.Transport.Cli.Tests;

/// <summary>
/// The built tool as a child process (dotnet ssh-transport.dll exec ...) against a real sshd: 64 MiB down and up
/// through its real standard streams, hashed on both sides; raw bytes on stdout and stderr; the default key files of
/// ~/.ssh; SIGINT and SIGTERM.
/// </summary>
[TestFixtureSource(nameof(Kinds))]
[NonParallelizable]
public class ExecChildProcessTests(SshdKind kind)
{
    public static readonly SshdKind[] Kinds = [SshdKind.Debian, SshdKind.OpenSsh10];

    private const int TransferBytes = 64 << 20;

    private string _folder = null!;
    private string _shared = null!;
    private ExecSshd _sshd = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("POSIX signals and a local sshd");
        }

        _folder = Directory.CreateTempSubdirectory("ssh-exec-child-").FullName;
        _sshd = await ExecSshd.StartAsync(kind, _folder);
        _shared = ExecUser.NewSharedFolder();
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _sshd?.Dispose();
        ExecUser.DeleteFolders(_folder, _shared);
    }

    private string[] Common => ["exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "-i", ExecKeys.Authorized, $"{ExecUser.Name}@127.0.0.1"];

    /// <summary>A random file of <see cref="TransferBytes"/> that the test user may read; returns its path and SHA-256.</summary>
    private (string Path, string Hash) WriteDownloadFile()
    {
        string data = Path.Combine(_shared, "download");
        string expected = WriteRandomFile(data, TransferBytes);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(data, (UnixFileMode)0x1A4); // 0644: the test user reads it
        }

        return (data, expected);
    }

    [Test]
    public async Task Download_of_64_MiB_through_standard_output()
    {
        (string data, string expected) = WriteDownloadFile();


        using ExecChild child = ExecChild.Start([.. Common, $"cat {data}"]);
        child.Process.StandardInput.Close();
        var clock = Stopwatch.StartNew();
        (string hash, long count) = await HashAsync(child.Process.StandardOutput.BaseStream).WaitAsync(CliRunner.Timeout);
        int exitCode = await child.WaitForExitAsync();
        clock.Stop();
        TestContext.Progress.WriteLine($"exec download ({kind}): {Rate(count, clock)}");

        Assert.That(exitCode, Is.Zero, child.Error + _sshd.Log);
        Assert.That(count, Is.EqualTo(TransferBytes));
        Assert.That(hash, Is.EqualTo(expected));
        Assert.That(child.Error, Is.Empty);
    }

    /// <summary>
    /// Standard output a regular file: a write never waits for a reader, so exec writes it on the connection's receive
    /// thread (inline scheduling, inline socket completions) instead of handing each packet to an output thread.
    /// </summary>
    [Test]
    public async Task Download_of_64_MiB_into_a_file_as_standard_output()
    {
        (string data, string expected) = WriteDownloadFile();

        string received = Path.Combine(_folder, "received");
        using ExecChild child = ExecChild.Start([.. Common, $"cat {data}; echo done >&2"], outputFile: received);
        child.Process.StandardInput.Close();
        int exitCode = await child.WaitForExitAsync();

        Assert.That(exitCode, Is.Zero, child.Error + _sshd.Log);
        Assert.That(child.Error, Is.EqualTo("done\n"));
        await using FileStream file = File.OpenRead(received);
        (string hash, long count) = await HashAsync(file).WaitAsync(CliRunner.Timeout);
        Assert.That(count, Is.EqualTo(TransferBytes));
        Assert.That(hash, Is.EqualTo(expected));
    }

    [Test]
    public async Task Upload_of_64_MiB_through_standard_input()
    {
        string data = Path.Combine(_folder, "upload");
        string expected = WriteRandomFile(data, TransferBytes);
        string received = Path.Combine(_shared, "uploaded");

        using ExecChild child = ExecChild.Start([.. Common, $"cat > {received}; sha256sum {received}"]);
        var clock = Stopwatch.StartNew();
        Task<string> output = child.Process.StandardOutput.ReadToEndAsync();
        await using (FileStream source = File.OpenRead(data))
        {
            await source.CopyToAsync(child.Process.StandardInput.BaseStream).WaitAsync(CliRunner.Timeout);
        }

        child.Process.StandardInput.Close(); // EOF: cat ends
        int exitCode = await child.WaitForExitAsync();
        clock.Stop();
        TestContext.Progress.WriteLine($"exec upload ({kind}): {Rate(TransferBytes, clock)}");

        Assert.That(exitCode, Is.Zero, child.Error + _sshd.Log);
        Assert.That((await output).Split(' ')[0], Is.EqualTo(expected));
        Assert.That(new FileInfo(received).Length, Is.EqualTo(TransferBytes));
        Assert.That(child.Error, Is.Empty);
    }

    /// <summary>
    /// Standard input a regular file: a read never waits for a writer, so exec reads it where the channel let the last
    /// flush go on (the connection's thread, inline scheduling) instead of on a thread of its own.
    /// </summary>
    [Test]
    public async Task Upload_of_64_MiB_from_a_file_as_standard_input()
    {
        string data = Path.Combine(_folder, "upload-file");
        string expected = WriteRandomFile(data, TransferBytes);
        string received = Path.Combine(_shared, "uploaded-file");

        using ExecChild child = ExecChild.Start([.. Common, $"cat > {received}; sha256sum {received}"], inputFile: data);
        child.Process.StandardInput.Close(); // the shell's own; the tool reads the file
        Task<string> output = child.Process.StandardOutput.ReadToEndAsync();
        int exitCode = await child.WaitForExitAsync();

        Assert.That(exitCode, Is.Zero, child.Error + _sshd.Log);
        Assert.That((await output).Split(' ')[0], Is.EqualTo(expected));
        Assert.That(new FileInfo(received).Length, Is.EqualTo(TransferBytes));
        Assert.That(child.Error, Is.Empty);
    }

    [Test]
    public async Task Raw_bytes_on_stdout_and_stderr_and_the_exit_status()
    {
        using ExecChild child = ExecChild.Start([.. Common, @"printf 'o\377\000k'; printf 'e\200\n' >&2; exit 7"]);
        child.Process.StandardInput.Close();
        var stdout = new MemoryStream();
        await child.Process.StandardOutput.BaseStream.CopyToAsync(stdout).WaitAsync(CliRunner.Timeout);
        int exitCode = await child.WaitForExitAsync();
        Assert.That(exitCode, Is.EqualTo(7), child.Error);
        Assert.That(stdout.ToArray(), Is.EqualTo(new byte[] { (byte)'o', 0xFF, 0, (byte)'k' }));
        Assert.That(child.ErrorBytes, Is.EqualTo(new byte[] { (byte)'e', 0x80, (byte)'\n' }));
    }

    [Test]
    public async Task Without_i_the_default_key_files_of_home()
    {
        string home = Path.Combine(_folder, "home");
        Directory.CreateDirectory(Path.Combine(home, ".ssh"));
        File.Copy(ExecKeys.Other, Path.Combine(home, ".ssh", "id_ed25519"), overwrite: true);     // not authorized: tried first
        File.Copy(ExecKeys.Encrypted, Path.Combine(home, ".ssh", "id_ecdsa"), overwrite: true);   // encrypted, no passphrase: skipped
        File.Copy(ExecKeys.Authorized, Path.Combine(home, ".ssh", "id_rsa"), overwrite: true);    // the name does not matter, the key does

        using ExecChild child = ExecChild.Start(["exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", $"{ExecUser.Name}@127.0.0.1", "echo default keys"], home);
        child.Process.StandardInput.Close();
        string output = await child.Process.StandardOutput.ReadToEndAsync().WaitAsync(CliRunner.Timeout);
        int exitCode = await child.WaitForExitAsync();
        Assert.That(exitCode, Is.Zero, child.Error + _sshd.Log);
        Assert.That(output, Is.EqualTo("default keys\n"));
    }

    [Test]
    public async Task Without_any_key_the_line_says_so()
    {
        string home = Path.Combine(_folder, "empty-home");
        Directory.CreateDirectory(home);
        using ExecChild child = ExecChild.Start(["exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", $"{ExecUser.Name}@127.0.0.1", "true"], home);
        child.Process.StandardInput.Close();
        int exitCode = await child.WaitForExitAsync();
        Assert.That(exitCode, Is.EqualTo(255));
        Assert.That(child.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(1), child.Error);
        Assert.That(child.Error, Does.StartWith($"ssh-transport: authentication failed for {ExecUser.Name}@127.0.0.1: the server accepts publickey,password; tried "));
        Assert.That(child.Error, Does.Contain("(no key: none of id_ed25519, id_ecdsa, id_rsa in ~/.ssh, no -i)"));
    }

    [TestCase("TERM")]
    [TestCase("INT")]
    public async Task A_signal_closes_the_channel_and_exits_255_with_one_line(string signal)
    {
        using ExecChild child = ExecChild.Start([.. Common, "echo started; exec sleep 60"]);
        var line = new byte[8];
        Stream stdout = child.Process.StandardOutput.BaseStream;
        await stdout.ReadExactlyAsync(line).AsTask().WaitAsync(CliRunner.Timeout);
        Assert.That(Encoding.ASCII.GetString(line), Is.EqualTo("started\n"));

        await CliRunner.SignalAsync(child.Process.Id, signal);
        var clock = Stopwatch.StartNew();
        int exitCode = await child.WaitForExitAsync();
        Assert.That(exitCode, Is.EqualTo(255), child.Error);
        Assert.That(child.Error, Is.EqualTo("ssh-transport: interrupted\n"));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "it does not wait for the command");
    }

    [Test]
    public async Task Usage_mistakes_exit_2()
    {
        using ExecChild child = ExecChild.Start(["exec", "--cipher", "rot13", "example.com", "true"]);
        child.Process.StandardInput.Close();
        Assert.That(await child.WaitForExitAsync(), Is.EqualTo(2));
        Assert.That(child.Error, Does.StartWith("ssh-transport: exec: --cipher: unknown algorithm 'rot13'"));
    }

    internal static string WriteRandomFile(string path, int length)
    {
        byte[] data = new byte[length];
        new Random(length).NextBytes(data);
        File.WriteAllBytes(path, data);
        return Convert.ToHexStringLower(SHA256.HashData(data));
    }

    internal static async Task<(string Hash, long Count)> HashAsync(Stream stream)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[256 * 1024];
        long count = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            count += read;
        }

        return (Convert.ToHexStringLower(hash.GetHashAndReset()), count);
    }

    private static string Rate(long bytes, Stopwatch clock) =>
        $"{bytes / 1048576.0 / clock.Elapsed.TotalSeconds:F1} MiB/s ({bytes >> 20} MiB in {clock.Elapsed.TotalSeconds:F2} s, the tool's start included)";
}

/// <summary>The tool as a child process with its three standard streams redirected (stderr collected as bytes).</summary>
internal sealed class ExecChild : IDisposable
{
    private readonly MemoryStream _error = new();
    private readonly Task _errorCopy;

    private ExecChild(Process process)
    {
        Process = process;
        _errorCopy = process.StandardError.BaseStream.CopyToAsync(_error);
    }

    public Process Process { get; }

    public byte[] ErrorBytes
    {
        get
        {
            _errorCopy.Wait(CliRunner.Timeout);
            return _error.ToArray();
        }
    }

    public string Error => Encoding.UTF8.GetString(ErrorBytes);

    /// <summary>
    /// dotnet ssh-transport.dll ARGS (or <paramref name="nativeTool"/> ARGS), without an agent; <paramref name="home"/>
    /// replaces HOME when given; <paramref name="outputFile"/> and <paramref name="inputFile"/>, when given, are the
    /// tool's standard output and input instead of pipes (a shell redirects them).
    /// </summary>
    public static ExecChild Start(string[] args, string? home = null, string? outputFile = null, string? nativeTool = null, string? inputFile = null)
    {
        string[] command = CliRunner.ToolCommand(nativeTool);
        bool shell = outputFile is not null || inputFile is not null;
        var start = new ProcessStartInfo(shell ? "/bin/sh" : command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (shell)
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("exec \"$@\"" + (outputFile is null ? "" : " > \"$EXEC_OUTPUT\"") + (inputFile is null ? "" : " < \"$EXEC_INPUT\""));
            start.ArgumentList.Add("sh");
            start.Environment["EXEC_OUTPUT"] = outputFile ?? "";
            start.Environment["EXEC_INPUT"] = inputFile ?? "";
            start.ArgumentList.Add(command[0]);
        }

        foreach (string arg in command.Skip(1).Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("SSH_AUTH_SOCK");
        if (home is not null)
        {
            start.Environment["HOME"] = home;
        }

        return new ExecChild(Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start"));
    }

    /// <summary>Waits (bounded) for the exit, and for stderr to be read to its end.</summary>
    public async Task<int> WaitForExitAsync()
    {
        await Process.WaitForExitAsync().WaitAsync(CliRunner.Timeout);
        await _errorCopy.WaitAsync(CliRunner.Timeout);
        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(); // by our own process handle: only the child this test started
            Process.WaitForExit(5000);
        }

        Process.Dispose();
    }
}
