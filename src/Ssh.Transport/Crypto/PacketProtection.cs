namespace Ssh.Transport.Crypto;

/// <summary>
/// The protection of one direction of an SSH connection (RFC 4253 §6): encryption, integrity, or both.
/// One instance serves exactly one direction for the life of one set of keys.
/// </summary>
/// <remarks>
/// <para>
/// The four constructions of SSH fit this one shape:
/// </para>
/// <list type="table">
/// <item><term>AEAD, length in clear (aes*-gcm@openssh.com)</term><description><see cref="LengthPrefixSize"/> 4,
/// the length is associated data; <see cref="AlignmentIncludesLengthField"/> false.</description></item>
/// <item><term>AEAD, separate length key (chacha20-poly1305@openssh.com)</term><description><see cref="LengthPrefixSize"/>
/// 4, decrypted by <see cref="PacketOpener.DecryptLength"/> with K_1; alignment excludes the length.</description></item>
/// <item><term>Encrypt-then-MAC (*-etm@openssh.com)</term><description>Length in clear, authenticated by the MAC;
/// alignment excludes the length; the MAC is verified before anything is decrypted.</description></item>
/// <item><term>MAC-then-encrypt (aes*-ctr, *-cbc with hmac-*)</term><description>The length lives in the first
/// encrypted block, so <see cref="LengthPrefixSize"/> is the cipher block size: the opener decrypts that block in
/// <see cref="PacketOpener.DecryptLength"/> and keeps it for <see cref="PacketOpener.TryOpen"/>; alignment includes
/// the length field.</description></item>
/// </list>
/// <para>
/// Implementations own their key material and zero it in <see cref="Dispose()"/>. They are not thread-safe: the
/// packetizer calls each instance from one direction's (serialized) path only.
/// </para>
/// </remarks>
internal abstract class PacketProtection : IDisposable
{
    /// <summary>The algorithm name(s), for logs, e.g. "aes128-ctr hmac-sha2-256-etm@openssh.com".</summary>
    public abstract string Name { get; }

    /// <summary>The cipher block size that padding aligns to; never below 8 (RFC 4253 §6).</summary>
    public abstract int BlockSize { get; }

    /// <summary>The number of bytes that follow each packet: the MAC or the AEAD tag; 0 for none.</summary>
    public abstract int TagSize { get; }

    /// <summary>
    /// How many bytes from the start of a packet the opener needs to learn packet_length: 4 when the length is in
    /// clear or separately encrypted, the cipher block size when it is part of the first encrypted block.
    /// </summary>
    public virtual int LengthPrefixSize => 4;

    /// <summary>
    /// True when 4 + packet_length must be a multiple of <see cref="BlockSize"/> (none and MAC-then-encrypt); false
    /// when packet_length alone must be (AEAD and EtM, whose length is not part of the encrypted stream).
    /// </summary>
    public abstract bool AlignmentIncludesLengthField { get; }

    /// <summary>
    /// True when packets pass unprotected (the "none" cipher before the first NEWKEYS): the reader may hand out the
    /// received bytes as they are, with no copy.
    /// </summary>
    public virtual bool IsPassThrough => false;

    /// <summary>
    /// The most bytes this construction should protect under one key before a rekey (OpenSSH's defaults); the
    /// packetizer applies the smaller of this and the configured limit.
    /// </summary>
    public virtual long MaxBytesPerKey => long.MaxValue;

    /// <summary>Zeroes key material and releases native resources.</summary>
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Zeroes key material and releases native resources.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }
}

/// <summary>
/// Outbound protection: seals packets in place, in the memory they will be sent from.
/// </summary>
internal abstract class PacketSealer : PacketProtection
{
    /// <summary>
    /// Protects one packet in place.
    /// </summary>
    /// <param name="sequenceNumber">The packet's sequence number (RFC 4253 §6.4).</param>
    /// <param name="packet">
    /// uint32 packet_length || byte padding_length || payload || padding, in plaintext, already aligned and with
    /// the length written. Encrypted in place; for AEAD and EtM the first 4 bytes stay in clear (chacha encrypts
    /// them with K_1).
    /// </param>
    /// <param name="tag">Receives exactly <see cref="PacketProtection.TagSize"/> bytes: the MAC or tag. In the
    /// packetizer it directly follows <paramref name="packet"/>; implementations must not rely on that.</param>
    public abstract void Seal(uint sequenceNumber, Span<byte> packet, Span<byte> tag);

    /// <summary>Packets whose tags <see cref="SealBatch"/> computed together (for tests and diagnostics).</summary>
    public long PacketsSealedInBatches { get; protected set; }

    /// <summary>True when <see cref="SealBatch"/> seals packets of one length faster together than one at a time.</summary>
    public virtual bool SealsInBatches => false;

    /// <summary>
    /// Seals packets of one length that lie in <paramref name="packets"/>, as <see cref="Seal"/> would one after
    /// another: packet i at offsets[i], its 4 + packet_length bytes (<paramref name="packetSize"/>) then room for the tag.
    /// </summary>
    /// <param name="firstSequenceNumber">The first packet's sequence number; the others follow it.</param>
    /// <param name="packets">The memory that holds them.</param>
    /// <param name="offsets">Where each packet starts, in sending order.</param>
    /// <param name="packetSize">4 + packet_length, the same for all.</param>
    public virtual void SealBatch(uint firstSequenceNumber, Span<byte> packets, ReadOnlySpan<int> offsets, int packetSize)
    {
        for (int i = 0; i < offsets.Length; i++)
        {
            Span<byte> packet = packets.Slice(offsets[i], packetSize + TagSize);
            Seal(firstSequenceNumber + (uint)i, packet[..packetSize], packet[packetSize..]);
        }
    }

    /// <summary>
    /// True when <see cref="SealFrom"/> reads the payload from the caller's memory while encrypting, so a payload
    /// the caller already holds reaches the pipe as ciphertext without first being copied there in plaintext.
    /// </summary>
    public virtual bool CanSealFrom => false;

    /// <summary>
    /// As <see cref="Seal"/>, with packet[5 .. 5 + payload.Length) taken from <paramref name="payload"/> (its
    /// contents in <paramref name="packet"/> are ignored and overwritten).
    /// </summary>
    /// <param name="sequenceNumber">The packet's sequence number.</param>
    /// <param name="packet">The packet with length, padding_length and padding written; the payload bytes are not.</param>
    /// <param name="payload">The payload; must not overlap <paramref name="packet"/>.</param>
    /// <param name="tag">Receives the tag.</param>
    public virtual void SealFrom(uint sequenceNumber, Span<byte> packet, ReadOnlySpan<byte> payload, Span<byte> tag)
    {
        payload.CopyTo(packet[5..]);
        Seal(sequenceNumber, packet, tag);
    }
}

/// <summary>
/// Inbound protection: learns the length of a packet from its first bytes, then verifies and decrypts it.
/// </summary>
/// <remarks>
/// <para>The reader calls, for every packet, exactly:</para>
/// <list type="number">
/// <item><see cref="DecryptLength"/> once, as soon as <see cref="PacketProtection.LengthPrefixSize"/> bytes have
/// arrived. A MAC-then-encrypt opener decrypts the whole first block here, advances its keystream or CBC state past
/// it, and keeps the plaintext block until <see cref="TryOpen"/>: the block is never decrypted twice. If the rest of
/// the packet has not arrived yet the reader keeps the returned length and waits; it does not call
/// <see cref="DecryptLength"/> again for the same packet.</item>
/// <item><see cref="TryOpen"/> once, when all 4 + packet_length + <see cref="PacketProtection.TagSize"/> bytes
/// are there.</item>
/// </list>
/// <para>
/// The reader owns every buffer passed in; an opener keeps no reference to them after the call returns.
/// </para>
/// </remarks>
internal abstract class PacketOpener : PacketProtection
{
    /// <summary>
    /// Returns packet_length from the first <see cref="PacketProtection.LengthPrefixSize"/> bytes of a packet.
    /// </summary>
    /// <param name="sequenceNumber">The packet's sequence number.</param>
    /// <param name="prefix">Exactly <see cref="PacketProtection.LengthPrefixSize"/> bytes as received.</param>
    /// <returns>The packet length, not yet checked against any limit: the reader checks it.</returns>
    public abstract uint DecryptLength(uint sequenceNumber, ReadOnlySpan<byte> prefix);

    /// <summary>
    /// Verifies and decrypts the packet whose length <see cref="DecryptLength"/> returned.
    /// </summary>
    /// <param name="sequenceNumber">The packet's sequence number.</param>
    /// <param name="packet">The 4 + packet_length bytes as received (length field included).</param>
    /// <param name="tag">The <see cref="PacketProtection.TagSize"/> bytes that followed.</param>
    /// <param name="destination">
    /// packet_length bytes that receive padding_length || payload || padding. Either the very memory of
    /// <paramref name="packet"/> after its length field (decryption in place) or memory that does not overlap it.
    /// </param>
    /// <returns>
    /// False when the packet fails authentication. For AEAD and EtM nothing has then been decrypted; in every case
    /// the caller must treat <paramref name="destination"/> as garbage and end the connection.
    /// </returns>
    public abstract bool TryOpen(uint sequenceNumber, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> tag, Span<byte> destination);

    /// <summary>True when <see cref="VerifyAhead"/> can authenticate several packets at once.</summary>
    public virtual bool VerifiesAhead => false;

    /// <summary>Packets opened with a tag computed by <see cref="VerifyAhead"/> (for tests and diagnostics).</summary>
    public long PacketsVerifiedAhead { get; protected set; }

    /// <summary>
    /// Computes, at once, the tags of the packet at the start of <paramref name="received"/> and of the whole packets
    /// of the same length right after it, for <see cref="TryOpenVerifiedAhead"/> to check. Computes nothing when
    /// there are too few for a batch to pay.
    /// </summary>
    /// <param name="sequenceNumber">The sequence number of the first packet.</param>
    /// <param name="received">The bytes received from that packet's start on, as far as they are contiguous.</param>
    /// <returns>How many packets, from the first on, have their tags computed; 0 for none.</returns>
    public virtual int VerifyAhead(uint sequenceNumber, ReadOnlySpan<byte> received) => 0;

    /// <summary>
    /// How many whole packets of the first one's length lie at the start of <paramref name="received"/>, up to a
    /// batch's worth: what <see cref="VerifyAhead"/> would take, counted without computing anything. 0 when this
    /// opener does not verify ahead or the first packet is too short to batch.
    /// </summary>
    /// <param name="received">The bytes received from a packet's start on, as far as they are contiguous.</param>
    public virtual int CountAhead(ReadOnlySpan<byte> received) => 0;

    /// <summary>
    /// As <see cref="TryOpen"/>, for a packet whose tag the last <see cref="VerifyAhead"/> computed: the caller
    /// guarantees these are the very bytes it was given there (same memory, unchanged). Other sequence numbers are
    /// opened as by <see cref="TryOpen"/>.
    /// </summary>
    /// <param name="sequenceNumber">The packet's sequence number.</param>
    /// <param name="packet">The 4 + packet_length bytes as received.</param>
    /// <param name="tag">The tag that followed.</param>
    /// <param name="destination">As for <see cref="TryOpen"/>.</param>
    /// <returns>As for <see cref="TryOpen"/>.</returns>
    public virtual bool TryOpenVerifiedAhead(uint sequenceNumber, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> tag, Span<byte> destination) =>
        TryOpen(sequenceNumber, packet, tag, destination);

    /// <summary>
    /// True for CBC constructions, whose decrypted length an attacker can probe (the Albrecht-Paterson-Watson attack):
    /// on a bogus length the reader does not fail at once but, like OpenSSH, discards input up to the packet cap,
    /// calls <see cref="ComputeDiscardMac"/> over it, and only then fails with a MAC error.
    /// </summary>
    public virtual bool DiscardsOnBadLength => false;

    /// <summary>
    /// Computes (and throws away) a MAC over discarded bytes, so that a bogus length costs the time of a MAC check.
    /// </summary>
    /// <param name="sequenceNumber">The sequence number of the bogus packet.</param>
    /// <param name="data">The discarded bytes (the reader may pass them in several calls).</param>
    public virtual void ComputeDiscardMac(uint sequenceNumber, ReadOnlySpan<byte> data)
    {
    }
}
