using System.Net;
using Microsoft.Extensions.Logging;

namespace Ssh.Transport.Connection;

/// <summary>
/// What a server's user authentication accepts (<see cref="SshServerAuthentication.AuthenticateAsync"/>): the
/// application decides through callbacks, one per method; a method without a callback is not offered.
/// </summary>
/// <remarks>
/// One options object may serve many connections; the callbacks may run concurrently for different connections.
/// </remarks>
public sealed class SshServerAuthenticationOptions
{
    /// <summary>
    /// Decides whether <c>publickey</c> (and its host-bound variant) lets the user in with a key: called for a query,
    /// whose yes is answered with SSH_MSG_USERAUTH_PK_OK, and again for a signed request once its signature has
    /// been verified. Return the entry that allows the key (e.g. <see cref="SshAuthorizedKeys.Find(SshPublicKey, EndPoint?, DateTimeOffset)"/>
    /// of the user's file, or <c>new SshAuthorizedKey(key)</c>), or null to refuse. Null: publickey is not offered.
    /// </summary>
    public Func<SshAuthenticationContext, SshPublicKey, CancellationToken, ValueTask<SshAuthorizedKey?>>? PublicKeyValidator { get; set; }

    /// <summary>
    /// Decides whether <c>password</c> lets the user in with a password. Null: password is not offered. A client's
    /// request to change its password is refused without calling it.
    /// </summary>
    public Func<SshAuthenticationContext, string, CancellationToken, ValueTask<bool>>? PasswordValidator { get; set; }

    /// <summary>
    /// Decides whether the <c>none</c> method alone lets the user in (an account with no credentials). Null, the
    /// default: <c>none</c> is answered with the list of methods, as every client's first request expects.
    /// </summary>
    public Func<SshAuthenticationContext, CancellationToken, ValueTask<bool>>? NoneValidator { get; set; }

    /// <summary>
    /// Methods that must all succeed, in this order, e.g. "publickey" then "password" (sshd's AuthenticationMethods
    /// with one list). Each success but the last is answered with partial success and the next method. Empty, the
    /// default: any one offered method suffices.
    /// </summary>
    public IList<string> RequiredMethods { get; } = [];

    /// <summary>Public-key signature algorithms accepted. Default: ssh-ed25519, ecdsa-sha2-nistp256/384/521, rsa-sha2-512, rsa-sha2-256; add "ssh-rsa" (SHA-1) only for old clients.</summary>
    public IList<string> PublicKeyAlgorithms { get; } =
        ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256"];

    /// <summary>
    /// Accept publickey-hostbound-v00@openssh.com (the client's signature also covers our host key). Default true.
    /// Clients use it only when the transport announces it: add <see cref="SshAuthenticationMethods.PublicKeyHostBoundExtension"/>
    /// = "0" to <see cref="SshServerOptions.Extensions"/>.
    /// </summary>
    public bool AllowHostBoundPublicKey { get; set; } = true;

    /// <summary>Text sent in SSH_MSG_USERAUTH_BANNER before the first answer (e.g. a legal notice); null for none.</summary>
    public string? Banner { get; set; }

    /// <summary>
    /// Failed attempts allowed per connection (sshd's MaxAuthTries); at the last one the server disconnects with
    /// NoMoreAuthMethodsAvailable. The client's first <c>none</c> request does not count. Default 6.
    /// </summary>
    public int MaxAttempts { get; set; } = 6;

    /// <summary>How long authentication may take (sshd's LoginGraceTime); past it the server disconnects. Default 120 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>The service clients authenticate for. Default "ssh-connection".</summary>
    public string ServiceName { get; set; } = "ssh-connection";

    /// <summary>The clock of the deadline.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Where authentication events are logged (attempts, refusals with reasons); null for none.</summary>
    public ILogger? Logger { get; set; }
}

/// <summary>What a server's authentication callback knows about the request it decides on.</summary>
public sealed class SshAuthenticationContext
{
    internal SshAuthenticationContext(SshTransport transport, string userName, string serviceName, string method, EndPoint? remoteEndPoint, IReadOnlyList<string> completedMethods)
    {
        Transport = transport;
        UserName = userName;
        ServiceName = serviceName;
        Method = method;
        RemoteEndPoint = remoteEndPoint;
        CompletedMethods = completedMethods;
    }

    /// <summary>The connection.</summary>
    public SshTransport Transport { get; }

    /// <summary>The user name the client asks for.</summary>
    public string UserName { get; }

    /// <summary>The service the client asks for ("ssh-connection").</summary>
    public string ServiceName { get; }

    /// <summary>The method as the client named it (e.g. "publickey-hostbound-v00@openssh.com").</summary>
    public string Method { get; }

    /// <summary>The client's end point, when the server passed it; null otherwise.</summary>
    public EndPoint? RemoteEndPoint { get; }

    /// <summary>The methods that already succeeded for this user (partial success), in order.</summary>
    public IReadOnlyList<string> CompletedMethods { get; }
}
