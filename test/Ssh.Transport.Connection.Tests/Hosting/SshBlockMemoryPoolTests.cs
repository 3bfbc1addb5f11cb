using System.Buffers;

namespace Ssh.Transport.Connection.Tests.Hosting;

/// <summary>The block pool (64 KiB blocks for Kestrel after AddSshSocketBuffers, 32 KiB for the channels' inbound pipes): reuse, one return per lease, oversize requests, the retention cap.</summary>
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
            Assert.That(memory.Length, Is.EqualTo(pool.BlockSize));
            Assert.That(pool.MaxBufferSize, Is.EqualTo(pool.BlockSize));
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
        IMemoryOwner<byte> large = pool.Rent(pool.BlockSize + 1);
        Assert.That(large.Memory.Length, Is.EqualTo(pool.BlockSize + 1));
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
        var blocks = Enumerable.Range(0, pool.MaxRetainedBlocks + 10).Select(_ => pool.Rent()).ToList();
        blocks.ForEach(block => block.Dispose());
        Assert.That(pool.FreeBlocks, Is.EqualTo(pool.MaxRetainedBlocks));
    }

    [Test]
    public void BlockSizeAndRetention_AreTheConstructors()
    {
        // The channels' inbound pipes use 32 KiB blocks and keep up to 512 free.
        using var pool = new SshBlockMemoryPool(32 * 1024, maxRetainedBlocks: 3);
        var blocks = Enumerable.Range(0, 5).Select(_ => pool.Rent(1)).ToList();
        Assert.That(blocks.Select(b => b.Memory.Length), Has.All.EqualTo(32 * 1024));
        blocks.ForEach(block => block.Dispose());
        Assert.That(pool.FreeBlocks, Is.EqualTo(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new SshBlockMemoryPool(0));
    }

    [Test]
    public void Rent_AfterDispose_Throws()
    {
        var pool = new SshBlockMemoryPool();
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Rent());
    }
}
