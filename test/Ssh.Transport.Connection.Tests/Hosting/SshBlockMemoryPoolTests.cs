using System.Buffers;
using Ssh.Transport.AspNetCore;

namespace Ssh.Transport.Connection.Tests.Hosting;

/// <summary>The 64 KiB block pool Kestrel uses after AddSshSocketBuffers: reuse, one return per lease, oversize requests, the retention cap.</summary>
public class SshBlockMemoryPoolTests
{
    [Test]
    public void Rent_ReturnsWholeBlock_AndReusesItAfterDispose()
    {
        using var pool = new SshBlockMemoryPool();
        IMemoryOwner<byte> first = pool.Rent(100);
        Memory<byte> memory = first.Memory;
        first.Dispose();
        IMemoryOwner<byte> second = pool.Rent();
        Assert.Multiple(() =>
        {
            Assert.That(memory.Length, Is.EqualTo(SshBlockMemoryPool.BlockSize));
            Assert.That(pool.MaxBufferSize, Is.EqualTo(SshBlockMemoryPool.BlockSize));
            Assert.That(second, Is.SameAs(first), "a returned block is reused");
            Assert.That(pool.BlocksAllocated, Is.EqualTo(1));
        });
        second.Dispose();
    }

    [Test]
    public void Dispose_Twice_ReturnsTheBlockOnce()
    {
        using var pool = new SshBlockMemoryPool();
        IMemoryOwner<byte> block = pool.Rent();
        block.Dispose();
        block.Dispose();
        IMemoryOwner<byte> a = pool.Rent();
        IMemoryOwner<byte> b = pool.Rent();
        Assert.Multiple(() =>
        {
            Assert.That(a, Is.Not.SameAs(b), "one block leased twice at once");
            Assert.That(pool.BlocksAllocated, Is.EqualTo(2));
        });
    }

    [Test]
    public void Rent_LargerThanABlock_GetsItsOwnArray_NotPooled()
    {
        using var pool = new SshBlockMemoryPool();
        IMemoryOwner<byte> large = pool.Rent(SshBlockMemoryPool.BlockSize + 1);
        Assert.That(large.Memory.Length, Is.EqualTo(SshBlockMemoryPool.BlockSize + 1));
        large.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(pool.FreeBlocks, Is.Zero);
            Assert.That(pool.BlocksAllocated, Is.Zero);
        });
    }

    [Test]
    public void Return_PastTheCap_LeavesBlocksToTheGc()
    {
        using var pool = new SshBlockMemoryPool();
        var blocks = Enumerable.Range(0, SshBlockMemoryPool.MaxRetainedBlocks + 10).Select(_ => pool.Rent()).ToList();
        blocks.ForEach(block => block.Dispose());
        Assert.That(pool.FreeBlocks, Is.EqualTo(SshBlockMemoryPool.MaxRetainedBlocks));
    }

    [Test]
    public void Rent_AfterDispose_Throws()
    {
        var pool = new SshBlockMemoryPool();
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Rent());
    }
}
