using System.Buffers;
using System.Buffers.Binary;

namespace Ssh.Transport.HostKeys;

/// <summary>
/// The private half of a host key, one subclass per key type. Implementations own their secrets and release or zero
/// them in <see cref="Dispose"/>; <see cref="Sign"/> may run on several threads at once.
/// </summary>
internal abstract class PrivateKey : IDisposable
{
    /// <summary>The public half.</summary>
    public abstract SshPublicKey PublicKey { get; }

    /// <summary>The signature algorithms this key can sign with, preferred first.</summary>
    public abstract IReadOnlyList<string> SignatureAlgorithms { get; }

    /// <summary>The longest signature <see cref="Sign"/> writes, in bytes.</summary>
    public abstract int MaxSignatureSize { get; }

    /// <summary>
    /// Signs <paramref name="data"/> and writes the signature bytes (the second string of the signature blob) to
    /// <paramref name="destination"/>, which holds at least <see cref="MaxSignatureSize"/> bytes.
    /// </summary>
    /// <returns>The number of bytes written.</returns>
    public abstract int Sign(string signatureAlgorithm, ReadOnlySpan<byte> data, Span<byte> destination);

    /// <summary>
    /// Writes the key's fields of an openssh-key-v1 private section (PROTOCOL.key), after the key type string and
    /// before the comment.
    /// </summary>
    public abstract void WriteOpenSshPrivateFields(IBufferWriter<byte> output);

    /// <summary>Releases the key and zeroes the secrets this object holds.</summary>
    public abstract void Dispose();

    /// <summary>Writes an mpint (RFC 4251 §5) from an unsigned big-endian magnitude into a span.</summary>
    /// <returns>The number of bytes written.</returns>
    protected static int WriteUnsignedMPInt(Span<byte> destination, ReadOnlySpan<byte> magnitude)
    {
        int first = magnitude.IndexOfAnyExcept((byte)0);
        magnitude = first < 0 ? [] : magnitude[first..];
        int pad = !magnitude.IsEmpty && (magnitude[0] & 0x80) != 0 ? 1 : 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(pad + magnitude.Length));
        if (pad != 0)
        {
            destination[4] = 0;
        }

        magnitude.CopyTo(destination[(4 + pad)..]);
        return 4 + pad + magnitude.Length;
    }
}
