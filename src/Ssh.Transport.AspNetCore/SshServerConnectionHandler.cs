using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Ssh.Transport.Connection;

namespace Ssh.Transport.AspNetCore;

/// <summary>
/// The Kestrel connection handler behind <see cref="SshListenOptionsExtensions.UseSsh(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions)"/>:
/// per connection, the server handshake, then <see cref="SshServer.RunAsync"/> with a <see cref="SshServerHandler"/>
/// resolved from a DI scope of its own. When the application stops, every connection gets a DISCONNECT.
/// </summary>
internal sealed partial class SshServerConnectionHandler : ConnectionHandler
{
    private const string LoggerCategory = "Ssh.Transport.Hosting";

    private readonly IOptionsMonitor<SshServerHostOptions> _options;
    private readonly IServiceScopeFactory _scopes;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;

    public SshServerConnectionHandler(IOptionsMonitor<SshServerHostOptions> options, IServiceScopeFactory scopes, IHostApplicationLifetime lifetime, ILoggerFactory loggerFactory)
    {
        _options = options;
        _scopes = scopes;
        _lifetime = lifetime;
        _logger = loggerFactory.CreateLogger(LoggerCategory);
    }

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        // Read per connection: a reloaded configuration applies to the next connection, never to a running one.
        SshServerHostOptions options = _options.CurrentValue;
        CancellationToken stopping = _lifetime.ApplicationStopping;
        string peer = connection.RemoteEndPoint?.ToString() ?? "?";
        if (stopping.IsCancellationRequested)
        {
            return; // shutting down: no new sessions (Kestrel closes the socket)
        }

        SshTransport transport;
        try
        {
            // The handshake ends on its own deadline (SshTransportOptions.HandshakeTimeout) or at shutdown.
            transport = await SshTransport.AcceptAsync(connection.Transport, options.Transport, connection.LocalEndPoint, connection.RemoteEndPoint, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or TimeoutException or IOException or OperationCanceledException)
        {
            LogHandshakeFailed(_logger, peer, e);
            return;
        }

        await using (transport.ConfigureAwait(false))
        {
            AsyncServiceScope scope = _scopes.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                SshServerHandler handler = scope.ServiceProvider.GetRequiredService<SshServerHandler>();
                try
                {
                    await SshServer.RunAsync(transport, handler, options.Server, connection.RemoteEndPoint, stopping).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SshProtocolException or IOException or OperationCanceledException)
                {
                    LogConnectionEnded(_logger, peer, e);
                }
            }
        }
    }

    [LoggerMessage(EventId = 11, Level = LogLevel.Debug, Message = "SSH handshake with {Peer} failed")]
    private static partial void LogHandshakeFailed(ILogger logger, string peer, Exception exception);

    [LoggerMessage(EventId = 12, Level = LogLevel.Debug, Message = "SSH connection with {Peer} ended with an error")]
    private static partial void LogConnectionEnded(ILogger logger, string peer, Exception exception);
}
