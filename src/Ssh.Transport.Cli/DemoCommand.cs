using System.Buffers.Binary;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Threading.Channels;

namespace Ssh.Transport.Cli;

/// <summary>
/// demo, the README's main job: in one process, the Kestrel SSH server of 'serve' on 127.0.0.1 and a client; for
/// each cipher suite a full handshake, then a timed stream of data with a small rekey limit, and a table of the
/// handshake time, throughput and rekeys.
/// </summary>
internal static class DemoCommand
{
    private const int MessageSize = 32 * 1024;
    private const long DefaultRekeyBytes = 16L << 20;

    /// <summary>The suites shown: each cipher, with a MAC where the cipher is not AEAD.</summary>
    internal static IReadOnlyList<(string Cipher, string? Mac)> Suites { get; } =
    [
        ("aes128-gcm@openssh.com", null),
        ("aes256-gcm@openssh.com", null),
        ("chacha20-poly1305@openssh.com", null),
        ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
        ("aes256-ctr", "hmac-sha2-512-etm@openssh.com"),
    ];

    /// <summary>The demo verb: its options, help and action.</summary>
    public static VerbCommand Create(CliContext cli)
    {
        Option<double> seconds = CliOptions.Seconds("--seconds", "-s", "streaming time per suite, fractions allowed (default 1)", 1, 0, 600);
        Option<long?> rekeyBytes = CliOptions.Bytes("--rekey-bytes", "rekey limit of both sides (default 16M; at least 16K; K, M, G suffixes)", 16 * 1024);
        var command = new VerbCommand("demo", "[--seconds SECONDS] [--rekey-bytes N]",
            "in one process: a Kestrel SSH server and a client on 127.0.0.1, a handshake and a timed stream of data with rekeys for each cipher suite, and a table of the results")
        {
            Description = """
                Starts the SSH server of 'serve' (Kestrel, 127.0.0.1, a random port, a generated ed25519 host key) and,
                for each cipher suite, connects a client: key exchange, host key check, ssh-userauth service request, then
                a stream of 32 KiB messages for N seconds with a small rekey limit, ended by a login attempt whose refusal
                proves the server has read everything. Prints a table: suite, handshake time, throughput, rekeys.
                """,
        };
        command.Options.Add(seconds);
        command.Options.Add(rekeyBytes);
        command.SetAction((result, _) => RunAsync(result.GetValue(seconds), result.GetValue(rekeyBytes) ?? DefaultRekeyBytes, cli));
        return command;
    }

    private static async Task<int> RunAsync(double seconds, long rekeyBytes, CliContext cli)
    {
        CancellationToken cancellationToken = cli.Cancellation;

        using SshPrivateKey hostKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        var serverOptions = new SshServerOptions
        {
            HandshakeTimeout = TimeSpan.FromSeconds(30),
            Packetizer = new SshPacketizerOptions { RekeyBytes = rekeyBytes, SoftwareVersion = "SshTransportDemo_server" },
        };
        serverOptions.HostKeys.Add(hostKey);
        foreach ((string cipher, string? mac) in Suites)
        {
            // The server offers exactly what the demo uses, whatever the library's defaults become.
            AddOnce(serverOptions.Ciphers, cipher);
            if (mac is not null)
            {
                AddOnce(serverOptions.Macs, mac);
            }
        }

        var served = Channel.CreateUnbounded<ServedConnection>();
        await using ServeHost server = await ServeHost.StartAsync(
            new IPEndPoint(IPAddress.Loopback, 0), serverOptions, TextWriter.Null, cancellationToken, c => served.Writer.TryWrite(c)).ConfigureAwait(false);
        int port = server.LocalEndPoint.Port;

        var total = Stopwatch.StartNew();
        cli.Out.WriteLine($"ssh-transport demo: Kestrel SSH server on {server.LocalEndPoint}, host key {Algorithms.Describe(hostKey.PublicKey)}");
        cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"each suite: handshake + ssh-userauth, then {seconds:0.###} s of {MessageSize / 1024} KiB messages, rekey every {FormatBytes(rekeyBytes)}"));

        // Warm-up: the first connection pays for JIT compilation; it is not in the table.
        SuiteResult warmUp = await RunSuiteAsync(port, hostKey.PublicKey, Suites[0], TimeSpan.Zero, rekeyBytes, cancellationToken).ConfigureAwait(false);
        await CheckServerAsync(served.Reader, warmUp, cancellationToken).ConfigureAwait(false);
        cli.Out.WriteLine($"kex {warmUp.Algorithms.KeyExchange}, host key algorithm {warmUp.Algorithms.HostKey}, strict kex {(warmUp.StrictKex ? "on" : "off")}");
        cli.Out.WriteLine();

        string header = $"{"suite",-46} {"handshake",10} {"throughput",12} {"rekeys",7}";
        cli.Out.WriteLine(header);
        cli.Out.WriteLine(new string('-', header.Length));
        long totalBytes = 0;
        int totalRekeys = 0;
        foreach ((string Cipher, string? Mac) suite in Suites)
        {
            string name = suite.Mac is null ? suite.Cipher : $"{suite.Cipher} + {suite.Mac}";
            if (cli.Interactive)
            {
                cli.Out.Write($"{name,-46} running...");
                cli.Out.Flush();
            }

            SuiteResult result = await RunSuiteAsync(port, hostKey.PublicKey, suite, TimeSpan.FromSeconds(seconds), rekeyBytes, cancellationToken).ConfigureAwait(false);
            await CheckServerAsync(served.Reader, result, cancellationToken).ConfigureAwait(false);
            totalBytes += result.Bytes;
            totalRekeys += result.Rekeys;
            string throughput = result.Seconds > 0 ? $"{result.Bytes / result.Seconds / 1e6:0.0} MB/s" : "-";
            string row = string.Create(CultureInfo.InvariantCulture,
                $"{name,-46} {result.HandshakeMs,7:0.0} ms {throughput,12} {result.Rekeys,7}");
            cli.Out.WriteLine(cli.Interactive ? "\r" + row : row);
            cli.Out.Flush();
        }

        cli.Out.WriteLine();
        cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Suites.Count} suites OK in {total.Elapsed.TotalSeconds:0.0} s: {totalBytes / 1e6:0} MB streamed and read by the server, {totalRekeys} rekeys"));
        return 0;
    }

    private static void AddOnce(IList<string> list, string name)
    {
        if (!list.Contains(name))
        {
            list.Add(name);
        }
    }

    private sealed record SuiteResult(SshAlgorithms Algorithms, bool StrictKex, double HandshakeMs, long Messages, long Bytes, double Seconds, int Rekeys, int KeyExchanges);

    /// <summary>One client connection: handshake, service request, stream, barrier, disconnect.</summary>
    private static async Task<SuiteResult> RunSuiteAsync(int port, SshPublicKey hostKey, (string Cipher, string? Mac) suite, TimeSpan duration, long rekeyBytes, CancellationToken cancellationToken)
    {
        var options = new SshClientOptions
        {
            HandshakeTimeout = TimeSpan.FromSeconds(30),
            HostKeyVerifier = (key, _) => ValueTask.FromResult(key == hostKey),
            Packetizer = new SshPacketizerOptions { RekeyBytes = rekeyBytes, SoftwareVersion = "SshTransportDemo_client" },
        };
        options.Ciphers.Clear();
        options.Ciphers.Add(suite.Cipher);
        if (suite.Mac is not null)
        {
            options.Macs.Clear();
            options.Macs.Add(suite.Mac);
        }

        var clock = Stopwatch.StartNew();
        SshTransport transport = await SshClientConnector.ConnectAsync(IPAddress.Loopback.ToString(), port, options, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        await using (transport.ConfigureAwait(false))
        {
            double handshakeMs = clock.Elapsed.TotalMilliseconds;
            await transport.RequestServiceAsync(SshTransportOptions.UserAuthService, cancellationToken).ConfigureAwait(false);

            using var refusals = new SemaphoreSlim(0);
            Task reading = ReadLoopAsync(transport, refusals, cancellationToken);

            // SSH_MSG_CHANNEL_DATA-shaped messages: uint32 recipient channel, string data. The server reads and drops them.
            byte[] message = new byte[MessageSize];
            message[0] = SshMessageNumber.ChannelData;
            BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(5), MessageSize - 9);
            RandomNumberGenerator.Fill(message.AsSpan(9));

            long messages = 0;
            var streaming = Stopwatch.StartNew();
            while (streaming.Elapsed < duration)
            {
                if (reading.IsCompleted)
                {
                    await reading.ConfigureAwait(false);
                    throw new IOException("The server closed the connection while data was streaming.");
                }

                await transport.WriteMessageAsync(message, cancellationToken).ConfigureAwait(false);
                messages++;
            }

            // A login attempt: its refusal comes back only after the server has read everything before it.
            await transport.WriteMessageAsync(AuthRequest, cancellationToken).ConfigureAwait(false);
            if (!await refusals.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false))
            {
                throw new TimeoutException("The server did not answer the login attempt that ends the stream.");
            }

            double seconds = streaming.Elapsed.TotalSeconds;
            int keyExchanges = transport.KeyExchangeCount;
            SshAlgorithms algorithms = transport.Algorithms;
            bool strictKex = transport.IsStrictKeyExchange;

            // DisconnectAsync waits for the server to close its side; the read in progress then ends.
            using (var sendTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
            {
                await transport.DisconnectAsync(SshDisconnectReason.ByApplication, "demo suite finished", sendTimeout.Token).ConfigureAwait(false);
            }

            await reading.ConfigureAwait(false);

            return new SuiteResult(algorithms, strictKex, handshakeMs, messages, messages * MessageSize, duration > TimeSpan.Zero ? seconds : 0,
                keyExchanges - 1, keyExchanges);
        }
    }

    /// <summary>SSH_MSG_USERAUTH_REQUEST (RFC 4252 §5): user, service, method "none".</summary>
    private static readonly byte[] AuthRequest = CreateAuthRequest();

    private static byte[] CreateAuthRequest()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new SshWriter(buffer);
        writer.WriteByte(SshMessageNumber.UserAuthRequest);
        writer.WriteString("demo");
        writer.WriteString("ssh-connection");
        writer.WriteString("none");
        return buffer.WrittenSpan.ToArray();
    }

    private static async Task ReadLoopAsync(SshTransport transport, SemaphoreSlim refusals, CancellationToken cancellationToken)
    {
        await Task.Yield();
        while (true)
        {
            SshPacket packet = await transport.ReadMessageAsync(cancellationToken).ConfigureAwait(false);
            if (packet.IsCompleted)
            {
                return;
            }

            if (packet.MessageNumber == SshMessageNumber.UserAuthFailure)
            {
                refusals.Release();
            }
        }
    }

    /// <summary>The server's account of the connection must match the client's: every message arrived.</summary>
    private static async Task CheckServerAsync(ChannelReader<ServedConnection> served, SuiteResult client, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        ServedConnection server;
        try
        {
            server = await served.ReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException("The server did not report the end of a demo connection.");
        }

        long expectedMessages = client.Messages + 1;
        long expectedBytes = client.Bytes + AuthRequest.Length;
        if (server.Messages != expectedMessages || server.MessageBytes != expectedBytes || server.AuthRequests != 1)
        {
            throw new InvalidOperationException(
                $"The server read {server.Messages} messages ({server.MessageBytes} bytes) but the client sent {expectedMessages} ({expectedBytes} bytes).");
        }
    }

    private static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 when bytes % (1L << 30) == 0 => $"{bytes >> 30} GiB",
        >= 1L << 20 when bytes % (1L << 20) == 0 => $"{bytes >> 20} MiB",
        >= 1L << 10 when bytes % (1L << 10) == 0 => $"{bytes >> 10} KiB",
        _ => $"{bytes} bytes",
    };
}
