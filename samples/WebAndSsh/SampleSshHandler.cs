using System.Text;
using Ssh.Transport;
using Ssh.Transport.Connection;

namespace WebAndSsh;

/// <summary>
/// The SSH side of the sample: keys of an authorized_keys file log in; a few built-in commands, no shell and no
/// processes (an application decides what its SSH users may do; this one only reads its own state).
/// </summary>
public sealed class SampleSshHandler(AuthorizedKeysStore keys, VisitCounter visits, ILogger<SampleSshHandler> logger) : SshServerHandler
{
    /// <inheritdoc/>
    public override ValueTask<SshAuthorizedKey?> AuthenticatePublicKeyAsync(SshAuthenticationContext context, SshPublicKey key, CancellationToken cancellationToken) =>
        ValueTask.FromResult(keys.Current.Find(key, context.RemoteEndPoint, DateTimeOffset.UtcNow));

    /// <inheritdoc/>
    public override async Task RunSessionAsync(SshServerSession session, CancellationToken cancellationToken)
    {
        if (session.Kind != SshSessionKind.Exec)
        {
            await WriteAsync(session.ErrorOutput, "This server runs commands only: ssh HOST visits|whoami|echo TEXT\n", cancellationToken);
            await session.ExitAsync(1, cancellationToken);
            return;
        }

        string command = session.Command ?? string.Empty;
        logger.LogInformation("{User} runs {Command}", session.User.UserName, command);
        (string output, int status) = command.Split(' ', 2) switch
        {
            ["visits"] => ($"{visits.Count}\n", 0),
            ["whoami"] => ($"{session.User.UserName}\n", 0),
            ["echo", var text] => (text + "\n", 0),
            ["echo"] => ("\n", 0),
            _ => (string.Empty, 127),
        };
        if (status == 127)
        {
            await WriteAsync(session.ErrorOutput, $"{command}: command not found\n", cancellationToken);
        }
        else
        {
            await WriteAsync(session.Output, output, cancellationToken);
        }

        await session.ExitAsync(status, cancellationToken);
    }

    private static async Task WriteAsync(System.IO.Pipelines.PipeWriter writer, string text, CancellationToken cancellationToken) =>
        await writer.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
}

/// <summary>The authorized_keys file, read again when it changes on disk.</summary>
public sealed class AuthorizedKeysStore(string path)
{
    private readonly Lock _lock = new();
    private SshAuthorizedKeys _keys = SshAuthorizedKeys.Parse(string.Empty);
    private DateTime _stamp;

    /// <summary>The keys as the file holds them now; none while it is missing.</summary>
    public SshAuthorizedKeys Current
    {
        get
        {
            lock (_lock)
            {
                DateTime stamp = File.Exists(path) ? File.GetLastWriteTimeUtc(path) : default;
                if (stamp != _stamp)
                {
                    _keys = stamp == default ? SshAuthorizedKeys.Parse(string.Empty) : SshAuthorizedKeys.Load(path);
                    _stamp = stamp;
                }

                return _keys;
            }
        }
    }
}
