using System.Security.Cryptography;

namespace Ssh.Transport;

/// <summary>
/// An encrypted private key could not be loaded for want of its passphrase: none was given
/// (<see cref="PassphraseMissing"/>), or the one given is wrong. Ask for the passphrase (again) and retry.
/// </summary>
/// <remarks>
/// A wrong passphrase and a corrupted encrypted section look the same (the check integers or the authentication tag
/// do not match, as OpenSSH also reports), so a damaged file may show up as this exception too.
/// </remarks>
public sealed class SshKeyPassphraseException : CryptographicException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="passphraseMissing">True when no passphrase was given; false when the one given is wrong.</param>
    public SshKeyPassphraseException(string message, bool passphraseMissing)
        : base(message)
    {
        PassphraseMissing = passphraseMissing;
    }

    /// <summary>True when the key is encrypted and no passphrase was given; false when the passphrase given is wrong.</summary>
    public bool PassphraseMissing { get; }
}
