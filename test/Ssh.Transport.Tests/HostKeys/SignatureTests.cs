using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using Ssh.Transport.HostKeys;

namespace Ssh.Transport.Tests.HostKeys;

/// <summary>Signing and verifying signature blobs: round trips and every way a blob can be wrong.</summary>
public class SignatureTests
{
    private static IEnumerable<TestCaseData> Algorithms() => HostKeyTestKeys.Algorithms();

    private static byte[] RandomData(int length = 32) => RandomNumberGenerator.GetBytes(length);

    [TestCaseSource(nameof(Algorithms))]
    public void Sign_Blob_IsNameThenSignatureAndVerifies(SshHostKeyType type, string algorithm)
    {
        SshPrivateKey key = HostKeyTestKeys.Get(type);
        byte[] data = RandomData();

        byte[] blob = HostKeyTestKeys.Sign(key, algorithm, data);

        var reader = new SshReader(blob);
        Assert.That(reader.ReadUtf8String(), Is.EqualTo(algorithm));
        int signatureLength = reader.ReadString().Length;
        Assert.That(reader.End, Is.True);
        int expected = type switch
        {
            SshHostKeyType.Ed25519 => 64,
            SshHostKeyType.Rsa => 256,
            _ => -1,
        };
        if (expected > 0)
        {
            Assert.That(signatureLength, Is.EqualTo(expected));
        }

        Assert.That(HostKeyTestKeys.Verify(key, algorithm, data, blob), Is.True);
        Assert.That(HostKeyTestKeys.Verify(key, algorithm, RandomData(), blob), Is.False, "other data");
    }

    [TestCaseSource(nameof(Algorithms))]
    public void Sign_AppendsToOutput_PreviousContentKept(SshHostKeyType type, string algorithm)
    {
        SshPrivateKey key = HostKeyTestKeys.Get(type);
        var output = new ArrayBufferWriter<byte>();
        output.Write("prefix"u8);

        key.Sign(algorithm, "H"u8, output, allowSha1: true);

        Assert.That(output.WrittenSpan[..6].SequenceEqual("prefix"u8), Is.True);
        Assert.That(HostKeyTestKeys.Verify(key, algorithm, "H"u8, output.WrittenSpan[6..]), Is.True);
    }

    [TestCaseSource(nameof(Algorithms))]
    public void VerifySignature_OtherKeyOfSameType_False(SshHostKeyType type, string algorithm)
    {
        using SshPrivateKey other = type == SshHostKeyType.Rsa ? SshPrivateKey.Generate(type, 2048) : SshPrivateKey.Generate(type);
        byte[] data = RandomData();
        byte[] blob = HostKeyTestKeys.Sign(other, algorithm, data);

        Assert.That(HostKeyTestKeys.Verify(HostKeyTestKeys.Get(type), algorithm, data, blob), Is.False);
    }

    [TestCaseSource(nameof(Algorithms))]
    public void VerifySignature_AnyBitFlipped_False(SshHostKeyType type, string algorithm)
    {
        SshPrivateKey key = HostKeyTestKeys.Get(type);
        byte[] data = RandomData();
        byte[] blob = HostKeyTestKeys.Sign(key, algorithm, data);

        for (int i = 0; i < blob.Length; i++)
        {
            int bit = i % 8;
            blob[i] ^= (byte)(1 << bit);
            Assert.That(HostKeyTestKeys.Verify(key, algorithm, data, blob), Is.False, $"byte {i} bit {bit}");
            blob[i] ^= (byte)(1 << bit);
        }

        Assert.That(HostKeyTestKeys.Verify(key, algorithm, data, blob), Is.True);
    }

    [TestCaseSource(nameof(Algorithms))]
    public void VerifySignature_TruncatedOrExtended_False(SshHostKeyType type, string algorithm)
    {
        SshPrivateKey key = HostKeyTestKeys.Get(type);
        byte[] data = RandomData();
        byte[] blob = HostKeyTestKeys.Sign(key, algorithm, data);

        for (int length = 0; length < blob.Length; length++)
        {
            Assert.That(HostKeyTestKeys.Verify(key, algorithm, data, blob.AsSpan(0, length)), Is.False, $"{length} bytes");
        }

        Assert.That(HostKeyTestKeys.Verify(key, algorithm, data, [.. blob, 0]), Is.False, "a trailing byte");
    }

    [TestCaseSource(nameof(Algorithms))]
    public void VerifySignature_InnerSignatureTruncatedWithConsistentLengths_False(SshHostKeyType type, string algorithm)
    {
        SshPrivateKey key = HostKeyTestKeys.Get(type);
        byte[] data = RandomData();
        var reader = new SshReader(HostKeyTestKeys.Sign(key, algorithm, data));
        reader.ReadString();
        byte[] signature = reader.ReadString().ToArray();

        for (int length = 0; length < signature.Length; length++)
        {
            byte[] blob = SignatureBlob(algorithm, signature.AsSpan(0, length));
            Assert.That(HostKeyTestKeys.Verify(key, algorithm, data, blob), Is.False, $"{length} bytes");
        }
    }

    [Test]
    public void VerifySignature_RsaNameInBlobDiffersFromNegotiated_False()
    {
        SshPrivateKey key = HostKeyTestKeys.Get(SshHostKeyType.Rsa);
        byte[] data = RandomData();
        string[] names = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
        foreach (string signedWith in names)
        {
            byte[] blob = HostKeyTestKeys.Sign(key, signedWith, data);
            foreach (string negotiated in names.Where(n => n != signedWith))
            {
                // The name says what the signature is; a blob renamed to the negotiated name must fail on the hash.
                Assert.That(HostKeyTestKeys.Verify(key, negotiated, data, blob), Is.False, $"{signedWith} blob, {negotiated} negotiated");
                byte[] renamed = Rename(blob, negotiated);
                Assert.That(HostKeyTestKeys.Verify(key, negotiated, data, renamed), Is.False, $"{signedWith} renamed {negotiated}");
            }
        }
    }

    [TestCase(SshHostKeyType.Ed25519, "ecdsa-sha2-nistp256")]
    [TestCase(SshHostKeyType.EcdsaNistP256, "ecdsa-sha2-nistp384")]
    [TestCase(SshHostKeyType.EcdsaNistP384, "ssh-ed25519")]
    [TestCase(SshHostKeyType.Rsa, "ssh-ed25519")]
    [TestCase(SshHostKeyType.Ed25519, "rsa-sha2-256")]
    [TestCase(SshHostKeyType.Ed25519, "ssh-ed448")]
    [TestCase(SshHostKeyType.Ed25519, "")]
    public void VerifySignature_AlgorithmNotForKeyType_False(SshHostKeyType type, string negotiated)
    {
        SshPrivateKey key = HostKeyTestKeys.Get(type);
        byte[] data = RandomData();
        byte[] blob = HostKeyTestKeys.Sign(key, key.SignatureAlgorithms[0], data);

        Assert.That(HostKeyTestKeys.Verify(key, negotiated, data, blob), Is.False);
        Assert.That(HostKeyTestKeys.Verify(key, negotiated, data, Rename(blob, negotiated)), Is.False);
    }

    [Test]
    public void SshRsa_Sha1_RefusedUnlessAllowed()
    {
        SshPrivateKey key = HostKeyTestKeys.Get(SshHostKeyType.Rsa);
        byte[] data = RandomData();
        var output = new ArrayBufferWriter<byte>();

        Assert.Throws<ArgumentException>(() => key.Sign("ssh-rsa", data, output));
        Assert.That(output.WrittenCount, Is.Zero);

        byte[] blob = HostKeyTestKeys.Sign(key, "ssh-rsa", data);
        Assert.That(key.PublicKey.VerifySignature("ssh-rsa", data, blob), Is.False);
        Assert.That(key.PublicKey.VerifySignature("ssh-rsa", data, blob, allowSha1: true), Is.True);
        Assert.That(key.SignatureAlgorithms, Is.EqualTo(new[] { "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa" }));
    }

    [Test]
    public void Sign_AlgorithmKeyCannotMake_ThrowsArgumentException()
    {
        var output = new ArrayBufferWriter<byte>();
        Assert.Throws<ArgumentException>(() => HostKeyTestKeys.Get(SshHostKeyType.Ed25519).Sign("rsa-sha2-256", "H"u8, output));
        Assert.Throws<ArgumentException>(() => HostKeyTestKeys.Get(SshHostKeyType.EcdsaNistP256).Sign("ecdsa-sha2-nistp384", "H"u8, output));
        Assert.Throws<ArgumentException>(() => HostKeyTestKeys.Get(SshHostKeyType.Rsa).Sign("ssh-ed25519", "H"u8, output));
        Assert.That(output.WrittenCount, Is.Zero);
    }

    [Test]
    public void VerifySignature_Ed25519SPlusGroupOrder_False()
    {
        // RFC 8032 §5.1.7: S must be below L. S + L passes a check done modulo L: the classic malleability.
        SshPrivateKey key = HostKeyTestKeys.Get(SshHostKeyType.Ed25519);
        byte[] data = RandomData();
        byte[] blob = HostKeyTestKeys.Sign(key, "ssh-ed25519", data);
        Span<byte> s = blob.AsSpan(blob.Length - 32);
        System.Numerics.BigInteger l = System.Numerics.BigInteger.Pow(2, 252) + System.Numerics.BigInteger.Parse("27742317777372353535851937790883648493");
        var value = new System.Numerics.BigInteger(s, isUnsigned: true, isBigEndian: false) + l;
        Assert.That(value.TryWriteBytes(s, out int written, isUnsigned: true, isBigEndian: false) && written <= 32, Is.True);

        Assert.That(HostKeyTestKeys.Verify(key, "ssh-ed25519", data, blob), Is.False);
    }

    [TestCase(SshHostKeyType.EcdsaNistP256)]
    [TestCase(SshHostKeyType.EcdsaNistP384)]
    [TestCase(SshHostKeyType.EcdsaNistP521)]
    public void VerifySignature_EcdsaScalarsOutOfRange_False(SshHostKeyType type)
    {
        SshPrivateKey key = HostKeyTestKeys.Get(type);
        string algorithm = key.KeyType;
        byte[] data = RandomData();
        var reader = new SshReader(HostKeyTestKeys.Sign(key, algorithm, data));
        reader.ReadString();
        var inner = new SshReader(reader.ReadString());
        byte[] r = inner.ReadUnsignedMPInt().ToArray();
        byte[] s = inner.ReadUnsignedMPInt().ToArray();
        var order = new System.Numerics.BigInteger(EcdsaCurve.FromKeyType(algorithm)!.Order, isUnsigned: true, isBigEndian: true);
        var sValue = new System.Numerics.BigInteger(s, isUnsigned: true, isBigEndian: true);
        byte[] Mag(System.Numerics.BigInteger v) => v.ToByteArray(isUnsigned: true, isBigEndian: true);

        Assert.That(Verify(r, s), Is.True, "the untouched signature");
        Assert.That(Verify(r, Mag(order - sValue)), Is.True, "(r, n - s) is valid ECDSA, and OpenSSH accepts it too");
        Assert.That(Verify([], s), Is.False, "r = 0");
        Assert.That(Verify(r, []), Is.False, "s = 0");
        Assert.That(Verify(Mag(order), s), Is.False, "r = n");
        Assert.That(Verify(r, Mag(order + sValue)), Is.False, "s + n");
        Assert.That(Verify(r, [0x01, .. new byte[80]]), Is.False, "s longer than the field");

        // A negative mpint (top bit set, no zero byte) is malformed.
        var negative = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(negative);
        writer.WriteUnsignedMPInt(r);
        writer.WriteString([0x80, .. s]);
        Assert.That(HostKeyTestKeys.Verify(key, algorithm, data, SignatureBlob(algorithm, negative.WrittenSpan)), Is.False, "negative s");

        bool Verify(byte[] rr, byte[] ss)
        {
            var output = new ArrayBufferWriter<byte>();
            var w = new SshWriter(output);
            w.WriteUnsignedMPInt(rr);
            w.WriteUnsignedMPInt(ss);
            return HostKeyTestKeys.Verify(key, algorithm, data, SignatureBlob(algorithm, output.WrittenSpan));
        }
    }

    [Test]
    public void VerifySignature_RsaSignatureWithoutLeadingZero_AcceptedLikeOpenSsh()
    {
        // About one signature in 256 starts with a zero byte; some peers send it shortened. Find one.
        SshPrivateKey key = HostKeyTestKeys.Get(SshHostKeyType.Rsa);
        for (int attempt = 0; attempt < 4096; attempt++)
        {
            byte[] data = BitConverter.GetBytes(attempt);
            var reader = new SshReader(HostKeyTestKeys.Sign(key, "rsa-sha2-256", data));
            reader.ReadString();
            ReadOnlySpan<byte> signature = reader.ReadString();
            if (signature[0] != 0)
            {
                continue;
            }

            Assert.That(HostKeyTestKeys.Verify(key, "rsa-sha2-256", data, SignatureBlob("rsa-sha2-256", signature[1..])), Is.True);
            Assert.That(HostKeyTestKeys.Verify(key, "rsa-sha2-256", data, SignatureBlob("rsa-sha2-256", [0, .. signature])), Is.False, "longer than the modulus");
            return;
        }

        Assert.Fail("No signature with a leading zero byte in 4096 tries.");
    }

    [Test]
    public void VerifySignature_Garbage_FalseAndNoOtherException()
    {
        var random = new Random(4253);
        foreach (SshHostKeyType type in Enum.GetValues<SshHostKeyType>())
        {
            SshPrivateKey key = HostKeyTestKeys.Get(type);
            for (int i = 0; i < 200; i++)
            {
                byte[] garbage = new byte[random.Next(0, 600)];
                random.NextBytes(garbage);
                if (i % 2 == 0)
                {
                    // A well-formed outer blob with the right name and random contents.
                    garbage = SignatureBlob(key.SignatureAlgorithms[0], garbage);
                }

                Assert.That(key.PublicKey.VerifySignature(key.SignatureAlgorithms[0], "H"u8, garbage), Is.False);
            }
        }
    }

    [Test]
    public void Sign_ManyThreadsOneKey_AllSignaturesValid()
    {
        foreach (SshHostKeyType type in Enum.GetValues<SshHostKeyType>())
        {
            SshPrivateKey key = HostKeyTestKeys.Get(type);
            string algorithm = key.SignatureAlgorithms[0];
            bool[] results = new bool[64];
            Parallel.For(0, results.Length, i =>
            {
                byte[] data = BitConverter.GetBytes(i);
                results[i] = HostKeyTestKeys.Verify(key, algorithm, data, HostKeyTestKeys.Sign(key, algorithm, data));
            });
            Assert.That(results, Is.All.True, type.ToString());
        }
    }

    [Test]
    public void Dispose_ThenSignOrExport_ThrowsObjectDisposed()
    {
        SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        SshPublicKey publicKey = key.PublicKey;
        key.Dispose();
        key.Dispose();

        Assert.Throws<ObjectDisposedException>(() => key.Sign("ssh-ed25519", "H"u8, new ArrayBufferWriter<byte>()));
        Assert.Throws<ObjectDisposedException>(() => key.ExportOpenSsh());
        Assert.Throws<ObjectDisposedException>(() =>
        {
            var writer = new SshWriter(new ArrayBufferWriter<byte>());
            key.WriteSignature(ref writer, "ssh-ed25519", "H"u8);
        });
        Assert.That(key.PublicKey, Is.EqualTo(publicKey), "the public half stays usable");
    }

    [Test]
    public void Dispose_Ed25519_SeedZeroed()
    {
        SshPrivateKey key = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        object inner = typeof(SshPrivateKey).GetField("_key", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(key)!;
        byte[] seed = (byte[])inner.GetType().GetField("_seed", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(inner)!;
        Assert.That(seed, Has.Some.Not.Zero);

        key.Dispose();

        Assert.That(seed, Is.All.Zero);
    }

    [TestCaseSource(nameof(Algorithms))]
    public void Sign_ReturnsTheBlobLength(SshHostKeyType type, string algorithm)
    {
        SshPrivateKey key = HostKeyTestKeys.Get(type);
        var output = new ArrayBufferWriter<byte>();
        output.Write("xyz"u8);

        int written = key.Sign(algorithm, "H"u8, output, allowSha1: true);

        Assert.That(written, Is.EqualTo(output.WrittenCount - 3));
        var reader = new SshReader(output.WrittenSpan[3..]);
        reader.ReadString();
        reader.ReadString();
        Assert.That(reader.End, Is.True);
    }

    [Test]
    public void Sign_AlgorithmKeyCannotMake_MessageNamesTheAlgorithmsItCan()
    {
        var e = Assert.Throws<ArgumentException>(() => HostKeyTestKeys.Get(SshHostKeyType.Rsa).Sign("ssh-ed25519", "H"u8, new ArrayBufferWriter<byte>()));
        Assert.That(e!.Message, Does.Contain("'ssh-ed25519'").And.Contain("rsa-sha2-512, rsa-sha2-256, ssh-rsa"));
        Assert.That(e.ParamName, Is.EqualTo("signatureAlgorithm"));

        e = Assert.Throws<ArgumentException>(() => HostKeyTestKeys.Get(SshHostKeyType.EcdsaNistP384).Sign("rsa-sha2-256", "H"u8, new ArrayBufferWriter<byte>()));
        Assert.That(e!.Message, Does.Contain("ecdsa-sha2-nistp384"));

        e = Assert.Throws<ArgumentException>(() => HostKeyTestKeys.Get(SshHostKeyType.Rsa).Sign("ssh-rsa", "H"u8, new ArrayBufferWriter<byte>()));
        Assert.That(e!.Message, Does.Contain("SHA-1"));
        Assert.Throws<ArgumentNullException>(() => HostKeyTestKeys.Get(SshHostKeyType.Rsa).Sign(null!, "H"u8, new ArrayBufferWriter<byte>()));
        Assert.Throws<ArgumentNullException>(() => HostKeyTestKeys.Get(SshHostKeyType.Rsa).Sign("rsa-sha2-256", "H"u8, null!));
    }

    [TestCaseSource(nameof(Algorithms))]
    public void VerifySignature_AlgorithmFromBlob_RoundTripAndTamperedFalse(SshHostKeyType type, string algorithm)
    {
        SshPrivateKey key = HostKeyTestKeys.Get(type);
        byte[] data = RandomData();
        byte[] blob = HostKeyTestKeys.Sign(key, algorithm, data);
        bool sha1 = algorithm == "ssh-rsa";

        Assert.That(key.PublicKey.VerifySignature(data, blob, allowSha1: true), Is.True);
        Assert.That(key.PublicKey.VerifySignature(data, blob), Is.EqualTo(!sha1), "ssh-rsa (SHA-1) refused unless allowed");
        Assert.That(key.PublicKey.VerifySignature(RandomData(), blob, allowSha1: true), Is.False, "other data");
        for (int i = 0; i < blob.Length; i += 3)
        {
            blob[i] ^= 0x10;
            Assert.That(key.PublicKey.VerifySignature(data, blob, allowSha1: true), Is.False, $"byte {i}");
            blob[i] ^= 0x10;
        }

        for (int length = 0; length < blob.Length; length += 5)
        {
            Assert.That(key.PublicKey.VerifySignature(data, blob.AsSpan(0, length), allowSha1: true), Is.False, $"{length} bytes");
        }

        Assert.That(key.PublicKey.VerifySignature(data, [.. blob, 0], allowSha1: true), Is.False, "a trailing byte");
    }

    [TestCase(SshHostKeyType.Ed25519, "ecdsa-sha2-nistp256")]
    [TestCase(SshHostKeyType.EcdsaNistP256, "ecdsa-sha2-nistp384")]
    [TestCase(SshHostKeyType.EcdsaNistP521, "ssh-ed25519")]
    [TestCase(SshHostKeyType.Rsa, "ssh-ed25519")]
    [TestCase(SshHostKeyType.Ed25519, "rsa-sha2-512")]
    [TestCase(SshHostKeyType.Ed25519, "ssh-ed448")]
    [TestCase(SshHostKeyType.Rsa, "rsa-sha2-384")]
    [TestCase(SshHostKeyType.Rsa, "RSA-SHA2-256")]
    [TestCase(SshHostKeyType.Ed25519, "")]
    public void VerifySignature_AlgorithmFromBlob_NotForKeyTypeOrUnknown_False(SshHostKeyType type, string blobName)
    {
        SshPrivateKey key = HostKeyTestKeys.Get(type);
        byte[] data = RandomData();
        byte[] blob = Rename(HostKeyTestKeys.Sign(key, key.SignatureAlgorithms[0], data), blobName);

        Assert.That(key.PublicKey.VerifySignature(data, blob, allowSha1: true), Is.False);
    }

    [Test]
    public void VerifySignature_RsaBlobNamesAnotherRsaAlgorithmThanTheRequest_False()
    {
        // RFC 4252 §7: the algorithm of the request and of the signature blob must be the same, even when both suit.
        SshPrivateKey key = HostKeyTestKeys.Get(SshHostKeyType.Rsa);
        byte[] data = RandomData();
        byte[] blob = HostKeyTestKeys.Sign(key, "rsa-sha2-256", data);

        Assert.That(key.PublicKey.VerifySignature("rsa-sha2-256", data, blob), Is.True);
        Assert.That(key.PublicKey.VerifySignature("rsa-sha2-512", data, blob), Is.False);
        Assert.That(key.PublicKey.VerifySignature("ssh-rsa", data, blob, allowSha1: true), Is.False);
        Assert.That(key.PublicKey.VerifySignature(data, blob), Is.True, "no request: the blob's own name decides");
        Assert.Throws<ArgumentNullException>(() => key.PublicKey.VerifySignature(null!, data, blob));
    }

    [Test]
    public void VerifySignature_AlgorithmFromBlob_Garbage_FalseAndNoOtherException()
    {
        var random = new Random(4252);
        foreach (SshHostKeyType type in Enum.GetValues<SshHostKeyType>())
        {
            SshPrivateKey key = HostKeyTestKeys.Get(type);
            for (int i = 0; i < 200; i++)
            {
                byte[] garbage = new byte[random.Next(0, 600)];
                random.NextBytes(garbage);
                if (i % 2 == 0)
                {
                    garbage = SignatureBlob(key.SignatureAlgorithms[i / 2 % key.SignatureAlgorithms.Count], garbage);
                }
                else if (i % 3 == 0 && garbage.Length >= 4)
                {
                    // A huge declared length.
                    garbage[0] = 0xFF;
                }

                Assert.That(key.PublicKey.VerifySignature("H"u8, garbage, allowSha1: true), Is.False);
            }
        }
    }

    [TestCaseSource(nameof(Algorithms))]
    public void WriteSignature_StringOfTheBlob_InPlace(SshHostKeyType type, string algorithm)
    {
        SshPrivateKey key = HostKeyTestKeys.Get(type);
        byte[] data = RandomData();
        var output = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(output);
        writer.WriteByte(50);
        key.WriteSignature(ref writer, algorithm, data, allowSha1: true);
        writer.WriteByte(0xEE);

        var reader = new SshReader(output.WrittenSpan);
        Assert.That(reader.ReadByte(), Is.EqualTo(50));
        ReadOnlySpan<byte> blob = reader.ReadString();
        Assert.That(reader.ReadByte(), Is.EqualTo(0xEE));
        Assert.That(reader.End, Is.True);
        Assert.That(writer.BytesWritten, Is.EqualTo(output.WrittenCount));
        Assert.That(new SshReader(blob).ReadUtf8String(), Is.EqualTo(algorithm));
        Assert.That(key.PublicKey.VerifySignature(algorithm, data, blob, allowSha1: true), Is.True);

        if (type is SshHostKeyType.Ed25519 or SshHostKeyType.Rsa)
        {
            // Deterministic signatures: byte for byte the blob of Sign.
            Assert.That(blob.ToArray(), Is.EqualTo(HostKeyTestKeys.Sign(key, algorithm, data)));
        }
    }

    [Test]
    public void WriteSignature_IntoExactlySizedSpan_FitsAndVerifies()
    {
        SshPrivateKey key = HostKeyTestKeys.Get(SshHostKeyType.Ed25519);
        byte[] buffer = new byte[4 + 4 + 11 + 4 + 64];
        var writer = new SshWriter(buffer);
        key.WriteSignature(ref writer, "ssh-ed25519", "H"u8);

        Assert.That(writer.BytesWritten, Is.EqualTo(buffer.Length));
        Assert.That(key.PublicKey.VerifySignature("H"u8, new SshReader(buffer).ReadString()), Is.True);
    }

    [Test]
    public void WriteSignature_Refused_NothingWritten()
    {
        SshPrivateKey key = HostKeyTestKeys.Get(SshHostKeyType.Rsa);
        var output = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(output);

        try
        {
            key.WriteSignature(ref writer, "ssh-rsa", "H"u8);
            Assert.Fail("SHA-1 signed without being allowed");
        }
        catch (ArgumentException)
        {
        }

        try
        {
            key.WriteSignature(ref writer, "ecdsa-sha2-nistp256", "H"u8);
            Assert.Fail("signed with an algorithm of another key type");
        }
        catch (ArgumentException e)
        {
            Assert.That(e.Message, Does.Contain("rsa-sha2-512"));
        }

        Assert.That(output.WrittenCount, Is.Zero);
        Assert.That(writer.BytesWritten, Is.Zero);
    }

    private static byte[] SignatureBlob(string name, ReadOnlySpan<byte> signature)
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(output);
        writer.WriteString(name);
        writer.WriteString(signature);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] Rename(byte[] blob, string name)
    {
        var reader = new SshReader(blob);
        reader.ReadString();
        return SignatureBlob(name, reader.ReadString());
    }
}
