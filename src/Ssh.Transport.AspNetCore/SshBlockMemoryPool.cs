using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace Ssh.Transport.AspNetCore;

/// <summary>
/// Kestrel's memory pool for SSH endpoints: blocks of <see cref="BlockSize"/> bytes (64 KiB) where Kestrel's own pool
/// has 4 KiB ones. Kestrel receives into one block per socket read, so with 4 KiB blocks a 32 KiB SSH packet arrives
/// in nine reads and spans nine segments, which the packet reader must gather with a copy; with 64 KiB blocks a read
/// takes up to 64 KiB and most packets lie whole in one block (docs/performance.md, "Kestrel's receive blocks").
/// </summary>
/// <remarks>
/// Blocks are pinned arrays, kept for reuse up to <see cref="MaxRetainedBlocks"/> (16 MiB); past that a returned block
/// is left to the GC. A connection holds a block only while data waits in its pipes: Kestrel waits for data before it
/// rents a receive buffer. A request larger than a block gets an array of its own, not pooled.
/// </remarks>
internal sealed class SshBlockMemoryPool : MemoryPool<byte>
{
    /// <summary>The size of every pooled block.</summary>
    public const int BlockSize = 64 * 1024;

    /// <summary>The most free blocks kept for reuse.</summary>
    public const int MaxRetainedBlocks = 256;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _freeCount;
    private long _blocksAllocated;
    private volatile bool _disposed;

    /// <summary>Pooled blocks allocated so far (a reused block is not counted again).</summary>
    internal long BlocksAllocated => Interlocked.Read(ref _blocksAllocated);

    /// <summary>Free blocks kept for reuse.</summary>
    internal int FreeBlocks => Volatile.Read(ref _freeCount);

    /// <inheritdoc/>
    public override int MaxBufferSize => BlockSize;

    /// <inheritdoc/>
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (minBufferSize > BlockSize)
        {
            return new Block(null, minBufferSize);
        }

        if (_free.TryDequeue(out Block? block))
        {
            Interlocked.Decrement(ref _freeCount);
            block.Lease();
            return block;
        }

        Interlocked.Increment(ref _blocksAllocated);
        return new Block(this, BlockSize);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _free.Clear();
    }

    private void Return(Block block)
    {
        if (_disposed || Interlocked.Increment(ref _freeCount) > MaxRetainedBlocks)
        {
            if (!_disposed)
            {
                Interlocked.Decrement(ref _freeCount);
            }

            return;
        }

        _free.Enqueue(block);
    }

    private sealed class Block : IMemoryOwner<byte>
    {
        private readonly SshBlockMemoryPool? _pool;
        private readonly byte[] _array;
        private int _leased = 1;

        public Block(SshBlockMemoryPool? pool, int size)
        {
            _pool = pool;
            _array = GC.AllocateUninitializedArray<byte>(size, pinned: pool is not null);
        }

        public Memory<byte> Memory => _array;

        public void Lease() => Volatile.Write(ref _leased, 1);

        public void Dispose()
        {
            // Once per lease: a second Dispose must not put the block in the queue twice.
            if (Interlocked.Exchange(ref _leased, 0) == 1)
            {
                _pool?.Return(this);
            }
        }
    }
}

/// <summary>Gives Kestrel's socket transport <see cref="SshBlockMemoryPool"/>s.</summary>
internal sealed class SshBlockMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    private readonly ConcurrentQueue<SshBlockMemoryPool> _created = new();

    /// <summary>The pools handed out so far.</summary>
    internal IEnumerable<SshBlockMemoryPool> Created => _created;

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        var pool = new SshBlockMemoryPool();
        _created.Enqueue(pool);
        return pool;
    }
}
