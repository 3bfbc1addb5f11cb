using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Macs;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;
using Ssh.Transport.Crypto;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Tests.Crypto;

internal enum Scheme
{
    Gcm,
    Ctr,
    Cbc,
    TripleDes,
}

internal sealed record Keys(byte[] Key, byte[] Iv, byte[] MacKey);

/// <summary>One SSH cipher/MAC construction, buildable from keys, for parameterized tests.</summary>
internal sealed record Construction(string Name, Scheme Scheme, int KeySize, SshMacKind Mac, bool Etm)
{
    public bool IsGcm => Scheme == Scheme.Gcm;

    public int IvSize => Scheme switch { Scheme.Gcm => 12, Scheme.TripleDes => 8, _ => 16 };

    public int MacKeySize => IsGcm ? 0 : SshHmac.KeySize(Mac);

    /// <summary>A seed fixed by the name (string.GetHashCode is randomized per process).</summary>
    public int Seed => Name.Aggregate(17, (hash, ch) => unchecked((hash * 31) + ch)) & 0x7fffffff;

    /// <summary>MAC-then-encrypt: the length is encrypted in the first block.</summary>
    public bool LengthEncrypted => !IsGcm && !Etm;

    public static IEnumerable<Construction> All
    {
        get
        {
            yield return Gcm(16);
            yield return Gcm(32);
            foreach (int keySize in new[] { 16, 24, 32 })
            {
                foreach (SshMacKind mac in Enum.GetValues<SshMacKind>())
                {
                    yield return CipherMac(Scheme.Ctr, keySize, mac, etm: false);
                    yield return CipherMac(Scheme.Ctr, keySize, mac, etm: true);
                }
            }

            foreach (int keySize in new[] { 16, 24, 32 })
            {
                yield return CipherMac(Scheme.Cbc, keySize, SshMacKind.HmacSha256, etm: false);
                yield return CipherMac(Scheme.Cbc, keySize, SshMacKind.HmacSha256, etm: true);
            }

            yield return CipherMac(Scheme.Cbc, 16, SshMacKind.HmacSha1, etm: false);
            yield return CipherMac(Scheme.Cbc, 32, SshMacKind.HmacSha512, etm: true);
            foreach (SshMacKind mac in Enum.GetValues<SshMacKind>())
            {
                yield return CipherMac(Scheme.TripleDes, 24, mac, etm: false);
                yield return CipherMac(Scheme.TripleDes, 24, mac, etm: true);
            }
        }
    }

    public static Construction Gcm(int keySize) => new($"aes{keySize * 8}-gcm@openssh.com", Scheme.Gcm, keySize, default, false);

    public static Construction CipherMac(Scheme scheme, int keySize, SshMacKind mac, bool etm)
    {
        string cipher = scheme switch
        {
            Scheme.Ctr => $"aes{keySize * 8}-ctr",
            Scheme.Cbc => $"aes{keySize * 8}-cbc",
            _ => "3des-cbc",
        };
        string macName = mac switch
        {
            SshMacKind.HmacSha1 => "hmac-sha1",
            SshMacKind.HmacSha256 => "hmac-sha2-256",
            _ => "hmac-sha2-512",
        };
        return new Construction($"{cipher} {macName}{(etm ? "-etm@openssh.com" : string.Empty)}", scheme, keySize, mac, etm);
    }

    public Keys RandomKeys(Random random)
    {
        var keys = new Keys(new byte[KeySize], new byte[IvSize], new byte[MacKeySize]);
        random.NextBytes(keys.Key);
        random.NextBytes(keys.Iv);
        random.NextBytes(keys.MacKey);
        return keys;
    }

    public PacketSealer CreateSealer(Keys keys) => IsGcm
        ? AesGcmProtection.CreateSealer(keys.Key, keys.Iv)
        : CipherMacProtection.CreateSealer(CipherKind, keys.Key, keys.Iv, Mac, keys.MacKey, Etm);

    public PacketOpener CreateOpener(Keys keys) => IsGcm
        ? AesGcmProtection.CreateOpener(keys.Key, keys.Iv)
        : CipherMacProtection.CreateOpener(CipherKind, keys.Key, keys.Iv, Mac, keys.MacKey, Etm);

    /// <summary>A CTR construction whose XOR loop is forced to <paramref name="width"/>.</summary>
    public PacketSealer CreateSealer(Keys keys, XorWidth width) =>
        Scheme != Scheme.Ctr ? CreateSealer(keys) : CipherMacProtection.CreateSealer(new AesCtr(keys.Key, keys.Iv) { Width = width }, new SshHmac(Mac, keys.MacKey), Etm);

    public PacketOpener CreateOpener(Keys keys, XorWidth width) =>
        Scheme != Scheme.Ctr ? CreateOpener(keys) : CipherMacProtection.CreateOpener(new AesCtr(keys.Key, keys.Iv) { Width = width }, new SshHmac(Mac, keys.MacKey), Etm);

    private SshCipherKind CipherKind => Scheme switch
    {
        Scheme.Ctr => SshCipherKind.AesCtr,
        Scheme.Cbc => SshCipherKind.AesCbc,
        _ => SshCipherKind.TripleDesCbc,
    };

    public override string ToString() => Name;
}

internal static class AesTestSupport
{
    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));

    /// <summary>The directory of the committed test data, found from this source file (the test project copies nothing).</summary>
    public static string TestDataFile(string name, [CallerFilePath] string sourceFile = "")
    {
        string besideSource = Path.Combine(Path.GetDirectoryName(sourceFile)!, "..", "TestData", name);
        return File.Exists(besideSource) ? besideSource : Path.Combine(AppContext.BaseDirectory, "TestData", name);
    }

    /// <summary>
    /// A plaintext packet as <c>PacketWriter</c> lays it out (RFC 4253 §6): uint32 packet_length || padding_length ||
    /// payload || random padding, aligned for <paramref name="protection"/>, with minimal padding plus
    /// <paramref name="extraBlocks"/> blocks.
    /// </summary>
    public static byte[] BuildPacket(PacketProtection protection, ReadOnlySpan<byte> payload, Random random, int extraBlocks = 0)
    {
        int block = protection.BlockSize;
        int unpadded = 1 + payload.Length + (protection.AlignmentIncludesLengthField ? 4 : 0);
        int padding = block - (unpadded % block);
        if (padding < 4)
        {
            padding += block;
        }

        padding += extraBlocks * block;
        int packetLength = 1 + payload.Length + padding;
        byte[] packet = new byte[4 + packetLength];
        BinaryPrimitives.WriteUInt32BigEndian(packet, (uint)packetLength);
        packet[4] = (byte)padding;
        payload.CopyTo(packet.AsSpan(5));
        random.NextBytes(packet.AsSpan(5 + payload.Length, padding));
        return packet;
    }

    public static byte[] RandomPayload(Random random, int length)
    {
        byte[] payload = new byte[length];
        random.NextBytes(payload);
        payload[0] = 94;
        return payload;
    }

    /// <summary>Seals a copy of <paramref name="plainPacket"/>: the wire bytes, tag appended.</summary>
    public static byte[] Seal(PacketSealer sealer, uint sequenceNumber, byte[] plainPacket)
    {
        byte[] wire = new byte[plainPacket.Length + sealer.TagSize];
        plainPacket.CopyTo(wire, 0);
        sealer.Seal(sequenceNumber, wire.AsSpan(0, plainPacket.Length), wire.AsSpan(plainPacket.Length));
        return wire;
    }

    /// <summary>
    /// Opens wire bytes the way the reader does: DecryptLength on the prefix, then TryOpen in place (in a copy) or
    /// out of place. Returns null when the length does not frame exactly these bytes or authentication fails;
    /// otherwise the plaintext packet, length field included.
    /// </summary>
    public static byte[]? Open(PacketOpener opener, uint sequenceNumber, byte[] wire, bool inPlace)
    {
        uint length = opener.DecryptLength(sequenceNumber, wire.AsSpan(0, opener.LengthPrefixSize));
        if ((long)length + 4 + opener.TagSize != wire.Length)
        {
            return null;
        }

        return OpenFramed(opener, sequenceNumber, wire, (int)length, inPlace);
    }

    /// <summary>TryOpen with a given framing (after DecryptLength was called).</summary>
    public static byte[]? OpenFramed(PacketOpener opener, uint sequenceNumber, byte[] wire, int packetLength, bool inPlace)
    {
        byte[] received = (byte[])wire.Clone();
        ReadOnlySpan<byte> packet = received.AsSpan(0, 4 + packetLength);
        ReadOnlySpan<byte> tag = received.AsSpan(4 + packetLength, opener.TagSize);
        byte[] result = new byte[4 + packetLength];
        BinaryPrimitives.WriteUInt32BigEndian(result, (uint)packetLength);
        bool ok;
        if (inPlace)
        {
            ok = opener.TryOpen(sequenceNumber, packet, tag, received.AsSpan(4, packetLength));
            received.AsSpan(4, packetLength).CopyTo(result.AsSpan(4));
        }
        else
        {
            ok = opener.TryOpen(sequenceNumber, packet, tag, result.AsSpan(4));
        }

        return ok ? result : null;
    }
}

/// <summary>
/// SSH packet protection built independently on BouncyCastle primitives (a second implementation for differential
/// tests): GCM (RFC 5647), CTR (RFC 4344) as SIC keystream, CBC with the chain kept, HMAC (RFC 4253 §6.4), MtE
/// and EtM orders.
/// </summary>
internal sealed class ReferenceSealer
{
    private readonly Construction _construction;
    private readonly Keys _keys;
    private readonly byte[] _nonce;
    private readonly BcCtrStream? _ctr;
    private readonly CbcBlockCipher? _cbc;
    private readonly HMac? _hmac;

    public ReferenceSealer(Construction construction, Keys keys)
    {
        _construction = construction;
        _keys = keys;
        _nonce = (byte[])keys.Iv.Clone();
        switch (construction.Scheme)
        {
            case Scheme.Ctr:
                _ctr = new BcCtrStream(keys.Key, keys.Iv);
                break;
            case Scheme.Cbc:
            case Scheme.TripleDes:
                _cbc = new CbcBlockCipher(construction.Scheme == Scheme.Cbc ? new AesEngine() : new DesEdeEngine());
                _cbc.Init(true, new ParametersWithIV(new KeyParameter(keys.Key), keys.Iv));
                break;
        }

        if (!construction.IsGcm)
        {
            _hmac = new HMac(construction.Mac switch
            {
                SshMacKind.HmacSha1 => new Sha1Digest(),
                SshMacKind.HmacSha256 => new Sha256Digest(),
                _ => (IDigest)new Sha512Digest(),
            });
            _hmac.Init(new KeyParameter(keys.MacKey));
        }
    }

    public byte[] Seal(uint sequenceNumber, byte[] plainPacket)
    {
        if (_construction.IsGcm)
        {
            var gcm = new GcmBlockCipher(new AesEngine());
            gcm.Init(true, new AeadParameters(new KeyParameter(_keys.Key), 128, (byte[])_nonce.Clone(), plainPacket[..4]));
            byte[] output = new byte[gcm.GetOutputSize(plainPacket.Length - 4)];
            int n = gcm.ProcessBytes(plainPacket, 4, plainPacket.Length - 4, output, 0);
            gcm.DoFinal(output, n);
            ulong counter = BinaryPrimitives.ReadUInt64BigEndian(_nonce.AsSpan(4));
            BinaryPrimitives.WriteUInt64BigEndian(_nonce.AsSpan(4), unchecked(counter + 1));
            return [.. plainPacket[..4], .. output];
        }

        byte[] packet = (byte[])plainPacket.Clone();
        byte[] mac;
        if (_construction.Etm)
        {
            Encrypt(packet.AsSpan(4));
            mac = Mac(sequenceNumber, packet);
        }
        else
        {
            mac = Mac(sequenceNumber, packet);
            Encrypt(packet);
        }

        return [.. packet, .. mac];
    }

    public byte[] Mac(uint sequenceNumber, byte[] data)
    {
        byte[] sequence = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(sequence, sequenceNumber);
        _hmac!.BlockUpdate(sequence, 0, 4);
        _hmac.BlockUpdate(data, 0, data.Length);
        byte[] mac = new byte[_hmac.GetMacSize()];
        _hmac.DoFinal(mac, 0);
        return mac;
    }

    private void Encrypt(Span<byte> data)
    {
        if (_ctr is not null)
        {
            _ctr.Apply(data);
            return;
        }

        int block = _cbc!.GetBlockSize();
        byte[] output = new byte[block];
        for (int i = 0; i < data.Length; i += block)
        {
            _cbc.ProcessBlock(data.Slice(i, block).ToArray(), 0, output, 0);
            output.CopyTo(data[i..]);
        }
    }
}

/// <summary>AES-CTR keystream from BouncyCastle's SIC mode (full-width big-endian counter), as a continuous stream.</summary>
internal sealed class BcCtrStream
{
    private readonly SicBlockCipher _sic = new(new AesEngine());
    private readonly byte[] _zero = new byte[16];
    private readonly byte[] _block = new byte[16];
    private int _used = 16;

    public BcCtrStream(byte[] key, byte[] iv) => _sic.Init(true, new ParametersWithIV(new KeyParameter(key), iv));

    public void Apply(Span<byte> data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (_used == 16)
            {
                _sic.ProcessBlock(_zero, 0, _block, 0);
                _used = 0;
            }

            data[i] ^= _block[_used++];
        }
    }
}
