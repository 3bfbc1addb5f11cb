using System.Buffers;
using System.Collections.Concurrent;

namespace Ssh.Transport;

/// <summary>
/// A memory pool of fixed-size pinned blocks, kept for reuse up to a count, for pipes that move bulk data: Kestrel's
/// receive buffers on SSH endpoints (64 KiB blocks where Kestrel's own pool has 4 KiB ones: with those a 32 KiB SSH
/// packet arrives in nine reads and spans nine segments, which the packet reader must gather with a copy) and the
/// channels' inbound pipes (32 KiB blocks: renting those from the shared ArrayPool, whose per-core stores are small,
/// allocated about 200 MB/s of fresh arrays during a download, a page fault on every new page; docs/performance.md).
/// </summary>
/// <remarks>
/// Past <see cref="MaxRetainedBlocks"/> free blocks a returned block is left to the GC. A request larger than a block
/// gets an array of its own, not pooled.
/// </remarks>
internal sealed class SshBlockMemoryPool : MemoryPool<byte>
{
    /// <summary>The default block size (Kestrel's receive buffers).</summary>
    public const int DefaultBlockSize = 64 * 1024;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _freeCount;
    private long _blocksAllocated;
    private volatile bool _disposed;

    /// <summary>A pool of <paramref name="blockSize"/>-byte blocks keeping up to <paramref name="maxRetainedBlocks"/> free ones.</summary>
    public SshBlockMemoryPool(int blockSize = DefaultBlockSize, int maxRetainedBlocks = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetainedBlocks);
        BlockSize = blockSize;
        MaxRetainedBlocks = maxRetainedBlocks;
    }

    /// <summary>The size of every pooled block.</summary>
    public int BlockSize { get; }

    /// <summary>The most free blocks kept for reuse.</summary>
    public int MaxRetainedBlocks { get; }


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
