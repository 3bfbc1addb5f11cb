using System.Numerics;
using Ssh.Transport.KeyExchange;
using static Ssh.Transport.Tests.KeyExchange.KexAlgorithmTests;

namespace Ssh.Transport.Tests.KeyExchange;

public class DhGroupTests
{
    private static IEnumerable<TestCaseData> BuiltIn()
    {
        yield return new TestCaseData("Oakley2", 1024).SetName("BuiltIn_Oakley2");
        yield return new TestCaseData("Group14", 2048).SetName("BuiltIn_Group14");
        yield return new TestCaseData("Group15", 3072).SetName("BuiltIn_Group15");
        yield return new TestCaseData("Group16", 4096).SetName("BuiltIn_Group16");
        yield return new TestCaseData("Group17", 6144).SetName("BuiltIn_Group17");
        yield return new TestCaseData("Group18", 8192).SetName("BuiltIn_Group18");
    }

    [TestCaseSource(nameof(BuiltIn))]
    public void BuiltIn_HasTheShapeOfTheRfcGroups(string name, int bits)
    {
        var group = (DhGroup)typeof(DhGroup).GetProperty(name)!.GetValue(null)!;
        // RFC 2409 / RFC 3526: the top and bottom 64 bits are all ones; g = 2.
        BigInteger ones = (BigInteger.One << 64) - 1;
        Assert.That(group.Bits, Is.EqualTo(bits));
        Assert.That(group.P & ones, Is.EqualTo(ones));
        Assert.That(group.P >> (bits - 64), Is.EqualTo(ones));
        Assert.That(group.G, Is.EqualTo(new BigInteger(2)));
        Assert.That(group.PMagnitude.Length, Is.EqualTo(bits / 8));
        Assert.That(group.GMagnitude.ToArray(), Is.EqualTo(new byte[] { 2 }));
    }

    [TestCase(2048u, 2048u, 8192u, 2048)]
    [TestCase(2048u, 3000u, 8192u, 3072)]
    [TestCase(2048u, 4096u, 8192u, 4096)]
    [TestCase(2048u, 7000u, 8192u, 8192)]
    [TestCase(2048u, 8192u, 8192u, 8192)]
    [TestCase(1024u, 1024u, 8192u, 2048)] // n below every group: the smallest in range
    [TestCase(3072u, 2048u, 8192u, 3072)] // n below min: min still holds
    [TestCase(2048u, 8192u, 4096u, 4096)] // n above max: the largest within max
    [TestCase(2048u, 9000u, 16384u, 8192)] // none as large as n: the largest in range
    [TestCase(5000u, 5000u, 7000u, 6144)]
    public void Choose_HonoursMinPreferredMax(uint min, uint preferred, uint max, int expected) =>
        Assert.That(DhGroup.Choose(min, preferred, max).Bits, Is.EqualTo(expected));

    [TestCase(1024u, 1024u, 1536u)]
    [TestCase(8193u, 8193u, 16384u)]
    [TestCase(4097u, 5000u, 6000u)]
    [TestCase(4096u, 4096u, 3072u)] // min above max
    public void Choose_NoGroupInRange_KeyExchangeFailed(uint min, uint preferred, uint max) =>
        AssertKeyExchangeFailed(() => DhGroup.Choose(min, preferred, max));

    [Test]
    public void FromOffer_BuiltInGroup_Accepted()
    {
        DhGroup group = DhGroup.FromOffer(DhGroup.Group15.PMagnitude.Span, [2], 2048, 8192);
        Assert.That(group.P, Is.EqualTo(DhGroup.Group15.P));
        Assert.That(group.Bits, Is.EqualTo(3072));

        // Leading zero bytes (as an mpint would carry them) do not change the size.
        DhGroup padded = DhGroup.FromOffer([0, .. DhGroup.Group14.PMagnitude.Span], [5], 2048, 2048);
        Assert.That(padded.Bits, Is.EqualTo(2048));
        Assert.That(padded.G, Is.EqualTo(new BigInteger(5)));
    }

    [Test]
    public void FromOffer_SmallGroup_KeyExchangeFailed()
    {
        // Below 2048 bits even when the client's own minimum allows it (RFC 8270).
        AssertKeyExchangeFailed(() => DhGroup.FromOffer(DhGroup.Oakley2.PMagnitude.Span, [2], 1024, 8192));
        AssertKeyExchangeFailed(() => DhGroup.FromOffer([], [2], 0, 8192));
    }

    [TestCase(3072u, 8192u)] // group 14 below min
    [TestCase(1024u, 2047u)] // group 14 above max
    public void FromOffer_OutOfRange_KeyExchangeFailed(uint min, uint max) =>
        AssertKeyExchangeFailed(() => DhGroup.FromOffer(DhGroup.Group14.PMagnitude.Span, [2], min, max));

    [Test]
    public void FromOffer_EvenModulus_KeyExchangeFailed()
    {
        byte[] even = DhGroup.Group14.PMagnitude.ToArray();
        even[^1] &= 0xFE;
        AssertKeyExchangeFailed(() => DhGroup.FromOffer(even, [2], 2048, 8192));
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(-1)] // p - 1
    [TestCase(-2)] // p
    [TestCase(-3)] // p + 1
    public void FromOffer_BadGenerator_KeyExchangeFailed(int which)
    {
        BigInteger p = DhGroup.Group14.P;
        BigInteger g = which switch { -1 => p - 1, -2 => p, -3 => p + 1, _ => which };
        byte[] gBytes = g.IsZero ? [] : g.ToByteArray(isUnsigned: true, isBigEndian: true);
        AssertKeyExchangeFailed(() => DhGroup.FromOffer(DhGroup.Group14.PMagnitude.Span, gBytes, 2048, 8192));
    }
}
