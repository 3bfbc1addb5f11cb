using System.Buffers;
using Ssh.Transport.Framing;

namespace Ssh.Transport.Fuzz.Targets;

/// <summary>
/// The identification line (RFC 4253 §4.2) as the packetizer reads it: bytes arrive a segment at a time and the
/// reader is asked again after each. Byte 0: bit 0 = the peer is a server (pre-banner lines allowed), bits 1-5 = the
/// segment size - 1. Then the peer's bytes.
/// </summary>
internal static class IdentificationTarget
{
    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        bool peerIsServer = (input[0] & 1) != 0;
        int segment = ((input[0] >> 1) & 31) + 1;
        ReadOnlyMemory<byte> data = input.AsMemory(1);
        byte[]? whole = Read(peerIsServer, data, data.Length, out Type? wholeError);
        byte[]? pieces = Read(peerIsServer, data, segment, out Type? piecesError);

        // However the bytes arrive, the outcome is the same.
        if (wholeError != piecesError || (whole is null) != (pieces is null) || (whole is not null && !whole.AsSpan().SequenceEqual(pieces)))
        {
            throw new FuzzFindingException($"Identification differs by segmentation: {wholeError?.Name ?? "ok"} vs {piecesError?.Name ?? "ok"}.");
        }
    }

    private static byte[]? Read(bool peerIsServer, ReadOnlyMemory<byte> data, int segment, out Type? error)
    {
        var reader = new IdentificationReader(peerIsServer, maxPreBannerLines: 1024, maxPreBannerBytes: 64 * 1024);
        error = null;
        int available = 0;
        int consumed = 0;
        try
        {
            while (true)
            {
                available = Math.Min(data.Length, available + segment);
                ReadOnlySequence<byte> buffer = Harness.Segmented(data[consumed..available], Math.Max(1, segment / 2));
                long before = buffer.Length;
                if (reader.TryRead(ref buffer, out byte[] identification))
                {
                    if (identification.Length == 0 || identification.AsSpan().IndexOfAny((byte)'\r', (byte)'\n') >= 0
                        || !identification.AsSpan().StartsWith("SSH-"u8) || identification.Length > IdentificationReader.MaxLineLength)
                    {
                        throw new FuzzFindingException("An identification line was accepted that RFC 4253 §4.2 forbids.");
                    }

                    return identification;
                }

                consumed += (int)(before - buffer.Length);
                if (available == data.Length)
                {
                    return null;
                }
            }
        }
        catch (SshProtocolException e)
        {
            error = e.GetType();
            return null;
        }
    }
}
