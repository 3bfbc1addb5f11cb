using Ssh.Transport.Crypto;
using static Ssh.Transport.Tests.Crypto.AesTestSupport;

namespace Ssh.Transport.Tests.Crypto;

internal sealed class CipherMacProtectionTests
{
    [TestCase(SshCipherKind.AesCbc, 16, 16)]
    [TestCase(SshCipherKind.TripleDesCbc, 24, 8)]
    public void ComputeDiscardMac_AfterBogusLength_ComputesAndResetsForTheNextPacket(SshCipherKind kind, int keySize, int ivSize)
    {
        var random = new Random(9);
        byte[] key = new byte[keySize];
        byte[] iv = new byte[ivSize];
        byte[] macKey = new byte[32];
        random.NextBytes(key);
        random.NextBytes(iv);
        random.NextBytes(macKey);
        using PacketOpener opener = CipherMacProtection.CreateOpener(kind, key, iv, SshMacKind.HmacSha256, macKey, etm: false);
        Assert.That(opener.DiscardsOnBadLength, Is.True);

        // A garbage first block gives a bogus length; the reader then discards and calls the hook, maybe in parts.
        byte[] garbage = new byte[64 * 1024];
        random.NextBytes(garbage);
        opener.DecryptLength(3, garbage.AsSpan(0, opener.LengthPrefixSize));
        opener.ComputeDiscardMac(3, garbage.AsSpan(0, 40000));
        opener.ComputeDiscardMac(3, garbage.AsSpan(40000));
        long before = GC.GetAllocatedBytesForCurrentThread();
        opener.ComputeDiscardMac(3, garbage);
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
        Assert.DoesNotThrow(() => opener.DecryptLength(4, garbage.AsSpan(0, opener.LengthPrefixSize)));
    }

    [Test]
    public void DiscardsOnBadLength_CtrAndEtm_False()
    {
        byte[] key = new byte[16];
        using PacketOpener ctr = CipherMacProtection.CreateOpener(SshCipherKind.AesCtr, key, new byte[16], SshMacKind.HmacSha1, new byte[20], etm: false);
        using PacketOpener cbcEtm = CipherMacProtection.CreateOpener(SshCipherKind.AesCbc, key, new byte[16], SshMacKind.HmacSha1, new byte[20], etm: true);
        Assert.That(ctr.DiscardsOnBadLength, Is.False);
        Assert.That(cbcEtm.DiscardsOnBadLength, Is.False);
    }

    [Test]
    public void TryOpen_MacThenEncryptWithoutDecryptLength_Throws()
    {
        using PacketOpener opener = CipherMacProtection.CreateOpener(SshCipherKind.AesCtr, new byte[16], new byte[16], SshMacKind.HmacSha256, new byte[32], etm: false);
        byte[] packet = new byte[32];
        Assert.Throws<InvalidOperationException>(() => opener.TryOpen(0, packet, new byte[32], packet.AsSpan(4)));
    }

    [TestCase(SshCipherKind.AesCtr, 20, 16, SshMacKind.HmacSha256, 32)]
    [TestCase(SshCipherKind.AesCtr, 16, 12, SshMacKind.HmacSha256, 32)]
    [TestCase(SshCipherKind.AesCbc, 16, 16, SshMacKind.HmacSha256, 20)]
    [TestCase(SshCipherKind.TripleDesCbc, 16, 8, SshMacKind.HmacSha1, 20)]
    [TestCase(SshCipherKind.TripleDesCbc, 24, 16, SshMacKind.HmacSha1, 20)]
    [TestCase(SshCipherKind.AesCtr, 16, 16, SshMacKind.HmacSha512, 32)]
    public void Create_WrongKeyOrIvLength_Throws(SshCipherKind kind, int keySize, int ivSize, SshMacKind mac, int macKeySize)
    {
        Assert.Throws<ArgumentException>(() => CipherMacProtection.CreateSealer(kind, new byte[keySize], new byte[ivSize], mac, new byte[macKeySize], etm: false));
        Assert.Throws<ArgumentException>(() => CipherMacProtection.CreateOpener(kind, new byte[keySize], new byte[ivSize], mac, new byte[macKeySize], etm: true));
    }

    [Test]
    public void Seal_CbcUnalignedPacket_Throws()
    {
        using PacketSealer sealer = CipherMacProtection.CreateSealer(SshCipherKind.AesCbc, new byte[16], new byte[16], SshMacKind.HmacSha256, new byte[32], etm: false);
        byte[] packet = new byte[20];
        Assert.Throws<ArgumentException>(() => sealer.Seal(0, packet, new byte[32]));
    }

    [Test]
    public void Dispose_Twice_DoesNotThrow()
    {
        PacketSealer sealer = CipherMacProtection.CreateSealer(SshCipherKind.AesCtr, Hex("000102030405060708090a0b0c0d0e0f"), new byte[16], SshMacKind.HmacSha256, new byte[32], etm: true);
        sealer.Dispose();
        Assert.DoesNotThrow(sealer.Dispose);
    }
}
