using System.Buffers.Binary;
using System.Security.Cryptography;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Crypto;

/// <summary>
/// aes128-gcm@openssh.com and aes256-gcm@openssh.com: AES-GCM as RFC 5647 defines it for SSH and as OpenSSH uses
/// it (PROTOCOL §1.6, where the MAC negotiated alongside is ignored).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Nonce (RFC 5647 §7.1): the 12-byte IV from the key exchange, fixed field (4 bytes) || invocation counter
/// (8 bytes, big-endian). The counter is incremented after every packet, mod 2^64; the fixed field never changes.</item>
/// <item>The 4-byte packet_length is sent in clear and is the associated data (§7.3); padding_length || payload ||
/// padding is encrypted; the 16-byte tag follows (§7.2). Block size 16, and packet_length alone is aligned (§7.2).</item>
/// <item>Rekey limit: OpenSSH's default for 16-byte-block ciphers, 2^32 blocks (RFC 4344 §3.2).</item>
/// </list>
/// </remarks>
internal static class AesGcmProtection
{
    public const int NonceSize = 12;
    public const int TagLength = 16;
    private const int GcmBlockSize = 16;
    private const long RekeyBytes = (1L << 32) * GcmBlockSize;

    /// <summary>Creates the outbound side.</summary>
    /// <param name="key">16 bytes (aes128-gcm@openssh.com) or 32 bytes (aes256-gcm@openssh.com).</param>
    /// <param name="iv12">The 12-byte IV derived by the key exchange: the initial nonce.</param>
    /// <param name="useBcl">Use the BCL's <see cref="AesGcm"/> even where our AES-NI implementation runs (tests, benchmarks).</param>
    public static PacketSealer CreateSealer(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv12, bool useBcl = false) => new Sealer(key, iv12, useBcl);

    /// <summary>Creates the inbound side.</summary>
    /// <param name="key">16 or 32 bytes.</param>
    /// <param name="iv12">The 12-byte IV derived by the key exchange: the initial nonce.</param>
    /// <param name="useBcl">Use the BCL's <see cref="AesGcm"/> even where our AES-NI implementation runs (tests, benchmarks).</param>
    public static PacketOpener CreateOpener(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv12, bool useBcl = false) => new Opener(key, iv12, useBcl);

    private static string NameOf(ReadOnlySpan<byte> key) => key.Length switch
    {
        16 => "aes128-gcm@openssh.com",
        32 => "aes256-gcm@openssh.com",
        _ => throw new ArgumentException("An aes-gcm@openssh.com key is 16 or 32 bytes.", nameof(key)),
    };

    /// <summary>
    /// The cipher state both directions share: the AES-GCM implementation and the nonce. Our AES-NI/PCLMULQDQ
    /// <see cref="AesGcmNi"/> where the hardware has it (about ten times faster than the BCL's <see cref="AesGcm"/>
    /// for a small packet, whose every call re-initializes an OpenSSL context), the BCL otherwise. Both compute the
    /// same function; tests hold them to each other byte for byte.
    /// </summary>
    private sealed class State : IDisposable
    {
        private readonly byte[] _nonce = new byte[NonceSize];
        private readonly AesGcmNi? _own;
        private readonly AesGcm? _bcl;

        public State(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv12, bool useBcl)
        {
            Name = NameOf(key);
            if (iv12.Length != NonceSize)
            {
                throw new ArgumentException("The aes-gcm@openssh.com IV is 12 bytes.", nameof(iv12));
            }

            iv12.CopyTo(_nonce);
            if (useBcl || !AesGcmNi.IsSupported)
            {
                _bcl = new AesGcm(key, TagLength);
            }
            else
            {
                _own = new AesGcmNi(key);
            }
        }

        public string Name { get; }

        /// <summary>The implementation in use, for tests and logs.</summary>
        public bool IsOwnImplementation => _own is not null;

        public void Encrypt(Span<byte> body, Span<byte> tag, ReadOnlySpan<byte> associatedData)
        {
            if (_own is not null)
            {
                _own.Encrypt(_nonce, body, body, tag, associatedData);
            }
            else
            {
                _bcl!.Encrypt(_nonce, body, body, tag, associatedData);
            }
        }

        /// <summary>Encrypts body in place with body[1 ..] (after padding_length) read from <paramref name="payload"/>.</summary>
        public void EncryptWithInsert(Span<byte> body, ReadOnlySpan<byte> payload, Span<byte> tag, ReadOnlySpan<byte> associatedData) =>
            _own!.EncryptWithInsert(_nonce, body, 1, payload, tag, associatedData);

        /// <summary>Verifies the tag over length || ciphertext before releasing anything.</summary>
        public bool TryDecrypt(ReadOnlySpan<byte> body, ReadOnlySpan<byte> tag, Span<byte> destination, ReadOnlySpan<byte> associatedData)
        {
            if (_own is not null)
            {
                return _own.TryDecrypt(_nonce, body, tag, destination, associatedData);
            }

            try
            {
                // The BCL zeroes destination on failure.
                _bcl!.Decrypt(_nonce, body, tag, destination, associatedData);
                return true;
            }
            catch (AuthenticationTagMismatchException)
            {
                return false;
            }
        }

        /// <summary>RFC 5647 §7.1: invocation_counter += 1 (the last 8 bytes only, wrapping).</summary>
        public void Advance()
        {
            Span<byte> counter = _nonce.AsSpan(4);
            BinaryPrimitives.WriteUInt64BigEndian(counter, unchecked(BinaryPrimitives.ReadUInt64BigEndian(counter) + 1));
        }

        public void Dispose()
        {
            CryptographicOperations.ZeroMemory(_nonce);
            _own?.Dispose();
            _bcl?.Dispose();
        }
    }

    private sealed class Sealer : PacketSealer
    {
        private readonly State _state;

        public Sealer(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv12, bool useBcl) => _state = new State(key, iv12, useBcl);

        public override string Name => _state.Name;
        public override int BlockSize => GcmBlockSize;
        public override int TagSize => TagLength;
        public override bool AlignmentIncludesLengthField => false;
        public override long MaxBytesPerKey => RekeyBytes;

        public override void Seal(uint sequenceNumber, Span<byte> packet, Span<byte> tag)
        {
            if (packet.Length < 4)
            {
                throw new ArgumentException("A packet starts with its 4-byte length.", nameof(packet));
            }

            // The sequence number plays no part: the invocation counter is the nonce (RFC 5647 §7.1).
            Span<byte> body = packet[4..];
            _state.Encrypt(body, tag[..TagLength], packet[..4]);
            _state.Advance();
        }

        /// <summary>Our implementation encrypts the payload straight from the caller's memory into the packet.</summary>
        public override bool CanSealFrom => _state.IsOwnImplementation;

        public override void SealFrom(uint sequenceNumber, Span<byte> packet, ReadOnlySpan<byte> payload, Span<byte> tag)
        {
            if (!_state.IsOwnImplementation)
            {
                base.SealFrom(sequenceNumber, packet, payload, tag);
                return;
            }

            _state.EncryptWithInsert(packet[4..], payload, tag[..TagLength], packet[..4]);
            _state.Advance();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _state.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private sealed class Opener : PacketOpener
    {
        private readonly State _state;

        public Opener(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv12, bool useBcl) => _state = new State(key, iv12, useBcl);

        public override string Name => _state.Name;
        public override int BlockSize => GcmBlockSize;
        public override int TagSize => TagLength;
        public override bool AlignmentIncludesLengthField => false;
        public override long MaxBytesPerKey => RekeyBytes;

        /// <summary>The length is in clear (RFC 5647 §7.3), authenticated later as the associated data.</summary>
        public override uint DecryptLength(uint sequenceNumber, ReadOnlySpan<byte> prefix) =>
            BinaryPrimitives.ReadUInt32BigEndian(prefix);

        public override bool TryOpen(uint sequenceNumber, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> tag, Span<byte> destination)
        {
            ReadOnlySpan<byte> body = packet[4..];
            if (destination.Length != body.Length || tag.Length != TagLength)
            {
                throw new ArgumentException("The destination must be packet_length bytes and the tag 16 bytes.");
            }

            if (body.Overlaps(destination, out int offset) && offset != 0)
            {
                throw new ArgumentException("The destination must be packet[4..] itself or not overlap the packet.", nameof(destination));
            }

            if (!_state.TryDecrypt(body, tag, destination, packet[..4]))
            {
                // The counter stays: the connection ends anyway, and a packet that failed changes no state.
                return false;
            }

            _state.Advance();
            return true;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _state.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
