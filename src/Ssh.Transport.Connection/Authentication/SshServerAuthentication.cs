using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Ssh.Transport.Connection.Authentication;

namespace Ssh.Transport.Connection;

/// <summary>The server's side of user authentication (RFC 4252).</summary>
public static class SshServerAuthentication
{
    /// <summary>
    /// Runs user authentication on an accepted connection, after the client's "ssh-userauth" service request (which
    /// the transport accepts itself): reads SSH_MSG_USERAUTH_REQUESTs and answers them until one succeeds, the client
    /// gives up, or a limit is reached. Methods: <c>none</c>, <c>password</c>, <c>publickey</c> and
    /// <c>publickey-hostbound-v00@openssh.com</c>, as <paramref name="options"/> enable them.
    /// </summary>
    /// <remarks>
    /// After SSH_MSG_USERAUTH_SUCCESS the transport's delayed compression (zlib@openssh.com) is switched on. Messages
    /// other than authentication requests before success are a protocol error, as in sshd.
    /// </remarks>
    /// <param name="transport">The connection, from <see cref="SshTransport.AcceptAsync(System.IO.Pipelines.IDuplexPipe, SshServerOptions, CancellationToken)"/>.</param>
    /// <param name="options">What is accepted; the callbacks decide.</param>
    /// <param name="remoteEndPoint">The client's end point, if known: passed to the callbacks (authorized_keys from=).</param>
    /// <param name="cancellationToken">Cancels authentication; the connection is left as it is.</param>
    /// <returns>The authenticated user: name, methods, and the key with its authorized_keys entry for publickey.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="transport"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> enable no method or are out of range.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="transport"/> is a client.</exception>
    /// <exception cref="SshAuthenticationException">
    /// The client failed <see cref="SshServerAuthenticationOptions.MaxAttempts"/> times (it was disconnected with
    /// NoMoreAuthMethodsAvailable), or closed the connection before authenticating.
    /// </exception>
    /// <exception cref="SshTimeoutException">
    /// Authentication took longer than <see cref="SshServerAuthenticationOptions.Timeout"/> (<see cref="SshTimeoutKind.Authentication"/>); the client was disconnected.
    /// </exception>
    /// <exception cref="SshProtocolException">The client broke the protocol (it was disconnected), or the connection failed.</exception>
    public static Task<SshAuthenticatedUser> AuthenticateAsync(
        SshTransport transport,
        SshServerAuthenticationOptions options,
        EndPoint? remoteEndPoint = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);
        if (transport.Role != SshRole.Server)
        {
            throw new InvalidOperationException("Server authentication runs on a server's transport.");
        }

        Validate(options);
        return new ServerAuthenticator(transport, options, remoteEndPoint).RunAsync(cancellationToken);
    }

    private static void Validate(SshServerAuthenticationOptions options)
    {
        var problems = new List<string>();
        if (options.PublicKeyValidator is null && options.PasswordValidator is null && options.NoneValidator is null)
        {
            problems.Add("No method is enabled: set PublicKeyValidator, PasswordValidator or NoneValidator.");
        }

        if (options.MaxAttempts < 1)
        {
            problems.Add($"MaxAttempts is {options.MaxAttempts}; at least 1.");
        }

        if (options.Timeout <= TimeSpan.Zero || options.Timeout.TotalMilliseconds > uint.MaxValue - 1)
        {
            problems.Add($"Timeout is {options.Timeout}; it must be positive and at most about 49 days.");
        }

        if (options.TimeProvider is null || string.IsNullOrEmpty(options.ServiceName))
        {
            problems.Add("TimeProvider and ServiceName are required.");
        }

        foreach (string method in options.RequiredMethods)
        {
            bool offered = method switch
            {
                SshAuthenticationMethods.PublicKey => options.PublicKeyValidator is not null,
                SshAuthenticationMethods.Password => options.PasswordValidator is not null,
                _ => false,
            };
            if (!offered)
            {
                problems.Add($"RequiredMethods lists '{method}', which is not enabled (publickey and password can be required, each with its validator).");
            }
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("Server authentication options are not valid: " + string.Join(" ", problems), nameof(options));
        }
    }
}

/// <summary>One connection's authentication: its state, and the loop that answers requests.</summary>
internal sealed class ServerAuthenticator
{
    private readonly SshTransport _transport;
    private readonly SshServerAuthenticationOptions _options;
    private readonly EndPoint? _remoteEndPoint;
    private readonly ILogger _logger;
    private readonly List<string> _completed = [];
    private readonly List<string> _tried = [];
    private readonly List<SshPublicKey> _acceptedKeys = [];
    private SshAuthorizedKey? _authorizedKey;
    private string? _user;
    private string? _service;
    private bool _bannerSent;
    private bool _noneSeen;
    private int _failures;

    public ServerAuthenticator(SshTransport transport, SshServerAuthenticationOptions options, EndPoint? remoteEndPoint)
    {
        _transport = transport;
        _options = options;
        _remoteEndPoint = remoteEndPoint;
        _logger = options.Logger ?? NullLogger.Instance;
    }

    private enum Outcome
    {
        /// <summary>The method succeeded.</summary>
        Success,

        /// <summary>Refused; counts toward MaxAttempts.</summary>
        Failure,

        /// <summary>Refused without counting (the first none).</summary>
        FreeFailure,

        /// <summary>Answered already (PK_OK).</summary>
        Answered,
    }

    public async Task<SshAuthenticatedUser> RunAsync(CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(_options.Timeout, _options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        try
        {
            return await LoopAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            string text = $"Authentication did not complete within {_options.Timeout.TotalSeconds:0.###} s";
            _logger.LogInformation("Authentication timed out for {User} from {RemoteEndPoint}", _user, _remoteEndPoint);
            await DisconnectAsync(SshDisconnectReason.ConnectionLost, text).ConfigureAwait(false);
            throw new SshTimeoutException(SshTimeoutKind.Authentication, _options.Timeout, SshDisconnectReason.ConnectionLost, text + ".");
        }
        catch (SshProtocolException e) when (e is not SshAuthenticationException && !_transport.Completion.IsCompleted)
        {
            // The client broke the protocol; tell it why, as the transport does for its own errors.
            await DisconnectAsync(e.Reason, e.Message).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<SshAuthenticatedUser> LoopAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            SshPacket packet = await _transport.ReadMessageAsync(cancellationToken).ConfigureAwait(false);
            if (packet.IsCompleted)
            {
                throw Refused(SshDisconnectReason.ByApplication, "The client closed the connection before authenticating");
            }

            if (packet.MessageNumber != SshMessageNumber.UserAuthRequest)
            {
                throw new SshProtocolException(
                    SshDisconnectReason.ProtocolError,
                    $"{SshMessageNumber.GetName(packet.MessageNumber)} ({packet.MessageNumber}) before user authentication completed; only USERAUTH_REQUEST may come now.");
            }

            ReadOnlyMemory<byte> payload = packet.Payload;
            var reader = new SshReader(payload.Span[1..]);
            string user = UserAuthWire.ReadText(ref reader, UserAuthWire.MaxNameLength, "user name");
            string service = UserAuthWire.ReadName(ref reader, "service name");
            string method = UserAuthWire.ReadName(ref reader, "method name");
            int fields = 1 + reader.Consumed;
            CheckUserAndService(user, service);

            if (!_bannerSent)
            {
                _bannerSent = true;
                if (_options.Banner is { } banner)
                {
                    await _transport.WriteMessageAsync(banner, static (w, text) =>
                    {
                        // RFC 4252 §5.4: string message (ISO-10646 UTF-8), string language tag.
                        var writer = new SshWriter(w);
                        writer.WriteByte(SshMessageNumber.UserAuthBanner);
                        writer.WriteString(text);
                        writer.WriteString(string.Empty);
                    }, cancellationToken).ConfigureAwait(false);
                }
            }

            string normalized = method == SshAuthenticationMethods.PublicKeyHostBound ? SshAuthenticationMethods.PublicKey : method;
            if (method != SshAuthenticationMethods.None && !_tried.Contains(normalized))
            {
                _tried.Add(normalized);
            }

            Outcome outcome;
            if (method != SshAuthenticationMethods.None && !AllowedNow().Contains(normalized))
            {
                _logger.LogInformation("Method {Method} is not allowed now for {User}", method, user);
                outcome = Outcome.Failure;
            }
            else
            {
                outcome = method switch
                {
                    SshAuthenticationMethods.None => await NoneAsync(cancellationToken).ConfigureAwait(false),
                    SshAuthenticationMethods.Password => await PasswordAsync(payload[fields..], cancellationToken).ConfigureAwait(false),
                    SshAuthenticationMethods.PublicKey or SshAuthenticationMethods.PublicKeyHostBound when _options.AllowHostBoundPublicKey || method == SshAuthenticationMethods.PublicKey =>
                        await PublicKeyAsync(method, payload[fields..], cancellationToken).ConfigureAwait(false),
                    _ => Outcome.Failure,
                };
            }

            if (outcome == Outcome.Answered)
            {
                continue;
            }

            if (outcome == Outcome.Success)
            {
                _completed.Add(normalized);
                if (_options.RequiredMethods.Count <= _completed.Count)
                {
                    return await SucceedAsync(cancellationToken).ConfigureAwait(false);
                }

                _logger.LogInformation("Partial success for {User} by {Method}; next: {Next}", user, normalized, _options.RequiredMethods[_completed.Count]);
                await WriteFailureAsync(partialSuccess: true, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (outcome == Outcome.Failure && ++_failures >= _options.MaxAttempts)
            {
                string text = $"Too many authentication failures for {user} ({_failures})";
                _logger.LogInformation("{Text}; disconnecting", text);
                await DisconnectAsync(SshDisconnectReason.NoMoreAuthMethodsAvailable, text).ConfigureAwait(false);
                throw Refused(SshDisconnectReason.NoMoreAuthMethodsAvailable, text);
            }

            await WriteFailureAsync(partialSuccess: false, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>RFC 4252 §5: a server may refuse a change of user name or service; sshd disconnects, and so do we.</summary>
    private void CheckUserAndService(string user, string service)
    {
        if (_user is null)
        {
            if (service != _options.ServiceName)
            {
                throw new SshProtocolException(SshDisconnectReason.ServiceNotAvailable, $"Service '{service}' is not available; only '{_options.ServiceName}'.");
            }

            _user = user;
            _service = service;
        }
        else if (user != _user || service != _service)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"Change of user name or service during authentication ('{_user}' to '{user}', '{_service}' to '{service}') is not allowed.");
        }
    }

    /// <summary>The methods the next USERAUTH_FAILURE lists: the next required one, or every one offered.</summary>
    private List<string> AllowedNow()
    {
        if (_options.RequiredMethods.Count > 0)
        {
            return _completed.Count < _options.RequiredMethods.Count ? [_options.RequiredMethods[_completed.Count]] : [];
        }

        var methods = new List<string>(2);
        if (_options.PublicKeyValidator is not null)
        {
            methods.Add(SshAuthenticationMethods.PublicKey);
        }

        if (_options.PasswordValidator is not null)
        {
            methods.Add(SshAuthenticationMethods.Password);
        }

        return methods;
    }

    private SshAuthenticationContext Context(string method) =>
        new(_transport, _user!, _service!, method, _remoteEndPoint, _completed.AsReadOnly());

    private async ValueTask<Outcome> NoneAsync(CancellationToken cancellationToken)
    {
        bool first = !_noneSeen;
        _noneSeen = true;
        if (_options.NoneValidator is { } validator && _options.RequiredMethods.Count == 0
            && await validator(Context(SshAuthenticationMethods.None), cancellationToken).ConfigureAwait(false))
        {
            return Outcome.Success;
        }

        // As sshd: the first "none" (the client asking for the list) is not a failed attempt.
        return first ? Outcome.FreeFailure : Outcome.Failure;
    }

    /// <summary>RFC 4252 §8: boolean change, string password [, string new password].</summary>
    private async ValueTask<Outcome> PasswordAsync(ReadOnlyMemory<byte> fields, CancellationToken cancellationToken)
    {
        string password;
        {
            var reader = new SshReader(fields.Span);
            bool change = reader.ReadBoolean();
            password = UserAuthWire.ReadText(ref reader, UserAuthWire.MaxSecretLength, "password");
            if (change)
            {
                // Changing passwords is not supported: refused like a wrong password (RFC 4252 §8 allows FAILURE).
                _logger.LogInformation("Password change request from {User} refused", _user);
                return Outcome.Failure;
            }

            EnsureEnd(ref reader, "password");
        }

        bool accepted = await _options.PasswordValidator!(Context(SshAuthenticationMethods.Password), password, cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("Password for {User} from {RemoteEndPoint}: {Result}", _user, _remoteEndPoint, accepted ? "accepted" : "refused");
        return accepted ? Outcome.Success : Outcome.Failure;
    }

    /// <summary>
    /// RFC 4252 §7: boolean has-signature, string algorithm, string key blob [, string host key blob: host-bound],
    /// [string signature]. Without a signature it is a query, answered with PK_OK when the key would be accepted.
    /// </summary>
    private async ValueTask<Outcome> PublicKeyAsync(string method, ReadOnlyMemory<byte> fields, CancellationToken cancellationToken)
    {
        bool hostBound = method == SshAuthenticationMethods.PublicKeyHostBound;
        bool hasSignature;
        string algorithm;
        ReadOnlyMemory<byte> blob;
        ReadOnlyMemory<byte> hostKey = default;
        ReadOnlyMemory<byte> signature = default;
        {
            var reader = new SshReader(fields.Span);
            hasSignature = reader.ReadBoolean();
            algorithm = UserAuthWire.ReadName(ref reader, "public key algorithm");
            blob = UserAuthWire.ReadStringMemory(ref reader, fields);
            if (hostBound)
            {
                hostKey = UserAuthWire.ReadStringMemory(ref reader, fields);
            }

            if (hasSignature)
            {
                signature = UserAuthWire.ReadStringMemory(ref reader, fields);
            }

            EnsureEnd(ref reader, method);
        }

        if (!_options.PublicKeyAlgorithms.Contains(algorithm))
        {
            _logger.LogInformation("Public key algorithm {Algorithm} from {User} is not accepted", algorithm, _user);
            return Outcome.Failure;
        }

        if (hostBound && !hostKey.Span.SequenceEqual(_transport.HostKey.Blob.Span))
        {
            _logger.LogWarning("{Method} from {User} names another host key than ours", method, _user);
            return Outcome.Failure;
        }

        SshPublicKey key;
        try
        {
            key = SshPublicKey.FromBlob(blob.Span);
        }
        catch (SshProtocolException e)
        {
            _logger.LogInformation("Public key from {User} refused: {Reason}", _user, e.Message);
            return Outcome.Failure;
        }

        if (key.Certificate is not null)
        {
            // The blob parses (host certificates need that), but user certificates are not supported.
            _logger.LogInformation("Public key from {User} refused: user certificates are not supported", _user);
            return Outcome.Failure;
        }

        if (key.KeyType != UserAuthWire.KeyTypeOf(algorithm) || _acceptedKeys.Contains(key))
        {
            return Outcome.Failure;
        }

        if (hasSignature)
        {
            byte[] signed = UserAuthWire.SignedData(_transport.SessionId.Span, _user!, _service!, method, algorithm, blob.Span, hostKey.Span);
            if (!key.VerifySignature(algorithm, signed, signature.Span, allowSha1: algorithm == "ssh-rsa"))
            {
                _logger.LogInformation("Bad {Algorithm} signature from {User} ({Fingerprint})", algorithm, _user, key.GetFingerprint());
                return Outcome.Failure;
            }
        }

        SshAuthorizedKey? entry = await _options.PublicKeyValidator!(Context(method), key, cancellationToken).ConfigureAwait(false);
        _logger.LogInformation(
            "{Kind} {Algorithm} key {Fingerprint} for {User} from {RemoteEndPoint}: {Result}",
            hasSignature ? "Signed" : "Query for", algorithm, key.GetFingerprint(), _user, _remoteEndPoint, entry is null ? "refused" : "accepted");
        if (entry is null)
        {
            return Outcome.Failure;
        }

        if (!hasSignature)
        {
            await _transport.WriteMessageAsync((algorithm, blob), static (w, s) =>
            {
                // RFC 4252 §7: SSH_MSG_USERAUTH_PK_OK, string algorithm, string key blob, as received.
                var writer = new SshWriter(w);
                writer.WriteByte(UserAuthWire.MethodSpecific);
                writer.WriteString(s.algorithm);
                writer.WriteString(s.blob.Span);
            }, cancellationToken).ConfigureAwait(false);
            return Outcome.Answered;
        }

        _acceptedKeys.Add(key);
        _authorizedKey = entry;
        return Outcome.Success;
    }

    private static void EnsureEnd(ref SshReader reader, string method)
    {
        if (!reader.End)
        {
            throw new SshProtocolException(SshDisconnectReason.ProtocolError, $"The {method} request has {reader.Remaining} bytes past its fields.");
        }
    }

    private async Task<SshAuthenticatedUser> SucceedAsync(CancellationToken cancellationToken)
    {
        await _transport.WriteMessageAsync(0, static (w, _) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.UserAuthSuccess);
        }, 1, cancellationToken).ConfigureAwait(false);
        _transport.EnableDelayedCompression();
        var user = new SshAuthenticatedUser(_user!, _service!, _completed.AsReadOnly(), _acceptedKeys.LastOrDefault(), _authorizedKey);
        _logger.LogInformation("Authenticated {User}", user);
        return user;
    }

    /// <summary>RFC 4252 §5.1: name-list authentications that can continue, boolean partial success.</summary>
    private ValueTask WriteFailureAsync(bool partialSuccess, CancellationToken cancellationToken) =>
        _transport.WriteMessageAsync((AllowedNow(), partialSuccess), static (w, s) =>
        {
            var writer = new SshWriter(w);
            writer.WriteByte(SshMessageNumber.UserAuthFailure);
            writer.WriteNameList(s.Item1.ToArray());
            writer.WriteBoolean(s.partialSuccess);
        }, cancellationToken);

    private async Task DisconnectAsync(SshDisconnectReason reason, string text)
    {
        try
        {
            await _transport.DisconnectAsync(reason, text, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshProtocolException or IOException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    private SshAuthenticationException Refused(SshDisconnectReason reason, string text) =>
        new(reason, $"{text} (user '{_user ?? "?"}', tried: {(_tried.Count == 0 ? "nothing" : string.Join(", ", _tried))}).", _user ?? string.Empty, _tried.AsReadOnly(), AllowedNow().AsReadOnly());
}
