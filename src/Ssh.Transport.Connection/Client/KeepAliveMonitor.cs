using Microsoft.Extensions.Logging;

namespace Ssh.Transport.Connection;

/// <summary>
/// ssh's ServerAliveInterval and ServerAliveCountMax: after an interval in which nothing arrived from the server, a
/// keepalive@openssh.com global request with want-reply (any answer, success or failure, proves the server alive);
/// anything the server sends resets the count. When one more interval passes in silence after
/// <c>countMax</c> unanswered keepalives, the connection fails with <see cref="SshTimeoutException"/>.
/// </summary>
internal sealed class KeepAliveMonitor : IDisposable
{
    private readonly SshClient _client;
    private readonly TimeSpan _interval;
    private readonly int _countMax;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly Lock _lock = new();
    private long _lastPacketsRead;
    private int _unanswered;
    private int _sent;
    private int _answered;
    private bool _stopped;

    public KeepAliveMonitor(SshClient client, TimeSpan interval, int countMax, TimeProvider time, ILogger logger)
    {
        _client = client;
        _interval = interval;
        _countMax = countMax;
        _logger = logger;
        _lastPacketsRead = client.Transport.PacketsRead;
        _timer = time.CreateTimer(static s => ((KeepAliveMonitor)s!).OnTick(), this, interval, interval);
    }

    /// <summary>Keepalives sent so far.</summary>
    public int Sent => Volatile.Read(ref _sent);

    /// <summary>Keepalives the server answered so far.</summary>
    public int Answered => Volatile.Read(ref _answered);

    public void Dispose()
    {
        lock (_lock)
        {
            _stopped = true;
        }

        _timer.Dispose();
    }

    private void OnTick()
    {
        lock (_lock)
        {
            if (_stopped)
            {
                return;
            }

            long read = _client.Transport.PacketsRead;
            if (read != _lastPacketsRead)
            {
                // The server spoke during the interval: it is alive.
                _lastPacketsRead = read;
                _unanswered = 0;
                return;
            }

            if (_unanswered >= _countMax)
            {
                _stopped = true;
                TimeSpan waited = _interval * (_countMax + 1);
                string text = $"The server did not answer {_countMax} keepalive{(_countMax == 1 ? string.Empty : "s")} (one every {_interval}): nothing arrived for {waited}";
                _ = _client.FailAsync(new SshTimeoutException(SshTimeoutKind.KeepAlive, waited, SshDisconnectReason.ConnectionLost, text + "."));
                return;
            }

            _unanswered++;
            _sent++;
        }

        _ = SendAsync();
    }

    private async Task SendAsync()
    {
        try
        {
            _logger.LogDebug("Sending keepalive ({Unanswered} unanswered)", _unanswered);
            await _client.Connection.SendGlobalRequestAsync<object?>(SshGlobalRequestTypes.KeepAlive, wantReply: true, null, null).ConfigureAwait(false);
            Interlocked.Increment(ref _answered);
        }
        catch (Exception e) when (e is SshProtocolException or InvalidOperationException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            // The connection ended; its loop reports how.
        }
    }
}
