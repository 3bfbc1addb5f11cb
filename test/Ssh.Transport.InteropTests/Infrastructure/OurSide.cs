using System.Text;
using Microsoft.Extensions.Logging;
using Ssh.Transport.Compression;
using Ssh.Transport.Crypto;
using Ssh.Transport.HostKeys;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>Our algorithms (read from the library's own tables), our options for a case, and our host keys.</summary>
internal static class OurSide
{
    private static readonly Lazy<IReadOnlyList<SshPrivateKey>> s_hostKeys = new(() =>
    [
        SshPrivateKey.Generate(SshHostKeyType.Ed25519),
        SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP256),
        SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP384),
        SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP521),
        SshPrivateKey.Generate(SshHostKeyType.Rsa, 2048),
    ]);

    /// <summary>Everything the library implements, legacy algorithms included (they are on when named in the options).</summary>
    public static PeerAlgorithms Supported { get; } = new(
        [.. KexAlgorithm.All.Select(a => a.Name)],
        [.. SshHostKeyAlgorithms.Default, SshHostKeyAlgorithms.RsaSha1],
        [.. CipherAlgorithm.All.Select(a => a.Name)],
        [.. MacAlgorithm.All.Select(a => a.Name)],
        [CompressionMethods.Zlib, CompressionMethods.ZlibDelayed],
        StrictKex: true,
        "KexAlgorithm.All, SshHostKeyAlgorithms, CipherAlgorithm.All, MacAlgorithm.All, CompressionMethods");

    public static IReadOnlyList<SshPrivateKey> HostKeys => s_hostKeys.Value;

    public static bool IsAead(string? cipher) => cipher is not null && (CipherAlgorithm.Find(cipher)?.IsAead ?? false);

    public static SshClientOptions ClientOptions(AlgorithmChoice choice, ILogger logger)
    {
        var options = new SshClientOptions
        {
            HandshakeTimeout = TimeSpan.FromSeconds(30),
            HostKeyVerifier = static (_, _) => ValueTask.FromResult(true),
        };
        Apply(options, choice, logger);
        return options;
    }

    public static SshServerOptions ServerOptions(AlgorithmChoice choice, ILogger logger)
    {
        var options = new SshServerOptions { HandshakeTimeout = TimeSpan.FromSeconds(30) };
        foreach (SshPrivateKey key in HostKeys)
        {
            options.HostKeys.Add(key);
        }

        Apply(options, choice, logger);
        return options;
    }

    private static void Apply(SshTransportOptions options, AlgorithmChoice choice, ILogger logger)
    {
        options.Packetizer.Logger = logger;
        Only(options.KeyExchangeAlgorithms, choice.Kex);
        Only(options.HostKeyAlgorithms, choice.HostKey);
        Only(options.Ciphers, choice.Cipher);
        Only(options.Macs, choice.Mac);
        Only(options.CompressionAlgorithms, choice.Compression);
    }

    /// <summary>Replaces <paramref name="list"/> with <paramref name="names"/> (comma-separated), if given.</summary>
    private static void Only(IList<string> list, string? names)
    {
        if (names is not null)
        {
            list.Clear();
            foreach (string name in names.Split(','))
            {
                list.Add(name);
            }
        }
    }

    /// <summary>SSH_MSG_USERAUTH_REQUEST for the "none" method (RFC 4252 §5.2).</summary>
    public static ValueTask SendUserAuthNoneAsync(SshTransport transport, string user, CancellationToken cancellationToken) =>
        transport.WriteMessageAsync(user, static (w, u) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.UserAuthRequest);
            writer.WriteString(u);
            writer.WriteString("ssh-connection");
            writer.WriteString("none");
        }, cancellationToken);

    /// <summary>
    /// Reads until USERAUTH_FAILURE (skipping banners) and returns its name-list of methods that can continue;
    /// throws on anything else of the layers above.
    /// </summary>
    public static async Task<string> ReadUserAuthFailureAsync(SshTransport transport, CancellationToken cancellationToken)
    {
        while (true)
        {
            SshPacket packet = await transport.ReadMessageAsync(cancellationToken);
            if (packet.IsCompleted)
            {
                throw new InvalidOperationException("The server closed the connection instead of answering the authentication request.");
            }

            if (packet.MessageNumber == SshMessageNumber.UserAuthBanner)
            {
                continue;
            }

            if (packet.MessageNumber != SshMessageNumber.UserAuthFailure)
            {
                throw new InvalidOperationException($"Expected USERAUTH_FAILURE, got message {packet.MessageNumber}.");
            }

            var reader = new SshReader(packet.Payload.Span[1..]);
            return Encoding.ASCII.GetString(reader.ReadString());
        }
    }
}
