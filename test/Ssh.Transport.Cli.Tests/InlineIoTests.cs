using System.IO.Pipes;

namespace Ssh.Transport.Cli.Tests;

/// <summary>Which command lines run their I/O inline, and which outputs exec may write on the connection's thread.</summary>
public class InlineIoTests
{
    [TestCase(new[] { "exec", "host", "true" }, true)]
    [TestCase(new[] { "serve", "--inline-io" }, true)]
    [TestCase(new[] { "serve", "--allow-exec" }, false)]
    [TestCase(new[] { "probe", "--inline-io" }, false)]
    [TestCase(new string[0], false)]
    public void Exec_always_and_serve_with_the_flag_run_inline(string[] args, bool inline) =>
        Assert.That(InlineIo.Wanted(args), Is.EqualTo(inline));

    [Test]
    public void A_file_never_waits_for_a_reader_and_a_pipe_may()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("file descriptors");
        }

        string path = Path.GetTempFileName();
        try
        {
            using (FileStream file = File.OpenWrite(path))
            {
                Assert.That(InlineIo.NeverWaits((int)file.SafeFileHandle.DangerousGetHandle()), Is.True, "a regular file");
            }

            using (FileStream devNull = File.OpenWrite("/dev/null"))
            {
                Assert.That(InlineIo.NeverWaits((int)devNull.SafeFileHandle.DangerousGetHandle()), Is.True, "/dev/null");
            }

            using var pipe = new AnonymousPipeServerStream(PipeDirection.Out);
            Assert.That(InlineIo.NeverWaits((int)pipe.SafePipeHandle.DangerousGetHandle()), Is.False, "a pipe");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
