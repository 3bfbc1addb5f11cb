using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ssh.Transport.AspNetCore;

/// <summary>
/// A Kestrel connection handler that runs the SSH server handshake on each connection's pipe and hands the
/// connected <see cref="SshTransport"/> to the application.
/// </summary>
public sealed partial class SshConnectionHandler : ConnectionHandler
{
    private readonly SshServerOptions _options;
    private readonly Func<SshTransport, ConnectionContext, Task> _application;
    private readonly ILogger _logger;

    /// <summary>The category of the handler's own log when it creates it from <see cref="SshTransportOptions.LoggerFactory"/>.</summary>
    private const string LoggerCategory = "Ssh.Transport.Hosting";

    /// <summary>Creates a handler.</summary>
    /// <param name="options">Server settings, shared by every connection; the handshake timeout applies per connection.</param>
    /// <param name="application">Runs one connected session; the transport is disposed when it returns.</param>
    /// <param name="logger">
    /// Connection-level log; null for the "Ssh.Transport.Hosting" logger of <see cref="SshTransportOptions.LoggerFactory"/>,
    /// if set, or none.
    /// </param>
    public SshConnectionHandler(SshServerOptions options, Func<SshTransport, ConnectionContext, Task> application, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(application);
        _options = options;
        _application = application;
        _logger = logger ?? options.LoggerFactory?.CreateLogger(LoggerCategory) ?? NullLogger.Instance;
    }

    /// <inheritdoc/>
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        SshTransport transport;
        try
        {
            // No ConnectionClosed token here: a client that hangs up mid-handshake (after refusing our host key, say)
            // ends the handshake through the pipe, with the peer's reason, rather than as a bare cancellation.
            transport = await SshTransport.AcceptAsync(connection.Transport, _options, connection.LocalEndPoint, connection.RemoteEndPoint, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or TimeoutException or IOException or OperationCanceledException)
        {
            // Scanners and clients that drop are routine on a public port: Debug, with the exception for whoever looks.
            LogHandshakeFailed(_logger, connection.RemoteEndPoint?.ToString() ?? "?", e);
            return;
        }

        await using (transport.ConfigureAwait(false))
        {
            try
            {
                await _application(transport, connection).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SshProtocolException or IOException or OperationCanceledException)
            {
                LogConnectionEnded(_logger, connection.RemoteEndPoint?.ToString() ?? "?", e);
            }
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "SSH handshake with {Peer} failed")]
    private static partial void LogHandshakeFailed(ILogger logger, string peer, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "SSH connection with {Peer} ended with an error")]
    private static partial void LogConnectionEnded(ILogger logger, string peer, Exception exception);
}

/// <summary>Wires <see cref="SshConnectionHandler"/> into a Kestrel endpoint.</summary>
public static class SshListenOptionsExtensions
{
    /// <summary>Serves SSH on this endpoint.</summary>
    /// <param name="listenOptions">The Kestrel endpoint.</param>
    /// <param name="options">Server settings.</param>
    /// <param name="application">Runs each connected session.</param>
    /// <param name="logger">Connection-level log; null for the "Ssh.Transport.Hosting" logger of <see cref="SshTransportOptions.LoggerFactory"/>, if set.</param>
    /// <returns>The endpoint, for chaining.</returns>
    public static ListenOptions UseSsh(this ListenOptions listenOptions, SshServerOptions options, Func<SshTransport, ConnectionContext, Task> application, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        var handler = new SshConnectionHandler(options, application, logger);
        listenOptions.Run(handler.OnConnectedAsync);
        return listenOptions;
    }

    /// <summary>
    /// Serves the SSH server registered with <c>services.AddSshServer&lt;THandler&gt;()</c> on this endpoint: its
    /// options, its <see cref="Ssh.Transport.Connection.SshServerHandler"/> per connection, a DISCONNECT to every
    /// connection when the application stops.
    /// </summary>
    /// <param name="listenOptions">The Kestrel endpoint.</param>
    /// <returns>The endpoint, for chaining.</returns>
    /// <exception cref="InvalidOperationException">AddSshServer was not called.</exception>
    public static ListenOptions UseSsh(this ListenOptions listenOptions)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        SshServerConnectionHandler handler = listenOptions.ApplicationServices.GetService<SshServerConnectionHandler>()
            ?? throw new InvalidOperationException("UseSsh() needs the SSH server's services: call services.AddSshServer<THandler>(...) first.");
        listenOptions.Run(handler.OnConnectedAsync);
        return listenOptions;
    }
}
