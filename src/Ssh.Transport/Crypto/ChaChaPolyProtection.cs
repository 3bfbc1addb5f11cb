using System.Buffers.Binary;
using System.Security.Cryptography;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Crypto;

/// <summary>
/// chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305): ChaCha20 in the original layout with the
/// sequence number as nonce, a separately keyed length, and a Poly1305 tag over the encrypted length and payload.
/// </summary>
/// <remarks>
/// Of the 64 bytes of key material (RFC 4253 §7.2, letters C/D), K_2 = the first 32 bytes encrypts the packet and
/// yields the Poly1305 key; K_1 = the last 32 bytes encrypts only the 4-byte length. For sequence number n and
/// nonce = uint64 n:
/// <list type="bullet">
/// <item>length: XOR with ChaCha20(K_1, nonce, counter 0);</item>
/// <item>Poly1305 key: the first 32 bytes of ChaCha20(K_2, nonce, counter 0);</item>
/// <item>padding_length || payload || padding: XOR with ChaCha20(K_2, nonce, counter 1, 2, ...);</item>
/// <item>tag = Poly1305(key, encrypted length || ciphertext), 16 bytes, with no RFC 8439 padding or length block.</item>
/// </list>
/// </remarks>
internal static class ChaChaPolyProtection
{
    public const string AlgorithmName = "chacha20-poly1305@openssh.com";
    public const int KeySize = 64;
    public const int TagSize = Poly1305.TagSize;

    /// <summary>OpenSSH pads to 8 bytes for this cipher (cipher.c: block size 8).</summary>
    public const int CipherBlockSize = 8;

    /// <summary>OpenSSH's default rekey volume for ciphers with blocks under 16 bytes: 1 GiB (packet.c).</summary>
    public const long MaxBytes = 1L << 30;

    /// <summary>
    /// K_2 keystream blocks 0..3, computed together (one 4-lane batch costs about one block): block 0 is the Poly1305
    /// key source, blocks 1..3 encrypt the first 192 bytes of the packet body.
    /// </summary>
    private const int HeadSize = 4 * ChaCha20.BlockSize;

    /// <summary>How many bytes of the body the head's blocks 1..3 encrypt.</summary>
    private const int HeadBodyBytes = HeadSize - ChaCha20.BlockSize;

    /// <summary>Creates the outbound protection for one set of keys.</summary>
    /// <param name="key">The 64 bytes of key material; copied.</param>
    public static PacketSealer CreateSealer(ReadOnlySpan<byte> key) => new Sealer(key);

    /// <summary>Creates the inbound protection for one set of keys.</summary>
    /// <param name="key">The 64 bytes of key material; copied.</param>
    public static PacketOpener CreateOpener(ReadOnlySpan<byte> key) => new Opener(key);

    /// <summary>
    /// Writes K_2's keystream from block 0 on, as far as <paramref name="bodyLength"/> bytes of body need it (at most
    /// <see cref="HeadSize"/> bytes); returns the length written.
    /// </summary>
    private static int KeyStreamHead(ReadOnlySpan<byte> main, uint sequenceNumber, int bodyLength, Span<byte> head)
    {
        int length = ChaCha20.BlockSize + (Math.Min(bodyLength, HeadBodyBytes) + ChaCha20.BlockSize - 1) / ChaCha20.BlockSize * ChaCha20.BlockSize;
        ChaCha20.KeyStream(main, sequenceNumber, 0, head[..length]);
        return length;
    }

    /// <summary>XORs the packet body with K_2's keystream from block 1 on: the head's blocks, then ChaCha20 from block 4.</summary>
    private static void XorBody(ReadOnlySpan<byte> main, uint sequenceNumber, ReadOnlySpan<byte> head, ReadOnlySpan<byte> body, Span<byte> destination)
    {
        ChaCha20.XorBytes(body, head.Slice(ChaCha20.BlockSize, Math.Min(body.Length, HeadBodyBytes)), destination);
        if (body.Length > HeadBodyBytes)
        {
            ChaCha20.Xor(main, sequenceNumber, HeadSize / ChaCha20.BlockSize, body[HeadBodyBytes..], destination[HeadBodyBytes..]);
        }
    }

    /// <summary>The two keys, in pinned memory (never copied by the GC) that is zeroed on dispose.</summary>
    private sealed class Keys
    {
        private readonly byte[] _key;
        private bool _disposed;

        public Keys(ReadOnlySpan<byte> key)
        {
            ArgumentOutOfRangeException.ThrowIfNotEqual(key.Length, KeySize, nameof(key));
            _key = GC.AllocateUninitializedArray<byte>(KeySize, pinned: true);
            key.CopyTo(_key);
        }

        /// <summary>K_2: payload and Poly1305 key.</summary>
        public ReadOnlySpan<byte> Main
        {
            get
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return _key.AsSpan(0, 32);
            }
        }

        /// <summary>K_1: the length only.</summary>
        public ReadOnlySpan<byte> Header
        {
            get
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return _key.AsSpan(32, 32);
            }
        }

        public void Dispose()
        {
            CryptographicOperations.ZeroMemory(_key);
            _disposed = true;
        }
    }

    private sealed class Sealer : PacketSealer
    {
        private readonly Keys _keys;

        public Sealer(ReadOnlySpan<byte> key) => _keys = new Keys(key);

        public override string Name => AlgorithmName;
        public override int BlockSize => CipherBlockSize;
        public override int TagSize => ChaChaPolyProtection.TagSize;
        public override int LengthPrefixSize => 4;
        public override bool AlignmentIncludesLengthField => false;
        public override long MaxBytesPerKey => MaxBytes;

        public override void Seal(uint sequenceNumber, Span<byte> packet, Span<byte> tag)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(packet.Length, 4, nameof(packet));
            ArgumentOutOfRangeException.ThrowIfNotEqual(tag.Length, TagSize, nameof(tag));
            ReadOnlySpan<byte> main = _keys.Main;
            Span<byte> length = packet[..4];
            ChaCha20.Xor(_keys.Header, sequenceNumber, 0, length, length);

            Span<byte> head = stackalloc byte[HeadSize];
            int headLength = KeyStreamHead(main, sequenceNumber, packet.Length - 4, head);
            XorBody(main, sequenceNumber, head, packet[4..], packet[4..]);
            Poly1305.ComputeTag(head[..Poly1305.KeySize], packet, tag);
            CryptographicOperations.ZeroMemory(head[..headLength]);
        }

        protected override void Dispose(bool disposing)
        {
            _keys.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class Opener : PacketOpener
    {
        private readonly Keys _keys;

        public Opener(ReadOnlySpan<byte> key) => _keys = new Keys(key);

        public override string Name => AlgorithmName;
        public override int BlockSize => CipherBlockSize;
        public override int TagSize => ChaChaPolyProtection.TagSize;
        public override int LengthPrefixSize => 4;
        public override bool AlignmentIncludesLengthField => false;
        public override long MaxBytesPerKey => MaxBytes;

        public override uint DecryptLength(uint sequenceNumber, ReadOnlySpan<byte> prefix)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(prefix.Length, 4, nameof(prefix));
            Span<byte> length = stackalloc byte[4];
            ChaCha20.Xor(_keys.Header, sequenceNumber, 0, prefix[..4], length);
            return BinaryPrimitives.ReadUInt32BigEndian(length);
        }

        public override bool TryOpen(uint sequenceNumber, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> tag, Span<byte> destination)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(packet.Length, 4, nameof(packet));
            ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, packet.Length - 4, nameof(destination));
            if (packet[4..].Overlaps(destination, out int offset) && offset != 0)
            {
                throw new ArgumentException("The destination must be the packet's body itself or not overlap the packet.", nameof(destination));
            }

            ReadOnlySpan<byte> main = _keys.Main;

            // The tag covers the encrypted length and ciphertext: check it before decrypting anything.
            Span<byte> head = stackalloc byte[HeadSize];
            int headLength = KeyStreamHead(main, sequenceNumber, packet.Length - 4, head);
            bool authentic = Poly1305.Verify(head[..Poly1305.KeySize], packet, tag);
            if (authentic)
            {
                XorBody(main, sequenceNumber, head, packet[4..], destination);
            }

            CryptographicOperations.ZeroMemory(head[..headLength]);
            return authentic;
        }

        protected override void Dispose(bool disposing)
        {
            _keys.Dispose();
            base.Dispose(disposing);
        }
    }
}
