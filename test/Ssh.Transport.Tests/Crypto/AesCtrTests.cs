using Ssh.Transport.Crypto.Primitives;
using static Ssh.Transport.Tests.Crypto.AesTestSupport;

namespace Ssh.Transport.Tests.Crypto;

internal sealed class AesCtrTests
{
    private static readonly XorWidth[] s_widths = [XorWidth.Scalar, XorWidth.Vector128, XorWidth.Vector256, XorWidth.Vector512];

    // NIST SP 800-38A Appendix F.5: the four-block plaintext and initial counter common to F.5.1 - F.5.6.
    private const string Sp80038APlaintext =
        "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";

    private const string Sp80038ACounter = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

    private static IEnumerable<TestCaseData> Sp80038AVectors()
    {
        foreach (XorWidth width in s_widths)
        {
            yield return new TestCaseData("F.5.1 CTR-AES128", "2b7e151628aed2a6abf7158809cf4f3c",
                "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff 5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee", width);
            yield return new TestCaseData("F.5.3 CTR-AES192", "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
                "1abc932417521ca24f2b0459fe7e6e0b 090339ec0aa6faefd5ccc2c6f4ce8e94 1e36b26bd1ebc670d1bd1d665620abf7 4f78a7f6d29809585a97daec58c6b050", width);
            yield return new TestCaseData("F.5.5 CTR-AES256", "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
                "601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5 2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6", width);
        }
    }

    [TestCaseSource(nameof(Sp80038AVectors))]
    public void Transform_Sp80038AVector_MatchesCiphertext(string vector, string key, string ciphertext, XorWidth width)
    {
        using var ctr = new AesCtr(Hex(key), Hex(Sp80038ACounter)) { Width = width };
        byte[] data = Hex(Sp80038APlaintext);
        ctr.Transform(data, data);
        Assert.That(Convert.ToHexString(data), Is.EqualTo(Convert.ToHexString(Hex(ciphertext))), vector);
    }

    [TestCaseSource(nameof(Sp80038AVectors))]
    public void Transform_Sp80038AVectorInOddChunks_StreamContinues(string vector, string key, string ciphertext, XorWidth width)
    {
        // Decryption is the same operation (F.5.2, F.5.4, F.5.6); chunks of 1, 15, 17, 31 bytes and a batch of one
        // block make the keystream carry over between calls and batches.
        using var ctr = new AesCtr(Hex(key), Hex(Sp80038ACounter), batchBlocks: 1) { Width = width };
        byte[] data = Hex(ciphertext);
        int offset = 0;
        foreach (int chunk in new[] { 1, 15, 17, 31 })
        {
            ctr.Transform(data.AsSpan(offset, chunk), data.AsSpan(offset, chunk));
            offset += chunk;
        }

        Assert.That(Convert.ToHexString(data), Is.EqualTo(Convert.ToHexString(Hex(Sp80038APlaintext))), vector);
    }

    private static IEnumerable<TestCaseData> WidthsAndBatches()
    {
        foreach (XorWidth width in s_widths)
        {
            foreach (int batch in new[] { 1, 3, AesCtr.DefaultBatchBlocks })
            {
                yield return new TestCaseData(width, batch);
            }
        }
    }

    [TestCaseSource(nameof(WidthsAndBatches))]
    public void Transform_RandomStreamVersusBouncyCastle_Identical(XorWidth width, int batchBlocks)
    {
        var random = new Random(1000 + (int)width * 10 + batchBlocks);
        foreach (int keySize in new[] { 16, 24, 32 })
        {
            byte[] key = new byte[keySize];
            byte[] iv = new byte[16];
            random.NextBytes(key);
            random.NextBytes(iv);
            using var ours = new AesCtr(key, iv, batchBlocks) { Width = width };
            var reference = new BcCtrStream(key, iv);

            // Many sequential "packets" of random lengths, odd ones included, up to 256 KiB: one continuous stream.
            int[] lengths = [0, 1, 3, 16, 17, 63, 64, 65, 127, 255, 1000, 4095, 16384, 16385, 40001, 262144, 7, 262143];
            foreach (int length in lengths.Concat(Enumerable.Range(0, 40).Select(_ => random.Next(0, 3000))))
            {
                byte[] data = new byte[length];
                random.NextBytes(data);
                byte[] expected = (byte[])data.Clone();
                reference.Apply(expected);
                ours.Transform(data, data);
                Assert.That(data, Is.EqualTo(expected), $"key {keySize}, length {length}");
            }
        }
    }

    [TestCase("0001020304050607fffffffffffffff0", TestName = "Transform_LowHalfCarry_MatchesBouncyCastle")]
    [TestCase("fffffffffffffffffffffffffffffffd", TestName = "Transform_128BitWrap_MatchesBouncyCastle")]
    [TestCase("00000000ffffffffffffffffffffffff", TestName = "Transform_CarryAcrossWords_MatchesBouncyCastle")]
    [TestCase("0001020304050607fffffffffffff800", TestName = "Transform_CarryAfterTwoFullBatches_MatchesBouncyCastle")]
    [TestCase("0001020304050607fffffffffffff7fe", TestName = "Transform_CarryInsideThirdBatch_MatchesBouncyCastle")]
    public void Transform_CounterBoundary_MatchesBouncyCastle(string ivHex)
    {
        // RFC 4344 §4: the counter is one 128-bit big-endian integer, incremented mod 2^128. Batches before the
        // carry are written with vectors, the batch holding it by the scalar loop.
        byte[] key = Hex("000102030405060708090a0b0c0d0e0f");
        byte[] iv = Hex(ivHex);
        foreach (XorWidth width in s_widths)
        {
            foreach (int batch in new[] { 1, 2, 5, 64, AesCtr.DefaultBatchBlocks })
            {
                using var ours = new AesCtr(key, iv, batch) { Width = width };
                var reference = new BcCtrStream(key, iv);
                byte[] data = new byte[(3 * AesCtr.DefaultBatchBlocks * 16) + 5];
                byte[] expected = (byte[])data.Clone();
                reference.Apply(expected);
                ours.Transform(data, data);
                Assert.That(data, Is.EqualTo(expected), $"{width}, batch {batch}");
            }
        }
    }

    [Test]
    public void Transform_InPlaceAndOutOfPlace_SameOutput()
    {
        var random = new Random(7);
        byte[] key = new byte[32];
        byte[] iv = new byte[16];
        random.NextBytes(key);
        random.NextBytes(iv);
        using var a = new AesCtr(key, iv);
        using var b = new AesCtr(key, iv);
        byte[] source = new byte[5000];
        random.NextBytes(source);
        byte[] inPlace = (byte[])source.Clone();
        byte[] outOfPlace = new byte[source.Length];
        a.Transform(inPlace, inPlace);
        b.Transform(source, outOfPlace);
        Assert.That(inPlace, Is.EqualTo(outOfPlace));
    }

    [Test]
    public void Transform_PartialOverlap_Throws()
    {
        using var ctr = new AesCtr(new byte[16], new byte[16]);
        byte[] buffer = new byte[64];
        Assert.Throws<ArgumentException>(() => ctr.Transform(buffer.AsSpan(0, 32), buffer.AsSpan(1, 32)));
    }

    [Test]
    public void Xor_EveryWidthLengthAndAlignment_MatchesBytewiseXor()
    {
        var random = new Random(3);
        byte[] source = new byte[400];
        byte[] keystream = new byte[400];
        random.NextBytes(source);
        random.NextBytes(keystream);
        foreach (XorWidth width in s_widths)
        {
            for (int offset = 0; offset < 3; offset++)
            {
                for (int length = 0; length <= 300; length++)
                {
                    byte[] expected = new byte[length];
                    for (int i = 0; i < length; i++)
                    {
                        expected[i] = (byte)(source[offset + i] ^ keystream[i + 2 * offset]);
                    }

                    byte[] destination = new byte[length + 1];
                    AesCtr.Xor(source.AsSpan(offset, length), keystream.AsSpan(2 * offset, length), destination, width);
                    Assert.That(destination.AsSpan(0, length).ToArray(), Is.EqualTo(expected), $"{width}, offset {offset}, length {length}");
                    Assert.That(destination[length], Is.Zero, "wrote past the end");

                    byte[] inPlace = source.AsSpan(offset, length).ToArray();
                    AesCtr.Xor(inPlace, keystream.AsSpan(2 * offset, length), inPlace, width);
                    Assert.That(inPlace, Is.EqualTo(expected), $"{width} in place, length {length}");
                }
            }
        }
    }

    [Test]
    public void Constructor_BadSizes_Throw()
    {
        Assert.Throws<ArgumentException>(() => new AesCtr(new byte[15], new byte[16]));
        Assert.Throws<ArgumentException>(() => new AesCtr(new byte[16], new byte[12]));
    }

    [Test]
    public void Transform_ManyPackets_AllocatesNothing()
    {
        using var ctr = new AesCtr(new byte[16], new byte[16]);
        byte[] data = new byte[1500];
        ctr.Transform(data, data);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            ctr.Transform(data, data);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }
}
