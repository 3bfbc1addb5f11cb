using System.Buffers;
using Ssh.Transport.KeyExchange;

namespace Ssh.Transport.Fuzz.Targets;

/// <summary>
/// The value the peer sends in a key exchange, for every method and both roles, against fixed private keys (the DH
/// exponent, the NIST scalar, the X25519 key; the ML-KEM and sntrup761 halves draw from the library's own generator,
/// which no branch depends on). Byte 0: bits 0-3 the method (<see cref="KexAlgorithm.All"/>, modulo), bit 7 the server
/// role. Group exchange: a client reads string p, string g (SSH_MSG_KEX_DH_GEX_GROUP's mpints) before the value; a
/// server reads uint32 min, n, max (SSH_MSG_KEX_DH_GEX_REQUEST). The rest is the peer's value (Q_S/Q_C, f/e,
/// S_REPLY/C_INIT).
/// </summary>
internal static class KexAgreementTarget
{
    private static readonly byte[] s_dhExponent = Harness.FixedBytes(32, 0x31);

    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        IReadOnlyList<KexAlgorithm> all = KexAlgorithm.All;
        KexAlgorithm method = all[(input[0] & 0x0F) % all.Count];
        bool server = (input[0] & 0x80) != 0;
        var reader = new SshReader(input.AsSpan(1));
        KexAgreement agreement;
        try
        {
            agreement = Create(method, server, ref reader);
        }
        catch (SshProtocolException)
        {
            return;
        }

        using (agreement)
        {
            if (!server && agreement.LocalPublic.IsEmpty)
            {
                throw new FuzzFindingException($"{method} client has no public value to send.");
            }

            var encodedK = new ArrayBufferWriter<byte>(256);
            try
            {
                agreement.ComputeSharedSecret(reader.UnreadSpan, encodedK);
            }
            catch (SshProtocolException e) when (e.Reason == SshDisconnectReason.KeyExchangeFailed)
            {
                return;
            }

            // K is an mpint or a string: a length prefix and what it announces, nothing else; a server's reply exists now.
            var k = new SshReader(encodedK.WrittenSpan);
            if (k.ReadString().IsEmpty || !k.End || agreement.LocalPublic.IsEmpty)
            {
                throw new FuzzFindingException($"{method} produced a malformed K or no reply.");
            }
        }
    }

    private static KexAgreement Create(KexAlgorithm method, bool server, ref SshReader reader)
    {
        switch (method.Family)
        {
            case KexFamily.GroupExchange when server:
            {
                uint min = reader.ReadUInt32(), preferred = reader.ReadUInt32(), max = reader.ReadUInt32();
                DhGroup group = DhGroup.Choose(min, preferred, max);
                return method.CreateWithPrivateKey(server: true, s_dhExponent, group);
            }

            case KexFamily.GroupExchange:
            {
                ReadOnlySpan<byte> p = reader.ReadUnsignedMPInt();
                ReadOnlySpan<byte> g = reader.ReadUnsignedMPInt();
                DhGroup group = DhGroup.FromOffer(p, g, 2048, 8192);
                return method.CreateWithPrivateKey(server: false, s_dhExponent, group);
            }

            case KexFamily.FixedDh:
                return method.CreateWithPrivateKey(server, s_dhExponent);
            default:
                int size = method.Name.StartsWith("ecdh-sha2-nistp", StringComparison.Ordinal)
                    ? method.Name.EndsWith("521", StringComparison.Ordinal) ? 66 : method.Name.EndsWith("384", StringComparison.Ordinal) ? 48 : 32
                    : 32;
                return method.CreateWithPrivateKey(server, Harness.FixedBytes(size, 1));
        }
    }
}
