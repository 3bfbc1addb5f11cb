using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>
/// One direction's MAC: HMAC(key, uint32 sequence_number || data) (RFC 4253 §6.4), the data given in two parts so
/// that no packet is ever copied to be authenticated. Reuses one <see cref="IncrementalHash"/>: nothing is
/// allocated per packet.
/// </summary>
internal sealed class SshHmac : SshMac
{
    private readonly IncrementalHash _hash;

    /// <summary>Creates the MAC. SSH keys are exactly <see cref="KeySize"/> bytes; the HMAC itself takes any length.</summary>
    public SshHmac(SshMacKind kind, ReadOnlySpan<byte> key)
    {
        (HashAlgorithmName hash, Size, Name) = kind switch
        {
            SshMacKind.HmacSha1 => (HashAlgorithmName.SHA1, 20, "hmac-sha1"),
            SshMacKind.HmacSha256 => (HashAlgorithmName.SHA256, 32, "hmac-sha2-256"),
            SshMacKind.HmacSha512 => (HashAlgorithmName.SHA512, 64, "hmac-sha2-512"),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown MAC."),
        };
        Kind = kind;
        _hash = IncrementalHash.CreateHMAC(hash, key);
        if (kind == SshMacKind.HmacSha256 && HmacSha256x16.IsSupported && UseBatches)
        {
            Batch = new HmacSha256x16(key);
        }
    }

    /// <summary>
    /// Whether new hmac-sha2-256 MACs get <see cref="Batch"/> where the machine can run it. Tests turn it off to compare
    /// both paths; not synchronized.
    /// </summary>
    internal static bool UseBatches { get; set; } = true;

    /// <summary>The same MAC over sixteen packets at once (hmac-sha2-256 with AVX-512), or null.</summary>
    public HmacSha256x16? Batch { get; }

    public SshMacKind Kind { get; }

    /// <summary>The SSH name without the -etm@openssh.com suffix.</summary>
    public override string Name { get; }

    /// <summary>The MAC length, which is also the key length SSH derives (RFC 4253 §7.2).</summary>
    public override int Size { get; }

    /// <summary>The key length SSH derives for <paramref name="kind"/>.</summary>
    public static int KeySize(SshMacKind kind) => kind switch
    {
        SshMacKind.HmacSha1 => 20,
        SshMacKind.HmacSha256 => 32,
        SshMacKind.HmacSha512 => 64,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown MAC."),
    };

    /// <summary>Writes HMAC(key, uint32 sequenceNumber || first || second) to <paramref name="mac"/> (<see cref="Size"/> bytes).</summary>
    public override void Compute(uint sequenceNumber, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Span<byte> mac)
    {
        Span<byte> sequence = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(sequence, sequenceNumber);
        _hash.AppendData(sequence);
        _hash.AppendData(first);
        if (!second.IsEmpty)
        {
            _hash.AppendData(second);
        }

        if (!_hash.TryGetHashAndReset(mac, out int written) || written != Size)
        {
            throw new ArgumentException("The MAC destination is too short.", nameof(mac));
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
            Batch?.Dispose();
        }

        base.Dispose(disposing);
    }
}
