using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ssh.Transport.Connection.Tests.Authentication;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Server;

/// <summary>
/// A server built on <see cref="SshServer.RunAsync"/> on 127.0.0.1, for real clients: every connection gets our
/// transport, then the runner with a handler that accepts the test keys, runs exec as <c>/bin/sh -c COMMAND</c> and the
/// "sftp" subsystem as OpenSSH's sftp-server (both with <see cref="SshServerSession.RunProcessAsync"/>), and allows
/// every forwarding.
/// </summary>
internal sealed class RealServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly SshServerOptions _options;
    private readonly SshServerSettings _settings;
    private readonly Handler _handler;
    private readonly List<Task> _connections = [];
    private readonly List<Exception> _errors = [];
    private readonly Task _accepting;
    private int _rekeys;
    private int _clientRekeys;
    private long _sealedInBatches;
    private long _verifiedAhead;

    private RealServer(long? rekeyBytes, SshServerSettings? settings, IEnumerable<SshPublicKey> keys)
    {
        _options = Harness.ServerOptions();
        if (rekeyBytes is long bytes)
        {
            _options.Packetizer.RekeyBytes = bytes;
        }

        _options.Extensions[SshAuthenticationMethods.PublicKeyHostBoundExtension] = "0";
        _settings = settings ?? new SshServerSettings();
        _handler = new Handler([.. keys]);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The transport options every connection starts with; changes reach the connections accepted after them.</summary>
    public SshServerOptions TransportOptions => _options;

    /// <summary>Key exchanges after the first, over every connection that has ended.</summary>
    public int Rekeys => Volatile.Read(ref _rekeys);

    /// <summary>Key exchanges after the first that the client started, so far.</summary>
    public int ClientRekeys => Volatile.Read(ref _clientRekeys);

    /// <summary>Packets sealed in batches under the last keys of each connection that ended.</summary>
    public long PacketsSealedInBatches => Interlocked.Read(ref _sealedInBatches);

    /// <summary>Packets whose tags were checked in batches, under the last keys of each connection that ended.</summary>
    public long PacketsVerifiedAhead => Interlocked.Read(ref _verifiedAhead);

    /// <summary>The sessions started so far.</summary>
    public IReadOnlyList<SshServerSession> Sessions
    {
        get
        {
            lock (_handler.Sessions)
            {
                return [.. _handler.Sessions];
            }
        }
    }

    /// <summary>Password attempts so far (alice's password is "sesame").</summary>
    public int PasswordAttempts => _handler.PasswordAttempts;

    /// <summary>What connections ended with, other than a normal end.</summary>
    public IReadOnlyList<Exception> Errors
    {
        get
        {
            lock (_errors)
            {
                return [.. _errors];
            }
        }
    }

    /// <summary>Starts a server that accepts OpenSSH's test ed25519 key and <paramref name="keys"/>.</summary>
    public static RealServer Start(long? rekeyBytes = null, SshServerSettings? settings = null, params SshPublicKey[] keys) =>
        new(rekeyBytes, settings, [SshPrivateKey.Load(OpenSshKeys.File("ed25519")).PublicKey, .. keys]);

    /// <summary>Waits (bounded) for the connections to end; their rekeys are counted then.</summary>
    public async Task WaitForConnectionsAsync()
    {
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections).WaitAsync(ServerHarness.Timeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await WaitForConnectionsAsync();
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket socket = await _listener.AcceptSocketAsync();
            lock (_connections)
            {
                _connections.Add(ServeAsync(socket));
            }
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        try
        {
            await using SshTransport transport = await SshTransport.AcceptAsync(SshClientConnector.CreatePipe(socket), _options, socket.LocalEndPoint, socket.RemoteEndPoint);
            int first = transport.KeyExchangeCount;
            transport.KeyExchangeCompleted += (_, e) =>
            {
                if (e.Number > 1 && e.InitiatedBy == SshInitiator.Remote)
                {
                    Interlocked.Increment(ref _clientRekeys);
                }
            };
            try
            {
                await SshServer.RunAsync(transport, _handler, _settings);
            }
            finally
            {
                Interlocked.Add(ref _rekeys, transport.KeyExchangeCount - first);
                Interlocked.Add(ref _sealedInBatches, transport.Packetizer.State.Outbound.Active.PacketsSealedInBatches);
                Interlocked.Add(ref _verifiedAhead, transport.Packetizer.State.Inbound.Active.PacketsVerifiedAhead);
            }
        }
        catch (Exception e)
        {
            lock (_errors)
            {
                _errors.Add(e);
            }
        }
    }

    private sealed class Handler(SshPublicKey[] keys) : SshServerHandler
    {
        public List<SshServerSession> Sessions { get; } = [];

        public override ValueTask<SshAuthorizedKey?> AuthenticatePublicKeyAsync(SshAuthenticationContext context, SshPublicKey key, CancellationToken cancellationToken) =>
            ValueTask.FromResult(keys.Contains(key) ? new SshAuthorizedKey(key) : null);

        /// <summary>Counts the password attempts; "sesame" lets alice in.</summary>
        public int PasswordAttempts => Volatile.Read(ref _passwordAttempts);

        private int _passwordAttempts;

        public override ValueTask<bool> AuthenticatePasswordAsync(SshAuthenticationContext context, string password, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _passwordAttempts);
            return ValueTask.FromResult(context.UserName == "alice" && password == "sesame");
        }

        public override Task RunSessionAsync(SshServerSession session, CancellationToken cancellationToken)
        {
            lock (Sessions)
            {
                Sessions.Add(session);
            }

            return TestHandler.RunShellAsync(session, cancellationToken);
        }

        public override ValueTask<bool> AllowDirectTcpIpAsync(SshServerContext context, SshTcpIpChannelInfo target, CancellationToken cancellationToken) =>
            ValueTask.FromResult(true);

        public override ValueTask<bool> AllowTcpIpForwardAsync(SshServerContext context, string address, int port, CancellationToken cancellationToken) =>
            ValueTask.FromResult(true);
    }
}

/// <summary>A client program run to its end: stdin from a file (or none), stdout hashed or kept, stderr kept; killed by its id after a bound.</summary>
internal static class ClientRun
{
    public sealed record Result(int ExitCode, byte[] Stdout, string StdoutSha256, long StdoutLength, string Stderr, TimeSpan Elapsed);

    public static async Task<Result> RunAsync(string program, IEnumerable<string> arguments, string? stdinFile = null, bool keepStdout = true, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["SSH_AUTH_SOCK"] = string.Empty;
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var clock = Stopwatch.StartNew();
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        Task<(byte[], string, long)> stdout = ReadStdoutAsync(process.StandardOutput.BaseStream, keepStdout);
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        Task feeding = Task.Run(async () =>
        {
            try
            {
                if (stdinFile is not null)
                {
                    await using FileStream file = File.OpenRead(stdinFile);
                    await file.CopyToAsync(process.StandardInput.BaseStream, 1 << 16);
                }
            }
            catch (IOException)
            {
                // The program stopped reading; its exit code and output tell the rest.
            }
            finally
            {
                process.StandardInput.Close();
            }
        });
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Fail($"{Path.GetFileName(program)} did not finish in time: {await stderr.WaitAsync(TimeSpan.FromSeconds(10))}");
        }

        (byte[] output, string hash, long length) = await stdout.WaitAsync(TimeSpan.FromSeconds(30));
        await feeding.WaitAsync(TimeSpan.FromSeconds(30));
        return new Result(process.ExitCode, output, hash, length, await stderr.WaitAsync(TimeSpan.FromSeconds(30)), clock.Elapsed);
    }

    private static async Task<(byte[], string, long)> ReadStdoutAsync(Stream stream, bool keep)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var kept = new MemoryStream();
        byte[] buffer = new byte[1 << 16];
        long length = 0;
        while (true)
        {
            int read = await stream.ReadAsync(buffer);
            if (read == 0)
            {
                return (kept.ToArray(), Convert.ToHexStringLower(hash.GetHashAndReset()), length);
            }

            length += read;
            hash.AppendData(buffer, 0, read);
            if (keep)
            {
                kept.Write(buffer, 0, read);
            }
        }
    }
}
