using Ssh.Transport.Crypto;

namespace Ssh.Transport.Framing;

/// <summary>
/// Decides when keys are due for renewal (RFC 4253 §9, RFC 4344 §3) from the traffic of both directions, and
/// bounds how far past that point the peer may go. Rekeying is a flag, never an exception, until the peer
/// exhausts its allowance.
/// </summary>
internal sealed class RekeyAccounting
{
    private readonly long _maxBytes;
    private readonly long _maxPackets;
    private readonly long _overflowBytes;
    private readonly long _overflowPackets;
    private volatile bool _needRekey;

    public RekeyAccounting(SshPacketizerOptions options)
    {
        _maxBytes = options.RekeyBytes;
        _maxPackets = options.RekeyPackets;
        _overflowBytes = options.RekeyOverflowBytes;
        _overflowPackets = options.RekeyOverflowPackets;
    }

    /// <summary>True once any limit of either direction has been reached; cleared when both directions have new keys.</summary>
    public bool NeedRekey => _needRekey;

    /// <summary>Raised the first time a limit is reached under a set of keys; the argument names it.</summary>
    public event Action<string>? LimitReached;

    public long BytesLimit(PacketProtection protection) => Math.Min(_maxBytes, protection.MaxBytesPerKey);

    /// <summary>
    /// Checks a direction after a packet was counted. The time limit is a flag the transport's rekey timer sets
    /// (<see cref="DirectionState{TProtection}.TimeLimitReached"/>), so no packet reads the clock.
    /// </summary>
    /// <param name="state">The direction.</param>
    /// <param name="inbound">True for packets from the peer, whose overflow is bounded.</param>
    /// <exception cref="SshProtocolException">The peer went past the limit and its allowance.</exception>
    public void Check<T>(DirectionState<T> state, bool inbound)
        where T : PacketProtection
    {
        long bytesLimit = BytesLimit(state.Active);
        bool over = state.Bytes >= bytesLimit
            || state.Packets >= _maxPackets
            || state.TimeLimitReached;
        if (!over)
        {
            return;
        }

        if (!_needRekey)
        {
            _needRekey = true;
            LimitReached?.Invoke(inbound ? "inbound" : "outbound");
        }

        if (inbound && (state.Bytes - bytesLimit > _overflowBytes || state.Packets - _maxPackets > _overflowPackets))
        {
            throw new SshProtocolException(
                SshDisconnectReason.ProtocolError,
                $"The peer sent {state.Packets} packets ({state.Bytes} bytes) under one set of keys, past the rekey limit and its allowance, without completing a key exchange.");
        }
    }

    /// <summary>Called after a direction switched keys; clears the flag once both have.</summary>
    public void OnKeysSwitched<TIn, TOut>(DirectionState<TIn> inbound, DirectionState<TOut> outbound)
        where TIn : PacketProtection
        where TOut : PacketProtection
    {
        if (inbound.Generation == outbound.Generation)
        {
            _needRekey = false;
        }
    }
}
