using System.Globalization;
using Microsoft.Extensions.Logging;
using Ssh.Transport.Framing;

namespace Ssh.Transport;

/// <summary>
/// Limits and settings of an <see cref="SshPacketizer"/>. Every limit has a safe default.
/// </summary>
public sealed class SshPacketizerOptions
{
    /// <summary>RFC 4253 §6.1: every implementation must accept packets of 35000 bytes.</summary>
    public const int MinimumMaxPacketLength = 35000;

    /// <summary>The default packet length limit, OpenSSH's (256 KiB).</summary>
    public const int DefaultMaxPacketLength = 256 * 1024;

    /// <summary>The largest <see cref="MaxPacketLength"/> allowed (16 MiB).</summary>
    internal const int MaximumMaxPacketLength = 16 * 1024 * 1024;

    private int _maxPacketLength = DefaultMaxPacketLength;
    private string _softwareVersion = "SshTransport_" + (typeof(SshPacketizerOptions).Assembly.GetName().Version?.ToString(2) ?? "0.1");

    /// <summary>
    /// The largest packet_length accepted from the peer (and written), checked before anything is allocated or
    /// awaited for. Default 256 KiB; never below 35000 (RFC 4253 §6.1).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 35000 or above 16 MiB.</exception>
    public int MaxPacketLength
    {
        get => _maxPacketLength;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, MinimumMaxPacketLength);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaximumMaxPacketLength);
            _maxPacketLength = value;
        }
    }

    /// <summary>
    /// The softwareversion of our identification line, "SSH-2.0-softwareversion comments" (RFC 4253 §4.2):
    /// printable US-ASCII without spaces or '-'.
    /// </summary>
    public string SoftwareVersion
    {
        get => _softwareVersion;
        set => _softwareVersion = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Optional comments after the software version in our identification line.</summary>
    public string? Comments { get; set; }

    /// <summary>How many lines a server may send before its identification line (client side). Default 1024.</summary>
    public int MaxPreBannerLines { get; set; } = 1024;

    /// <summary>How many bytes a server may send before its identification line (client side). Default 64 KiB.</summary>
    public int MaxPreBannerBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// How long to wait for the peer's identification line when no handshake deadline is running.
    /// Default 30 seconds; <see cref="Timeout.InfiniteTimeSpan"/> waits forever.
    /// </summary>
    public TimeSpan IdentificationTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Rekey after this many bytes in either direction under one set of keys. The cipher's own limit
    /// (OpenSSH's per-cipher default) applies when it is lower. Default: the cipher's limit.
    /// </summary>
    public long RekeyBytes { get; set; } = long.MaxValue;

    /// <summary>Rekey after this many packets in either direction under one set of keys. Default 2^31.</summary>
    public long RekeyPackets { get; set; } = 1L << 31;

    /// <summary>
    /// Rekey when a set of keys is this old: a timer (on <see cref="TimeProvider"/>) marks the keys, and the next
    /// packet of that direction, or <see cref="SshPacketizer.NeedRekey"/>, reports it. Default one hour;
    /// <see cref="Timeout.InfiniteTimeSpan"/> for none (and no timer).
    /// </summary>
    public TimeSpan RekeyInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How many bytes past the byte limit the peer may still send under its old keys before the connection fails:
    /// its data in flight while the key exchange runs. Default 2^29.
    /// </summary>
    public long RekeyOverflowBytes { get; set; } = 1L << 29;

    /// <summary>How many packets past the packet limit the peer may still send under its old keys. Default 2^29.</summary>
    public long RekeyOverflowPackets { get; set; } = 1L << 29;

    /// <summary>The longest <see cref="ReceiveBatchHold"/> can be.</summary>
    public static readonly TimeSpan MaxReceiveBatchHold = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long a received packet of a bulk stream may wait for the packets behind it, so that their tags are checked
    /// together, under keys that check tags in batches (hmac-sha2-256-etm on a processor with AVX-512; elsewhere
    /// nothing is held). Only a packet that follows a run of packets of its own length waits, never a lone reply; a
    /// hold that runs out is not tried again for a while. Default 2 ms; <see cref="TimeSpan.Zero"/> holds nothing.
    /// </summary>
    /// <remarks>
    /// A sender that is not held back by the channel's window keeps sending during the hold, so throughput does not
    /// wait on it; what waits is the last packets of a burst, by up to this long.
    /// </remarks>
    public TimeSpan ReceiveBatchHold { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>The clock for timeouts, keepalive and time-based rekeying. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Where packet summaries (Debug) and hex dumps (Trace) go. Default: nowhere. A transport logs everything here
    /// unless <see cref="SshTransportOptions.LoggerFactory"/> is set, which takes precedence.
    /// </summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Log payload hex dumps at Trace level. Off by default: payloads of upper layers can hold user data. Key
    /// material is never logged, and user-authentication requests are never dumped.
    /// </summary>
    public bool LogPacketContents { get; set; }

    /// <summary>
    /// Checks every setting at once: the identification line's software version and comments (RFC 4253 §4.2),
    /// the pre-banner limits (at least 0), the identification timeout and rekey interval (positive and at most
    /// about 49.7 days, or <see cref="Timeout.InfiniteTimeSpan"/>), the rekey limits (at least 1) and their
    /// allowances (at least 0), the receive batch hold (0 to <see cref="MaxReceiveBatchHold"/>), and the clock (not
    /// null). The defaults are valid.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is not valid; the message lists every problem.</exception>
    public void Validate() => ValidateArgument(paramName: null);

    /// <summary>As <see cref="Validate"/>, for a method that checks its argument: the exception names the parameter.</summary>
    /// <param name="paramName">The name of the parameter that carried these options, or null.</param>
    /// <exception cref="ArgumentException">A setting is not valid; the message lists every problem.</exception>
    internal void ValidateArgument(string? paramName)
    {
        var problems = new List<string>();
        AddProblems(problems, prefix: string.Empty);
        OptionsValidation.ThrowIfAny(problems, "packetizer options", paramName);
    }

    /// <summary>Adds a sentence per problem, each naming its property after <paramref name="prefix"/>.</summary>
    internal void AddProblems(List<string> problems, string prefix)
    {
        // The setter keeps MaxPacketLength in range; checked again so that this list stays complete.
        OptionsValidation.CheckRange(problems, prefix + nameof(MaxPacketLength), MaxPacketLength, MinimumMaxPacketLength, MaximumMaxPacketLength);
        if (IdentificationReader.FindProblem(SoftwareVersion, Comments, out string parameter) is string problem)
        {
            problems.Add($"{prefix}{(parameter == "comments" ? nameof(Comments) : nameof(SoftwareVersion))}: {problem}");
        }

        OptionsValidation.CheckRange(problems, prefix + nameof(MaxPreBannerLines), MaxPreBannerLines, 0);
        OptionsValidation.CheckRange(problems, prefix + nameof(MaxPreBannerBytes), MaxPreBannerBytes, 0);
        OptionsValidation.CheckTimeout(problems, prefix + nameof(IdentificationTimeout), IdentificationTimeout, allowInfinite: true);
        OptionsValidation.CheckRange(problems, prefix + nameof(RekeyBytes), RekeyBytes, 1);
        OptionsValidation.CheckRange(problems, prefix + nameof(RekeyPackets), RekeyPackets, 1);
        OptionsValidation.CheckTimeout(problems, prefix + nameof(RekeyInterval), RekeyInterval, allowInfinite: true);
        OptionsValidation.CheckRange(problems, prefix + nameof(RekeyOverflowBytes), RekeyOverflowBytes, 0);
        OptionsValidation.CheckRange(problems, prefix + nameof(RekeyOverflowPackets), RekeyOverflowPackets, 0);
        if (ReceiveBatchHold < TimeSpan.Zero || ReceiveBatchHold > MaxReceiveBatchHold)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}{nameof(ReceiveBatchHold)} is {ReceiveBatchHold}; it must be from 0 to {MaxReceiveBatchHold.TotalMilliseconds} ms."));
        }

        if (TimeProvider is null)
        {
            problems.Add($"{prefix}{nameof(TimeProvider)} is null.");
        }
    }

    /// <summary>A copy that later changes to this instance do not reach (every setting is a value or shared service).</summary>
    internal SshPacketizerOptions Clone() => (SshPacketizerOptions)MemberwiseClone();
}
