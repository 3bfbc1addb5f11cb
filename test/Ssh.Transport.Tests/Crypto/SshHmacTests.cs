using System.Buffers.Binary;
using System.Text;
using Ssh.Transport.Crypto;
using Ssh.Transport.Crypto.Primitives;
using static Ssh.Transport.Tests.Crypto.AesTestSupport;

namespace Ssh.Transport.Tests.Crypto;

internal sealed class SshHmacTests
{
    private static readonly byte[] s_jefeData = Encoding.ASCII.GetBytes("what do ya want for nothing?");
    private static readonly byte[] s_case6Data = Encoding.ASCII.GetBytes("Test Using Larger Than Block-Size Key - Hash Key First");
    private static readonly byte[] s_case7Data = Encoding.ASCII.GetBytes(
        "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.");

    private static byte[] Repeat(byte value, int count) => Enumerable.Repeat(value, count).ToArray();

    // RFC 4231 §4.2 - §4.8 (test case 5, truncation, does not apply: SSH uses full-length MACs) and RFC 2202 §3.
    internal static IEnumerable<TestCaseData> PublishedVectors()
    {
        byte[] hiThere = "Hi There"u8.ToArray();
        byte[] jefe = "Jefe"u8.ToArray();
        byte[] case4Key = Enumerable.Range(1, 25).Select(i => (byte)i).ToArray();

        yield return new TestCaseData("RFC 4231 case 1", SshMacKind.HmacSha256, Repeat(0x0b, 20), hiThere, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        yield return new TestCaseData("RFC 4231 case 2", SshMacKind.HmacSha256, jefe, s_jefeData, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        yield return new TestCaseData("RFC 4231 case 3", SshMacKind.HmacSha256, Repeat(0xaa, 20), Repeat(0xdd, 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
        yield return new TestCaseData("RFC 4231 case 4", SshMacKind.HmacSha256, case4Key, Repeat(0xcd, 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
        yield return new TestCaseData("RFC 4231 case 6", SshMacKind.HmacSha256, Repeat(0xaa, 131), s_case6Data, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
        yield return new TestCaseData("RFC 4231 case 7", SshMacKind.HmacSha256, Repeat(0xaa, 131), s_case7Data, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");

        yield return new TestCaseData("RFC 4231 case 1", SshMacKind.HmacSha512, Repeat(0x0b, 20), hiThere,
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
        yield return new TestCaseData("RFC 4231 case 2", SshMacKind.HmacSha512, jefe, s_jefeData,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
        yield return new TestCaseData("RFC 4231 case 3", SshMacKind.HmacSha512, Repeat(0xaa, 20), Repeat(0xdd, 50),
            "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb");
        yield return new TestCaseData("RFC 4231 case 4", SshMacKind.HmacSha512, case4Key, Repeat(0xcd, 50),
            "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd");
        yield return new TestCaseData("RFC 4231 case 6", SshMacKind.HmacSha512, Repeat(0xaa, 131), s_case6Data,
            "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598");
        yield return new TestCaseData("RFC 4231 case 7", SshMacKind.HmacSha512, Repeat(0xaa, 131), s_case7Data,
            "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58");

        yield return new TestCaseData("RFC 2202 case 1", SshMacKind.HmacSha1, Repeat(0x0b, 20), hiThere, "b617318655057264e28bc0b6fb378c8ef146be00");
        yield return new TestCaseData("RFC 2202 case 2", SshMacKind.HmacSha1, jefe, s_jefeData, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        yield return new TestCaseData("RFC 2202 case 3", SshMacKind.HmacSha1, Repeat(0xaa, 20), Repeat(0xdd, 50), "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
        yield return new TestCaseData("RFC 2202 case 6", SshMacKind.HmacSha1, Repeat(0xaa, 80), s_case6Data, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
    }

    /// <summary>
    /// SSH MACs seqnr || data: a published message m is fed as seqnr = BE32(m[0..4]) and data = m[4..] (in two
    /// parts), so the published MAC is exactly what our code must produce.
    /// </summary>
    [TestCaseSource(nameof(PublishedVectors))]
    public void Compute_PublishedVector_Matches(string vector, SshMacKind kind, byte[] key, byte[] message, string expected)
    {
        using var mac = new SshHmac(kind, key);
        uint sequence = BinaryPrimitives.ReadUInt32BigEndian(message);
        int split = 4 + ((message.Length - 4) / 2);
        byte[] output = new byte[mac.Size];
        mac.Compute(sequence, message.AsSpan(4, split - 4), message.AsSpan(split), output);
        Assert.That(Convert.ToHexString(output), Is.EqualTo(expected.ToUpperInvariant()), vector);

        // Twice: TryGetHashAndReset leaves the reused hash clean.
        mac.Compute(sequence, message.AsSpan(4), default, output);
        Assert.That(Convert.ToHexString(output), Is.EqualTo(expected.ToUpperInvariant()), vector + " (reused)");
        Assert.That(mac.Verify(sequence, message.AsSpan(4), default, Hex(expected)), Is.True);
        Assert.That(mac.Verify(sequence + 1, message.AsSpan(4), default, Hex(expected)), Is.False, "another sequence number");
    }

    /// <summary>
    /// The same vectors through an EtM opener: it authenticates seqnr || packet as received, so with packet =
    /// m[4..] and the published MAC as the tag, TryOpen must accept, and reject any single flipped tag bit.
    /// </summary>
    [TestCaseSource(nameof(PublishedVectors))]
    public void EtmOpener_PublishedVector_AcceptsExactlyThePublishedTag(string vector, SshMacKind kind, byte[] key, byte[] message, string expected)
    {
        using PacketOpener opener = CipherMacProtection.CreateOpener(new AesCtr(new byte[16], new byte[16]), new SshHmac(kind, key), etm: true);
        uint sequence = BinaryPrimitives.ReadUInt32BigEndian(message);
        byte[] packet = message[4..];
        byte[] tag = Hex(expected);
        byte[] destination = new byte[packet.Length - 4];
        Assert.That(opener.TryOpen(sequence, packet, tag, destination), Is.True, vector);

        for (int bit = 0; bit < tag.Length * 8; bit++)
        {
            byte[] bad = (byte[])tag.Clone();
            bad[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.That(opener.TryOpen(sequence, packet, bad, destination), Is.False, $"{vector}, tag bit {bit}");
        }
    }

    [Test]
    public void Verify_WrongTagLength_ReturnsFalse()
    {
        using var mac = new SshHmac(SshMacKind.HmacSha256, new byte[32]);
        byte[] tag = new byte[32];
        mac.Compute(1, [1, 2, 3], default, tag);
        Assert.That(mac.Verify(1, [1, 2, 3], default, tag), Is.True);
        Assert.That(mac.Verify(1, [1, 2, 3], default, tag.AsSpan(0, 31)), Is.False);
    }

    [Test]
    public void Compute_Repeated_AllocatesNothing()
    {
        using var mac = new SshHmac(SshMacKind.HmacSha512, new byte[64]);
        byte[] data = new byte[1000];
        byte[] output = new byte[64];
        static long Run(SshHmac mac, byte[] data, byte[] output)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (uint i = 0; i < 1000; i++)
            {
                mac.Compute(i, data, data, output);
                mac.Verify(i, data, data, output);
            }

            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        // The first run warms up (tiered compilation, on a busy machine, may charge this thread); the second counts.
        Run(mac, data, output);
        Assert.That(Run(mac, data, output), Is.Zero);
    }
}
