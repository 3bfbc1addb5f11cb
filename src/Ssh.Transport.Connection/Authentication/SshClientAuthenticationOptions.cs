using Microsoft.Extensions.Logging;

namespace Ssh.Transport.Connection;

/// <summary>The credentials and preferences of a client's user authentication (<see cref="SshClientAuthentication.AuthenticateAsync"/>).</summary>
public sealed class SshClientAuthenticationOptions
{
    /// <summary>The user name to log in as; required.</summary>
    public string UserName { get; set; } = string.Empty;

    /// <summary>The service to authenticate for. Default "ssh-connection".</summary>
    public string ServiceName { get; set; } = "ssh-connection";

    /// <summary>
    /// Keys for <c>publickey</c>, tried in order (before the agent's). The caller keeps ownership. A key whose signature
    /// is quick (Ed25519, ECDSA) is sent signed at once; an RSA key is first offered without a signature, as are the
    /// agent's keys, so that only a key the server accepts is used to sign.
    /// </summary>
    public IList<SshPrivateKey> PrivateKeys { get; } = [];

    /// <summary>
    /// The password, for <c>password</c>, or for <c>keyboard-interactive</c> when the server offers that instead
    /// (it answers the prompts that ask for a password and do not echo). Null: neither method is used.
    /// </summary>
    public string? Password { get; set; }

    /// <summary>Use the keys of a running ssh-agent, after <see cref="PrivateKeys"/>. Default false.</summary>
    public bool UseAgent { get; set; }

    /// <summary>The agent's Unix socket; null (the default) for the SSH_AUTH_SOCK environment variable.</summary>
    public string? AgentSocketPath { get; set; }

    /// <summary>
    /// Allow "ssh-rsa" (RSA with SHA-1) signatures, used only with a server that announces no server-sig-algs (which
    /// otherwise decide between rsa-sha2-512 and rsa-sha2-256). Default false: rsa-sha2-512 is tried then.
    /// </summary>
    public bool AllowSha1Signatures { get; set; }

    /// <summary>Called with the text of each SSH_MSG_USERAUTH_BANNER the server sends (show it to the user).</summary>
    public Action<string>? BannerReceived { get; set; }

    /// <summary>Where the attempts are logged; null for none.</summary>
    public ILogger? Logger { get; set; }
}
