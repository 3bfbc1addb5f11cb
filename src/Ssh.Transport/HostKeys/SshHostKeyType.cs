namespace Ssh.Transport;

/// <summary>The kinds of host key that <see cref="SshPrivateKey"/> can generate and load.</summary>
public enum SshHostKeyType
{
    /// <summary>Ed25519, key type "ssh-ed25519" (RFC 8709).</summary>
    Ed25519,

    /// <summary>ECDSA over NIST P-256 with SHA-256, key type "ecdsa-sha2-nistp256" (RFC 5656).</summary>
    EcdsaNistP256,

    /// <summary>ECDSA over NIST P-384 with SHA-384, key type "ecdsa-sha2-nistp384" (RFC 5656).</summary>
    EcdsaNistP384,

    /// <summary>ECDSA over NIST P-521 with SHA-512, key type "ecdsa-sha2-nistp521" (RFC 5656).</summary>
    EcdsaNistP521,

    /// <summary>RSA, key type "ssh-rsa", signing with rsa-sha2-512 or rsa-sha2-256 (RFC 8332).</summary>
    Rsa,
}
