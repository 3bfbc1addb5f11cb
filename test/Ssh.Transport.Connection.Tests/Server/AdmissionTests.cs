using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Ssh.Transport.Connection.Tests.Server;

/// <summary>
/// <see cref="SshServerAdmission"/> on a fake clock with fixed randomness: MaxStartups' drop curve, per-source
/// penalties (accrual, activation above the minimum, the maximum, expiry, the bounded table), the connection cap and
/// the login grace time of a ticket.
/// </summary>
public class AdmissionTests
{
    private static readonly TimeSpan s_grace = TimeSpan.FromSeconds(120);
    private static readonly IPEndPoint s_client = new(IPAddress.Parse("192.0.2.7"), 40000);

    private FakeTimeProvider _time = null!;

    [SetUp]
    public void SetUp() => _time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero));

    // sshd_config(5) MaxStartups 10:30:100: 30% at 10 unauthenticated, linear to 100% at 100, integer percent.
    [TestCase(0, 0)]
    [TestCase(9, 0)]
    [TestCase(10, 30)]
    [TestCase(11, 30)] // 30 + 70 * 1 / 90 = 30.8, rounded down
    [TestCase(55, 65)]
    [TestCase(99, 99)]
    [TestCase(100, 100)]
    [TestCase(5000, 100)]
    public void DropPercent_FollowsTheLinearCurve(int startups, int percent) =>
        Assert.That(SshServerAdmission.DropPercent(startups, 10, 30, 100), Is.EqualTo(percent));

    [Test]
    public void ShouldDrop_ComparesTheRandomDrawWithThePercent()
    {
        // At 55 unauthenticated the probability is 65%: a draw of 64 drops, 65 admits.
        Assert.Multiple(() =>
        {
            Assert.That(Admission(random: 64).ShouldDrop(55), Is.True);
            Assert.That(Admission(random: 65).ShouldDrop(55), Is.False);
            Assert.That(Admission(random: 0).ShouldDrop(9), Is.False, "below start nothing is dropped");
            Assert.That(Admission(random: 99).ShouldDrop(100), Is.True, "at full everything is dropped");
        });
    }

    [Test]
    public void TryAdmit_DropsAboveStart_AndAuthenticatedConnectionsDoNotCount()
    {
        var admission = Admission(random: 0, configure: o => (o.MaxStartupsBegin, o.MaxStartupsRate, o.MaxStartups) = (3, 50, 6));
        var refusals = new List<SshAdmissionRefusal>();
        admission.Refused += (_, e) => refusals.Add(e.Reason);
        List<SshAdmissionTicket> tickets = [.. Enumerable.Range(0, 3).Select(i => admission.TryAdmit(Client(i), s_grace)!)];
        Assert.That(tickets, Has.None.Null, "below start every connection is admitted");

        Assert.That(admission.TryAdmit(Client(3), s_grace), Is.Null, "a draw of 0 is below 50%");
        Assert.That(refusals, Is.EqualTo(new[] { SshAdmissionRefusal.MaxStartups }));

        tickets[0].MarkAuthenticated();
        Assert.That((admission.UnauthenticatedCount, admission.ConnectionCount), Is.EqualTo((2, 3)));
        SshAdmissionTicket? next = admission.TryAdmit(Client(4), s_grace);
        Assert.That(next, Is.Not.Null, "one left the unauthenticated count");

        next!.Dispose();
        foreach (SshAdmissionTicket ticket in tickets)
        {
            ticket.Dispose();
        }

        Assert.That((admission.UnauthenticatedCount, admission.ConnectionCount), Is.EqualTo((0, 0)));
    }

    [Test]
    public void MaxConnections_CapsAuthenticatedConnectionsToo()
    {
        var admission = Admission(random: 99, configure: o => o.MaxConnections = 2);
        SshAdmissionTicket a = admission.TryAdmit(Client(1), s_grace)!;
        SshAdmissionTicket b = admission.TryAdmit(Client(2), s_grace)!;
        a.MarkAuthenticated();
        b.MarkAuthenticated();
        SshAdmissionRefusal? reason = null;
        admission.Refused += (_, e) => reason = e.Reason;
        Assert.That(admission.TryAdmit(Client(3), s_grace), Is.Null);
        Assert.That(reason, Is.EqualTo(SshAdmissionRefusal.MaxConnections));
        a.Dispose();
        using SshAdmissionTicket? c = admission.TryAdmit(Client(3), s_grace);
        Assert.That(c, Is.Not.Null);
        b.Dispose();
    }

    [Test]
    public void Penalties_Accrue_ActivateAboveTheMinimum_AndExpire()
    {
        // authfail 5 s, min 15 s: the 4th failed connection makes 20 s, and the source is refused.
        var admission = Admission(random: 99);
        for (int i = 0; i < 3; i++)
        {
            FailAuthentication(admission);
            _time.Advance(TimeSpan.FromMilliseconds(1));
        }

        Assert.That(IsAdmitted(admission), Is.True, "15 s less 3 ms is not above the minimum");
        FailAuthentication(admission);
        SshAdmissionRefusedEventArgs? refused = null;
        admission.Refused += (_, e) => refused = e;
        Assert.That(IsAdmitted(admission), Is.False);
        Assert.That(refused!.Reason, Is.EqualTo(SshAdmissionRefusal.Penalty));
        Assert.That(refused.Description, Does.Contain("failed authentication"));

        // Active until it expires, even below the minimum (20 s from the first, less what passed).
        _time.Advance(TimeSpan.FromSeconds(19));
        Assert.That(IsAdmitted(admission), Is.False);
        _time.Advance(TimeSpan.FromSeconds(1.1));
        Assert.That(IsAdmitted(admission), Is.True, "expired");
        Assert.That(admission.PenalizedSourceCount, Is.Zero);
    }

    [Test]
    public void Penalties_StopAtTheMaximum()
    {
        var admission = Admission(random: 99);
        for (int i = 0; i < 20; i++)
        {
            admission.Penalise(s_client.Address, SshServerAdmission.PenaltyKind.Crash); // 90 s each
        }

        Assert.That(IsAdmitted(admission), Is.False);
        _time.Advance(TimeSpan.FromSeconds(599));
        Assert.That(IsAdmitted(admission), Is.False);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.That(IsAdmitted(admission), Is.True, "600 s at most, not 1800");
    }

    [Test]
    public void Ticket_EndingUnauthenticated_EarnsThePenaltyOfHowItEnded()
    {
        // Each kind alone, on a fresh controller with min 0: refused afterwards for exactly the kind's time.
        foreach ((Action<SshAdmissionTicket> end, TimeSpan penalty) in new (Action<SshAdmissionTicket>, TimeSpan)[]
        {
            (_ => { }, TimeSpan.FromSeconds(1)),                       // noauth (a failed handshake too)
            (t => t.MarkAuthenticationFailed(), TimeSpan.FromSeconds(5)), // authfail
            (t => t.MarkLoginGraceExceeded(), TimeSpan.FromSeconds(10)),  // grace-exceeded
            (t => t.MarkFault(), TimeSpan.FromSeconds(90)),               // crash
        })
        {
            var admission = Admission(random: 99, configure: o => o.PenaltyMin = TimeSpan.Zero);
            SshAdmissionTicket ticket = admission.TryAdmit(s_client, s_grace)!;
            end(ticket);
            ticket.Dispose();
            _time.Advance(penalty - TimeSpan.FromMilliseconds(1));
            Assert.That(IsAdmitted(admission), Is.False, $"within {penalty}");
            _time.Advance(TimeSpan.FromMilliseconds(2));
            Assert.That(IsAdmitted(admission), Is.True, $"after {penalty}");
        }
    }

    [Test]
    public void Ticket_Authenticated_EarnsNoPenalty_ButAFaultStillDoes()
    {
        var admission = Admission(random: 99, configure: o => o.PenaltyMin = TimeSpan.Zero);
        SshAdmissionTicket ticket = admission.TryAdmit(s_client, s_grace)!;
        ticket.MarkAuthenticationFailed();
        ticket.MarkAuthenticated();
        ticket.Dispose();
        Assert.That(admission.PenalizedSourceCount, Is.Zero);

        ticket = admission.TryAdmit(s_client, s_grace)!;
        ticket.MarkAuthenticated();
        ticket.MarkFault();
        ticket.Dispose();
        Assert.That(admission.PenalizedSourceCount, Is.EqualTo(1));
    }

    [Test]
    public void LoginGrace_FiresAtTheDeadline_UnlessAuthenticated()
    {
        var admission = Admission(random: 99, configure: o => o.PenaltyMin = TimeSpan.Zero);
        SshAdmissionTicket slow = admission.TryAdmit(Client(1), s_grace)!;
        SshAdmissionTicket quick = admission.TryAdmit(Client(2), s_grace)!;
        _time.Advance(TimeSpan.FromSeconds(100));
        Assert.That(slow.RemainingLoginGraceTime, Is.EqualTo(TimeSpan.FromSeconds(20)));
        quick.MarkAuthenticated();
        _time.Advance(TimeSpan.FromSeconds(20));
        Assert.Multiple(() =>
        {
            Assert.That(slow.LoginGraceExpired.IsCancellationRequested, Is.True);
            Assert.That(slow.RemainingLoginGraceTime, Is.EqualTo(TimeSpan.Zero));
            Assert.That(quick.LoginGraceExpired.IsCancellationRequested, Is.False);
        });

        // Ending after the deadline is grace-exceeded (10 s) even if the host did not say so.
        slow.Dispose();
        quick.Dispose();
        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.That(IsAdmitted(admission, Client(1)), Is.False);
        Assert.That(IsAdmitted(admission, Client(2)), Is.True);
    }

    [Test]
    public void Table_Permissive_ForgetsThePenaltiesThatExpireSoonest()
    {
        var admission = Admission(random: 99, configure: o => (o.PenaltyMin, o.PenaltyMaxSourcesIPv4) = (TimeSpan.Zero, 2));
        admission.Penalise(Client(1).Address, SshServerAdmission.PenaltyKind.GraceExceeded); // 10 s
        admission.Penalise(Client(2).Address, SshServerAdmission.PenaltyKind.NoAuth);        // 1 s: soonest
        admission.Penalise(Client(3).Address, SshServerAdmission.PenaltyKind.Crash);         // 90 s
        Assert.Multiple(() =>
        {
            Assert.That(admission.PenalizedSourceCount, Is.EqualTo(2));
            Assert.That(IsAdmitted(admission, Client(2)), Is.True, "forgotten");
            Assert.That(IsAdmitted(admission, Client(1)), Is.False);
            Assert.That(IsAdmitted(admission, Client(3)), Is.False);
        });
    }

    [Test]
    public void Table_DenyAll_RefusesEveryoneOfThatFamilyWhileFull()
    {
        var admission = Admission(random: 99, configure: o => (o.PenaltyMin, o.PenaltyMaxSourcesIPv4, o.PenaltyOverflowMode) = (TimeSpan.FromSeconds(100), 1, SshPenaltyOverflowMode.DenyAll));
        admission.Penalise(Client(1).Address, SshServerAdmission.PenaltyKind.NoAuth);
        var reasons = new List<SshAdmissionRefusal>();
        admission.Refused += (_, e) => reasons.Add(e.Reason);
        Assert.That(IsAdmitted(admission, Client(9)), Is.False);
        Assert.That(reasons, Is.EqualTo(new[] { SshAdmissionRefusal.PenaltyTableFull }));
        Assert.That(IsAdmitted(admission, new IPEndPoint(IPAddress.Parse("2001:db8::1"), 22)), Is.True, "IPv6 has a table of its own");
        _time.Advance(TimeSpan.FromSeconds(1.1));
        Assert.That(IsAdmitted(admission, Client(9)), Is.True, "room again once it expired");
    }

    [Test]
    public void Sources_AreMaskedToTheNetBlock_AndMappedAddressesCountAsIPv4()
    {
        var admission = Admission(random: 99, configure: o => (o.PenaltyMin, o.SourcePrefixLengthIPv4, o.SourcePrefixLengthIPv6) = (TimeSpan.Zero, 24, 64));
        admission.Penalise(IPAddress.Parse("198.51.100.1"), SshServerAdmission.PenaltyKind.Crash);
        admission.Penalise(IPAddress.Parse("2001:db8:0:1::1"), SshServerAdmission.PenaltyKind.Crash);
        Assert.Multiple(() =>
        {
            Assert.That(IsAdmitted(admission, new IPEndPoint(IPAddress.Parse("198.51.100.200"), 1)), Is.False);
            Assert.That(IsAdmitted(admission, new IPEndPoint(IPAddress.Parse("::ffff:198.51.100.9"), 1)), Is.False);
            Assert.That(IsAdmitted(admission, new IPEndPoint(IPAddress.Parse("198.51.101.1"), 1)), Is.True);
            Assert.That(IsAdmitted(admission, new IPEndPoint(IPAddress.Parse("2001:db8:0:1:ffff::2"), 1)), Is.False);
            Assert.That(IsAdmitted(admission, new IPEndPoint(IPAddress.Parse("2001:db8:0:2::1"), 1)), Is.True);
        });
    }

    [Test]
    public void ExemptNetworks_AreNeverPenalised()
    {
        var admission = Admission(random: 99, configure: o =>
        {
            o.PenaltyMin = TimeSpan.Zero;
            o.PenaltyExemptNetworks.Add("192.0.2.0/24");
        });
        admission.Penalise(s_client.Address, SshServerAdmission.PenaltyKind.Crash);
        admission.Penalise(IPAddress.Parse("203.0.113.5"), SshServerAdmission.PenaltyKind.Crash);
        Assert.That(IsAdmitted(admission, s_client), Is.True);
        Assert.That(IsAdmitted(admission, new IPEndPoint(IPAddress.Parse("203.0.113.5"), 1)), Is.False);
    }

    [Test]
    public void PerSourcePenaltiesOff_NothingIsRemembered()
    {
        var admission = Admission(random: 99, configure: o => (o.PerSourcePenalties, o.PenaltyMin) = (false, TimeSpan.Zero));
        admission.Penalise(s_client.Address, SshServerAdmission.PenaltyKind.Crash);
        Assert.That(IsAdmitted(admission), Is.True);
        Assert.That(admission.PenalizedSourceCount, Is.Zero);
    }

    [Test]
    public void Refusals_AreCountedInTheMeter()
    {
        var measured = new List<(string Instrument, long Value, string? Tag)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == SshServerAdmission.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? tag = null;
            foreach (KeyValuePair<string, object?> t in tags)
            {
                tag = t.Value as string;
            }

            lock (measured)
            {
                measured.Add((instrument.Name, value, tag));
            }
        });
        listener.Start();

        var admission = Admission(random: 0, configure: o => (o.MaxStartupsBegin, o.MaxStartupsRate, o.MaxStartups) = (1, 100, 1));
        using SshAdmissionTicket? first = admission.TryAdmit(Client(1), s_grace);
        Assert.That(admission.TryAdmit(Client(2), s_grace), Is.Null);
        lock (measured)
        {
            Assert.That(measured, Does.Contain(("ssh.server.admission.refused", 1L, (string?)"max_startups")));
            Assert.That(measured, Does.Contain(("ssh.server.admission.admitted", 1L, (string?)null)));
        }
    }

    [Test]
    public void Validate_NamesEveryProblem()
    {
        var options = new SshServerAdmissionOptions { MaxStartupsBegin = 20, MaxStartups = 10, MaxConnections = -1, SourcePrefixLengthIPv4 = 33 };
        options.PenaltyExemptNetworks.Add("not-a-network");
        var e = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Does.Contain("MaxStartups is 20:30:10"));
            Assert.That(e.Message, Does.Contain("MaxConnections is -1"));
            Assert.That(e.Message, Does.Contain("prefix lengths"));
            Assert.That(e.Message, Does.Contain("'not-a-network'"));
        });
        Assert.DoesNotThrow(new SshServerAdmissionOptions().Validate);
    }

    private static IPEndPoint Client(int i) => new(IPAddress.Parse($"192.0.2.{10 + i}"), 50000 + i);

    private static void FailAuthentication(SshServerAdmission admission)
    {
        using SshAdmissionTicket ticket = admission.TryAdmit(s_client, s_grace)!;
        ticket.MarkAuthenticationFailed();
    }

    private static bool IsAdmitted(SshServerAdmission admission, IPEndPoint? client = null)
    {
        using SshAdmissionTicket? ticket = admission.TryAdmit(client ?? s_client, s_grace);
        if (ticket is not null)
        {
            ticket.MarkAuthenticated(); // no penalty from the probe itself
        }

        return ticket is not null;
    }

    private SshServerAdmission Admission(int random, Action<SshServerAdmissionOptions>? configure = null)
    {
        var options = new SshServerAdmissionOptions { TimeProvider = _time, Random = new FixedRandom(random) };
        configure?.Invoke(options);
        return new SshServerAdmission(options);
    }

    /// <summary>Every draw is the same number.</summary>
    private sealed class FixedRandom(int value) : Random
    {
        public override int Next(int maxValue) => Math.Min(value, maxValue - 1);
    }
}
