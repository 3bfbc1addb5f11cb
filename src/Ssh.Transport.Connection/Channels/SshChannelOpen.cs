namespace Ssh.Transport.Connection;

/// <summary>Why a channel could not be opened (RFC 4254 §5.1).</summary>
public enum SshChannelOpenFailureReason : uint
{
    /// <summary>SSH_OPEN_ADMINISTRATIVELY_PROHIBITED: not allowed.</summary>
    AdministrativelyProhibited = 1,

    /// <summary>SSH_OPEN_CONNECT_FAILED: e.g. the forwarding target refused.</summary>
    ConnectFailed = 2,

    /// <summary>SSH_OPEN_UNKNOWN_CHANNEL_TYPE.</summary>
    UnknownChannelType = 3,

    /// <summary>SSH_OPEN_RESOURCE_SHORTAGE: e.g. too many channels.</summary>
    ResourceShortage = 4,
}

/// <summary>The peer refused to open a channel.</summary>
public sealed class SshChannelOpenException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">The reason code the peer sent.</param>
    /// <param name="description">The description the peer sent.</param>
    public SshChannelOpenException(SshChannelOpenFailureReason reason, string description)
        : base($"The peer refused the channel ({reason}): {description}")
    {
        Reason = reason;
        Description = description;
    }

    /// <summary>The reason code the peer sent.</summary>
    public SshChannelOpenFailureReason Reason { get; }

    /// <summary>The description the peer sent.</summary>
    public string Description { get; }
}

/// <summary>Decides a channel the peer wants to open: call <see cref="SshChannelOpenRequest.Accept"/> or <see cref="SshChannelOpenRequest.Reject"/>.</summary>
/// <param name="request">The request; its data is valid until the handler returns or awaits.</param>
/// <param name="cancellationToken">Cancelled when the connection ends.</param>
/// <returns>A task; a request neither accepted nor rejected when it completes is refused as administratively prohibited.</returns>
public delegate ValueTask SshChannelOpenHandler(SshChannelOpenRequest request, CancellationToken cancellationToken);

/// <summary>A channel the peer asks to open (RFC 4254 §5.1), e.g. "session", "direct-tcpip", "forwarded-tcpip".</summary>
public sealed class SshChannelOpenRequest
{
    private readonly SshConnection _connection;

    internal SshChannelOpenRequest(SshConnection connection, string type, uint senderId, uint window, uint maxPacket, ReadOnlyMemory<byte> data)
    {
        _connection = connection;
        Type = type;
        SenderId = senderId;
        Window = window;
        MaxPacket = maxPacket;
        Data = data;
    }

    /// <summary>The channel type.</summary>
    public string Type { get; }

    /// <summary>The type-specific data (RFC 4254 §6.1, §7.2); valid until the handler returns or awaits.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    internal uint SenderId { get; }

    internal uint Window { get; }

    internal uint MaxPacket { get; }

    internal SshChannel? Accepted { get; private set; }

    /// <summary>
    /// True while this open holds one of the connection's decision slots (guarded by the connection's lock): from the
    /// handler's call until the channel takes the slot over in <see cref="Accept"/>, or the decision ends without one.
    /// </summary>
    internal bool HoldsDecisionSlot { get; set; }

    internal (SshChannelOpenFailureReason Reason, string Description)? Rejection { get; private set; }

    /// <summary>Accepts: the confirmation goes out when the handler returns, and the channel is the application's.</summary>
    /// <returns>The channel; serve it on a task of its own.</returns>
    /// <exception cref="InvalidOperationException">Already decided, or no channel number is free.</exception>
    public SshChannel Accept()
    {
        if (Accepted is not null || Rejection is not null)
        {
            throw new InvalidOperationException("This channel request was already decided.");
        }

        Accepted = _connection.CreateChannel(Type, this) ?? throw new InvalidOperationException("No channel number is free.");
        Accepted.Open(SenderId, Window, MaxPacket);
        return Accepted;
    }

    /// <summary>Refuses the channel.</summary>
    /// <param name="reason">The reason code.</param>
    /// <param name="description">A description for the peer.</param>
    /// <exception cref="InvalidOperationException">Already decided.</exception>
    public void Reject(SshChannelOpenFailureReason reason, string description)
    {
        if (Accepted is not null || Rejection is not null)
        {
            throw new InvalidOperationException("This channel request was already decided.");
        }

        Rejection = (reason, description ?? string.Empty);
    }
}

/// <summary>Answers a global request of the peer (RFC 4254 §4), e.g. "tcpip-forward" or "keepalive@openssh.com".</summary>
/// <param name="name">The request name.</param>
/// <param name="data">The request-specific data; valid until the handler returns or awaits.</param>
/// <param name="cancellationToken">Cancelled when the connection ends.</param>
/// <returns>Null to refuse (REQUEST_FAILURE); otherwise the data of REQUEST_SUCCESS (often empty).</returns>
public delegate ValueTask<byte[]?> SshGlobalRequestHandler(string name, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);
