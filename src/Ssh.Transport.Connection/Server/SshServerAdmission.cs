using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Ssh.Transport.Connection;

/// <summary>Why <see cref="SshServerAdmission"/> refused a connection.</summary>
public enum SshAdmissionRefusal
{
    /// <summary>Too many unauthenticated connections: MaxStartups' random early drop.</summary>
    MaxStartups,

    /// <summary>The source is penalised (PerSourcePenalties).</summary>
    Penalty,

    /// <summary>The penalty table of the source's address family is full and its overflow mode is deny-all.</summary>
    PenaltyTableFull,

    /// <summary>As many connections as <see cref="SshServerAdmissionOptions.MaxConnections"/> are open.</summary>
    MaxConnections,
}

/// <summary>A connection <see cref="SshServerAdmission"/> refused.</summary>
public sealed class SshAdmissionRefusedEventArgs : EventArgs
{
    internal SshAdmissionRefusedEventArgs(EndPoint? remoteEndPoint, SshAdmissionRefusal reason, string description)
    {
        RemoteEndPoint = remoteEndPoint;
        Reason = reason;
        Description = description;
    }

    /// <summary>The client's end point, if known.</summary>
    public EndPoint? RemoteEndPoint { get; }

    /// <summary>Which limit refused it.</summary>
    public SshAdmissionRefusal Reason { get; }

    /// <summary>Why, in words (for a penalty: what earned it).</summary>
    public string Description { get; }
}

/// <summary>
/// The gate in front of a server's connections, shared by all of them: it refuses a new connection, before the SSH
/// identification line is sent, when too many are unauthenticated (sshd's MaxStartups random early drop), when its
/// source is penalised for earlier connections that failed (sshd's PerSourcePenalties), or when too many are open.
/// Each admitted connection holds an <see cref="SshAdmissionTicket"/> that says how it ended.
/// </summary>
/// <remarks>
/// <para>
/// Thread-safe. Hosts: <c>SshServerHostOptions.Admission</c> (Kestrel, Ssh.Transport.AspNetCore) and the
/// <c>serve</c> tool's options. A refused connection is closed at once, as sshd closes it.
/// </para>
/// <para>
/// Metrics (meter "Ssh.Transport.Server.Admission"): <c>ssh.server.admission.admitted</c>,
/// <c>ssh.server.admission.refused</c> (tag <c>ssh.refusal</c>: max_startups, penalty, penalty_table_full,
/// max_connections), <c>ssh.server.admission.penalties</c> (tag <c>ssh.penalty</c>: crash, authfail, noauth,
/// grace_exceeded), and the up-down counters <c>ssh.server.admission.connections</c> and
/// <c>ssh.server.admission.unauthenticated</c>.
/// </para>
/// </remarks>
public sealed class SshServerAdmission
{
    /// <summary>The name of the meter of the admission metrics.</summary>
    public const string MeterName = "Ssh.Transport.Server.Admission";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Counter<long> s_admitted = s_meter.CreateCounter<long>("ssh.server.admission.admitted", "{connection}", "Connections admitted.");
    private static readonly Counter<long> s_refused = s_meter.CreateCounter<long>("ssh.server.admission.refused", "{connection}", "Connections refused before the SSH banner.");
    private static readonly Counter<long> s_penalties = s_meter.CreateCounter<long>("ssh.server.admission.penalties", "{penalty}", "Penalties given to sources.");
    private static readonly UpDownCounter<long> s_connections = s_meter.CreateUpDownCounter<long>("ssh.server.admission.connections", "{connection}", "Connections admitted and open.");
    private static readonly UpDownCounter<long> s_unauthenticated = s_meter.CreateUpDownCounter<long>("ssh.server.admission.unauthenticated", "{connection}", "Admitted connections not yet authenticated.");

    private readonly Lock _lock = new();
    private readonly SshServerAdmissionOptions _options;
    private readonly TimeProvider _time;
    private readonly Random? _random;
    private readonly long _origin;
    private readonly IPNetwork[] _exempt;
    private readonly PenaltyTable _ipv4;
    private readonly PenaltyTable _ipv6;
    private int _connections;
    private int _unauthenticated;

    /// <summary>Creates an admission controller with these limits.</summary>
    /// <param name="options">The limits; read now (later changes have no effect); null for OpenSSH's defaults.</param>
    /// <exception cref="ArgumentException"><paramref name="options"/> are not valid.</exception>
    public SshServerAdmission(SshServerAdmissionOptions? options = null)
    {
        options ??= new SshServerAdmissionOptions();
        options.Validate();
        _options = new SshServerAdmissionOptions
        {
            MaxStartupsBegin = options.MaxStartupsBegin,
            MaxStartupsRate = options.MaxStartupsRate,
            MaxStartups = options.MaxStartups,
            MaxConnections = options.MaxConnections,
            PerSourcePenalties = options.PerSourcePenalties,
            PenaltyCrash = options.PenaltyCrash,
            PenaltyAuthFail = options.PenaltyAuthFail,
            PenaltyNoAuth = options.PenaltyNoAuth,
            PenaltyGraceExceeded = options.PenaltyGraceExceeded,
            PenaltyMax = options.PenaltyMax,
            PenaltyMin = options.PenaltyMin,
            SourcePrefixLengthIPv4 = options.SourcePrefixLengthIPv4,
            SourcePrefixLengthIPv6 = options.SourcePrefixLengthIPv6,
        };
        _time = options.TimeProvider;
        _random = options.Random;
        _origin = _time.GetTimestamp();
        _exempt = [.. options.PenaltyExemptNetworks.Select(n => SshServerAdmissionOptions.TryParseNetwork(n, out IPNetwork network) ? network : default)];
        _ipv4 = new PenaltyTable(options.PenaltyMaxSourcesIPv4, options.PenaltyOverflowMode);
        _ipv6 = new PenaltyTable(options.PenaltyMaxSourcesIPv6, options.PenaltyOverflowModeIPv6 ?? options.PenaltyOverflowMode);
    }

    /// <summary>A connection was refused (raised on the accepting thread, outside the controller's lock).</summary>
    public event EventHandler<SshAdmissionRefusedEventArgs>? Refused;

    /// <summary>Admitted connections open now.</summary>
    public int ConnectionCount => Volatile.Read(ref _connections);

    /// <summary>Admitted connections open now and not yet authenticated (sshd's "startups").</summary>
    public int UnauthenticatedCount => Volatile.Read(ref _unauthenticated);

    /// <summary>Sources in the penalty table (penalised, or remembered below <see cref="SshServerAdmissionOptions.PenaltyMin"/>), expired ones dropped.</summary>
    public int PenalizedSourceCount
    {
        get
        {
            lock (_lock)
            {
                long now = Now();
                _ipv4.Expire(now);
                _ipv6.Expire(now);
                return _ipv4.Count + _ipv6.Count;
            }
        }
    }

    /// <summary>
    /// Decides on a new connection, before anything is sent to it: its source's penalty, then the connection cap, then
    /// MaxStartups' random early drop. Close a refused connection at once.
    /// </summary>
    /// <param name="remoteEndPoint">The client's end point; penalties apply to IP end points only.</param>
    /// <param name="loginGraceTime">
    /// The time from now that the connection has to authenticate (sshd's LoginGraceTime;
    /// <see cref="SshServerSettings.LoginGraceTime"/>): the ticket's <see cref="SshAdmissionTicket.LoginGraceExpired"/> fires then.
    /// </param>
    /// <returns>The connection's ticket, to dispose when it ends; null when it is refused (<see cref="Refused"/> was raised).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="loginGraceTime"/> is not positive.</exception>
    public SshAdmissionTicket? TryAdmit(EndPoint? remoteEndPoint, TimeSpan loginGraceTime)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(loginGraceTime, TimeSpan.Zero);
        SourceKey? source = SourceOf(remoteEndPoint);
        SshAdmissionRefusal refusal;
        string description;
        lock (_lock)
        {
            int startups = _unauthenticated;
            if (source is { } key && CheckPenalty(key) is { } penalty)
            {
                (refusal, description) = penalty;
            }
            else if (_options.MaxConnections > 0 && _connections >= _options.MaxConnections)
            {
                (refusal, description) = (SshAdmissionRefusal.MaxConnections, $"{_connections} connections open (MaxConnections {_options.MaxConnections})");
            }
            else if (ShouldDrop(startups))
            {
                (refusal, description) = (SshAdmissionRefusal.MaxStartups,
                    $"{startups} unauthenticated connections (MaxStartups {_options.MaxStartupsBegin}:{_options.MaxStartupsRate}:{_options.MaxStartups})");
            }
            else
            {
                _connections++;
                _unauthenticated++;
                s_admitted.Add(1);
                s_connections.Add(1);
                s_unauthenticated.Add(1);
                return new SshAdmissionTicket(this, source, remoteEndPoint, loginGraceTime, _time);
            }
        }

        s_refused.Add(1, new KeyValuePair<string, object?>("ssh.refusal", RefusalTag(refusal)));
        Refused?.Invoke(this, new SshAdmissionRefusedEventArgs(remoteEndPoint, refusal, description));
        return null;
    }

    /// <summary>
    /// MaxStartups (sshd_config(5)): below begin nothing is dropped; from begin the drop probability is rate percent,
    /// rising linearly to 100 percent at full, from which every connection is dropped.
    /// </summary>
    /// <param name="startups">Unauthenticated connections open, the new one not counted.</param>
    internal bool ShouldDrop(int startups)
    {
        int percent = DropPercent(startups, _options.MaxStartupsBegin, _options.MaxStartupsRate, _options.MaxStartups);
        return percent >= 100 || (percent > 0 && Draw() < percent);
    }

    /// <summary>0 to 99: unpredictable by default (sshd draws with arc4random), from the options' generator in tests.</summary>
#pragma warning disable CA5394 // An injected generator is for tests; the default is RandomNumberGenerator.
    private int Draw() => _random is null ? RandomNumberGenerator.GetInt32(100) : _random.Next(100);
#pragma warning restore CA5394

    /// <summary>The drop probability in whole percent (integer arithmetic, as sshd rounds it) for <paramref name="startups"/>.</summary>
    internal static int DropPercent(int startups, int begin, int rate, int full)
    {
        if (startups < begin)
        {
            return 0;
        }

        if (startups >= full)
        {
            return 100;
        }

        // full > startups >= begin here, so full > begin.
        return rate + ((100 - rate) * (startups - begin) / (full - begin));
    }

    /// <summary>The ticket ended: counts released and its penalty, if any, given to its source.</summary>
    internal void Release(SshAdmissionTicket ticket, bool wasAuthenticated, PenaltyKind penalty)
    {
        lock (_lock)
        {
            _connections--;
            s_connections.Add(-1);
            if (!wasAuthenticated)
            {
                _unauthenticated--;
                s_unauthenticated.Add(-1);
            }

            if (penalty != PenaltyKind.None && ticket.Source is { } source)
            {
                Penalise(source, penalty);
            }
        }
    }

    /// <summary>The ticket authenticated: it no longer counts toward MaxStartups.</summary>
    internal void OnAuthenticated()
    {
        lock (_lock)
        {
            _unauthenticated--;
            s_unauthenticated.Add(-1);
        }
    }

    /// <summary>Gives a penalty as a connection of <paramref name="address"/> ending that way would (for tests and hosts' own failures).</summary>
    internal void Penalise(IPAddress address, PenaltyKind kind)
    {
        if (SourceOf(new IPEndPoint(address, 0)) is { } source)
        {
            lock (_lock)
            {
                Penalise(source, kind);
            }
        }
    }

    private void Penalise(SourceKey source, PenaltyKind kind)
    {
        (TimeSpan amount, string reason) = kind switch
        {
            PenaltyKind.Crash => (_options.PenaltyCrash, "penalty: caused a server failure"),
            PenaltyKind.AuthFail => (_options.PenaltyAuthFail, "penalty: failed authentication"),
            PenaltyKind.NoAuth => (_options.PenaltyNoAuth, "penalty: connections without authenticating"),
            PenaltyKind.GraceExceeded => (_options.PenaltyGraceExceeded, "penalty: exceeded LoginGraceTime"),
            _ => (TimeSpan.Zero, ""),
        };
        if (!_options.PerSourcePenalties || amount <= TimeSpan.Zero || IsExempt(source))
        {
            return;
        }

        long now = Now();
        PenaltyTable table = source.IsIPv6 ? _ipv6 : _ipv4;
        table.Expire(now);
        if (table.Add(source, now, amount.Ticks, _options.PenaltyMin.Ticks, _options.PenaltyMax.Ticks, reason))
        {
            s_penalties.Add(1, new KeyValuePair<string, object?>("ssh.penalty", PenaltyTag(kind)));
        }
    }

    private (SshAdmissionRefusal, string)? CheckPenalty(SourceKey source)
    {
        if (!_options.PerSourcePenalties || IsExempt(source))
        {
            return null;
        }

        long now = Now();
        PenaltyTable table = source.IsIPv6 ? _ipv6 : _ipv4;
        table.Expire(now);
        if (table.IsFull && table.Overflow == SshPenaltyOverflowMode.DenyAll)
        {
            return (SshAdmissionRefusal.PenaltyTableFull, "too many penalised addresses");
        }

        return table.TryGetActive(source, now, out string? reason, out TimeSpan left)
            ? (SshAdmissionRefusal.Penalty, $"{reason} ({left.TotalSeconds:0.###} s left)")
            : null;
    }

    private bool IsExempt(SourceKey source)
    {
        if (_exempt.Length == 0)
        {
            return false;
        }

        IPAddress address = source.Original;
        foreach (IPNetwork network in _exempt)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    private long Now() => _time.GetElapsedTime(_origin).Ticks;

    /// <summary>The source of an end point, masked to its family's prefix length; IPv4-mapped IPv6 counts as IPv4.</summary>
    private SourceKey? SourceOf(EndPoint? endPoint)
    {
        if (endPoint is not IPEndPoint { Address: { } address })
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(bytes, out _);
            uint value = BinaryPrimitives.ReadUInt32BigEndian(bytes);
            int bits = _options.SourcePrefixLengthIPv4;
            uint mask = bits == 0 ? 0 : uint.MaxValue << (32 - bits);
            return new SourceKey(value & mask, IsIPv6: false, address);
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            address.TryWriteBytes(bytes, out _);
            UInt128 value = BinaryPrimitives.ReadUInt128BigEndian(bytes);
            int bits = _options.SourcePrefixLengthIPv6;
            UInt128 mask = bits == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - bits);
            return new SourceKey(value & mask, IsIPv6: true, address);
        }

        return null;
    }

    private static string RefusalTag(SshAdmissionRefusal refusal) => refusal switch
    {
        SshAdmissionRefusal.MaxStartups => "max_startups",
        SshAdmissionRefusal.Penalty => "penalty",
        SshAdmissionRefusal.PenaltyTableFull => "penalty_table_full",
        _ => "max_connections",
    };

    private static string PenaltyTag(PenaltyKind kind) => kind switch
    {
        PenaltyKind.Crash => "crash",
        PenaltyKind.AuthFail => "authfail",
        PenaltyKind.NoAuth => "noauth",
        _ => "grace_exceeded",
    };

    /// <summary>How an unauthenticated connection ended, as sshd's listener classifies its pre-authentication child's exit.</summary>
    internal enum PenaltyKind
    {
        None,
        Crash,
        AuthFail,
        NoAuth,
        GraceExceeded,
    }

    /// <summary>A masked source address: the key of the penalty table (the original address for the exempt list).</summary>
    internal readonly record struct SourceKey(UInt128 Value, bool IsIPv6, IPAddress Original)
    {
        public bool Equals(SourceKey other) => Value == other.Value && IsIPv6 == other.IsIPv6;

        public override int GetHashCode() => HashCode.Combine(Value, IsIPv6);

        public static int Compare(SourceKey a, SourceKey b) => a.IsIPv6 != b.IsIPv6 ? a.IsIPv6.CompareTo(b.IsIPv6) : a.Value.CompareTo(b.Value);
    }

    /// <summary>
    /// One address family's penalties: by source, and ordered by expiry so that expired ones and, on overflow, those
    /// expiring soonest go first. Accessed under the controller's lock.
    /// </summary>
    private sealed class PenaltyTable(int maxSources, SshPenaltyOverflowMode overflow)
    {
        private readonly Dictionary<SourceKey, Entry> _bySource = [];
        private readonly SortedSet<Entry> _byExpiry = new(Comparer<Entry>.Create(static (a, b) =>
            a.Expiry != b.Expiry ? a.Expiry.CompareTo(b.Expiry) : SourceKey.Compare(a.Source, b.Source)));

        public int Count => _bySource.Count;

        public bool IsFull => _bySource.Count >= maxSources;

        public SshPenaltyOverflowMode Overflow => overflow;

        public void Expire(long now)
        {
            while (_byExpiry.Min is { } first && first.Expiry < now)
            {
                _byExpiry.Remove(first);
                _bySource.Remove(first.Source);
            }
        }

        public bool TryGetActive(SourceKey source, long now, out string? reason, out TimeSpan left)
        {
            if (_bySource.TryGetValue(source, out Entry? entry) && entry.Active && entry.Expiry >= now)
            {
                reason = entry.Reason;
                left = TimeSpan.FromTicks(entry.Expiry - now);
                return true;
            }

            reason = null;
            left = default;
            return false;
        }

        /// <summary>
        /// A new source gets the penalty (active when above the minimum); a known one accrues it, up to the maximum from
        /// now, and becomes active once above the minimum. Returns false when a full deny-all table keeps it out.
        /// </summary>
        public bool Add(SourceKey source, long now, long amount, long min, long max, string reason)
        {
            if (_bySource.TryGetValue(source, out Entry? entry))
            {
                _byExpiry.Remove(entry);
                entry.Expiry = Math.Min(entry.Expiry + amount, now + max);
                entry.Active |= entry.Expiry - now > min;
                entry.Reason = reason;
                _byExpiry.Add(entry);
                return true;
            }

            if (IsFull && overflow == SshPenaltyOverflowMode.DenyAll)
            {
                return false;
            }

            entry = new Entry(source) { Expiry = now + Math.Min(amount, max), Active = Math.Min(amount, max) > min, Reason = reason };
            _bySource.Add(source, entry);
            _byExpiry.Add(entry);
            while (_bySource.Count > maxSources && _byExpiry.Min is { } soonest)
            {
                // Permissive overflow: forget the penalties that would expire first.
                _byExpiry.Remove(soonest);
                _bySource.Remove(soonest.Source);
            }

            return true;
        }

        private sealed class Entry(SourceKey source)
        {
            public SourceKey Source { get; } = source;

            public long Expiry { get; set; }

            public bool Active { get; set; }

            public string Reason { get; set; } = "";
        }
    }
}

/// <summary>
/// An admitted connection's place in its <see cref="SshServerAdmission"/>: it counts as unauthenticated until
/// <see cref="MarkAuthenticated"/>, and when disposed, a connection that did not authenticate earns its source a
/// penalty by how it ended (sshd's classification: grace-exceeded, authfail, noauth; crash for a server fault).
/// </summary>
/// <remarks>
/// <see cref="SshServer.RunAdmittedAsync(SshTransport, SshServerHandler, SshServerSettings, SshAdmissionTicket, EndPoint?, CancellationToken)"/>
/// marks authentication, failed attempts and an authentication timeout itself; the host marks what happens before
/// (a grace time that ran out during the handshake, a fault).
/// </remarks>
public sealed class SshAdmissionTicket : IDisposable
{
    private readonly SshServerAdmission _owner;
    private readonly CancellationTokenSource _grace;
    private readonly TimeProvider _time;
    private readonly long _admittedAt;
    private readonly TimeSpan _loginGraceTime;
    private int _state; // 0 unauthenticated, 1 authenticated, 2 disposed
    private bool _authFailed;
    private bool _graceExceeded;
    private bool _fault;

    internal SshAdmissionTicket(SshServerAdmission owner, SshServerAdmission.SourceKey? source, EndPoint? remoteEndPoint, TimeSpan loginGraceTime, TimeProvider time)
    {
        _owner = owner;
        Source = source;
        RemoteEndPoint = remoteEndPoint;
        _time = time;
        _admittedAt = time.GetTimestamp();
        _loginGraceTime = loginGraceTime;
        _grace = new CancellationTokenSource(loginGraceTime, time);
    }

    /// <summary>The client's end point.</summary>
    public EndPoint? RemoteEndPoint { get; }

    /// <summary>Cancelled when the login grace time runs out before <see cref="MarkAuthenticated"/>; never after it.</summary>
    public CancellationToken LoginGraceExpired => _grace.Token;

    /// <summary>The time from admission the connection has to authenticate.</summary>
    public TimeSpan LoginGraceTime => _loginGraceTime;

    /// <summary>What is left of the login grace time (zero once it ran out).</summary>
    public TimeSpan RemainingLoginGraceTime
    {
        get
        {
            TimeSpan left = _loginGraceTime - _time.GetElapsedTime(_admittedAt);
            return left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
    }

    /// <summary>True once the client has authenticated.</summary>
    public bool IsAuthenticated => Volatile.Read(ref _state) == 1;

    internal SshServerAdmission.SourceKey? Source { get; }

    /// <summary>The client authenticated: the connection no longer counts toward MaxStartups, the grace timer stops, and its end earns no penalty.</summary>
    public void MarkAuthenticated()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) == 0)
        {
            _grace.CancelAfter(Timeout.InfiniteTimeSpan);
            _owner.OnAuthenticated();
        }
    }

    /// <summary>An authentication attempt failed: ending unauthenticated now earns the authfail penalty.</summary>
    public void MarkAuthenticationFailed() => Volatile.Write(ref _authFailed, true);

    /// <summary>The login grace time ran out: ending unauthenticated earns the grace-exceeded penalty.</summary>
    public void MarkLoginGraceExceeded() => Volatile.Write(ref _graceExceeded, true);

    /// <summary>The server failed on this connection's input (an unexpected exception): its end earns the crash penalty.</summary>
    public void MarkFault() => Volatile.Write(ref _fault, true);

    /// <summary>The connection ended: releases its place and gives its source the penalty it earned.</summary>
    public void Dispose()
    {
        int state = Interlocked.Exchange(ref _state, 2);
        if (state == 2)
        {
            return;
        }

        bool authenticated = state == 1;
        SshServerAdmission.PenaltyKind penalty =
            Volatile.Read(ref _fault) ? SshServerAdmission.PenaltyKind.Crash
            : authenticated ? SshServerAdmission.PenaltyKind.None
            : Volatile.Read(ref _graceExceeded) || _grace.IsCancellationRequested ? SshServerAdmission.PenaltyKind.GraceExceeded
            : Volatile.Read(ref _authFailed) ? SshServerAdmission.PenaltyKind.AuthFail
            : SshServerAdmission.PenaltyKind.NoAuth;
        _grace.Dispose();
        _owner.Release(this, authenticated, penalty);
    }
}
