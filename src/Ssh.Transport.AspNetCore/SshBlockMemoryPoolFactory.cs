using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace Ssh.Transport.AspNetCore;

/// <summary>Gives Kestrel's socket transport <see cref="SshBlockMemoryPool"/>s of one block size, each keeping up to 16 MiB of free blocks.</summary>
internal sealed class SshBlockMemoryPoolFactory(int blockSize = SshBlockMemoryPool.DefaultBlockSize) : IMemoryPoolFactory<byte>
{
    private const int RetainedBytes = 16 * 1024 * 1024;
    private readonly ConcurrentQueue<SshBlockMemoryPool> _created = new();

    /// <summary>The size of the pools' blocks.</summary>
    internal int BlockSize => blockSize;

    /// <summary>The pools handed out so far.</summary>
    internal IEnumerable<SshBlockMemoryPool> Created => _created;

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        var pool = new SshBlockMemoryPool(blockSize, Math.Max(1, RetainedBytes / blockSize));
        _created.Enqueue(pool);
        return pool;
    }
}
