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
        if (options.RekeyInterval != Timeout.InfiniteTimeSpan)
        {
            _rekeyIntervalTicks = (long)(options.RekeyInterval.TotalSeconds * Time.TimestampFrequency);
            _rekeyTimer = Time.CreateTimer(static s => ((TransportState)s!).OnRekeyTimer(), this, options.RekeyInterval, Timeout.InfiniteTimeSpan);
        }
    }

    // RFC 4253 §9's time limit: a timer marks keys that outlived it, so packets test a flag instead of reading the clock.
    private readonly ITimer? _rekeyTimer;
    private readonly long _rekeyIntervalTicks;

    public SshPacketizerOptions Options { get; }

    /// <summary>
    /// When bytes last arrived or were flushed (TimeProvider timestamp), for keepalive: stamped once per pipe read that
    /// brought bytes and once per flush, not per packet.
    /// </summary>
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
        RearmRekeyTimer();
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
        RearmRekeyTimer();
    }

    /// <summary>Stamps <see cref="LastActivity"/> with the current time.</summary>
    public void Touch() => Volatile.Write(ref LastActivity, Time.GetTimestamp());

    /// <summary>Marks each direction whose keys outlived the rekey interval, and waits for the next to.</summary>
    private void OnRekeyTimer()
    {
        long now = Time.GetTimestamp();
        long next = long.MaxValue;
        MarkIfDue(Inbound, now, ref next);
        MarkIfDue(Outbound, now, ref next);
        if (next != long.MaxValue)
        {
            ArmRekeyTimer(next - now);
        }
    }

    private void MarkIfDue<T>(DirectionState<T> state, long now, ref long next)
        where T : PacketProtection
    {
        int generation = state.Generation;
        long due = state.KeysTimestamp + _rekeyIntervalTicks;
        if (now >= due)
        {
            state.MarkTimeLimitReached(generation);
        }
        else
        {
            next = Math.Min(next, due);
        }
    }

    /// <summary>After a key switch: the timer waits for the older keys' limit (at once if they are past it already).</summary>
    private void RearmRekeyTimer()
    {
        if (_rekeyTimer is not null)
        {
            ArmRekeyTimer(Math.Min(Inbound.KeysTimestamp, Outbound.KeysTimestamp) + _rekeyIntervalTicks - Time.GetTimestamp());
        }
    }

    private void ArmRekeyTimer(long ticks)
    {
        // Whole milliseconds, rounded up: a timer that fires early only re-arms for the rest.
        TimeSpan due = ticks <= 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Ceiling(ticks * 1000.0 / Time.TimestampFrequency));
        try
        {
            _rekeyTimer!.Change(due, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed with the connection.
        }
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
        _rekeyTimer?.Dispose();
        Inbound.DisposeKeys();
        Outbound.DisposeKeys();
        Inflater?.Dispose();
        RetiredInflater?.Dispose();
        Deflater?.Dispose();
    }
}
