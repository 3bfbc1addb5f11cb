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
/// resolved from a DI scope of its own. When the application stops, every connection gets a DISCONNECT. Every
/// connection passes the <see cref="SshServerAdmission"/> first (a refused one is closed before the SSH banner) and has
/// <see cref="SshServerSettings.LoginGraceTime"/> from accept to authenticate.
/// </summary>
internal sealed partial class SshServerConnectionHandler : ConnectionHandler
{
    private const string LoggerCategory = "Ssh.Transport.Hosting";

    private readonly IOptionsMonitor<SshServerHostOptions> _options;
    private readonly IServiceScopeFactory _scopes;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly Lazy<SshServerAdmission> _admission;

    public SshServerConnectionHandler(IOptionsMonitor<SshServerHostOptions> options, IServiceScopeFactory scopes, IHostApplicationLifetime lifetime, ILoggerFactory loggerFactory, IServiceProvider services)
    {
        _options = options;

        // Resolved at the first connection: the options behind it are validated when the host starts, not when Kestrel
        // is configured (UseSsh() creates this handler then).
        _admission = new(() =>
        {
            SshServerAdmission admission = services.GetRequiredService<SshServerAdmission>();
            admission.Refused += OnRefused;
            return admission;
        });
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

        // Before anything is sent: a refused connection is closed (Kestrel closes it when this returns), as sshd does.
        using SshAdmissionTicket? ticket = _admission.Value.TryAdmit(connection.RemoteEndPoint, options.Server.LoginGraceTime);
        if (ticket is null)
        {
            return;
        }

        SshTransport transport;
        try
        {
            // The handshake ends on its own deadline (SshTransportOptions.HandshakeTimeout), at the login grace time
            // (counted from accept, as sshd's LoginGraceTime), or at shutdown.
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(stopping, ticket.LoginGraceExpired);
            transport = await SshTransport.AcceptAsync(connection.Transport, options.Transport, connection.LocalEndPoint, connection.RemoteEndPoint, handshake.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or TimeoutException or IOException or OperationCanceledException)
        {
            if (ticket.LoginGraceExpired.IsCancellationRequested && !stopping.IsCancellationRequested)
            {
                ticket.MarkLoginGraceExceeded();
                LogLoginGraceExceeded(_logger, peer, options.Server.LoginGraceTime.TotalSeconds);
                return;
            }

            LogHandshakeFailed(_logger, peer, e);
            return;
        }
        catch
        {
            ticket.MarkFault();
            throw;
        }

        await using (transport.ConfigureAwait(false))
        {
            AsyncServiceScope scope = _scopes.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                SshServerHandler handler = scope.ServiceProvider.GetRequiredService<SshServerHandler>();
                try
                {
                    await SshServer.RunAdmittedAsync(transport, handler, options.Server, ticket, connection.RemoteEndPoint, stopping).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SshProtocolException or IOException or OperationCanceledException)
                {
                    LogConnectionEnded(_logger, peer, e);
                }
                catch
                {
                    ticket.MarkFault();
                    throw;
                }
            }
        }
    }

    /// <summary>Logs each refusal of the admission controller (sshd logs "drop connection #N from ...").</summary>
    internal void OnRefused(object? sender, SshAdmissionRefusedEventArgs e) =>
        LogRefused(_logger, e.RemoteEndPoint?.ToString() ?? "?", e.Reason, e.Description);

    [LoggerMessage(EventId = 11, Level = LogLevel.Debug, Message = "SSH handshake with {Peer} failed")]
    private static partial void LogHandshakeFailed(ILogger logger, string peer, Exception exception);

    [LoggerMessage(EventId = 12, Level = LogLevel.Debug, Message = "SSH connection with {Peer} ended with an error")]
    private static partial void LogConnectionEnded(ILogger logger, string peer, Exception exception);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "SSH connection from {Peer} refused: {Reason}, {Description}")]
    private static partial void LogRefused(ILogger logger, string peer, SshAdmissionRefusal reason, string description);

    [LoggerMessage(EventId = 14, Level = LogLevel.Information, Message = "SSH client {Peer} did not authenticate within the login grace time ({Seconds} s)")]
    private static partial void LogLoginGraceExceeded(ILogger logger, string peer, double seconds);
}
