using System.Buffers;
using System.IO.Pipelines;

namespace Ssh.Transport.Connection.Tests.Infrastructure;

/// <summary>Client and server ends joined by two in-memory pipes (as in Ssh.Transport.Tests).</summary>
internal sealed class PipePair
{
    public PipePair()
    {
        var options = new PipeOptions(pool: new DirtyMemoryPool(), useSynchronizationContext: false);
        var clientToServer = new Pipe(options);
        var serverToClient = new Pipe(options);
        Client = new DuplexPipe(serverToClient.Reader, clientToServer.Writer);
        Server = new DuplexPipe(clientToServer.Reader, serverToClient.Writer);
    }

    public IDuplexPipe Client { get; }

    public IDuplexPipe Server { get; }
}

internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;
}

/// <summary>Blocks filled with 0xCA when rented and 0xFF when returned: reading memory not written, or given back, shows.</summary>
internal sealed class DirtyMemoryPool : MemoryPool<byte>
{
    public override int MaxBufferSize => 1024 * 1024;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => new Block(minBufferSize <= 0 ? 4096 : minBufferSize);

    protected override void Dispose(bool disposing)
    {
    }

    private sealed class Block : IMemoryOwner<byte>
    {
        private byte[]? _array;

        public Block(int size)
        {
            _array = new byte[size];
            _array.AsSpan().Fill(0xCA);
        }

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Block));

        public void Dispose()
        {
            _array?.AsSpan().Fill(0xFF);
            _array = null;
        }
    }
}
