using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Ssh.Transport.Diagnostics;

/// <summary>
/// What one connection reports about itself: its loggers (a category per component, each entry inside the
/// connection's scope), its measurements and its spans. The transport calls it when its handshake starts and ends
/// and when it is disposed; key exchanges and the end of the connection it learns from the transport's own events.
/// </summary>
/// <remarks>
/// Nothing here runs per packet: traffic is read from the transport's counters when a listener collects
/// (<see cref="SshTelemetry.IoBytes"/>). Telemetry never fails a connection: an exception out of a listener is logged
/// and dropped, so that it can neither break a handshake nor keep the transport's event from the application's
/// handlers behind ours.
/// </remarks>
internal sealed class ConnectionDiagnostics
{
    /// <summary>Lifecycle: handshake outcome, disconnects, peer DEBUG and UNIMPLEMENTED messages, event handler faults.</summary>
    public const string ConnectionCategory = "Ssh.Transport.Connection";

    /// <summary>Key exchanges: start, negotiated algorithms, completion, rekeys that could not start.</summary>
    public const string KeyExchangeCategory = "Ssh.Transport.KeyExchange";

    /// <summary>Framing: identification lines, packet summaries and dumps, keys switched, keepalive, deadlines.</summary>
    public const string PacketizerCategory = "Ssh.Transport.Packetizer";

    private readonly SshTransport _transport;
    private readonly TimeProvider _time;
    private readonly ConnectionLogContext _log;

    // ssh.role, and server.address and server.port when known: the tags every instrument of the connection carries
    // (the same at +1 and -1 of the up-down counters). Spans add network.protocol.name and the client's endpoint.
    private readonly KeyValuePair<string, object?>[] _tags;
    private readonly KeyValuePair<string, object?>[] _spanTags;
    private readonly ActivityKind _handshakeKind;

    private readonly Lock _lock = new();
    private long _handshakeStarted;
    private bool _handshakeRunning;
    private bool _active;
    private bool _closed;
    private Activity? _handshake;
    private ActivityContext _handshakeContext;
    private Activity? _keyExchange;
    private bool _trafficMoved;
    private ConnectionTraffic _trafficReported;

    public ConnectionDiagnostics(SshTransport transport, SshRole role, SshTransportOptions options, EndPoint? localEndPoint, EndPoint? remoteEndPoint)
    {
        _transport = transport;
        Role = role;
        LocalEndPoint = localEndPoint;
        RemoteEndPoint = remoteEndPoint;
        _time = options.Packetizer.TimeProvider;
        _log = new ConnectionLogContext(new ConnectionLogScope(role, remoteEndPoint is null ? null : SshTelemetry.Format(remoteEndPoint)));

        // The factory's loggers, one per component; else the one logger of the packetizer options for all three.
        ILoggerFactory? factory = options.LoggerFactory;
        ILogger? single = options.Packetizer.Logger;
        ConnectionLogger = _log.Wrap(factory is null ? single : factory.CreateLogger(ConnectionCategory));
        KeyExchangeLogger = _log.Wrap(factory is null ? single : factory.CreateLogger(KeyExchangeCategory));
        PacketizerLogger = _log.Wrap(factory is null ? single : factory.CreateLogger(PacketizerCategory));

        // OpenTelemetry: server.* is the server's endpoint from either side; client.* only on the server's spans (a
        // client's address is too many values for a metric).
        EndPoint? server = role == SshRole.Client ? remoteEndPoint : localEndPoint;
        EndPoint? client = role == SshRole.Server ? remoteEndPoint : null;
        var tags = new List<KeyValuePair<string, object?>> { new(SshTelemetry.RoleTag, SshTelemetry.RoleName(role)) };
        AddEndPoint(tags, server, SshTelemetry.ServerAddressTag, SshTelemetry.ServerPortTag);
        _tags = [.. tags];
        tags.Insert(0, new(SshTelemetry.ProtocolNameTag, SshTelemetry.ProtocolName));
        AddEndPoint(tags, client, SshTelemetry.ClientAddressTag, SshTelemetry.ClientPortTag);
        _spanTags = [.. tags];
        _handshakeKind = role == SshRole.Client ? ActivityKind.Client : ActivityKind.Server;

        // Subscribed before anyone else can be: the application gets the transport after the handshake.
        transport.KeyExchangeStarted += OnKeyExchangeStarted;
        transport.KeyExchangeCompleted += OnKeyExchangeCompleted;
        transport.Closed += OnClosed;
    }

    public SshRole Role { get; }

    public EndPoint? LocalEndPoint { get; }

    public EndPoint? RemoteEndPoint { get; }

    public ILogger ConnectionLogger { get; }

    public ILogger KeyExchangeLogger { get; }

    public ILogger PacketizerLogger { get; }

    /// <summary>The transport's counters now; read by the collecting thread too (each a plain 64-bit read).</summary>
    public ConnectionTraffic ReadTraffic() => new(_transport.BytesRead, _transport.BytesWritten, _transport.PacketsRead, _transport.PacketsWritten);

    /// <summary>Before the identification exchange.</summary>
    public void OnHandshakeStarting()
    {
        try
        {
            _handshakeStarted = _time.GetTimestamp();
            lock (_lock)
            {
                _handshakeRunning = true;
                SshTelemetry.ActiveHandshakes.Add(1, _tags);
            }

            SshTelemetry.StartCounting(this);
            _handshake = StartActivity("ssh.handshake", _handshakeKind, root: false, link: default);
            _handshakeContext = _handshake?.Context ?? default;
        }
        catch (Exception e)
        {
            Log.TelemetryFailed(ConnectionLogger, e);
        }
    }

    /// <summary>The first key exchange completed and the handshake returns the transport.</summary>
    public void OnHandshakeCompleted()
    {
        try
        {
            lock (_lock)
            {
                if (!EndHandshakeUnsynchronized())
                {
                    return;
                }

                // A connection that ended in the meantime (its Closed already counted) does not become active.
                if (!_closed)
                {
                    _active = true;
                    SshTelemetry.ActiveConnections.Add(1, _tags);
                }
            }

            SshAlgorithms algorithms = _transport.Algorithms;
            if (SshTelemetry.HandshakeDuration.Enabled)
            {
                var tags = new TagList(_tags)
                {
                    { SshTelemetry.KexTag, algorithms.KeyExchange },
                    { SshTelemetry.HostKeyTag, algorithms.HostKey },
                    { SshTelemetry.CipherTag, algorithms.CipherClientToServer },
                };
                SshTelemetry.HandshakeDuration.Record(_time.GetElapsedTime(_handshakeStarted).TotalSeconds, tags);
            }

            if (_handshake is { } activity)
            {
                SetAlgorithms(activity, algorithms);
                activity.Stop();
            }
        }
        catch (Exception e)
        {
            Log.TelemetryFailed(ConnectionLogger, e);
        }
    }

    /// <summary>The handshake failed with <paramref name="error"/>, which its caller is about to see.</summary>
    public void OnHandshakeFailed(Exception error)
    {
        try
        {
            lock (_lock)
            {
                if (!EndHandshakeUnsynchronized())
                {
                    return;
                }
            }

            TimeSpan elapsed = _time.GetElapsedTime(_handshakeStarted);
            string errorType = SshTelemetry.ErrorType(error);
            string? reason = error is SshProtocolException protocolError ? SshTelemetry.ReasonName(protocolError.Reason) : null;
            if (SshTelemetry.HandshakeDuration.Enabled)
            {
                var tags = new TagList(_tags) { { SshTelemetry.ErrorTypeTag, errorType } };
                if (reason is not null)
                {
                    tags.Add(SshTelemetry.DisconnectReasonTag, reason);
                }

                SshTelemetry.HandshakeDuration.Record(elapsed.TotalSeconds, tags);
            }

            if (_handshake is { } activity)
            {
                SetError(activity, errorType, reason, error.Message, error);
                activity.Stop();
            }

            // Scanners and peers that drop are routine for a server: Debug. ConnectionFailed has already warned about
            // a failure that was not the peer's or the network's doing.
            Log.HandshakeFailed(ConnectionLogger, (long)elapsed.TotalMilliseconds, errorType, error);
        }
        catch (Exception e)
        {
            Log.TelemetryFailed(ConnectionLogger, e);
        }
    }

    /// <summary>The transport was disposed: its traffic is final now (a disconnect's drain reads after Closed).</summary>
    public void OnDisposed()
    {
        try
        {
            lock (_lock)
            {
                MoveTrafficUnsynchronized();
            }
        }
        catch (Exception e)
        {
            Log.TelemetryFailed(ConnectionLogger, e);
        }
    }

    private void OnKeyExchangeStarted(object? sender, SshKeyExchangeEventArgs e)
    {
        if (e.Number == 1)
        {
            // The handshake's span covers it.
            return;
        }

        try
        {
            lock (_lock)
            {
                if (_closed || _keyExchange is not null)
                {
                    return;
                }

                // A root of its own, linked to the handshake: a connection lives for hours, and a trace should not.
                _keyExchange = StartActivity("ssh.key_exchange", ActivityKind.Internal, root: true, _handshakeContext);
                _keyExchange?.SetTag(SshTelemetry.KexNumberTag, e.Number).SetTag(SshTelemetry.KexInitiatorTag, SshTelemetry.InitiatorName(e.InitiatedBy));
            }
        }
        catch (Exception ex)
        {
            Log.TelemetryFailed(ConnectionLogger, ex);
        }
    }

    private void OnKeyExchangeCompleted(object? sender, SshKeyExchangeEventArgs e)
    {
        try
        {
            if (e.Number == 1)
            {
                _log.SetSessionId(_transport.SessionId.Span);
            }

            if (SshTelemetry.KeyExchanges.Enabled)
            {
                var tags = new TagList(_tags)
                {
                    { SshTelemetry.KexInitiatorTag, SshTelemetry.InitiatorName(e.InitiatedBy) },
                    { SshTelemetry.KexTag, e.Algorithms?.KeyExchange },
                };
                SshTelemetry.KeyExchanges.Add(1, tags);
            }

            Activity? activity;
            lock (_lock)
            {
                activity = _keyExchange;
                _keyExchange = null;
            }

            if (activity is not null)
            {
                if (e.Algorithms is { } algorithms)
                {
                    SetAlgorithms(activity, algorithms);
                }

                activity.Stop();
            }
        }
        catch (Exception ex)
        {
            Log.TelemetryFailed(ConnectionLogger, ex);
        }
    }

    private void OnClosed(object? sender, SshConnectionClosedEventArgs e)
    {
        try
        {
            Activity? keyExchange;
            lock (_lock)
            {
                if (_closed)
                {
                    return;
                }

                _closed = true;
                if (_active)
                {
                    _active = false;
                    SshTelemetry.ActiveConnections.Add(-1, _tags);
                }

                keyExchange = _keyExchange;
                _keyExchange = null;
                MoveTrafficUnsynchronized();
            }

            // A handshake that is still running is left to its own end (OnHandshakeCompleted or OnHandshakeFailed,
            // one of which always follows): its caller's outcome is the one to record.
            if (SshTelemetry.Disconnects.Enabled)
            {
                var tags = new TagList(_tags)
                {
                    { SshTelemetry.DisconnectReasonTag, SshTelemetry.ReasonName(e.Reason) },
                    { SshTelemetry.DisconnectInitiatorTag, SshTelemetry.InitiatorName(e.ClosedBy) },
                };
                SshTelemetry.Disconnects.Add(1, tags);
            }

            if (keyExchange is not null)
            {
                string reason = SshTelemetry.ReasonName(e.Reason);
                SetError(keyExchange, e.Error is { } error ? SshTelemetry.ErrorType(error) : reason, reason, e.Description, e.Error);
                keyExchange.Stop();
            }
        }
        catch (Exception ex)
        {
            Log.TelemetryFailed(ConnectionLogger, ex);
        }
    }

    /// <summary>Marks the handshake over; false when it already was.</summary>
    private bool EndHandshakeUnsynchronized()
    {
        if (!_handshakeRunning)
        {
            return false;
        }

        _handshakeRunning = false;
        SshTelemetry.ActiveHandshakes.Add(-1, _tags);
        return true;
    }

    /// <summary>
    /// Moves the connection's traffic to the totals of ended connections: all of it at the first call (Closed), what
    /// came since at the next (disposal).
    /// </summary>
    private void MoveTrafficUnsynchronized()
    {
        if (!_trafficMoved)
        {
            _trafficMoved = true;
            _trafficReported = SshTelemetry.StopCounting(this);
            return;
        }

        ConnectionTraffic now = ReadTraffic();
        ConnectionTraffic rest = now.Since(_trafficReported);
        if (rest != default)
        {
            SshTelemetry.AddEnded(Role, rest);
            _trafficReported = now;
        }
    }

    private Activity? StartActivity(string name, ActivityKind kind, bool root, ActivityContext link)
    {
        if (!SshTelemetry.Source.HasListeners())
        {
            return null;
        }

        // Never left ambient: the receive loop starts during the handshake and would inherit the span as its parent
        // context for as long as the connection lives.
        Activity? current = Activity.Current;
        if (root)
        {
            Activity.Current = null;
        }

        try
        {
            return SshTelemetry.Source.StartActivity(name, kind, parentContext: default, _spanTags, link == default ? null : [new ActivityLink(link)]);
        }
        finally
        {
            Activity.Current = current;
        }
    }

    private static void SetAlgorithms(Activity activity, SshAlgorithms algorithms)
    {
        activity.SetTag(SshTelemetry.KexTag, algorithms.KeyExchange);
        activity.SetTag(SshTelemetry.HostKeyTag, algorithms.HostKey);
        activity.SetTag(SshTelemetry.CipherTag, algorithms.CipherClientToServer);
    }

    private static void SetError(Activity activity, string errorType, string? reason, string description, Exception? error)
    {
        activity.SetTag(SshTelemetry.ErrorTypeTag, errorType);
        if (reason is not null)
        {
            activity.SetTag(SshTelemetry.DisconnectReasonTag, reason);
        }

        activity.SetStatus(ActivityStatusCode.Error, description);
        if (error is not null)
        {
            activity.AddException(error);
        }
    }

    private static void AddEndPoint(List<KeyValuePair<string, object?>> tags, EndPoint? endPoint, string addressTag, string portTag)
    {
        if (endPoint is null)
        {
            return;
        }

        (string address, int? port) = SshTelemetry.Describe(endPoint);
        tags.Add(new(addressTag, address));
        if (port is int value)
        {
            tags.Add(new(portTag, value));
        }
    }
}
