namespace Ssh.Transport;

/// <summary>
/// One packet read by <see cref="SshPacketizer.ReadPacketAsync"/>, or the end of the stream.
/// </summary>
/// <remarks>
/// <see cref="Payload"/> points into the packetizer's memory (the pipe's buffer, or the buffer it decrypted into):
/// it is valid only until the next call to <see cref="SshPacketizer.ReadPacketAsync"/>. Copy what must live longer.
/// </remarks>
public readonly struct SshPacket
{
    internal SshPacket(ReadOnlyMemory<byte> payload, uint sequenceNumber, bool needRekey)
    {
        Payload = payload;
        SequenceNumber = sequenceNumber;
        NeedRekey = needRekey;
    }

    /// <summary>The payload, message number first; empty when <see cref="IsCompleted"/>.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>The message number (the first payload byte); 0 when <see cref="IsCompleted"/>.</summary>
    public byte MessageNumber => Payload.IsEmpty ? (byte)0 : Payload.Span[0];

    /// <summary>The packet's inbound sequence number (RFC 4253 §6.4).</summary>
    public uint SequenceNumber { get; }

    /// <summary>
    /// True when a byte, packet or time limit of either direction has been reached and a key exchange should start
    /// (the need_rekey of paramiko's Packetizer, as a flag rather than an exception).
    /// </summary>
    public bool NeedRekey { get; }

    /// <summary>True when the peer closed the connection cleanly between packets; no payload then.</summary>
    public bool IsCompleted => Payload.IsEmpty;
}

/// <summary>
/// The outcome of writing one packet.
/// </summary>
public readonly struct SshWriteResult
{
    internal SshWriteResult(uint sequenceNumber, bool needRekey)
    {
        SequenceNumber = sequenceNumber;
        NeedRekey = needRekey;
    }

    /// <summary>The packet's outbound sequence number.</summary>
    public uint SequenceNumber { get; }

    /// <summary>True when a rekey limit has been reached; see <see cref="SshPacket.NeedRekey"/>.</summary>
    public bool NeedRekey { get; }
}

/// <summary>
/// Writes a packet's payload, message number first, straight into the packet's memory.
/// </summary>
/// <typeparam name="TState">Whatever the payload is made from; pass a struct or a static lambda to avoid allocating.</typeparam>
/// <param name="payload">Where the payload goes; see <see cref="SshWriter"/> for the RFC 4251 data types.</param>
/// <param name="state">The caller's state.</param>
public delegate void SshPayloadWriter<in TState>(System.Buffers.IBufferWriter<byte> payload, TState state);

/// <summary>
/// Which end of the connection this side is.
/// </summary>
public enum SshRole
{
    /// <summary>The side that connected.</summary>
    Client,

    /// <summary>The side that accepted.</summary>
    Server,
}

/// <summary>Writes payload <paramref name="index"/> of a batch of packets of one payload length, message number first.</summary>
/// <typeparam name="TState">The caller's state.</typeparam>
/// <param name="payload">Where the payload goes: exactly the batch's payload length.</param>
/// <param name="state">The caller's state.</param>
/// <param name="index">Which payload of the batch, from 0.</param>
internal delegate void SshBatchPayloadWriter<in TState>(System.Buffers.IBufferWriter<byte> payload, TState state, int index);
