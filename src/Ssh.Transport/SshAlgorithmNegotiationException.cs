namespace Ssh.Transport;

/// <summary>
/// The two sides have no algorithm in common for one category (RFC 4253 §7.1); the reason is
/// <see cref="SshDisconnectReason.KeyExchangeFailed"/>.
/// </summary>
public sealed class SshAlgorithmNegotiationException : SshProtocolException
{
    /// <summary>Creates the exception for one category and both sides' lists.</summary>
    /// <param name="category">The category that has nothing in common.</param>
    /// <param name="direction">"client-to-server", "server-to-client", or null for categories without a direction.</param>
    /// <param name="clientAlgorithms">The client's list, in its order of preference.</param>
    /// <param name="serverAlgorithms">The server's list, in its order of preference.</param>
    public SshAlgorithmNegotiationException(SshAlgorithmCategory category, string? direction, IReadOnlyList<string> clientAlgorithms, IReadOnlyList<string> serverAlgorithms)
        : base(
            SshDisconnectReason.KeyExchangeFailed,
            $"No {(direction is null ? string.Empty : direction + " ")}{Describe(category)} algorithm in common (client: {string.Join(',', clientAlgorithms)}; server: {string.Join(',', serverAlgorithms)}).")
    {
        ArgumentNullException.ThrowIfNull(clientAlgorithms);
        ArgumentNullException.ThrowIfNull(serverAlgorithms);
        Category = category;
        Direction = direction;
        ClientAlgorithms = clientAlgorithms;
        ServerAlgorithms = serverAlgorithms;
    }

    /// <summary>The category with no algorithm in common.</summary>
    public SshAlgorithmCategory Category { get; }

    /// <summary>"client-to-server" or "server-to-client" for ciphers, MACs and compression; null otherwise.</summary>
    public string? Direction { get; }

    /// <summary>The client's list, in its order of preference.</summary>
    public IReadOnlyList<string> ClientAlgorithms { get; }

    /// <summary>The server's list, in its order of preference.</summary>
    public IReadOnlyList<string> ServerAlgorithms { get; }

    private static string Describe(SshAlgorithmCategory category) => category switch
    {
        SshAlgorithmCategory.KeyExchange => "key exchange",
        SshAlgorithmCategory.HostKey => "host key",
        SshAlgorithmCategory.Cipher => "cipher",
        SshAlgorithmCategory.Mac => "MAC",
        _ => "compression",
    };
}
