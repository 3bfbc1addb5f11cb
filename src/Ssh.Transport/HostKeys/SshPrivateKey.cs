using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Ssh.Transport.HostKeys;

namespace Ssh.Transport;

/// <summary>
/// A private key: a server's host key, which signs the exchange hash H (RFC 4253 §6.6, §8), or a user's key, which
/// signs a publickey authentication request (RFC 4252 §7).
/// </summary>
/// <remarks>
/// <para>
/// Supported types: Ed25519 (RFC 8709), ECDSA on nistp256, nistp384 and nistp521 (RFC 5656), and RSA of 1024 to 16384
/// bits, signing with rsa-sha2-512 or rsa-sha2-256 (RFC 8332) and with "ssh-rsa" (SHA-1) only where explicitly allowed.
/// </para>
/// <para>
/// Keys load from OpenSSH's own format ("-----BEGIN OPENSSH PRIVATE KEY-----", what ssh-keygen writes), unencrypted
/// or encrypted with a passphrase (kdf "bcrypt"; cipher aes256-ctr, ssh-keygen's default, or aes128-ctr, aes192-ctr,
/// aes128-cbc, aes192-cbc, aes256-cbc, aes128-gcm@openssh.com, aes256-gcm@openssh.com, chacha20-poly1305@openssh.com
/// or 3des-cbc), and from unencrypted PEM: PKCS#8 "PRIVATE KEY" (RSA, EC or Ed25519), PKCS#1 "RSA PRIVATE KEY" and
/// SEC 1 "EC PRIVATE KEY". A missing or wrong passphrase throws <see cref="SshKeyPassphraseException"/>.
/// </para>
/// <para>
/// One instance may sign for many connections at once; <see cref="Dispose"/> releases the key and zeroes the private
/// key bytes this object holds, and must not race with a signature in progress.
/// </para>
/// </remarks>
public sealed class SshPrivateKey : IDisposable
{
    private readonly PrivateKey _key;
    private volatile bool _disposed;

    private SshPrivateKey(PrivateKey key, string comment)
    {
        _key = key;
        Comment = comment;
    }

    /// <summary>The key type, e.g. "ssh-ed25519", "ecdsa-sha2-nistp256" or "ssh-rsa".</summary>
    public string KeyType => _key.PublicKey.KeyType;

    /// <summary>The public half: its <see cref="SshPublicKey.Blob"/> is K_S of the key exchange.</summary>
    public SshPublicKey PublicKey => _key.PublicKey;

    /// <summary>The comment of the key file ("user@host" for ssh-keygen's keys), or empty.</summary>
    public string Comment { get; }

    /// <summary>
    /// The signature algorithms (KEXINIT "server_host_key_algorithms" names) this key can sign with, preferred first:
    /// the key type itself for Ed25519 and ECDSA; "rsa-sha2-512", "rsa-sha2-256" and, last, "ssh-rsa" for RSA.
    /// </summary>
    /// <remarks>"ssh-rsa" (SHA-1) is listed because the key can make it; offer it only when explicitly configured.</remarks>
    public IReadOnlyList<string> SignatureAlgorithms => _key.SignatureAlgorithms;

    /// <summary>Generates a new key; RSA keys get 3072 bits, as ssh-keygen gives them.</summary>
    /// <param name="type">The kind of key.</param>
    /// <returns>The key.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="type"/> is not a defined value.</exception>
    public static SshPrivateKey Generate(SshHostKeyType type) =>
        Generate(type, type switch
        {
            SshHostKeyType.Ed25519 => 256,
            SshHostKeyType.EcdsaNistP256 => 256,
            SshHostKeyType.EcdsaNistP384 => 384,
            SshHostKeyType.EcdsaNistP521 => 521,
            _ => RsaPrivateKey.DefaultKeySize,
        });

    /// <summary>Generates a new key of a given size.</summary>
    /// <param name="type">The kind of key.</param>
    /// <param name="keySizeInBits">
    /// For RSA, the modulus size: 2048 to 16384 bits, a multiple of 8. For the other types, the one size the type has
    /// (256 for Ed25519 and nistp256, 384, 521).
    /// </param>
    /// <returns>The key.</returns>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="type"/> is not a defined value, or <paramref name="keySizeInBits"/> does not fit it.
    /// </exception>
    public static SshPrivateKey Generate(SshHostKeyType type, int keySizeInBits)
    {
        int expected = type switch
        {
            SshHostKeyType.Ed25519 or SshHostKeyType.EcdsaNistP256 => 256,
            SshHostKeyType.EcdsaNistP384 => 384,
            SshHostKeyType.EcdsaNistP521 => 521,
            SshHostKeyType.Rsa => keySizeInBits,
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown host key type."),
        };
        if (keySizeInBits != expected
            || (type == SshHostKeyType.Rsa
                && (keySizeInBits < RsaPrivateKey.MinimumGeneratedKeySize || keySizeInBits > RsaPublicKeyParameters.MaximumKeySize || keySizeInBits % 8 != 0)))
        {
            throw new ArgumentOutOfRangeException(nameof(keySizeInBits), keySizeInBits, $"Not a valid size for a {type} key.");
        }

        PrivateKey key = type switch
        {
            SshHostKeyType.Ed25519 => Ed25519PrivateKey.Generate(),
            SshHostKeyType.EcdsaNistP256 => EcdsaPrivateKey.Generate(EcdsaCurve.NistP256),
            SshHostKeyType.EcdsaNistP384 => EcdsaPrivateKey.Generate(EcdsaCurve.NistP384),
            SshHostKeyType.EcdsaNistP521 => EcdsaPrivateKey.Generate(EcdsaCurve.NistP521),
            _ => RsaPrivateKey.Generate(keySizeInBits),
        };
        return new SshPrivateKey(key, string.Empty);
    }

    /// <summary>Loads a private key file: OpenSSH format (unencrypted or encrypted with a passphrase) or unencrypted PEM.</summary>
    /// <param name="path">The file, e.g. /etc/ssh/ssh_host_ed25519_key or ~/.ssh/id_ed25519.</param>
    /// <param name="passphrase">
    /// The passphrase of an encrypted OpenSSH key, used as its UTF-8 bytes as ssh-keygen does; ignored for an
    /// unencrypted key. Null or empty for none.
    /// </param>
    /// <returns>The key.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="FormatException">The file is not a private key in a known format, or is corrupt.</exception>
    /// <exception cref="SshKeyPassphraseException">
    /// The key is encrypted and <paramref name="passphrase"/> is missing (<see cref="SshKeyPassphraseException.PassphraseMissing"/>)
    /// or wrong.
    /// </exception>
    /// <exception cref="NotSupportedException">
    /// The key is an encrypted PEM key, is encrypted with a cipher or kdf this library lacks, or is of a type or size
    /// this library does not support.
    /// </exception>
    public static SshPrivateKey Load(string path, string? passphrase = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(File.ReadAllText(path), passphrase);
    }

    /// <summary>Parses the text of a private key file: OpenSSH format (unencrypted or encrypted with a passphrase) or unencrypted PEM.</summary>
    /// <param name="text">The file's text.</param>
    /// <param name="passphrase">
    /// The passphrase of an encrypted OpenSSH key, used as its UTF-8 bytes as ssh-keygen does; ignored for an
    /// unencrypted key. Null or empty for none.
    /// </param>
    /// <returns>The key.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="FormatException">The text is not a private key in a known format, or is corrupt.</exception>
    /// <exception cref="SshKeyPassphraseException">
    /// The key is encrypted and <paramref name="passphrase"/> is missing (<see cref="SshKeyPassphraseException.PassphraseMissing"/>)
    /// or wrong.
    /// </exception>
    /// <exception cref="NotSupportedException">
    /// The key is an encrypted PEM key, is encrypted with a cipher or kdf this library lacks, or is of a type or size
    /// this library does not support.
    /// </exception>
    /// <remarks>
    /// A string cannot be zeroed; the bytes derived from <paramref name="passphrase"/> (its UTF-8 form, the
    /// bcrypt_pbkdf output) and the decrypted key material are zeroed once the key is loaded.
    /// </remarks>
    public static SshPrivateKey Parse(string text, string? passphrase = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Contains(OpenSshPrivateKeyFile.BeginLine, StringComparison.Ordinal))
        {
            PrivateKey key = OpenSshPrivateKeyFile.Read(text, passphrase, out string comment);
            return Checked(key, comment);
        }

        if (PemPrivateKeyFile.Contains(text))
        {
            return Checked(PemPrivateKeyFile.Read(text), string.Empty);
        }

        string trimmed = text.TrimStart();
        if (trimmed.StartsWith("ssh-", StringComparison.Ordinal) || trimmed.StartsWith("ecdsa-", StringComparison.Ordinal))
        {
            throw new FormatException("This is a public key (a .pub file), not a private key.");
        }

        if (trimmed.StartsWith("PuTTY-User-Key-File", StringComparison.Ordinal) || trimmed.StartsWith("---- BEGIN SSH2", StringComparison.Ordinal))
        {
            throw new FormatException("PuTTY and SSH.com (RFC 4716) key files are not supported; convert the key with ssh-keygen or puttygen.");
        }

        throw new FormatException(
            "Not a private key: expected '-----BEGIN OPENSSH PRIVATE KEY-----' or a PEM 'PRIVATE KEY', 'RSA PRIVATE KEY' or 'EC PRIVATE KEY' block.");
    }

    /// <summary>
    /// Wraps a loaded key after a pairwise consistency test: one signature, checked with the public key. The file
    /// formats do not all tie the private numbers to the public ones, and not every platform's import checks them; a
    /// key that signs wrongly would only show up as every peer refusing it.
    /// </summary>
    private static SshPrivateKey Checked(PrivateKey key, string comment)
    {
        try
        {
            ReadOnlySpan<byte> data = "Ssh.Transport private key self-test"u8;
            string algorithm = key.SignatureAlgorithms[0];
            var blob = new ArrayBufferWriter<byte>(GetMaxSignatureBlobLength(key, algorithm));
            var privateKey = new SshPrivateKey(key, comment);
            privateKey.Sign(algorithm, data, blob);
            if (!key.PublicKey.VerifySignature(algorithm, data, blob.WrittenSpan))
            {
                throw new FormatException("The private key does not match its public key: its signatures do not verify.");
            }

            return privateKey;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes the key as an OpenSSH private key file ("openssh-key-v1"), the format ssh-keygen writes and ssh and sshd
    /// read: unencrypted, or encrypted with a passphrase as ssh-keygen encrypts by default (cipher aes256-ctr, kdf
    /// bcrypt with a random 16-byte salt and 16 rounds).
    /// </summary>
    /// <param name="passphrase">The passphrase to encrypt with, used as its UTF-8 bytes; null or empty for none.</param>
    /// <returns>The file's text, with a trailing newline. It holds the private key: store it readable by the owner only.</returns>
    /// <exception cref="ObjectDisposedException">The key has been disposed.</exception>
    public string ExportOpenSsh(string? passphrase = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return OpenSshPrivateKeyFile.Write(_key, Comment, passphrase);
    }

    /// <summary>Releases the key and zeroes the private key bytes this object holds.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _key.Dispose();
        }
    }

    /// <summary>
    /// Signs <paramref name="data"/> and writes the signature blob (RFC 4253 §6.6): string signature algorithm, string
    /// signature. The signature is 64 raw bytes for ssh-ed25519 (RFC 8709 §6); the encoding of mpint r, mpint s for
    /// ECDSA (RFC 5656 §3.1.2); and for RSA (RFC 8332 §3) as many bytes as the modulus, the key type staying "ssh-rsa".
    /// </summary>
    /// <param name="signatureAlgorithm">
    /// One of <see cref="SignatureAlgorithms"/>: the negotiated host key algorithm, or the algorithm of a publickey
    /// authentication request.
    /// </param>
    /// <param name="data">The data to sign: the exchange hash H, or the data of RFC 4252 §7.</param>
    /// <param name="destination">Where the blob goes, after anything already written there.</param>
    /// <param name="allowSha1">True to allow "ssh-rsa" (RSA with SHA-1).</param>
    /// <returns>The number of bytes written, the length of the blob.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="signatureAlgorithm"/> or <paramref name="destination"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// The key cannot sign with <paramref name="signatureAlgorithm"/> (the message names those it can), or it is
    /// "ssh-rsa" and <paramref name="allowSha1"/> is false. Nothing is written.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The key has been disposed.</exception>
    public int Sign(string signatureAlgorithm, ReadOnlySpan<byte> data, IBufferWriter<byte> destination, bool allowSha1 = false)
    {
        ArgumentNullException.ThrowIfNull(destination);
        CheckCanSign(signatureAlgorithm, allowSha1);
        var writer = new SshWriter(destination);
        WriteBlob(ref writer, _key, signatureAlgorithm, data);
        return (int)writer.BytesWritten;
    }

    /// <summary>
    /// Signs <paramref name="data"/> and writes the signature blob as an SSH "string" (uint32 length, then the blob of
    /// <see cref="Sign"/>), in place: the "signature" field of a publickey SSH_MSG_USERAUTH_REQUEST (RFC 4252 §7) or the
    /// "signature of H" of a key exchange reply (RFC 4253 §8), with no buffer between the signer and the message.
    /// </summary>
    /// <param name="writer">Where the string goes.</param>
    /// <param name="signatureAlgorithm">One of <see cref="SignatureAlgorithms"/>.</param>
    /// <param name="data">The data to sign.</param>
    /// <param name="allowSha1">True to allow "ssh-rsa" (RSA with SHA-1).</param>
    /// <exception cref="ArgumentNullException"><paramref name="signatureAlgorithm"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// The key cannot sign with <paramref name="signatureAlgorithm"/> (the message names those it can), or it is
    /// "ssh-rsa" and <paramref name="allowSha1"/> is false. Nothing is written.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The key has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="writer"/> is over a span with too little room left.</exception>
    public void WriteSignature(ref SshWriter writer, string signatureAlgorithm, ReadOnlySpan<byte> data, bool allowSha1 = false)
    {
        CheckCanSign(signatureAlgorithm, allowSha1);
        writer.WriteString(
            GetMaxSignatureBlobLength(_key, signatureAlgorithm),
            new SigningState(_key, signatureAlgorithm, data),
            static (ref SshWriter inner, SigningState state) => WriteBlob(ref inner, state.Key, state.Algorithm, state.Data));
    }

    private void CheckCanSign(string signatureAlgorithm, bool allowSha1)
    {
        ArgumentNullException.ThrowIfNull(signatureAlgorithm);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_key.SignatureAlgorithms.Contains(signatureAlgorithm))
        {
            throw new ArgumentException(
                $"A {KeyType} key cannot sign with '{signatureAlgorithm}'; it signs with {string.Join(", ", _key.SignatureAlgorithms)}.",
                nameof(signatureAlgorithm));
        }

        if (signatureAlgorithm == SshHostKeyAlgorithms.RsaSha1 && !allowSha1)
        {
            throw new ArgumentException(
                "Signing with ssh-rsa (RSA with SHA-1) was not allowed; use rsa-sha2-512 or rsa-sha2-256, or allow SHA-1 explicitly.",
                nameof(signatureAlgorithm));
        }
    }

    /// <summary>string algorithm, string signature: the most bytes the blob can take.</summary>
    private static int GetMaxSignatureBlobLength(PrivateKey key, string signatureAlgorithm) =>
        4 + Encoding.ASCII.GetByteCount(signatureAlgorithm) + 4 + key.MaxSignatureSize;

    /// <summary>Writes the whole blob into one span, then commits it: a failed signature commits nothing.</summary>
    private static void WriteBlob(ref SshWriter writer, PrivateKey key, string signatureAlgorithm, ReadOnlySpan<byte> data)
    {
        Span<byte> span = writer.GetSpan(GetMaxSignatureBlobLength(key, signatureAlgorithm));
        int nameLength = Encoding.ASCII.GetBytes(signatureAlgorithm, span[4..]);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)nameLength);
        Span<byte> signature = span[(4 + nameLength)..];
        int length = key.Sign(signatureAlgorithm, data, signature[4..]);
        BinaryPrimitives.WriteUInt32BigEndian(signature, (uint)length);
        writer.Advance(4 + nameLength + 4 + length);
    }

    private readonly ref struct SigningState
    {
        public SigningState(PrivateKey key, string algorithm, ReadOnlySpan<byte> data)
        {
            Key = key;
            Algorithm = algorithm;
            Data = data;
        }

        public PrivateKey Key { get; }

        public string Algorithm { get; }

        public ReadOnlySpan<byte> Data { get; }
    }
}
