using System.Buffers;
using System.IO.Pipelines;

namespace Ssh.Transport.Fuzz.Targets;

/// <summary>
/// Every key-exchange message in both roles, through a real <see cref="SshTransport"/> over in-memory pipes. Input:
/// byte 0 the method, byte 1 the host key algorithm and flags (see <see cref="ScriptedPeer.Build"/>), then the
/// peer's messages after its KEXINIT (uint16 length, payload; <see cref="Harness.Chunks"/>). The library's failure must
/// be a documented one, and it must end once the input has.
/// </summary>
internal static class TransportTargets
{
    public static void KexClient(byte[] input) => Run(input, ourRole: SshRole.Client);

    public static void KexServer(byte[] input) => Run(input, ourRole: SshRole.Server);

    private static void Run(byte[] input, SshRole ourRole)
    {
        if (input.Length < 2)
        {
            return;
        }

        byte[] script = ScriptedPeer.Build(peerIsServer: ourRole == SshRole.Client, input[0], input[1], Harness.Chunks(input.AsSpan(2)));
        RunAgainstScript(script, ourRole, static _ => Task.CompletedTask);
    }

    /// <summary>Runs our side against the peer's bytes; <paramref name="afterHandshake"/> runs once our handshake completes.</summary>
    public static void RunAgainstScript(byte[] script, SshRole ourRole, Func<SshTransport, Task> afterHandshake)
    {
        Pipe toUs = ScriptedPeer.NewPipe(), fromUs = ScriptedPeer.NewPipe();
        toUs.Writer.Write(script);
        toUs.Writer.Complete();
        var pipe = new DuplexPipe(toUs.Reader, fromUs.Writer);
        Task run = RunAsync(pipe, ourRole, afterHandshake);
        Harness.WaitOrHang(run, Harness.HangLimit, $"the {ourRole} transport");
        fromUs.Reader.Complete();
        run.GetAwaiter().GetResult();
    }

    private static async Task RunAsync(IDuplexPipe pipe, SshRole ourRole, Func<SshTransport, Task> afterHandshake)
    {
        SshTransport transport;
        try
        {
            transport = ourRole == SshRole.Client
                ? await SshTransport.ConnectAsync(pipe, ClientOptions())
                : await SshTransport.AcceptAsync(pipe, ServerOptions());
        }
        catch (Exception e) when (Harness.IsDocumentedProtocolFailure(e))
        {
            Harness.Trace($"{ourRole} handshake failed: {e.GetType().Name}: {e.Message}");
            return;
        }
        catch (Exception e)
        {
            throw new FuzzFindingException($"Handshake failed with an undocumented error: {e.GetType().Name}: {e.Message}", e);
        }

        await using (transport)
        {
            try
            {
                await afterHandshake(transport);
            }
            catch (Exception e) when (Harness.IsDocumentedProtocolFailure(e) || e is Connection.SshAuthenticationException)
            {
            }

            SshConnectionClosedEventArgs end = await transport.Completion;
            Harness.Trace($"{ourRole} handshake completed ({transport.Algorithms}); then {end}: {end.Error?.Message}");
            if (end.Error is { } error && !Harness.IsDocumentedProtocolFailure(error))
            {
                throw new FuzzFindingException($"The connection failed with an undocumented error: {error.GetType().Name}: {error.Message}", error);
            }
        }
    }

    public static SshClientOptions ClientOptions()
    {
        var options = new SshClientOptions { HostKeyVerifier = static (_, _) => ValueTask.FromResult(true) };
        FuzzKeys.OfferEverything(options);
        return options;
    }

    public static SshServerOptions ServerOptions()
    {
        var options = new SshServerOptions();
        FuzzKeys.OfferEverything(options);
        foreach (SshPrivateKey key in FuzzKeys.HostKeys)
        {
            options.HostKeys.Add(key);
        }

        return options;
    }
}
