using System.Buffers;
using System.Numerics;

namespace Ssh.Transport.Tests.Wire;

public class SshReaderTests
{
    [Test]
    public void ReadUInt32_Truncated_ThrowsProtocolError()
    {
        var ex = Assert.Throws<SshProtocolException>(() => new SshReader([1, 2, 3]).ReadUInt32());
        Assert.That(ex!.Reason, Is.EqualTo(SshDisconnectReason.ProtocolError));
    }

    [Test]
    public void RoundTrip_AllTypes()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(buffer);
        writer.WriteByte(7);
        writer.WriteBoolean(true);
        writer.WriteUInt32(0xDEADBEEF);
        writer.WriteUInt64(0x0102030405060708);
        writer.WriteString("hello");
        writer.WriteUnsignedMPInt([0x00, 0x80, 0x01]);
        writer.WriteMPInt(new BigInteger(-1234567));
        writer.WriteNameList(["aes128-ctr", "none"]);

        var reader = new SshReader(buffer.WrittenSpan);
        Assert.That(reader.ReadByte(), Is.EqualTo(7));
        Assert.That(reader.ReadBoolean(), Is.True);
        Assert.That(reader.ReadUInt32(), Is.EqualTo(0xDEADBEEF));
        Assert.That(reader.ReadUInt64(), Is.EqualTo(0x0102030405060708UL));
        Assert.That(reader.ReadUtf8String(), Is.EqualTo("hello"));
        Assert.That(reader.ReadMPInt().ToArray(), Is.EqualTo(new byte[] { 0x00, 0x80, 0x01 }));
        Assert.That(reader.ReadBigInteger(), Is.EqualTo(new BigInteger(-1234567)));
        Assert.That(reader.ReadNameList().ToArray(), Is.EqualTo(new[] { "aes128-ctr", "none" }));
        Assert.That(reader.End, Is.True);
    }
}
