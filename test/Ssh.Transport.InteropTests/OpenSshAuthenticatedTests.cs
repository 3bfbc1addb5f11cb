using System.Buffers;
using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests;

/// <summary>
/// sshd only rekeys, and only switches on zlib@openssh.com, after user authentication: these cases authenticate our
/// client with a public key (an Ed25519 key of ours in the case's AuthorizedKeysFile, for the user running the tests).
/// </summary>
public sealed partial class OpenSshInteropTests
{
    [Test]
    public Task OurClient_vs_OpenSsh_Rekey() => RekeyScenarios.OurClientFloodAsync(Peer, peerInitiated: false);

    [Test]
    public Task OurClient_vs_OpenSsh_PeerRekey() =>
        RekeyScenarios.OurClientFloodAsync(Peer, peerInitiated: true, AuthenticateAsync, AuthorizeKey);

    [Test]
    public Task OpenSsh_vs_OurServer_Rekey() => RekeyScenarios.OurServerFloodAsync(Peer);

    /// <summary>Delayed compression switched on after USERAUTH_SUCCESS, then compressed traffic both ways.</summary>
    [Test]
    public Task OurClient_vs_OpenSsh_DelayedCompressionAfterAuth() =>
        Runner.RunAsync(new InteropCase(Peer.Name, InteropRole.OurClient, Dimension.Compression, "zlib@openssh.com, after auth"), async context =>
        {
            Peer.RequireAvailable();
            AuthorizeKey(context);
            var choice = new AlgorithmChoice { Compression = "zlib@openssh.com" };
            ServerHandle server = await Peer.StartServerAsync(context, choice);
            SshTransport transport = await SshClientConnector.ConnectAsync("127.0.0.1", server.Port, OurSide.ClientOptions(choice, context.OurLog), TimeSpan.FromSeconds(10), context.Token);
            await using (transport)
            {
                context.Ours = NegotiatedView.From(transport);
                await transport.RequestServiceAsync(SshTransportOptions.UserAuthService, context.Token);
                ClientReadLoop reader = ClientReadLoop.Start(transport, context.Token);
                await AuthenticateAsync(context, transport, reader);
                long written = transport.Packetizer.BytesWritten;
                for (int i = 0; i < 64; i++)
                {
                    await transport.SendIgnoreAsync(new byte[16 * 1024], context.Token);
                }

                long wire = transport.Packetizer.BytesWritten - written;
                context.Check(wire < 64 * 16 * 1024 / 4, $"1 MiB of zeros took {wire} bytes on the wire: not compressed");
                await transport.WriteMessageAsync(0, static (w, _) =>
                {
                    var writer = new SshWriter(w);
                    writer.WriteByte(SshMessageNumber.GlobalRequest);
                    writer.WriteString("keepalive@openssh.com");
                    writer.WriteBoolean(true);
                }, context.Token);
                await reader.ExpectAsync(SshMessageNumber.RequestFailure, context.Token);
                context.Note = $"1 MiB of IGNORE zeros took {wire} bytes on the wire";
                await transport.DisconnectAsync(SshDisconnectReason.ByApplication, "interop test done", context.Token);
                await reader.StopAsync();
            }

            context.Peer = await server.NegotiatedAsync(TimeSpan.FromSeconds(5));
            Runner.CheckNegotiation(context, Peer);
        });

    private static readonly Lazy<SshHostKey> s_userKey = new(() => SshHostKey.Generate(SshHostKeyType.Ed25519));

    /// <summary>Puts our user key in the case's authorized_keys (sshd's AuthorizedKeysFile points there).</summary>
    private static void AuthorizeKey(CaseContext context) =>
        File.WriteAllText(Path.Combine(context.TempDirectory, "authorized_keys"), s_userKey.Value.PublicKey + " interop\n");

    /// <summary>RFC 4252 §7: publickey with a signature over the session id and the request; waits for USERAUTH_SUCCESS.</summary>
    private static async Task AuthenticateAsync(CaseContext context, SshTransport transport, ClientReadLoop reader)
    {
        SshHostKey key = s_userKey.Value;
        string user = Environment.UserName;
        const string Algorithm = "ssh-ed25519";
        var signed = new ArrayBufferWriter<byte>();
        {
            var writer = new SshWriter(signed);
            writer.WriteString(transport.SessionId.Span);
            WriteRequest(ref writer, user, Algorithm, key.PublicKey.Blob.Span);
        }

        var signature = new ArrayBufferWriter<byte>();
        key.Sign(Algorithm, signed.WrittenSpan, signature);
        await transport.WriteMessageAsync((user, key, signature), static (w, s) =>
        {
            var writer = new SshWriter(w);
            WriteRequest(ref writer, s.user, Algorithm, s.key.PublicKey.Blob.Span);
            writer.WriteString(s.signature.WrittenSpan);
        }, context.Token);
        await reader.ExpectAsync(SshMessageNumber.UserAuthSuccess, context.Token);
    }

    private static void WriteRequest(ref SshWriter writer, string user, string algorithm, ReadOnlySpan<byte> blob)
    {
        writer.WriteByte(SshMessageNumber.UserAuthRequest);
        writer.WriteString(user);
        writer.WriteString("ssh-connection");
        writer.WriteString("publickey");
        writer.WriteBoolean(true);
        writer.WriteString(algorithm);
        writer.WriteString(blob);
    }
}
