using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Ssh.Transport;

/// <summary>
/// Connects a TCP socket, wraps it in pipes and runs the client handshake over it.
/// </summary>
public static class SshClientConnector
{
    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/> and runs the client handshake.</summary>
    /// <param name="host">A host name or address.</param>
    /// <param name="port">The TCP port, usually 22.</param>
    /// <param name="options">Client settings; a host key verifier is required.</param>
    /// <param name="connectTimeout">How long the TCP connection may take; the handshake has its own timeout in <paramref name="options"/>.</param>
    /// <param name="cancellationToken">Cancels connecting and the handshake.</param>
    /// <returns>The connected transport; disposing it closes the socket.</returns>
    /// <exception cref="SocketException">The TCP connection failed.</exception>
    /// <exception cref="TimeoutException">The TCP connection or the handshake took too long.</exception>
    /// <exception cref="SshProtocolException">The SSH handshake failed.</exception>
    public static async Task<SshTransport> ConnectAsync(string host, int port, SshClientOptions options, TimeSpan connectTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, IPEndPoint.MinPort);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        ArgumentNullException.ThrowIfNull(options);

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(connectTimeout);
                try
                {
                    await socket.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"Connecting to {host}:{port} took longer than {connectTimeout}.");
                }
            }

            // The server's end as connected (an address, not the host name): server.address in metrics and spans.
            return await SshTransport.ConnectAsync(CreatePipe(socket), options, socket.LocalEndPoint, socket.RemoteEndPoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Wraps a connected socket in a duplex pipe; completing both ends closes the socket.</summary>
    /// <param name="socket">A connected stream socket.</param>
    /// <returns>The pipe.</returns>
    public static IDuplexPipe CreatePipe(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        return new SocketDuplexPipe(socket);
    }
}
