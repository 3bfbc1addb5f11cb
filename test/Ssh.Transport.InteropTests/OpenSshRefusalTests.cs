using Ssh.Transport.HostKeys;
using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests;

/// <summary>
/// What OpenSSH refuses by its own defaults: both ends must fail cleanly, with the reason, rather than hang or agree on
/// something the peer forbids.
/// </summary>
public sealed partial class OpenSshInteropTests
{
    /// <summary>
    /// ssh-rsa host keys sign with SHA-1: sshd leaves them out of its default HostKeyAlgorithms (since 8.8; 10.x too),
    /// though it still signs with them when its configuration names them (the matrix's HostKey(ssh-rsa) case). Our
    /// client offering only ssh-rsa must fail the negotiation itself, naming the host-key category.
    /// </summary>
    [TestCaseSource(nameof(Generations))]
    public Task OurClient_vs_OpenSsh_SshRsaAtSshdDefaults(PeerGeneration generation)
    {
        OpenSshPeer peer = OpenSshPeer.Of(generation);
        return Runner.RunAsync(new InteropCase(peer, InteropRole.OurClient, Dimension.Refused, "ssh-rsa host key, sshd's defaults"), async context =>
        {
            peer.RequireAvailable();
            ServerHandle server = await peer.StartServerAsync(context, new AlgorithmChoice());
            SshClientOptions options = OurSide.ClientOptions(new AlgorithmChoice { HostKey = SshHostKeyAlgorithms.RsaSha1 }, context.OurLog);
            SshAlgorithmNegotiationException? refused = null;
            try
            {
                await using SshTransport transport = await SshClientConnector.ConnectAsync("127.0.0.1", server.Port, options, TimeSpan.FromSeconds(10), context.Token);
            }
            catch (SshAlgorithmNegotiationException e)
            {
                refused = e;
            }

            context.Check(refused?.Category == SshAlgorithmCategory.HostKey, $"expected no host key algorithm in common, got {refused?.Message ?? "a completed handshake"}");
            string? sshd = await server.Process.WaitForLineAsync(l => l.Contains("no matching host key type found", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
            context.Check(sshd is not null, "sshd did not log 'no matching host key type found'");
            context.Ours = new NegotiatedView { Strict = peer.Algorithms(InteropRole.OurClient).StrictKex };
            context.Note = "both refuse: our client finds no host key algorithm in common, sshd logs \"no matching host key type found. Their offer: ssh-rsa\"";
        });
    }

    /// <summary>The same rule in ssh: our server offering only ssh-rsa is refused by ssh at its defaults.</summary>
    [TestCaseSource(nameof(Generations))]
    public Task OpenSsh_vs_OurServer_SshRsaAtSshDefaults(PeerGeneration generation)
    {
        OpenSshPeer peer = OpenSshPeer.Of(generation);
        return Runner.RunAsync(new InteropCase(peer, InteropRole.OurServer, Dimension.Refused, "ssh-rsa host key, ssh's defaults"), async context =>
        {
            peer.RequireAvailable();
            await using OurServer server = OurServer.Start(OurSide.ServerOptions(new AlgorithmChoice { HostKey = SshHostKeyAlgorithms.RsaSha1 }, context.OurLog));
            ClientHandle client = await peer.RunClientAsync(context, server.Port, new AlgorithmChoice());
            OurServer.Connection? connection = await server.WaitForFirstConnectionAsync(TimeSpan.FromSeconds(10));
            string? ssh = client.Process.Lines.FirstOrDefault(l => l.Contains("no matching host key type found", StringComparison.Ordinal));
            context.Check(client.ExitCode == 255, $"ssh exited with {client.ExitCode?.ToString() ?? "nothing (killed)"}, not 255");
            context.Check(ssh is not null, "ssh did not say 'no matching host key type found'");
            context.Check(connection?.Error is SshAlgorithmNegotiationException { Category: SshAlgorithmCategory.HostKey },
                $"expected our server to find no host key algorithm in common, got {connection?.Error?.Message ?? "no error"}");
            context.Ours = new NegotiatedView { Strict = peer.Algorithms(InteropRole.OurServer).StrictKex };
            context.Note = "both refuse: our server finds no host key algorithm in common, ssh says \"no matching host key type found. Their offer: ssh-rsa\"";
        });
    }
}
