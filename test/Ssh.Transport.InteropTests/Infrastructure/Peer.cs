namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>A real SSH implementation that the matrix runs against, in both roles.</summary>
internal abstract class Peer
{
    /// <summary>The implementation, e.g. "OpenSsh": one section of the matrix.</summary>
    public abstract string Name { get; }

    /// <summary>Which build of the implementation (OpenSSH and Dropbear run in both; the Python libraries only in Debian's).</summary>
    public virtual PeerGeneration Generation => PeerGeneration.Debian;

    /// <summary>The name in test names: <see cref="Name"/>, with the generation for peers that have more than one (e.g. "OpenSshNewest").</summary>
    public virtual string Label => Name;

    /// <summary>Why the peer cannot run here (a missing binary, with the package to install), or null.</summary>
    public abstract string? Unavailable { get; }

    /// <summary>The peer's version as it reports it.</summary>
    public abstract string Version { get; }

    /// <summary>What the peer supports in the role opposite ours: its server's lists when <paramref name="role"/> is OurClient.</summary>
    public abstract PeerAlgorithms Algorithms(InteropRole role);

    /// <summary>Starts the peer's server on 127.0.0.1 with <paramref name="choice"/> applied where the peer can be told.</summary>
    public abstract Task<ServerHandle> StartServerAsync(CaseContext context, AlgorithmChoice choice);

    /// <summary>Runs the peer's client against 127.0.0.1:<paramref name="port"/> until it exits.</summary>
    public abstract Task<ClientHandle> RunClientAsync(CaseContext context, int port, AlgorithmChoice choice);

    /// <summary>
    /// Ignores the test when the peer is missing; fails it instead when it is a newest peer that CI built
    /// (<see cref="NewestPeers.Required"/>), so that a broken build cannot pass as a row of skips.
    /// </summary>
    public void RequireAvailable()
    {
        if (Unavailable is not null)
        {
            if (Generation == PeerGeneration.Newest && NewestPeers.Required)
            {
                Assert.Fail($"{Unavailable} (SSH_PEERS_REQUIRED=1: .ci/run built the newest peers)");
            }

            Assert.Ignore(Unavailable);
        }
    }
}

/// <summary>A started peer server.</summary>
internal sealed class ServerHandle(PeerProcess process, int port, Func<PeerProcess, NegotiatedView?> parseNegotiated)
{
    public PeerProcess Process { get; } = process;

    public int Port { get; } = port;

    /// <summary>Waits up to <paramref name="timeout"/> for the peer to report what it agreed on; null if it never does.</summary>
    public async Task<NegotiatedView?> NegotiatedAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            NegotiatedView? view = parseNegotiated(Process);
            if (view is not null || DateTime.UtcNow > deadline)
            {
                return view;
            }

            await Task.Delay(50);
        }
    }
}

/// <summary>A peer client run to its end.</summary>
internal sealed class ClientHandle
{
    public required PeerProcess Process { get; init; }

    /// <summary>The exit code; null if it had to be killed.</summary>
    public int? ExitCode { get; init; }

    /// <summary>What the client says it agreed on; null when it does not tell.</summary>
    public NegotiatedView? View { get; init; }

    /// <summary>True when the client's output shows our server's USERAUTH_FAILURE arrived (so the keys work both ways).</summary>
    public bool SawAuthRefusal { get; init; }
}
