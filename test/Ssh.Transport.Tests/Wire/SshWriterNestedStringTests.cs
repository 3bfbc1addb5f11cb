using System.Buffers;
using System.IO.Pipelines;
using Ssh.Transport.Tests.Infrastructure;

namespace Ssh.Transport.Tests.Wire;

/// <summary>
/// SshWriter.WriteString with a content callback: a string holding SSH data written in place, its length filled in
/// afterwards; and the writer over a fixed span that the callback is given.
/// </summary>
public class SshWriterNestedStringTests
{
    // A signature blob's shape: string name, string bytes.
    private static void WriteBlob(ref SshWriter writer, ReadOnlySpan<byte> payload)
    {
        writer.WriteString("name");
        writer.WriteString(payload);
    }

    private static byte[] ExpectedNested(ReadOnlySpan<byte> payload)
    {
        var inner = new ArrayBufferWriter<byte>();
        var innerWriter = new SshWriter(inner);
        WriteBlob(ref innerWriter, payload);
        var outer = new ArrayBufferWriter<byte>();
        new SshWriter(outer).WriteString(inner.WrittenSpan);
        return outer.WrittenSpan.ToArray();
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(64)]
    [TestCase(5000)]
    public void WriteString_Callback_SameBytesAsTwoBuffers(int payloadLength)
    {
        byte[] payload = Enumerable.Range(0, payloadLength).Select(i => (byte)i).ToArray();
        var output = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(output);
        writer.WriteByte(50);

        // The bound is generous: only what the callback writes is committed.
        writer.WriteString(4 + 4 + 4 + payloadLength + 100, payload.AsSpan(), static (ref SshWriter w, ReadOnlySpan<byte> p) => WriteBlob(ref w, p));
        writer.WriteBoolean(true);

        byte[] expected = [50, .. ExpectedNested(payload), 1];
        Assert.That(output.WrittenSpan.ToArray(), Is.EqualTo(expected));
        Assert.That(writer.BytesWritten, Is.EqualTo(expected.Length));
    }

    [Test]
    public void WriteString_ExactBound_Fits()
    {
        byte[] payload = [1, 2, 3];
        var output = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(output);

        writer.WriteString(4 + 4 + 4 + 3, payload.AsSpan(), static (ref SshWriter w, ReadOnlySpan<byte> p) => WriteBlob(ref w, p));

        Assert.That(output.WrittenSpan.ToArray(), Is.EqualTo(ExpectedNested(payload)));
    }

    [Test]
    public void WriteString_ContentLongerThanBound_ThrowsAndCommitsNothing()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(output);
        writer.WriteByte(7);

        try
        {
            writer.WriteString(4 + 4 + 4 + 2, 0, static (ref SshWriter w, int _) => WriteBlob(ref w, [1, 2, 3]));
            Assert.Fail("no exception");
        }
        catch (InvalidOperationException)
        {
        }

        Assert.That(output.WrittenSpan.ToArray(), Is.EqualTo(new byte[] { 7 }));
        Assert.That(writer.BytesWritten, Is.EqualTo(1));
        writer.WriteByte(8);
        Assert.That(output.WrittenSpan.ToArray(), Is.EqualTo(new byte[] { 7, 8 }), "the writer goes on after the failed string");
    }

    [Test]
    public void WriteString_CallbackThrows_CommitsNothing()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(output);

        try
        {
            writer.WriteString(100, 0, static (ref SshWriter w, int _) =>
            {
                w.WriteString("partial");
                throw new FormatException("boom");
            });
            Assert.Fail("no exception");
        }
        catch (FormatException)
        {
        }

        Assert.That(output.WrittenCount, Is.Zero);
        Assert.That(writer.BytesWritten, Is.Zero);
    }

    [Test]
    public void WriteString_NestedThreeDeep_LengthsFilledAtEveryLevel()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new SshWriter(output);

        writer.WriteString(64, 0, static (ref SshWriter a, int _) =>
        {
            a.WriteByte(1);
            a.WriteString(32, 0, static (ref SshWriter b, int _) =>
            {
                b.WriteByte(2);
                b.WriteString(8, 0, static (ref SshWriter c, int _) => c.WriteUInt32(0xDEADBEEF));
            });
        });

        Assert.That(Convert.ToHexStringLower(output.WrittenSpan), Is.EqualTo("0000000e" + "01" + "00000009" + "02" + "00000004" + "deadbeef"));
        var reader = new SshReader(output.WrittenSpan);
        var level1 = new SshReader(reader.ReadString());
        Assert.That(level1.ReadByte(), Is.EqualTo(1));
        var level2 = new SshReader(level1.ReadString());
        Assert.That(level2.ReadByte(), Is.EqualTo(2));
        Assert.That(new SshReader(level2.ReadString()).ReadUInt32(), Is.EqualTo(0xDEADBEEF));
        Assert.That(reader.End && level1.End && level2.End, Is.True);
    }

    [Test]
    public void WriteString_EmptyContent_ZeroLength()
    {
        var output = new ArrayBufferWriter<byte>();
        new SshWriter(output).WriteString(0, 0, static (ref SshWriter w, int _) => { });
        Assert.That(output.WrittenSpan.ToArray(), Is.EqualTo(new byte[4]));
    }

    [Test]
    public void WriteString_BadArguments_Throw()
    {
        var output = new ArrayBufferWriter<byte>();
        Assert.Throws<ArgumentOutOfRangeException>(() => new SshWriter(output).WriteString(-1, 0, static (ref SshWriter w, int _) => { }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SshWriter(output).WriteString(int.MaxValue - 3, 0, static (ref SshWriter w, int _) => { }));
        Assert.Throws<ArgumentNullException>(() => new SshWriter(output).WriteString<int>(1, 0, null!));
        Assert.That(output.WrittenCount, Is.Zero);
    }

    [Test]
    public async Task WriteString_IntoPipeWithSmallSegments_BoundLargerThanASegment()
    {
        // The pipe's pool hands out 4 KiB blocks; the string must still come out whole and in order.
        var pipe = new Pipe(new PipeOptions(pool: new DirtyMemoryPool(), minimumSegmentSize: 4096));
        byte[] payload = Enumerable.Range(0, 9000).Select(i => (byte)(i * 7)).ToArray();
        for (int i = 0; i < 3; i++)
        {
            var writer = new SshWriter(pipe.Writer);
            writer.WriteBytes(new byte[4090 + i]);
            writer.WriteString(20_000, payload.AsSpan(), static (ref SshWriter w, ReadOnlySpan<byte> p) => WriteBlob(ref w, p));
        }

        await pipe.Writer.CompleteAsync();
        ReadResult result = await pipe.Reader.ReadAtLeastAsync(int.MaxValue);
        byte[] all = result.Buffer.ToArray();
        pipe.Reader.AdvanceTo(result.Buffer.End);

        byte[] nested = ExpectedNested(payload);
        int offset = 0;
        for (int i = 0; i < 3; i++)
        {
            offset += 4090 + i;
            Assert.That(all.AsSpan(offset, nested.Length).SequenceEqual(nested), Is.True, $"string {i}");
            offset += nested.Length;
        }

        Assert.That(offset, Is.EqualTo(all.Length));
    }

    [Test]
    public void SpanWriter_WritesFromStartAndCountsBytes()
    {
        Span<byte> buffer = stackalloc byte[16];
        buffer.Fill(0xCA);
        var writer = new SshWriter(buffer);
        writer.WriteUInt32(3);
        writer.WriteString("ab");
        writer.WriteBoolean(true);

        Assert.That(writer.BytesWritten, Is.EqualTo(11));
        Assert.That(Convert.ToHexStringLower(buffer), Is.EqualTo("00000003" + "000000026162" + "01" + "cacacacaca"));
    }

    [Test]
    public void SpanWriter_Overflow_ThrowsAndKeepsWhatFit()
    {
        byte[] buffer = new byte[6];
        var writer = new SshWriter(buffer);
        writer.WriteUInt32(1);

        bool threw = false;
        try
        {
            writer.WriteUInt32(2);
        }
        catch (InvalidOperationException e)
        {
            threw = true;
            Assert.That(e.Message, Does.Contain("full"));
        }

        Assert.That(threw, Is.True);
        Assert.That(writer.BytesWritten, Is.EqualTo(4));
        writer.WriteByte(9);
        writer.WriteByte(10);
        Assert.That(buffer, Is.EqualTo(new byte[] { 0, 0, 0, 1, 9, 10 }));
    }

    [Test]
    public void SpanWriter_NestedString_WithinTheSpan()
    {
        byte[] buffer = new byte[64];
        var writer = new SshWriter(buffer);
        writer.WriteString(32, 0, static (ref SshWriter w, int _) => w.WriteString("xyz"));
        Assert.That(writer.BytesWritten, Is.EqualTo(4 + 4 + 3));
        Assert.That(Convert.ToHexStringLower(buffer.AsSpan(0, 11)), Is.EqualTo("00000007" + "00000003" + "78797a"));

        // A bound that does not fit in what is left of the span fails before the callback runs.
        var small = new SshWriter(new byte[10]);
        bool ran = false;
        try
        {
            small.WriteString(7, 0, (ref SshWriter w, int _) => ran = true);
            Assert.Fail("no exception");
        }
        catch (InvalidOperationException)
        {
        }

        Assert.That(ran, Is.False);
    }
}
