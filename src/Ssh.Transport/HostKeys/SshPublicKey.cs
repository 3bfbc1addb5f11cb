using System.Security.Cryptography;
using System.Text;
using Ssh.Transport.HostKeys;

namespace Ssh.Transport;

/// <summary>
/// An SSH public key: a host key as the server sends it in K_S (RFC 4253 §6.6), as a known_hosts or .pub line
/// shows it, a user's key in a publickey authentication request (RFC 4252 §7), or the public half of an
/// <see cref="SshPrivateKey"/>. It checks the signatures its private half makes.
/// </summary>
/// <remarks>
/// <para>
/// The key types are "ssh-ed25519" (RFC 8709), "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"
/// (RFC 5656) and "ssh-rsa" (RFC 4253, 1024 to 16384 bits). Every key is validated when it is created: a blob that
/// parses is a well-formed, minimally encoded key on its curve or of a usable size.
/// </para>
/// <para>
/// An OpenSSH certificate of one of those keys ("ssh-ed25519-cert-v01@openssh.com", the ECDSA ones and
/// "ssh-rsa-cert-v01@openssh.com", PROTOCOL.certkeys) is a key too: <see cref="Certificate"/> holds what it says,
/// and it signs and verifies as its certified key.
/// </para>
/// <para>Two keys are equal when their blobs are (a certificate is not equal to its key). Instances are immutable and thread-safe.</para>
/// </remarks>
public sealed class SshPublicKey : IEquatable<SshPublicKey>
{
    private readonly byte[] _blob;

    private SshPublicKey(byte[] blob, PublicKeyParameters parameters, SshCertificate? certificate)
    {
        _blob = blob;
        Parameters = parameters;
        Certificate = certificate;
    }

    /// <summary>
    /// The key type, e.g. "ssh-ed25519", "ecdsa-sha2-nistp256" or "ssh-rsa"; for a certificate the certificate's type,
    /// e.g. "ssh-ed25519-cert-v01@openssh.com" or "ssh-rsa-cert-v01@openssh.com".
    /// </summary>
    public string KeyType => Certificate?.KeyType ?? Parameters.KeyType;

    /// <summary>The key size in bits, as ssh-keygen -l shows it: 256 for Ed25519, the curve size, or the modulus size.</summary>
    public int KeySize => Parameters.KeySize;

    /// <summary>The public key blob (K_S of RFC 4253 §8): string key type, then the type's fields.</summary>
    public ReadOnlyMemory<byte> Blob => _blob;

    /// <summary>
    /// The certificate, when this key is an OpenSSH certificate (PROTOCOL.certkeys), as a server presents with a host
    /// certificate; null for a plain key. Its CA signature has been verified; whether the CA is trusted is the
    /// verifier's decision.
    /// </summary>
    public SshCertificate? Certificate { get; }

    /// <summary>The parameters of the key itself (for a certificate, of the certified key).</summary>
    internal PublicKeyParameters Parameters { get; }

    /// <summary>Parses a plain key or a certificate blob.</summary>
    private static SshPublicKey Create(byte[] blob)
    {
        if (SshCertificate.IsCertificateKeyType(new SshReader(blob).ReadString()))
        {
            SshCertificate certificate = SshCertificate.Parse(blob);
            return new SshPublicKey(blob, certificate.Key.Parameters, certificate);
        }

        return new SshPublicKey(blob, PublicKeyParameters.Parse(blob), certificate: null);
    }

    /// <summary>Parses a public key blob as it arrives in KEX_ECDH_REPLY, KEXDH_REPLY, or a known_hosts line.</summary>
    /// <param name="blob">
    /// The blob: string key type, then the type's fields, and nothing after; or an OpenSSH certificate of an
    /// ed25519, ECDSA or RSA key, whose CA signature is checked here (<see cref="Certificate"/>).
    /// </param>
    /// <returns>The key.</returns>
    /// <exception cref="SshProtocolException">
    /// The blob is malformed, holds an invalid key or a certificate whose CA signature does not verify, or has a key
    /// type this library does not support.
    /// </exception>
    public static SshPublicKey FromBlob(ReadOnlySpan<byte> blob) => Create(blob.ToArray());

    /// <summary>
    /// Parses a key in the OpenSSH text form of .pub files and authorized_keys: key type, base64 blob, and an
    /// optional comment, separated by white space (e.g. "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... user@host").
    /// </summary>
    /// <param name="openSshLine">The line.</param>
    /// <returns>The key.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="openSshLine"/> is null.</exception>
    /// <exception cref="FormatException">
    /// The line is not of that form, the base64 is invalid, the key type differs from the blob's, or the blob does not
    /// hold a valid key.
    /// </exception>
    /// <exception cref="NotSupportedException">The key is of a type or size this library does not support (e.g. ssh-dss).</exception>
    public static SshPublicKey Parse(string openSshLine)
    {
        ArgumentNullException.ThrowIfNull(openSshLine);
        string[] fields = openSshLine.Split((char[]?)null, 3, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (fields.Length < 2)
        {
            throw new FormatException("An OpenSSH public key line has a key type and a base64 blob, separated by white space.");
        }

        return FromText(fields[0], fields[1]);
    }

    /// <summary>Parses the key type and base64 fields of a .pub or known_hosts line.</summary>
    internal static SshPublicKey FromText(string keyType, string base64)
    {
        byte[] blob;
        try
        {
            blob = Convert.FromBase64String(base64);
        }
        catch (FormatException e)
        {
            throw new FormatException($"The {keyType} key is not valid base64.", e);
        }

        SshPublicKey key;
        try
        {
            key = Create(blob);
        }
        catch (SshProtocolException e) when (e.Reason == SshDisconnectReason.KeyExchangeFailed)
        {
            // PublicKeyParameters uses this reason for well-formed keys of a type or size it does not support.
            throw new NotSupportedException(e.Message, e);
        }
        catch (SshProtocolException e)
        {
            throw new FormatException($"The {keyType} key does not hold a valid key: {e.Message}", e);
        }

        if (key.KeyType != keyType)
        {
            throw new FormatException($"The line names key type '{keyType}' but its blob holds a {key.KeyType} key.");
        }

        return key;
    }

    /// <summary>Wraps a blob this library wrote for its own key.</summary>
    internal static SshPublicKey FromTrustedBlob(byte[] blob) => new(blob, PublicKeyParameters.Parse(blob), certificate: null);

    /// <summary>
    /// Checks a signature blob (RFC 4253 §6.6: string signature algorithm, string signature) made by this key's private
    /// half over <paramref name="data"/>, with whichever algorithm the blob names, if it suits this key type.
    /// </summary>
    /// <param name="data">The signed data.</param>
    /// <param name="signatureBlob">The blob, as received.</param>
    /// <param name="allowSha1">True to accept "ssh-rsa" (RSA with SHA-1).</param>
    /// <returns>
    /// True for a valid signature; false for an invalid, malformed or truncated blob, an algorithm that does not suit
    /// the key type (rsa-sha2-512, rsa-sha2-256 and ssh-rsa suit an ssh-rsa key; the key type itself suits the others)
    /// or is unknown, and "ssh-rsa" when <paramref name="allowSha1"/> is false. Never throws for bad input.
    /// </returns>
    /// <remarks>
    /// Where the algorithm was named elsewhere, as in a publickey authentication request (RFC 4252 §7) or by the key
    /// exchange, use <see cref="VerifySignature(string, ReadOnlySpan{byte}, ReadOnlySpan{byte}, bool)"/>, which also
    /// checks that the blob names exactly that algorithm.
    /// </remarks>
    public bool VerifySignature(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signatureBlob, bool allowSha1 = false)
    {
        ReadOnlySpan<byte> name;
        try
        {
            name = new SshReader(signatureBlob).ReadString();
        }
        catch (SshProtocolException)
        {
            return false;
        }

        if (Certificate is not null)
        {
            // The certified key signs (PROTOCOL.certkeys).
            return Certificate.Key.VerifySignature(data, signatureBlob, allowSha1);
        }

        string? algorithm = SshHostKeyAlgorithms.Find(name);
        return algorithm is not null && VerifySignature(algorithm, data, signatureBlob, allowSha1);
    }

    /// <summary>
    /// Checks a signature blob (RFC 4253 §6.6: string signature algorithm, string signature) made by this key's private
    /// half over <paramref name="data"/> with <paramref name="signatureAlgorithm"/>.
    /// </summary>
    /// <param name="signatureAlgorithm">
    /// The algorithm the signature must have: the negotiated host key algorithm, or the algorithm named in a publickey
    /// authentication request, which RFC 4252 §7 requires the blob to repeat. The blob must name exactly it, and it
    /// must suit this key type.
    /// </param>
    /// <param name="data">The signed data.</param>
    /// <param name="signatureBlob">The blob, as received.</param>
    /// <param name="allowSha1">True to accept "ssh-rsa" (RSA with SHA-1).</param>
    /// <returns>
    /// True for a valid signature; false for an invalid, malformed or truncated blob, a blob naming another algorithm,
    /// an algorithm that does not suit the key type (rsa-sha2-512, rsa-sha2-256 and ssh-rsa suit an ssh-rsa key; the
    /// key type itself suits the others; for a certificate, its certificate algorithms, e.g.
    /// "rsa-sha2-512-cert-v01@openssh.com", whose blob names "rsa-sha2-512") or is unknown, and "ssh-rsa" when
    /// <paramref name="allowSha1"/> is false. Never throws for bad input.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="signatureAlgorithm"/> is null.</exception>
    public bool VerifySignature(string signatureAlgorithm, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signatureBlob, bool allowSha1 = false)
    {
        ArgumentNullException.ThrowIfNull(signatureAlgorithm);
        if (SshHostKeyAlgorithms.GetHostKeyType(signatureAlgorithm) != KeyType
            || (signatureAlgorithm == SshHostKeyAlgorithms.RsaSha1 && !allowSha1))
        {
            return false;
        }

        // A certificate algorithm signs with the certified key's plain algorithm, which the blob names.
        signatureAlgorithm = SshHostKeyAlgorithms.GetSignatureName(signatureAlgorithm);

        ReadOnlySpan<byte> signature;
        try
        {
            var reader = new SshReader(signatureBlob);
            ReadOnlySpan<byte> name = reader.ReadString();
            signature = reader.ReadString();
            if (!reader.End || !Ascii.Equals(name, signatureAlgorithm))
            {
                return false;
            }
        }
        catch (SshProtocolException)
        {
            return false;
        }

        return Parameters.Verify(signatureAlgorithm, data, signature);
    }

    /// <summary>
    /// The SHA-256 fingerprint, exactly as ssh-keygen -l and ssh print it: "SHA256:" followed by the base64 of the
    /// SHA-256 of the blob, without padding. A certificate's fingerprint is its certified key's, as in OpenSSH.
    /// </summary>
    /// <returns>The fingerprint, e.g. "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s".</returns>
    public string GetFingerprint()
    {
        if (Certificate is not null)
        {
            return Certificate.Key.GetFingerprint();
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(_blob, hash);
        return "SHA256:" + Convert.ToBase64String(hash).TrimEnd('=');
    }

    /// <summary>
    /// The legacy MD5 fingerprint, as ssh-keygen -l -E md5 prints it: "MD5:" followed by the MD5 of the blob as
    /// colon-separated lowercase hex.
    /// </summary>
    /// <returns>The fingerprint, e.g. "MD5:d4:fe:05:...".</returns>
    public string GetMd5Fingerprint()
    {
        if (Certificate is not null)
        {
            return Certificate.Key.GetMd5Fingerprint();
        }

        Span<byte> hash = stackalloc byte[MD5.HashSizeInBytes];
        MD5.HashData(_blob, hash);
        var text = new StringBuilder("MD5:", 4 + 3 * hash.Length);
        for (int i = 0; i < hash.Length; i++)
        {
            if (i > 0)
            {
                text.Append(':');
            }

            text.Append(Convert.ToHexStringLower(hash.Slice(i, 1)));
        }

        return text.ToString();
    }

    /// <summary>The key in OpenSSH text form without a comment: "keytype base64".</summary>
    /// <returns>For example "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI...".</returns>
    public override string ToString() => KeyType + " " + Convert.ToBase64String(_blob);

    /// <summary>True when <paramref name="other"/> has the same blob.</summary>
    /// <param name="other">The key to compare with.</param>
    /// <returns>True for the same key.</returns>
    public bool Equals(SshPublicKey? other) => other is not null && _blob.AsSpan().SequenceEqual(other._blob);

    /// <summary>True when <paramref name="obj"/> is an <see cref="SshPublicKey"/> with the same blob.</summary>
    /// <param name="obj">The object to compare with.</param>
    /// <returns>True for the same key.</returns>
    public override bool Equals(object? obj) => Equals(obj as SshPublicKey);

    /// <summary>A hash of the blob.</summary>
    /// <returns>The hash code.</returns>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_blob);
        return hash.ToHashCode();
    }

    /// <summary>True when both keys are null or have the same blob.</summary>
    /// <param name="left">A key.</param>
    /// <param name="right">Another key.</param>
    /// <returns>True for the same key.</returns>
    public static bool operator ==(SshPublicKey? left, SshPublicKey? right) => left is null ? right is null : left.Equals(right);

    /// <summary>True unless both keys are null or have the same blob.</summary>
    /// <param name="left">A key.</param>
    /// <param name="right">Another key.</param>
    /// <returns>True for different keys.</returns>
    public static bool operator !=(SshPublicKey? left, SshPublicKey? right) => !(left == right);
}
