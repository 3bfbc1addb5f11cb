namespace Ssh.Transport.Connection;

/// <summary>
/// Who user authentication let in, and how: what the connection layer needs to apply the restrictions of the key's
/// authorized_keys line (forced command, no-pty, permitted forwardings).
/// </summary>
public sealed class SshAuthenticatedUser
{
    internal SshAuthenticatedUser(string userName, string serviceName, IReadOnlyList<string> methods, SshPublicKey? publicKey, SshAuthorizedKey? authorizedKey)
    {
        UserName = userName;
        ServiceName = serviceName;
        Methods = methods;
        PublicKey = publicKey;
        AuthorizedKey = authorizedKey;
    }

    /// <summary>The user name.</summary>
    public string UserName { get; }

    /// <summary>The service authenticated for, "ssh-connection".</summary>
    public string ServiceName { get; }

    /// <summary>
    /// The methods that succeeded, in order: one, or several where the server required more than one (partial
    /// success). A host-bound publickey authentication counts as <see cref="SshAuthenticationMethods.PublicKey"/>.
    /// </summary>
    public IReadOnlyList<string> Methods { get; }

    /// <summary>The user's key, where publickey succeeded (the last one, if several did).</summary>
    public SshPublicKey? PublicKey { get; }

    /// <summary>
    /// Server: the entry that allowed <see cref="PublicKey"/>, with its authorized_keys options; null on the client
    /// and for other methods.
    /// </summary>
    public SshAuthorizedKey? AuthorizedKey { get; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{UserName} by {string.Join(", ", Methods)}{(PublicKey is null ? string.Empty : $" ({PublicKey.KeyType} {PublicKey.GetFingerprint()})")}";
}
