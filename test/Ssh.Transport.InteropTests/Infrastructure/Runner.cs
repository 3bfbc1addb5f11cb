using System.Diagnostics;

namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>
/// Runs a case with diagnostics: a failure reports the mismatches, our exception, our log tail and each peer's own
/// debug log tail; every outcome is appended to the matrix results.
/// </summary>
internal static class Runner
{
    public static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(90);

    public static async Task RunAsync(InteropCase interopCase, Func<CaseContext, Task> body, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? CaseTimeout;
        await using var context = new CaseContext(interopCase, limit);
        var clock = Stopwatch.StartNew();
        Exception? error = null;
        try
        {
            await body(context).WaitAsync(limit);
        }
        catch (IgnoreException e)
        {
            ResultLog.Case(context, "skipped", e.Message, clock.Elapsed);
            throw;
        }
        catch (Exception e)
        {
            error = e;
        }

        await context.StopPeersAsync();
        await File.WriteAllLinesAsync(context.LogPath("ours"), context.OurLog.Lines);
        bool passed = error is null && context.Mismatches.Count == 0;
        string? detail = passed ? null : (context.Mismatches.Count > 0 ? context.Mismatches[0] : null) ?? $"{error!.GetType().Name}: {error.Message}";
        ResultLog.Case(context, passed ? "pass" : "fail", detail, clock.Elapsed);
        if (!passed)
        {
            Assert.Fail(context.Report(error));
        }

        await TestContext.Out.WriteLineAsync($"{context.Name}: ours {context.Ours}; peer {context.Peer?.ToString() ?? "(not reported)"}{(context.Note is null ? string.Empty : "; " + context.Note)}");
    }

    /// <summary>Our client against the peer's server: handshake, ssh-userauth, one refused "none" authentication.</summary>
    public static Task OurClientAsync(Peer peer, InteropCase interopCase) => RunAsync(interopCase, async context =>
    {
        peer.RequireAvailable();
        ServerHandle server = await peer.StartServerAsync(context, interopCase.Choice);
        SshClientOptions options = OurSide.ClientOptions(interopCase.Choice, context.OurLog);
        SshTransport transport = await SshClientConnector.ConnectAsync("127.0.0.1", server.Port, options, TimeSpan.FromSeconds(10), context.Token);
        await using (transport)
        {
            context.Ours = NegotiatedView.From(transport);
            await transport.RequestServiceAsync(SshTransportOptions.UserAuthService, context.Token);
            await OurSide.SendUserAuthNoneAsync(transport, "interop", context.Token);
            string methods = await OurSide.ReadUserAuthFailureAsync(transport, context.Token);
            context.Note = $"server offered {methods}";
            await transport.DisconnectAsync(SshDisconnectReason.ByApplication, "interop test done", context.Token);
        }

        context.Peer = await server.NegotiatedAsync(TimeSpan.FromSeconds(5));
        CheckNegotiation(context, peer);
    });

    /// <summary>The peer's client against our server, which refuses every authentication request.</summary>
    public static Task OurServerAsync(Peer peer, InteropCase interopCase) => RunAsync(interopCase, async context =>
    {
        peer.RequireAvailable();
        await using OurServer server = OurServer.Start(OurSide.ServerOptions(interopCase.Choice, context.OurLog));
        ClientHandle client = await peer.RunClientAsync(context, server.Port, interopCase.Choice);
        OurServer.Connection? connection = await server.WaitForFirstConnectionAsync(TimeSpan.FromSeconds(10));
        context.Peer = client.View;
        ExpectRefusedConnection(context, connection, client);
        CheckNegotiation(context, peer);
    });

    /// <summary>Our server's side of a connection whose client was refused at authentication.</summary>
    public static void ExpectRefusedConnection(CaseContext context, OurServer.Connection? connection, ClientHandle client)
    {
        if (connection is null)
        {
            throw new InvalidOperationException($"The peer client never connected (exit code {client.ExitCode?.ToString() ?? "none: killed"}).");
        }

        if (connection.Transport is null)
        {
            throw new InvalidOperationException("Our server's handshake failed.", connection.Error);
        }

        context.Ours = NegotiatedView.From(connection.Transport);
        if (!connection.EndedNormally)
        {
            throw new InvalidOperationException($"Our server's connection ended badly after {connection.AuthRequestCount} authentication request(s).", connection.Error);
        }

        context.Check(client.SawAuthRefusal, "the peer client's output does not show our USERAUTH_FAILURE");
        context.Check(connection.Unexpected.Count == 0, $"unexpected messages: {string.Join(',', connection.Unexpected)}");
    }

    /// <summary>Both sides agree with each other, with the case's algorithm, and on strict kex.</summary>
    public static void CheckNegotiation(CaseContext context, Peer peer)
    {
        NegotiatedView ours = context.Ours ?? throw new InvalidOperationException("Our side completed no key exchange.");
        InteropCase c = context.Case;
        switch (c.Dimension)
        {
            case Dimension.Kex:
                context.ExpectEqual("kex", c.Algorithm, ours.Kex);
                break;
            case Dimension.HostKey:
                context.ExpectEqual("host key algorithm", c.Algorithm, ours.HostKey);
                break;
            case Dimension.Cipher:
                context.ExpectEqual("cipher c2s", c.Algorithm, ours.CipherClientToServer);
                context.ExpectEqual("cipher s2c", c.Algorithm, ours.CipherServerToClient);
                break;
            case Dimension.Mac:
                context.ExpectEqual("cipher c2s", InteropCase.MacCaseCipher, ours.CipherClientToServer);
                context.ExpectEqual("MAC c2s", c.Algorithm, ours.MacClientToServer);
                context.ExpectEqual("MAC s2c", c.Algorithm, ours.MacServerToClient);
                break;
            case Dimension.CompressionServerToClient:
                context.ExpectEqual("compression c2s", "none", ours.CompressionClientToServer);
                context.ExpectEqual("compression s2c", c.Algorithm, ours.CompressionServerToClient);
                break;
            case Dimension.Compression or Dimension.CompressionAfterAuth:
                context.ExpectEqual("compression c2s", c.Algorithm, ours.CompressionClientToServer);
                context.ExpectEqual("compression s2c", c.Algorithm, ours.CompressionServerToClient);
                break;
        }

        bool peerStrict = peer.Algorithms(c.Role).StrictKex;
        context.Check(ours.Strict == peerStrict, $"strict kex: the peer {(peerStrict ? "offers" : "does not offer")} it, ours is {(ours.Strict == true ? "on" : "off")}");

        NegotiatedView? theirs = context.Peer;
        if (theirs is null)
        {
            return;
        }

        Same(context, "kex", ours.Kex, theirs.Kex);
        Same(context, "host key algorithm", ours.HostKey, theirs.HostKey);
        Same(context, "cipher c2s", ours.CipherClientToServer, theirs.CipherClientToServer);
        Same(context, "cipher s2c", ours.CipherServerToClient, theirs.CipherServerToClient);
        if (!OurSide.IsAead(ours.CipherClientToServer))
        {
            Same(context, "MAC c2s", ours.MacClientToServer, theirs.MacClientToServer);
        }

        if (!OurSide.IsAead(ours.CipherServerToClient))
        {
            Same(context, "MAC s2c", ours.MacServerToClient, theirs.MacServerToClient);
        }

        Same(context, "compression c2s", ours.CompressionClientToServer, theirs.CompressionClientToServer);
        Same(context, "compression s2c", ours.CompressionServerToClient, theirs.CompressionServerToClient);
        if (theirs.Strict is not null)
        {
            context.Check(theirs.Strict == ours.Strict, $"strict kex: the peer says {theirs.Strict}, we say {ours.Strict}");
        }
    }

    private static void Same(CaseContext context, string what, string? ours, string? theirs)
    {
        if (theirs is not null)
        {
            context.Check(string.Equals(ours, theirs, StringComparison.Ordinal), $"{what}: we agreed on {ours ?? "(none)"}, the peer on {theirs}");
        }
    }
}
