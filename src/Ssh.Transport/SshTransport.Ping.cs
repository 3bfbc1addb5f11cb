using System.Buffers.Binary;

namespace Ssh.Transport;

/// <summary>
/// The ping@openssh.com extension (OpenSSH PROTOCOL §1.8): SSH2_MSG_PING (192) and SSH2_MSG_PONG (193), each
/// "string data"; a PONG copies the data of its PING. A server advertises it in EXT_INFO as "ping@openssh.com" = "0".
/// </summary>
/// <remarks>
/// <para>
/// Answering: the receive loop answers a PING with a PONG through the transport's ordered write chain, so PONGs go
/// out in the order of their PINGs and in order with the transport's other replies. As OpenSSH does (packet.c), a
/// PING before user authentication has completed gets no answer. During a key exchange the answer is deferred until
/// the exchange completes (PROTOCOL: "queued until rekeying completes"; OpenSSH 10.5's code drops such PINGs
/// instead). At most <see cref="SshTransportOptions.MaxQueuedPongs"/> answers wait at a time, deferred ones included;
/// a PING beyond that is not answered, so a flood of PINGs from a peer that does not read costs bounded memory.
/// </para>
/// <para>
/// Asking: <see cref="PingAsync"/> sends a PING carrying an 8-byte identifier and measures, on the configured
/// <see cref="TimeProvider"/>, until the PONG with that identifier is read. A peer that is in a key exchange when our
/// PING arrives may drop it (OpenSSH does): a PING unanswered when an exchange starts is sent again, with a new
/// identifier and time, once the exchange completes.
/// </para>
/// </remarks>
public sealed partial class SshTransport
{
    /// <summary>The RFC 8308 extension name a server advertises the PING/PONG messages with.</summary>
    internal const string PingExtension = "ping@openssh.com";

    /// <summary>The only version of the extension there is (OpenSSH refuses others).</summary>
    private const string PingExtensionVersion = "0";

    private const int PingIdLength = 8;

    private readonly Lock _pingLock = new();

    /// <summary>Our PINGs in flight, by the identifier they carry; guarded by <see cref="_pingLock"/>.</summary>
    private readonly Dictionary<ulong, PendingPing> _pings = [];
    private ulong _lastPingId;

    // Guarded by _kexLock, so that the decision "defer or answer now" and the end of an exchange cannot interleave.
    private int _pongsQueued;
    private List<byte[]>? _deferredPongs;

    /// <summary>
    /// True when the peer advertised ping@openssh.com (version "0") in its EXT_INFO, so <see cref="PingAsync"/> can
    /// be used: a server of OpenSSH 9.5 or later does; clients do not advertise it.
    /// </summary>
    public bool IsPingSupported =>
        _remoteExtensions.TryGetValue(PingExtension, out byte[]? version) && version.AsSpan().SequenceEqual("0"u8);

    /// <summary>
    /// Sends SSH2_MSG_PING (OpenSSH's ping@openssh.com) and waits for the matching SSH2_MSG_PONG: the round-trip time
    /// through the peer's transport, measured with <see cref="SshPacketizerOptions.TimeProvider"/>. The PING waits for
    /// a key exchange of ours to end before it is sent, and is sent again if the peer may have dropped it during one.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait; the PING may still be answered, and the answer is ignored.</param>
    /// <returns>The time from writing the PING to reading its PONG.</returns>
    /// <exception cref="NotSupportedException">The peer did not advertise ping@openssh.com (<see cref="IsPingSupported"/>
    /// is false), e.g. an OpenSSH server before 9.5, or any client.</exception>
    /// <exception cref="InvalidOperationException">User authentication has not completed: peers ignore a PING before it.</exception>
    /// <exception cref="SshProtocolException">The connection ended before the answer.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (!IsPingSupported)
        {
            throw new NotSupportedException($"The peer ({RemoteIdentification}) did not advertise {PingExtension} in its EXT_INFO.");
        }

        if (!_packetizer.IsAuthenticated)
        {
            throw new InvalidOperationException("A PING may be sent only after user authentication has completed; the peer ignores it before (OpenSSH does).");
        }

        var ping = new PendingPing();
        try
        {
            // Not timed from inside our own key exchange: the PING would wait there for our NEWKEYS.
            await WaitForKeyExchangeAsync(cancellationToken).ConfigureAwait(false);
            ulong id;
            lock (_pingLock)
            {
                ThrowIfClosed();
                id = StampUnsynchronized(ping);
            }

            await WriteMessageAsync(id, static (w, id) => WritePing(w, id), 5 + PingIdLength, cancellationToken).ConfigureAwait(false);
            return await ping.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsClosedError(e) && e is not SshProtocolException)
        {
            throw ClosedError(e);
        }
        finally
        {
            lock (_pingLock)
            {
                _pings.Remove(ping.Id);
            }
        }
    }

    /// <summary>A new identifier and send time for <paramref name="ping"/>; under <see cref="_pingLock"/>.</summary>
    private ulong StampUnsynchronized(PendingPing ping)
    {
        _pings.Remove(ping.Id);
        ping.Id = ++_lastPingId;
        ping.SentAt = _options.Packetizer.TimeProvider.GetTimestamp();
        ping.CrossedKeyExchange = false;
        _pings.Add(ping.Id, ping);
        return ping.Id;
    }

    private static void WritePing(System.Buffers.IBufferWriter<byte> w, ulong id)
    {
        var writer = new SshWriter(w);
        writer.WriteByte(SshMessageNumber.Ping);
        writer.WriteUInt32(PingIdLength);
        writer.WriteUInt64(id);
    }

    /// <summary>Completes when no key exchange is in progress (or the one in progress has ended, however it ended).</summary>
    private async Task WaitForKeyExchangeAsync(CancellationToken cancellationToken)
    {
        Task? exchange;
        lock (_kexLock)
        {
            exchange = _kexInProgress ? _kexCompletion?.Task : null;
        }

        if (exchange is not null)
        {
            await exchange.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            cancellationToken.ThrowIfCancellationRequested();
            ThrowIfClosed();
        }
    }

    /// <summary>SSH2_MSG_PING from the peer, on the receive loop: answered, deferred, or (before authentication, or past the limit) not.</summary>
    private void OnPing(ReadOnlyMemory<byte> payload)
    {
        var reader = new SshReader(payload.Span[1..]);
        ReadOnlySpan<byte> data = reader.ReadString();
        if (!_packetizer.IsAuthenticated)
        {
            // OpenSSH's packet.c: "Won't reply to PING in preauth".
            Log.PingBeforeAuthentication(_logger, data.Length);
            return;
        }

        lock (_kexLock)
        {
            if (_pongsQueued >= _options.MaxQueuedPongs)
            {
                Log.PingOverLimit(_logger, data.Length, _pongsQueued);
                return;
            }

            _pongsQueued++;
            byte[] copy = data.ToArray();
            if (_kexInProgress)
            {
                // Answered when the exchange completes (TryCompleteExchange), in order.
                (_deferredPongs ??= []).Add(copy);
                return;
            }

            QueuePongUnsynchronized(copy);
        }
    }

    /// <summary>Puts a PONG on the ordered write chain; under <see cref="_kexLock"/>, which keeps PONGs in the order of their PINGs.</summary>
    private void QueuePongUnsynchronized(byte[] data) =>
        QueueTransportWrite(data, static async (t, d, ct) =>
        {
            try
            {
                // Gated: should another exchange have started meanwhile, it waits for our NEWKEYS (RFC 4253 §7.1). The
                // loop never waits for it, so never for room in the hold either.
                await t._packetizer.WriteGatedAsync(d, static (w, d) =>
                {
                    var writer = new SshWriter(w);
                    writer.WriteByte(SshMessageNumber.Pong);
                    writer.WriteString(d);
                }, d.Length + 5, ct, unbounded: true).ConfigureAwait(false);
                Log.PongSent(t._logger, d.Length);
            }
            finally
            {
                lock (t._kexLock)
                {
                    t._pongsQueued--;
                }
            }
        });

    /// <summary>A key exchange completed: the answers deferred during it go out. Under <see cref="_kexLock"/>.</summary>
    private void ReleaseDeferredPongsUnsynchronized()
    {
        if (_deferredPongs is not { } deferred)
        {
            return;
        }

        _deferredPongs = null;
        foreach (byte[] data in deferred)
        {
            QueuePongUnsynchronized(data);
        }
    }

    /// <summary>SSH2_MSG_PONG from the peer, on the receive loop: completes the ping it answers; any other is ignored.</summary>
    private void OnPong(ReadOnlySpan<byte> payload)
    {
        var reader = new SshReader(payload[1..]);
        ReadOnlySpan<byte> data = reader.ReadString();
        if (data.Length != PingIdLength)
        {
            return;
        }

        long now = _options.Packetizer.TimeProvider.GetTimestamp();
        PendingPing? ping;
        lock (_pingLock)
        {
            if (!_pings.Remove(BinaryPrimitives.ReadUInt64BigEndian(data), out ping))
            {
                return;
            }
        }

        ping.Done.TrySetResult(_options.Packetizer.TimeProvider.GetElapsedTime(ping.SentAt, now));
    }

    /// <summary>A key exchange started: our PINGs unanswered so far may be dropped by a peer that is rekeying.</summary>
    private void MarkPingsCrossingKeyExchange()
    {
        lock (_pingLock)
        {
            foreach (PendingPing ping in _pings.Values)
            {
                ping.CrossedKeyExchange = true;
            }
        }
    }

    /// <summary>A key exchange completed: the PINGs that crossed it unanswered go again, with a new identifier and time.</summary>
    private void ResendPingsAfterKeyExchange()
    {
        List<ulong>? resend = null;
        lock (_pingLock)
        {
            foreach (PendingPing ping in _pings.Values.Where(p => p.CrossedKeyExchange).ToList())
            {
                (resend ??= []).Add(StampUnsynchronized(ping));
            }
        }

        if (resend is null)
        {
            return;
        }

        Log.PingsResent(_logger, resend.Count);
        foreach (ulong id in resend)
        {
            // On the write chain, gated: the loop or the chain calls this and must not wait.
            QueueTransportWrite(id, static async (t, id, ct) =>
                await t._packetizer.WriteGatedAsync(id, static (w, id) => WritePing(w, id), 5 + PingIdLength, ct, unbounded: true).ConfigureAwait(false));
        }
    }

    /// <summary>The connection ended: every ping still waiting fails with the reason.</summary>
    private void FailPendingPings()
    {
        PendingPing[] pending;
        lock (_pingLock)
        {
            pending = [.. _pings.Values];
            _pings.Clear();
        }

        foreach (PendingPing ping in pending)
        {
            ping.Done.TrySetException(ClosedError(null));
        }
    }

    /// <summary>One <see cref="PingAsync"/> call: its identifier on the wire now, when that PING was written, the answer.</summary>
    private sealed class PendingPing
    {
        public TaskCompletionSource<TimeSpan> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ulong Id { get; set; }

        public long SentAt { get; set; }

        public bool CrossedKeyExchange { get; set; }
    }
}
