using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;

namespace Ssh.Transport.Diagnostics;

/// <summary>
/// The library's meter and activity source (both named "Ssh.Transport"), their instruments, and the names and values
/// of their tags. OpenTelemetry semantic-convention names where one exists (network.*, server.*, client.*,
/// error.type), ssh.* for the rest. docs/session.md lists them.
/// </summary>
internal static class SshTelemetry
{
    /// <summary>The name of the meter and of the activity source.</summary>
    public const string Name = "Ssh.Transport";

    // Tag names.
    public const string ProtocolNameTag = "network.protocol.name";
    public const string ServerAddressTag = "server.address";
    public const string ServerPortTag = "server.port";
    public const string ClientAddressTag = "client.address";
    public const string ClientPortTag = "client.port";
    public const string ErrorTypeTag = "error.type";
    public const string IoDirectionTag = "network.io.direction";
    public const string RoleTag = "ssh.role";
    public const string KexTag = "ssh.kex";
    public const string HostKeyTag = "ssh.host_key";
    public const string CipherTag = "ssh.cipher";
    public const string KexNumberTag = "ssh.key_exchange.number";
    public const string KexInitiatorTag = "ssh.key_exchange.initiator";
    public const string DisconnectReasonTag = "ssh.disconnect.reason";
    public const string DisconnectInitiatorTag = "ssh.disconnect.initiator";

    /// <summary>The value of network.protocol.name.</summary>
    public const string ProtocolName = "ssh";

    /// <summary>The value of error.type for what has no better name (an out-of-range reason code from a peer).</summary>
    public const string OtherValue = "_OTHER";

    // Initialized before the meter and the source that use it (textual order).
    private static readonly string? s_version = typeof(SshTelemetry).Assembly.GetName().Version?.ToString(3);

    public static readonly ActivitySource Source = new(Name, s_version);

    public static readonly Meter Meter = new(Name, s_version);

    public static readonly UpDownCounter<long> ActiveConnections = Meter.CreateUpDownCounter<long>(
        "ssh.connections.active", "{connection}", "SSH connections whose handshake completed and that have not ended yet.");

    public static readonly UpDownCounter<long> ActiveHandshakes = Meter.CreateUpDownCounter<long>(
        "ssh.handshakes.active", "{handshake}", "SSH handshakes in progress: from the identification exchange to the first NEWKEYS.");

    public static readonly Histogram<double> HandshakeDuration = Meter.CreateHistogram<double>(
        "ssh.handshake.duration",
        "s",
        "How long SSH handshakes took, from the identification exchange to the first NEWKEYS; error.type is set on failure.",
        tags: null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60] });

    public static readonly Counter<long> KeyExchanges = Meter.CreateCounter<long>(
        "ssh.key_exchanges", "{key_exchange}", "SSH key exchanges completed, the first one of each connection (its handshake) included.");

    public static readonly Counter<long> Disconnects = Meter.CreateCounter<long>(
        "ssh.disconnects", "{disconnect}", "SSH connections ended, by reason and by the side that ended them; failed handshakes included.");

    // Traffic: cumulative totals read when a listener collects (see ObserveTraffic), never counted per packet.
    private static readonly Lock s_trafficLock = new();
    private static readonly HashSet<ConnectionDiagnostics> s_counting = [];
    private static readonly long[] s_endedTraffic = new long[8];
    private static readonly KeyValuePair<string, object?>[][] s_trafficTags =
    [
        Tags(SshRole.Client, "receive"), Tags(SshRole.Client, "transmit"),
        Tags(SshRole.Server, "receive"), Tags(SshRole.Server, "transmit"),
    ];

    public static readonly ObservableCounter<long> IoBytes = Meter.CreateObservableCounter(
        "ssh.io.bytes", () => ObserveTraffic(packets: false), "By", "Bytes of SSH packets read (receive) and written (transmit), length fields and MACs included.");

    public static readonly ObservableCounter<long> IoPackets = Meter.CreateObservableCounter(
        "ssh.io.packets", () => ObserveTraffic(packets: true), "{packet}", "SSH packets read (receive) and written (transmit).");

    public static string RoleName(SshRole role) => role == SshRole.Client ? "client" : "server";

    public static string InitiatorName(SshInitiator initiator) => initiator == SshInitiator.Local ? "local" : "remote";

    /// <summary>RFC 4253 §11.1's name without its SSH_DISCONNECT_ prefix, in lower case; a code from outside the RFC is _OTHER.</summary>
    public static string ReasonName(SshDisconnectReason reason) => reason switch
    {
        SshDisconnectReason.None => "none",
        SshDisconnectReason.HostNotAllowedToConnect => "host_not_allowed_to_connect",
        SshDisconnectReason.ProtocolError => "protocol_error",
        SshDisconnectReason.KeyExchangeFailed => "key_exchange_failed",
        SshDisconnectReason.Reserved => "reserved",
        SshDisconnectReason.MacError => "mac_error",
        SshDisconnectReason.CompressionError => "compression_error",
        SshDisconnectReason.ServiceNotAvailable => "service_not_available",
        SshDisconnectReason.ProtocolVersionNotSupported => "protocol_version_not_supported",
        SshDisconnectReason.HostKeyNotVerifiable => "host_key_not_verifiable",
        SshDisconnectReason.ConnectionLost => "connection_lost",
        SshDisconnectReason.ByApplication => "by_application",
        SshDisconnectReason.TooManyConnections => "too_many_connections",
        SshDisconnectReason.AuthCancelledByUser => "auth_cancelled_by_user",
        SshDisconnectReason.NoMoreAuthMethodsAvailable => "no_more_auth_methods_available",
        SshDisconnectReason.IllegalUserName => "illegal_user_name",
        _ => OtherValue,
    };

    /// <summary>error.type of a failure: the exception's full type name, as OpenTelemetry recommends.</summary>
    public static string ErrorType(Exception error) => error.GetType().FullName ?? OtherValue;

    /// <summary>An endpoint as server.address/client.address and a port (none for an endpoint without one, e.g. a Unix socket).</summary>
    public static (string Address, int? Port) Describe(EndPoint endPoint) => endPoint switch
    {
        IPEndPoint ip => ((ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address).ToString(), ip.Port),
        DnsEndPoint dns => (dns.Host, dns.Port),
        UnixDomainSocketEndPoint unix => (unix.ToString(), null),
        _ => (endPoint.ToString() ?? string.Empty, null),
    };

    /// <summary>An endpoint for people: "192.0.2.1:22", "[2001:db8::1]:22", "example.com:22".</summary>
    public static string Format(EndPoint endPoint) => endPoint switch
    {
        IPEndPoint ip when ip.Address.IsIPv4MappedToIPv6 => new IPEndPoint(ip.Address.MapToIPv4(), ip.Port).ToString(),
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        _ => endPoint.ToString() ?? string.Empty,
    };

    /// <summary>From now on the connection's traffic counts in ssh.io.* (read from its own counters at each collection).</summary>
    public static void StartCounting(ConnectionDiagnostics connection)
    {
        lock (s_trafficLock)
        {
            s_counting.Add(connection);
        }
    }

    /// <summary>
    /// The connection has ended: its traffic so far moves to the totals of ended connections, in the same step as it
    /// leaves the live set, so that no collection sees it twice or not at all. Returns what was moved (nothing if it
    /// was not counting).
    /// </summary>
    public static ConnectionTraffic StopCounting(ConnectionDiagnostics connection)
    {
        lock (s_trafficLock)
        {
            if (!s_counting.Remove(connection))
            {
                return default;
            }

            ConnectionTraffic traffic = connection.ReadTraffic();
            AddEndedUnsynchronized(connection.Role, traffic);
            return traffic;
        }
    }

    /// <summary>Adds traffic of an ended connection that happened after <see cref="StopCounting"/> (a disconnect's drain).</summary>
    public static void AddEnded(SshRole role, ConnectionTraffic traffic)
    {
        lock (s_trafficLock)
        {
            AddEndedUnsynchronized(role, traffic);
        }
    }

    private static void AddEndedUnsynchronized(SshRole role, ConnectionTraffic traffic)
    {
        int at = role == SshRole.Client ? 0 : 4;
        s_endedTraffic[at] += traffic.BytesRead;
        s_endedTraffic[at + 1] += traffic.BytesWritten;
        s_endedTraffic[at + 2] += traffic.PacketsRead;
        s_endedTraffic[at + 3] += traffic.PacketsWritten;
    }

    /// <summary>
    /// The cumulative totals per role and direction: ended connections plus the live ones' counters now. Under the
    /// lock that <see cref="StopCounting"/> takes, so each total only grows.
    /// </summary>
    private static Measurement<long>[] ObserveTraffic(bool packets)
    {
        int offset = packets ? 2 : 0;
        long clientIn, clientOut, serverIn, serverOut;
        lock (s_trafficLock)
        {
            (clientIn, clientOut) = (s_endedTraffic[offset], s_endedTraffic[offset + 1]);
            (serverIn, serverOut) = (s_endedTraffic[4 + offset], s_endedTraffic[4 + offset + 1]);
            foreach (ConnectionDiagnostics connection in s_counting)
            {
                ConnectionTraffic traffic = connection.ReadTraffic();
                long read = packets ? traffic.PacketsRead : traffic.BytesRead;
                long written = packets ? traffic.PacketsWritten : traffic.BytesWritten;
                if (connection.Role == SshRole.Client)
                {
                    (clientIn, clientOut) = (clientIn + read, clientOut + written);
                }
                else
                {
                    (serverIn, serverOut) = (serverIn + read, serverOut + written);
                }
            }
        }

        return
        [
            new(clientIn, s_trafficTags[0]), new(clientOut, s_trafficTags[1]),
            new(serverIn, s_trafficTags[2]), new(serverOut, s_trafficTags[3]),
        ];
    }

    private static KeyValuePair<string, object?>[] Tags(SshRole role, string direction) =>
        [new(RoleTag, RoleName(role)), new(IoDirectionTag, direction)];
}

/// <summary>A connection's traffic counters at one moment.</summary>
internal readonly record struct ConnectionTraffic(long BytesRead, long BytesWritten, long PacketsRead, long PacketsWritten)
{
    /// <summary>What was added since <paramref name="earlier"/>.</summary>
    public ConnectionTraffic Since(ConnectionTraffic earlier) =>
        new(BytesRead - earlier.BytesRead, BytesWritten - earlier.BytesWritten, PacketsRead - earlier.PacketsRead, PacketsWritten - earlier.PacketsWritten);
}
