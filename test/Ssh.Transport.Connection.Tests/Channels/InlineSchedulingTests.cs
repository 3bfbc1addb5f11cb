using System.Diagnostics;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Ssh.Transport.Connection.Tests.Infrastructure;
using Ssh.Transport.Connection.Tests.Server;

namespace Ssh.Transport.Connection.Tests.Channels;

/// <summary>
/// <see cref="SshTransportOptions.UnsafePreferInlineScheduling"/>: with it, a waiting consumer and a channel's reader
/// go on inside the transport's receive loop (no thread hand-over); without it, never. The receive loop's frame on the
/// continuation's stack is what tells the two apart, without any timing.
/// </summary>
[CancelAfter(60_000)]
public class InlineSchedulingTests
{
    private const string ReceiveLoop = "ReceiveLoopAsync";

    [TestCase(false)]
    [TestCase(true)]
    public async Task TransportConsumer_GoesOnInTheReceiveLoop_OnlyWhenAskedFor(bool inline)
    {
        SshClientOptions client = Harness.ClientOptions();
        SshServerOptions server = Harness.ServerOptions();
        server.UnsafePreferInlineScheduling = inline;
        (SshTransport c, SshTransport s) = await Harness.ConnectAsync(client, server);
        await using (c)
        await using (s)
        {
            var stacks = new List<string>();
            for (int i = 0; i < 5; i++)
            {
                ValueTask<SshPacket> reading = s.ReadMessageAsync();
                bool waited = !reading.IsCompleted;
                await c.WriteMessageAsync(new byte[] { 80, (byte)i }); // a message for the layers above (RFC 4250 §4.1.2)
                SshPacket packet = await reading.ConfigureAwait(false); // no context captured: the continuation may run where the message arrives
                string stack = new StackTrace().ToString();
                Assert.That(packet.Payload.Span[1], Is.EqualTo(i));
                if (waited)
                {
                    stacks.Add(stack);
                }
            }

            Assert.That(stacks, Is.Not.Empty, "the consumer waited at least once");
            Assert.That(stacks, inline ? Has.All.Contains(ReceiveLoop) : Has.None.Contains(ReceiveLoop));
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task ChannelReader_GoesOnInTheReceiveLoop_OnlyWhenAskedFor(bool inline)
    {
        var chunks = new TaskCompletionSource[8];
        for (int i = 0; i < chunks.Length; i++)
        {
            chunks[i] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        // The server writes a chunk only once the client has read the one before: the client's read is then waiting.
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(
            configure: o => o.UnsafePreferInlineScheduling = inline,
            beforeRun: ConnectionHarness.ServerAccepts(async channel =>
            {
                for (int i = 0; i < chunks.Length; i++)
                {
                    await channel.Output.WriteAsync(new byte[] { (byte)i, 1, 2, 3 });
                    await chunks[i].Task;
                }

                await channel.Output.CompleteAsync();
            }));

        SshChannel channel = await h.Client.OpenChannelAsync("session");
        var stacks = new List<string>();
        for (int i = 0; i < chunks.Length; i++)
        {
            ValueTask<ReadResult> reading = channel.Input.ReadAsync();
            bool waited = !reading.IsCompleted;
            ReadResult result = await reading.ConfigureAwait(false);
            string stack = new StackTrace().ToString();
            Assert.That(result.Buffer.Length, Is.EqualTo(4));
            Assert.That(result.Buffer.FirstSpan[0], Is.EqualTo(i));
            channel.Input.AdvanceTo(result.Buffer.End);
            if (waited)
            {
                stacks.Add(stack);
            }

            chunks[i].SetResult();
        }

        Assert.That(stacks, Is.Not.Empty, "the reader waited at least once");
        Assert.That(stacks, inline ? Has.All.Contains(ReceiveLoop) : Has.None.Contains(ReceiveLoop));
        Assert.That((await channel.Input.ReadAsync()).IsCompleted, Is.True);
    }

    /// <summary>Inline both ways, with rekeys every 512 KiB while 8 MiB cross each way: the same bytes arrive.</summary>
    [Test]
    public async Task Inline_BulkBothWays_WithRekeys_ArrivesWhole()
    {
        byte[] up = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        byte[] down = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        var serverReceived = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using ConnectionHarness h = await ConnectionHarness.StartAsync(
            configure: o =>
            {
                o.UnsafePreferInlineScheduling = true;
                o.Packetizer.RekeyBytes = 512 * 1024;
            },
            beforeRun: ConnectionHarness.ServerAccepts(async channel =>
            {
                Task<byte[]> reading = RawSession.ReadAllAsync(channel.Input);
                await channel.Output.WriteAsync(down);
                await channel.Output.CompleteAsync();
                serverReceived.SetResult(await reading);
                await channel.CloseAsync();
            }));

        SshChannel channel = await h.Client.OpenChannelAsync("session");
        Task<byte[]> downloaded = RawSession.ReadAllAsync(channel.Input);
        await channel.Output.WriteAsync(up);
        await channel.Output.CompleteAsync();
        Assert.That(SHA256.HashData(await downloaded.WaitAsync(TimeSpan.FromSeconds(40))), Is.EqualTo(SHA256.HashData(down)));
        Assert.That(SHA256.HashData(await serverReceived.Task.WaitAsync(TimeSpan.FromSeconds(40))), Is.EqualTo(SHA256.HashData(up)));
    }
}

/// <summary>The peer's window: with inline scheduling a waiting sender goes on inside the adjust; a failure never runs it inline.</summary>
public class SendWindowTests
{
    [Test]
    public async Task Inline_WaitingSender_GoesOnInsideTheAdjust()
    {
        var window = new SendWindow(0, inline: true);
        ValueTask<int> taking = window.TakeAsync(100, CancellationToken.None);
        Assert.That(taking.IsCompleted, Is.False, "no credit yet");

        // Add from a thread-pool thread, as the connection's loop does: a thread with a synchronization context (the
        // test's own) is no place to run a continuation inline, and .NET would queue it.
        bool ranInside = await Task.Run(() =>
        {
            window.Add(40);
            return taking.IsCompleted;
        });
        Assert.That(ranInside, Is.True, "the sender ran inside Add");
        Assert.That(await taking, Is.EqualTo(40));
        Assert.That(window.Available, Is.Zero);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Fail_EndsAWaitingSender_WithTheError(bool inline)
    {
        var window = new SendWindow(0, inline);
        ValueTask<int> taking = window.TakeAsync(100, CancellationToken.None);
        var error = new InvalidOperationException("closed");
        window.Fail(error);
        Assert.That(async () => await taking.AsTask().WaitAsync(TimeSpan.FromSeconds(10)), Throws.InstanceOf<InvalidOperationException>().With.Message.EqualTo("closed"));
        Assert.That(async () => await window.TakeAsync(1, CancellationToken.None), Throws.InstanceOf<InvalidOperationException>());
    }
}
