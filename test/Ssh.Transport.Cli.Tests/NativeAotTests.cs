using System.Security.Cryptography;
using System.Text;

namespace Ssh.Transport.Cli.Tests;

/// <summary>
/// The tool published with Native AOT (<see cref="NativeAotTool"/>) does what the JIT-compiled one does: exec against
/// both sshd generations with each cipher family, 16 MiB down (into a file, the inline path, and through a pipe) and
/// up (from a file, inline too, and through a pipe), hashed on both sides; and serve, with --inline-io, for OpenSSH's ssh.
/// </summary>
[TestFixtureSource(nameof(Kinds))]
[NonParallelizable]
public class NativeAotTests(SshdKind kind)
{
    public static readonly SshdKind[] Kinds = [SshdKind.Debian, SshdKind.OpenSsh10];

    // AES-GCM runs the kernels the self-test checks; chacha20-poly1305 our own ChaCha20 and Poly1305; CTR+EtM the
    // BCL's HMAC beside our CTR.
    public static readonly string[][] Suites =
    [
        ["aes128-gcm@openssh.com"],
        ["aes256-gcm@openssh.com"],
        ["chacha20-poly1305@openssh.com"],
        ["aes128-ctr", "hmac-sha2-256-etm@openssh.com"],
    ];

    private const int TransferBytes = 16 << 20;

    private string _folder = null!;
    private string _shared = null!;
    private ExecSshd _sshd = null!;
    private string _tool = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("a local sshd, and the tool published for Linux");
        }

        _folder = Directory.CreateTempSubdirectory("ssh-aot-").FullName;
        _sshd = await ExecSshd.StartAsync(kind, _folder);
        _shared = ExecUser.NewSharedFolder();
        _tool = await NativeAotTool.GetAsync();
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _sshd?.Dispose();
        ExecUser.DeleteFolders(_folder, _shared);
    }

    private string[] Common(string[] suite) =>
    [
        "exec", "-p", $"{_sshd.Port}", "--accept-any-host-key", "-i", ExecKeys.Authorized, "--cipher", suite[0],
        .. suite.Length > 1 ? new[] { "--mac", suite[1] } : [],
        $"{ExecUser.Name}@127.0.0.1",
    ];

    [TestCaseSource(nameof(Suites))]
    public async Task Exec_carries_16_MiB_down_and_up(params string[] suite)
    {
        string data = Path.Combine(_shared, "download");
        string expected = ExecChildProcessTests.WriteRandomFile(data, TransferBytes);
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(data, (UnixFileMode)0x1A4); // 0644: the test user reads it
        }

        // Down into a file: the receive thread writes it (inline scheduling and socket completions).
        string received = Path.Combine(_folder, "received");
        using (ExecChild child = ExecChild.Start([.. Common(suite), $"cat {data}"], outputFile: received, nativeTool: _tool))
        {
            child.Process.StandardInput.Close();
            Assert.That(await child.WaitForExitAsync(), Is.Zero, child.Error + _sshd.Log);
            Assert.That(child.Error, Is.Empty);
        }

        await using (FileStream file = File.OpenRead(received))
        {
            Assert.That(await ExecChildProcessTests.HashAsync(file), Is.EqualTo((expected, (long)TransferBytes)));
        }

        // Down through a pipe: the output thread.
        using (ExecChild child = ExecChild.Start([.. Common(suite), $"cat {data}"], nativeTool: _tool))
        {
            child.Process.StandardInput.Close();
            (string hash, long count) = await ExecChildProcessTests.HashAsync(child.Process.StandardOutput.BaseStream).WaitAsync(CliRunner.Timeout);
            Assert.That(await child.WaitForExitAsync(), Is.Zero, child.Error + _sshd.Log);
            Assert.That((hash, count), Is.EqualTo((expected, (long)TransferBytes)));
        }

        // Up from a file as standard input: read where the channel lets the last flush go on.
        string fromFile = Path.Combine(_shared, "uploaded-file");
        using (ExecChild child = ExecChild.Start([.. Common(suite), $"cat > {fromFile}; sha256sum {fromFile}"], inputFile: data, nativeTool: _tool))
        {
            child.Process.StandardInput.Close();
            Task<string> output = child.Process.StandardOutput.ReadToEndAsync();
            Assert.That(await child.WaitForExitAsync(), Is.Zero, child.Error + _sshd.Log);
            Assert.That((await output).Split(' ')[0], Is.EqualTo(expected));
        }

        // Up through a pipe, with the exit status and stderr of the command.
        string uploaded = Path.Combine(_shared, "uploaded");
        using (ExecChild child = ExecChild.Start([.. Common(suite), $"cat > {uploaded}; sha256sum {uploaded}; echo done >&2; exit 3"], nativeTool: _tool))
        {
            Task<string> output = child.Process.StandardOutput.ReadToEndAsync();
            await using (FileStream source = File.OpenRead(data))
            {
                await source.CopyToAsync(child.Process.StandardInput.BaseStream).WaitAsync(CliRunner.Timeout);
            }

            child.Process.StandardInput.Close();
            Assert.That(await child.WaitForExitAsync(), Is.EqualTo(3), child.Error + _sshd.Log);
            Assert.That((await output).Split(' ')[0], Is.EqualTo(expected));
            Assert.That(child.Error, Is.EqualTo("done\n"));
        }
    }

    [Test]
    public async Task Serve_with_inline_io_carries_16_MiB_each_way_for_ssh()
    {
        // The fixture's sshd is there (else it was ignored), so its generation's ssh is.
        string ssh = kind == SshdKind.Debian ? "/usr/bin/ssh" : "/opt/ssh-peers/openssh/bin/ssh";
        string identity = Path.Combine(_folder, "id_serve");
        ExecUser.Checked("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", identity);
        string authorizedKeys = Path.Combine(_folder, "authorized_keys_serve");
        File.WriteAllText(authorizedKeys, File.ReadAllText(identity + ".pub"));

        await using ChildProcess serve = CliRunner.StartChild(CliRunner.ToolCommand(_tool), new Dictionary<string, string>(),
            "serve", "--listen", "127.0.0.1:0", "--authorized-keys", authorizedKeys, "--allow-exec", "--inline-io");
        string log = await serve.WaitForOutputAsync(o => CliRunner.ListeningPort(o) is not null, CliRunner.Timeout);
        int port = CliRunner.ListeningPort(log)!.Value;

        string input = Convert.ToHexString(RandomNumberGenerator.GetBytes(TransferBytes / 2)) + "\n";
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(input)));
        List<string> args = ServeClient.OpenSshOptions("-p", port, identity);
        args.AddRange(["tester@127.0.0.1", "tee /tmp/ssh-transport-aot-$$ | sha256sum; cat /tmp/ssh-transport-aot-$$; rm -f /tmp/ssh-transport-aot-$$"]);
        ServeClientResult result = await ServeClient.RunAsync(ssh, args, input);
        Assert.That(result.ExitCode, Is.Zero, result.Error + serve.Out + serve.Error);
        Assert.That(result.Out, Is.EqualTo($"{hash}  -\n" + input));
    }
}
