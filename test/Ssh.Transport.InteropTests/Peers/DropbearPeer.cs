using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport.InteropTests.Peers;

/// <summary>
/// Dropbear: the dropbear server (-F -E -p 127.0.0.1:PORT -r key..., no -R) and the dbclient client, in two
/// generations: Debian's package (on PATH) and the newest release built into /opt/ssh-peers
/// (<see cref="NewestPeers"/>). Neither program can be told which kex or host key algorithm to use (only dbclient
/// takes -c and -m): they are fixed when Dropbear is built, and 2022.83 cannot list them (2026.94's -Q gives one list
/// per kind, where its server's two compression directions differ). So the supported lists are what each one offers
/// in its first KEXINIT, read by a probe, and our side alone narrows the dimensions the peer cannot.
/// Dropbear logs no negotiation details, so the peer's side of each case is "the connection worked": the refused
/// authentication needs working keys both ways.
/// </summary>
internal sealed class DropbearPeer : Peer
{
    private readonly string? _dropbear;
    private readonly string? _dbclient;
    private readonly string? _dropbearkey;
    private readonly Lazy<string> _version;
    private readonly Lazy<PeerAlgorithms> _server;
    private readonly Lazy<PeerAlgorithms> _client;

    private DropbearPeer(PeerGeneration generation)
    {
        Generation = generation;
        if (generation == PeerGeneration.Debian)
        {
            (_dropbear, _dbclient, _dropbearkey) = (Tools.Find("dropbear"), Tools.Find("dbclient"), Tools.Find("dropbearkey"));
        }
        else
        {
            (_dropbear, _dbclient, _dropbearkey) = (NewestPeers.Find("dropbear/sbin/dropbear"), NewestPeers.Find("dropbear/bin/dbclient"), NewestPeers.Find("dropbear/bin/dropbearkey"));
        }

        _version = new(() => _dropbear is null ? "not installed" : Tools.Run(_dropbear, ["-V"], TimeSpan.FromSeconds(10)).Error.Trim());
        _server = new(() => Probe(ProbeServer));
        _client = new(() => Probe(ProbeClient));
    }

    /// <summary>Debian's Dropbear (2022.83 in Debian 12).</summary>
    public static DropbearPeer Debian { get; } = new(PeerGeneration.Debian);

    /// <summary>The newest Dropbear, built from source (2026.94).</summary>
    public static DropbearPeer Newest { get; } = new(PeerGeneration.Newest);

    /// <summary>Both generations, in test order.</summary>
    public static IReadOnlyList<DropbearPeer> All { get; } = [Debian, Newest];

    /// <summary>The peer of <paramref name="generation"/>.</summary>
    public static DropbearPeer Of(PeerGeneration generation) => generation == PeerGeneration.Debian ? Debian : Newest;

    public override string Name => "Dropbear";

    public override PeerGeneration Generation { get; }

    public override string Label => Name + Generation;

    public override string? Unavailable =>
        _dropbear is null || _dbclient is null || _dropbearkey is null
            ? Generation == PeerGeneration.Debian
                ? "Dropbear is not installed (apt install dropbear-bin): dropbear, dbclient and dropbearkey are needed."
                : NewestPeers.NotBuilt("The newest Dropbear (dropbear/sbin/dropbear, bin/dbclient, bin/dropbearkey)")
            : !_version.Value.StartsWith("Dropbear v", StringComparison.Ordinal) ? $"{_dropbear} -V does not run: {_version.Value}"
            : null;

    public override string Version => _version.Value;

    /// <summary>The version as a number, e.g. 202694 for v2026.94 (0 when unknown).</summary>
    public int VersionNumber =>
        Version.StartsWith("Dropbear v", StringComparison.Ordinal) && int.TryParse(Version["Dropbear v".Length..].Split('\n')[0].Trim().Replace(".", string.Empty, StringComparison.Ordinal), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int number)
            ? number
            : 0;

    /// <summary>
    /// dbclient from 2026.91 on compresses only when told (`-o Compression=yes`); older ones always offer it and do not
    /// know the option.
    /// </summary>
    private string[] CompressionOption => VersionNumber >= 202691 ? ["-o", "Compression=yes"] : [];

    public override PeerAlgorithms Algorithms(InteropRole role) =>
        Unavailable is not null ? PeerAlgorithms.Empty : role == InteropRole.OurClient ? _server.Value : _client.Value;

    private static PeerAlgorithms Probe(Func<PeerAlgorithms> probe)
    {
        try
        {
            return probe();
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or System.Net.Sockets.SocketException or AggregateException or SshProtocolException)
        {
            // Only the default case runs then, and its failure shows why.
            return PeerAlgorithms.Empty with { Source = $"the KEXINIT probe failed: {e.Message}" };
        }
    }

    /// <summary>
    /// The server's KEXINIT, once per ECDSA size: dropbear loads one ECDSA key, so each curve needs its own start.
    /// </summary>
    private PeerAlgorithms ProbeServer()
    {
        KexInitMessage? first = null;
        var hostKeys = new List<string>();
        foreach (string ecdsa in (string[])["ecdsa256", "ecdsa384", "ecdsa521"])
        {
            string[] kinds = ["ed25519", ecdsa, "rsa"];
            using var probe = new ProbeDirectory();
            (PeerProcess process, int port) = StartAsync(probe.Path, kinds, "probe").GetAwaiter().GetResult();
            try
            {
                KexInitMessage kexInit = KexInitProbe.ProbeServer(port);
                first ??= kexInit;
                hostKeys.AddRange(kexInit.HostKeyAlgorithms.Except(hostKeys));
            }
            finally
            {
                process.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }

        return FromKexInit(first!, hostKeys, "the dropbear server's KEXINIT (probed with each ECDSA curve)");
    }

    private PeerAlgorithms ProbeClient()
    {
        using var probe = new ProbeDirectory();
        KexInitMessage kexInit = KexInitProbe.ProbeClient(port =>
            PeerProcess.Start(_dbclient!, ["-y", "-y", .. CompressionOption, "-p", port.ToString(), "interop@127.0.0.1", "true"], Path.Combine(probe.Path, "dbclient-probe.log")));
        return FromKexInit(kexInit, kexInit.HostKeyAlgorithms, CompressionOption.Length == 0 ? "dbclient's KEXINIT" : "dbclient's KEXINIT (with -o Compression=yes)");
    }

    private static PeerAlgorithms FromKexInit(KexInitMessage kexInit, IReadOnlyList<string> hostKeys, string source) => new(
        [.. kexInit.KexAlgorithms.Where(k => !k.StartsWith("kex-strict-", StringComparison.Ordinal) && !k.StartsWith("ext-info-", StringComparison.Ordinal))],
        hostKeys,
        kexInit.CiphersClientToServer,
        kexInit.MacsClientToServer,
        [.. kexInit.CompressionClientToServer.Where(c => c != "none")],
        StrictKex: kexInit.KexAlgorithms.Any(k => k.StartsWith("kex-strict-", StringComparison.Ordinal)),
        source)
    {
        // A server from 2025.87 on compresses what it sends but takes nothing compressed ("none" client to server).
        ServerToClientOnlyCompression = [.. kexInit.CompressionServerToClient.Except(kexInit.CompressionClientToServer).Where(c => c != "none")],
    };

    public override async Task<ServerHandle> StartServerAsync(CaseContext context, AlgorithmChoice choice)
    {
        // One ECDSA key at a time: the case's curve when it asks for one, else P-256.
        string ecdsa = choice.HostKey is { } h && h.StartsWith("ecdsa-", StringComparison.Ordinal) ? PeerKeys.KindOf(h) : "ecdsa256";
        (PeerProcess process, int port) = await StartAsync(context.TempDirectory, ["ed25519", ecdsa, "rsa"], context.LogPath("dropbear"));
        context.Track(process);

        // Dropbear does not log the algorithms it agreed on.
        return new ServerHandle(process, port, _ => null);
    }

    private async Task<(PeerProcess Process, int Port)> StartAsync(string directory, IEnumerable<string> kinds, string logPath)
    {
        if (!Path.IsPathRooted(logPath))
        {
            logPath = Path.Combine(directory, logPath + ".log");
        }

        for (int attempt = 1; ; attempt++)
        {
            int port = Tools.FreePort();
            var arguments = new List<string> { "-F", "-E", "-p", $"127.0.0.1:{port}", "-P", Path.Combine(directory, "dropbear.pid") };
            foreach (string kind in kinds)
            {
                arguments.AddRange(["-r", PeerKeys.Dropbear(Generation, _dropbearkey!)[kind]]);
            }

            PeerProcess process = PeerProcess.Start(_dropbear!, arguments, logPath);
            string? ready = await process.WaitForLineAsync(l => l.Contains("Not backgrounding", StringComparison.Ordinal) || l.Contains("Failed listening", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
            if (ready is not null && ready.Contains("Not backgrounding", StringComparison.Ordinal))
            {
                return (process, port);
            }

            await process.DisposeAsync();
            if (attempt == 3)
            {
                throw new InvalidOperationException($"dropbear did not start:\n{process.Tail(30)}");
            }
        }
    }

    public override async Task<ClientHandle> RunClientAsync(CaseContext context, int port, AlgorithmChoice choice)
    {
        var arguments = new List<string> { "-y", "-y", "-p", port.ToString() };
        if (choice.Compression is not null)
        {
            arguments.AddRange(CompressionOption);
        }

        if (choice.Cipher is not null)
        {
            arguments.AddRange(["-c", choice.Cipher]);
        }

        if (choice.Mac is not null)
        {
            arguments.AddRange(["-m", choice.Mac]);
        }

        arguments.AddRange(["interop@127.0.0.1", "true"]);

        // DROPBEAR_PASSWORD: dbclient tries this password instead of prompting on a terminal, and is refused.
        PeerProcess process = context.Track(PeerProcess.Start(_dbclient!, arguments, context.LogPath("dbclient"),
            environment: new Dictionary<string, string> { ["DROPBEAR_PASSWORD"] = "not-the-password" }));
        int? exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return new ClientHandle
        {
            Process = process,
            ExitCode = exitCode,
            View = null,
            // dbclient prints nothing per attempt: it retries the refused password until out of methods, or until our
            // server disconnects after MaxAuthRequests refusals ("Disconnect received": our encrypted DISCONNECT read).
            SawAuthRefusal = process.Lines.Any(l => l.Contains("No auth methods could be used", StringComparison.Ordinal) ||
                l.Contains("Disconnect received", StringComparison.Ordinal)),
        };
    }

    private sealed class ProbeDirectory : IDisposable
    {
        public string Path { get; } = Tools.NewTempDirectory("probe");

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
                // Under /tmp; harmless.
            }
        }
    }
}
