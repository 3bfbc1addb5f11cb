using System.Buffers;
using System.Security.Cryptography;

namespace Ssh.Transport.HostKeys;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> for secrets: every buffer it lets go of, on growth or on dispose, is zeroed first.
/// </summary>
internal sealed class SensitiveBufferWriter : IBufferWriter<byte>, IDisposable
{
    private byte[] _buffer;
    private int _written;

    public SensitiveBufferWriter(int initialCapacity = 256) => _buffer = new byte[initialCapacity];

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _buffer.Length - _written);
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Grow(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Grow(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_buffer);
        _written = 0;
    }

    private void Grow(int sizeHint)
    {
        int needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= needed)
        {
            return;
        }

        var larger = new byte[Math.Max(_buffer.Length * 2, _written + needed)];
        _buffer.AsSpan(0, _written).CopyTo(larger);
        CryptographicOperations.ZeroMemory(_buffer);
        _buffer = larger;
    }
}
