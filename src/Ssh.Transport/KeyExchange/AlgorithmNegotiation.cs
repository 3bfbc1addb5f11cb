namespace Ssh.Transport.KeyExchange;

/// <summary>The algorithms one key exchange agreed on.</summary>
internal sealed record NegotiatedAlgorithms(
    string KeyExchange,
    string HostKey,
    string CipherClientToServer,
    string CipherServerToClient,
    string? MacClientToServer,
    string? MacServerToClient,
    string CompressionClientToServer,
    string CompressionServerToClient);

/// <summary>
/// The choice rules of RFC 4253 §7.1: for each category, the first algorithm on the client's list that is also on
/// the server's; markers such as ext-info-c and kex-strict-*-v00@openssh.com are never chosen as methods.
/// </summary>
internal static class AlgorithmNegotiation
{
    /// <summary>Names that appear in the kex list as signals, never as key-exchange methods.</summary>
    public static bool IsKexMarker(string name) => name is ExtInfoClient or ExtInfoServer or StrictKexClient or StrictKexServer;

    public const string ExtInfoClient = "ext-info-c";
    public const string ExtInfoServer = "ext-info-s";
    public const string StrictKexClient = "kex-strict-c-v00@openssh.com";
    public const string StrictKexServer = "kex-strict-s-v00@openssh.com";

    /// <summary>Chooses the algorithms.</summary>
    /// <param name="client">The client's KEXINIT.</param>
    /// <param name="server">The server's KEXINIT.</param>
    /// <param name="isAead">Whether a cipher carries its own integrity, so no MAC is negotiated for it.</param>
    /// <exception cref="SshProtocolException">A category has no algorithm in common (KeyExchangeFailed).</exception>
    public static NegotiatedAlgorithms Negotiate(KexInitMessage client, KexInitMessage server, Func<string, bool> isAead)
    {
        string kex = Choose(SshAlgorithmCategory.KeyExchange, null, [.. client.KexAlgorithms.Where(n => !IsKexMarker(n))], [.. server.KexAlgorithms.Where(n => !IsKexMarker(n))]);
        string hostKey = Choose(SshAlgorithmCategory.HostKey, null, client.HostKeyAlgorithms, server.HostKeyAlgorithms);
        string cipherCs = Choose(SshAlgorithmCategory.Cipher, ClientToServer, client.CiphersClientToServer, server.CiphersClientToServer);
        string cipherSc = Choose(SshAlgorithmCategory.Cipher, ServerToClient, client.CiphersServerToClient, server.CiphersServerToClient);

        // With an AEAD cipher the MAC lists are not consulted (as OpenSSH does), but peers still send them.
        string? macCs = isAead(cipherCs) ? null : Choose(SshAlgorithmCategory.Mac, ClientToServer, client.MacsClientToServer, server.MacsClientToServer);
        string? macSc = isAead(cipherSc) ? null : Choose(SshAlgorithmCategory.Mac, ServerToClient, client.MacsServerToClient, server.MacsServerToClient);
        string compCs = Choose(SshAlgorithmCategory.Compression, ClientToServer, client.CompressionClientToServer, server.CompressionClientToServer);
        string compSc = Choose(SshAlgorithmCategory.Compression, ServerToClient, client.CompressionServerToClient, server.CompressionServerToClient);
        return new NegotiatedAlgorithms(kex, hostKey, cipherCs, cipherSc, macCs, macSc, compCs, compSc);
    }

    /// <summary>
    /// RFC 4253 §7.1: a first_kex_packet_follows guess is wrong when the two sides' preferred (first) key-exchange
    /// or host-key algorithms differ; the guessed packet must then be ignored.
    /// </summary>
    public static bool IsGuessWrong(KexInitMessage client, KexInitMessage server) =>
        FirstOrEmpty(client.KexAlgorithms) != FirstOrEmpty(server.KexAlgorithms)
        || FirstOrEmpty(client.HostKeyAlgorithms) != FirstOrEmpty(server.HostKeyAlgorithms);

    private static string FirstOrEmpty(string[] list) => list.Length == 0 ? string.Empty : list[0];

    private const string ClientToServer = "client-to-server";
    private const string ServerToClient = "server-to-client";

    private static string Choose(SshAlgorithmCategory category, string? direction, string[] clientList, string[] serverList)
    {
        foreach (string name in clientList)
        {
            if (Array.IndexOf(serverList, name) >= 0)
            {
                return name;
            }
        }

        throw new SshAlgorithmNegotiationException(category, direction, clientList, serverList);
    }
}
