using System.Buffers.Binary;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Macs;
using Org.BouncyCastle.Crypto.Parameters;
using Ssh.Transport.Crypto;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>
/// Sixteen-lane HMAC-SHA-256: the published vectors in every lane, then differential runs against two independent
/// implementations (the BCL's, which is OpenSSL's, and BouncyCastle's) on random keys, lengths, counts and sequence
/// numbers. The real peers are in the interop suites, which download through it with hmac-sha2-256-etm.
/// </summary>
internal sealed class HmacSha256x16Tests
{
    [SetUp]
    public void RequireHardware() => Assume.That(HmacSha256x16.IsSupported, "no AVX-512 on this machine");

    private static IEnumerable<TestCaseData> Sha256Vectors() =>
        SshHmacTests.PublishedVectors().Where(c => (SshMacKind)c.Arguments[1]! == SshMacKind.HmacSha256);

    /// <summary>Message m as SSH MACs it: seqnr = BE32(m[0..4]), packet = m[4..]; the same in all sixteen lanes, at different places.</summary>
    [TestCaseSource(nameof(Sha256Vectors))]
    public void Compute_PublishedVector_InEveryLane(string vector, SshMacKind kind, byte[] key, byte[] message, string expected)
    {
        using var batch = new HmacSha256x16(key);
        uint sequence = BinaryPrimitives.ReadUInt32BigEndian(message);
        byte[] packet = message[4..];

        // Every lane gets the same sequence number here, so each computes over a copy at its own offset and the
        // sequence numbers are made equal by computing lane by lane.
        for (int lanes = 1; lanes <= HmacSha256x16.Lanes; lanes += 15)
        {
            int stride = packet.Length + 7;
            byte[] data = new byte[lanes * stride];
            int[] offsets = new int[lanes];
            for (int i = 0; i < lanes; i++)
            {
                offsets[i] = i * stride;
                packet.CopyTo(data, offsets[i]);
            }

            byte[] macs = new byte[lanes * 32];
            batch.Compute(sequence, data, offsets, packet.Length, macs);
            Assert.That(Convert.ToHexString(macs, 0, 32), Is.EqualTo(expected.ToUpperInvariant()), $"{vector}, lane 0 of {lanes}");
            for (int i = 1; i < lanes; i++)
            {
                Assert.That(Convert.ToHexString(macs, i * 32, 32), Is.EqualTo(Oracle(key, sequence + (uint)i, packet)), $"{vector}, lane {i}");
            }
        }
    }

    /// <summary>
    /// Random keys (SSH's 32 bytes, and other lengths including longer than a block), lengths around every block
    /// edge, any number of lanes, sequence numbers that wrap: each lane's MAC equals the BCL's and BouncyCastle's.
    /// </summary>
    [Test]
    public void Compute_RandomInputs_MatchesTwoIndependentImplementations()
    {
        var random = new Random(4231);
        int[] lengths = [0, 1, 3, 4, 55, 56, 59, 60, 61, 63, 64, 65, 119, 120, 123, 124, 125, 128, 1000, 4096, 32768 + 48];
        for (int round = 0; round < 200; round++)
        {
            byte[] key = new byte[round % 5 == 0 ? random.Next(0, 200) : 32];
            random.NextBytes(key);
            int length = round < lengths.Length ? lengths[round] : random.Next(0, 9000);
            int count = random.Next(1, HmacSha256x16.Lanes + 1);
            uint sequence = round % 7 == 0 ? uint.MaxValue - (uint)random.Next(0, 16) : (uint)random.NextInt64(0, uint.MaxValue);

            // Messages at irregular offsets, with bytes between them that must not be hashed.
            int[] offsets = new int[count];
            int at = random.Next(0, 17);
            for (int i = 0; i < count; i++)
            {
                offsets[i] = at;
                at += length + random.Next(0, 70);
            }

            byte[] data = new byte[at + random.Next(0, 5)];
            random.NextBytes(data);
            byte[] macs = new byte[count * 32];
            using var batch = new HmacSha256x16(key);
            batch.Compute(sequence, data, offsets, length, macs);
            for (int i = 0; i < count; i++)
            {
                byte[] packet = data.AsSpan(offsets[i], length).ToArray();
                string expected = Oracle(key, sequence + (uint)i, packet);
                Assert.That(Convert.ToHexString(macs, i * 32, 32), Is.EqualTo(expected), $"round {round}, lane {i} of {count}, length {length}");
                Assert.That(Convert.ToHexString(macs, i * 32, 32), Is.EqualTo(BouncyCastle(key, sequence + (uint)i, packet)), $"round {round}, lane {i} (BouncyCastle)");
            }
        }
    }

    /// <summary>One instance, many batches: nothing of one batch leaks into the next.</summary>
    [Test]
    public void Compute_Reused_EachBatchIndependent()
    {
        byte[] key = RandomNumberGenerator.GetBytes(32);
        using var batch = new HmacSha256x16(key);
        var random = new Random(7);
        for (int round = 0; round < 20; round++)
        {
            int length = random.Next(100, 3000);
            byte[] data = new byte[HmacSha256x16.Lanes * length];
            random.NextBytes(data);
            int[] offsets = Enumerable.Range(0, HmacSha256x16.Lanes).Select(i => i * length).ToArray();
            byte[] macs = new byte[HmacSha256x16.Lanes * 32];
            batch.Compute((uint)round * 16, data, offsets, length, macs);
            Assert.That(Convert.ToHexString(macs, 15 * 32, 32), Is.EqualTo(Oracle(key, (uint)round * 16 + 15, data.AsSpan(15 * length, length).ToArray())));
        }
    }

    [Test]
    public void Compute_BadArguments_Throw()
    {
        using var batch = new HmacSha256x16(new byte[32]);
        byte[] data = new byte[100];
        byte[] macs = new byte[17 * 32];
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Compute(0, data, [], 10, macs));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Compute(0, data, new int[17], 10, macs));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Compute(0, data, [0, 95], 10, macs), "runs past the data");
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Compute(0, data, [-1], 10, macs));
        Assert.Throws<ArgumentException>(() => batch.Compute(0, data, [0, 1], 10, new byte[63]));
        batch.Dispose();
        Assert.Throws<ObjectDisposedException>(() => batch.Compute(0, data, [0], 10, macs));
    }

    private static string Oracle(byte[] key, uint sequence, byte[] packet)
    {
        byte[] message = new byte[4 + packet.Length];
        BinaryPrimitives.WriteUInt32BigEndian(message, sequence);
        packet.CopyTo(message, 4);
        return Convert.ToHexString(HMACSHA256.HashData(key, message));
    }

    private static string BouncyCastle(byte[] key, uint sequence, byte[] packet)
    {
        var mac = new HMac(new Sha256Digest());
        mac.Init(new KeyParameter(key));
        byte[] prefix = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, sequence);
        mac.BlockUpdate(prefix, 0, 4);
        mac.BlockUpdate(packet, 0, packet.Length);
        byte[] output = new byte[32];
        mac.DoFinal(output, 0);
        return Convert.ToHexString(output);
    }
}
