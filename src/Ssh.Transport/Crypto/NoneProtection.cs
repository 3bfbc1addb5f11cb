using System.Buffers.Binary;

namespace Ssh.Transport.Crypto;

/// <summary>
/// The "none" cipher and MAC (RFC 4253 §6.3, §6.4): the protection of every connection until the first NEWKEYS.
/// </summary>
internal static class NoneProtection
{
    /// <summary>RFC 4253 §6: the block size is 8 when the cipher has none.</summary>
    public const int BlockSize = 8;

    public static PacketSealer CreateSealer() => new Sealer();

    public static PacketOpener CreateOpener() => new Opener();

    private sealed class Sealer : PacketSealer
    {
        public override string Name => "none";
        public override int BlockSize => NoneProtection.BlockSize;
        public override int TagSize => 0;
        public override bool AlignmentIncludesLengthField => true;
        public override bool IsPassThrough => true;

        public override void Seal(uint sequenceNumber, Span<byte> packet, Span<byte> tag)
        {
        }
    }

    private sealed class Opener : PacketOpener
    {
        public override string Name => "none";
        public override int BlockSize => NoneProtection.BlockSize;
        public override int TagSize => 0;
        public override bool AlignmentIncludesLengthField => true;
        public override bool IsPassThrough => true;

        public override uint DecryptLength(uint sequenceNumber, ReadOnlySpan<byte> prefix) =>
            BinaryPrimitives.ReadUInt32BigEndian(prefix);

        public override bool TryOpen(uint sequenceNumber, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> tag, Span<byte> destination)
        {
            ReadOnlySpan<byte> body = packet[4..];
            if (!body.Overlaps(destination))
            {
                body.CopyTo(destination);
            }

            return true;
        }
    }
}
