using System.Buffers.Binary;
using System.Security.Cryptography;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Crypto;

/// <summary>The non-AEAD ciphers SSH negotiates; the key length picks the AES variant.</summary>
internal enum SshCipherKind
{
    /// <summary>aes128-ctr, aes192-ctr, aes256-ctr (RFC 4344 §4): 16-byte IV.</summary>
    AesCtr,

    /// <summary>aes128-cbc, aes192-cbc, aes256-cbc (RFC 4253 §6.3): 16-byte IV. Legacy.</summary>
    AesCbc,

    /// <summary>3des-cbc (RFC 4253 §6.3): 24-byte key, 8-byte IV. Legacy.</summary>
    TripleDesCbc,
}

/// <summary>The HMACs SSH negotiates (RFC 4253 §6.4, RFC 6668), plain or -etm@openssh.com.</summary>
internal enum SshMacKind
{
    /// <summary>hmac-sha1: 20-byte key, 20-byte MAC.</summary>
    HmacSha1,

    /// <summary>hmac-sha2-256: 32-byte key, 32-byte MAC.</summary>
    HmacSha256,

    /// <summary>hmac-sha2-512: 64-byte key, 64-byte MAC.</summary>
    HmacSha512,
}

/// <summary>
/// A non-AEAD cipher composed with a MAC (an HMAC, or UMAC whose nonce is the sequence number), in either of SSH's
/// two orders:
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>MAC-then-encrypt (RFC 4253 §6.3, §6.4): mac = MAC(seqnr || plaintext packet, length field included); the
/// whole packet, length included, is encrypted, so the opener decrypts the first block to learn the length
/// (<see cref="PacketProtection.LengthPrefixSize"/> = the cipher block) and keeps it; 4 + packet_length is
/// aligned.</item>
/// <item>Encrypt-then-MAC (*-etm@openssh.com, OpenSSH PROTOCOL §1.5): packet_length in clear, the rest encrypted,
/// mac = MAC(seqnr || packet_length || ciphertext), verified before anything is decrypted; packet_length alone is
/// aligned.</item>
/// </list>
/// <para>
/// With UMAC, "MAC(seqnr || data)" means UMAC(key, data) with the sequence number as its 64-bit nonce (OpenSSH
/// mac.c); HMAC hashes it as a uint32 prefix (RFC 4253 §6.4).
/// </para>
/// <para>
/// Rekey limits are OpenSSH's defaults (RFC 4344 §3.2): 2^32 blocks for 16-byte-block ciphers, 1 GiB for 3DES.
/// Nothing is allocated per packet in either direction.
/// </para>
/// </remarks>
internal static class CipherMacProtection
{
    /// <summary>Creates the outbound side.</summary>
    /// <param name="kind">The cipher.</param>
    /// <param name="key">The cipher key: 16/24/32 bytes for AES, 24 for 3DES.</param>
    /// <param name="iv">The IV: 16 bytes for AES (for CTR the initial counter), 8 for 3DES.</param>
    /// <param name="mac">The MAC.</param>
    /// <param name="macKey">The MAC key: as long as the MAC (20, 32, 64 bytes).</param>
    /// <param name="etm">True for the -etm@openssh.com form.</param>
    public static PacketSealer CreateSealer(SshCipherKind kind, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, SshMacKind mac, ReadOnlySpan<byte> macKey, bool etm)
    {
        SshMac hmac = CreateHmac(mac, macKey);
        return new Sealer(CreateCipher(kind, key, iv, hmac, encrypt: true), hmac, etm);
    }

    /// <summary>Creates the inbound side.</summary>
    /// <param name="kind">The cipher.</param>
    /// <param name="key">The cipher key: 16/24/32 bytes for AES, 24 for 3DES.</param>
    /// <param name="iv">The IV: 16 bytes for AES (for CTR the initial counter), 8 for 3DES.</param>
    /// <param name="mac">The MAC.</param>
    /// <param name="macKey">The MAC key: as long as the MAC (20, 32, 64 bytes).</param>
    /// <param name="etm">True for the -etm@openssh.com form.</param>
    public static PacketOpener CreateOpener(SshCipherKind kind, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, SshMacKind mac, ReadOnlySpan<byte> macKey, bool etm)
    {
        SshMac hmac = CreateHmac(mac, macKey);
        return new Opener(CreateCipher(kind, key, iv, hmac, encrypt: false), hmac, etm);
    }

    /// <summary>Creates the outbound side with any MAC of the table (HMAC or UMAC), in the form the table names.</summary>
    /// <param name="kind">The cipher.</param>
    /// <param name="key">The cipher key.</param>
    /// <param name="iv">The IV.</param>
    /// <param name="mac">The negotiated MAC.</param>
    /// <param name="macKey">The MAC key: <see cref="MacAlgorithm.KeySize"/> bytes.</param>
    public static PacketSealer CreateSealer(SshCipherKind kind, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, MacAlgorithm mac, ReadOnlySpan<byte> macKey)
    {
        SshMac created = mac.CreateMac(macKey);
        return new Sealer(CreateCipher(kind, key, iv, created, encrypt: true), created, mac.IsEtm);
    }

    /// <summary>Creates the inbound side with any MAC of the table (HMAC or UMAC), in the form the table names.</summary>
    /// <param name="kind">The cipher.</param>
    /// <param name="key">The cipher key.</param>
    /// <param name="iv">The IV.</param>
    /// <param name="mac">The negotiated MAC.</param>
    /// <param name="macKey">The MAC key: <see cref="MacAlgorithm.KeySize"/> bytes.</param>
    public static PacketOpener CreateOpener(SshCipherKind kind, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, MacAlgorithm mac, ReadOnlySpan<byte> macKey)
    {
        SshMac created = mac.CreateMac(macKey);
        return new Opener(CreateCipher(kind, key, iv, created, encrypt: false), created, mac.IsEtm);
    }

    /// <summary>Wraps an existing cipher and MAC (tests: e.g. a CTR with a forced XOR path); takes ownership.</summary>
    internal static PacketSealer CreateSealer(SshCipher cipher, SshMac mac, bool etm) => new Sealer(cipher, mac, etm);

    /// <summary>Wraps an existing cipher and MAC; takes ownership.</summary>
    internal static PacketOpener CreateOpener(SshCipher cipher, SshMac mac, bool etm) => new Opener(cipher, mac, etm);

    private static SshHmac CreateHmac(SshMacKind mac, ReadOnlySpan<byte> macKey)
    {
        if (macKey.Length != SshHmac.KeySize(mac))
        {
            throw new ArgumentException($"The {mac} key is {SshHmac.KeySize(mac)} bytes.", nameof(macKey));
        }

        return new SshHmac(mac, macKey);
    }

    /// <summary>Creates the cipher; takes ownership of <paramref name="mac"/> (disposed when the cipher cannot be made).</summary>
    private static SshCipher CreateCipher(SshCipherKind kind, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, SshMac mac, bool encrypt)
    {
        try
        {
            return kind switch
            {
                SshCipherKind.AesCtr => new AesCtr(key, iv),
                SshCipherKind.AesCbc => CbcCipher.CreateAes(key, iv, encrypt),
                SshCipherKind.TripleDesCbc => CbcCipher.CreateTripleDes(key, iv, encrypt),
                _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown cipher."),
            };
        }
        catch
        {
            mac.Dispose();
            throw;
        }
    }

    private static string NameOf(SshCipher cipher, SshMac mac, bool etm) => $"{cipher.Name} {mac.NameFor(etm)}";

    /// <summary>OpenSSH's rekey default (RFC 4344 §3.2): 2^32 blocks for 16-byte blocks, 1 GiB for 8-byte blocks.</summary>
    private static long MaxBytesOf(SshCipher cipher) => cipher.BlockSize >= 16 ? (1L << 32) * cipher.BlockSize : 1L << 30;

    private sealed class Sealer : PacketSealer
    {
        private readonly SshCipher _cipher;
        private readonly SshMac _mac;
        private readonly bool _etm;
        private readonly string _name;

        // EtM with hmac-sha2-256 on AVX-512: tags of up to sixteen packets at once (SealBatch).
        private readonly HmacSha256x16? _batch;
        private readonly byte[]? _batchTags;

        public Sealer(SshCipher cipher, SshMac mac, bool etm)
        {
            _cipher = cipher;
            _mac = mac;
            _etm = etm;
            _name = NameOf(cipher, mac, etm);
            if (etm && mac is SshHmac { Batch: { } batch })
            {
                _batch = batch;
                _batchTags = new byte[HmacSha256x16.Lanes * HmacSha256x16.MacSize];
            }
        }

        public override bool SealsInBatches => _batch is not null;

        /// <summary>PROTOCOL §1.5 for each packet (encrypt all but the length), then the tags of up to sixteen at once.</summary>
        public override void SealBatch(uint firstSequenceNumber, Span<byte> packets, ReadOnlySpan<int> offsets, int packetSize)
        {
            if (_batch is null)
            {
                base.SealBatch(firstSequenceNumber, packets, offsets, packetSize);
                return;
            }

            for (int start = 0; start < offsets.Length; start += HmacSha256x16.Lanes)
            {
                ReadOnlySpan<int> group = offsets.Slice(start, Math.Min(HmacSha256x16.Lanes, offsets.Length - start));
                foreach (int offset in group)
                {
                    Span<byte> body = packets.Slice(offset + 4, packetSize - 4);
                    _cipher.Transform(body, body);
                }

                _batch.Compute(firstSequenceNumber + (uint)start, packets, group, packetSize, _batchTags);
                PacketsSealedInBatches += group.Length;
                for (int i = 0; i < group.Length; i++)
                {
                    _batchTags.AsSpan(i * HmacSha256x16.MacSize, HmacSha256x16.MacSize).CopyTo(packets[(group[i] + packetSize)..]);
                }
            }
        }

        public override string Name => _name;
        public override int BlockSize => Math.Max(8, _cipher.BlockSize);
        public override int TagSize => _mac.Size;
        public override bool AlignmentIncludesLengthField => !_etm;
        public override long MaxBytesPerKey => MaxBytesOf(_cipher);

        public override void Seal(uint sequenceNumber, Span<byte> packet, Span<byte> tag)
        {
            if (packet.Length < 4)
            {
                throw new ArgumentException("A packet starts with its 4-byte length.", nameof(packet));
            }

            if (_etm)
            {
                // PROTOCOL §1.5: encrypt all but the length, then MAC seqnr || length || ciphertext.
                Span<byte> body = packet[4..];
                _cipher.Transform(body, body);
                _mac.Compute(sequenceNumber, packet, default, tag[.._mac.Size]);
            }
            else
            {
                // RFC 4253 §6.4: MAC the plaintext packet (length included), then encrypt all of it.
                _mac.Compute(sequenceNumber, packet, default, tag[.._mac.Size]);
                _cipher.Transform(packet, packet);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _cipher.Dispose();
                _mac.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private sealed class Opener : PacketOpener
    {
        private readonly SshCipher _cipher;
        private readonly SshMac _mac;
        private readonly bool _etm;
        private readonly string _name;
        private readonly bool _isCbc;
        private readonly int _cipherBlock;

        /// <summary>The fewest packets <see cref="VerifyAhead"/> hashes together (<see cref="HmacSha256x16.MinLanesWorthIt"/>).</summary>
        internal const int MinPacketsAhead = HmacSha256x16.MinLanesWorthIt;

        /// <summary>The shortest packet batched; per-batch work (transposes, copies of edges) dominates below it.</summary>
        internal const int MinPacketLengthAhead = 1024;

        /// <summary>MtE: the first block, decrypted by <see cref="DecryptLength"/> and kept for <see cref="TryOpen"/>.</summary>
        private readonly byte[] _firstBlock;
        private bool _hasFirstBlock;

        // EtM with hmac-sha2-256 on AVX-512: tags of up to sixteen packets computed by VerifyAhead.
        private readonly HmacSha256x16? _batch;
        private readonly byte[]? _aheadTags;
        private readonly int[]? _aheadOffsets;
        private uint _aheadFirst;
        private int _aheadCount;

        public Opener(SshCipher cipher, SshMac mac, bool etm)
        {
            _cipher = cipher;
            _mac = mac;
            _etm = etm;
            _name = NameOf(cipher, mac, etm);
            _isCbc = cipher is CbcCipher;
            _cipherBlock = cipher.BlockSize;
            _firstBlock = new byte[_cipherBlock];
            if (etm && mac is SshHmac { Batch: { } batch })
            {
                _batch = batch;
                _aheadTags = new byte[HmacSha256x16.Lanes * HmacSha256x16.MacSize];
                _aheadOffsets = new int[HmacSha256x16.Lanes];
            }
        }

        public override bool VerifiesAhead => _batch is not null;

        /// <summary>
        /// EtM sends packet_length in clear (PROTOCOL §1.5), so the packets that follow can be found without
        /// decrypting anything; bulk data comes as packets of one length, which is what the lanes need.
        /// </summary>
        public override int VerifyAhead(uint sequenceNumber, ReadOnlySpan<byte> received)
        {
            _aheadCount = 0;
            int count = CountAhead(received);
            if (count < MinPacketsAhead)
            {
                return 0;
            }

            int packetLength = BinaryPrimitives.ReadInt32BigEndian(received);
            _batch!.Compute(sequenceNumber, received, _aheadOffsets.AsSpan(0, count), 4 + packetLength, _aheadTags);
            _aheadFirst = sequenceNumber;
            _aheadCount = count;
            return count;
        }

        /// <summary>Counts the packets <see cref="VerifyAhead"/> would take, and notes where each starts for it.</summary>
        public override int CountAhead(ReadOnlySpan<byte> received)
        {
            if (_batch is null || received.Length < 4)
            {
                return 0;
            }

            uint packetLength = BinaryPrimitives.ReadUInt32BigEndian(received);
            if (packetLength < MinPacketLengthAhead || packetLength > received.Length - 4 - HmacSha256x16.MacSize)
            {
                return 0;
            }

            int stride = 4 + (int)packetLength + HmacSha256x16.MacSize;
            int count = 0;
            for (int offset = 0; count < HmacSha256x16.Lanes && offset <= received.Length - stride; offset += stride)
            {
                if (BinaryPrimitives.ReadUInt32BigEndian(received[offset..]) != packetLength)
                {
                    break;
                }

                _aheadOffsets![count++] = offset;
            }

            return count;
        }

        public override bool TryOpenVerifiedAhead(uint sequenceNumber, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> tag, Span<byte> destination)
        {
            uint index = sequenceNumber - _aheadFirst;
            if (index >= (uint)_aheadCount)
            {
                return TryOpen(sequenceNumber, packet, tag, destination);
            }

            ReadOnlySpan<byte> body = CheckOpenArguments(packet, destination);
            bool valid = tag.Length == HmacSha256x16.MacSize &&
                CryptographicOperations.FixedTimeEquals(_aheadTags.AsSpan((int)index * HmacSha256x16.MacSize, HmacSha256x16.MacSize), tag);
            if (!valid)
            {
                _aheadCount = 0;
                return false;
            }

            _cipher.Transform(body, destination);
            PacketsVerifiedAhead++;
            return true;
        }

        public override string Name => _name;
        public override int BlockSize => Math.Max(8, _cipherBlock);
        public override int TagSize => _mac.Size;
        public override bool AlignmentIncludesLengthField => !_etm;
        public override int LengthPrefixSize => _etm ? 4 : _cipherBlock;
        public override long MaxBytesPerKey => MaxBytesOf(_cipher);

        /// <summary>
        /// OpenSSH discards on a bogus length only for CBC without EtM (packet.c, ssh_packet_start_discard): with EtM
        /// the length is in clear and tells an attacker nothing.
        /// </summary>
        public override bool DiscardsOnBadLength => _isCbc && !_etm;

        public override uint DecryptLength(uint sequenceNumber, ReadOnlySpan<byte> prefix)
        {
            if (_etm)
            {
                return BinaryPrimitives.ReadUInt32BigEndian(prefix);
            }

            if (prefix.Length < _cipherBlock)
            {
                throw new ArgumentException($"The length prefix is the first {_cipherBlock}-byte block.", nameof(prefix));
            }

            if (_hasFirstBlock)
            {
                throw new InvalidOperationException("DecryptLength was already called for this packet.");
            }

            // The first block is decrypted once, here; the stream (CTR counter, CBC chain) moves past it.
            _cipher.Transform(prefix[.._cipherBlock], _firstBlock);
            _hasFirstBlock = true;
            return BinaryPrimitives.ReadUInt32BigEndian(_firstBlock);
        }

        private static ReadOnlySpan<byte> CheckOpenArguments(ReadOnlySpan<byte> packet, Span<byte> destination)
        {
            if (packet.Length < 4 || destination.Length != packet.Length - 4)
            {
                throw new ArgumentException("The destination must be packet_length bytes.", nameof(destination));
            }

            ReadOnlySpan<byte> body = packet[4..];
            if (body.Overlaps(destination, out int offset) && offset != 0)
            {
                throw new ArgumentException("The destination must be packet[4..] itself or not overlap the packet.", nameof(destination));
            }

            return body;
        }

        public override bool TryOpen(uint sequenceNumber, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> tag, Span<byte> destination)
        {
            ReadOnlySpan<byte> body = CheckOpenArguments(packet, destination);
            if (_etm)
            {
                // PROTOCOL §1.5: verify MAC(seqnr || length || ciphertext) first; decrypt only what is authentic.
                if (!_mac.Verify(sequenceNumber, packet, default, tag))
                {
                    return false;
                }

                _cipher.Transform(body, destination);
                return true;
            }

            return TryOpenMacThenEncrypt(sequenceNumber, packet, tag, destination);
        }

        private bool TryOpenMacThenEncrypt(uint sequenceNumber, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> tag, Span<byte> destination)
        {
            if (!_hasFirstBlock)
            {
                throw new InvalidOperationException("DecryptLength must be called before TryOpen.");
            }

            _hasFirstBlock = false;
            int block = _cipherBlock;
            if (packet.Length < block || BinaryPrimitives.ReadUInt32BigEndian(_firstBlock) != (uint)(packet.Length - 4))
            {
                CryptographicOperations.ZeroMemory(_firstBlock);
                throw new ArgumentException("The packet is not the one whose length DecryptLength returned.", nameof(packet));
            }

            // Rest of the first block, kept from DecryptLength; then the remaining blocks. In place, destination is
            // packet[4..]: each region is read before it is written.
            _firstBlock.AsSpan(4).CopyTo(destination);
            _cipher.Transform(packet[block..], destination[(block - 4)..]);

            // RFC 4253 §6.4: MAC(seqnr || plaintext length || plaintext rest), both parts where they lie.
            bool valid = _mac.Verify(sequenceNumber, _firstBlock.AsSpan(0, 4), destination, tag);
            CryptographicOperations.ZeroMemory(_firstBlock);
            return valid;
        }

        /// <summary>
        /// OpenSSH's discard (packet.c, ssh_packet_stop_discard): a real MAC over the discarded bytes, so that a
        /// bogus length costs what a full packet's MAC check would.
        /// </summary>
        public override void ComputeDiscardMac(uint sequenceNumber, ReadOnlySpan<byte> data)
        {
            CryptographicOperations.ZeroMemory(_firstBlock);
            _hasFirstBlock = false;
            Span<byte> mac = stackalloc byte[SshMac.MaxSize];
            _mac.Compute(sequenceNumber, data, default, mac[.._mac.Size]);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                CryptographicOperations.ZeroMemory(_firstBlock);
                _cipher.Dispose();
                _mac.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
