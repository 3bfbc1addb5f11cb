using System.Buffers.Binary;
using System.Text;
using Ssh.Transport.Crypto.Primitives;

namespace Ssh.Transport.Tests.Crypto;

/// <summary>
/// The RFC 8439 §2.8 AEAD built from our two primitives, checked against the RFC's vectors and the BCL: proves the
/// primitives compose (key generation from block 0, payload from counter 1) as the SSH construction needs.
/// </summary>
[NonParallelizable]
public class ChaCha20Poly1305Rfc8439Tests
{
    private static IEnumerable<TestPath> Paths => ForcedPath.All;

    // RFC 8439 §2.8.2.
    [TestCaseSource(nameof(Paths))]
    public void Seal_Section282_MatchesPublishedVector(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        byte[] key = TestBytes.Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        byte[] nonce = TestBytes.Hex("07000000" + "4041424344454647");
        byte[] aad = TestBytes.Hex("50515253c0c1c2c3c4c5c6c7");
        byte[] plaintext = Encoding.ASCII.GetBytes(ChaCha20Tests.Sunscreen);
        byte[] expectedCiphertext = TestBytes.Hex(
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b" +
            "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
            "3ff4def08e4b7a9de576d26586cec64b6116");
        byte[] expectedTag = TestBytes.Hex("1ae10b594f09e26a7e902ecbd0600691");

        byte[] ciphertext = new byte[plaintext.Length];
        byte[] tag = new byte[16];
        Seal(key, nonce, aad, plaintext, ciphertext, tag);

        Assert.That(ciphertext, Is.EqualTo(expectedCiphertext));
        Assert.That(tag, Is.EqualTo(expectedTag));
    }

    // RFC 8439 Appendix A.5.
    [TestCaseSource(nameof(Paths))]
    public void Open_AppendixA5_MatchesPublishedVector(TestPath path)
    {
        using var forced = ForcedPath.Use(path);
        byte[] key = TestBytes.Hex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
        byte[] nonce = TestBytes.Hex("000000000102030405060708");
        byte[] aad = TestBytes.Hex("f33388860000000000004e91");
        byte[] ciphertext = TestBytes.Hex(
            "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e382d26b0" +
            "bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855" +
            "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4b9166c767b804d46a59b5216cde7a4e9" +
            "9040c5a40433225ee282a1b0a06c523eaf4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a" +
            "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a1049e617d91d361094fa68f0ff77987130" +
            "305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b02709b");
        byte[] receivedTag = TestBytes.Hex("eead9d67890cbb22392336fea1851f38");
        byte[] expectedPlaintext = Encoding.UTF8.GetBytes(
            "Internet-Drafts are draft documents valid for a maximum of six months and may be updated, replaced, " +
            "or obsoleted by other documents at any time. It is inappropriate to use Internet-Drafts as reference " +
            "material or to cite them other than as /\u201cwork in progress./\u201d");
        Assert.That(expectedPlaintext, Has.Length.EqualTo(ciphertext.Length));

        byte[] polyKey = new byte[64];
        ChaCha20.BlockRfc8439(key, nonce, 0, polyKey);
        Assert.That(Poly1305.Verify(polyKey.AsSpan(0, 32), MacData(aad, ciphertext), receivedTag), Is.True);

        byte[] plaintext = new byte[ciphertext.Length];
        ChaCha20.XorRfc8439(key, nonce, 1, ciphertext, plaintext);
        Assert.That(plaintext, Is.EqualTo(expectedPlaintext));
    }

    /// <summary>The same composition against the BCL's AEAD_CHACHA20_POLY1305 (OpenSSL) on random inputs.</summary>
    [TestCaseSource(nameof(Paths))]
    public void Seal_RandomInputs_MatchesBclChaCha20Poly1305(TestPath path)
    {
        Assume.That(System.Security.Cryptography.ChaCha20Poly1305.IsSupported, Is.True);
        using var forced = ForcedPath.Use(path);
        var random = new Random(282 + (int)path);
        foreach (int length in TestBytes.InterestingLengths(random, 8))
        {
            byte[] key = TestBytes.Random(random, 32);
            byte[] nonce = TestBytes.Random(random, 12);
            byte[] aad = TestBytes.Random(random, random.Next(0, 40));
            byte[] plaintext = TestBytes.Random(random, length);

            byte[] expectedCiphertext = new byte[length];
            byte[] expectedTag = new byte[16];
            using (var bcl = new System.Security.Cryptography.ChaCha20Poly1305(key))
            {
                bcl.Encrypt(nonce, plaintext, expectedCiphertext, expectedTag, aad);
            }

            byte[] ciphertext = new byte[length];
            byte[] tag = new byte[16];
            Seal(key, nonce, aad, plaintext, ciphertext, tag);
            TestBytes.AssertEqual(ciphertext, expectedCiphertext, $"length {length}");
            Assert.That(tag, Is.EqualTo(expectedTag), $"length {length}");
        }
    }

    /// <summary>RFC 8439 §2.8: key from block 0, ciphertext from counter 1, tag over aad || pad || ct || pad || lengths.</summary>
    private static void Seal(byte[] key, byte[] nonce, byte[] aad, byte[] plaintext, byte[] ciphertext, byte[] tag)
    {
        byte[] polyKey = new byte[64];
        ChaCha20.BlockRfc8439(key, nonce, 0, polyKey);
        ChaCha20.XorRfc8439(key, nonce, 1, plaintext, ciphertext);
        Poly1305.ComputeTag(polyKey.AsSpan(0, 32), MacData(aad, ciphertext), tag);
    }

    private static byte[] MacData(byte[] aad, byte[] ciphertext)
    {
        int aadPadded = (aad.Length + 15) / 16 * 16;
        int ciphertextPadded = (ciphertext.Length + 15) / 16 * 16;
        byte[] data = new byte[aadPadded + ciphertextPadded + 16];
        aad.CopyTo(data, 0);
        ciphertext.CopyTo(data, aadPadded);
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(aadPadded + ciphertextPadded), (ulong)aad.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(aadPadded + ciphertextPadded + 8), (ulong)ciphertext.Length);
        return data;
    }
}
