using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Reflection;

namespace Ssh.Transport.Connection;

/// <summary>
/// The application's side of an SSH server: derive from it and override what the server offers. Every method has a
/// safe default that refuses, so a handler offers exactly what it overrides.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="SshServer.RunAsync"/> calls it for one connection: first the authentication methods (a method is offered
/// to clients only when it is overridden), then, once the client is in, <see cref="RunSessionAsync"/> for each session
/// that starts a command, shell or subsystem, and the forwarding decisions. The decisions run on the connection's
/// message loop and are awaited there (except <see cref="AllowDirectTcpIpAsync"/>, which the loop does not wait for):
/// keep them short. <see cref="RunSessionAsync"/> runs on a task of its own, one per session.
/// </para>
/// <para>
/// The runner enforces the restrictions of the key's authorized_keys line before asking (forced command, no-pty,
/// no-port-forwarding, permitopen, permitlisten, environment): a handler never sees what they refuse.
/// </para>
/// <para>
/// The constructor takes no arguments, so a hosting layer can create handlers from dependency injection. One handler
/// may serve many connections at once; its methods may then run concurrently.
/// </para>
/// </remarks>
// Public methods stay visible to reflection under trimming and Native AOT: GetCapabilities looks for overrides.
[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicMethods)]
public abstract class SshServerHandler
{
    private static readonly ConcurrentDictionary<Type, Capabilities> s_capabilities = new();

    /// <summary>
    /// Decides whether the <c>none</c> method alone lets the user in: an account with no credentials. Default: false
    /// (the client's <c>none</c> request is answered with the methods this handler overrides).
    /// </summary>
    /// <param name="context">The user name, the client's end point, the connection.</param>
    /// <param name="cancellationToken">Cancelled when the connection ends or authentication times out.</param>
    /// <returns>True to let the user in.</returns>
    public virtual ValueTask<bool> AuthenticateNoneAsync(SshAuthenticationContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(false);

    /// <summary>
    /// Decides a <c>password</c> attempt; offered to clients only when overridden. Default: false.
    /// </summary>
    /// <param name="context">The user name, the client's end point, the connection.</param>
    /// <param name="password">The password the client sent.</param>
    /// <param name="cancellationToken">Cancelled when the connection ends or authentication times out.</param>
    /// <returns>True to let the user in.</returns>
    public virtual ValueTask<bool> AuthenticatePasswordAsync(SshAuthenticationContext context, string password, CancellationToken cancellationToken) =>
        ValueTask.FromResult(false);

    /// <summary>
    /// Decides whether a key lets the user in (<c>publickey</c> and its host-bound variant); offered to clients only
    /// when overridden. Called for the client's query (answered with PK_OK) and again for its signed request, once the
    /// signature has been verified. Default: null.
    /// </summary>
    /// <remarks>
    /// Return the entry that allows the key, with its authorized_keys options, e.g.
    /// <c>SshAuthorizedKeys.Load(path).Find(key, context.RemoteEndPoint, DateTimeOffset.UtcNow)</c> (which checks
    /// <c>from=</c> and <c>expiry-time=</c>), or <c>new SshAuthorizedKey(key)</c> for a key without restrictions. The
    /// runner enforces the entry's other options for the rest of the connection.
    /// </remarks>
    /// <param name="context">The user name, the client's end point, the connection.</param>
    /// <param name="key">The client's public key.</param>
    /// <param name="cancellationToken">Cancelled when the connection ends or authentication times out.</param>
    /// <returns>The entry that allows the key, or null to refuse it.</returns>
    public virtual ValueTask<SshAuthorizedKey?> AuthenticatePublicKeyAsync(SshAuthenticationContext context, SshPublicKey key, CancellationToken cancellationToken) =>
        ValueTask.FromResult<SshAuthorizedKey?>(null);

    /// <summary>
    /// Runs a session that the client started with "exec", "shell" or "subsystem" (see <see cref="SshServerSession.Kind"/>,
    /// <see cref="SshServerSession.Command"/>); without an override, session channels are refused.
    /// </summary>
    /// <remarks>
    /// Read the client's input from <see cref="SshServerSession.Input"/>, write to <see cref="SshServerSession.Output"/>
    /// and <see cref="SshServerSession.ErrorOutput"/>, and end with <see cref="SshServerSession.ExitAsync(int, CancellationToken)"/>;
    /// or hand the session to a process with <see cref="SshServerSession.RunProcessAsync"/>. Returning without exiting
    /// exits with status 0; throwing exits with status 1 (the exception is logged, not shown to the client).
    /// </remarks>
    /// <param name="session">The session.</param>
    /// <param name="cancellationToken">Cancelled when the client closes the channel or the connection ends.</param>
    /// <returns>A task that completes when the session is over.</returns>
    public virtual Task RunSessionAsync(SshServerSession session, CancellationToken cancellationToken) =>
        Task.FromException(new NotSupportedException("This server runs no sessions."));

    /// <summary>
    /// Decides a "direct-tcpip" channel (ssh -L): a connection the client asks the server to make to
    /// <see cref="SshTcpIpChannelInfo.Host"/> and <see cref="SshTcpIpChannelInfo.Port"/>. When allowed, the server
    /// connects (within <see cref="SshServerSettings.ForwardingConnectTimeout"/>; a failure refuses the channel with
    /// ConnectFailed) and copies both ways. Default: false.
    /// </summary>
    /// <param name="context">The connection and its user.</param>
    /// <param name="target">Where to connect, and where the connection came from on the client's side.</param>
    /// <param name="cancellationToken">Cancelled when the connection ends.</param>
    /// <returns>True to connect.</returns>
    public virtual ValueTask<bool> AllowDirectTcpIpAsync(SshServerContext context, SshTcpIpChannelInfo target, CancellationToken cancellationToken) =>
        ValueTask.FromResult(false);

    /// <summary>
    /// Decides a "tcpip-forward" request (ssh -R): listen on <paramref name="address"/> and <paramref name="port"/> for
    /// the client. When allowed, the server listens ("" listens on every address, "0.0.0.0" on IPv4's, "::" on IPv6's,
    /// "localhost" on the loopback addresses; port 0 lets the server choose, RFC 4254 §7.1) and opens a
    /// "forwarded-tcpip" channel to the client for each connection it accepts. Default: false.
    /// </summary>
    /// <remarks>sshd's GatewayPorts=no binds every forwarding to loopback: refuse other addresses to do the same.</remarks>
    /// <param name="context">The connection and its user.</param>
    /// <param name="address">The address to listen on, as the client sent it.</param>
    /// <param name="port">The port, 0 for one the server chooses.</param>
    /// <param name="cancellationToken">Cancelled when the connection ends.</param>
    /// <returns>True to listen.</returns>
    public virtual ValueTask<bool> AllowTcpIpForwardAsync(SshServerContext context, string address, int port, CancellationToken cancellationToken) =>
        ValueTask.FromResult(false);

    /// <summary>Which of the optional methods this handler's type overrides (once per type).</summary>
    internal Capabilities GetCapabilities()
    {
        // GetType() carries the class's annotation; a lambda's parameter would not.
        Type type = GetType();
        if (!s_capabilities.TryGetValue(type, out Capabilities capabilities))
        {
            capabilities = new Capabilities(
                Overrides(type, nameof(AuthenticatePasswordAsync)),
                Overrides(type, nameof(AuthenticatePublicKeyAsync)),
                Overrides(type, nameof(RunSessionAsync)));
            s_capabilities.TryAdd(type, capabilities);
        }

        return capabilities;
    }

    private static bool Overrides([DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicMethods)] Type type, string name)
    {
        MethodInfo declared = typeof(SshServerHandler).GetMethod(name, BindingFlags.Public | BindingFlags.Instance)!;
        return type.GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Any(method => method.DeclaringType != typeof(SshServerHandler) && method.GetBaseDefinition() == declared);
    }

    internal readonly record struct Capabilities(bool Password, bool PublicKey, bool Sessions);
}

/// <summary>The connection a server's decision is about: who is logged in, and from where.</summary>
public sealed class SshServerContext
{
    internal SshServerContext(SshTransport transport, SshAuthenticatedUser user, EndPoint? localEndPoint, EndPoint? remoteEndPoint)
    {
        Transport = transport;
        User = user;
        LocalEndPoint = localEndPoint;
        RemoteEndPoint = remoteEndPoint;
    }

    /// <summary>The connection's transport.</summary>
    public SshTransport Transport { get; }

    /// <summary>The authenticated user, with the authorized_keys entry that let them in, if any.</summary>
    public SshAuthenticatedUser User { get; }

    /// <summary>Our end of the connection, when known.</summary>
    public EndPoint? LocalEndPoint { get; }

    /// <summary>The client's end of the connection, when known.</summary>
    public EndPoint? RemoteEndPoint { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{User.UserName} from {RemoteEndPoint?.ToString() ?? "?"}";
}
