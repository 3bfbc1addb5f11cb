using Microsoft.Extensions.Logging;
using Ssh.Transport.Compression;
using Ssh.Transport.Crypto;
using Ssh.Transport.HostKeys;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport;

/// <summary>
/// Decides whether a server's host key is trusted (the client's half of RFC 4253 §8's host authentication).
/// </summary>
/// <param name="hostKey">The key the server proved it holds.</param>
/// <param name="cancellationToken">Cancels the decision.</param>
/// <returns>True to trust the key and go on; false to disconnect with HostKeyNotVerifiable.</returns>
public delegate ValueTask<bool> SshHostKeyVerifier(SshPublicKey hostKey, CancellationToken cancellationToken);

/// <summary>
/// Settings shared by both roles of an <see cref="SshTransport"/>: algorithm preferences, timeouts, limits.
/// </summary>
/// <remarks>
/// A transport checks its options with <see cref="Validate"/> and keeps a copy when it starts: one options object
/// may serve many connections, and changing it later affects only the connections started after the change.
/// </remarks>
public abstract class SshTransportOptions
{
    /// <summary>The RFC 4253 §6.5 service names of the user-authentication protocol.</summary>
    public const string UserAuthService = "ssh-userauth";

    // Not readonly: a snapshot replaces them with read-only copies.
    private IList<string> _keyExchangeAlgorithms = [.. KexAlgorithm.DefaultOrder];
    private IList<string> _hostKeyAlgorithms = [.. SshHostKeyAlgorithms.Default];
    private IList<string> _ciphers = [.. CipherAlgorithm.DefaultOrder];
    private IList<string> _macs = [.. MacAlgorithm.DefaultOrder];
    private IList<string> _compressionAlgorithms = [.. CompressionMethods.Default];

    private protected SshTransportOptions()
    {
    }

    /// <summary>
    /// Key-exchange methods in order of preference. Default: post-quantum hybrids, then curve25519, ECDH and DH; no
    /// SHA-1. See <see cref="SshAlgorithmCatalog"/> for every supported name.
    /// </summary>
    public IList<string> KeyExchangeAlgorithms => _keyExchangeAlgorithms;

    /// <summary>Host-key signature algorithms in order of preference. Default: ed25519, ECDSA, RSA with SHA-2; no ssh-rsa (SHA-1).</summary>
    public IList<string> HostKeyAlgorithms => _hostKeyAlgorithms;

    /// <summary>Ciphers in order of preference, for both directions. Default: AEAD first, then CTR; no CBC or 3DES.</summary>
    public IList<string> Ciphers => _ciphers;

    /// <summary>
    /// MACs in order of preference (not used with AEAD ciphers; may be empty when only AEAD ciphers are offered).
    /// Default: SHA-2, EtM first; no SHA-1.
    /// </summary>
    public IList<string> Macs => _macs;

    /// <summary>Compression methods in order of preference: "none", "zlib", "zlib@openssh.com". Default: "none".</summary>
    public IList<string> CompressionAlgorithms => _compressionAlgorithms;

    /// <summary>How long the identification exchange and the first key exchange may take. Default 60 seconds.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a key exchange after the first may take, from the first KEXINIT to the second NEWKEYS; past it the
    /// connection fails with <see cref="SshTimeoutException"/> and a DISCONNECT. Default 60 seconds.
    /// </summary>
    public TimeSpan KeyExchangeTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Upper-layer messages queued while a key exchange runs (they go out after our NEWKEYS); past this, writers wait
    /// for the exchange to end. Default 64 packets (as Go's x/crypto/ssh).
    /// </summary>
    public int MaxQueuedPacketsDuringKeyExchange { get; set; } = 64;

    /// <summary>
    /// How far the receive loop may read ahead of a consumer: the bytes of buffers holding upper-layer messages not yet
    /// released by <see cref="SshTransport.ReadMessageAsync"/>. Past it the socket is not read. Default 1 MiB.
    /// </summary>
    public int MaxBufferedInboundBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// The ping@openssh.com extension (OpenSSH PROTOCOL §1.8): how many PONGs may wait to be written, the answers to
    /// the peer's PINGs still queued behind a slow writer or deferred by a key exchange; a PING that finds them all
    /// taken gets no answer, so a flood of PINGs cannot grow our memory. A server advertises the extension in its
    /// EXT_INFO when this is above 0; 0 answers no PING. Default 16.
    /// </summary>
    public int MaxQueuedPongs { get; set; } = 16;

    /// <summary>
    /// Run the receive path's continuations on the thread that received the bytes instead of handing each one to the
    /// thread pool: the continuation of <see cref="SshTransport.ReadMessageAsync"/> when a message arrives for a
    /// waiting consumer, and, in the connection layer above, the readers of channel inputs, a channel's sender waiting
    /// for the peer's window, and a channel's writers let go after backpressure. Default false.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Each hand-over costs a thread wake-up; on a bulk transfer that is one or two per 32 KiB packet, and with this
    /// set (and <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c> in the environment, so the socket's completions
    /// are inline too) a download runs on one thread, as OpenSSH's does (docs/performance.md).
    /// </para>
    /// <para>
    /// Unsafe in the sense of Kestrel's <c>UnsafePreferInlineScheduling</c>: application code then runs on the receive
    /// path. While a consumer or a channel reader runs, the connection reads nothing, key-exchange messages and
    /// keep-alive replies included; one that blocks synchronously stalls the connection, and one that blocks waiting for
    /// a write that needs the key exchange to finish deadlocks it. Set it only when every such continuation awaits
    /// instead of blocking and does little work before its next await.
    /// </para>
    /// </remarks>
    public bool UnsafePreferInlineScheduling { get; set; }

    /// <summary>Send SSH_MSG_IGNORE after this long without traffic. Default: off (<see cref="Timeout.InfiniteTimeSpan"/>).</summary>
    public TimeSpan KeepAliveInterval { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>The longest name-list accepted in a KEXINIT or EXT_INFO, in bytes. Default 8 KiB.</summary>
    public int MaxNameListLength { get; set; } = SshNameList.DefaultMaxLength;

    /// <summary>Packet limits, rekey limits, identification, clock and logger.</summary>
    public SshPacketizerOptions Packetizer { get; set; } = new();

    /// <summary>
    /// Creates each connection's loggers, one per component: "Ssh.Transport.Connection" (handshake outcome,
    /// disconnects), "Ssh.Transport.KeyExchange" (key exchanges and rekeys) and "Ssh.Transport.Packetizer" (framing,
    /// packet summaries at Debug). Every entry is written inside a scope that names the connection: its role, the
    /// peer's endpoint when known, and the first 8 hex digits of the session identifier once the first key exchange
    /// has completed. When set, it takes precedence over <see cref="SshPacketizerOptions.Logger"/>. Default: null.
    /// </summary>
    /// <remarks>The transport does not dispose the factory.</remarks>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// Checks every setting at once, as a transport does before it starts: algorithm names the library knows
    /// (<see cref="SshAlgorithmCatalog"/>), each listed once, no empty list (the MACs may be empty when every cipher
    /// is AEAD), no KEXINIT signal such as "ext-info-c" in a list; timeouts positive and at most about 49.7 days
    /// (<see cref="KeepAliveInterval"/> may be <see cref="Timeout.InfiniteTimeSpan"/>); limits in range; the
    /// <see cref="Packetizer"/> settings (<see cref="SshPacketizerOptions.Validate"/>); and what the role needs: a
    /// client's host key verifier, a server's host keys and a host-key algorithm they can sign with. The defaults
    /// are valid, but for those role requirements.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is not valid; the message lists every problem.</exception>
    public void Validate() => ValidateArgument(paramName: null);

    /// <summary>As <see cref="Validate"/>, for a method that checks its argument: the exception names the parameter.</summary>
    /// <param name="paramName">The name of the parameter that carried these options, or null.</param>
    /// <exception cref="ArgumentException">A setting is not valid; the message lists every problem.</exception>
    internal void ValidateArgument(string? paramName)
    {
        var problems = new List<string>();
        AddProblems(problems);
        OptionsValidation.ThrowIfAny(problems, $"{GetType().Name} settings", paramName);
    }

    /// <summary>A copy whose lists are read-only and whose later changes neither side sees; not validated.</summary>
    internal SshTransportOptions Snapshot()
    {
        var copy = (SshTransportOptions)MemberwiseClone();
        copy.Freeze();
        return copy;
    }

    /// <summary>Adds a sentence per problem; a role adds its own checks.</summary>
    private protected virtual void AddProblems(List<string> problems)
    {
        OptionsValidation.CheckAlgorithms(problems, nameof(KeyExchangeAlgorithms), KeyExchangeAlgorithms, SshAlgorithmCategory.KeyExchange);
        OptionsValidation.CheckAlgorithms(problems, nameof(HostKeyAlgorithms), HostKeyAlgorithms, SshAlgorithmCategory.HostKey);
        OptionsValidation.CheckAlgorithms(problems, nameof(Ciphers), Ciphers, SshAlgorithmCategory.Cipher);

        // RFC 4253 §6.4's MAC is needed by any cipher that does not authenticate itself.
        string? needsMac = Ciphers.FirstOrDefault(c => c is not null && CipherAlgorithm.Find(c) is { IsAead: false });
        if (Macs.Count == 0 && needsMac is not null)
        {
            problems.Add($"{nameof(Macs)} is empty, but {nameof(Ciphers)} offers '{needsMac}', which needs a MAC; name at least one MAC.");
        }
        else
        {
            OptionsValidation.CheckAlgorithms(problems, nameof(Macs), Macs, SshAlgorithmCategory.Mac, allowEmpty: true);
        }

        OptionsValidation.CheckAlgorithms(problems, nameof(CompressionAlgorithms), CompressionAlgorithms, SshAlgorithmCategory.Compression);
        OptionsValidation.CheckTimeout(problems, nameof(HandshakeTimeout), HandshakeTimeout, allowInfinite: false);
        OptionsValidation.CheckTimeout(problems, nameof(KeyExchangeTimeout), KeyExchangeTimeout, allowInfinite: false);
        OptionsValidation.CheckTimeout(problems, nameof(KeepAliveInterval), KeepAliveInterval, allowInfinite: true);
        OptionsValidation.CheckRange(problems, nameof(MaxQueuedPacketsDuringKeyExchange), MaxQueuedPacketsDuringKeyExchange, 1);
        OptionsValidation.CheckRange(problems, nameof(MaxQueuedPongs), MaxQueuedPongs, 0, 4096);
        if (Packetizer is null)
        {
            problems.Add($"{nameof(Packetizer)} is null.");
            OptionsValidation.CheckRange(problems, nameof(MaxNameListLength), MaxNameListLength, OptionsValidation.MaxNameLength);
            return;
        }

        // A name-list holds at least one name of up to 64 characters (RFC 4251 §6), and fits in a packet.
        OptionsValidation.CheckRange(
            problems, nameof(MaxNameListLength), MaxNameListLength, OptionsValidation.MaxNameLength, Packetizer.MaxPacketLength,
            "(a name may be 64 characters long, and a name-list must fit in a packet)");
        OptionsValidation.CheckRange(
            problems, nameof(MaxBufferedInboundBytes), MaxBufferedInboundBytes, 4096);
        Packetizer.AddProblems(problems, nameof(Packetizer) + ".");
    }

    /// <summary>Replaces every list by a read-only copy and the packetizer settings by a copy; a role adds its own.</summary>
    private protected virtual void Freeze()
    {
        _keyExchangeAlgorithms = OptionsValidation.Freeze(_keyExchangeAlgorithms);
        _hostKeyAlgorithms = OptionsValidation.Freeze(_hostKeyAlgorithms);
        _ciphers = OptionsValidation.Freeze(_ciphers);
        _macs = OptionsValidation.Freeze(_macs);
        _compressionAlgorithms = OptionsValidation.Freeze(_compressionAlgorithms);
        Packetizer = Packetizer?.Clone()!;
    }
}

/// <summary>Settings of the client role.</summary>
public sealed class SshClientOptions : SshTransportOptions
{
    /// <summary>Decides whether the server's host key is trusted; required. See <see cref="KnownHostsVerifier"/>.</summary>
    public SshHostKeyVerifier? HostKeyVerifier { get; set; }

    /// <summary>
    /// Whether to offer the OpenSSH host certificate algorithms ("ssh-ed25519-cert-v01@openssh.com",
    /// "rsa-sha2-512-cert-v01@openssh.com"..., the certificate variant of each of
    /// <see cref="SshTransportOptions.HostKeyAlgorithms"/>) first, so that a server with a host certificate presents
    /// it and the verifier receives it (<see cref="SshPublicKey.Certificate"/>). True: always; false: never. Default
    /// null: when <see cref="HostKeyVerifier"/> comes from <see cref="KnownHostsVerifier.ForHost"/> and the file has an
    /// @cert-authority line for the host, as ssh does.
    /// </summary>
    public bool? PreferHostCertificates { get; set; }

    /// <inheritdoc cref="SshTransportOptions.Snapshot"/>
    internal new SshClientOptions Snapshot() => (SshClientOptions)base.Snapshot();

    private protected override void AddProblems(List<string> problems)
    {
        base.AddProblems(problems);
        if (HostKeyVerifier is null)
        {
            problems.Add($"{nameof(HostKeyVerifier)} is null; a client must decide whether to trust the server's host key: use {nameof(KnownHostsVerifier)}, or a callback that decides.");
        }
    }
}

/// <summary>Settings of the server role.</summary>
public sealed class SshServerOptions : SshTransportOptions
{
    private IList<SshPrivateKey> _hostKeys = [];
    private IList<SshPublicKey> _hostCertificates = [];
    private IList<string> _services = [UserAuthService];
    private IList<string> _serverSignatureAlgorithms = [.. SshHostKeyAlgorithms.Default];
    private IDictionary<string, string> _extensions = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Creates server settings; the server also offers zlib@openssh.com compression by default, as OpenSSH does.</summary>
    public SshServerOptions()
    {
        CompressionAlgorithms.Add(CompressionMethods.ZlibDelayed);
    }

    /// <summary>
    /// The host keys to prove our identity with; at least one, able to sign with one of the
    /// <see cref="SshTransportOptions.HostKeyAlgorithms"/>. The caller keeps ownership: the transport does not
    /// dispose them.
    /// </summary>
    public IList<SshPrivateKey> HostKeys => _hostKeys;

    /// <summary>
    /// OpenSSH host certificates (PROTOCOL.certkeys, made with <c>ssh-keygen -s ca -h</c>) to present beside the host
    /// keys: each certifies the public key of one of <see cref="HostKeys"/>, as a host certificate. A server with a
    /// certificate for a key also offers the certificate variant of each of
    /// <see cref="SshTransportOptions.HostKeyAlgorithms"/> that key signs with ("ssh-ed25519-cert-v01@openssh.com",
    /// "rsa-sha2-512-cert-v01@openssh.com"...), first, as sshd does; a client that asks for one gets the certificate,
    /// and the signature of the key exchange is the certified key's. Empty by default.
    /// </summary>
    public IList<SshPublicKey> HostCertificates => _hostCertificates;

    /// <summary>Services the client may request (RFC 4253 §10). Default: ssh-userauth.</summary>
    public IList<string> Services => _services;

    /// <summary>
    /// The server-sig-algs extension sent to clients that ask for extension info (RFC 8308 §3.1): the public-key
    /// signature algorithms the user-authentication layer accepts.
    /// </summary>
    public IList<string> ServerSignatureAlgorithms => _serverSignatureAlgorithms;

    /// <summary>
    /// More extensions (name → value) for the EXT_INFO sent with server-sig-algs (RFC 8308 §2.4), e.g. the user
    /// authentication layer's "publickey-hostbound@openssh.com" = "0". Empty by default; "server-sig-algs" itself
    /// comes from <see cref="ServerSignatureAlgorithms"/> and may not be listed here.
    /// </summary>
    public IDictionary<string, string> Extensions => _extensions;

    /// <inheritdoc cref="SshTransportOptions.Snapshot"/>
    internal new SshServerOptions Snapshot() => (SshServerOptions)base.Snapshot();

    private protected override void AddProblems(List<string> problems)
    {
        base.AddProblems(problems);
        OptionsValidation.CheckNames(problems, nameof(Services), Services);
        OptionsValidation.CheckNames(problems, nameof(ServerSignatureAlgorithms), ServerSignatureAlgorithms);
        OptionsValidation.CheckNames(problems, nameof(Extensions), [.. Extensions.Keys]);
        if (Extensions.ContainsKey(ServerSignatureAlgorithmsExtension))
        {
            problems.Add($"{nameof(Extensions)} lists '{ServerSignatureAlgorithmsExtension}'; set {nameof(ServerSignatureAlgorithms)} instead.");
        }

        if (Extensions.ContainsKey(SshTransport.PingExtension))
        {
            problems.Add($"{nameof(Extensions)} lists '{SshTransport.PingExtension}'; the transport advertises it itself (set {nameof(MaxQueuedPongs)} to 0 not to).");
        }

        if (Extensions.Values.Contains(null!))
        {
            problems.Add($"{nameof(Extensions)} has a null value.");
        }

        if (HostKeys.Count == 0)
        {
            problems.Add($"{nameof(HostKeys)} is empty; a server needs at least one host key.");
            return;
        }

        if (HostKeys.Contains(null!))
        {
            problems.Add($"{nameof(HostKeys)} contains null.");
            return;
        }

        foreach (SshPublicKey? certificate in HostCertificates)
        {
            if (certificate?.Certificate is not SshCertificate c)
            {
                problems.Add($"{nameof(HostCertificates)} contains {(certificate is null ? "null" : $"a plain {certificate.KeyType} key, not a certificate")}.");
            }
            else if (c.Type != SshCertificateType.Host)
            {
                problems.Add($"{nameof(HostCertificates)} contains a {c.Type.ToString().ToLowerInvariant()} certificate (ID \"{c.KeyId}\"), not a host certificate.");
            }
            else if (!HostKeys.Any(k => k.PublicKey == c.Key))
            {
                problems.Add($"{nameof(HostCertificates)} contains a certificate (ID \"{c.KeyId}\") of {c.Key.KeyType} {c.Key.GetFingerprint()}, which is not one of the {nameof(HostKeys)}.");
            }
        }

        // Only the names the library knows count; unknown ones were reported above.
        if (!HostKeyAlgorithms.Any(name => name is not null && SshAlgorithmCatalog.IsSupported(SshAlgorithmCategory.HostKey, name)
            && HostKeys.Any(key => key.SignatureAlgorithms.Contains(name))))
        {
            string canSign = string.Join(", ", HostKeys.SelectMany(k => k.SignatureAlgorithms).Distinct(StringComparer.Ordinal));
            problems.Add($"{nameof(HostKeyAlgorithms)} ({string.Join(", ", HostKeyAlgorithms)}) names no algorithm the host keys can sign with; they sign with {canSign}.");
        }
    }

    private protected override void Freeze()
    {
        base.Freeze();
        _hostKeys = OptionsValidation.Freeze(_hostKeys);
        _hostCertificates = OptionsValidation.Freeze(_hostCertificates);
        _services = OptionsValidation.Freeze(_services);
        _serverSignatureAlgorithms = OptionsValidation.Freeze(_serverSignatureAlgorithms);
        _extensions = new System.Collections.ObjectModel.ReadOnlyDictionary<string, string>(new Dictionary<string, string>(_extensions, StringComparer.Ordinal));
    }

    /// <summary>
    /// The host key that presents <paramref name="algorithm"/>, plain or certificate (then with its certificate), or
    /// null when none can.
    /// </summary>
    internal (SshPrivateKey Key, SshPublicKey? Certificate)? FindHostKey(string algorithm)
    {
        string? plain = SshHostKeyAlgorithms.GetPlainAlgorithm(algorithm);
        foreach (SshPrivateKey key in HostKeys)
        {
            if (!key.SignatureAlgorithms.Contains(plain ?? algorithm))
            {
                continue;
            }

            if (plain is null)
            {
                return (key, null);
            }

            if (HostCertificates.FirstOrDefault(c => c.Certificate is { Type: SshCertificateType.Host } cert && cert.Key == key.PublicKey) is SshPublicKey certificate)
            {
                return (key, certificate);
            }
        }

        return null;
    }

    /// <summary>The RFC 8308 §3.1 extension <see cref="ServerSignatureAlgorithms"/> is sent as.</summary>
    internal const string ServerSignatureAlgorithmsExtension = "server-sig-algs";
}

/// <summary>The algorithms a key exchange agreed on (RFC 4253 §7.1).</summary>
public sealed class SshAlgorithms
{
    internal SshAlgorithms(NegotiatedAlgorithms n)
    {
        KeyExchange = n.KeyExchange;
        HostKey = n.HostKey;
        CipherClientToServer = n.CipherClientToServer;
        CipherServerToClient = n.CipherServerToClient;
        MacClientToServer = n.MacClientToServer;
        MacServerToClient = n.MacServerToClient;
        CompressionClientToServer = n.CompressionClientToServer;
        CompressionServerToClient = n.CompressionServerToClient;
    }

    /// <summary>The key-exchange method.</summary>
    public string KeyExchange { get; }

    /// <summary>The host-key signature algorithm.</summary>
    public string HostKey { get; }

    /// <summary>The cipher from client to server.</summary>
    public string CipherClientToServer { get; }

    /// <summary>The cipher from server to client.</summary>
    public string CipherServerToClient { get; }

    /// <summary>The MAC from client to server; null when the cipher is AEAD.</summary>
    public string? MacClientToServer { get; }

    /// <summary>The MAC from server to client; null when the cipher is AEAD.</summary>
    public string? MacServerToClient { get; }

    /// <summary>The compression from client to server.</summary>
    public string CompressionClientToServer { get; }

    /// <summary>The compression from server to client.</summary>
    public string CompressionServerToClient { get; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"kex {KeyExchange}, host key {HostKey}, c2s {CipherClientToServer}/{MacClientToServer ?? "aead"}/{CompressionClientToServer}, s2c {CipherServerToClient}/{MacServerToClient ?? "aead"}/{CompressionServerToClient}";
}
