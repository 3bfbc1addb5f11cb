namespace Ssh.Transport.Connection;

/// <summary>The names of the user authentication methods (RFC 4252 §5, RFC 4256, OpenSSH's PROTOCOL).</summary>
public static class SshAuthenticationMethods
{
    /// <summary>"none": asks which methods may continue; succeeds only where the server lets a user in without proof (RFC 4252 §5.2).</summary>
    public const string None = "none";

    /// <summary>"publickey": a signature by the user's key over the session identifier and the request (RFC 4252 §7).</summary>
    public const string PublicKey = "publickey";

    /// <summary>"password" (RFC 4252 §8).</summary>
    public const string Password = "password";

    /// <summary>"keyboard-interactive": prompts the server chooses (RFC 4256).</summary>
    public const string KeyboardInteractive = "keyboard-interactive";

    /// <summary>
    /// "publickey-hostbound-v00@openssh.com": publickey whose request and signature also hold the server's host key,
    /// so a signature cannot be replayed to another server (OpenSSH's PROTOCOL §2.5). A server that accepts it lists
    /// "publickey" and announces <see cref="PublicKeyHostBoundExtension"/> in EXT_INFO.
    /// </summary>
    public const string PublicKeyHostBound = "publickey-hostbound-v00@openssh.com";

    /// <summary>The EXT_INFO extension ("publickey-hostbound@openssh.com", value "0") by which a server accepts <see cref="PublicKeyHostBound"/>.</summary>
    public const string PublicKeyHostBoundExtension = "publickey-hostbound@openssh.com";
}
