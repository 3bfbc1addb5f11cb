using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>
/// Reads a peer's first KEXINIT in the clear: for a peer that cannot list its algorithms (Dropbear), the KEXINIT it
/// sends is the list (its algorithms are fixed when it is built).
/// </summary>
internal static class KexInitProbe
{
    /// <summary>Connects to a server and returns its KEXINIT.</summary>
    public static KexInitMessage ProbeServer(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
        socket.Connect(IPAddress.Loopback, port);
        return Exchange(socket);
    }

    /// <summary>Listens, lets <paramref name="startClient"/> connect a client to the port it is given, and returns the client's KEXINIT.</summary>
    public static KexInitMessage ProbeClient(Func<int, IAsyncDisposable> startClient)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            IAsyncDisposable client = startClient(((IPEndPoint)listener.LocalEndpoint).Port);
            try
            {
                Task<Socket> accepting = listener.AcceptSocketAsync();
                if (!accepting.Wait(TimeSpan.FromSeconds(10)))
                {
                    throw new TimeoutException("The client did not connect to the probe.");
                }

                using Socket socket = accepting.Result;
                socket.ReceiveTimeout = 10_000;
                return Exchange(socket);
            }
            finally
            {
                client.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        finally
        {
            listener.Stop();
        }
    }

    private static KexInitMessage Exchange(Socket socket)
    {
        socket.Send("SSH-2.0-InteropProbe\r\n"u8);
        using var stream = new NetworkStream(socket, ownsSocket: false);

        // Lines until the identification line (a server may send others first).
        while (!ReadLine(stream).StartsWith("SSH-", StringComparison.Ordinal))
        {
        }

        Span<byte> length = stackalloc byte[4];
        stream.ReadExactly(length);
        byte[] packet = new byte[BinaryPrimitives.ReadUInt32BigEndian(length)];
        stream.ReadExactly(packet);
        byte padding = packet[0];
        return KexInitMessage.Parse(packet.AsSpan(1, packet.Length - 1 - padding), 65536);
    }

    private static string ReadLine(Stream stream)
    {
        var line = new StringBuilder();
        int b;
        while ((b = stream.ReadByte()) is not (-1 or '\n'))
        {
            line.Append((char)b);
        }

        return line.ToString().TrimEnd('\r');
    }
}
