using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace Ssh.Transport.AspNetCore;

/// <summary>Gives Kestrel's socket transport <see cref="SshBlockMemoryPool"/>s of 64 KiB blocks.</summary>
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
