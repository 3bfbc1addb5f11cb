using System.Security.Cryptography;

namespace Ssh.Transport.KeyExchange;

/// <summary>
/// Key derivation (RFC 4253 §7.2): K1 = HASH(K || H || X || session_id), K(n+1) = HASH(K || H || K1 || ... || Kn),
/// concatenated and cut to the length needed. K enters exactly as it entered the exchange hash (an mpint, or a
/// string for the hybrid post-quantum methods).
/// </summary>
internal static class KeyDerivation
{
    /// <summary>The letters of RFC 4253 §7.2.</summary>
    public const byte IvClientToServer = (byte)'A';
    public const byte IvServerToClient = (byte)'B';
    public const byte KeyClientToServer = (byte)'C';
    public const byte KeyServerToClient = (byte)'D';
    public const byte MacClientToServer = (byte)'E';
    public const byte MacServerToClient = (byte)'F';

    /// <summary>Fills <paramref name="destination"/> with key material for <paramref name="letter"/>.</summary>
    /// <param name="hash">The key exchange's hash.</param>
    /// <param name="encodedK">K as encoded for hashing (length prefix included).</param>
    /// <param name="exchangeHash">H of this exchange.</param>
    /// <param name="letter">'A'..'F'.</param>
    /// <param name="sessionId">The first exchange's H.</param>
    /// <param name="destination">Receives the key material; any length.</param>
    public static void Derive(HashAlgorithmName hash, ReadOnlySpan<byte> encodedK, ReadOnlySpan<byte> exchangeHash, byte letter, ReadOnlySpan<byte> sessionId, Span<byte> destination)
    {
        if (destination.IsEmpty)
        {
            return;
        }

        using var hasher = IncrementalHash.CreateHash(hash);
        int hashSize = hasher.HashLengthInBytes;
        int rounds = (destination.Length + hashSize - 1) / hashSize;
        byte[] material = new byte[rounds * hashSize];
        try
        {
            hasher.AppendData(encodedK);
            hasher.AppendData(exchangeHash);
            hasher.AppendData([letter]);
            hasher.AppendData(sessionId);
            hasher.GetHashAndReset(material.AsSpan(0, hashSize));
            for (int produced = hashSize; produced < material.Length; produced += hashSize)
            {
                hasher.AppendData(encodedK);
                hasher.AppendData(exchangeHash);
                hasher.AppendData(material.AsSpan(0, produced));
                hasher.GetHashAndReset(material.AsSpan(produced, hashSize));
            }

            material.AsSpan(0, destination.Length).CopyTo(destination);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(material);
        }
    }
}
