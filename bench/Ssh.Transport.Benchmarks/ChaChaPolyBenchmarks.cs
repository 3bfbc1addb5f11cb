using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;
using Ssh.Transport.Crypto;
using BclChaCha20Poly1305 = System.Security.Cryptography.ChaCha20Poly1305;
using BcPoly1305 = Org.BouncyCastle.Crypto.Macs.Poly1305;

namespace Ssh.Transport.Benchmarks;

/// <summary>
/// Sealing and opening one chacha20-poly1305@openssh.com packet, against the BCL's RFC 8439 AEAD (OpenSSL) over the
/// same number of bytes (padding_length || payload || padding, with the 4-byte length as associated data) and against
/// the OpenSSH construction built from BouncyCastle's primitives.
/// </summary>
[MemoryDiagnoser]
public class ChaChaPolyBenchmarks
{
    private const uint SequenceNumber = 7;

    private byte[] _packet = [];
    private byte[] _sealed = [];
    private readonly byte[] _tag = new byte[16];
    private byte[] _destination = [];
    private readonly byte[] _key = new byte[64];
    private PacketSealer _sealer = null!;
    private PacketOpener _opener = null!;

    private BclChaCha20Poly1305 _bcl = null!;
    private readonly byte[] _nonce = new byte[12];
    private byte[] _bclCiphertext = [];
    private readonly byte[] _bclTag = new byte[16];

    [Params(64, 1024, 32768)]
    public int PayloadLength { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        random.NextBytes(_key);
        int padding = 8 - ((1 + PayloadLength) % 8);
        padding = padding < 4 ? padding + 8 : padding;
        int packetLength = 1 + PayloadLength + padding;
        _packet = new byte[4 + packetLength];
        random.NextBytes(_packet);
        BinaryPrimitives.WriteUInt32BigEndian(_packet, (uint)packetLength);
        _packet[4] = (byte)padding;

        _sealer = ChaChaPolyProtection.CreateSealer(_key);
        _opener = ChaChaPolyProtection.CreateOpener(_key);
        _sealed = new byte[_packet.Length + 16];
        _packet.CopyTo(_sealed, 0);
        _sealer.Seal(SequenceNumber, _sealed.AsSpan(0, _packet.Length), _sealed.AsSpan(_packet.Length));
        _destination = new byte[packetLength];

        _bcl = new BclChaCha20Poly1305(_key.AsSpan(0, 32));
        _bclCiphertext = new byte[packetLength];
        _bcl.Encrypt(_nonce, _packet.AsSpan(4), _bclCiphertext, _bclTag, _packet.AsSpan(0, 4));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sealer.Dispose();
        _opener.Dispose();
        _bcl.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void BclEncrypt() => _bcl.Encrypt(_nonce, _packet.AsSpan(4), _bclCiphertext, _tag, _packet.AsSpan(0, 4));

    [Benchmark]
    public void BclDecrypt() => _bcl.Decrypt(_nonce, _bclCiphertext, _bclTag, _destination, _packet.AsSpan(0, 4));

    /// <summary>Seals in place, as the packet writer does (the buffer is re-encrypted each time: same work).</summary>
    [Benchmark]
    public void Seal() => _sealer.Seal(SequenceNumber, _packet, _tag);

    /// <summary>Decrypts the length, verifies and decrypts into a separate buffer, as the packet reader does.</summary>
    [Benchmark]
    public bool Open()
    {
        int length = (int)_opener.DecryptLength(SequenceNumber, _sealed.AsSpan(0, 4));
        return _opener.TryOpen(SequenceNumber, _sealed.AsSpan(0, 4 + length), _sealed.AsSpan(4 + length, 16), _destination);
    }

    [Benchmark]
    public void BouncyCastleSeal()
    {
        byte[] iv = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(iv, SequenceNumber);
        var lengthCipher = new ChaChaEngine(20);
        lengthCipher.Init(true, new ParametersWithIV(new KeyParameter(_key, 32, 32), iv));
        lengthCipher.ProcessBytes(_packet, 0, 4, _packet, 0);
        var mainCipher = new ChaChaEngine(20);
        mainCipher.Init(true, new ParametersWithIV(new KeyParameter(_key, 0, 32), iv));
        byte[] polyKey = new byte[64];
        mainCipher.ProcessBytes(polyKey, 0, 64, polyKey, 0);
        mainCipher.ProcessBytes(_packet, 4, _packet.Length - 4, _packet, 4);
        var mac = new BcPoly1305();
        mac.Init(new KeyParameter(polyKey, 0, 32));
        mac.BlockUpdate(_packet, 0, _packet.Length);
        mac.DoFinal(_tag, 0);
    }

    [Benchmark]
    public bool BouncyCastleOpen()
    {
        byte[] iv = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(iv, SequenceNumber);
        var lengthCipher = new ChaChaEngine(20);
        lengthCipher.Init(false, new ParametersWithIV(new KeyParameter(_key, 32, 32), iv));
        byte[] length = new byte[4];
        lengthCipher.ProcessBytes(_sealed, 0, 4, length, 0);
        int packetLength = (int)BinaryPrimitives.ReadUInt32BigEndian(length);
        var mainCipher = new ChaChaEngine(20);
        mainCipher.Init(false, new ParametersWithIV(new KeyParameter(_key, 0, 32), iv));
        byte[] polyKey = new byte[64];
        mainCipher.ProcessBytes(polyKey, 0, 64, polyKey, 0);
        var mac = new BcPoly1305();
        mac.Init(new KeyParameter(polyKey, 0, 32));
        mac.BlockUpdate(_sealed, 0, 4 + packetLength);
        byte[] tag = new byte[16];
        mac.DoFinal(tag, 0);
        if (!System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(tag, _sealed.AsSpan(4 + packetLength, 16)))
        {
            return false;
        }

        mainCipher.ProcessBytes(_sealed, 4, packetLength, _destination, 0);
        return true;
    }
}
