using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Ssh.Transport.Benchmarks;

/// <summary>Two pipe ends as one duplex pipe: a packetizer's transport in the benchmarks.</summary>
internal sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;
}

/// <summary>Raw packets under the "none" protection, as they arrive on the wire.</summary>
internal static class NonePackets
{
    /// <summary>
    /// <paramref name="count"/> packets side by side, each carrying <paramref name="payload"/> with the minimal padding
    /// (RFC 4253 §6: 4 to 11 bytes aligning the packet to 8).
    /// </summary>
    public static byte[] Build(ReadOnlySpan<byte> payload, int count = 1)
    {
        int padding = 8 - ((5 + payload.Length) % 8);
        padding = padding < 4 ? padding + 8 : padding;
        int packetLength = 5 + payload.Length + padding;
        var packets = new byte[packetLength * count];
        for (int i = 0; i < count; i++)
        {
            Span<byte> packet = packets.AsSpan(i * packetLength, packetLength);
            BinaryPrimitives.WriteUInt32BigEndian(packet, (uint)(packetLength - 4));
            packet[4] = (byte)padding;
            payload.CopyTo(packet[5..]);
        }

        return packets;
    }
}
