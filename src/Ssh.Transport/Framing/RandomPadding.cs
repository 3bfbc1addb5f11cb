using System.Security.Cryptography;

namespace Ssh.Transport.Framing;

/// <summary>
/// Random padding bytes (RFC 4253 §6: "random padding"), drawn from the system CSPRNG in batches so that a small
/// packet does not pay for a call into the RNG.
/// </summary>
internal sealed class RandomPadding : IDisposable
{
    private const int BatchSize = 1024;
    private readonly byte[] _pool = new byte[BatchSize];
    private int _next = BatchSize;

    public void Fill(Span<byte> destination)
    {
        if (BatchSize - _next < destination.Length)
        {
            RandomNumberGenerator.Fill(_pool);
            _next = 0;
        }

        Span<byte> source = _pool.AsSpan(_next, destination.Length);
        source.CopyTo(destination);

        // Each random byte is used once and not kept.
        source.Clear();
        _next += destination.Length;
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_pool);
}
