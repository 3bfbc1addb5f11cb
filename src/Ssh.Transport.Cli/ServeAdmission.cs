using System.Globalization;
using Microsoft.AspNetCore.Connections;
using Ssh.Transport.Connection;

namespace Ssh.Transport.Cli;

/// <summary>
/// serve's pre-authentication defences: the gate in front of its Kestrel endpoint (<see cref="Gate"/>, a connection
/// middleware) that asks the <see cref="SshServerAdmission"/> before anything is sent, closes a refused connection,
/// and closes one still in its handshake at the login grace time; the options that configure it, parsed as sshd_config
/// spells them (MaxStartups, PerSourcePenalties, PerSourceNetBlockSize, PerSourcePenaltyExemptList); and the
/// --stats-interval line.
/// </summary>
internal sealed class ServeAdmission
{
    private readonly TextWriter _log;

    public ServeAdmission(SshServerAdmissionOptions options, TimeSpan loginGraceTime, TextWriter log)
    {
        Controller = new SshServerAdmission(options);
        LoginGraceTime = loginGraceTime;
        _log = log;
        Controller.Refused += (_, e) => _log.WriteLine($"{e.RemoteEndPoint?.ToString() ?? "?"} refused before the banner: {Describe(e.Reason)}, {e.Description}");
    }

    /// <summary>The shared admission controller.</summary>
    public SshServerAdmission Controller { get; }

    /// <summary>From accept to authenticated (--login-grace-time, default 120 s).</summary>
    public TimeSpan LoginGraceTime { get; }

    /// <summary>
    /// The connection middleware: admit or close; while the handshake runs (until <see cref="Admitted.HandshakeCompleted"/>)
    /// the login grace time closes the connection. The ticket is in the connection's features for the application.
    /// </summary>
    public ConnectionDelegate Gate(ConnectionDelegate next) => async connection =>
    {
        using SshAdmissionTicket? ticket = Controller.TryAdmit(connection.RemoteEndPoint, LoginGraceTime);
        if (ticket is null)
        {
            return; // Kestrel closes the socket: nothing was sent, as sshd's drop.
        }

        using var admitted = new Admitted(ticket, connection, _log, LoginGraceTime);
        connection.Features.Set(admitted);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        catch
        {
            ticket.MarkFault();
            throw;
        }
    };

    /// <summary>One line of counts and memory: for watching a server under load (docs/security.md, bench/load).</summary>
    public string Stats()
    {
        // A full collection first, so the heap is what the connections hold, not garbage.
        long heap = GC.GetTotalMemory(forceFullCollection: true);
        return string.Create(CultureInfo.InvariantCulture,
            $"stats: {Controller.ConnectionCount} connection(s), {Controller.UnauthenticatedCount} unauthenticated, {Controller.PenalizedSourceCount} penalised source(s); gc heap {heap / 1024} KiB, rss {Environment.WorkingSet / 1024} KiB");
    }

    /// <summary>Writes <see cref="Stats"/> every <paramref name="interval"/> until cancelled.</summary>
    public async Task WriteStatsAsync(TimeSpan interval, TextWriter output, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                output.WriteLine(Stats());
                output.Flush();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private static string Describe(SshAdmissionRefusal reason) => reason switch
    {
        SshAdmissionRefusal.MaxStartups => "MaxStartups",
        SshAdmissionRefusal.Penalty => "PerSourcePenalties",
        SshAdmissionRefusal.PenaltyTableFull => "PerSourcePenalties (table full)",
        _ => "MaxConnections",
    };

    // --- The options, as sshd_config(5) spells them

    /// <summary>MaxStartups: START:RATE:FULL, or N alone (N:100:N, as sshd).</summary>
    internal static ((int Begin, int Rate, int Full)? Value, string? Error) ParseMaxStartups(string text)
    {
        string[] parts = text.Split(':');
        var numbers = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i]))
            {
                return (null, $"--max-startups expects START:RATE:FULL (e.g. 10:30:100) or N, not '{text}'");
            }
        }

        (int Begin, int Rate, int Full)? value = parts.Length switch
        {
            1 => (numbers[0], 100, numbers[0]),
            3 => (numbers[0], numbers[1], numbers[2]),
            _ => null,
        };
        if (value is not { } v || v.Begin < 1 || v.Full < v.Begin || v.Rate is < 1 or > 100)
        {
            return (null, $"--max-startups expects START:RATE:FULL with 1 <= START <= FULL and RATE from 1 to 100, not '{text}'");
        }

        return (value, null);
    }

    /// <summary>PerSourceNetBlockSize: V4 or V4:V6.</summary>
    internal static ((int V4, int V6)? Value, string? Error) ParseNetBlockSize(string text)
    {
        string[] parts = text.Split(':');
        if (parts.Length is 1 or 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int v4) && v4 <= 32)
        {
            int v6 = 128;
            if (parts.Length == 1 || (int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out v6) && v6 <= 128))
            {
                return ((v4, v6), null);
            }
        }

        return (null, $"--per-source-netblock-size expects V4 or V4:V6 prefix lengths (0-32, 0-128), not '{text}'");
    }

    /// <summary>
    /// PerSourcePenalties: "yes", "no", or KEY:VALUE words (separated by spaces or commas): crash, authfail, noauth,
    /// grace-exceeded, max, min (seconds), max-sources4, max-sources6 (counts), overflow, overflow6 (deny-all or
    /// permissive). Applied to <paramref name="options"/>; returns the mistake, or null.
    /// </summary>
    internal static string? ApplyPenalties(string text, SshServerAdmissionOptions options)
    {
        string trimmed = text.Trim();
        if (trimmed is "yes" or "no")
        {
            options.PerSourcePenalties = trimmed == "yes";
            return null;
        }

        foreach (string word in trimmed.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = word.IndexOf(':', StringComparison.Ordinal);
            string key = colon < 0 ? word : word[..colon];
            string value = colon < 0 ? "" : word[(colon + 1)..];
            bool ok = key switch
            {
                "crash" => Seconds(value, v => options.PenaltyCrash = v),
                "authfail" => Seconds(value, v => options.PenaltyAuthFail = v),
                "noauth" => Seconds(value, v => options.PenaltyNoAuth = v),
                "grace-exceeded" => Seconds(value, v => options.PenaltyGraceExceeded = v),
                "max" => Seconds(value, v => options.PenaltyMax = v),
                "min" => Seconds(value, v => options.PenaltyMin = v),
                "max-sources4" => Count(value, v => options.PenaltyMaxSourcesIPv4 = v),
                "max-sources6" => Count(value, v => options.PenaltyMaxSourcesIPv6 = v),
                "overflow" => Overflow(value, v => options.PenaltyOverflowMode = v),
                "overflow6" => Overflow(value, v => options.PenaltyOverflowModeIPv6 = v),
                _ => false,
            };
            if (!ok)
            {
                return $"--per-source-penalties expects yes, no or words like crash:90 authfail:5 noauth:1 grace-exceeded:10 max:600 min:15 max-sources4:65536 max-sources6:65536 overflow:permissive overflow6:deny-all, not '{word}'";
            }
        }

        options.PerSourcePenalties = true;
        return null;

        static bool Seconds(string value, Action<TimeSpan> set)
        {
            if (double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double seconds) && seconds <= 365 * 86400.0)
            {
                set(TimeSpan.FromSeconds(seconds));
                return true;
            }

            return false;
        }

        static bool Count(string value, Action<int> set)
        {
            if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int count) && count >= 1)
            {
                set(count);
                return true;
            }

            return false;
        }

        static bool Overflow(string value, Action<SshPenaltyOverflowMode> set)
        {
            switch (value)
            {
                case "deny-all":
                    set(SshPenaltyOverflowMode.DenyAll);
                    return true;
                case "permissive":
                    set(SshPenaltyOverflowMode.Permissive);
                    return true;
                default:
                    return false;
            }
        }
    }

    /// <summary>PerSourcePenaltyExemptList: addresses and CIDR networks separated by commas.</summary>
    internal static (string[] Value, string? Error) ParseExemptList(string text)
    {
        string[] networks = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (string network in networks)
        {
            var probe = new SshServerAdmissionOptions();
            probe.PenaltyExemptNetworks.Add(network);
            try
            {
                probe.Validate();
            }
            catch (ArgumentException)
            {
                return ([], $"--per-source-penalty-exempt-list expects addresses or networks (e.g. 127.0.0.1,10.0.0.0/8), not '{network}'");
            }
        }

        return (networks, null);
    }

    /// <summary>
    /// An admitted connection: its ticket, and the login grace time closing it while the handshake runs (after it,
    /// authentication's own timeout is what is left of the grace time, with a DISCONNECT).
    /// </summary>
    internal sealed class Admitted : IDisposable
    {
        private readonly CancellationTokenRegistration _whileHandshaking;

        public Admitted(SshAdmissionTicket ticket, ConnectionContext connection, TextWriter log, TimeSpan loginGraceTime)
        {
            Ticket = ticket;
            _whileHandshaking = ticket.LoginGraceExpired.UnsafeRegister(_ =>
            {
                ticket.MarkLoginGraceExceeded();
                log.WriteLine($"{connection.RemoteEndPoint?.ToString() ?? "?"} closed: no handshake within the login grace time ({loginGraceTime.TotalSeconds:0.###} s)");
                connection.Abort(new ConnectionAbortedException("The login grace time ran out during the handshake."));
            }, null);
        }

        public SshAdmissionTicket Ticket { get; }

        /// <summary>The handshake is done: from here the application bounds the time to authenticate.</summary>
        public void HandshakeCompleted() => _whileHandshaking.Dispose();

        public void Dispose() => _whileHandshaking.Dispose();
    }
}
