using System.Buffers;
using System.Security.Cryptography;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Pkcs;
using Org.BouncyCastle.Security;
using Ssh.Transport.HostKeys;
using BigInteger = Org.BouncyCastle.Math.BigInteger;

namespace Ssh.Transport.Tests.HostKeys;

/// <summary>
/// Differential checks against BouncyCastle's own signers (its high-level Ed25519Signer and ECDsaSigner, not the
/// low-level code this library calls): keys made by BouncyCastle reach us through PKCS#8 PEM, and signatures over
/// random data must cross-verify in both directions. (RSA is left to paramiko and ssh-keygen: BouncyCastle's RSA key
/// generation would cost more test time than it adds.)
/// </summary>
public class BouncyCastleDifferentialTests
{
    private const int Rounds = 32;

    private static readonly SecureRandom s_random = new();

    [Test]
    public void Ed25519_RandomData_SameSignaturesAsBouncyCastleAndCrossVerified()
    {
        var generator = new Ed25519KeyPairGenerator();
        generator.Init(new Ed25519KeyGenerationParameters(s_random));
        for (int round = 0; round < 8; round++)
        {
            AsymmetricCipherKeyPair pair = generator.GenerateKeyPair();
            using SshPrivateKey key = SshPrivateKey.Parse(ToPkcs8Pem(pair.Private));
            byte[] bcPublic = ((Org.BouncyCastle.Crypto.Parameters.Ed25519PublicKeyParameters)pair.Public).GetEncoded();
            Assert.That(key.PublicKey.Blob.ToArray(), Is.EqualTo((byte[])[0, 0, 0, 11, .. "ssh-ed25519"u8, 0, 0, 0, 32, .. bcPublic]));

            for (int i = 0; i < Rounds / 8; i++)
            {
                byte[] data = RandomData();
                var signer = new Ed25519Signer();
                signer.Init(true, pair.Private);
                signer.BlockUpdate(data, 0, data.Length);
                byte[] theirs = signer.GenerateSignature();

                byte[] ours = InnerSignature(HostKeyTestKeys.Sign(key, "ssh-ed25519", data));

                Assert.That(ours, Is.EqualTo(theirs), "Ed25519 is deterministic (RFC 8032 §5.1.6)");
                var verifier = new Ed25519Signer();
                verifier.Init(false, pair.Public);
                verifier.BlockUpdate(data, 0, data.Length);
                Assert.That(verifier.VerifySignature(ours), Is.True);
                Assert.That(key.PublicKey.VerifySignature("ssh-ed25519", data, Blob("ssh-ed25519", theirs)), Is.True);
            }
        }
    }

    [TestCase("secp256r1", "ecdsa-sha2-nistp256")]
    [TestCase("secp384r1", "ecdsa-sha2-nistp384")]
    [TestCase("secp521r1", "ecdsa-sha2-nistp521")]
    public void Ecdsa_RandomData_CrossVerifiedWithBouncyCastle(string curveName, string keyType)
    {
        X9ECParameters curve = SecNamedCurves.GetByName(curveName);
        var generator = new ECKeyPairGenerator();
        generator.Init(new ECKeyGenerationParameters(SecNamedCurves.GetOid(curveName), s_random)); // named: PKCS#8 carries the OID
        AsymmetricCipherKeyPair pair = generator.GenerateKeyPair();
        var bcPublic = (ECPublicKeyParameters)pair.Public;

        using SshPrivateKey key = SshPrivateKey.Parse(ToPkcs8Pem(pair.Private));

        // RFC 5656 §3.1: string type, string curve, string Q (uncompressed).
        var reader = new SshReader(key.PublicKey.Blob.Span);
        Assert.That(reader.ReadUtf8String(), Is.EqualTo(keyType));
        Assert.That(reader.ReadUtf8String(), Is.EqualTo(keyType["ecdsa-sha2-".Length..]));
        Assert.That(reader.ReadString().ToArray(), Is.EqualTo(bcPublic.Q.GetEncoded(compressed: false)));
        Assert.That(EcdsaCurve.FromKeyType(keyType)!.Order, Is.EqualTo(curve.N.ToByteArrayUnsigned()), "our table's group order");

        for (int i = 0; i < Rounds; i++)
        {
            byte[] data = RandomData();

            // Ours, checked by BouncyCastle.
            var inner = new SshReader(InnerSignature(HostKeyTestKeys.Sign(key, keyType, data)));
            var r = new BigInteger(1, inner.ReadUnsignedMPInt().ToArray());
            var s = new BigInteger(1, inner.ReadUnsignedMPInt().ToArray());
            var verifier = new ECDsaSigner();
            verifier.Init(false, bcPublic);
            Assert.That(verifier.VerifySignature(Digest(keyType, data), r, s), Is.True, $"ours, round {i}");

            // BouncyCastle's, checked by us; and a wrong one refused.
            var signer = new ECDsaSigner();
            signer.Init(true, new ParametersWithRandom(pair.Private, s_random));
            BigInteger[] rs = signer.GenerateSignature(Digest(keyType, data));
            Assert.That(key.PublicKey.VerifySignature(keyType, data, EcdsaBlob(keyType, rs[0], rs[1])), Is.True, $"theirs, round {i}");
            Assert.That(key.PublicKey.VerifySignature(keyType, data, EcdsaBlob(keyType, rs[0], rs[1].Add(BigInteger.One))), Is.False);
        }
    }

    private static byte[] RandomData() => RandomNumberGenerator.GetBytes(RandomNumberGenerator.GetInt32(0, 200));

    private static string ToPkcs8Pem(AsymmetricKeyParameter privateKey)
    {
        byte[] der = PrivateKeyInfoFactory.CreatePrivateKeyInfo(privateKey).GetDerEncoded();
        return new string(System.Security.Cryptography.PemEncoding.Write("PRIVATE KEY", der));
    }

    private static byte[] Digest(string keyType, byte[] data)
    {
        IDigest digest = keyType switch
        {
            "ecdsa-sha2-nistp256" => new Sha256Digest(),
            "ecdsa-sha2-nistp384" => new Sha384Digest(),
            _ => new Sha512Digest(),
        };
        digest.BlockUpdate(data, 0, data.Length);
        byte[] hash = new byte[digest.GetDigestSize()];
        digest.DoFinal(hash, 0);
        return hash;
    }

    private static byte[] InnerSignature(byte[] blob)
    {
        var reader = new SshReader(blob);
        reader.ReadString();
        return reader.ReadString().ToArray();
    }

    private static byte[] Blob(string name, byte[] signature)
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(output);
        writer.WriteString(name);
        writer.WriteString(signature);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] EcdsaBlob(string name, BigInteger r, BigInteger s)
    {
        var inner = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(inner);
        writer.WriteUnsignedMPInt(r.ToByteArrayUnsigned());
        writer.WriteUnsignedMPInt(s.ToByteArrayUnsigned());
        return Blob(name, inner.WrittenSpan.ToArray());
    }
}
