using System.Buffers;
using System.Numerics;
using System.Security.Cryptography;

namespace Ssh.Transport.KeyExchange;

/// <summary>The method-specific part of the exchange hash input.</summary>
internal enum ExchangeHashForm
{
    /// <summary>RFC 5656 §4, RFC 8731 §3, the PQ hybrids: string Q_C, string Q_S.</summary>
    Strings,

    /// <summary>RFC 4253 §8: mpint e, mpint f.</summary>
    Mpints,

    /// <summary>RFC 4419 §3: uint32 min, n, max, mpint p, mpint g, mpint e, mpint f.</summary>
    GroupExchange,
}

/// <summary>
/// The exchange hash H = HASH(V_C || V_S || I_C || I_S || K_S || method values || K) (RFC 4253 §8 and the method RFCs).
/// </summary>
internal static class ExchangeHash
{
    /// <param name="hash">The key exchange's hash.</param>
    /// <param name="form">How the public values enter.</param>
    /// <param name="clientIdentification">V_C without CR LF.</param>
    /// <param name="serverIdentification">V_S without CR LF.</param>
    /// <param name="clientKexInit">I_C: the client's KEXINIT payload.</param>
    /// <param name="serverKexInit">I_S: the server's KEXINIT payload.</param>
    /// <param name="hostKeyBlob">K_S.</param>
    /// <param name="clientPublic">Q_C (string bytes) or the magnitude of e.</param>
    /// <param name="serverPublic">Q_S (string bytes) or the magnitude of f.</param>
    /// <param name="encodedK">K as encoded (mpint or string, length prefix included).</param>
    /// <param name="groupRequest">For group exchange: min, n, max as requested.</param>
    /// <param name="group">For group exchange: p and g.</param>
    public static byte[] Compute(
        HashAlgorithmName hash,
        ExchangeHashForm form,
        ReadOnlySpan<byte> clientIdentification,
        ReadOnlySpan<byte> serverIdentification,
        ReadOnlySpan<byte> clientKexInit,
        ReadOnlySpan<byte> serverKexInit,
        ReadOnlySpan<byte> hostKeyBlob,
        ReadOnlySpan<byte> clientPublic,
        ReadOnlySpan<byte> serverPublic,
        ReadOnlySpan<byte> encodedK,
        (uint Min, uint Preferred, uint Max) groupRequest = default,
        (BigInteger P, BigInteger G) group = default)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        var writer = new SshWriter(buffer);
        writer.WriteString(clientIdentification);
        writer.WriteString(serverIdentification);
        writer.WriteString(clientKexInit);
        writer.WriteString(serverKexInit);
        writer.WriteString(hostKeyBlob);
        switch (form)
        {
            case ExchangeHashForm.Strings:
                writer.WriteString(clientPublic);
                writer.WriteString(serverPublic);
                break;
            case ExchangeHashForm.Mpints:
                writer.WriteUnsignedMPInt(clientPublic);
                writer.WriteUnsignedMPInt(serverPublic);
                break;
            case ExchangeHashForm.GroupExchange:
                writer.WriteUInt32(groupRequest.Min);
                writer.WriteUInt32(groupRequest.Preferred);
                writer.WriteUInt32(groupRequest.Max);
                writer.WriteMPInt(group.P);
                writer.WriteMPInt(group.G);
                writer.WriteUnsignedMPInt(clientPublic);
                writer.WriteUnsignedMPInt(serverPublic);
                break;
        }

        writer.WriteBytes(encodedK);
        byte[] h = CryptographicOperations.HashData(hash, buffer.WrittenSpan);

        // K is in there: wipe it.
        buffer.Clear();
        return h;
    }
}
