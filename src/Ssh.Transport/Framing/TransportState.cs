using Microsoft.Extensions.Logging;
using Ssh.Transport.Compression;
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

    /// <summary>Inflates inbound payloads while zlib is on in that direction.</summary>
    public ZlibDecompressor? Inflater { get; private set; }

    /// <summary>The inflater of the previous keys, whose buffer still holds the NEWKEYS payload until the next read.</summary>
    public ZlibDecompressor? RetiredInflater { get; set; }

    /// <summary>Deflates outbound payloads while zlib is on in that direction.</summary>
    public ZlibCompressor? Deflater { get; private set; }

    /// <summary>User authentication succeeded: zlib@openssh.com may run.</summary>
    public bool Authenticated { get; private set; }

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

        // RFC 4253 §6.2: the compression context starts afresh with each set of keys. The old inflater holds the
        // NEWKEYS payload just returned, so it is released at the next read, not now.
        RetiredInflater?.Dispose();
        RetiredInflater = Inflater;
        Inflater = IsCompressionOn(Inbound.Compression) ? new ZlibDecompressor(Options.MaxPacketLength) : null;
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

        Deflater?.Dispose();
        Deflater = IsCompressionOn(Outbound.Compression) ? new ZlibCompressor() : null;
        Log.KeysSwitched(Logger, "outbound", Outbound.Active.Name);
        Rekey.OnKeysSwitched(Inbound, Outbound);
    }

    /// <summary>
    /// User authentication succeeded: start zlib@openssh.com in each direction that negotiated it (OpenSSH starts it
    /// for the server after sending USERAUTH_SUCCESS and for the client after receiving it). Later key exchanges
    /// that negotiate it start it at NEWKEYS.
    /// </summary>
    public void EnableDelayedCompression(bool inbound, bool outbound)
    {
        Authenticated = true;
        if (inbound && Inflater is null && Inbound.Compression == CompressionMethod.ZlibDelayed)
        {
            Inflater = new ZlibDecompressor(Options.MaxPacketLength);
        }

        if (outbound && Deflater is null && Outbound.Compression == CompressionMethod.ZlibDelayed)
        {
            Deflater = new ZlibCompressor();
        }
    }

    private bool IsCompressionOn(CompressionMethod method) =>
        method == CompressionMethod.Zlib || (method == CompressionMethod.ZlibDelayed && Authenticated);

    public void Dispose()
    {
        Inbound.DisposeKeys();
        Outbound.DisposeKeys();
        Inflater?.Dispose();
        RetiredInflater?.Dispose();
        Deflater?.Dispose();
    }
}
