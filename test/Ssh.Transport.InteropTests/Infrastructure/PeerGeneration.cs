namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>Which build of OpenSSH or Dropbear a case runs against: users run both the distributions' and the newest.</summary>
public enum PeerGeneration
{
    /// <summary>The distribution's packages, found on PATH (Debian 12: OpenSSH 9.2p1, Dropbear 2022.83).</summary>
    Debian,

    /// <summary>
    /// The newest releases (OpenSSH 10.5p1, Dropbear 2026.94), built from source snapshots into /opt/ssh-peers by
    /// <c>.ci/run</c> (build-peers.sh).
    /// </summary>
    Newest,
}

/// <summary>Where the newest peers are built, and whether their absence skips or fails a case.</summary>
internal static class NewestPeers
{
    /// <summary>SSH_PEERS_PREFIX, or /opt/ssh-peers.</summary>
    public static string Prefix =>
        Environment.GetEnvironmentVariable("SSH_PEERS_PREFIX") is { Length: > 0 } prefix ? prefix : "/opt/ssh-peers";

    /// <summary>
    /// True when <c>.ci/run</c> built the peers (it sets SSH_PEERS_REQUIRED=1): a newest peer that cannot run is then a
    /// failure, not a skip.
    /// </summary>
    public static bool Required => Environment.GetEnvironmentVariable("SSH_PEERS_REQUIRED") == "1";

    /// <summary>The full path of <paramref name="relative"/> under <see cref="Prefix"/> if the file is there, else null.</summary>
    public static string? Find(string relative)
    {
        string path = Path.Combine(Prefix, relative);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Why a newest peer cannot run: what is missing and what builds it.</summary>
    public static string NotBuilt(string what) =>
        $"{what} is not built in {Prefix}: `bash .ci/run` builds it with build-peers.sh from the source snapshots " +
        "(SSH_PEERS_SRC, else shared/peers beside the checkout, else /work/shared/peers).";
}
