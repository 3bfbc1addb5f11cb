using System.Net;
using System.Net.Sockets;

namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>
/// Our server on 127.0.0.1: every accepted socket goes through <see cref="SshClientConnector.CreatePipe"/> into
/// <see cref="SshTransport.AcceptAsync(System.IO.Pipelines.IDuplexPipe, SshServerOptions, CancellationToken)"/>, then
/// a read loop that refuses every USERAUTH_REQUEST with USERAUTH_FAILURE ("publickey,password", partial success false) until the peer goes away.
/// </summary>
internal sealed class OurServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly SshServerOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Connection> _connections = [];
    private readonly Lock _gate = new();
    private readonly Task _acceptLoop;
    private readonly Func<Connection, CancellationToken, Task>? _beforeFirstRefusal;

    /// <summary>Authentication requests refused before we disconnect (sshd's MaxAuthTries is 6).</summary>
    public const int MaxAuthRequests = 6;

    private readonly bool _acceptAuthentication;

    private OurServer(SshServerOptions options, Func<Connection, CancellationToken, Task>? beforeFirstRefusal, bool acceptAuthentication)
    {
        _options = options;
        _beforeFirstRefusal = beforeFirstRefusal;
        _acceptAuthentication = acceptAuthentication;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The port on 127.0.0.1.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>
    /// Starts listening. <paramref name="beforeFirstRefusal"/>, if given, runs when the first authentication request
    /// arrives, before it is refused, while the read loop goes on (the rekey tests stream data there). With
    /// <paramref name="acceptAuthentication"/> the first request is accepted instead (USERAUTH_SUCCESS), the work
    /// runs after that, and then our server disconnects: OpenSSH's client takes no key exchange during authentication.
    /// </summary>
    public static OurServer Start(SshServerOptions options, Func<Connection, CancellationToken, Task>? beforeFirstRefusal = null, bool acceptAuthentication = false) =>
        new(options, beforeFirstRefusal, acceptAuthentication);

    /// <summary>The first connection, once its read loop has ended (or the wait is over).</summary>
    public async Task<Connection?> WaitForFirstConnectionAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        Connection? first = null;
        while (first is null && DateTime.UtcNow < deadline)
        {
            lock (_gate)
            {
                first = _connections.FirstOrDefault();
            }

            if (first is null)
            {
                await Task.Delay(20);
            }
        }

        if (first is not null)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            await Task.WhenAny(first.Finished, Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.Zero));
        }

        return first;
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket socket = await _listener.AcceptSocketAsync(_stop.Token);
                socket.NoDelay = true;
                var connection = new Connection();
                lock (_gate)
                {
                    _connections.Add(connection);
                }

                connection.Finished = ServeAsync(connection, socket);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
        catch (SocketException)
        {
            // Stopped.
        }
    }

    private async Task ServeAsync(Connection connection, Socket socket)
    {
        CancellationToken cancel = _stop.Token;
        try
        {
            connection.Transport = await SshTransport.AcceptAsync(SshClientConnector.CreatePipe(socket), _options, cancel);
            Task? beforeRefusal = null;
            while (true)
            {
                SshPacket packet = await connection.Transport.ReadMessageAsync(cancel);
                if (packet.IsCompleted)
                {
                    connection.ClosedCleanly = true;
                    break;
                }

                if (packet.MessageNumber != SshMessageNumber.UserAuthRequest)
                {
                    if (!connection.Authenticated)
                    {
                        connection.Unexpected.Add(packet.MessageNumber);
                    }

                    continue;
                }

                if (Interlocked.Increment(ref connection.AuthRequestCount) > MaxAuthRequests)
                {
                    // As sshd does after MaxAuthTries: a client that retries a refused password forever (dbclient
                    // with DROPBEAR_PASSWORD) is shown the door.
                    await connection.Transport.DisconnectAsync(SshDisconnectReason.NoMoreAuthMethodsAvailable, "Too many authentication failures", cancel);
                    connection.ClosedCleanly = true;
                    break;
                }

                if (_acceptAuthentication)
                {
                    await connection.Transport.WriteMessageAsync(new byte[] { SshMessageNumber.UserAuthSuccess }, cancel);
                    connection.Authenticated = true;
                    beforeRefusal = DisconnectAfterAsync(connection, _beforeFirstRefusal?.Invoke(connection, cancel) ?? Task.CompletedTask, cancel);
                    continue;
                }

                if (_beforeFirstRefusal is not null && beforeRefusal is null)
                {
                    // The read loop must go on meanwhile (a key exchange progresses as we read): refuse later.
                    beforeRefusal = RefuseAfterAsync(connection, _beforeFirstRefusal(connection, cancel), cancel);
                    continue;
                }

                await RefuseAsync(connection.Transport, cancel);
            }

            if (beforeRefusal is not null)
            {
                await beforeRefusal;
            }
        }
        catch (Exception e) when (!connection.DisconnectedByUs)
        {
            connection.Error ??= e;
        }
        catch (Exception)
        {
            // We hung up: the read loop ends with whatever the disposed transport throws.
            connection.ClosedCleanly = true;
        }
        finally
        {
            if (connection.Transport is not null)
            {
                await connection.Transport.DisposeAsync();
            }
            else
            {
                socket.Dispose();
            }
        }
    }

    private static async Task RefuseAfterAsync(Connection connection, Task work, CancellationToken cancel)
    {
        try
        {
            await work;
            await RefuseAsync(connection.Transport!, cancel);
        }
        catch (Exception e)
        {
            connection.Error ??= e;
            throw;
        }
    }

    private static async Task DisconnectAfterAsync(Connection connection, Task work, CancellationToken cancel)
    {
        try
        {
            await work;
            connection.DisconnectedByUs = true;
            await connection.Transport!.DisconnectAsync(SshDisconnectReason.ByApplication, "interop test done", cancel);
        }
        catch (Exception e)
        {
            connection.Error ??= e;
            throw;
        }
    }

    private static ValueTask RefuseAsync(SshTransport transport, CancellationToken cancel) =>
        transport.WriteMessageAsync(0, static (w, _) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.UserAuthFailure);
            writer.WriteString("publickey,password");
            writer.WriteBoolean(false);
        }, cancel);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Task[] finished;
        lock (_gate)
        {
            finished = [.. _connections.Select(c => c.Finished).Where(t => t is not null)];
        }

        await Task.WhenAny(Task.WhenAll(finished), Task.Delay(TimeSpan.FromSeconds(5)));
        await _acceptLoop;
        _stop.Dispose();
    }

    /// <summary>One accepted connection and what became of it.</summary>
    internal sealed class Connection
    {
        public int AuthRequestCount;

        public SshTransport? Transport { get; set; }

        /// <summary>The first failure: of the handshake, the read loop, or the work before the refusal.</summary>
        public Exception? Error { get; set; }

        public bool ClosedCleanly { get; set; }

        /// <summary>We accepted the authentication (see <see cref="Start"/>).</summary>
        public bool Authenticated { get; set; }

        /// <summary>We sent DISCONNECT after the work.</summary>
        public bool DisconnectedByUs { get; set; }

        /// <summary>Messages of the layers above other than USERAUTH_REQUEST.</summary>
        public List<byte> Unexpected { get; } = [];

        public Task Finished { get; set; } = Task.CompletedTask;

        /// <summary>
        /// True when the connection ended the way a refused client ends it: a DISCONNECT (any reason a client
        /// gives up with) or a plain close, after at least one authentication request was answered.
        /// </summary>
        public bool EndedNormally =>
            Transport is not null && AuthRequestCount > 0 &&
            (Error is null or IOException || Error is SshProtocolException
            {
                Reason: SshDisconnectReason.ByApplication or SshDisconnectReason.NoMoreAuthMethodsAvailable or
                    SshDisconnectReason.AuthCancelledByUser or SshDisconnectReason.ConnectionLost,
            });
    }
}
