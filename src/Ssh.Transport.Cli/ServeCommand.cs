using System.CommandLine;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using Ssh.Transport.Connection;

namespace Ssh.Transport.Cli;

/// <summary>
/// serve: a Kestrel-hosted SSH server that completes handshakes and answers the ssh-userauth service request; with
/// --authorized-keys or --password-file it runs the library's server role (<see cref="ServeHandler"/>): logins, then
/// commands, shells, subsystems and forwardings as --allow-exec, --subsystem and --allow-tcp-forwarding allow; without
/// them it refuses every login. One line per connection as it starts and one as it ends, one per login success or
/// failure, per session and per forwarding.
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
        Option<string[]> hostCerts = CliOptions.Repeatable("--host-cert", null, "FILE",
            "an OpenSSH host certificate (ssh-keygen -s CA -h, the -cert.pub file) of a --host-key key, presented to clients that trust its CA; may be repeated");
        Option<long?> rekeyBytes = CliOptions.Bytes("--rekey-bytes", "rekey after N bytes in either direction (at least 16K; K, M, G suffixes)", 16 * 1024);
        Option<string?> authorizedKeys = CliOptions.Text("--authorized-keys", null, "FILE",
            "let in any user name with a key of this authorized_keys file (publickey); the from= and expiry-time= of a key's line are checked");
        Option<string?> passwordFile = CliOptions.Text("--password-file", null, "FILE",
            "let in the users of this file of user:password lines (password; for tests: the passwords are in clear)");
        Option<int> maxAuthTries = CliOptions.WholeNumber("--max-auth-tries", null, "N",
            $"failed login attempts before the server disconnects (default {ServeAuthentication.DefaultMaxAuthTries}, as OpenSSH's MaxAuthTries)",
            ServeAuthentication.DefaultMaxAuthTries, 1, 100);
        Option<double> loginGraceTime = CliOptions.Seconds("--login-grace-time", null,
            $"time a client has to log in (default {ServeAuthentication.DefaultLoginGraceTime}, as OpenSSH's LoginGraceTime)",
            ServeAuthentication.DefaultLoginGraceTime, 1, 24 * 3600);
        Option<string?> banner = CliOptions.Text("--banner", null, "FILE", "send the text of this file before the first login answer (SSH_MSG_USERAUTH_BANNER)");
        Option<bool> allowExec = CliOptions.Flag("--allow-exec",
            "run commands (exec) and shells as sshd does: the login shell of the account serve runs as, with -c COMMAND or -l, in its home directory (needs --authorized-keys or --password-file)");
        Option<string[]> subsystems = CliOptions.Repeatable("--subsystem", null, "NAME=COMMAND",
            "serve a subsystem with a command run by the account's shell, e.g. sftp=/usr/lib/openssh/sftp-server (for sftp and scp); may be repeated; runs without --allow-exec, as in sshd");
        Option<bool> allowTcpForwarding = CliOptions.Flag("--allow-tcp-forwarding",
            "allow ssh -L (direct-tcpip) and ssh -R (tcpip-forward), within the key's authorized_keys restrictions; remote forwardings listen on loopback only");
        Option<bool> gatewayPorts = CliOptions.Flag("--gateway-ports",
            "with --allow-tcp-forwarding: remote forwardings may listen on any address (ssh -R '*:8080:...'), as sshd's GatewayPorts");
        Option<(int Begin, int Rate, int Full)?> maxStartups = CliOptions.Parsed<(int Begin, int Rate, int Full)?>("--max-startups", null, "START:RATE:FULL",
            "above START unauthenticated connections, drop new ones with a probability rising from RATE percent to 100 at FULL (default 10:30:100, as sshd's MaxStartups)",
            null, ServeAdmission.ParseMaxStartups);
        Option<int> maxConnections = CliOptions.WholeNumber("--max-connections", null, "N",
            "connections open at once, logged in or not; more are closed at once (default 0: no limit)", 0, 0, 10_000_000);
        Option<string?> penalties = CliOptions.Text("--per-source-penalties", null, "SPEC",
            "yes, no, or sshd's PerSourcePenalties words, e.g. 'authfail:5 noauth:1 grace-exceeded:10 crash:90 max:600 min:15 max-sources4:65536 overflow:permissive' (defaults as sshd)");
        Option<(int V4, int V6)?> netBlockSize = CliOptions.Parsed<(int V4, int V6)?>("--per-source-netblock-size", null, "V4[:V6]",
            "prefix lengths that group client addresses for penalties (default 32:128, as sshd's PerSourceNetBlockSize)", null, ServeAdmission.ParseNetBlockSize);
        Option<string[]> exempt = CliOptions.Parsed("--per-source-penalty-exempt-list", null, "LIST",
            "addresses and networks never penalised, comma-separated (e.g. 127.0.0.1,10.0.0.0/8; sshd's PerSourcePenaltyExemptList)", Array.Empty<string>(), ServeAdmission.ParseExemptList);
        Option<double> statsInterval = CliOptions.Seconds("--stats-interval", null,
            "every SECONDS, log one line of connection counts, GC heap (after a full collection) and RSS (default 0: never)", 0, 0, 24 * 3600);
        Option<bool> inlineIo = CliOptions.Flag(InlineIo.ServeFlag,
            "run each connection's work on the socket threads instead of handing it to the thread pool (transport, channels, process pipes): fewer thread wake-ups per packet, less CPU per byte; a connection's handshake or a slow step then delays the other connections that share its thread");

        var command = new VerbCommand("serve", "--listen ADDRESS:PORT [options]",
            "run an SSH server (Kestrel) that logs users in with an authorized_keys file or a password file, and runs their commands, sftp and forwardings as allowed (without a login file, it refuses every login)")
        {
            Description = """
                Runs an SSH server in Kestrel. Each connection gets the key exchange and the ssh-userauth service.

                With --authorized-keys and/or --password-file, users log in (RFC 4252): publickey with a key of the
                authorized_keys file, for any user name, and password with a user:password line of the password file;
                --max-auth-tries failures end in a DISCONNECT, and so does --login-grace-time passing. A logged-in
                client gets the connection protocol (RFC 4254) of the library's server role. Without either option every
                SSH_MSG_USERAUTH_REQUEST is answered with SSH_MSG_USERAUTH_FAILURE ("publickey,password") and anything
                else is ignored until the client disconnects.

                --host-key loads the host keys (an ed25519 key is generated in memory without one); --host-cert adds an
                OpenSSH host certificate of one of them (ssh-keygen -s CA -h), which is presented to clients that ask for
                certificate algorithms (ssh with an @cert-authority line for the host in known_hosts); a certificate
                that is not a host certificate of a --host-key key is refused at start.

                Whatever the user name, commands run as the account serve runs as (no user switching): --allow-exec
                runs exec requests with that account's login shell (/etc/passwd; /bin/sh without one) as SHELL -c
                COMMAND and shells as SHELL -l, in its home directory, with sshd's environment: USER, LOGNAME, HOME,
                SHELL, PATH, SSH_CLIENT, SSH_CONNECTION, the client's LANG and LC_* and, for a forced command (command=
                of the key's authorized_keys line), SSH_ORIGINAL_COMMAND. stdin, stdout, stderr and the exit status are
                carried. A pty-req is accepted but no terminal is allocated: programs see pipes (for an interactive
                shell use ssh -T). Without --allow-exec a command or shell gets one line on stderr and exit status 1.
                --subsystem runs a subsystem's command with the same shell and environment, with or without
                --allow-exec (as sshd runs its Subsystem lines for any logged-in user); an unknown subsystem gets one
                line on stderr and exit status 1. --allow-tcp-forwarding allows ssh -L and ssh -R (remote forwardings on
                loopback unless --gateway-ports). The key's authorized_keys options are enforced: command=, no-pty,
                no-port-forwarding, permitopen=, permitlisten=, environment=, restrict, from=, expiry-time=.

                Before authentication, sshd's defences apply with its defaults (docs/security.md): above 10
                unauthenticated connections new ones are dropped with a probability rising from 30% to 100% at 100
                (--max-startups), a client address whose connections fail earns penalty time and is refused while it
                has more than 15 s (--per-source-penalties), and every connection has the login grace time from accept,
                the handshake included (--login-grace-time, 120 s without a login file). A refused connection is closed
                before the SSH banner, with one line in the log.

                One line is logged when a connection is established (peer, identification, negotiated algorithms), one
                per refused key or password and per login success or failure, one as each session starts and ends (with
                its exit status), one per forwarding, and one when the connection ends (who ended it and why, key
                exchanges, who logged in). The files are read once, at start. Runs until SIGINT or SIGTERM, which send
                each client a DISCONNECT, end the sessions and exit 0.
                """,
            Examples = """
                ssh-transport serve --listen 127.0.0.1:2222 --authorized-keys ~/.ssh/authorized_keys --allow-exec
                ssh -p 2222 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null user@127.0.0.1 'echo hi'
                ssh-transport serve --authorized-keys ./keys --subsystem sftp=/usr/lib/openssh/sftp-server
                sftp -P 2222 user@127.0.0.1
                ssh-transport serve --authorized-keys ./keys --allow-tcp-forwarding
                ssh -p 2222 -N -L 8080:localhost:80 user@127.0.0.1
                ssh-transport serve --listen *:2222 --host-key /etc/ssh/ssh_host_ed25519_key --password-file ./passwords --max-auth-tries 3
                ssh-transport serve --host-key ./host_ed25519 --host-cert ./host_ed25519-cert.pub --authorized-keys ./keys
                ssh-transport serve --listen 127.0.0.1:2222 --cipher aes256-gcm@openssh.com --rekey-bytes 1M
                """,
        };
        command.Options.Add(listen);
        command.Options.Add(hostKeys);
        command.Options.Add(hostCerts);
        var algorithms = new AlgorithmOptions(command);
        command.Options.Add(rekeyBytes);
        command.Options.Add(authorizedKeys);
        command.Options.Add(passwordFile);
        command.Options.Add(maxAuthTries);
        command.Options.Add(loginGraceTime);
        command.Options.Add(banner);
        command.Options.Add(allowExec);
        command.Options.Add(subsystems);
        command.Options.Add(allowTcpForwarding);
        command.Options.Add(gatewayPorts);
        command.Options.Add(maxStartups);
        command.Options.Add(maxConnections);
        command.Options.Add(penalties);
        command.Options.Add(netBlockSize);
        command.Options.Add(exempt);
        command.Options.Add(statsInterval);
        command.Options.Add(inlineIo);
        command.Validators.Add(result =>
        {
            if (result.GetResult(hostCerts) is { Implicit: false } && result.GetResult(hostKeys) is not { Implicit: false })
            {
                result.AddError("--host-cert certifies a host key: give its --host-key too");
                return;
            }

            bool logins = result.GetResult(authorizedKeys) is not null || result.GetResult(passwordFile) is not null;
            if (!logins && result.GetResult(allowExec) is { Implicit: false })
            {
                result.AddError("--allow-exec runs commands for logged-in users: give --authorized-keys or --password-file too");
                return;
            }

            Option[] loginOptions = [maxAuthTries, loginGraceTime, banner, subsystems, allowTcpForwarding, gatewayPorts];
            if (!logins && loginOptions.FirstOrDefault(o => result.GetResult(o) is { Implicit: false }) is { } given)
            {
                result.AddError($"{given.Name} applies to logins: give --authorized-keys or --password-file too");
                return;
            }

            if (result.GetResult(gatewayPorts) is { Implicit: false } && result.GetResult(allowTcpForwarding) is not { Implicit: false })
            {
                result.AddError("--gateway-ports applies to remote forwardings: give --allow-tcp-forwarding too");
                return;
            }

            if (ParseSubsystems(result.GetValue(subsystems) ?? [], out string? error) is null)
            {
                result.AddError(error!);
                return;
            }

            if (result.GetValue(penalties) is { } spec && ServeAdmission.ApplyPenalties(spec, new SshServerAdmissionOptions()) is { } mistake)
            {
                result.AddError(mistake);
            }
        });
        command.SetAction((result, _) =>
        {
            var options = new SshServerOptions
            {
                HandshakeTimeout = TimeSpan.FromSeconds(60),
                Packetizer = new SshPacketizerOptions { RekeyBytes = result.GetValue(rekeyBytes) ?? long.MaxValue },

                // serve's own consumers only await (sessions run processes through non-blocking pipes).
                UnsafePreferInlineScheduling = result.GetValue(inlineIo),
            };
            algorithms.Read(result).ApplyTo(options);
            var logins = new LoginSettings(
                result.GetValue(authorizedKeys), result.GetValue(passwordFile), result.GetValue(maxAuthTries), result.GetValue(loginGraceTime), result.GetValue(banner));
            Dictionary<string, string> subsystemCommands = ParseSubsystems(result.GetValue(subsystems) ?? [], out string? error)
                ?? throw new UsageException("serve: " + error);
            var sessions = new SessionSettings(result.GetValue(allowExec), subsystemCommands, result.GetValue(allowTcpForwarding), result.GetValue(gatewayPorts));
            var admission = new SshServerAdmissionOptions { MaxConnections = result.GetValue(maxConnections) };
            if (result.GetValue(maxStartups) is { } startups)
            {
                (admission.MaxStartupsBegin, admission.MaxStartupsRate, admission.MaxStartups) = startups;
            }

            if (result.GetValue(netBlockSize) is { } blocks)
            {
                (admission.SourcePrefixLengthIPv4, admission.SourcePrefixLengthIPv6) = blocks;
            }

            if (result.GetValue(penalties) is { } spec)
            {
                ServeAdmission.ApplyPenalties(spec, admission);
            }

            foreach (string network in result.GetValue(exempt) ?? [])
            {
                admission.PenaltyExemptNetworks.Add(network);
            }

            var limits = new AdmissionSettings(admission, result.GetValue(statsInterval));
            return RunAsync(result.GetRequiredValue(listen), result.GetValue(hostKeys) ?? [], result.GetValue(hostCerts) ?? [], options, logins, sessions, limits, cli);
        });
        return command;
    }

    /// <summary>The pre-authentication limits as given, and the --stats-interval in seconds (0: none).</summary>
    private sealed record AdmissionSettings(SshServerAdmissionOptions Options, double StatsInterval);

    /// <summary>The login options as given.</summary>
    private sealed record LoginSettings(string? AuthorizedKeys, string? PasswordFile, int MaxAuthTries, double LoginGraceTime, string? Banner);

    /// <summary>What logged-in users may do, as given.</summary>
    private sealed record SessionSettings(bool AllowExec, Dictionary<string, string> Subsystems, bool AllowTcpForwarding, bool GatewayPorts)
    {
        /// <summary>The sessions' settings, with the serving account read (from /etc/passwd) when commands or subsystems run.</summary>
        public ServeSessions Load() => new()
        {
            AllowExec = AllowExec,
            Subsystems = Subsystems,
            AllowTcpForwarding = AllowTcpForwarding,
            GatewayPorts = GatewayPorts,
            Account = AllowExec || Subsystems.Count > 0 ? ServeAccount.Current() : null,
        };
    }

    /// <summary>Parses the --subsystem values: NAME=COMMAND, a name without spaces or '=', each once.</summary>
    /// <returns>The commands by name; null, with the mistake in <paramref name="error"/>, when a value is not one.</returns>
    internal static Dictionary<string, string>? ParseSubsystems(string[] values, out string? error)
    {
        var subsystems = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string value in values)
        {
            int equals = value.IndexOf('=', StringComparison.Ordinal);
            string name = equals < 0 ? value : value[..equals];
            if (equals <= 0 || value[(equals + 1)..].Trim().Length == 0 || name.Any(char.IsWhiteSpace))
            {
                error = $"--subsystem expects NAME=COMMAND (e.g. sftp=/usr/lib/openssh/sftp-server), not '{value}'";
                return null;
            }

            if (!subsystems.TryAdd(name, value[(equals + 1)..].Trim()))
            {
                error = $"--subsystem {name} is given more than once";
                return null;
            }
        }

        error = null;
        return subsystems;
    }

    /// <summary>Reads the authentication files; null when neither --authorized-keys nor --password-file was given.</summary>
    /// <exception cref="UsageException">A file cannot be read, or the password file has a malformed line.</exception>
    private static ServeAuthentication? LoadAuthentication(LoginSettings settings)
    {
        if (settings.AuthorizedKeys is null && settings.PasswordFile is null)
        {
            return null;
        }

        return new ServeAuthentication
        {
            AuthorizedKeys = settings.AuthorizedKeys is { } keys ? Read("--authorized-keys", keys, SshAuthorizedKeys.Parse) : null,
            Passwords = settings.PasswordFile is { } passwords ? Read("--password-file", passwords, PasswordFile.Parse) : null,
            MaxAuthTries = settings.MaxAuthTries,
            LoginGraceTime = TimeSpan.FromSeconds(settings.LoginGraceTime),
            Banner = settings.Banner is { } banner ? Read("--banner", banner, text => text) : null,
        };

        static T Read<T>(string option, string path, Func<string, T> parse)
        {
            try
            {
                return parse(File.ReadAllText(path));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                throw new UsageException($"serve: cannot use {option} {path}: {CliMain.Describe(e)}");
            }
        }
    }

    /// <summary>Reads the host keys: the files given, or one generated.</summary>
    /// <exception cref="UsageException">A file is not an unencrypted private key.</exception>
    private static List<(SshPrivateKey Key, string Source)> LoadHostKeys(string[] files)
    {
        var keys = new List<(SshPrivateKey Key, string Source)>();
        try
        {
            foreach (string path in files)
            {
                try
                {
                    keys.Add((SshPrivateKey.Load(path), $"from {path}"));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or NotSupportedException or SshKeyPassphraseException)
                {
                    throw new UsageException($"serve: cannot use host key {path}: {CliMain.Describe(e)}");
                }
            }

            if (keys.Count == 0)
            {
                keys.Add((SshPrivateKey.Generate(SshHostKeyType.Ed25519), "generated in memory (no --host-key)"));
            }

            return keys;
        }
        catch
        {
            Dispose(keys);
            throw;
        }
    }

    private static void Dispose(List<(SshPrivateKey Key, string Source)> keys)
    {
        foreach ((SshPrivateKey key, _) in keys)
        {
            key.Dispose();
        }
    }

    /// <summary>Reads the host certificates; each must be a host certificate of one of <paramref name="keys"/>.</summary>
    /// <exception cref="UsageException">A file is not such a certificate.</exception>
    private static List<SshPublicKey> LoadHostCertificates(string[] files, List<(SshPrivateKey Key, string Source)> keys)
    {
        var certificates = new List<SshPublicKey>();
        foreach (string path in files)
        {
            SshPublicKey certificate;
            try
            {
                certificate = SshPublicKey.Parse(File.ReadAllText(path));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or NotSupportedException)
            {
                throw new UsageException($"serve: cannot use host certificate {path}: {CliMain.Describe(e)}");
            }

            string? problem = certificate.Certificate switch
            {
                null => $"it holds a plain {certificate.KeyType} key, not a certificate",
                { Type: not SshCertificateType.Host } c => $"it is a {c.Type.ToString().ToLowerInvariant()} certificate, not a host certificate (ssh-keygen -h)",
                { } c when !keys.Any(k => k.Key.PublicKey == c.Key) =>
                    $"it certifies {Algorithms.Describe(c.Key)}, which is not the key of any --host-key",
                _ => null,
            };
            if (problem is not null)
            {
                throw new UsageException($"serve: cannot use host certificate {path}: {problem}");
            }

            certificates.Add(certificate);
        }

        return certificates;
    }

    private static async Task<int> RunAsync(IPEndPoint endpoint, string[] hostKeyFiles, string[] hostCertificateFiles, SshServerOptions options, LoginSettings logins, SessionSettings sessionSettings, AdmissionSettings limits, CliContext cli)
    {
        // Every file is read before anything is printed: a mistake is the one line on stderr.
        List<(SshPrivateKey Key, string Source)> keys = LoadHostKeys(hostKeyFiles);
        try
        {
            foreach ((SshPrivateKey key, _) in keys)
            {
                options.HostKeys.Add(key);
            }

            foreach (SshPublicKey certificate in LoadHostCertificates(hostCertificateFiles, keys))
            {
                options.HostCertificates.Add(certificate);
            }

            CheckHostKeyAlgorithms(options);
            ServeAuthentication? authentication = LoadAuthentication(logins);
            if (authentication?.AuthorizedKeys is not null)
            {
                // Announced in EXT_INFO, OpenSSH's clients sign publickey-hostbound-v00@openssh.com requests (our host key in the signature).
                options.Extensions[SshAuthenticationMethods.PublicKeyHostBoundExtension] = "0";
            }

            foreach ((SshPrivateKey key, string source) in keys)
            {
                cli.Out.WriteLine($"host key: {Algorithms.Describe(key.PublicKey)} {key.KeyType}, {source}");
            }

            foreach (SshPublicKey certificate in options.HostCertificates)
            {
                SshCertificate c = certificate.Certificate!;
                cli.Out.WriteLine($"host certificate: {certificate.KeyType} {certificate.GetFingerprint()}, ID \"{c.KeyId}\", serial {c.Serial}, principals {string.Join(',', c.Principals)}, CA {Algorithms.Describe(c.CertificateAuthority)}");
            }

            ServeSessions? sessions = authentication is null ? null : sessionSettings.Load();
            WriteLogins(cli.Out, logins, authentication);
            if (sessions is not null)
            {
                cli.Out.WriteLine($"sessions: {sessions.Describe()}");
            }

            // Every connection, logins or not, has the login grace time from accept (sshd's LoginGraceTime).
            var admission = new ServeAdmission(limits.Options, authentication?.LoginGraceTime ?? TimeSpan.FromSeconds(ServeAuthentication.DefaultLoginGraceTime), cli.Out);
            SshServerAdmissionOptions a = limits.Options;
            cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"limits: max-startups {a.MaxStartupsBegin}:{a.MaxStartupsRate}:{a.MaxStartups}, max-connections {(a.MaxConnections == 0 ? "none" : a.MaxConnections)}, login grace time {admission.LoginGraceTime.TotalSeconds:0.###} s, per-source penalties {(a.PerSourcePenalties ? $"on (authfail {a.PenaltyAuthFail.TotalSeconds:0.###} s, noauth {a.PenaltyNoAuth.TotalSeconds:0.###} s, grace-exceeded {a.PenaltyGraceExceeded.TotalSeconds:0.###} s, crash {a.PenaltyCrash.TotalSeconds:0.###} s, min {a.PenaltyMin.TotalSeconds:0.###} s, max {a.PenaltyMax.TotalSeconds:0.###} s)" : "off")}"));
            await using ServeHost host = await ServeHost.StartAsync(endpoint, options, cli.Out, cli.Cancellation, authentication: authentication, sessions: sessions, admission: admission).ConfigureAwait(false);
            cli.Out.WriteLine($"listening on {FormatEndPoint(host.LocalEndPoint)}; SIGINT or SIGTERM stops");
            cli.Out.Flush();
            Task stats = limits.StatsInterval > 0
                ? admission.WriteStatsAsync(TimeSpan.FromSeconds(limits.StatsInterval), cli.Out, cli.Cancellation)
                : Task.CompletedTask;
            try
            {
                await Task.Delay(Timeout.Infinite, cli.Cancellation).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // SIGINT/SIGTERM: stop cleanly below.
            }

            await stats.ConfigureAwait(false);
            cli.Out.WriteLine("stopping");
            await host.StopAsync().ConfigureAwait(false);
            cli.Out.WriteLine($"stopped after {host.ConnectionCount} connection(s)");
            cli.Out.Flush();
            return 0;
        }
        finally
        {
            Dispose(keys);
        }
    }

    /// <summary>Who may log in, and the authorized_keys lines that were skipped (with why).</summary>
    private static void WriteLogins(TextWriter output, LoginSettings settings, ServeAuthentication? authentication)
    {
        if (authentication is null)
        {
            output.WriteLine("logins: none (every login is refused; see --authorized-keys and --password-file)");
            return;
        }

        output.WriteLine($"logins: {authentication.Describe(settings.AuthorizedKeys, settings.PasswordFile)}");
        foreach (SshAuthorizedKeysSkippedLine skipped in authentication.AuthorizedKeys?.SkippedLines ?? [])
        {
            output.WriteLine($"authorized keys: {settings.AuthorizedKeys} {skipped.ToString().TrimEnd('.')}; skipped");
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
