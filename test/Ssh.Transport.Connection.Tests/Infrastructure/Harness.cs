using System.IO.Pipelines;

namespace Ssh.Transport.Connection.Tests.Infrastructure;

/// <summary>Our client and server transports joined by in-memory pipes, with keys made once per run.</summary>
internal static class Harness
{
    private static readonly Lazy<Dictionary<SshHostKeyType, SshPrivateKey>> s_keys = new(() => new()
    {
        [SshHostKeyType.Ed25519] = SshPrivateKey.Generate(SshHostKeyType.Ed25519),
        [SshHostKeyType.EcdsaNistP256] = SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP256),
        [SshHostKeyType.EcdsaNistP384] = SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP384),
        [SshHostKeyType.EcdsaNistP521] = SshPrivateKey.Generate(SshHostKeyType.EcdsaNistP521),
        [SshHostKeyType.Rsa] = SshPrivateKey.Generate(SshHostKeyType.Rsa, 2048),
    });

    private static readonly Lazy<SshPrivateKey> s_hostKey = new(() => SshPrivateKey.Generate(SshHostKeyType.Ed25519));
    private static readonly Lazy<SshPrivateKey> s_otherEd25519 = new(() => SshPrivateKey.Generate(SshHostKeyType.Ed25519));

    /// <summary>A user key of each type (the same for the whole run).</summary>
    public static SshPrivateKey UserKey(SshHostKeyType type) => s_keys.Value[type];

    /// <summary>An Ed25519 key no server trusts.</summary>
    public static SshPrivateKey StrangerKey => s_otherEd25519.Value;

    public static SshServerOptions ServerOptions()
    {
        var options = new SshServerOptions { HandshakeTimeout = TimeSpan.FromSeconds(30) };
        options.HostKeys.Add(s_hostKey.Value);
        return options;
    }

    public static SshClientOptions ClientOptions() => new()
    {
        HandshakeTimeout = TimeSpan.FromSeconds(30),
        HostKeyVerifier = (_, _) => ValueTask.FromResult(true),
    };

    public static async Task<(SshTransport Client, SshTransport Server)> ConnectAsync(SshClientOptions? client = null, SshServerOptions? server = null)
    {
        var pipes = new PipePair();
        Task<SshTransport> accepting = SshTransport.AcceptAsync(pipes.Server, server ?? ServerOptions());
        Task<SshTransport> connecting = SshTransport.ConnectAsync(pipes.Client, client ?? ClientOptions());
        await WhenBothOrFirstFailure(accepting, connecting);
        return (await connecting, await accepting);
    }

    /// <summary>Awaits both; if one fails first, its exception surfaces rather than the other hanging.</summary>
    public static async Task WhenBothOrFirstFailure(Task a, Task b)
    {
        Task first = await Task.WhenAny(a, b).WaitAsync(TimeSpan.FromSeconds(15));
        await first;
        await (first == a ? b : a).WaitAsync(TimeSpan.FromSeconds(15));
    }

    /// <summary>Awaits a task that must fail with <typeparamref name="T"/>, within a minute.</summary>
    public static async Task<T> Throws<T>(Task task)
        where T : Exception
    {
        try
        {
            await task.WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch (T e)
        {
            return e;
        }

        Assert.Fail($"Expected {typeof(T).Name}, but the task completed.");
        throw new InvalidOperationException();
    }
}
