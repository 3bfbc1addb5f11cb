using System.Buffers;

namespace Ssh.Transport.Compression;

/// <summary>An <see cref="IBufferWriter{T}"/> over one fixed block of memory; reused, never grows.</summary>
internal sealed class FixedBufferWriter : IBufferWriter<byte>
{
    private Memory<byte> _memory;
    private int _written;

    public int Written => _written;

    public void Reset(Memory<byte> memory)
    {
        _memory = memory;
        _written = 0;
    }

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _memory.Length - _written);
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (Math.Max(sizeHint, 1) > _memory.Length - _written)
        {
            throw new InvalidOperationException("The reserved block is full.");
        }

        return _memory[_written..];
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
}

/// <summary>
/// A growable scratch buffer from the array pool whose memory is always handed out from its start: the payload of
/// a packet that is compressed before it goes into the pipe.
/// </summary>
internal sealed class ScratchBufferWriter : IBufferWriter<byte>, IDisposable
{
    private byte[] _array = [];

    public void Advance(int count)
    {
        // The packet writer tracks its own length; the scratch is never committed.
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_array.Length < sizeHint || _array.Length == 0)
        {
            if (_array.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_array, clearArray: true);
            }

            _array = ArrayPool<byte>.Shared.Rent(Math.Max(sizeHint, 4096));
        }

        return _array;
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public void Dispose()
    {
        if (_array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_array, clearArray: true);
            _array = [];
        }
    }
}
