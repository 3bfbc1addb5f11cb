using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Ssh.Transport.Connection.Tests.Authentication;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Channels;

/// <summary>
/// OpenSSH's `ssh`, Debian's and the newest (one fixture per <see cref="OpenSshGeneration"/>), against our server's connection layer: a session channel whose "exec" a small built-in command
/// set answers (echo, exit, source N bytes, sink and hash stdin), with the exit status, EOF and CLOSE as ssh expects.
/// The server rekeys every 1 MiB. (Running real processes for exec is the tool's serve --allow-exec, issue 10.)
/// </summary>
[Category("Interop")]
[NonParallelizable]
[CancelAfter(120_000)]
[TestFixtureSource(typeof(OpenSsh), nameof(OpenSsh.Generations))]
public class OpenSshAgainstOurConnectionTests(OpenSshGeneration generation)
{
    private readonly OpenSsh _openssh = OpenSsh.Get(generation);

    [Test]
    public async Task Ssh_Exec_Echo_PrintsAndExitsZero()
    {
        await using var server = TestServer.Start();
        (int code, byte[] stdout, string stderr) = await RunSshAsync(server.Port, "echo hi");
        Assert.That((code, Encoding.ASCII.GetString(stdout)), Is.EqualTo((0, "hi\n")), stderr);
    }

    [Test]
    public async Task Ssh_Exec_ExitStatus_IsSshsExitCode()
    {
        await using var server = TestServer.Start();
        (int code, _, string stderr) = await RunSshAsync(server.Port, "exit 3");
        Assert.That(code, Is.EqualTo(3), stderr);
    }

    [Test]
    public async Task Ssh_Download16MiB_ThroughServerRekeys_ByteIdentical()
    {
        await using var server = TestServer.Start();
        const int size = 16 * 1024 * 1024;
        (int code, byte[] stdout, string stderr) = await RunSshAsync(server.Port, $"source {size}");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Has.Length.EqualTo(size));
        Assert.That(SHA256.HashData(stdout), Is.EqualTo(SHA256.HashData(TestServer.Pattern(size))));
        Assert.That(await server.KeyExchangesAsync(), Is.GreaterThanOrEqualTo(4), "our server rekeyed every 1 MiB in the middle (counted loosely)");
    }

    [Test]
    public async Task Ssh_Upload4MiB_HashedByOurServer()
    {
        await using var server = TestServer.Start();
        byte[] input = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        (int code, byte[] stdout, string stderr) = await RunSshAsync(server.Port, "sink", input);
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(Encoding.ASCII.GetString(stdout).Trim(), Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(input))));
    }

    private async Task<(int Code, byte[] Stdout, string Stderr)> RunSshAsync(int port, string command, byte[]? input = null)
    {
        string ssh = _openssh.Require("ssh");
        var start = new ProcessStartInfo(ssh)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[]
        {
            "-F", "/dev/null", "-p", port.ToString(), "-i", OpenSshKeys.File("ed25519"),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "alice@127.0.0.1", command,
        })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["SSH_AUTH_SOCK"] = string.Empty;
        using Process process = Process.Start(start)!;
        var stdout = new MemoryStream();
        Task copying = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.BaseStream.WriteAsync(input);
        }

        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"ssh did not finish: {await stderr}");
        }

        await copying;
        return (process.ExitCode, stdout.ToArray(), await stderr);
    }

    /// <summary>Our server for one connection: transport, publickey authentication, the connection layer.</summary>
    private sealed class TestServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Task<int> _serving;

        private TestServer()
        {
            _listener.Start();
            _serving = ServeAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static TestServer Start() => new();

        public static byte[] Pattern(int size)
        {
            byte[] data = new byte[size];
            for (int i = 0; i < size; i++)
            {
                data[i] = (byte)('a' + (i % 26));
            }

            return data;
        }

        /// <summary>How many key exchanges the connection had beyond the first.</summary>
        public async Task<int> KeyExchangesAsync() => await _serving.WaitAsync(TimeSpan.FromSeconds(30));

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            try
            {
                await _serving.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or TimeoutException or SshProtocolException)
            {
            }
        }

        private async Task<int> ServeAsync()
        {
            using Socket socket = await _listener.AcceptSocketAsync();
            _listener.Stop();
            SshServerOptions options = Harness.ServerOptions();
            options.Packetizer.RekeyBytes = 1024 * 1024;
            await using SshTransport transport = await SshTransport.AcceptAsync(SshClientConnector.CreatePipe(socket), options);
            SshPublicKey allowed = SshPrivateKey.Load(OpenSshKeys.File("ed25519")).PublicKey;
            await SshServerAuthentication.AuthenticateAsync(transport, new SshServerAuthenticationOptions
            {
                PublicKeyValidator = (context, key, _) => ValueTask.FromResult(key == allowed ? new SshAuthorizedKey(key) : null),
            }, socket.RemoteEndPoint);
            await using var connection = new SshConnection(transport);
            connection.ChannelOpenHandler = (request, openCancellation) =>
            {
                if (request.Type != "session")
                {
                    request.Reject(SshChannelOpenFailureReason.UnknownChannelType, "session channels only");
                    return ValueTask.CompletedTask;
                }

                SshChannel channel = request.Accept();
                channel.RequestHandler = (c, r, cancellationToken) =>
                {
                    if (r.Type != "exec")
                    {
                        return ValueTask.FromResult(false);
                    }

                    string command = Encoding.UTF8.GetString(new SshReader(r.Data.Span).ReadString());
                    _ = Task.Run(() => RunAsync(c, command), CancellationToken.None);
                    return ValueTask.FromResult(true);
                };
                return ValueTask.CompletedTask;
            };
            int first = transport.KeyExchangeCount;
            await connection.RunAsync();
            return transport.KeyExchangeCount - first;
        }

        private static async Task RunAsync(SshChannel channel, string command)
        {
            string[] words = command.Split(' ', 2);
            uint status = 0;
            switch (words[0])
            {
                case "echo":
                    await channel.Output.WriteAsync(Encoding.UTF8.GetBytes(words[1] + "\n"));
                    break;
                case "exit":
                    status = uint.Parse(words[1], System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "source":
                    byte[] data = Pattern(int.Parse(words[1], System.Globalization.CultureInfo.InvariantCulture));
                    for (int offset = 0; offset < data.Length; offset += 65536)
                    {
                        await channel.Output.WriteAsync(data.AsMemory(offset, Math.Min(65536, data.Length - offset)));
                    }

                    break;
                case "sink":
                    using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
                    {
                        while (true)
                        {
                            ReadResult result = await channel.Input.ReadAsync();
                            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                            {
                                hash.AppendData(segment.Span);
                            }

                            channel.Input.AdvanceTo(result.Buffer.End);
                            if (result.IsCompleted)
                            {
                                break;
                            }
                        }

                        await channel.Output.WriteAsync(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(hash.GetHashAndReset()) + "\n"));
                    }

                    break;
                default:
                    await channel.ExtendedOutput.WriteAsync(Encoding.UTF8.GetBytes($"{words[0]}: not found\n"));
                    status = 127;
                    break;
            }

            // As sshd: the data, EOF, exit-status, then CLOSE (RFC 4254 §6.10).
            await channel.Output.CompleteAsync();
            await channel.ExtendedOutput.CompleteAsync();
            await channel.SendRequestAsync("exit-status", wantReply: false, status, static (ref SshWriter w, uint s) => w.WriteUInt32(s));
            await channel.CloseAsync();
        }
    }
}
