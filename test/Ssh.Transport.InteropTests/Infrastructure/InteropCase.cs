namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>Which end of the connection is ours.</summary>
public enum InteropRole
{
    /// <summary>Our client against the peer's server.</summary>
    OurClient,

    /// <summary>The peer's client against our server.</summary>
    OurServer,
}

/// <summary>The one negotiated dimension a case varies; everything else stays at both sides' defaults.</summary>
public enum Dimension
{
    Default,
    Kex,
    HostKey,
    Cipher,
    Mac,
    Compression,

    /// <summary>
    /// Compression from the server to the client only, the other direction uncompressed: for servers that compress but
    /// take nothing compressed (Dropbear from 2025.87).
    /// </summary>
    CompressionServerToClient,

    /// <summary>Delayed compression (zlib@openssh.com), switched on after user authentication.</summary>
    CompressionAfterAuth,

    /// <summary>Our side's small rekey limit starts many key exchanges while data streams.</summary>
    Rekey,

    /// <summary>The peer's small rekey limit makes it start the key exchanges while we stream data.</summary>
    PeerRekey,

    /// <summary>Something the peer refuses by its own rules: the case passes when both ends fail the way they should.</summary>
    Refused,
}

/// <summary>One cell of the matrix: peer × generation × role × dimension × algorithm.</summary>
public sealed class InteropCase
{
    /// <summary>The cipher MAC cases run under: a MAC is only used with a non-AEAD cipher.</summary>
    public const string MacCaseCipher = "aes128-ctr";

    internal InteropCase(Peer peer, InteropRole role, Dimension dimension, string? algorithm)
    {
        Peer = peer.Name;
        Generation = peer.Generation;
        Label = peer.Label;
        Role = role;
        Dimension = dimension;
        Algorithm = algorithm;
    }

    /// <summary>The implementation, e.g. "OpenSsh".</summary>
    public string Peer { get; }

    /// <summary>Which build of it.</summary>
    public PeerGeneration Generation { get; }

    /// <summary>The peer in test names, e.g. "OpenSshNewest".</summary>
    public string Label { get; }

    public InteropRole Role { get; }

    public Dimension Dimension { get; }

    /// <summary>The algorithm of <see cref="Dimension"/> both sides are restricted to; null for the default case.</summary>
    public string? Algorithm { get; }

    /// <summary>E.g. "OurClient_vs_OpenSshNewest_Cipher(aes128-ctr)" or "OpenSshDebian_vs_OurServer_Default".</summary>
    public string TestName =>
        (Role == InteropRole.OurClient ? $"OurClient_vs_{Label}" : $"{Label}_vs_OurServer") + "_" + Dimension + (Algorithm is null ? string.Empty : $"({Algorithm})");

    /// <summary>The peer-side restriction of this case (the same one dimension).</summary>
    public AlgorithmChoice Choice => Dimension switch
    {
        Dimension.Kex => new AlgorithmChoice { Kex = Algorithm },
        Dimension.HostKey => new AlgorithmChoice { HostKey = Algorithm },
        Dimension.Cipher => new AlgorithmChoice { Cipher = Algorithm },
        Dimension.Mac => new AlgorithmChoice { Cipher = MacCaseCipher, Mac = Algorithm },
        Dimension.Compression => new AlgorithmChoice { Compression = Algorithm },
        Dimension.CompressionServerToClient => new AlgorithmChoice { Compression = $"{Algorithm},none" },
        _ => new AlgorithmChoice(),
    };

    public override string ToString() => TestName;
}

/// <summary>Single algorithms a side is restricted to; null leaves that side's default list.</summary>
public sealed record AlgorithmChoice
{
    public string? Kex { get; init; }

    public string? HostKey { get; init; }

    public string? Cipher { get; init; }

    public string? Mac { get; init; }

    /// <summary>
    /// The compression list: one algorithm, or "ALGORITHM,none" for a server that takes it only in one direction
    /// (<see cref="Dimension.CompressionServerToClient"/>).
    /// </summary>
    public string? Compression { get; init; }

    /// <summary>A peer rekey limit (e.g. sshd's "RekeyLimit 64K"), or null.</summary>
    public string? RekeyLimit { get; init; }
}

/// <summary>What one side of a connection says it agreed on; null fields were not reported.</summary>
public sealed record NegotiatedView
{
    public string? Kex { get; init; }

    public string? HostKey { get; init; }

    public string? CipherClientToServer { get; init; }

    public string? CipherServerToClient { get; init; }

    public string? MacClientToServer { get; init; }

    public string? MacServerToClient { get; init; }

    public string? CompressionClientToServer { get; init; }

    public string? CompressionServerToClient { get; init; }

    public bool? Strict { get; init; }

    /// <summary>Our side's view.</summary>
    public static NegotiatedView From(SshTransport transport) => new()
    {
        Kex = transport.Algorithms.KeyExchange,
        HostKey = transport.Algorithms.HostKey,
        CipherClientToServer = transport.Algorithms.CipherClientToServer,
        CipherServerToClient = transport.Algorithms.CipherServerToClient,
        MacClientToServer = transport.Algorithms.MacClientToServer,
        MacServerToClient = transport.Algorithms.MacServerToClient,
        CompressionClientToServer = transport.Algorithms.CompressionClientToServer,
        CompressionServerToClient = transport.Algorithms.CompressionServerToClient,
        Strict = transport.IsStrictKeyExchange,
    };

    public override string ToString() =>
        $"kex {Kex ?? "?"}, host key {HostKey ?? "?"}, c2s {CipherClientToServer ?? "?"}/{MacClientToServer ?? "-"}/{CompressionClientToServer ?? "?"}, " +
        $"s2c {CipherServerToClient ?? "?"}/{MacServerToClient ?? "-"}/{CompressionServerToClient ?? "?"}, strict {(Strict is null ? "?" : Strict.Value ? "yes" : "no")}";
}

/// <summary>The algorithms a peer supports in one role (all it can be configured to use, not only its defaults).</summary>
public sealed record PeerAlgorithms(
    IReadOnlyList<string> Kex,
    IReadOnlyList<string> HostKey,
    IReadOnlyList<string> Ciphers,
    IReadOnlyList<string> Macs,
    IReadOnlyList<string> Compression,
    bool StrictKex,
    string Source)
{
    /// <summary>
    /// Compression the peer's server applies to what it sends but does not take from the client (Dropbear from
    /// 2025.87 offers only "none" client to server): the matrix's server-to-client-only cases.
    /// </summary>
    public IReadOnlyList<string> ServerToClientOnlyCompression { get; init; } = [];

    public static PeerAlgorithms Empty { get; } = new([], [], [], [], [], false, "unavailable");

    public IReadOnlyList<string> For(Dimension dimension) => dimension switch
    {
        Dimension.Kex => Kex,
        Dimension.HostKey => HostKey,
        Dimension.Cipher => Ciphers,
        Dimension.Mac => Macs,
        Dimension.Compression => Compression,
        _ => [],
    };
}
