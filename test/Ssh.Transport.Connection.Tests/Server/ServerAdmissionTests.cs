using System.Net;
using Microsoft.Extensions.Time.Testing;
using Ssh.Transport.Connection.Tests.Infrastructure;

namespace Ssh.Transport.Connection.Tests.Server;

/// <summary>
/// <see cref="SshServer.RunAdmittedAsync(SshTransport, SshServerHandler, SshServerSettings, SshAdmissionTicket, EndPoint?, CancellationToken)"/>:
/// one login deadline from accept, and the ticket told how authentication went.
/// </summary>
public class ServerAdmissionTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    [Test]
    public async Task Authentication_GetsWhatTheHandshakeLeftOfTheGraceTime_AndExceedingItIsPenalised()
    {
        var time = new FakeTimeProvider();
        var admission = new SshServerAdmission(new SshServerAdmissionOptions { TimeProvider = time, PenaltyMin = TimeSpan.Zero });
        SshAdmissionTicket ticket = admission.TryAdmit(ServerHarness.ClientEndPoint, TimeSpan.FromSeconds(120))!;
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
        time.Advance(TimeSpan.FromSeconds(110)); // as if the handshake had taken that long

        var settings = new SshServerSettings { TimeProvider = time };
        await c.RequestServiceAsync("ssh-userauth");
        Task serving = SshServer.RunAdmittedAsync(s, new TestHandler(), settings, ticket, ServerHarness.ClientEndPoint);
        await Task.Delay(50);
        time.Advance(TimeSpan.FromSeconds(10));
        SshTimeoutException timeout = await Harness.Throws<SshTimeoutException>(serving.WaitAsync(s_wait));
        // It ran out 10 s after authentication began: the grace time counts from accept, not from now.
        Assert.That((timeout.Kind, timeout.Timeout), Is.EqualTo((SshTimeoutKind.Authentication, TimeSpan.FromSeconds(120))));
        Assert.That(timeout.Message, Does.Contain("login grace time (120 s from accept)"));

        ticket.Dispose();
        Assert.That(admission.TryAdmit(ServerHarness.ClientEndPoint, TimeSpan.FromSeconds(1)), Is.Null, "grace-exceeded: 10 s of penalty");
        await c.DisposeAsync();
        await s.DisposeAsync();
    }

    [Test]
    public async Task Login_MarksTheTicketAuthenticated_AndAFailedOneEarnsAuthFail()
    {
        var admission = new SshServerAdmission(new SshServerAdmissionOptions { PenaltyMin = TimeSpan.Zero, PenaltyAuthFail = TimeSpan.FromHours(1) });
        var alice = new IPEndPoint(IPAddress.Parse("192.0.2.1"), 1);
        var mallory = new IPEndPoint(IPAddress.Parse("192.0.2.2"), 2);

        using (SshAdmissionTicket ticket = admission.TryAdmit(alice, TimeSpan.FromSeconds(120))!)
        {
            (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
            Task serving = SshServer.RunAdmittedAsync(s, new TestHandler(), new SshServerSettings(), ticket, alice);
            var auth = new SshClientAuthenticationOptions { UserName = "alice" };
            auth.PrivateKeys.Add(Harness.UserKey(SshHostKeyType.Ed25519));
            await SshClientAuthentication.AuthenticateAsync(c, auth).WaitAsync(s_wait);

            // The server marks the ticket once its authentication returns, just after USERAUTH_SUCCESS has gone out.
            using (var marked = new CancellationTokenSource(s_wait))
            {
                while (!ticket.IsAuthenticated)
                {
                    await Task.Delay(10, marked.Token);
                }
            }

            Assert.That((ticket.IsAuthenticated, admission.UnauthenticatedCount, admission.ConnectionCount), Is.EqualTo((true, 0, 1)));
            await c.DisconnectAsync(SshDisconnectReason.ByApplication, "bye");
            await serving.WaitAsync(s_wait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await c.DisposeAsync();
            await s.DisposeAsync();
        }

        using (SshAdmissionTicket ticket = admission.TryAdmit(mallory, TimeSpan.FromSeconds(120))!)
        {
            (SshTransport c, SshTransport s) = await Harness.ConnectAsync();
            Task serving = SshServer.RunAdmittedAsync(s, new TestHandler(), new SshServerSettings(), ticket, mallory);
            var auth = new SshClientAuthenticationOptions { UserName = "mallory" };
            auth.PrivateKeys.Add(Harness.StrangerKey);
            Assert.ThrowsAsync<SshAuthenticationException>(async () => await SshClientAuthentication.AuthenticateAsync(c, auth).WaitAsync(s_wait));
            await c.DisposeAsync();
            await Harness.Throws<SshAuthenticationException>(serving.WaitAsync(s_wait));
            Assert.That(ticket.IsAuthenticated, Is.False);
            await s.DisposeAsync();
        }

        Assert.Multiple(() =>
        {
            Assert.That((admission.UnauthenticatedCount, admission.ConnectionCount), Is.EqualTo((0, 0)));
            Assert.That(admission.PenalizedSourceCount, Is.EqualTo(1), "mallory only");
            Assert.That(admission.TryAdmit(mallory, TimeSpan.FromSeconds(1)), Is.Null);
        });
    }
}
