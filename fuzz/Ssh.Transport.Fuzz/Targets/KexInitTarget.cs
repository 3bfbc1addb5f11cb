using Ssh.Transport.Crypto;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport.Fuzz.Targets;

/// <summary>
/// SSH_MSG_KEXINIT (RFC 4253 §7.1): parsing, then negotiation with the peer's message in either role against our
/// lists (every supported algorithm, and the defaults), the first_kex_packet_follows guess, and the method lookup.
/// The input is the KEXINIT payload, message number included.
/// </summary>
internal static class KexInitTarget
{
    private static readonly KexInitMessage[] s_ours =
    [
        Create(SshAlgorithmCatalog.GetSupported, AlgorithmNegotiation.ExtInfoClient, AlgorithmNegotiation.StrictKexClient),
        Create(SshAlgorithmCatalog.GetDefaults, AlgorithmNegotiation.ExtInfoServer, AlgorithmNegotiation.StrictKexServer),
    ];

    public static void Run(byte[] input)
    {
        KexInitMessage peer;
        try
        {
            peer = KexInitMessage.Parse(input, SshNameList.DefaultMaxLength);
        }
        catch (SshProtocolException)
        {
            return;
        }

        if (!peer.Payload.AsSpan().SequenceEqual(input))
        {
            throw new FuzzFindingException("The kept KEXINIT payload differs from the one received (the exchange hash would be wrong).");
        }

        foreach (KexInitMessage ours in s_ours)
        {
            Negotiate(client: ours, server: peer);
            Negotiate(client: peer, server: ours);
        }
    }

    private static void Negotiate(KexInitMessage client, KexInitMessage server)
    {
        _ = AlgorithmNegotiation.IsGuessWrong(client, server);
        NegotiatedAlgorithms negotiated;
        try
        {
            negotiated = AlgorithmNegotiation.Negotiate(client, server, static name => CipherAlgorithm.Find(name)?.IsAead ?? false);
        }
        catch (SshProtocolException)
        {
            return;
        }

        // A negotiation with our list chooses only names we implement, never a marker.
        if (AlgorithmNegotiation.IsKexMarker(negotiated.KeyExchange) || KexAlgorithm.Find(negotiated.KeyExchange) is null
            || CipherAlgorithm.Find(negotiated.CipherClientToServer) is null || CipherAlgorithm.Find(negotiated.CipherServerToClient) is null
            || (negotiated.MacClientToServer is { } mac && MacAlgorithm.Find(mac) is null))
        {
            throw new FuzzFindingException($"Negotiation chose an algorithm we do not implement: {negotiated}.");
        }
    }

    private static KexInitMessage Create(Func<SshAlgorithmCategory, IReadOnlyList<string>> list, string extInfo, string strict) =>
        KexInitMessage.Create(
            [.. list(SshAlgorithmCategory.KeyExchange), extInfo, strict],
            list(SshAlgorithmCategory.HostKey),
            list(SshAlgorithmCategory.Cipher),
            list(SshAlgorithmCategory.Mac),
            list(SshAlgorithmCategory.Compression));
}
