using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Ssh.Transport.Connection.Authentication;

namespace Ssh.Transport.Connection;

/// <summary>The client's side of user authentication (RFC 4252, RFC 4256).</summary>
public static class SshClientAuthentication
{
    /// <summary>
    /// Authenticates the user: requests the "ssh-userauth" service if that has not been done, sends <c>none</c> to learn
    /// the server's methods, then tries what the server allows with what <paramref name="options"/> hold:
    /// <c>publickey</c> (the host-bound variant where the server announces it) with each key and then the agent's,
    /// then <c>password</c>, or <c>keyboard-interactive</c> answered with the password. Partial success goes on with
    /// the methods the server then lists.
    /// </summary>
    /// <remarks>
    /// The RSA signature algorithm follows the server's server-sig-algs: rsa-sha2-512, else rsa-sha2-256. After
    /// SSH_MSG_USERAUTH_SUCCESS the transport's delayed compression is switched on before anything else is read.
    /// </remarks>
    /// <param name="transport">The connection, from <see cref="SshTransport.ConnectAsync(System.IO.Pipelines.IDuplexPipe, SshClientOptions, CancellationToken)"/>.</param>
    /// <param name="options">The user name and credentials.</param>
    /// <param name="cancellationToken">Cancels authentication.</param>
    /// <returns>The user, the methods that succeeded and the key that did (if any).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="transport"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException"><see cref="SshClientAuthenticationOptions.UserName"/> is empty.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="transport"/> is a server.</exception>
    /// <exception cref="SshAuthenticationException">
    /// No method succeeded: the message and <see cref="SshAuthenticationException.TriedMethods"/> say what was tried,
    /// <see cref="SshAuthenticationException.AllowedMethods"/> what the server allows. The connection stays open
    /// unless the server closed it.
    /// </exception>
    /// <exception cref="SshProtocolException">The server broke the protocol, or the connection failed.</exception>
    public static Task<SshAuthenticatedUser> AuthenticateAsync(SshTransport transport, SshClientAuthenticationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.UserName, nameof(options));
        ArgumentException.ThrowIfNullOrEmpty(options.ServiceName, nameof(options));
        if (transport.Role != SshRole.Client)
        {
            throw new InvalidOperationException("Client authentication runs on a client's transport.");
        }

        return new ClientAuthenticator(transport, options).RunAsync(cancellationToken);
    }
}

/// <summary>One client authentication: the identities, what was tried, and the exchange with the server.</summary>
internal sealed class ClientAuthenticator
{
    private const int MaxKeyboardInteractiveRounds = 8;
    private const int MaxPrompts = 64;

    private readonly SshTransport _transport;
    private readonly SshClientAuthenticationOptions _options;
    private readonly ILogger _logger;
    private readonly string _user;
    private readonly string _service;
    private readonly List<string> _tried = [];
    private readonly List<string> _completed = [];
    private readonly Queue<Identity> _identities = new();
    private string[] _allowed = [];
    private bool _agentLoaded;
    private bool _passwordTried;
    private bool _keyboardInteractiveTried;
    private int _keysTried;
    private SshPublicKey? _acceptedKey;
    private SshAgentClient? _agent;

    public ClientAuthenticator(SshTransport transport, SshClientAuthenticationOptions options)
    {
        _transport = transport;
        _options = options;
        _logger = options.Logger ?? NullLogger.Instance;
        _user = options.UserName;
        _service = options.ServiceName;
        foreach (SshPrivateKey key in options.PrivateKeys)
        {
            _identities.Enqueue(new Identity(key.PublicKey, key, $"{key.KeyType} {key.Comment}".TrimEnd()));
        }
    }

    private enum Result
    {
        Success,
        Failure,
    }

    public async Task<SshAuthenticatedUser> RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await AuthenticateAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (_agent is not null)
            {
                await _agent.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<SshAuthenticatedUser> AuthenticateAsync(CancellationToken cancellationToken)
    {
        if (_transport.Service is null)
        {
            await _transport.RequestServiceAsync(SshTransportOptions.UserAuthService, cancellationToken).ConfigureAwait(false);
        }

        // RFC 4252 §5.2: "none" returns the list of methods that can continue (or lets the user in).
        await WriteAsync(SshAuthenticationMethods.None, static (ref SshWriter _, object? _) => { }, null, cancellationToken).ConfigureAwait(false);
        if (await ReadOutcomeAsync(SshAuthenticationMethods.None, cancellationToken).ConfigureAwait(false) == Result.Success)
        {
            return Succeeded(SshAuthenticationMethods.None);
        }

        while (true)
        {
            Result result;
            string method;
            if (Allows(SshAuthenticationMethods.PublicKey) && await NextIdentityAsync(cancellationToken).ConfigureAwait(false) is { } identity)
            {
                method = SshAuthenticationMethods.PublicKey;
                result = await PublicKeyAsync(identity, cancellationToken).ConfigureAwait(false);
                if (result == Result.Success || _completed.Contains(method))
                {
                    _acceptedKey = identity.Key;
                }
            }
            else if (Allows(SshAuthenticationMethods.Password) && _options.Password is not null && !_passwordTried)
            {
                method = SshAuthenticationMethods.Password;
                _passwordTried = true;
                result = await PasswordAsync(_options.Password, cancellationToken).ConfigureAwait(false);
            }
            else if (Allows(SshAuthenticationMethods.KeyboardInteractive) && _options.Password is not null && !_keyboardInteractiveTried)
            {
                method = SshAuthenticationMethods.KeyboardInteractive;
                _keyboardInteractiveTried = true;
                result = await KeyboardInteractiveAsync(_options.Password, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                throw NoMoreMethods();
            }

            if (result == Result.Success)
            {
                return Succeeded(method);
            }
        }
    }

    private bool Allows(string method) => _allowed.Contains(method);

    private void Tried(string method)
    {
        if (!_tried.Contains(method))
        {
            _tried.Add(method);
        }
    }

    private SshAuthenticatedUser Succeeded(string method)
    {
        // The server compresses from its next packet on (zlib@openssh.com); so do we, before anything else is read.
        _transport.EnableDelayedCompression();
        _completed.Add(method);
        _logger.LogInformation("Authenticated as {User} by {Methods}", _user, string.Join(", ", _completed));
        return new SshAuthenticatedUser(_user, _service, _completed.AsReadOnly(), _acceptedKey, authorizedKey: null);
    }

    private SshAuthenticationException NoMoreMethods()
    {
        var text = new StringBuilder($"Permission denied for user '{_user}': tried ");
        text.Append(_tried.Count == 0 ? "nothing" : string.Join(", ", _tried.Select(m => m == SshAuthenticationMethods.PublicKey ? $"publickey ({_keysTried} key{(_keysTried == 1 ? string.Empty : "s")})" : m)));
        text.Append("; the server allows ").Append(_allowed.Length == 0 ? "no method" : string.Join(", ", _allowed)).Append('.');
        bool offersSecret = Allows(SshAuthenticationMethods.Password) || Allows(SshAuthenticationMethods.KeyboardInteractive);
        if (offersSecret && _options.Password is null)
        {
            text.Append(" No password was given.");
        }

        if (Allows(SshAuthenticationMethods.PublicKey) && _keysTried == 0)
        {
            text.Append(" No usable key was given.");
        }

        return new SshAuthenticationException(SshDisconnectReason.NoMoreAuthMethodsAvailable, text.ToString(), _user, _tried.AsReadOnly(), _allowed);
    }

    /// <summary>The next key to offer: the caller's keys first, then the agent's (listed once, when first needed).</summary>
    private async ValueTask<Identity?> NextIdentityAsync(CancellationToken cancellationToken)
    {
        if (_identities.Count == 0 && _options.UseAgent && !_agentLoaded)
        {
            _agentLoaded = true;
            await LoadAgentAsync(cancellationToken).ConfigureAwait(false);
        }

        return _identities.TryDequeue(out Identity? identity) ? identity : null;
    }

    private async Task LoadAgentAsync(CancellationToken cancellationToken)
    {
        string? path = _options.AgentSocketPath ?? Environment.GetEnvironmentVariable("SSH_AUTH_SOCK");
        if (string.IsNullOrEmpty(path))
        {
            _logger.LogInformation("No ssh-agent: SSH_AUTH_SOCK is not set");
            return;
        }

        try
        {
            SshAgentClient agent = _agent = await SshAgentClient.ConnectAsync(path, cancellationToken).ConfigureAwait(false);
            List<(SshPublicKey Key, string Comment)> keys = await agent.RequestIdentitiesAsync(cancellationToken).ConfigureAwait(false);
            _logger.LogDebug("ssh-agent at {Path} holds {Count} usable keys", path, keys.Count);
            foreach ((SshPublicKey key, string comment) in keys)
            {
                if (!_options.PrivateKeys.Any(k => k.PublicKey.Equals(key)))
                {
                    _identities.Enqueue(new Identity(key, null, $"{key.KeyType} {comment} (agent)") { Agent = agent });
                }
            }
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or SshProtocolException)
        {
            _logger.LogWarning("ssh-agent at {Path} is not usable: {Error}", path, e.Message);
        }
    }

    /// <summary>
    /// The signature algorithm for a key: its type, except for RSA, where the server's server-sig-algs choose
    /// rsa-sha2-512 or rsa-sha2-256 (RFC 8332 §3.3); ssh-rsa only for a server that lists nothing, if allowed.
    /// </summary>
    private string? ChooseAlgorithm(SshPublicKey key)
    {
        if (key.KeyType != "ssh-rsa")
        {
            return key.KeyType;
        }

        IReadOnlyList<string>? serverAlgorithms = _transport.ServerSignatureAlgorithms;
        if (serverAlgorithms is null)
        {
            return _options.AllowSha1Signatures ? "ssh-rsa" : "rsa-sha2-512";
        }

        return serverAlgorithms.Contains("rsa-sha2-512") ? "rsa-sha2-512" : serverAlgorithms.Contains("rsa-sha2-256") ? "rsa-sha2-256" : null;
    }

    private async Task<Result> PublicKeyAsync(Identity identity, CancellationToken cancellationToken)
    {
        string? algorithm = ChooseAlgorithm(identity.Key);
        if (algorithm is null)
        {
            _logger.LogInformation("Skipping {Key}: the server's server-sig-algs name no RSA SHA-2 algorithm", identity.Description);
            return Result.Failure;
        }

        // OpenSSH PROTOCOL §2.5: bind the signature to this server's host key where the server announces it.
        bool hostBound = _transport.RemoteExtensions.TryGetValue(SshAuthenticationMethods.PublicKeyHostBoundExtension, out byte[]? version) && version.AsSpan().SequenceEqual("0"u8);
        string method = hostBound ? SshAuthenticationMethods.PublicKeyHostBound : SshAuthenticationMethods.PublicKey;
        ReadOnlyMemory<byte> hostKey = hostBound ? _transport.HostKey.Blob : ReadOnlyMemory<byte>.Empty;
        Tried(SshAuthenticationMethods.PublicKey);
        _keysTried++;

        // Query first where signing is costly or not ours to do at will (RSA, the agent): RFC 4252 §7's PK_OK.
        if (identity.Agent is not null || identity.Key.KeyType == "ssh-rsa")
        {
            await WriteAsync(method, static (ref SshWriter w, (string Algorithm, SshPublicKey Key, ReadOnlyMemory<byte> HostKey) s) =>
            {
                w.WriteBoolean(false);
                w.WriteString(s.Algorithm);
                w.WriteString(s.Key.Blob.Span);
                if (!s.HostKey.IsEmpty)
                {
                    w.WriteString(s.HostKey.Span);
                }
            }, (algorithm, identity.Key, hostKey), cancellationToken).ConfigureAwait(false);
            SshPacket reply = await ReadReplyAsync(cancellationToken).ConfigureAwait(false);
            if (reply.MessageNumber != UserAuthWire.MethodSpecific)
            {
                return HandleOutcome(reply, SshAuthenticationMethods.PublicKey);
            }

            CheckPkOk(reply, algorithm, identity.Key);
            _logger.LogDebug("The server would accept {Key}", identity.Description);
        }

        byte[] signed = UserAuthWire.SignedData(_transport.SessionId.Span, _user, _service, method, algorithm, identity.Key.Blob.Span, hostKey.Span);
        byte[]? agentSignature = null;
        if (identity.Agent is { } agent)
        {
            uint flags = algorithm switch { "rsa-sha2-512" => SshAgentClient.RsaSha2_512, "rsa-sha2-256" => SshAgentClient.RsaSha2_256, _ => 0 };
            agentSignature = await agent.SignAsync(identity.Key, signed, flags, cancellationToken).ConfigureAwait(false);
            if (agentSignature is null || !NamesAlgorithm(agentSignature, algorithm))
            {
                _logger.LogWarning("ssh-agent did not sign with {Key} ({Algorithm})", identity.Description, algorithm);
                return Result.Failure;
            }
        }

        await WriteAsync(method, static (ref SshWriter w, SignedRequest s) =>
        {
            w.WriteBoolean(true);
            w.WriteString(s.Algorithm);
            w.WriteString(s.Key.Blob.Span);
            if (!s.HostKey.IsEmpty)
            {
                w.WriteString(s.HostKey.Span);
            }

            if (s.AgentSignature is not null)
            {
                w.WriteString(s.AgentSignature);
            }
            else
            {
                s.PrivateKey!.WriteSignature(ref w, s.Algorithm, s.Signed, allowSha1: s.Algorithm == "ssh-rsa");
            }
        }, new SignedRequest(algorithm, identity.Key, identity.PrivateKey, hostKey, signed, agentSignature), cancellationToken).ConfigureAwait(false);
        Result result = await ReadOutcomeAsync(SshAuthenticationMethods.PublicKey, cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("{Key} ({Algorithm}, {Method}): {Result}", identity.Description, algorithm, method, _completed.Contains(SshAuthenticationMethods.PublicKey) ? "partial success" : result);
        return result;
    }

    private static bool NamesAlgorithm(byte[] signatureBlob, string algorithm)
    {
        try
        {
            return Ascii.Equals(new SshReader(signatureBlob).ReadString(), algorithm);
        }
        catch (SshProtocolException)
        {
            return false;
        }
    }

    /// <summary>RFC 4252 §7: SSH_MSG_USERAUTH_PK_OK repeats the algorithm and the key blob of the query.</summary>
    private static void CheckPkOk(SshPacket reply, string algorithm, SshPublicKey key)
    {
        var reader = new SshReader(reply.Payload.Span[1..]);
        if (!Ascii.Equals(reader.ReadString(), algorithm) || !reader.ReadString().SequenceEqual(key.Blob.Span))
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, "USERAUTH_PK_OK names another algorithm or key than the query.");
        }
    }

    /// <summary>RFC 4252 §8: FALSE, string password. A PASSWD_CHANGEREQ answer ends the method: changing passwords is not supported.</summary>
    private async Task<Result> PasswordAsync(string password, CancellationToken cancellationToken)
    {
        Tried(SshAuthenticationMethods.Password);
        await WriteAsync(SshAuthenticationMethods.Password, static (ref SshWriter w, string p) =>
        {
            w.WriteBoolean(false);
            w.WriteString(p);
        }, password, cancellationToken).ConfigureAwait(false);
        SshPacket reply = await ReadReplyAsync(cancellationToken).ConfigureAwait(false);
        if (reply.MessageNumber == UserAuthWire.MethodSpecific)
        {
            _logger.LogWarning("The server asks for a new password for {User}; changing passwords is not supported", _user);
            return Result.Failure;
        }

        return HandleOutcome(reply, SshAuthenticationMethods.Password);
    }

    /// <summary>
    /// RFC 4256: string language, string submethods; then INFO_REQUESTs answered with INFO_RESPONSEs until SUCCESS or
    /// FAILURE. Prompts that ask for a password without echo get it (once); other prompts an empty answer.
    /// </summary>
    private async Task<Result> KeyboardInteractiveAsync(string password, CancellationToken cancellationToken)
    {
        Tried(SshAuthenticationMethods.KeyboardInteractive);
        await WriteAsync(SshAuthenticationMethods.KeyboardInteractive, static (ref SshWriter w, object? _) =>
        {
            w.WriteString(string.Empty);
            w.WriteString(string.Empty);
        }, null, cancellationToken).ConfigureAwait(false);
        bool passwordSent = false;
        for (int round = 0; ; round++)
        {
            SshPacket reply = await ReadReplyAsync(cancellationToken).ConfigureAwait(false);
            if (reply.MessageNumber != UserAuthWire.MethodSpecific)
            {
                return HandleOutcome(reply, SshAuthenticationMethods.KeyboardInteractive);
            }

            if (round == MaxKeyboardInteractiveRounds)
            {
                throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"keyboard-interactive went on for more than {MaxKeyboardInteractiveRounds} rounds.");
            }

            string[] answers = AnswerPrompts(reply, password, ref passwordSent);
            await _transport.WriteMessageAsync(answers, static (b, a) =>
            {
                var w = new SshWriter(b);
                w.WriteByte(SshMessageNumber.UserAuthInfoResponse);
                w.WriteUInt32((uint)a.Length);
                foreach (string answer in a)
                {
                    w.WriteString(answer);
                }
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>RFC 4256 §3.2: string name, string instruction, string language, int num-prompts, then (string prompt, boolean echo) each.</summary>
    private string[] AnswerPrompts(SshPacket request, string password, ref bool passwordSent)
    {
        var reader = new SshReader(request.Payload.Span[1..]);
        string name = UserAuthWire.ReadText(ref reader, UserAuthWire.MaxSecretLength, "keyboard-interactive name");
        string instruction = UserAuthWire.ReadText(ref reader, UserAuthWire.MaxSecretLength, "keyboard-interactive instruction");
        reader.ReadString();
        uint count = reader.ReadUInt32();
        if (count > MaxPrompts)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"keyboard-interactive INFO_REQUEST with {count} prompts.");
        }

        if (name.Length + instruction.Length > 0 && _options.BannerReceived is { } show)
        {
            show(string.Join('\n', new[] { name, instruction }.Where(t => t.Length > 0)));
        }

        var answers = new string[count];
        for (int i = 0; i < answers.Length; i++)
        {
            string prompt = UserAuthWire.ReadText(ref reader, UserAuthWire.MaxSecretLength, "keyboard-interactive prompt");
            bool echo = reader.ReadBoolean();
            bool asksPassword = !echo && (prompt.Contains("password", StringComparison.OrdinalIgnoreCase) || prompt.Contains("passphrase", StringComparison.OrdinalIgnoreCase));
            answers[i] = asksPassword && !passwordSent ? password : string.Empty;
            passwordSent |= asksPassword;
            _logger.LogDebug("keyboard-interactive prompt '{Prompt}' (echo {Echo}): {Answer}", prompt, echo, asksPassword ? "the password" : "empty");
        }

        return answers;
    }

    /// <summary>Reads the answer to a request and makes it a result: SUCCESS, or FAILURE with the methods that can continue.</summary>
    private async Task<Result> ReadOutcomeAsync(string method, CancellationToken cancellationToken)
    {
        SshPacket reply = await ReadReplyAsync(cancellationToken).ConfigureAwait(false);
        return HandleOutcome(reply, method);
    }

    /// <summary>RFC 4252 §5.1: SUCCESS; or FAILURE with name-list authentications that can continue, boolean partial success.</summary>
    private Result HandleOutcome(SshPacket reply, string method)
    {
        switch (reply.MessageNumber)
        {
            case SshMessageNumber.UserAuthSuccess:
                return Result.Success;
            case SshMessageNumber.UserAuthFailure:
                var reader = new SshReader(reply.Payload.Span[1..]);
                _allowed = UserAuthWire.ReadNameList(ref reader);
                if (reader.ReadBoolean())
                {
                    _completed.Add(method);
                    _logger.LogInformation("Partial success by {Method}; the server now wants {Allowed}", method, string.Join(",", _allowed));
                }

                return Result.Failure;
            default:
                throw new SshProtocolException(
                    SshDisconnectReason.ProtocolError,
                    $"The server answered a {method} request with {SshMessageNumber.GetName(reply.MessageNumber)} ({reply.MessageNumber}).");
        }
    }

    /// <summary>The next message of the exchange; banners (RFC 4252 §5.4) are handed to the caller on the way.</summary>
    private async Task<SshPacket> ReadReplyAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            SshPacket packet;
            try
            {
                packet = await _transport.ReadMessageAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (SshPeerDisconnectedException e)
            {
                throw new SshAuthenticationException(e.Reason, $"The server disconnected during authentication of '{_user}' ({e.Reason}: {e.Description}); tried {Describe(_tried)}.", _user, _tried.AsReadOnly(), _allowed, e);
            }

            if (packet.IsCompleted)
            {
                throw new SshAuthenticationException(SshDisconnectReason.ByApplication, $"The server closed the connection during authentication of '{_user}'; tried {Describe(_tried)}.", _user, _tried.AsReadOnly(), _allowed);
            }

            if (packet.MessageNumber != SshMessageNumber.UserAuthBanner)
            {
                return packet;
            }

            var reader = new SshReader(packet.Payload.Span[1..]);
            string text = UserAuthWire.ReadText(ref reader, 64 * 1024, "banner");
            _logger.LogInformation("Banner: {Text}", text);
            _options.BannerReceived?.Invoke(text);
        }
    }

    private static string Describe(List<string> methods) => methods.Count == 0 ? "nothing" : string.Join(", ", methods);

    private ValueTask WriteAsync<TState>(string method, UserAuthFields<TState> fields, TState state, CancellationToken cancellationToken) =>
        _transport.WriteMessageAsync((this, method, fields, state), static (buffer, s) =>
        {
            var writer = new SshWriter(buffer);
            UserAuthWire.WriteRequestHeader(ref writer, s.Item1._user, s.Item1._service, s.method);
            s.fields(ref writer, s.state);
        }, cancellationToken);

    private delegate void UserAuthFields<TState>(ref SshWriter writer, TState state);

    private sealed record Identity(SshPublicKey Key, SshPrivateKey? PrivateKey, string Description)
    {
        public SshAgentClient? Agent { get; init; }
    }

    private sealed record SignedRequest(string Algorithm, SshPublicKey Key, SshPrivateKey? PrivateKey, ReadOnlyMemory<byte> HostKey, byte[] Signed, byte[]? AgentSignature);
}
