using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.Logging;
using Ssh.Transport.Diagnostics;

namespace Ssh.Transport;

/// <summary>
/// The connection's endpoints, and what the transport reports about itself: loggers per component inside a
/// per-connection scope, metrics and spans (see <see cref="ConnectionDiagnostics"/> and docs/session.md).
/// </summary>
public sealed partial class SshTransport
{
    private readonly ConnectionDiagnostics _diagnostics;

    /// <summary>
    /// Runs the client side of the handshake over <paramref name="transport"/>, as
    /// <see cref="ConnectAsync(IDuplexPipe, SshClientOptions, CancellationToken)"/>, for a connection whose endpoints
    /// are known: they name the connection in its log scope, metrics and spans.
    /// </summary>
    /// <param name="transport">The connection, e.g. from <see cref="SshClientConnector"/> or a Kestrel client.</param>
    /// <param name="options">Client settings; <see cref="SshClientOptions.HostKeyVerifier"/> is required.</param>
    /// <param name="localEndPoint">Our end of the connection, or null.</param>
    /// <param name="remoteEndPoint">The server's end of the connection (server.address and server.port), or null.</param>
    /// <param name="cancellationToken">Cancels the handshake.</param>
    /// <returns>The connected transport.</returns>
    /// <exception cref="ArgumentException"><paramref name="options"/> are not valid (see <see cref="SshTransportOptions.Validate"/>).</exception>
    /// <exception cref="SshAlgorithmNegotiationException">No algorithm in common for some category.</exception>
    /// <exception cref="SshHostKeyRejectedException">The verifier did not accept the server's host key.</exception>
    /// <exception cref="SshTimeoutException">The handshake took longer than <see cref="SshTransportOptions.HandshakeTimeout"/>.</exception>
    /// <exception cref="SshProtocolException">The peer broke the protocol or disconnected.</exception>
    public static async Task<SshTransport> ConnectAsync(IDuplexPipe transport, SshClientOptions options, EndPoint? localEndPoint, EndPoint? remoteEndPoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);

        // Validated once, then an immutable copy per connection: later changes to the caller's object (a server
        // shares one among all its connections) have no effect on this one, not even at a rekey.
        options = options.Snapshot();
        options.ValidateArgument(nameof(options));
        var session = new SshTransport(transport, SshRole.Client, options, localEndPoint, remoteEndPoint);
        await session.HandshakeAsync(cancellationToken).ConfigureAwait(false);
        return session;
    }

    /// <summary>
    /// Runs the server side of the handshake over <paramref name="transport"/>, as
    /// <see cref="AcceptAsync(IDuplexPipe, SshServerOptions, CancellationToken)"/>, for a connection whose endpoints
    /// are known (a Kestrel connection's LocalEndPoint and RemoteEndPoint): they name the connection in its log scope,
    /// metrics and spans.
    /// </summary>
    /// <param name="transport">The accepted connection.</param>
    /// <param name="options">Server settings; at least one host key is required.</param>
    /// <param name="localEndPoint">Our end of the connection (server.address and server.port), or null.</param>
    /// <param name="remoteEndPoint">The client's end of the connection, or null.</param>
    /// <param name="cancellationToken">Cancels the handshake.</param>
    /// <returns>The connected transport; service requests are answered by its receive loop.</returns>
    /// <exception cref="ArgumentException"><paramref name="options"/> are not valid (see <see cref="SshTransportOptions.Validate"/>).</exception>
    /// <exception cref="SshAlgorithmNegotiationException">No algorithm in common for some category.</exception>
    /// <exception cref="SshTimeoutException">The handshake took longer than <see cref="SshTransportOptions.HandshakeTimeout"/>.</exception>
    /// <exception cref="SshProtocolException">The peer broke the protocol or disconnected.</exception>
    public static async Task<SshTransport> AcceptAsync(IDuplexPipe transport, SshServerOptions options, EndPoint? localEndPoint, EndPoint? remoteEndPoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);
        options = options.Snapshot();
        options.ValidateArgument(nameof(options));
        var session = new SshTransport(transport, SshRole.Server, options, localEndPoint, remoteEndPoint);
        await session.HandshakeAsync(cancellationToken).ConfigureAwait(false);
        return session;
    }

    /// <summary>Our end of the connection, when the code that opened it said (null otherwise).</summary>
    public EndPoint? LocalEndPoint => _diagnostics.LocalEndPoint;

    /// <summary>The peer's end of the connection, when the code that opened it said (null otherwise).</summary>
    public EndPoint? RemoteEndPoint => _diagnostics.RemoteEndPoint;

    /// <summary>The "Ssh.Transport.KeyExchange" logger.</summary>
    private ILogger KexLogger => _diagnostics.KeyExchangeLogger;
}
