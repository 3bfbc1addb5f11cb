using System.Buffers;
using System.Numerics;

namespace Ssh.Transport.Tests.Wire;

public class SshWireTests
{
    private static byte[] Write(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    // RFC 4251 §5, the mpint examples.
    [TestCase("0", "00000000")]
    [TestCase("9a378f9b2e332a7", "0000000809a378f9b2e332a7")]
    [TestCase("80", "000000020080")]
    [TestCase("-1234", "00000002edcc")]
    [TestCase("-deadbeef", "00000005ff21524111")]
    public void WriteMPInt_Rfc4251Examples(string hex, string expected)
    {
        bool negative = hex.StartsWith('-');
        BigInteger value = BigInteger.Parse("0" + hex.TrimStart('-'), System.Globalization.NumberStyles.HexNumber);
        if (negative)
        {
            value = -value;
        }

        byte[] written = Write(b => new SshWriter(b).WriteMPInt(value));
        Assert.That(Convert.ToHexStringLower(written), Is.EqualTo(expected));
        Assert.That(new SshReader(written).ReadBigInteger(), Is.EqualTo(value));
    }

    [TestCase("", "00000000")]
    [TestCase("00", "00000000")]
    [TestCase("0000ff", "0000000200ff")]
    [TestCase("7f", "000000017f")]
    public void WriteUnsignedMPInt_MinimalAndPositive(string magnitude, string expected)
    {
        byte[] written = Write(b => new SshWriter(b).WriteUnsignedMPInt(Convert.FromHexString(magnitude)));
        Assert.That(Convert.ToHexStringLower(written), Is.EqualTo(expected));
    }

    [Test]
    public void ReadUnsignedMPInt_StripsLeadingZerosAndRejectsNegative()
    {
        Assert.That(new SshReader(Convert.FromHexString("000000030000ff")).ReadUnsignedMPInt().ToArray(), Is.EqualTo(new byte[] { 0xff }));
        Assert.That(new SshReader(Convert.FromHexString("00000000")).ReadUnsignedMPInt().IsEmpty, Is.True);
        Assert.Throws<SshProtocolException>(() => new SshReader(Convert.FromHexString("0000000180")).ReadUnsignedMPInt());
    }

    [TestCase("")]
    [TestCase("a")]
    [TestCase("zlib,none")]
    [TestCase("aes128-ctr,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com")]
    public void ReadNameList_Valid(string list)
    {
        byte[] bytes = Write(b => new SshWriter(b).WriteString(list));
        SshNameList names = new SshReader(bytes).ReadNameList();
        Assert.That(names.ToArray(), Is.EqualTo(list.Length == 0 ? Array.Empty<string>() : list.Split(',')));
        Assert.That(names.ToString(), Is.EqualTo(list));
    }

    [TestCase(",a")]
    [TestCase("a,")]
    [TestCase("a,,b")]
    [TestCase(",")]
    [TestCase("a b")]
    [TestCase("a\tb")]
    [TestCase("caf\u00e9")]
    public void ReadNameList_Malformed_Throws(string list)
    {
        byte[] bytes = Write(b => new SshWriter(b).WriteString(list));
        var ex = Assert.Throws<SshProtocolException>(() => new SshReader(bytes).ReadNameList());
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError));
    }

    [Test]
    public void ReadNameList_LongerThanLimit_Throws()
    {
        string list = string.Join(',', Enumerable.Repeat("name", 100));
        byte[] bytes = Write(b => new SshWriter(b).WriteString(list));
        Assert.That(new SshReader(bytes).ReadNameList(maxLength: list.Length).ToArray(), Has.Length.EqualTo(100));
        var ex = Assert.Throws<SshProtocolException>(() => new SshReader(bytes).ReadNameList(maxLength: list.Length - 1));
        Assert.That(ex!.Message, Does.Contain("exceeds the limit"));
    }

    [Test]
    public void NameList_Contains()
    {
        byte[] bytes = Write(b => new SshWriter(b).WriteNameList(["curve25519-sha256", "ext-info-c"]));
        SshNameList names = new SshReader(bytes).ReadNameList();
        Assert.That(names.Contains("ext-info-c"u8), Is.True);
        Assert.That(names.Contains("ext-info"u8), Is.False);
    }

    [Test]
    public void WriteNameList_InvalidName_Throws()
    {
        Assert.Throws<ArgumentException>(() => Write(b => new SshWriter(b).WriteNameList(["a,b"])));
        Assert.Throws<ArgumentException>(() => Write(b => new SshWriter(b).WriteNameList([""])));
    }

    [Test]
    public void ReadString_LengthPastEnd_ThrowsAndConsumesNothing()
    {
        byte[] bytes = Convert.FromHexString("00000010616263");
        var reader = new SshReader(bytes);
        try
        {
            reader.ReadString();
            Assert.Fail("expected an exception");
        }
        catch (SshProtocolException ex)
        {
            Assert.That(ex.Message, Does.Contain("Truncated"));
        }

        Assert.That(reader.Consumed, Is.Zero);
    }

    [Test]
    public void ReadString_HugeDeclaredLength_Throws()
    {
        Assert.Throws<SshProtocolException>(() => new SshReader(Convert.FromHexString("ffffffff00")).ReadString());
    }

    [Test]
    public void ReadUtf8String_InvalidUtf8_Throws()
    {
        Assert.Throws<SshProtocolException>(() => new SshReader(Convert.FromHexString("00000002c328")).ReadUtf8String());
    }

    [TestCase(0u)]
    [TestCase(1u)]
    [TestCase(uint.MaxValue)]
    public void UInt32_RoundTrip(uint value)
    {
        byte[] bytes = Write(b => new SshWriter(b).WriteUInt32(value));
        Assert.That(new SshReader(bytes).ReadUInt32(), Is.EqualTo(value));
    }

    [Test]
    public void MessageNumber_Names()
    {
        Assert.That(SshMessageNumber.GetName(SshMessageNumber.KexInit), Is.EqualTo("KEXINIT"));
        Assert.That(SshMessageNumber.GetName(31), Is.EqualTo("KEX_METHOD"));
        Assert.That(SshMessageNumber.GetName(200), Is.EqualTo("UNKNOWN"));
        Assert.That(SshMessageNumber.IsTransportGeneric(SshMessageNumber.Ignore), Is.True);
        Assert.That(SshMessageNumber.IsKeyExchange(SshMessageNumber.NewKeys), Is.True);
        Assert.That(SshMessageNumber.IsKeyExchange(SshMessageNumber.ServiceRequest), Is.False);
    }
}
