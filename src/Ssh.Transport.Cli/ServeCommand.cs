using System.CommandLine;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace Ssh.Transport.Cli;

/// <summary>
/// serve: a Kestrel-hosted SSH server that completes handshakes, answers the ssh-userauth service request, and
/// refuses every authentication attempt, logging one line per connection as it starts and one as it ends.
/// </summary>
internal static class ServeCommand
{
    /// <summary>The serve verb: its options, help and action.</summary>
    public static VerbCommand Create(CliContext cli)
    {
        Option<IPEndPoint> listen = CliOptions.Parsed("--listen", "-l", "ADDRESS:PORT",
            "where to listen: 127.0.0.1:2222, [::1]:2222, localhost:2222, *:2222; port 0 picks a free port (default 127.0.0.1:2222)",
            new IPEndPoint(IPAddress.Loopback, 2222), text => (TryParseListen(text, out IPEndPoint? endpoint, out string? error) ? endpoint : null!, error));
        Option<string[]> hostKeys = CliOptions.Repeatable("--host-key", "-k", "FILE",
            "an OpenSSH or PEM private key file (unencrypted); may be repeated. Without one, an ed25519 key is generated in memory.");
        Option<long?> rekeyBytes = CliOptions.Bytes("--rekey-bytes", "rekey after N bytes in either direction (at least 16K; K, M, G suffixes)", 16 * 1024);

        var command = new VerbCommand("serve", "--listen ADDRESS:PORT [options]",
            "run an SSH server (Kestrel) that completes handshakes and refuses every login")
        {
            Description = """
                Runs an SSH server in Kestrel. Each connection gets the key exchange and the ssh-userauth service; every
                SSH_MSG_USERAUTH_REQUEST is answered with SSH_MSG_USERAUTH_FAILURE ("publickey,password"), anything else
                is ignored until the client disconnects. One line is logged when a connection is established (peer,
                identification, negotiated algorithms) and one when it ends (who ended it and why, key exchanges,
                messages). Runs until SIGINT or SIGTERM.
                """,
            Examples = """
                ssh-transport serve --listen 127.0.0.1:2222
                ssh-transport serve --listen *:2222 --host-key /etc/ssh/ssh_host_ed25519_key --cipher aes256-gcm@openssh.com
                ssh -p 2222 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null user@127.0.0.1
                """,
        };
        command.Options.Add(listen);
        command.Options.Add(hostKeys);
        var algorithms = new AlgorithmOptions(command);
        command.Options.Add(rekeyBytes);
        command.SetAction((result, _) =>
        {
            var options = new SshServerOptions
            {
                HandshakeTimeout = TimeSpan.FromSeconds(60),
                Packetizer = new SshPacketizerOptions { RekeyBytes = result.GetValue(rekeyBytes) ?? long.MaxValue },
            };
            algorithms.Read(result).ApplyTo(options);
            return RunAsync(result.GetRequiredValue(listen), result.GetValue(hostKeys) ?? [], options, cli);
        });
        return command;
    }

    private static async Task<int> RunAsync(IPEndPoint endpoint, string[] hostKeyFiles, SshServerOptions options, CliContext cli)
    {
        var keys = new List<SshPrivateKey>();
        try
        {
            if (hostKeyFiles.Length == 0)
            {
                keys.Add(SshPrivateKey.Generate(SshHostKeyType.Ed25519));
                cli.Out.WriteLine($"host key: {Algorithms.Describe(keys[0].PublicKey)} {keys[0].KeyType}, generated in memory (no --host-key)");
            }

            foreach (string path in hostKeyFiles)
            {
                SshPrivateKey key;
                try
                {
                    key = SshPrivateKey.Load(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or NotSupportedException or SshKeyPassphraseException)
                {
                    throw new UsageException($"serve: cannot use host key {path}: {CliMain.Describe(e)}");
                }

                keys.Add(key);
                options.HostKeys.Add(key);
                cli.Out.WriteLine($"host key: {Algorithms.Describe(key.PublicKey)} {key.KeyType}, from {path}");
            }

            if (options.HostKeys.Count == 0)
            {
                options.HostKeys.Add(keys[0]);
            }

            CheckHostKeyAlgorithms(options);

            await using ServeHost host = await ServeHost.StartAsync(endpoint, options, cli.Out, cli.Cancellation).ConfigureAwait(false);
            cli.Out.WriteLine($"listening on {FormatEndPoint(host.LocalEndPoint)}; SIGINT or SIGTERM stops");
            cli.Out.Flush();
            try
            {
                await Task.Delay(Timeout.Infinite, cli.Cancellation).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // SIGINT/SIGTERM: stop cleanly below.
            }

            cli.Out.WriteLine("stopping");
            await host.StopAsync().ConfigureAwait(false);
            cli.Out.WriteLine($"stopped after {host.ConnectionCount} connection(s)");
            cli.Out.Flush();
            return 0;
        }
        finally
        {
            foreach (SshPrivateKey key in keys)
            {
                key.Dispose();
            }
        }
    }

    /// <summary>Parses ADDRESS:PORT: an IPv4 address, [IPv6], localhost or * (every address).</summary>
    /// <returns>False, with the mistake in <paramref name="error"/>, when <paramref name="text"/> is not one.</returns>
    internal static bool TryParseListen(string text, [NotNullWhen(true)] out IPEndPoint? endpoint, out string? error)
    {
        endpoint = null;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = $"--listen expects ADDRESS:PORT (e.g. 127.0.0.1:2222 or [::1]:2222), not '{text}'";
            return false;
        }

        string address = text[..colon];
        string portText = text[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
        {
            error = $"--listen has a bad port '{portText}' (0-65535)";
            return false;
        }

        if (address.Length > 2 && address[0] == '[' && address[^1] == ']')
        {
            address = address[1..^1];
        }

        IPAddress? ip = address switch
        {
            "localhost" => IPAddress.Loopback,
            "*" => IPAddress.IPv6Any,
            _ => IPAddress.TryParse(address, out IPAddress? parsed) ? parsed : null,
        };
        if (ip is null)
        {
            error = $"--listen needs an IP address, localhost or *, not '{address}'";
            return false;
        }

        endpoint = new IPEndPoint(ip, port);
        error = null;
        return true;
    }

    internal static string FormatEndPoint(IPEndPoint endpoint) =>
        endpoint.Address.Equals(IPAddress.IPv6Any) ? $"*:{endpoint.Port}" : endpoint.ToString();

    private static void CheckHostKeyAlgorithms(SshServerOptions options)
    {
        bool any = options.HostKeyAlgorithms.Any(name => options.HostKeys.Any(key => key.SignatureAlgorithms.Contains(name)));
        if (!any)
        {
            string canSign = string.Join(',', options.HostKeys.SelectMany(k => k.SignatureAlgorithms).Distinct());
            throw new UsageException(
                $"serve: none of the host key algorithms ({string.Join(',', options.HostKeyAlgorithms)}) can be used with the host keys given, which sign with {canSign}");
        }
    }
}
