using System.Net;

namespace Ssh.Transport.Cli;

/// <summary>
/// serve: a Kestrel-hosted SSH server that completes handshakes, answers the ssh-userauth service request, and
/// refuses every authentication attempt, logging one line per connection as it starts and one as it ends.
/// </summary>
internal static class ServeCommand
{
    public static IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--listen", "-l"),
        new("--host-key", "-k", Repeatable: true),
        new("--kex"),
        new("--hostkey"),
        new("--cipher"),
        new("--mac"),
        new("--compression"),
        new("--rekey-bytes"),
    ];

    public const string Usage = """
        usage: ssh-transport serve --listen ADDRESS:PORT [options]

        Runs an SSH server in Kestrel. Each connection gets the key exchange and the ssh-userauth service; every
        SSH_MSG_USERAUTH_REQUEST is answered with SSH_MSG_USERAUTH_FAILURE ("publickey,password"), anything else
        is ignored until the client disconnects. One line is logged when a connection is established (peer,
        identification, negotiated algorithms) and one when it ends (who ended it and why, key exchanges,
        messages). Runs until SIGINT or SIGTERM.

        options:
          -l, --listen ADDRESS:PORT  where to listen: 127.0.0.1:2222, [::1]:2222, localhost:2222, *:2222;
                                     port 0 picks a free port (default 127.0.0.1:2222)
          -k, --host-key FILE        an OpenSSH or PEM private key file (unencrypted); may be repeated.
                                     Without one, an ed25519 key is generated in memory.
          --kex LIST                 key exchange methods, comma-separated, in preference order
          --hostkey LIST             host key signature algorithms
          --cipher LIST              ciphers (both directions)
          --mac LIST                 MACs
          --compression LIST         none, zlib@openssh.com, zlib
          --rekey-bytes N            rekey after N bytes in either direction (at least 16K; K, M, G suffixes)
          -h, --help                 this text

        examples:
          ssh-transport serve --listen 127.0.0.1:2222
          ssh-transport serve --listen *:2222 --host-key /etc/ssh/ssh_host_ed25519_key --cipher aes256-gcm@openssh.com
          ssh -p 2222 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null user@127.0.0.1
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CliContext cli)
    {
        ParsedArguments parsed = ParsedArguments.Parse("serve", args, Options);
        if (parsed.Help)
        {
            cli.Out.WriteLine(Usage);
            return 0;
        }

        parsed.ExpectPositionals(0, 0, "nothing");
        IPEndPoint endpoint = ParseListen(parsed.Value("--listen") ?? "127.0.0.1:2222");
        var options = new SshServerOptions
        {
            HandshakeTimeout = TimeSpan.FromSeconds(60),
            Packetizer = new SshPacketizerOptions { RekeyBytes = parsed.Bytes("--rekey-bytes", 16 * 1024) ?? long.MaxValue },
        };
        Algorithms.Apply("serve", parsed, options);

        var keys = new List<SshPrivateKey>();
        try
        {
            if (parsed.Values("--host-key").Count == 0)
            {
                keys.Add(SshPrivateKey.Generate(SshHostKeyType.Ed25519));
                cli.Out.WriteLine($"host key: {Algorithms.Describe(keys[0].PublicKey)} {keys[0].KeyType}, generated in memory (no --host-key)");
            }

            foreach (string path in parsed.Values("--host-key"))
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
    internal static IPEndPoint ParseListen(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            throw new UsageException($"serve: --listen expects ADDRESS:PORT (e.g. 127.0.0.1:2222 or [::1]:2222), not '{text}'");
        }

        string address = text[..colon];
        string portText = text[(colon + 1)..];
        if (!int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) || port > 65535)
        {
            throw new UsageException($"serve: --listen has a bad port '{portText}' (0-65535)");
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
        return ip is null
            ? throw new UsageException($"serve: --listen needs an IP address, localhost or *, not '{address}'")
            : new IPEndPoint(ip, port);
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
