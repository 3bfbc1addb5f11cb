namespace Ssh.Transport;

/// <summary>What a known_hosts file says about a server's host key (see <see cref="KnownHostsVerifier.Verify"/>).</summary>
public enum KnownHostsResult
{
    /// <summary>A line for the host lists this very key: go on.</summary>
    Trusted,

    /// <summary>
    /// No line for the host has a key of this type (there may be keys of other types): the host is new, or new with
    /// this key type. Ask the user, or refuse; trust on first use adds the key with <see cref="KnownHostsVerifier.Add"/>.
    /// </summary>
    Unknown,

    /// <summary>
    /// Lines for the host list other keys of the same type, and none this one: the host key has changed. Someone may
    /// be intercepting the connection (a man in the middle); refuse, as ssh does, unless the user fixes the file.
    /// </summary>
    Changed,

    /// <summary>The key is marked @revoked for the host: refuse, whatever other lines say.</summary>
    Revoked,
}
