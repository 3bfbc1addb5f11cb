using System.Buffers;
using System.Numerics;

namespace Ssh.Transport.Tests.HostKeys;

/// <summary>Public key blobs: parsing, text form, equality, and every kind of invalid blob.</summary>
public class SshPublicKeyTests
{
    // RFC 8032 §7.1, test 1: the public key of the all-known secret key.
    private const string Rfc8032PublicKey = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    private static byte[] Blob(Action<SshWriter> write)
    {
        var output = new ArrayBufferWriter<byte>();
        write(new SshWriter(output));
        return output.WrittenSpan.ToArray();
    }

    private static byte[] Ed25519Blob(byte[] key) => Blob(w =>
    {
        w.WriteString("ssh-ed25519");
        w.WriteString(key);
    });

    [Test]
    public void FromBlob_Ed25519_TypeSizeTextAndFingerprint()
    {
        byte[] blob = Ed25519Blob(Convert.FromHexString(Rfc8032PublicKey));

        SshPublicKey key = SshPublicKey.FromBlob(blob);

        Assert.That(key.KeyType, Is.EqualTo("ssh-ed25519"));
        Assert.That(key.KeySize, Is.EqualTo(256));
        Assert.That(key.Blob.ToArray(), Is.EqualTo(blob));
        Assert.That(key.ToString(), Is.EqualTo("ssh-ed25519 " + Convert.ToBase64String(blob)));
        Assert.That(key.GetFingerprint(), Does.StartWith("SHA256:").And.Not.EndWith("="));
        Assert.That(key.GetFingerprint(), Has.Length.EqualTo(7 + 43));
        Assert.That(key.GetMd5Fingerprint(), Does.Match("^MD5:([0-9a-f]{2}:){15}[0-9a-f]{2}$"));
    }

    [Test]
    public void Parse_LineWithCommentAndTabs_SameAsFromBlob()
    {
        SshPublicKey key = HostKeyTestKeys.Get(SshHostKeyType.EcdsaNistP256).PublicKey;

        Assert.That(SshPublicKey.Parse(key.ToString()), Is.EqualTo(key));
        Assert.That(SshPublicKey.Parse("  " + key.ToString().Replace(' ', '\t') + " user@host with spaces\r\n"), Is.EqualTo(key));
    }

    [Test]
    public void Equals_SameAndDifferentKeys()
    {
        SshPublicKey a = HostKeyTestKeys.Get(SshHostKeyType.Ed25519).PublicKey;
        SshPublicKey b = SshPublicKey.FromBlob(a.Blob.Span);
        SshPublicKey c = HostKeyTestKeys.Get(SshHostKeyType.EcdsaNistP256).PublicKey;

        Assert.That(new HashSet<SshPublicKey> { a, b, c }, Has.Count.EqualTo(2));
        Assert.That(a == b, Is.True);
        Assert.That(a.Equals((object)b), Is.True);
        Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));
        Assert.That(a != c, Is.True);
        Assert.That(a.Equals(null), Is.False);
    }

    [TestCase("ssh-ed25519")]
    [TestCase("ssh-ed25519 AAAA$$$")]
    [TestCase("ecdsa-sha2-nistp256 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea")]
    [TestCase("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1E=")]
    public void Parse_Malformed_ThrowsFormatException(string line)
    {
        Assert.Throws<FormatException>(() => SshPublicKey.Parse(line));
    }

    [Test]
    public void Parse_Rfc8032Key_Accepted()
    {
        SshPublicKey key = SshPublicKey.Parse("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea test");
        Assert.That(Convert.ToHexStringLower(key.Blob.Span[^32..]), Is.EqualTo(Rfc8032PublicKey));
    }

    [Test]
    public void FromBlob_Truncated_ThrowsSshProtocolException()
    {
        foreach (SshHostKeyType type in Enum.GetValues<SshHostKeyType>())
        {
            byte[] blob = HostKeyTestKeys.Get(type).PublicKey.Blob.ToArray();
            for (int length = 0; length < blob.Length; length++)
            {
                Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(blob.AsSpan(0, length)), $"{type} {length}");
            }

            Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob([.. blob, 0]), $"{type} trailing byte");
        }
    }

    [Test]
    public void FromBlob_UnsupportedType_ThrowsSshProtocolException()
    {
        byte[] dss = Blob(w =>
        {
            w.WriteString("ssh-dss");
            w.WriteUnsignedMPInt([1]);
        });
        var e = Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(dss));
        Assert.That(e!.Message, Does.Contain("ssh-dss"));
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Blob(w => w.WriteString("ecdsa-sha2-nistp192"))));
    }

    [TestCase("0100000000000000000000000000000000000000000000000000000000000000", TestName = "FromBlob_Ed25519Identity_Rejected")]
    [TestCase("0000000000000000000000000000000000000000000000000000000000000000", TestName = "FromBlob_Ed25519SmallOrder_Rejected")]
    [TestCase("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", TestName = "FromBlob_Ed25519NonCanonical_Rejected")]
    [TestCase("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f70751", TestName = "FromBlob_Ed25519Short_Rejected")]
    public void FromBlob_InvalidEd25519_ThrowsSshProtocolException(string hex)
    {
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Ed25519Blob(Convert.FromHexString(hex))));
    }

    [Test]
    public void FromBlob_InvalidEcdsa_ThrowsSshProtocolException()
    {
        byte[] good = HostKeyTestKeys.Get(SshHostKeyType.EcdsaNistP256).PublicKey.Blob.ToArray();
        var reader = new SshReader(good);
        reader.ReadString();
        reader.ReadString();
        byte[] q = reader.ReadString().ToArray();

        byte[] Ecdsa(string type, string curve, byte[] point) => Blob(w =>
        {
            w.WriteString(type);
            w.WriteString(curve);
            w.WriteString(point);
        });

        Assert.That(SshPublicKey.FromBlob(Ecdsa("ecdsa-sha2-nistp256", "nistp256", q)).KeySize, Is.EqualTo(256));
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Ecdsa("ecdsa-sha2-nistp256", "nistp384", q)), "curve mismatch");
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Ecdsa("ecdsa-sha2-nistp384", "nistp384", q)), "point of another size");
        byte[] offCurve = (byte[])q.Clone();
        offCurve[^1] ^= 1;
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Ecdsa("ecdsa-sha2-nistp256", "nistp256", offCurve)), "off the curve");
        byte[] compressed = [(byte)(2 + (q[^1] & 1)), .. q[1..33]];
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Ecdsa("ecdsa-sha2-nistp256", "nistp256", compressed)), "compressed");
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Ecdsa("ecdsa-sha2-nistp256", "nistp256", [0])), "infinity");
        byte[] tooLarge = [4, .. Enumerable.Repeat((byte)0xFF, 64)];
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Ecdsa("ecdsa-sha2-nistp256", "nistp256", tooLarge)), "coordinates above p");
    }

    [Test]
    public void FromBlob_InvalidRsa_ThrowsSshProtocolException()
    {
        byte[] good = HostKeyTestKeys.Get(SshHostKeyType.Rsa).PublicKey.Blob.ToArray();
        var reader = new SshReader(good);
        reader.ReadString();
        byte[] e = reader.ReadUnsignedMPInt().ToArray();
        byte[] n = reader.ReadUnsignedMPInt().ToArray();

        byte[] Rsa(Action<SshWriter> fields) => Blob(w =>
        {
            w.WriteString("ssh-rsa");
            fields(w);
        });

        Assert.That(SshPublicKey.FromBlob(Rsa(w => { w.WriteUnsignedMPInt(e); w.WriteUnsignedMPInt(n); })).KeySize, Is.EqualTo(2048));
        var small = Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Rsa(w => { w.WriteUnsignedMPInt(e); w.WriteUnsignedMPInt(n.AsSpan(0, 64)); })));
        Assert.That(small!.Message, Does.Contain("512 bits"));
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Rsa(w => { w.WriteString([0, .. e]); w.WriteUnsignedMPInt(n); })), "leading zero in e");
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Rsa(w => { w.WriteUnsignedMPInt(e); w.WriteString(n); })), "negative n");
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Rsa(w => { w.WriteUnsignedMPInt([2]); w.WriteUnsignedMPInt(n); })), "even e");
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Rsa(w => { w.WriteUnsignedMPInt([1]); w.WriteUnsignedMPInt(n); })), "e = 1");
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Rsa(w => { w.WriteUnsignedMPInt(e); w.WriteUnsignedMPInt([.. n[..^1], (byte)(n[^1] ^ 1)]); })), "even n");
        Assert.Throws<SshProtocolException>(() => SshPublicKey.FromBlob(Rsa(w => { w.WriteUnsignedMPInt(e); w.WriteMPInt(BigInteger.Zero); })), "n = 0");
    }

    [Test]
    public void FromBlob_RandomlyMutated_OnlySshProtocolException()
    {
        var random = new Random(5656);
        foreach (SshHostKeyType type in Enum.GetValues<SshHostKeyType>())
        {
            byte[] good = HostKeyTestKeys.Get(type).PublicKey.Blob.ToArray();
            for (int i = 0; i < 300; i++)
            {
                byte[] blob = (byte[])good.Clone();
                for (int flips = random.Next(1, 4); flips > 0; flips--)
                {
                    blob[random.Next(blob.Length)] ^= (byte)(1 << random.Next(8));
                }

                try
                {
                    SshPublicKey key = SshPublicKey.FromBlob(blob);
                    Assert.That(key.Blob.ToArray(), Is.EqualTo(blob));
                }
                catch (SshProtocolException)
                {
                }
            }
        }
    }

    [Test]
    public void Generate_EveryType_KeyTypeSizeAndSignatureAlgorithms()
    {
        Assert.Multiple(() =>
        {
            Check(SshHostKeyType.Ed25519, "ssh-ed25519", 256);
            Check(SshHostKeyType.EcdsaNistP256, "ecdsa-sha2-nistp256", 256);
            Check(SshHostKeyType.EcdsaNistP384, "ecdsa-sha2-nistp384", 384);
            Check(SshHostKeyType.EcdsaNistP521, "ecdsa-sha2-nistp521", 521);
            Check(SshHostKeyType.Rsa, "ssh-rsa", 2048);
        });

        static void Check(SshHostKeyType type, string keyType, int size)
        {
            SshPrivateKey key = HostKeyTestKeys.Get(type);
            Assert.That(key.KeyType, Is.EqualTo(keyType));
            Assert.That(key.PublicKey.KeyType, Is.EqualTo(keyType));
            Assert.That(key.PublicKey.KeySize, Is.EqualTo(size));
            Assert.That(key.SignatureAlgorithms, Is.EqualTo(type == SshHostKeyType.Rsa ? new[] { "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa" } : new[] { keyType }));
            Assert.That(key.Comment, Is.Empty);
        }
    }

    [TestCase(SshHostKeyType.Ed25519, 255)]
    [TestCase(SshHostKeyType.EcdsaNistP256, 384)]
    [TestCase(SshHostKeyType.EcdsaNistP521, 512)]
    [TestCase(SshHostKeyType.Rsa, 1024)]
    [TestCase(SshHostKeyType.Rsa, 2049)]
    [TestCase(SshHostKeyType.Rsa, 32768)]
    [TestCase((SshHostKeyType)99, 256)]
    public void Generate_InvalidSize_ThrowsArgumentOutOfRange(SshHostKeyType type, int size)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SshPrivateKey.Generate(type, size));
    }
}
