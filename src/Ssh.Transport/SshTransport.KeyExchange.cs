using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Ssh.Transport.Compression;
using Ssh.Transport.Crypto;
using Ssh.Transport.HostKeys;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport;

/// <summary>Algorithm negotiation, key exchange, host authentication and rekeying (RFC 4253 §7-9, RFC 8308).</summary>
public sealed partial class SshTransport
{
    /// <summary>Serializes the decision to send our KEXINIT and the end of an exchange (never held across an await).</summary>
    private readonly Lock _kexLock = new();

    /// <summary>
    /// The transport's own writes (KEXINIT, the method's messages, NEWKEYS, EXT_INFO, UNIMPLEMENTED, SERVICE_ACCEPT)
    /// go out in order through this chain, so the receive loop never waits for the write lock: a writer may hold it
    /// while its flush waits for the peer to read, and the peer may be waiting for us to read (both sides blocked in
    /// writes is a deadlock). The loop reads on; its writes follow in the order it issued them.
    /// </summary>
    private Task _transportWrites = Task.CompletedTask;
    private readonly Lock _transportWritesLock = new();

    // The exchange in progress; touched by the reader, and by StartKeyExchangeAsync under the mutex.
    private KexInitMessage? _ourKexInit;
    private KexInitMessage? _peerKexInit;
    private volatile bool _kexPeerInitReceived;
    private TaskCompletionSource? _kexCompletion;
    private bool _kexInProgress;
    private long _kexStarted;
    private SshInitiator _kexInitiator;
    private ITimer? _kexTimer;
    private NegotiatedAlgorithms? _negotiated;
    private KexAlgorithm? _kexAlgorithm;
    private KexAgreement? _agreement;
    private DhGroup? _gexGroup;
    private uint _gexMin;
    private uint _gexPreferred;
    private uint _gexMax;
    private SshPrivateKey? _serverHostKey;
    private SshPublicKey? _serverHostCertificate;
    private bool _skipGuessedPacket;
    private bool _newKeysSentThisExchange;
    private bool _newKeysReceivedThisExchange;

    // The connection's history.
    private volatile bool _ourNewKeysSent;
    private volatile bool _peerNewKeysSeen;
    private bool _strictKex;
    private bool _peerWantsExtInfo;
    private bool _peerDisconnected;
    private byte[] _sessionId = [];
    private SshAlgorithms? _algorithms;
    private SshPublicKey? _hostKey;
    private int _kexCount;

    /// <summary>ssh-rsa (SHA-1 signatures) only when the options name it.</summary>
    private bool AllowsSha1HostKeys => _options.HostKeyAlgorithms.Contains(SshHostKeyAlgorithms.RsaSha1);

    /// <summary>DH group-exchange bounds we ask for (RFC 8270: at least 2048 bits).</summary>
    private const uint GexMinimumBits = 2048;
    private const uint GexMaximumBits = 8192;

    /// <summary>
    /// Sends our KEXINIT unless an exchange of ours is already under way, and returns a task that completes with the
    /// exchange. Safe from any thread: writers that hit a rekey limit, timers, the receive loop.
    /// </summary>
    /// <param name="initiator">Who started the exchange, if this call starts it: us, or the peer whose KEXINIT we answer.</param>
    /// <param name="cancellationToken">Cancels waiting for the mutex and the write.</param>
    private Task<Task> StartKeyExchangeAsync(SshInitiator initiator, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        SshKeyExchangeEventArgs? started;
        Task completion;
        lock (_kexLock)
        {
            _kexCompletion ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            completion = _kexCompletion.Task;
            started = BeginExchangeUnsynchronized(initiator);
            if (_ourKexInit is null)
            {
                // RFC 4253 §7.1: from here to our NEWKEYS, upper-layer writes are queued, never sent.
                _packetizer.HoldUpperLayerWrites(_options.MaxQueuedPacketsDuringKeyExchange);
                KexInitMessage kexInit = CreateOurKexInit();
                _ourKexInit = kexInit;
                Log.KeyExchangeStarted(KexLogger, _kexCount + 1);
                QueueTransportWrite(kexInit.Payload, static (t, payload, ct) => t._packetizer.WritePacketAsync(payload, ct));
            }
        }

        if (started is not null)
        {
            WakeLoopForExchange();
            Raise(KeyExchangeStarted, started);
        }

        return Task.FromResult(completion);
    }

    /// <summary>Appends one of the transport's own writes to the ordered chain; a failure fails the connection.</summary>
    private void QueueTransportWrite<TState>(TState state, Func<SshTransport, TState, CancellationToken, ValueTask<SshWriteResult>> write) =>
        QueueTransportWriteCore((state, write), static async Task (t, s, ct) => await s.write(t, s.state, ct).ConfigureAwait(false));

    private void QueueTransportWrite<TState>(TState state, Func<SshTransport, TState, CancellationToken, Task> write) => QueueTransportWriteCore(state, write);

    private void QueueTransportWriteCore<TState>(TState state, Func<SshTransport, TState, CancellationToken, Task> write)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task previous;
        lock (_transportWritesLock)
        {
            previous = _transportWrites;
            _transportWrites = done.Task;
        }

        _ = RunTransportWriteAsync(previous, state, write, done);
    }

    private async Task RunTransportWriteAsync<TState>(Task previous, TState state, Func<SshTransport, TState, CancellationToken, Task> write, TaskCompletionSource done)
    {
        try
        {
            await previous.ConfigureAwait(false);
            if (_failure is null && _disposed == 0)
            {
                await write(this, state, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            if (_failure is null && _disposed == 0)
            {
                await FailAsync(Normalize(e)).ConfigureAwait(false);
                StopReceiving();
            }
        }
        finally
        {
            done.TrySetResult();
        }
    }

    /// <summary>Marks an exchange as in progress, if none is: its number, who started it, when; the deadline starts.</summary>
    /// <returns>The event to raise (outside the mutex), or null when an exchange was already in progress.</returns>
    private SshKeyExchangeEventArgs? BeginExchangeUnsynchronized(SshInitiator initiator)
    {
        if (_kexInProgress)
        {
            return null;
        }

        _kexStarted = _options.Packetizer.TimeProvider.GetTimestamp();
        _kexInitiator = initiator;
        MarkPingsCrossingKeyExchange();
        Volatile.Write(ref _kexInProgress, true);
        int number = _kexCount + 1;
        if (number > 1)
        {
            // The first exchange is under the handshake deadline; later ones under their own.
            StartKeyExchangeTimer(number);
        }

        return new SshKeyExchangeEventArgs(number, initiator, algorithms: null, TimeSpan.Zero);
    }

    private void StartKeyExchangeTimer(int number)
    {
        TimeSpan timeout = _options.KeyExchangeTimeout;
        if (timeout <= TimeSpan.Zero || timeout == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        _kexTimer?.Dispose();
        _kexTimer = _options.Packetizer.TimeProvider.CreateTimer(
            static s =>
            {
                var (self, number, timeout) = ((SshTransport, int, TimeSpan))s!;
                _ = self.FailAsync(new SshTimeoutException(SshTimeoutKind.KeyExchange, timeout, SshDisconnectReason.KeyExchangeFailed, $"Key exchange {number} did not complete within {timeout}."));
            },
            (this, number, timeout),
            timeout,
            Timeout.InfiniteTimeSpan);
    }

    private void StopKeyExchangeTimer()
    {
        Interlocked.Exchange(ref _kexTimer, null)?.Dispose();
    }

    private KexInitMessage CreateOurKexInit()
    {
        bool first = _kexCount == 0;
        // Validated options name only algorithms we implement.
        var kex = new List<string>(_options.KeyExchangeAlgorithms);
        if (first)
        {
            // RFC 8308 §2.1 and OpenSSH's strict kex: signals, only in the first KEXINIT.
            if (Role == SshRole.Client)
            {
                kex.Add(AlgorithmNegotiation.ExtInfoClient);
                kex.Add(AlgorithmNegotiation.StrictKexClient);
            }
            else
            {
                kex.Add(AlgorithmNegotiation.ExtInfoServer);
                kex.Add(AlgorithmNegotiation.StrictKexServer);
            }
        }

        // Certificate algorithms (PROTOCOL.certkeys) are never listed in the options: each is the variant of a plain
        // one, offered first, as OpenSSH's defaults and order_hostkeyalgs put them: by a server for the keys it has
        // certificates of, by a client that wants certificates (a CA in known_hosts for the host).
        var plain = new List<string>();
        foreach (string name in _options.HostKeyAlgorithms)
        {
            if (Role == SshRole.Client ? SshHostKeyAlgorithms.GetKeyType(name) is not null : _serverOptions!.FindHostKey(name) is not null)
            {
                plain.Add(name);
            }
        }

        var hostKeys = new List<string>();
        bool certificates = Role == SshRole.Server
            || (_clientOptions!.PreferHostCertificates ?? (_clientOptions.HostKeyVerifier?.Target is KnownHostsVerifier.HostCheck check && check.HasCertificateAuthority));
        if (certificates)
        {
            foreach (string name in _options.HostKeyAlgorithms)
            {
                if (SshHostKeyAlgorithms.GetCertificateAlgorithm(name) is string certificate
                    && (Role == SshRole.Client || _serverOptions!.FindHostKey(certificate) is not null))
                {
                    hostKeys.Add(certificate);
                }
            }
        }

        hostKeys.AddRange(plain);

        return KexInitMessage.Create(kex, hostKeys, [.. _options.Ciphers], [.. _options.Macs], [.. _options.CompressionAlgorithms]);
    }

    /// <summary>
    /// Handles a transport or key-exchange message. Returns false for a message of the layers above, which the
    /// caller delivers.
    /// </summary>
    private async ValueTask<bool> HandleTransportMessageAsync(SshPacket packet)
    {
        CancellationToken cancellationToken = CancellationToken.None;
        byte number = packet.MessageNumber;

        // Strict kex: during the first exchange only key-exchange messages, not even IGNORE or DEBUG. DISCONNECT ends
        // the connection whatever it carries, so it is let through for its reason.
        if (_strictKex && !_peerNewKeysSeen && number is not (SshMessageNumber.KexInit or SshMessageNumber.NewKeys or SshMessageNumber.Disconnect or (>= 30 and <= 49)))
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Strict key exchange: unexpected {SshMessageNumber.GetName(number)} ({number}) during the first key exchange.");
        }

        switch (number)
        {
            case SshMessageNumber.Disconnect:
                OnDisconnect(packet.Payload.Span);
                return true;
            case SshMessageNumber.Ignore:
                return true;
            case SshMessageNumber.Debug:
                OnDebug(packet.Payload.Span);
                return true;
            case SshMessageNumber.Unimplemented:
                OnUnimplemented(packet.Payload.Span);
                return true;
            case SshMessageNumber.ServiceRequest:
                OnServiceRequest(packet.Payload);
                return true;
            case SshMessageNumber.ServiceAccept:
                OnServiceAccept(packet.Payload.Span);
                return true;
            case SshMessageNumber.ExtInfo:
                OnExtInfo(packet.Payload.Span);
                return true;
            case SshMessageNumber.KexInit:
                await OnKexInitAsync(packet, cancellationToken).ConfigureAwait(false);
                return true;
            case SshMessageNumber.NewKeys:
                // The packetizer has already switched the inbound keys (or failed if none were prepared).
                lock (_kexLock)
                {
                    _newKeysReceivedThisExchange = true;
                }

                _peerNewKeysSeen = true;
                TryCompleteExchange();
                return true;
            case >= 30 and <= 49:
                await OnKexMethodMessageAsync(packet.Payload, cancellationToken).ConfigureAwait(false);
                return true;
            case SshMessageNumber.Ping:
                OnPing(packet.Payload);
                return true;
            case SshMessageNumber.Pong:
                OnPong(packet.Payload.Span);
                return true;
            case < 50:
                // RFC 4253 §11.4: an unrecognized message gets SSH_MSG_UNIMPLEMENTED with its sequence number.
                QueueTransportWrite(packet.SequenceNumber, static (t, sequenceNumber, ct) => t._packetizer.WritePacketAsync(sequenceNumber, static (w, seq) =>
                {
                    var writer = new SshWriter(w);
                    writer.WriteByte(SshMessageNumber.Unimplemented);
                    writer.WriteUInt32(seq);
                }, 5, flush: true, ct));
                return true;
            default:
                if (!_peerNewKeysSeen)
                {
                    throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"{SshMessageNumber.GetName(number)} ({number}) before the first key exchange completed.");
                }

                // During a rekey the peer should not send these (RFC 4253 §7.1), but like OpenSSH we deliver them:
                // some peers (AsyncSSH) keep sending channel data after their own KEXINIT.
                return false;
        }
    }

    private void OnDisconnect(ReadOnlySpan<byte> payload)
    {
        var reader = new SshReader(payload[1..]);
        var reason = (SshDisconnectReason)reader.ReadUInt32();
        string description = reader.Remaining >= 4 ? Encoding.UTF8.GetString(reader.ReadString()) : string.Empty;
        _peerDisconnected = true;
        if (reason == SshDisconnectReason.ByApplication && _kexCount > 0)
        {
            // An ordinary logout, also in the middle of a rekey: the end of the connection, not an error. The loop
            // stops reading. (During the handshake it is a failure: the connection never came up.)
            Log.ConnectionEndedByPeer(_logger, reason, description);
            SetClosed(SshInitiator.Remote, reason, description, error: null);
            return;
        }

        throw new SshPeerDisconnectedException(reason, description);
    }

    /// <summary>
    /// SSH_MSG_UNIMPLEMENTED names the sequence number of a message the peer did not handle. If that is the KEXINIT
    /// of an exchange we started and the peer has not answered, the exchange can never complete (OpenSSH refuses key
    /// re-exchange before user authentication this way): fail rather than hold our writes forever.
    /// </summary>
    private void OnUnimplemented(ReadOnlySpan<byte> payload)
    {
        uint sequenceNumber = new SshReader(payload[1..]).ReadUInt32();
        Log.PeerUnimplemented(_logger, sequenceNumber);
        if (_ourKexInit is not null && !_kexPeerInitReceived && sequenceNumber == _packetizer.LastKexInitSequenceNumber)
        {
            var error = new SshProtocolException(SshDisconnectReason.KeyExchangeFailed, "The peer refused our key re-exchange (SSH_MSG_UNIMPLEMENTED for our KEXINIT); OpenSSH accepts none before user authentication.");
            _kexCompletion?.TrySetException(error);
            throw error;
        }
    }

    private void OnDebug(ReadOnlySpan<byte> payload)
    {
        var reader = new SshReader(payload[1..]);
        reader.ReadBoolean();
        Log.PeerDebug(_logger, Encoding.UTF8.GetString(reader.ReadString()));
    }

    private void OnServiceRequest(ReadOnlyMemory<byte> payload)
    {
        if (Role != SshRole.Server)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "A server sent SERVICE_REQUEST.");
        }

        var reader = new SshReader(payload.Span[1..]);
        string name = Encoding.ASCII.GetString(reader.ReadString());
        if (!_serverOptions!.Services.Contains(name))
        {
            throw new SshProtocolException(SshDisconnectReason.ServiceNotAvailable, $"Service '{name}' is not available.");
        }

        _service = name;

        // A gated write (during a key exchange of ours it is queued for after our NEWKEYS, RFC 4253 §7.1) that never
        // waits for room: this loop carries the exchange on. paramiko, for one, sends its SERVICE_REQUEST right after
        // its KEXINIT when our rekey crosses its authentication.
        QueueTransportWrite(name, static async (t, service, ct) => await t._packetizer.WriteGatedAsync(service, static (w, n) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.ServiceAccept);
            writer.WriteString(n);
        }, service.Length + 5, ct, unbounded: true).ConfigureAwait(false));
    }

    private void OnServiceAccept(ReadOnlySpan<byte> payload)
    {
        if (Role != SshRole.Client || Volatile.Read(ref _serviceAccept) is null || _serviceAccept!.Task.IsCompleted)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "Unexpected SERVICE_ACCEPT.");
        }

        var reader = new SshReader(payload[1..]);
        _serviceAccept.TrySetResult(Encoding.ASCII.GetString(reader.ReadString()));
    }

    /// <summary>RFC 8308 §2.3: uint32 nr-extensions, then name/value string pairs.</summary>
    private void OnExtInfo(ReadOnlySpan<byte> payload)
    {
        if (!_peerNewKeysSeen)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "EXT_INFO before the first NEWKEYS.");
        }

        var reader = new SshReader(payload[1..]);
        uint count = reader.ReadUInt32();
        if (count > 256)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"EXT_INFO announces {count} extensions.");
        }

        for (uint i = 0; i < count; i++)
        {
            string name = Encoding.ASCII.GetString(reader.ReadString());
            ReadOnlySpan<byte> value = reader.ReadString();
            if (value.Length > _options.MaxNameListLength)
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"EXT_INFO value of '{name}' exceeds {_options.MaxNameListLength} bytes.");
            }

            _remoteExtensions[name] = value.ToArray();
        }
    }

    private async ValueTask OnKexInitAsync(SshPacket packet, CancellationToken cancellationToken)
    {
        // Our NEWKEYS goes out on the write chain; if it has and the exchange is not yet marked complete, do it now.
        TryCompleteExchange();
        if (_kexPeerInitReceived)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "The peer sent a second KEXINIT during a key exchange.");
        }

        KexInitMessage peer = KexInitMessage.Parse(packet.Payload.Span, _options.MaxNameListLength);
        if (_kexCount == 0 && !_peerNewKeysSeen)
        {
            string marker = Role == SshRole.Client ? AlgorithmNegotiation.StrictKexServer : AlgorithmNegotiation.StrictKexClient;
            _strictKex = peer.KexAlgorithms.Contains(marker);
            if (_strictKex)
            {
                // Terrapin countermeasure: the peer's KEXINIT must be the very first packet it sent.
                if (packet.SequenceNumber != 0)
                {
                    throw new SshProtocolException(SshDisconnectReason.ProtocolError, "Strict key exchange: the peer's KEXINIT was not its first packet.");
                }

                _packetizer.StrictKex = true;
            }

            _peerWantsExtInfo = Role == SshRole.Server && peer.KexAlgorithms.Contains(AlgorithmNegotiation.ExtInfoClient);
        }

        // OpenSSH 10.4 disconnects a peer that sends anything but transport messages after receiving its KEXINIT:
        // hold upper-layer writes from this moment, before our own KEXINIT is even written.
        _packetizer.HoldUpperLayerWrites(_options.MaxQueuedPacketsDuringKeyExchange);
        _peerKexInit = peer;
        _kexPeerInitReceived = true;

        // Crossing KEXINITs are fine; if we have not sent ours yet, it goes out now, before anything else of ours.
        await StartKeyExchangeAsync(SshInitiator.Remote, cancellationToken).ConfigureAwait(false);
        KexInitMessage client = Role == SshRole.Client ? _ourKexInit! : peer;
        KexInitMessage server = Role == SshRole.Client ? peer : _ourKexInit!;
        _negotiated = AlgorithmNegotiation.Negotiate(client, server, static name => CipherAlgorithm.Find(name)?.IsAead ?? false);
        _kexAlgorithm = KexAlgorithm.Find(_negotiated.KeyExchange)
            ?? throw new SshProtocolException(SshDisconnectReason.KeyExchangeFailed, $"Unsupported key exchange '{_negotiated.KeyExchange}'.");
        Log.Negotiated(KexLogger, _negotiated.ToString());

        // RFC 4253 §7.1: a wrong guess means the guessed packet that follows is ignored.
        _skipGuessedPacket = peer.FirstKexPacketFollows && AlgorithmNegotiation.IsGuessWrong(client, server);

        if (Role == SshRole.Server)
        {
            (_serverHostKey, _serverHostCertificate) = _serverOptions!.FindHostKey(_negotiated.HostKey)
                ?? throw new InvalidOperationException($"No host key presents the negotiated {_negotiated.HostKey}.");
            return;
        }

        switch (_kexAlgorithm.Family)
        {
            case KexFamily.Ecdh:
                _agreement = _kexAlgorithm.CreateClient();
                await WriteKexMessageAsync(30, _agreement.LocalPublic, asMpint: false, cancellationToken).ConfigureAwait(false);
                break;
            case KexFamily.FixedDh:
                _agreement = _kexAlgorithm.CreateClient();
                await WriteKexMessageAsync(30, _agreement.LocalPublic, asMpint: true, cancellationToken).ConfigureAwait(false);
                break;
            case KexFamily.GroupExchange:
                (_gexMin, _gexPreferred, _gexMax) = (GexMinimumBits, EstimateGroupBits(_negotiated), GexMaximumBits);
                QueueTransportWrite((_gexMin, _gexPreferred, _gexMax), static (t, bounds, ct) => t._packetizer.WritePacketAsync(bounds, static (w, s) =>
                {
                    var writer = new SshWriter(w);
                    writer.WriteByte(SshMessageNumber.KexDhGexRequest);
                    writer.WriteUInt32(s.Item1);
                    writer.WriteUInt32(s.Item2);
                    writer.WriteUInt32(s.Item3);
                }, 13, flush: true, ct));
                break;
        }
    }

    /// <summary>The group size OpenSSH would ask for: strong enough for the strongest negotiated key (dh_estimate).</summary>
    private static uint EstimateGroupBits(NegotiatedAlgorithms n)
    {
        int need = 0;
        foreach (string name in new[] { n.CipherClientToServer, n.CipherServerToClient })
        {
            CipherAlgorithm cipher = CipherAlgorithm.Find(name)!;
            need = Math.Max(need, Math.Max(cipher.KeySize, Math.Max(cipher.IvSize, cipher.BlockSize)));
        }

        foreach (string? name in new[] { n.MacClientToServer, n.MacServerToClient })
        {
            need = Math.Max(need, name is null ? 0 : MacAlgorithm.Find(name)!.KeySize);
        }

        int bits = need * 8;
        return bits <= 112 ? 2048u : bits <= 128 ? 3072u : bits <= 192 ? 7680u : 8192u;
    }

    private ValueTask WriteKexMessageAsync(byte number, ReadOnlyMemory<byte> value, bool asMpint, CancellationToken cancellationToken)
    {
        _ = cancellationToken;
        QueueTransportWrite((number, value, asMpint), static (t, s, ct) => t.WriteKexMessageNowAsync(s.number, s.value, s.asMpint, ct));
        return ValueTask.CompletedTask;
    }

    private ValueTask<SshWriteResult> WriteKexMessageNowAsync(byte number, ReadOnlyMemory<byte> value, bool asMpint, CancellationToken cancellationToken) =>
        _packetizer.WritePacketAsync((number, value, asMpint), static (w, s) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(s.number);
            if (s.asMpint)
            {
                writer.WriteUnsignedMPInt(s.value.Span);
            }
            else
            {
                writer.WriteString(s.value.Span);
            }
        }, value.Length + 10, flush: true, cancellationToken);

    private async ValueTask OnKexMethodMessageAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (!_kexPeerInitReceived || _kexAlgorithm is null || _negotiated is null)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Key-exchange message {payload.Span[0]} outside a key exchange.");
        }

        if (_skipGuessedPacket)
        {
            _skipGuessedPacket = false;
            return;
        }

        if (_newKeysSentThisExchange)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Key-exchange message {payload.Span[0]} after NEWKEYS.");
        }

        byte number = payload.Span[0];
        KexFamily family = _kexAlgorithm.Family;
        if (Role == SshRole.Client)
        {
            if (family == KexFamily.GroupExchange && _gexGroup is null)
            {
                ExpectMessage(number, SshMessageNumber.KexDhGexGroup);
                var reader = new SshReader(payload.Span[1..]);
                ReadOnlySpan<byte> p = reader.ReadUnsignedMPInt();
                ReadOnlySpan<byte> g = reader.ReadUnsignedMPInt();
                _gexGroup = DhGroup.FromOffer(p, g, _gexMin, _gexMax);
                _agreement = _kexAlgorithm.CreateClient(_gexGroup);
                await WriteKexMessageAsync(SshMessageNumber.KexDhGexInit, _agreement.LocalPublic, asMpint: true, cancellationToken).ConfigureAwait(false);
                return;
            }

            ExpectMessage(number, family == KexFamily.GroupExchange ? SshMessageNumber.KexDhGexReply : SshMessageNumber.KexDhReply);
            await ClientFinishAsync(payload, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (family == KexFamily.GroupExchange && _gexGroup is null)
        {
            ExpectMessage(number, SshMessageNumber.KexDhGexRequest);
            var reader = new SshReader(payload.Span[1..]);
            (_gexMin, _gexPreferred, _gexMax) = (reader.ReadUInt32(), reader.ReadUInt32(), reader.ReadUInt32());
            if (_gexMin > _gexPreferred || _gexPreferred > _gexMax)
            {
                throw new SshProtocolException(SshDisconnectReason.KeyExchangeFailed, $"Bad group-exchange request: min {_gexMin}, preferred {_gexPreferred}, max {_gexMax}.");
            }

            _gexGroup = DhGroup.Choose(_gexMin, _gexPreferred, _gexMax);
            QueueTransportWrite(_gexGroup, static (t, chosen, ct) => t._packetizer.WritePacketAsync(chosen, static (w, group) =>
            {
                var writer = new SshWriter(w);
                writer.WriteByte(SshMessageNumber.KexDhGexGroup);
                writer.WriteMPInt(group.P);
                writer.WriteMPInt(group.G);
            }, 1100, flush: true, ct));
            return;
        }

        ExpectMessage(number, family == KexFamily.GroupExchange ? SshMessageNumber.KexDhGexInit : SshMessageNumber.KexDhInit);
        await ServerRespondAsync(payload, cancellationToken).ConfigureAwait(false);
    }

    private static void ExpectMessage(byte number, byte expected)
    {
        if (number != expected)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Unexpected key-exchange message {number}; expected {expected}.");
        }
    }

    private async ValueTask ClientFinishAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        NegotiatedAlgorithms negotiated = _negotiated!;
        bool mpints = _kexAlgorithm!.Family != KexFamily.Ecdh;
        byte[] hostKeyBlob;
        byte[] serverPublic;
        byte[] signature;
        {
            var reader = new SshReader(payload.Span[1..]);
            hostKeyBlob = reader.ReadString().ToArray();
            serverPublic = (mpints ? reader.ReadUnsignedMPInt() : reader.ReadString()).ToArray();
            signature = reader.ReadString().ToArray();
        }

        SshPublicKey hostKey;
        try
        {
            hostKey = SshPublicKey.FromBlob(hostKeyBlob);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or CryptographicException)
        {
            throw new SshProtocolException(SshDisconnectReason.KeyExchangeFailed, "The server's host key is malformed.", e);
        }
        catch (SshProtocolException e) when (SshHostKeyAlgorithms.IsCertificate(negotiated.HostKey))
        {
            // A certificate that does not parse strictly or whose CA signature does not verify proves nothing.
            throw new SshProtocolException(SshDisconnectReason.HostKeyNotVerifiable, $"The server's host certificate is refused: {e.Message}", e);
        }

        if (SshHostKeyAlgorithms.GetHostKeyType(negotiated.HostKey) != hostKey.KeyType)
        {
            throw new SshProtocolException(SshDisconnectReason.KeyExchangeFailed, $"The server sent a {hostKey.KeyType} key for host key algorithm {negotiated.HostKey}.");
        }

        var encodedK = new ArrayBufferWriter<byte>(256);
        try
        {
            _agreement!.ComputeSharedSecret(serverPublic, encodedK);
            byte[] h = ComputeExchangeHash(hostKeyBlob, _agreement.LocalPublic.Span, serverPublic, encodedK.WrittenSpan);
            if (!hostKey.VerifySignature(negotiated.HostKey, h, signature, allowSha1: AllowsSha1HostKeys))
            {
                throw new SshProtocolException(SshDisconnectReason.KeyExchangeFailed, "The server's signature of the exchange hash does not verify.");
            }

            if (_hostKey is not null)
            {
                // RFC 4253 §9: a rekey proves the same host again; a different key is an attack or a misconfiguration.
                if (!hostKey.Equals(_hostKey))
                {
                    throw new SshHostKeyRejectedException(hostKey, $"The server's host key changed during a rekey (now {hostKey.KeyType} {hostKey.GetFingerprint()}).");
                }
            }
            else if (!await _clientOptions!.HostKeyVerifier!(hostKey, cancellationToken).ConfigureAwait(false))
            {
                throw new SshHostKeyRejectedException(hostKey, $"The server's host key {hostKey.KeyType} {hostKey.GetFingerprint()} was not accepted.");
            }

            _hostKey = hostKey;
            await InstallKeysAsync(encodedK.WrittenSpan.ToArray(), h, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            encodedK.Clear();
        }
    }

    private async ValueTask ServerRespondAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        NegotiatedAlgorithms negotiated = _negotiated!;
        KexFamily family = _kexAlgorithm!.Family;
        byte[] clientPublic;
        {
            var reader = new SshReader(payload.Span[1..]);
            clientPublic = (family == KexFamily.Ecdh ? reader.ReadString() : reader.ReadUnsignedMPInt()).ToArray();
        }

        _agreement = family == KexFamily.GroupExchange ? _kexAlgorithm.CreateServer(_gexGroup!) : _kexAlgorithm.CreateServer();
        var encodedK = new ArrayBufferWriter<byte>(256);
        try
        {
            _agreement.ComputeSharedSecret(clientPublic, encodedK);
            SshPrivateKey key = _serverHostKey!;
            SshPublicKey presented = _serverHostCertificate ?? key.PublicKey;
            byte[] hostKeyBlob = presented.Blob.ToArray();
            byte[] h = ComputeExchangeHash(hostKeyBlob, clientPublic, _agreement.LocalPublic.Span, encodedK.WrittenSpan);
            var signature = new ArrayBufferWriter<byte>(512);

            // With a certificate the certified key signs, with the plain algorithm (PROTOCOL.certkeys).
            key.Sign(SshHostKeyAlgorithms.GetSignatureName(negotiated.HostKey), h, signature, allowSha1: AllowsSha1HostKeys);

            byte replyNumber = family == KexFamily.GroupExchange ? SshMessageNumber.KexDhGexReply : SshMessageNumber.KexDhReply;
            QueueTransportWrite((replyNumber, hostKeyBlob, serverPublic: _agreement.LocalPublic.ToArray(), signature: signature.WrittenMemory, family), static (t, reply, ct) => t._packetizer.WritePacketAsync(reply, static (w, s) =>
            {
                var writer = new SshWriter(w);
                writer.WriteByte(s.replyNumber);
                writer.WriteString(s.hostKeyBlob);
                if (s.family == KexFamily.Ecdh)
                {
                    writer.WriteString(s.serverPublic);
                }
                else
                {
                    writer.WriteUnsignedMPInt(s.serverPublic);
                }

                writer.WriteString(s.signature.Span);
            }, reply.hostKeyBlob.Length + reply.serverPublic.Length + reply.signature.Length + 32, flush: false, ct));

            _hostKey = presented;
            await InstallKeysAsync(encodedK.WrittenSpan.ToArray(), h, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            encodedK.Clear();
        }
    }

    private byte[] ComputeExchangeHash(ReadOnlySpan<byte> hostKeyBlob, ReadOnlySpan<byte> clientPublic, ReadOnlySpan<byte> serverPublic, ReadOnlySpan<byte> encodedK)
    {
        bool client = Role == SshRole.Client;
        ExchangeHashForm form = _kexAlgorithm!.Family switch
        {
            KexFamily.Ecdh => ExchangeHashForm.Strings,
            KexFamily.FixedDh => ExchangeHashForm.Mpints,
            _ => ExchangeHashForm.GroupExchange,
        };
        return ExchangeHash.Compute(
            _kexAlgorithm.Hash,
            form,
            client ? _packetizer.LocalIdentificationBytes : _packetizer.RemoteIdentificationBytes,
            client ? _packetizer.RemoteIdentificationBytes : _packetizer.LocalIdentificationBytes,
            client ? _ourKexInit!.Payload : _peerKexInit!.Payload,
            client ? _peerKexInit!.Payload : _ourKexInit!.Payload,
            hostKeyBlob,
            clientPublic,
            serverPublic,
            encodedK,
            (_gexMin, _gexPreferred, _gexMax),
            _gexGroup is null ? default : (_gexGroup.P, _gexGroup.G));
    }

    /// <summary>Derives both directions' keys (RFC 4253 §7.2), prepares them, and sends NEWKEYS.</summary>
    private ValueTask InstallKeysAsync(byte[] encodedK, byte[] h, CancellationToken cancellationToken)
    {
        _ = cancellationToken;
        NegotiatedAlgorithms n = _negotiated!;
        if (_sessionId.Length == 0)
        {
            _sessionId = h;
        }

        bool client = Role == SshRole.Client;
        try
        {
            PacketSealer sealer = CreateProtection(encodedK, h, client, outbound: true, static (c, k, iv, m, mk) => c.CreateSealer(k, iv, m, mk));
            PacketOpener opener;
            try
            {
                opener = CreateProtection(encodedK, h, client, outbound: false, static (c, k, iv, m, mk) => c.CreateOpener(k, iv, m, mk));
            }
            catch
            {
                sealer.Dispose();
                throw;
            }

            string compressionOut = client ? n.CompressionClientToServer : n.CompressionServerToClient;
            string compressionIn = client ? n.CompressionServerToClient : n.CompressionClientToServer;
            _packetizer.SetPendingInbound(opener, CompressionMethods.Parse(compressionIn)!.Value);
            bool sendExtInfo = !client && _kexCount == 0 && _peerWantsExtInfo;

            // NEWKEYS (the outbound keys prepared under the same hold of the write lock), then what upper-layer writers
            // queued meanwhile, under the new keys; on the write chain, so this loop reads on meanwhile.
            QueueTransportWrite((sealer, compression: CompressionMethods.Parse(compressionOut)!.Value, sendExtInfo), static async (t, s, ct) =>
            {
                // Marked sent the moment NEWKEYS is in the pipe: the peer may answer it (even with its next KEXINIT)
                // before this write returns, and the loop must then find this exchange complete.
                await t._packetizer.WriteNewKeysAsync(s.sealer, s.compression, () =>
                {
                    lock (t._kexLock)
                    {
                        t._newKeysSentThisExchange = true;
                    }

                    t._ourNewKeysSent = true;
                }, ct).ConfigureAwait(false);
                if (s.sendExtInfo)
                {
                    // RFC 8308 §2.4: the server's EXT_INFO goes right after its first NEWKEYS.
                    List<(string Name, string Value)> extensions = t.ServerExtensions();
                    int size = 32 + extensions.Sum(e => 8 + Encoding.UTF8.GetByteCount(e.Name) + Encoding.UTF8.GetByteCount(e.Value));
                    await t._packetizer.WritePacketAsync(extensions, static (w, extensions) =>
                    {
                        var writer = new SshWriter(w);
                        writer.WriteByte(SshMessageNumber.ExtInfo);
                        writer.WriteUInt32((uint)extensions.Count);
                        foreach ((string name, string value) in extensions)
                        {
                            writer.WriteString(name);
                            writer.WriteString(value);
                        }
                    }, size, flush: true, ct).ConfigureAwait(false);
                }

                t.TryCompleteExchange();
            });
        }
        finally
        {
            CryptographicOperations.ZeroMemory(encodedK);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// What a server's EXT_INFO carries: server-sig-algs (RFC 8308 §3.1), the configured extensions, and
    /// ping@openssh.com = "0" while PINGs are answered (OpenSSH PROTOCOL §1.8).
    /// </summary>
    private List<(string Name, string Value)> ServerExtensions()
    {
        var extensions = new List<(string Name, string Value)>
        {
            (SshServerOptions.ServerSignatureAlgorithmsExtension, string.Join(',', _serverOptions!.ServerSignatureAlgorithms)),
        };
        extensions.AddRange(_serverOptions.Extensions.Select(e => (e.Key, e.Value)));
        if (_options.MaxQueuedPongs > 0)
        {
            extensions.Add((PingExtension, PingExtensionVersion));
        }

        return extensions;
    }

    private T CreateProtection<T>(byte[] encodedK, byte[] h, bool client, bool outbound, Func<CipherAlgorithm, byte[], byte[], MacAlgorithm?, byte[], T> create)
    {
        NegotiatedAlgorithms n = _negotiated!;

        // Client to server uses A, C, E; server to client B, D, F.
        bool clientToServer = client == outbound;
        CipherAlgorithm cipher = CipherAlgorithm.Find(clientToServer ? n.CipherClientToServer : n.CipherServerToClient)!;
        string? macName = clientToServer ? n.MacClientToServer : n.MacServerToClient;
        MacAlgorithm? mac = macName is null ? null : MacAlgorithm.Find(macName);
        byte[] iv = new byte[cipher.IvSize];
        byte[] key = new byte[cipher.KeySize];
        byte[] macKey = new byte[mac?.KeySize ?? 0];
        try
        {
            HashAlgorithmName hash = _kexAlgorithm!.Hash;
            KeyDerivation.Derive(hash, encodedK, h, clientToServer ? KeyDerivation.IvClientToServer : KeyDerivation.IvServerToClient, _sessionId, iv);
            KeyDerivation.Derive(hash, encodedK, h, clientToServer ? KeyDerivation.KeyClientToServer : KeyDerivation.KeyServerToClient, _sessionId, key);
            KeyDerivation.Derive(hash, encodedK, h, clientToServer ? KeyDerivation.MacClientToServer : KeyDerivation.MacServerToClient, _sessionId, macKey);
            return create(cipher, key, iv, mac, macKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(iv);
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(macKey);
        }
    }

    /// <summary>
    /// Both NEWKEYS have passed: the exchange is over; the next one may start. Called by the loop (the peer's NEWKEYS,
    /// a new KEXINIT) and by the write chain (ours); whoever sees both first completes it, once.
    /// </summary>
    private void TryCompleteExchange()
    {
        TaskCompletionSource? completion;
        SshKeyExchangeEventArgs completed;
        SshAlgorithms algorithms;
        lock (_kexLock)
        {
            if (!_newKeysSentThisExchange || !_newKeysReceivedThisExchange)
            {
                return;
            }

            StopKeyExchangeTimer();
            algorithms = new SshAlgorithms(_negotiated!);
            _algorithms = algorithms;
            _ourKexInit = null;
            _peerKexInit = null;
            _kexPeerInitReceived = false;
            _agreement?.Dispose();
            _agreement = null;
            _gexGroup = null;
            _negotiated = null;
            _kexAlgorithm = null;
            _newKeysSentThisExchange = false;
            _newKeysReceivedThisExchange = false;
            _skipGuessedPacket = false;
            int number = Interlocked.Increment(ref _kexCount);
            completion = _kexCompletion;
            _kexCompletion = null;
            completed = new SshKeyExchangeEventArgs(number, _kexInitiator, algorithms, _options.Packetizer.TimeProvider.GetElapsedTime(_kexStarted));
            Volatile.Write(ref _kexInProgress, false);
            ReleaseDeferredPongsUnsynchronized();
        }

        ResendPingsAfterKeyExchange();

        Log.KeyExchangeCompleted(KexLogger, completed.Number, algorithms.ToString());
        Raise(KeyExchangeCompleted, completed);
        completion?.TrySetResult();
    }
}
