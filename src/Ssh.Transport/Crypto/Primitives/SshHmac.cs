using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Ssh.Transport.Crypto.Primitives;

/// <summary>
/// One direction's MAC: HMAC(key, uint32 sequence_number || data) (RFC 4253 §6.4), the data given in two parts so
/// that no packet is ever copied to be authenticated. Reuses one <see cref="IncrementalHash"/>: nothing is
/// allocated per packet.
/// </summary>
internal sealed class SshHmac : IDisposable
{
    /// <summary>The largest MAC (hmac-sha2-512).</summary>
    public const int MaxSize = 64;

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
    }

    public SshMacKind Kind { get; }

    /// <summary>The SSH name without the -etm@openssh.com suffix.</summary>
    public string Name { get; }

    /// <summary>The MAC length, which is also the key length SSH derives (RFC 4253 §7.2).</summary>
    public int Size { get; }

    /// <summary>The key length SSH derives for <paramref name="kind"/>.</summary>
    public static int KeySize(SshMacKind kind) => kind switch
    {
        SshMacKind.HmacSha1 => 20,
        SshMacKind.HmacSha256 => 32,
        SshMacKind.HmacSha512 => 64,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown MAC."),
    };

    /// <summary>Writes HMAC(key, uint32 sequenceNumber || first || second) to <paramref name="mac"/> (<see cref="Size"/> bytes).</summary>
    public void Compute(uint sequenceNumber, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Span<byte> mac)
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

    /// <summary>Checks <paramref name="tag"/> against HMAC(key, uint32 sequenceNumber || first || second) in constant time.</summary>
    public bool Verify(uint sequenceNumber, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, ReadOnlySpan<byte> tag)
    {
        Span<byte> expected = stackalloc byte[MaxSize];
        expected = expected[..Size];
        Compute(sequenceNumber, first, second, expected);

        // FixedTimeEquals is constant-time for equal lengths; a wrong length is public information.
        bool valid = tag.Length == Size && CryptographicOperations.FixedTimeEquals(expected, tag);
        CryptographicOperations.ZeroMemory(expected);
        return valid;
    }

    public void Dispose() => _hash.Dispose();
}
