using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Ssh.Transport.Cli;

/// <summary>Entry point of the ssh-transport tool.</summary>
internal static class CliMain
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            PrintUsage();
            return args.Length == 0 ? 2 : 0;
        }

        try
        {
            return args[0] switch
            {
                "demo" => await DemoCommand.RunAsync(args[1..]).ConfigureAwait(false),
                _ => Fail($"unknown verb '{args[0]}'"),
            };
        }
        catch (Exception e) when (e is SshProtocolException or IOException or SocketException or TimeoutException or ArgumentException)
        {
            return Fail(e.Message);
        }
    }

    internal static int Fail(string message)
    {
        Console.Error.WriteLine($"ssh-transport: {message}");
        return 1;
    }

    private static void PrintUsage()
    {
        Console.WriteLine("""
            usage: ssh-transport VERB [options]

            verbs:
              demo [--seconds N]   frame SSH packets between a client and a server over a loopback TCP socket
                                   and print the throughput for several payload sizes
            """);
    }
}

/// <summary>
/// The README's main job: a client and a server packetizer over a real loopback TCP connection, exchanging
/// identification lines and then streaming packets of several sizes.
/// </summary>
internal static class DemoCommand
{
    private static readonly int[] s_payloadSizes = [64, 1024, 32 * 1024];

    public static async Task<int> RunAsync(string[] args)
    {
        double seconds = 1;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--seconds" && i + 1 < args.Length && double.TryParse(args[++i], System.Globalization.CultureInfo.InvariantCulture, out double s) && s > 0)
            {
                seconds = s;
            }
            else
            {
                return CliMain.Fail($"demo: unexpected argument '{args[i]}'");
            }
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var endpoint = (IPEndPoint)listener.LocalEndpoint;
        Console.WriteLine($"ssh-transport demo: loopback TCP on {endpoint}, {seconds:0.#} s per payload size");

        using var clientSocket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Task<Socket> accepting = listener.AcceptSocketAsync();
        await clientSocket.ConnectAsync(endpoint).ConfigureAwait(false);
        using Socket serverSocket = await accepting.ConfigureAwait(false);
        serverSocket.NoDelay = true;

        await using var client = new SshPacketizer(SocketPipe(clientSocket), SshRole.Client, new SshPacketizerOptions { SoftwareVersion = "SshTransportDemo_client" });
        await using var server = new SshPacketizer(SocketPipe(serverSocket), SshRole.Server, new SshPacketizerOptions { SoftwareVersion = "SshTransportDemo_server" });

        var sw = Stopwatch.StartNew();
        await Task.WhenAll(client.ExchangeIdentificationAsync().AsTask(), server.ExchangeIdentificationAsync().AsTask()).ConfigureAwait(false);
        Console.WriteLine($"identification exchanged in {sw.Elapsed.TotalMilliseconds:0.0} ms");
        Console.WriteLine($"  client sees: {client.RemoteIdentification}");
        Console.WriteLine($"  server sees: {server.RemoteIdentification}");
        Console.WriteLine();
        Console.WriteLine($"{"payload",10} {"packets",12} {"MB/s",10} {"packets/s",12}");

        foreach (int size in s_payloadSizes)
        {
            (long packets, double elapsed) = await StreamAsync(client, server, size, TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
            double mbps = packets * (double)size / elapsed / 1e6;
            Console.WriteLine($"{size,10} {packets,12} {mbps,10:0.0} {packets / elapsed,12:0}");
        }

        Console.WriteLine();
        Console.WriteLine($"client wrote {client.PacketsWritten} packets ({client.BytesWritten} bytes), server read {server.PacketsRead} packets ({server.BytesRead} bytes)");
        return client.PacketsWritten == server.PacketsRead ? 0 : CliMain.Fail("packet counts differ");
    }

    private static async Task<(long Packets, double Seconds)> StreamAsync(SshPacketizer client, SshPacketizer server, int payloadSize, TimeSpan duration)
    {
        using var stop = new CancellationTokenSource();
        long sent = 0;
        var sw = Stopwatch.StartNew();

        Task writer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                // SSH_MSG_IGNORE with a string of filler: a real transport message the peer discards.
                await client.WritePacketAsync(payloadSize, static (w, size) =>
                {
                    Span<byte> span = w.GetSpan(size);
                    span[0] = SshMessageNumber.Ignore;
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)(size - 5));
                    span[5..size].Fill(0x5A);
                    w.Advance(size);
                }, payloadSize, flush: true).ConfigureAwait(false);
                sent++;
            }

            // A final marker packet tells the reader where this round ends.
            await client.WritePacketAsync(new byte[] { SshMessageNumber.Debug, 0, 0, 0, 0, 0, 0, 0, 0, 0 }).ConfigureAwait(false);
        });

        long received = 0;
        Task reader = Task.Run(async () =>
        {
            while (true)
            {
                SshPacket packet = await server.ReadPacketAsync().ConfigureAwait(false);
                if (packet.IsCompleted || packet.MessageNumber == SshMessageNumber.Debug)
                {
                    return;
                }

                if (packet.Payload.Length != payloadSize)
                {
                    throw new InvalidOperationException("payload size mismatch");
                }

                received++;
            }
        });

        await Task.Delay(duration).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(writer, reader).ConfigureAwait(false);
        if (received != sent)
        {
            throw new InvalidOperationException($"sent {sent} packets but received {received}");
        }

        return (received, sw.Elapsed.TotalSeconds);
    }

    private static StreamDuplexPipe SocketPipe(Socket socket)
    {
        var stream = new NetworkStream(socket, ownsSocket: false);
        return new StreamDuplexPipe(PipeReader.Create(stream), PipeWriter.Create(stream));
    }

    private sealed class StreamDuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
