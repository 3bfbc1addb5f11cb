using System.Numerics;

namespace Ssh.Transport.KeyExchange;

/// <summary>
/// A finite-field Diffie-Hellman group: prime modulus p and generator g (RFC 4253 §8, RFC 4419).
/// </summary>
internal sealed class DhGroup
{
    /// <summary>The smallest modulus a client accepts from a group-exchange server (RFC 8270 §4).</summary>
    public const int MinimumOfferBits = 2048;

    // RFC 2409 §6.2, Second Oakley Group (1024 bits): p = 2^1024 - 2^960 - 1 + 2^64 * ([2^894 pi] + 129093), generator 2.
    private const string Oakley2Hex =
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF";

    // RFC 3526 §3, group 14 (2048 bits): p = 2^2048 - 2^1984 - 1 + 2^64 * ([2^1918 pi] + 124476), generator 2.
    private const string Group14Hex =
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
        "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

    // RFC 3526 §4, group 15 (3072 bits): p = 2^3072 - 2^3008 - 1 + 2^64 * ([2^2942 pi] + 1690314), generator 2.
    private const string Group15Hex =
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
        "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33" +
        "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
        "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864" +
        "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2" +
        "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";

    // RFC 3526 §5, group 16 (4096 bits): p = 2^4096 - 2^4032 - 1 + 2^64 * ([2^3966 pi] + 240904), generator 2.
    private const string Group16Hex =
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
        "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33" +
        "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
        "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864" +
        "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2" +
        "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7" +
        "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8" +
        "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2" +
        "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9" +
        "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF";

    // RFC 3526 §6, group 17 (6144 bits): p = 2^6144 - 2^6080 - 1 + 2^64 * ([2^6014 pi] + 929484), generator 2.
    private const string Group17Hex =
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
        "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33" +
        "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
        "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864" +
        "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2" +
        "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7" +
        "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8" +
        "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2" +
        "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9" +
        "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C93402849236C3FAB4D27C7026" +
        "C1D4DCB2602646DEC9751E763DBA37BDF8FF9406AD9E530EE5DB382F413001AE" +
        "B06A53ED9027D831179727B0865A8918DA3EDBEBCF9B14ED44CE6CBACED4BB1B" +
        "DB7F1447E6CC254B332051512BD7AF426FB8F401378CD2BF5983CA01C64B92EC" +
        "F032EA15D1721D03F482D7CE6E74FEF6D55E702F46980C82B5A84031900B1C9E" +
        "59E7C97FBEC7E8F323A97A7E36CC88BE0F1D45B7FF585AC54BD407B22B4154AA" +
        "CC8F6D7EBF48E1D814CC5ED20F8037E0A79715EEF29BE32806A1D58BB7C5DA76" +
        "F550AA3D8A1FBFF0EB19CCB1A313D55CDA56C9EC2EF29632387FE8D76E3C0468" +
        "043E8F663F4860EE12BF2D5B0B7474D6E694F91E6DCC4024FFFFFFFFFFFFFFFF";

    // RFC 3526 §7, group 18 (8192 bits): p = 2^8192 - 2^8128 - 1 + 2^64 * ([2^8062 pi] + 4743158), generator 2.
    private const string Group18Hex =
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
        "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33" +
        "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
        "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864" +
        "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2" +
        "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7" +
        "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8" +
        "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2" +
        "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9" +
        "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C93402849236C3FAB4D27C7026" +
        "C1D4DCB2602646DEC9751E763DBA37BDF8FF9406AD9E530EE5DB382F413001AE" +
        "B06A53ED9027D831179727B0865A8918DA3EDBEBCF9B14ED44CE6CBACED4BB1B" +
        "DB7F1447E6CC254B332051512BD7AF426FB8F401378CD2BF5983CA01C64B92EC" +
        "F032EA15D1721D03F482D7CE6E74FEF6D55E702F46980C82B5A84031900B1C9E" +
        "59E7C97FBEC7E8F323A97A7E36CC88BE0F1D45B7FF585AC54BD407B22B4154AA" +
        "CC8F6D7EBF48E1D814CC5ED20F8037E0A79715EEF29BE32806A1D58BB7C5DA76" +
        "F550AA3D8A1FBFF0EB19CCB1A313D55CDA56C9EC2EF29632387FE8D76E3C0468" +
        "043E8F663F4860EE12BF2D5B0B7474D6E694F91E6DBE115974A3926F12FEE5E4" +
        "38777CB6A932DF8CD8BEC4D073B931BA3BC832B68D9DD300741FA7BF8AFC47ED" +
        "2576F6936BA424663AAB639C5AE4F5683423B4742BF1C978238F16CBE39D652D" +
        "E3FDB8BEFC848AD922222E04A4037C0713EB57A81A23F0C73473FC646CEA306B" +
        "4BCBC8862F8385DDFA9D4B7FA2C087E879683303ED5BDD3A062B3CF5B3A278A6" +
        "6D2A13F83F44F82DDF310EE074AB6A364597E899A0255DC164F31CC50846851D" +
        "F9AB48195DED7EA1B1D510BD7EE74D73FAF36BC31ECFA268359046F4EB879F92" +
        "4009438B481C6CD7889A002ED5EE382BC9190DA6FC026E479558E4475677E9AA" +
        "9E3050E2765694DFC81F56E880B96E7160C980DD98EDD3DFFFFFFFFFFFFFFFFF";

    private DhGroup(BigInteger p, BigInteger g)
    {
        P = p;
        G = g;
        PMinusOne = p - BigInteger.One;
        Bits = checked((int)p.GetBitLength());
        PMagnitude = p.ToByteArray(isUnsigned: true, isBigEndian: true);
        GMagnitude = g.ToByteArray(isUnsigned: true, isBigEndian: true);
    }

    /// <summary>The prime modulus p.</summary>
    public BigInteger P { get; }

    /// <summary>The generator g.</summary>
    public BigInteger G { get; }

    /// <summary>The bit length of p.</summary>
    public int Bits { get; }

    /// <summary>p as an unsigned big-endian magnitude (for <see cref="SshWriter.WriteUnsignedMPInt"/>).</summary>
    public ReadOnlyMemory<byte> PMagnitude { get; }

    /// <summary>g as an unsigned big-endian magnitude (for <see cref="SshWriter.WriteUnsignedMPInt"/>).</summary>
    public ReadOnlyMemory<byte> GMagnitude { get; }

    /// <summary>p - 1, the exclusive upper bound of valid public values.</summary>
    internal BigInteger PMinusOne { get; }

    /// <summary>RFC 2409 §6.2 Second Oakley Group, 1024 bits (diffie-hellman-group1-sha1 only).</summary>
    public static DhGroup Oakley2 { get; } = FromHex(Oakley2Hex);

    /// <summary>RFC 3526 §3 group 14, 2048 bits.</summary>
    public static DhGroup Group14 { get; } = FromHex(Group14Hex);

    /// <summary>RFC 3526 §4 group 15, 3072 bits.</summary>
    public static DhGroup Group15 { get; } = FromHex(Group15Hex);

    /// <summary>RFC 3526 §5 group 16, 4096 bits.</summary>
    public static DhGroup Group16 { get; } = FromHex(Group16Hex);

    /// <summary>RFC 3526 §6 group 17, 6144 bits.</summary>
    public static DhGroup Group17 { get; } = FromHex(Group17Hex);

    /// <summary>RFC 3526 §7 group 18, 8192 bits.</summary>
    public static DhGroup Group18 { get; } = FromHex(Group18Hex);

    /// <summary>The safe-prime groups a group-exchange server offers (RFC 3526 groups 14 to 18), smallest first.</summary>
    public static IReadOnlyList<DhGroup> ExchangeGroups { get; } = [Group14, Group15, Group16, Group17, Group18];

    /// <summary>
    /// The server side of RFC 4419 §3: picks the smallest built-in group of at least <paramref name="preferred"/> bits
    /// within [<paramref name="min"/>, <paramref name="max"/>]; when none is that large, the largest within the range.
    /// </summary>
    /// <param name="min">The client's minimal acceptable size in bits.</param>
    /// <param name="preferred">The client's preferred size (n).</param>
    /// <param name="max">The client's maximal acceptable size.</param>
    /// <exception cref="SshProtocolException">No built-in group fits (<see cref="SshDisconnectReason.KeyExchangeFailed"/>).</exception>
    public static DhGroup Choose(uint min, uint preferred, uint max)
    {
        DhGroup? largest = null;
        foreach (DhGroup group in ExchangeGroups)
        {
            uint bits = (uint)group.Bits;
            if (bits < min || bits > max)
            {
                continue;
            }

            if (bits >= preferred)
            {
                return group;
            }

            largest = group;
        }

        return largest ?? throw KexAgreement.Fail($"No Diffie-Hellman group fits the requested range min={min}, n={preferred}, max={max}.");
    }

    /// <summary>
    /// The client side of RFC 4419 §3: checks the group a server sent in SSH_MSG_KEX_DH_GEX_GROUP.
    /// </summary>
    /// <param name="p">p's magnitude, from <see cref="SshReader.ReadUnsignedMPInt"/>.</param>
    /// <param name="g">g's magnitude.</param>
    /// <param name="min">The minimal size the client asked for.</param>
    /// <param name="max">The maximal size the client asked for.</param>
    /// <exception cref="SshProtocolException">p's size is outside [<paramref name="min"/>, <paramref name="max"/>] or
    /// below 2048 bits (RFC 8270), p is even, or g is not in (1, p-1) (<see cref="SshDisconnectReason.KeyExchangeFailed"/>).</exception>
    /// <remarks>p is not tested for primality: that costs seconds for large groups, and a server that sends a weak
    /// group can only weaken its own connection.</remarks>
    public static DhGroup FromOffer(ReadOnlySpan<byte> p, ReadOnlySpan<byte> g, uint min, uint max)
    {
        int first = p.IndexOfAnyExcept((byte)0);
        p = first < 0 ? [] : p[first..];
        long bits = p.IsEmpty ? 0 : ((p.Length - 1) * 8L) + 32 - BitOperations.LeadingZeroCount((uint)p[0]);
        if (bits < MinimumOfferBits || bits < min || bits > max)
        {
            throw KexAgreement.Fail($"The server's Diffie-Hellman group has {bits} bits, outside [{Math.Max(min, MinimumOfferBits)}, {max}].");
        }

        if ((p[^1] & 1) == 0)
        {
            throw KexAgreement.Fail("The server's Diffie-Hellman modulus is even.");
        }

        var pValue = new BigInteger(p, isUnsigned: true, isBigEndian: true);
        var gValue = new BigInteger(g, isUnsigned: true, isBigEndian: true);
        if (gValue <= BigInteger.One || gValue >= pValue - BigInteger.One)
        {
            throw KexAgreement.Fail("The server's Diffie-Hellman generator is not in (1, p-1).");
        }

        return new DhGroup(pValue, gValue);
    }

    private static DhGroup FromHex(string hex) =>
        new(new BigInteger(Convert.FromHexString(hex), isUnsigned: true, isBigEndian: true), new BigInteger(2));
}
