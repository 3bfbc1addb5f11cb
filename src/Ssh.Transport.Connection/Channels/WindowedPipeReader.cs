using System.Buffers;
using System.IO.Pipelines;

namespace Ssh.Transport.Connection;

/// <summary>
/// The application's end of a channel's inbound pipe: every byte it consumes (AdvanceTo) is reported, so the channel
/// can give that much window back to the peer (RFC 4254 §5.2). Reading is the backpressure: bytes not consumed keep
/// the window closed.
/// </summary>
internal sealed class WindowedPipeReader(PipeReader inner, Action<long> consumed) : PipeReader
{
    private ReadOnlySequence<byte> _lastBuffer;

    public override void AdvanceTo(SequencePosition consumedTo) => AdvanceTo(consumedTo, consumedTo);

    public override void AdvanceTo(SequencePosition consumedTo, SequencePosition examined)
    {
        long count = _lastBuffer.IsEmpty ? 0 : _lastBuffer.Slice(_lastBuffer.Start, consumedTo).Length;
        _lastBuffer = default;
        inner.AdvanceTo(consumedTo, examined);
        if (count > 0)
        {
            consumed(count);
        }
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ReadResult result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
        _lastBuffer = result.Buffer;
        return result;
    }

    public override bool TryRead(out ReadResult result)
    {
        if (inner.TryRead(out result))
        {
            _lastBuffer = result.Buffer;
            return true;
        }

        return false;
    }
}
