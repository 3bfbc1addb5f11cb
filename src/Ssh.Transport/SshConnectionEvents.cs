namespace Ssh.Transport;

/// <summary>Which side of the connection did something.</summary>
public enum SshInitiator
{
    /// <summary>This side.</summary>
    Local,

    /// <summary>The peer.</summary>
    Remote,
}

/// <summary>A key exchange of an <see cref="SshTransport"/> started or completed.</summary>
public sealed class SshKeyExchangeEventArgs : EventArgs
{
    internal SshKeyExchangeEventArgs(int number, SshInitiator initiatedBy, SshAlgorithms? algorithms, TimeSpan duration)
    {
        Number = number;
        InitiatedBy = initiatedBy;
        Algorithms = algorithms;
        Duration = duration;
    }

    /// <summary>Which exchange of the connection this is: 1 for the first (the handshake), 2 for the first rekey, ...</summary>
    public int Number { get; }

    /// <summary>Whose KEXINIT came first: ours (a rekey limit, <see cref="SshTransport.RekeyAsync"/>, the handshake) or the peer's.</summary>
    public SshInitiator InitiatedBy { get; }

    /// <summary>The algorithms agreed on; null when the exchange has only started.</summary>
    public SshAlgorithms? Algorithms { get; }

    /// <summary>How long the exchange took, from the first KEXINIT to the second NEWKEYS; zero when it has only started.</summary>
    public TimeSpan Duration { get; }
}

/// <summary>How an <see cref="SshTransport"/> connection ended.</summary>
public sealed class SshConnectionClosedEventArgs : EventArgs
{
    internal SshConnectionClosedEventArgs(SshInitiator closedBy, SshDisconnectReason reason, string description, Exception? error)
    {
        ClosedBy = closedBy;
        Reason = reason;
        Description = description;
        Error = error;
    }

    /// <summary>
    /// Who ended it: <see cref="SshInitiator.Local"/> when this side disconnected, failed the peer for a protocol
    /// error or a timeout, or was disposed; <see cref="SshInitiator.Remote"/> when the peer sent DISCONNECT, closed the
    /// connection, or the connection was lost.
    /// </summary>
    public SshInitiator ClosedBy { get; }

    /// <summary>
    /// The RFC 4253 §11.1 reason: the one sent or received in SSH_MSG_DISCONNECT; <see cref="SshDisconnectReason.ConnectionLost"/>
    /// when the connection closed without one.
    /// </summary>
    public SshDisconnectReason Reason { get; }

    /// <summary>The description sent or received, or what happened.</summary>
    public string Description { get; }

    /// <summary>
    /// Why the connection failed, or null for a normal end: a DISCONNECT by application from either side, the peer
    /// closing the connection between packets, or this side's <see cref="SshTransport.DisconnectAsync"/> or disposal.
    /// </summary>
    public Exception? Error { get; }

    /// <inheritdoc/>
    public override string ToString() => $"closed by {ClosedBy}: {Reason}{(Description.Length > 0 ? " (" + Description + ")" : string.Empty)}";
}
