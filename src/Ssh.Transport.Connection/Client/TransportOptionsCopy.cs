namespace Ssh.Transport.Connection;

/// <summary>
/// A copy of the caller's transport settings for one connection: the client sets its host key verifier, clock and
/// logger on the copy and leaves the caller's object alone. A test compares every public property with the
/// original, so a property added to the transport's options is not forgotten here.
/// </summary>
internal static class TransportOptionsCopy
{
    public static SshClientOptions Create(SshClientOptions template)
    {
        var copy = new SshClientOptions
        {
            HostKeyVerifier = template.HostKeyVerifier,
            PreferHostCertificates = template.PreferHostCertificates,
            HandshakeTimeout = template.HandshakeTimeout,
            KeyExchangeTimeout = template.KeyExchangeTimeout,
            MaxQueuedPacketsDuringKeyExchange = template.MaxQueuedPacketsDuringKeyExchange,
            MaxQueuedPongs = template.MaxQueuedPongs,
            MaxBufferedInboundBytes = template.MaxBufferedInboundBytes,
            KeepAliveInterval = template.KeepAliveInterval,
            UnsafePreferInlineScheduling = template.UnsafePreferInlineScheduling,
            MaxNameListLength = template.MaxNameListLength,
            LoggerFactory = template.LoggerFactory,
            Packetizer = template.Packetizer is null ? null! : Copy(template.Packetizer),
        };
        Replace(copy.KeyExchangeAlgorithms, template.KeyExchangeAlgorithms);
        Replace(copy.HostKeyAlgorithms, template.HostKeyAlgorithms);
        Replace(copy.Ciphers, template.Ciphers);
        Replace(copy.Macs, template.Macs);
        Replace(copy.CompressionAlgorithms, template.CompressionAlgorithms);
        return copy;
    }

    private static SshPacketizerOptions Copy(SshPacketizerOptions template) => new()
    {
        MaxPacketLength = template.MaxPacketLength,
        SoftwareVersion = template.SoftwareVersion,
        Comments = template.Comments,
        MaxPreBannerLines = template.MaxPreBannerLines,
        MaxPreBannerBytes = template.MaxPreBannerBytes,
        IdentificationTimeout = template.IdentificationTimeout,
        RekeyBytes = template.RekeyBytes,
        RekeyPackets = template.RekeyPackets,
        RekeyInterval = template.RekeyInterval,
        RekeyOverflowBytes = template.RekeyOverflowBytes,
        RekeyOverflowPackets = template.RekeyOverflowPackets,
        ReceiveBatchHold = template.ReceiveBatchHold,
        TimeProvider = template.TimeProvider,
        Logger = template.Logger,
        LogPacketContents = template.LogPacketContents,
    };

    private static void Replace(IList<string> target, IList<string> source)
    {
        target.Clear();
        foreach (string name in source)
        {
            target.Add(name);
        }
    }
}
