using System.Net;

namespace Ssh.Transport.Connection;

/// <summary>What <see cref="SshServerAdmission"/> does when its penalty table is full (sshd's PerSourcePenalties overflow).</summary>
public enum SshPenaltyOverflowMode
{
    /// <summary>Make room by forgetting the penalties that expire soonest (sshd's "permissive", its default).</summary>
    Permissive,

    /// <summary>Refuse every new connection of that address family until penalties expire (sshd's "deny-all").</summary>
    DenyAll,
}

/// <summary>
/// The pre-authentication limits of <see cref="SshServerAdmission"/>, with OpenSSH sshd's defaults: MaxStartups
/// (random early drop of unauthenticated connections), PerSourcePenalties, PerSourceNetBlockSize,
/// PerSourcePenaltyExemptList, and a total connection cap that sshd does not have (off by default).
/// </summary>
/// <remarks>Read when the admission controller is created; later changes have no effect on it.</remarks>
public sealed class SshServerAdmissionOptions
{
    /// <summary>
    /// Unauthenticated connections accepted before early drop begins (sshd's MaxStartups start). Default 10: the 11th
    /// concurrent unauthenticated connection is the first that may be dropped.
    /// </summary>
    public int MaxStartupsBegin { get; set; } = 10;

    /// <summary>
    /// The probability, in percent, of dropping a connection when <see cref="MaxStartupsBegin"/> are unauthenticated
    /// (sshd's MaxStartups rate); it rises linearly to 100 at <see cref="MaxStartups"/>. Default 30.
    /// </summary>
    public int MaxStartupsRate { get; set; } = 30;

    /// <summary>Unauthenticated connections at which every new connection is dropped (sshd's MaxStartups full). Default 100.</summary>
    public int MaxStartups { get; set; } = 100;

    /// <summary>Connections open at once, authenticated or not; more are refused. 0, the default, for no limit (sshd has none).</summary>
    public int MaxConnections { get; set; }

    /// <summary>
    /// Penalise sources whose connections fail (sshd's PerSourcePenalties yes/no). Default true; false turns off
    /// penalties and the penalty table.
    /// </summary>
    public bool PerSourcePenalties { get; set; } = true;

    /// <summary>Penalty for a connection that made the server fail (an unexpected exception; sshd's crash). Default 90 seconds.</summary>
    public TimeSpan PenaltyCrash { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>Penalty for a connection that ended unauthenticated after failed attempts (sshd's authfail). Default 5 seconds.</summary>
    public TimeSpan PenaltyAuthFail { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Penalty for a connection that ended without attempting authentication, a failed handshake among them (sshd's
    /// noauth). Default 1 second.
    /// </summary>
    public TimeSpan PenaltyNoAuth { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Penalty for a connection still unauthenticated at the login grace time (sshd's grace-exceeded). Default 10 seconds.</summary>
    public TimeSpan PenaltyGraceExceeded { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The most penalty time a source accrues (sshd's max). Default 600 seconds.</summary>
    public TimeSpan PenaltyMax { get; set; } = TimeSpan.FromSeconds(600);

    /// <summary>
    /// Accrued penalty time above which a source is refused (sshd's min): a source with less is remembered but still
    /// admitted. Default 15 seconds.
    /// </summary>
    public TimeSpan PenaltyMin { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>IPv4 sources the penalty table holds (sshd's max-sources4). Default 65536.</summary>
    public int PenaltyMaxSourcesIPv4 { get; set; } = 65536;

    /// <summary>IPv6 sources the penalty table holds (sshd's max-sources6). Default 65536.</summary>
    public int PenaltyMaxSourcesIPv6 { get; set; } = 65536;

    /// <summary>What a full IPv4 table does (sshd's overflow). Default <see cref="SshPenaltyOverflowMode.Permissive"/>.</summary>
    public SshPenaltyOverflowMode PenaltyOverflowMode { get; set; } = SshPenaltyOverflowMode.Permissive;

    /// <summary>What a full IPv6 table does (sshd's overflow6); null, the default, for <see cref="PenaltyOverflowMode"/>.</summary>
    public SshPenaltyOverflowMode? PenaltyOverflowModeIPv6 { get; set; }

    /// <summary>Prefix length that groups IPv4 sources into one penalty entry (sshd's PerSourceNetBlockSize). Default 32.</summary>
    public int SourcePrefixLengthIPv4 { get; set; } = 32;

    /// <summary>Prefix length that groups IPv6 sources into one penalty entry (sshd's PerSourceNetBlockSize). Default 128.</summary>
    public int SourcePrefixLengthIPv6 { get; set; } = 128;

    /// <summary>
    /// Networks never penalised, in CIDR notation ("192.0.2.0/24", "::1/128"; sshd's PerSourcePenaltyExemptList).
    /// Empty by default.
    /// </summary>
    public IList<string> PenaltyExemptNetworks { get; } = [];

    /// <summary>The clock of the penalties.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// The randomness of the early drop, for tests (a seeded or fixed generator); null, the default, for
    /// <see cref="System.Security.Cryptography.RandomNumberGenerator"/>, unpredictable as sshd's arc4random.
    /// </summary>
    public Random? Random { get; set; }

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentException">An option is out of range; the message lists every problem.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (MaxStartupsBegin < 1 || MaxStartups < MaxStartupsBegin || MaxStartupsRate is < 1 or > 100)
        {
            problems.Add($"MaxStartups is {MaxStartupsBegin}:{MaxStartupsRate}:{MaxStartups}; it needs 1 <= begin <= full and a rate from 1 to 100.");
        }

        if (MaxConnections < 0)
        {
            problems.Add($"MaxConnections is {MaxConnections}; 0 (no limit) or more.");
        }

        foreach ((string name, TimeSpan value) in new[]
        {
            (nameof(PenaltyCrash), PenaltyCrash), (nameof(PenaltyAuthFail), PenaltyAuthFail), (nameof(PenaltyNoAuth), PenaltyNoAuth),
            (nameof(PenaltyGraceExceeded), PenaltyGraceExceeded), (nameof(PenaltyMax), PenaltyMax), (nameof(PenaltyMin), PenaltyMin),
        })
        {
            if (value < TimeSpan.Zero || value > TimeSpan.FromDays(365))
            {
                problems.Add($"{name} is {value}; from 0 to 365 days.");
            }
        }

        if (PenaltyMaxSourcesIPv4 < 1 || PenaltyMaxSourcesIPv6 < 1)
        {
            problems.Add("PenaltyMaxSourcesIPv4 and PenaltyMaxSourcesIPv6 must be at least 1.");
        }

        if (SourcePrefixLengthIPv4 is < 0 or > 32 || SourcePrefixLengthIPv6 is < 0 or > 128)
        {
            problems.Add($"The source prefix lengths are {SourcePrefixLengthIPv4} and {SourcePrefixLengthIPv6}; 0-32 for IPv4, 0-128 for IPv6.");
        }

        foreach (string network in PenaltyExemptNetworks)
        {
            if (!TryParseNetwork(network, out _))
            {
                problems.Add($"PenaltyExemptNetworks has '{network}', which is not an address or a network in CIDR notation.");
            }
        }

        if (TimeProvider is null)
        {
            problems.Add("TimeProvider is required.");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("Admission options are not valid: " + string.Join(" ", problems));
        }
    }

    /// <summary>An address alone is its own /32 or /128.</summary>
    internal static bool TryParseNetwork(string? text, out IPNetwork network)
    {
        network = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        if (IPNetwork.TryParse(text, out network))
        {
            return true;
        }

        if (IPAddress.TryParse(text, out IPAddress? address))
        {
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        return false;
    }
}
