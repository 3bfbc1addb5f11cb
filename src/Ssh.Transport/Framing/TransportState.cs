using Microsoft.Extensions.Logging;
using Ssh.Transport.Crypto;

namespace Ssh.Transport.Framing;

/// <summary>
/// What the reader and the writer of one connection share: both directions' states, strict-kex mode, rekey
/// accounting, the clock and the logger.
/// </summary>
internal sealed class TransportState : IDisposable
{
    public TransportState(SshPacketizerOptions options, ILogger logger)
    {
        Options = options;
        Time = options.TimeProvider;
        Logger = logger;
        Rekey = new RekeyAccounting(options);
        long now = Time.GetTimestamp();
        LastActivity = now;
        Inbound = new DirectionState<PacketOpener>(NoneProtection.CreateOpener(), now);
        Outbound = new DirectionState<PacketSealer>(NoneProtection.CreateSealer(), now);
        Rekey.LimitReached += direction => Log.RekeyNeeded(Logger, direction);
    }

    public SshPacketizerOptions Options { get; }

    /// <summary>When a packet was last read or written (TimeProvider timestamp), for keepalive. Written per packet, with the timestamp the packet's accounting already took.</summary>
    public long LastActivity;

    public TimeProvider Time { get; }

    public ILogger Logger { get; }

    public RekeyAccounting Rekey { get; }

    public DirectionState<PacketOpener> Inbound { get; }

    public DirectionState<PacketSealer> Outbound { get; }

    /// <summary>kex-strict-*-v00@openssh.com was negotiated: every NEWKEYS resets that direction's sequence number.</summary>
    public bool StrictKex { get; set; }

    /// <summary>Inbound NEWKEYS: RFC 4253 §7.3, the peer's packets after it use the new keys.</summary>
    /// <exception cref="SshProtocolException">No key exchange prepared inbound keys.</exception>
    public void SwitchInboundKeys()
    {
        if (!Inbound.TrySwitchKeys(StrictKex, Time.GetTimestamp()))
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "Unexpected SSH_MSG_NEWKEYS: no key exchange has prepared new keys.");
        }

        Log.KeysSwitched(Logger, "inbound", Inbound.Active.Name);
        Rekey.OnKeysSwitched(Inbound, Outbound);
    }

    /// <summary>Outbound NEWKEYS: our packets after it use the new keys.</summary>
    public void SwitchOutboundKeys()
    {
        if (!Outbound.TrySwitchKeys(StrictKex, Time.GetTimestamp()))
        {
            throw new InvalidOperationException("SSH_MSG_NEWKEYS written with no outbound keys prepared.");
        }

        Log.KeysSwitched(Logger, "outbound", Outbound.Active.Name);
        Rekey.OnKeysSwitched(Inbound, Outbound);
    }

    public void Dispose()
    {
        Inbound.DisposeKeys();
        Outbound.DisposeKeys();
    }
}
