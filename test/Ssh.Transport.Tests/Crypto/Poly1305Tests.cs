using System.Text;
using Org.BouncyCastle.Crypto.Parameters;
using Ssh.Transport.Crypto.Primitives;
using BcPoly1305 = Org.BouncyCastle.Crypto.Macs.Poly1305;

namespace Ssh.Transport.Tests.Crypto;

[NonParallelizable]
public class Poly1305Tests
{
    private static IEnumerable<TestPath> Paths => ForcedPath.All;

    private static IEnumerable<TestCaseData> PublishedVectors()
    {
        byte[] ietf = Encoding.ASCII.GetBytes(ChaCha20Tests.IetfText);

        // RFC 8439 §2.5.2.
        yield return new TestCaseData(
            "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
            Encoding.ASCII.GetBytes("Cryptographic Forum Research Group"),
            "a8061dc1305136c6c22b8baf0c0127a9").SetArgDisplayNames("2.5.2");

        // RFC 8439 Appendix A.3, test vectors #1-#11 (#5-#11 probe the reduction's edge cases).
        yield return new TestCaseData(new string('0', 64), new byte[64], new string('0', 32)).SetArgDisplayNames("A.3 #1");
        yield return new TestCaseData(
            "0000000000000000000000000000000036e5f6b5c5e06070f0efca96227a863e", ietf,
            "36e5f6b5c5e06070f0efca96227a863e").SetArgDisplayNames("A.3 #2");
        yield return new TestCaseData(
            "36e5f6b5c5e06070f0efca96227a863e00000000000000000000000000000000", ietf,
            "f3477e7cd95417af89a6b8794c310cf0").SetArgDisplayNames("A.3 #3");
        yield return new TestCaseData(
            "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0", Encoding.ASCII.GetBytes(ChaCha20Tests.Jabberwocky),
            "4541669a7eaaee61e708dc7cbcc5eb62").SetArgDisplayNames("A.3 #4");
        yield return Edge("#5", "02", "00", "ffffffffffffffffffffffffffffffff", "03");
        yield return Edge("#6", "02", "ffffffffffffffffffffffffffffffff", "02000000000000000000000000000000", "03");
        yield return Edge("#7", "01", "00",
            "ffffffffffffffffffffffffffffffff" + "f0ffffffffffffffffffffffffffffff" + "11000000000000000000000000000000", "05");
        yield return Edge("#8", "01", "00",
            "ffffffffffffffffffffffffffffffff" + "fbfefefefefefefefefefefefefefefe" + "01010101010101010101010101010101", "00");
        yield return Edge("#9", "02", "00", "fdffffffffffffffffffffffffffffff", "faffffffffffffffffffffffffffffff");
        yield return Edge("#10", "0100000000000000" + "04", "00",
            "e33594d7505e43b90000000000000000" + "3394d7505e4379cd0100000000000000" + "00000000000000000000000000000000" +
            "01000000000000000000000000000000",
            "1400000000000000" + "55");
        yield return Edge("#11", "0100000000000000" + "04", "00",
            "e33594d7505e43b90000000000000000" + "3394d7505e4379cd0100000000000000" + "00000000000000000000000000000000",
            "13");

        static TestCaseData Edge(string name, string r, string s, string data, string tag) =>
            new TestCaseData(r.PadRight(32, '0') + s.PadRight(32, '0'), TestBytes.Hex(data), tag.PadRight(32, '0'))
                .SetArgDisplayNames("A.3 " + name);
    }

    [TestCaseSource(nameof(PublishedVectors))]
    public void ComputeTag_Rfc8439Vector_MatchesPublishedTag(string keyHex, byte[] message, string tagHex)
    {
        byte[] key = TestBytes.Hex(keyHex);
        byte[] expected = TestBytes.Hex(tagHex);
        foreach (TestPath path in Paths.Where(ForcedPath.IsSupported))
        {
            using var forced = ForcedPath.Use(path);
            byte[] tag = new byte[16];
            Poly1305.ComputeTag(key, message, tag);
            Assert.That(tag, Is.EqualTo(expected), $"path {path}");
            Assert.That(Poly1305.Verify(key, message, expected), Is.True, $"path {path}");
        }
    }

    [TestCaseSource(nameof(Paths))]
    public void ComputeTag_RandomInputs_MatchesBouncyCastle(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        var random = new Random(1305 + (int)path);
        var lengths = Enumerable.Range(0, 300).Concat(TestBytes.InterestingLengths(random, 40));
        foreach (int length in lengths)
        {
            byte[] key = TestBytes.Random(random, 32);
            byte[] message = TestBytes.Random(random, length);
            if (length % 5 == 0)
            {
                // All-ones data pushes limbs and carries to their largest values.
                message.AsSpan().Fill(0xff);
                key.AsSpan(16).Fill(0xff);
            }

            if (length % 3 == 0)
            {
                // The largest r that clamping allows.
                key.AsSpan(0, 16).Fill(0xff);
            }

            byte[] expected = BouncyCastleTag(key, message);
            byte[] actual = new byte[16];
            Poly1305.ComputeTag(key, message, actual);
            Assert.That(actual, Is.EqualTo(expected), $"length {length}");
        }
    }

    [Test]
    public void Path_DefaultsToTheBestChaCha20Path()
    {
        Assert.That(Poly1305.Path, Is.EqualTo(ChaCha20.BestPath));
    }

    [TestCaseSource(nameof(Paths))]
    public void ComputeTag_EveryPathAgreesWithScalar(TestPath path)
    {
        var random = new Random(31);
        byte[] key = TestBytes.Random(random, 32);
        byte[] message = TestBytes.Random(random, 5000);
        byte[][] scalar = new byte[message.Length + 1][];
        using (ForcedPath.Use(TestPath.Scalar))
        {
            for (int length = 0; length <= message.Length; length++)
            {
                scalar[length] = new byte[16];
                Poly1305.ComputeTag(key, message.AsSpan(0, length), scalar[length]);
            }
        }

        using var forced = ForcedPath.Use(path);
        byte[] tag = new byte[16];
        for (int length = 0; length <= message.Length; length++)
        {
            Poly1305.ComputeTag(key, message.AsSpan(0, length), tag);
            TestBytes.AssertEqual(tag, scalar[length], $"length {length}");
        }
    }

    [Test]
    public void Verify_AnyBitFlippedInTag_ReturnsFalse()
    {
        var random = new Random(7);
        byte[] key = TestBytes.Random(random, 32);
        byte[] message = TestBytes.Random(random, 100);
        byte[] tag = new byte[16];
        Poly1305.ComputeTag(key, message, tag);
        Assert.That(Poly1305.Verify(key, message, tag), Is.True);
        for (int bit = 0; bit < 128; bit++)
        {
            tag[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.That(Poly1305.Verify(key, message, tag), Is.False, $"bit {bit}");
            tag[bit / 8] ^= (byte)(1 << (bit % 8));
        }

        Assert.That(Poly1305.Verify(key, message, tag.AsSpan(0, 15)), Is.False, "short tag");
    }

    [Test]
    public void ComputeTag_WrongSizes_Throw()
    {
        Assert.That(() => Poly1305.ComputeTag(new byte[31], [], new byte[16]), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => Poly1305.ComputeTag(new byte[32], [], new byte[15]), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    internal static byte[] BouncyCastleTag(byte[] key, byte[] message)
    {
        var mac = new BcPoly1305();
        mac.Init(new KeyParameter(key));
        mac.BlockUpdate(message, 0, message.Length);
        byte[] tag = new byte[16];
        mac.DoFinal(tag, 0);
        return tag;
    }
}
