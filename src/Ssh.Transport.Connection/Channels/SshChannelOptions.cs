namespace Ssh.Transport.Connection;

/// <summary>Flow-control settings of the channels of an <see cref="SshConnection"/> (RFC 4254 §5.2).</summary>
public sealed class SshChannelOptions
{
    /// <summary>
    /// The window we grant the peer for each channel when it opens: how many data bytes it may send before we have
    /// read them. Default 2 MiB (OpenSSH's session window).
    /// </summary>
    public int WindowSize { get; set; } = 2 * 1024 * 1024;

    /// <summary>
    /// The most a channel's window grows to. A channel whose data arrives faster than the window lets through a
    /// round trip (a long fat path) doubles its window at a window adjust, up to this; a channel whose application
    /// reads slowly gives it back, down to <see cref="WindowSize"/>. The round trip is measured once per connection,
    /// with a keepalive@openssh.com request, when a channel first carries bulk data. Under 20 ms the measurement is not
    /// trusted (it is the peers' own handling as much as the path), and a growth is kept only if the rate rises with
    /// it. Set it to <see cref="WindowSize"/> for a fixed window. Default 16 MiB.
    /// </summary>
    /// <remarks>What a channel holds unread is bounded by its window, so this bounds its memory.</remarks>
    public int MaxWindowSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// The most the windows of one connection's channels grow to together: no channel's window grows beyond what keeps
    /// the sum within this (every channel keeps at least <see cref="WindowSize"/>). Default 64 MiB.
    /// </summary>
    public int MaxConnectionWindowSize { get; set; } = 64 * 1024 * 1024;

    /// <summary>The largest data payload we accept in one message. Default 32 KiB (OpenSSH's).</summary>
    public int MaxPacketSize { get; set; } = 32 * 1024;

    /// <summary>
    /// The most channels open at once on one connection, counting the peer's opens that the open handler is still
    /// deciding; a peer that opens more is refused at once (RESOURCE_SHORTAGE). Default 64.
    /// </summary>
    public int MaxChannels { get; set; } = 64;

    internal void Validate()
    {
        if (WindowSize < MaxPacketSize || MaxPacketSize < 1024 || MaxChannels < 1 || MaxWindowSize < WindowSize || MaxConnectionWindowSize < WindowSize)
        {
            throw new ArgumentException($"Channel options are not valid: WindowSize ({WindowSize}) must be at least MaxPacketSize ({MaxPacketSize}), MaxPacketSize at least 1024, MaxChannels ({MaxChannels}) at least 1, MaxWindowSize ({MaxWindowSize}) and MaxConnectionWindowSize ({MaxConnectionWindowSize}) at least WindowSize.");
        }
    }
}
