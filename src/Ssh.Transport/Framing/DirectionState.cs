using Ssh.Transport.Crypto;

namespace Ssh.Transport.Framing;

/// <summary>
/// The state of one direction (RFC 4253 §6.4, §7.3): active and pending protection, sequence number and the
/// traffic counted under the active keys. Touched by one direction's serialized path only.
/// </summary>
internal sealed class DirectionState<TProtection>
    where TProtection : PacketProtection
{
    public DirectionState(TProtection initial, long now)
    {
        Active = initial;
        _keysTimestamp = now;
    }

    /// <summary>The protection applied to the next packet.</summary>
    public TProtection Active { get; private set; }

    /// <summary>Keys prepared by a key exchange, installed at the next NEWKEYS of this direction.</summary>
    public TProtection? Pending { get; set; }

    /// <summary>The compression negotiated with <see cref="Pending"/>.</summary>
    public Compression.CompressionMethod PendingCompression { get; set; }

    /// <summary>The compression negotiated with the active keys (zlib@openssh.com may not have started yet).</summary>
    public Compression.CompressionMethod Compression { get; private set; }

    /// <summary>The sequence number of the next packet (uint32, wraps; RFC 4253 §6.4).</summary>
    public uint SequenceNumber { get; set; }

    /// <summary>True once this direction has passed its first NEWKEYS.</summary>
    public bool HasPassedFirstNewKeys { get; private set; }

    /// <summary>How many times keys were switched in this direction.</summary>
    public int Generation => Volatile.Read(ref _generation);

    private int _generation;

    // The generation whose keys outlived the time limit (set by the rekey timer, on another thread); -1 for none.
    private int _timeLimitGeneration = -1;

    /// <summary>Bytes on the wire (length, packet and tag) under the active keys.</summary>
    public long Bytes { get; set; }

    /// <summary>Packets under the active keys.</summary>
    public long Packets { get; set; }

    /// <summary>When the active keys were installed (TimeProvider timestamp).</summary>
    public long KeysTimestamp => Volatile.Read(ref _keysTimestamp);

    private long _keysTimestamp;

    /// <summary>True once the active keys have been in use longer than the rekey interval (RFC 4253 §9).</summary>
    public bool TimeLimitReached => Volatile.Read(ref _timeLimitGeneration) == Generation;

    /// <summary>
    /// Called by the rekey timer: the keys of <paramref name="generation"/> (read before their
    /// <see cref="KeysTimestamp"/>) outlived the time limit. A switch since then makes the mark refer to old keys.
    /// </summary>
    public void MarkTimeLimitReached(int generation) => Volatile.Write(ref _timeLimitGeneration, generation);

    /// <summary>Total packets in this direction since the connection started.</summary>
    public long TotalPackets { get; set; }

    /// <summary>Total bytes in this direction since the connection started.</summary>
    public long TotalBytes { get; set; }

    /// <summary>
    /// Counts a packet just sent or received and moves to the next sequence number.
    /// </summary>
    /// <exception cref="SshProtocolException">The sequence number wrapped before the first NEWKEYS.</exception>
    public void CountPacket(long wireBytes, string direction)
    {
        Bytes += wireBytes;
        Packets++;
        TotalBytes += wireBytes;
        TotalPackets++;
        if (++SequenceNumber == 0 && !HasPassedFirstNewKeys)
        {
            // A wrap during the initial exchange is how a Terrapin-style attacker would resynchronise the numbers
            // (CVE-2023-48795); OpenSSH treats it as fatal in every mode.
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"The {direction} sequence number wrapped during the initial key exchange.");
        }
    }

    /// <summary>Installs the pending keys: NEWKEYS was just sent or received in this direction.</summary>
    /// <param name="strictKex">Whether strict kex resets the sequence number (kex-strict-*-v00@openssh.com).</param>
    /// <param name="now">The timestamp the new keys start at.</param>
    /// <returns>False when nothing was pending.</returns>
    public bool TrySwitchKeys(bool strictKex, long now)
    {
        TProtection? next = Pending;
        if (next is null)
        {
            return false;
        }

        TProtection old = Active;
        Active = next;
        Pending = null;
        Compression = PendingCompression;
        PendingCompression = default;
        old.Dispose();
        if (strictKex)
        {
            SequenceNumber = 0;
        }

        HasPassedFirstNewKeys = true;
        Bytes = 0;
        Packets = 0;

        // The timestamp before the generation: the rekey timer reads them the other way round, so it never pairs
        // the new generation with the old keys' age.
        Volatile.Write(ref _keysTimestamp, now);
        Volatile.Write(ref _generation, _generation + 1);
        return true;
    }

    public void DisposeKeys()
    {
        Active.Dispose();
        Pending?.Dispose();
        Pending = null;
    }
}
