using System.Buffers;
using System.IO.Compression;

namespace Ssh.Transport.Compression;

/// <summary>The compression methods of RFC 4253 §6.2 and OpenSSH.</summary>
internal enum CompressionMethod
{
    /// <summary>"none".</summary>
    None,

    /// <summary>"zlib": on from NEWKEYS.</summary>
    Zlib,

    /// <summary>"zlib@openssh.com": on once user authentication has succeeded.</summary>
    ZlibDelayed,
}

internal static class CompressionMethods
{
    public const string None = "none";
    public const string Zlib = "zlib";
    public const string ZlibDelayed = "zlib@openssh.com";

    /// <summary>Every method this library implements.</summary>
    public static IReadOnlyList<string> All { get; } = [None, ZlibDelayed, Zlib];

    /// <summary>
    /// What a client offers by default: no compression. A server also offers <see cref="ZlibDelayed"/>, as OpenSSH
    /// does, so that a client that asks for compression gets it after authentication.
    /// </summary>
    public static IReadOnlyList<string> Default { get; } = [None];

    public static CompressionMethod? Parse(string name) => name switch
    {
        None => CompressionMethod.None,
        Zlib => CompressionMethod.Zlib,
        ZlibDelayed => CompressionMethod.ZlibDelayed,
        _ => null,
    };
}

/// <summary>
/// Outbound zlib (RFC 1950/1951): one deflate stream for the life of a set of keys, flushed at the end of every
/// packet so the peer can inflate it at once (RFC 4253 §6.2).
/// </summary>
internal sealed class ZlibCompressor : IDisposable
{
    private readonly Sink _sink = new();
    private readonly ZLibStream _deflate;

    public ZlibCompressor(CompressionLevel level = CompressionLevel.Optimal)
    {
        _deflate = new ZLibStream(_sink, level, leaveOpen: true);
    }

    /// <summary>Compresses one payload into <paramref name="output"/> and flushes.</summary>
    /// <param name="payload">The uncompressed payload.</param>
    /// <param name="output">Receives the compressed bytes; it grows the destination as needed.</param>
    /// <returns>The number of compressed bytes written.</returns>
    public int Compress(ReadOnlySpan<byte> payload, IBufferWriter<byte> output)
    {
        _sink.Begin(output);
        _deflate.Write(payload);

        // A sync flush ends every packet on a byte boundary with all its input out (Z_SYNC_FLUSH; OpenSSH uses the
        // equivalent-for-the-reader Z_PARTIAL_FLUSH).
        _deflate.Flush();
        return _sink.End();
    }

    public void Dispose()
    {
        _deflate.Dispose();
        _sink.Dispose();
    }

    /// <summary>A write-only stream that forwards the deflater's output into the packet's buffer writer.</summary>
    private sealed class Sink : Stream
    {
        private IBufferWriter<byte>? _output;
        private int _written;

        public void Begin(IBufferWriter<byte> output)
        {
            _output = output;
            _written = 0;
        }

        public int End()
        {
            _output = null;
            return _written;
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            // Outside a packet (the final block written on dispose) the output goes nowhere.
            if (_output is not { } output)
            {
                return;
            }

            output.Write(buffer);
            _written += buffer.Length;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Flush()
        {
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>
/// Inbound zlib: one inflate stream for the life of a set of keys; each packet's compressed payload is inflated
/// completely into a reusable buffer, bounded so that a compression bomb costs nothing but an error.
/// </summary>
internal sealed class ZlibDecompressor : IDisposable
{
    private readonly Source _source = new();
    private readonly ZLibStream _inflate;
    private readonly int _maxOutput;
    private byte[] _buffer;

    /// <param name="maxOutput">The largest payload one packet may inflate to.</param>
    public ZlibDecompressor(int maxOutput)
    {
        _maxOutput = maxOutput;
        _inflate = new ZLibStream(_source, CompressionMode.Decompress, leaveOpen: true);
        _buffer = ArrayPool<byte>.Shared.Rent(4096);
    }

    /// <summary>Inflates one packet's payload.</summary>
    /// <returns>The inflated payload, valid until the next call.</returns>
    /// <exception cref="SshProtocolException">The data is not valid zlib, or inflates past the limit (a bomb).</exception>
    public ReadOnlyMemory<byte> Decompress(ReadOnlyMemory<byte> compressed)
    {
        _source.Set(compressed);
        int written = 0;
        try
        {
            while (true)
            {
                if (written == _buffer.Length)
                {
                    if (_buffer.Length > _maxOutput)
                    {
                        throw Bomb();
                    }

                    Grow(Math.Min((long)_buffer.Length * 2, (long)_maxOutput + 1));
                }

                int n = _inflate.Read(_buffer, written, _buffer.Length - written);
                if (n == 0)
                {
                    break;
                }

                written += n;
                if (written > _maxOutput)
                {
                    throw Bomb();
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // IOException: zlib's own refusals surface as ZLibException, e.g. for a header that asks for a preset
            // dictionary (FDICT), which SSH never uses.
            throw new SshProtocolException(SshDisconnectReason.CompressionError, "The peer sent corrupt zlib data.", e);
        }

        if (_source.Remaining > 0)
        {
            throw new SshProtocolException(SshDisconnectReason.CompressionError, "The peer's zlib stream ended in the middle of a packet.");
        }

        return _buffer.AsMemory(0, written);
    }

    private SshProtocolException Bomb() =>
        new(SshDisconnectReason.CompressionError, $"A compressed payload inflates past the limit of {_maxOutput} bytes.");

    private void Grow(long size)
    {
        byte[] bigger = ArrayPool<byte>.Shared.Rent((int)size);
        _buffer.AsSpan().CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer, clearArray: true);
        _buffer = bigger;
    }

    public void Dispose()
    {
        _inflate.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer, clearArray: true);
        _buffer = [];
    }

    /// <summary>A read-only stream over the current packet's compressed bytes; reads 0 when they are used up.</summary>
    private sealed class Source : Stream
    {
        private ReadOnlyMemory<byte> _data;

        public int Remaining => _data.Length;

        public void Set(ReadOnlyMemory<byte> data) => _data = data;

        public override int Read(Span<byte> buffer)
        {
            int n = Math.Min(buffer.Length, _data.Length);
            _data.Span[..n].CopyTo(buffer);
            _data = _data[n..];
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
