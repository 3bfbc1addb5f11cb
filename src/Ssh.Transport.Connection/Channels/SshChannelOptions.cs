namespace Ssh.Transport.Connection;

/// <summary>Flow-control settings of the channels of an <see cref="SshConnection"/> (RFC 4254 §5.2).</summary>
public sealed class SshChannelOptions
{
    /// <summary>
    /// The window we grant the peer for each channel: how many data bytes it may send before we have read them.
    /// It bounds the memory one channel holds. Default 2 MiB (OpenSSH's session window).
    /// </summary>
    public int WindowSize { get; set; } = 2 * 1024 * 1024;

    /// <summary>The largest data payload we accept in one message. Default 32 KiB (OpenSSH's).</summary>
    public int MaxPacketSize { get; set; } = 32 * 1024;

    /// <summary>The most channels open at once on one connection; a peer that opens more is refused. Default 64.</summary>
    public int MaxChannels { get; set; } = 64;

    internal void Validate()
    {
        if (WindowSize < MaxPacketSize || MaxPacketSize < 1024 || MaxChannels < 1)
        {
            throw new ArgumentException($"Channel options are not valid: WindowSize ({WindowSize}) must be at least MaxPacketSize ({MaxPacketSize}), MaxPacketSize at least 1024, MaxChannels ({MaxChannels}) at least 1.");
        }
    }
}
