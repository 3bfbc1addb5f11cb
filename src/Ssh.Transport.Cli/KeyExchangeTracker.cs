namespace Ssh.Transport.Cli;

/// <summary>
/// Counts a connected transport's key exchanges from its <see cref="SshTransport.KeyExchangeStarted"/> and
/// <see cref="SshTransport.KeyExchangeCompleted"/> events (who started each rekey, how many completed), and waits for
/// an exchange in progress to end.
/// </summary>
/// <remarks>
/// Attached after the handshake, whose exchange (number 1) completed before any handler could be added: it is counted
/// here, every later exchange by its event. <see cref="SshTransport.KeyExchangeCount"/> only tells when an event is
/// still to come.
/// The counts stop when the connection closes (<see cref="SshTransport.Closed"/>, raised once our DISCONNECT is out):
/// a rekey the peer started as our DISCONNECT crossed its KEXINIT may still complete here while we drain, but not
/// on the peer's side, which stopped reading at the DISCONNECT.
/// </remarks>
internal sealed class KeyExchangeTracker : IDisposable
{
    private readonly SshTransport _transport;
    private readonly Lock _lock = new();
    private TaskCompletionSource _exchangeEnded = NewSignal();
    private Counts _counts;
    private Counts? _frozen;

    public KeyExchangeTracker(SshTransport transport)
    {
        _transport = transport;
        transport.KeyExchangeStarted += OnStarted;
        transport.KeyExchangeCompleted += OnCompleted;
        transport.Closed += OnClosed;
    }

    /// <summary>Completed key exchanges: the handshake's and every rekey since.</summary>
    public int Completed => Current.Completed;

    /// <summary>Completed rekeys that this side started (its KEXINIT came first).</summary>
    public int RekeysByUs => Current.RekeysByUs;

    /// <summary>Completed rekeys that the peer started.</summary>
    public int RekeysByPeer => Current.RekeysByPeer;

    /// <summary>True once this side has started a rekey, completed or not.</summary>
    public bool RekeyStartedByUs => Current.RekeyStartedByUs;

    private Counts Current
    {
        get
        {
            lock (_lock)
            {
                return _frozen ?? _counts;
            }
        }
    }

    /// <summary>
    /// True while an exchange is in progress, and also in the moment after one, when the transport has counted it
    /// and cleared <see cref="SshTransport.IsKeyExchangeInProgress"/> but has not raised its event yet.
    /// </summary>
    private bool Busy
    {
        get
        {
            if (_transport.IsKeyExchangeInProgress)
            {
                return true;
            }

            lock (_lock)
            {
                return _transport.KeyExchangeCount > _counts.Completed;
            }
        }
    }

    /// <summary>
    /// Waits until no key exchange is in progress. Returns null then, or how the connection ended if it ended first
    /// (an exchange cut short ends it with an error).
    /// </summary>
    /// <exception cref="TimeoutException">The exchange did not end within <paramref name="timeout"/>.</exception>
    public async Task<SshConnectionClosedEventArgs?> WaitForIdleAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_transport.Completion.IsCompleted)
        {
            return await _transport.Completion.ConfigureAwait(false);
        }

        if (!Busy)
        {
            return null;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            while (true)
            {
                // Taken before the check, so that an exchange ending in between still completes it.
                Task ended;
                lock (_lock)
                {
                    ended = _exchangeEnded.Task;
                }

                if (_transport.Completion.IsCompleted)
                {
                    return await _transport.Completion.ConfigureAwait(false);
                }

                if (!Busy)
                {
                    return null;
                }

                await Task.WhenAny(ended, _transport.Completion).WaitAsync(deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"a key exchange did not finish within {timeout.TotalSeconds:0.#} s");
        }
    }

    public void Dispose()
    {
        _transport.KeyExchangeStarted -= OnStarted;
        _transport.KeyExchangeCompleted -= OnCompleted;
        _transport.Closed -= OnClosed;
    }

    private void OnClosed(object? sender, SshConnectionClosedEventArgs e)
    {
        lock (_lock)
        {
            _frozen ??= _counts;
        }
    }

    private void OnStarted(object? sender, SshKeyExchangeEventArgs e)
    {
        lock (_lock)
        {
            if (e.Number > 1 && e.InitiatedBy == SshInitiator.Local)
            {
                _counts = _counts with { RekeyStartedByUs = true };
            }
        }
    }

    private void OnCompleted(object? sender, SshKeyExchangeEventArgs e)
    {
        TaskCompletionSource ended;
        lock (_lock)
        {
            if (e.Number > 1)
            {
                if (e.InitiatedBy == SshInitiator.Local)
                {
                    _counts = _counts with { RekeysByUs = _counts.RekeysByUs + 1 };
                }
                else
                {
                    _counts = _counts with { RekeysByPeer = _counts.RekeysByPeer + 1 };
                }
            }

            ended = _exchangeEnded;
            _exchangeEnded = NewSignal();
        }

        ended.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly record struct Counts(int RekeysByUs, int RekeysByPeer, bool RekeyStartedByUs)
    {
        public int Completed => 1 + RekeysByUs + RekeysByPeer;
    }
}
