using System.Buffers;
using System.IO.Pipelines;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport.Fuzz;

/// <summary>One end of an in-memory connection.</summary>
internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;
}

/// <summary>The host keys and algorithm choices every transport-level target uses: fixed keys, loaded once.</summary>
internal static class FuzzKeys
{
    /// <summary>Host key algorithms a scripted KEXINIT may name (byte 1 of the transport targets' input, modulo).</summary>
    public static readonly string[] HostKeyAlgorithms =
        ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"];

    private static readonly Lazy<SshPrivateKey[]> s_hostKeys = new(() =>
        [.. new[] { "ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa2048" }.Select(Load)]);

    /// <summary>Our server's host keys: one of each type (fuzz/keys, written by ssh-keygen).</summary>
    public static SshPrivateKey[] HostKeys => s_hostKeys.Value;

    /// <summary>The user key the userauth target's publickey requests may be signed with (and which is accepted).</summary>
    public static SshPrivateKey UserKey => HostKeys[0];

    public static SshPrivateKey Load(string name) =>
        SshPrivateKey.Load(Path.Combine(AppContext.BaseDirectory, "keys", "id_" + name));

    /// <summary>Every supported algorithm, legacy ones included, so that any name a scripted peer picks is ours too.</summary>
    public static void OfferEverything(SshTransportOptions options)
    {
        Replace(options.KeyExchangeAlgorithms, SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.KeyExchange));
        Replace(options.HostKeyAlgorithms, SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.HostKey));
        Replace(options.Ciphers, SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.Cipher));
        Replace(options.Macs, SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.Mac));
        Replace(options.CompressionAlgorithms, SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.Compression));
    }

    private static void Replace(IList<string> list, IReadOnlyList<string> names)
    {
        list.Clear();
        foreach (string name in names)
        {
            list.Add(name);
        }
    }
}

/// <summary>
/// The scripted peer of the transport-level targets: its identification line, its KEXINIT naming one method and one
/// host key algorithm, then the input's messages, each framed as a packet under "none"; then the end of the stream.
/// </summary>
internal static class ScriptedPeer
{
    /// <summary>
    /// The peer's bytes. <paramref name="kexSelector"/>: the key-exchange method (<see cref="KexAlgorithm.All"/>,
    /// modulo); <paramref name="flags"/>: bits 0-2 the host key algorithm (<see cref="FuzzKeys.HostKeyAlgorithms"/>, modulo), bit 4 the
    /// strict-kex marker, bit 5 first_kex_packet_follows, bit 6 ext-info.
    /// </summary>
    public static byte[] Build(bool peerIsServer, byte kexSelector, byte flags, IEnumerable<byte[]> messages)
    {
        var wire = new ArrayBufferWriter<byte>(1024);
        wire.Write("SSH-2.0-FuzzPeer_1.0\r\n"u8);
        Harness.WriteNonePacket(wire, KexInit(peerIsServer, kexSelector, flags));
        foreach (byte[] message in messages)
        {
            Harness.WriteNonePacket(wire, message);
        }

        return wire.WrittenSpan.ToArray();
    }

    public static byte[] KexInit(bool peerIsServer, byte kexSelector, byte flags)
    {
        IReadOnlyList<KexAlgorithm> all = KexAlgorithm.All;
        var kex = new List<string> { all[kexSelector % all.Count].Name };
        if ((flags & 0x10) != 0)
        {
            kex.Add(peerIsServer ? AlgorithmNegotiation.StrictKexServer : AlgorithmNegotiation.StrictKexClient);
        }

        if ((flags & 0x40) != 0)
        {
            kex.Add(peerIsServer ? AlgorithmNegotiation.ExtInfoServer : AlgorithmNegotiation.ExtInfoClient);
        }

        string hostKey = FuzzKeys.HostKeyAlgorithms[(flags & 7) % FuzzKeys.HostKeyAlgorithms.Length];
        var buffer = new ArrayBufferWriter<byte>(512);
        var writer = new SshWriter(buffer);
        writer.WriteByte(SshMessageNumber.KexInit);
        writer.WriteBytes(Harness.FixedBytes(16, 0xC0));
        writer.WriteNameList([.. kex]);
        writer.WriteNameList([hostKey]);
        foreach (string list in new[] { "aes128-ctr", "aes128-ctr", "hmac-sha2-256", "hmac-sha2-256", "none", "none", "", "" })
        {
            writer.WriteNameList(list.Length == 0 ? [] : [list]);
        }

        writer.WriteBoolean((flags & 0x20) != 0);
        writer.WriteUInt32(0);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A pipe that never pushes back, so the whole script can be written before the library starts reading.</summary>
    public static Pipe NewPipe() => new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
}
