using System.Buffers;

namespace Ssh.Transport.Framing;

/// <summary>
/// Upper-layer packets written while a key exchange holds them back (RFC 4253 §7.1): serialized into pooled arrays,
/// in order, up to a limit, to be sealed under the new keys right after our NEWKEYS. Guarded by the packetizer's
/// write lock, except <see cref="Room"/>, <see cref="Lift"/> and the completion methods.
/// </summary>
internal sealed class KeyExchangeHold
{
    private readonly Queue<(byte[] Array, int Length)> _packets = new();
    private readonly TaskCompletionSource _room = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile int _limit;
    private int _count;

    public KeyExchangeHold(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        _limit = limit;
    }

    /// <summary>How many packets are queued.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Completes when a writer that found the queue full may try again: the hold ended, or its limit was lifted.</summary>
    public Task Room => _room.Task;

    /// <summary>Serializes one payload into the queue, unless the queue is full.</summary>
    /// <exception cref="InvalidOperationException">The payload is empty or longer than <paramref name="maxPayloadLength"/>.</exception>
    public bool TryEnqueue<TState>(TState state, SshPayloadWriter<TState> writePayload, int payloadSizeHint, int maxPayloadLength, bool force)
    {
        if (!force && _count >= _limit)
        {
            return false;
        }

        var buffer = new PooledWriter(Math.Max(payloadSizeHint, 64));
        try
        {
            writePayload(buffer, state);
            if (buffer.Written == 0 || buffer.Written > maxPayloadLength)
            {
                throw new InvalidOperationException($"A payload must be 1 to {maxPayloadLength} bytes; this one is {buffer.Written}.");
            }
        }
        catch
        {
            buffer.ReturnArray();
            throw;
        }

        _packets.Enqueue((buffer.Array, buffer.Written));
        Volatile.Write(ref _count, _count + 1);
        return true;
    }

    public bool TryDequeue(out byte[] array, out int length)
    {
        if (_packets.TryDequeue(out (byte[] Array, int Length) packet))
        {
            Volatile.Write(ref _count, _count - 1);
            (array, length) = packet;
            return true;
        }

        (array, length) = (null!, 0);
        return false;
    }

    /// <summary>Lets every waiting and later writer queue (see SshPacketizer.LiftHeldPacketLimit).</summary>
    public void Lift()
    {
        _limit = int.MaxValue;
        _room.TrySetResult();
    }

    /// <summary>The hold ended (our NEWKEYS went out): waiting writers go on.</summary>
    public void End() => _room.TrySetResult();

    /// <summary>The connection is going down: waiting writers fail, queued payloads are zeroed and dropped.</summary>
    public void Fail(Exception error)
    {
        _room.TrySetException(error);
        lock (_packets)
        {
            while (_packets.TryDequeue(out (byte[] Array, int Length) packet))
            {
                ArrayPool<byte>.Shared.Return(packet.Array, clearArray: true);
            }
        }
    }

    /// <summary>An <see cref="IBufferWriter{T}"/> over pooled arrays; the arrays it outgrows are zeroed and returned.</summary>
    private sealed class PooledWriter(int initialSize) : IBufferWriter<byte>
    {
        public byte[] Array { get; private set; } = ArrayPool<byte>.Shared.Rent(initialSize);

        public int Written { get; private set; }

        public void Advance(int count)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(count);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Array.Length - Written);
            Written += count;
        }

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Grow(sizeHint);
            return Array.AsMemory(Written);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Grow(sizeHint);
            return Array.AsSpan(Written);
        }

        public void ReturnArray() => ArrayPool<byte>.Shared.Return(Array, clearArray: true);

        private void Grow(int sizeHint)
        {
            int needed = Math.Max(sizeHint, 1);
            if (Array.Length - Written >= needed)
            {
                return;
            }

            byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(Array.Length * 2, Written + needed));
            Array.AsSpan(0, Written).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(Array, clearArray: true);
            Array = larger;
        }
    }
}
