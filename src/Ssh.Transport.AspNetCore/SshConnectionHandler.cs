using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
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

    /// <summary>Creates a handler.</summary>
    /// <param name="options">Server settings, shared by every connection; the handshake timeout applies per connection.</param>
    /// <param name="application">Runs one connected session; the transport is disposed when it returns.</param>
    /// <param name="logger">Connection-level log; null for none.</param>
    public SshConnectionHandler(SshServerOptions options, Func<SshTransport, ConnectionContext, Task> application, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(application);
        _options = options;
        _application = application;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <inheritdoc/>
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        SshTransport transport;
        try
        {
            transport = await SshTransport.AcceptAsync(connection.Transport, _options, connection.ConnectionClosed).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or TimeoutException or IOException or OperationCanceledException)
        {
            LogHandshakeFailed(_logger, connection.RemoteEndPoint?.ToString() ?? "?", e.Message);
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
                LogConnectionEnded(_logger, connection.RemoteEndPoint?.ToString() ?? "?", e.Message);
            }
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "SSH handshake with {Peer} failed: {Error}")]
    private static partial void LogHandshakeFailed(ILogger logger, string peer, string error);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "SSH connection with {Peer} ended: {Error}")]
    private static partial void LogConnectionEnded(ILogger logger, string peer, string error);
}

/// <summary>Wires <see cref="SshConnectionHandler"/> into a Kestrel endpoint.</summary>
public static class SshListenOptionsExtensions
{
    /// <summary>Serves SSH on this endpoint.</summary>
    /// <param name="listenOptions">The Kestrel endpoint.</param>
    /// <param name="options">Server settings.</param>
    /// <param name="application">Runs each connected session.</param>
    /// <param name="logger">Connection-level log; null for none.</param>
    /// <returns>The endpoint, for chaining.</returns>
    public static ListenOptions UseSsh(this ListenOptions listenOptions, SshServerOptions options, Func<SshTransport, ConnectionContext, Task> application, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        var handler = new SshConnectionHandler(options, application, logger);
        listenOptions.Run(handler.OnConnectedAsync);
        return listenOptions;
    }
}
