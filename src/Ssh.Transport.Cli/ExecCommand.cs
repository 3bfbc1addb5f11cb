using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Ssh.Transport.Connection;

namespace Ssh.Transport.Cli;

/// <summary>
/// exec: runs a command on an SSH server with ssh HOST COMMAND's contract: standard input copied to it (its end sent
/// as EOF), its standard output and error copied back as raw bytes, and the tool exits with its exit status; 255 when
/// there is none (a connection or login failure, said in one line; a command killed by a signal, said in none).
/// </summary>
internal static class ExecCommand
{
    /// <summary>
    /// exec's exit code when the command's own status cannot be given, as ssh's: the connection, the login or the host
    /// key failed, the command was killed by a signal or its status never came, or exec was interrupted.
    /// </summary>
    public const int ExitNoStatus = 255;

    /// <summary>How long the output copies may take to end after an interruption or a local failure.</summary>
    private static readonly TimeSpan s_closeTime = TimeSpan.FromSeconds(2);

    /// <summary>The exec verb: its arguments, options, help and action.</summary>
    public static VerbCommand Create(CliContext cli)
    {
        var host = new Argument<string?>("HOST")
        {
            Description = "the server, as HOST or USER@HOST (a host name, an IP address, [::1] as well as ::1)",
            Arity = ArgumentArity.ZeroOrOne, // missing: the validator's line below
        };
        var commandWords = new Argument<string[]>("COMMAND")
        {
            Description = "the command, run by the user's shell on the server; its words are joined with spaces, as ssh does, and taken as they are (options among them too)",
            Arity = ArgumentArity.ZeroOrMore, // from its first word on, as ssh takes them (VerbatimAfterArguments below)
        };
        Option<int> port = CliOptions.WholeNumber("--port", "-p", "PORT", "TCP port (default 22)", 22, 1, 65535);
        Option<string?> user = CliOptions.Text("--user", "-l", "USER", "the user to log in as (default: USER@ of HOST, else the local user)");
        Option<string[]> identities = CliOptions.Repeatable("--identity", "-i", "FILE",
            "a private key file (OpenSSH or PEM), repeatable, tried in order; default: those of ~/.ssh/id_ed25519, id_ecdsa and id_rsa that exist and open. The agent's keys (SSH_AUTH_SOCK) come after them");
        Option<string?> passwordFile = CliOptions.Text("--password-file", null, "FILE", "log in with a password: the first line of FILE (for password and keyboard-interactive)");
        Option<string?> passphraseFile = CliOptions.Text("--passphrase-file", null, "FILE", "the passphrase of encrypted key files: the first line of FILE");
        Option<string?> knownHosts = CliOptions.Text("--known-hosts", null, "FILE", "verify the host key against this known_hosts file (default ~/.ssh/known_hosts)");
        Option<bool> acceptAny = CliOptions.Flag("--accept-any-host-key", "do not verify the host key (testing only)");
        Option<double> timeout = CliOptions.Seconds("--timeout", null, "for connecting, the handshake and logging in, all together (default 30)", 30, 0.1, 24 * 3600);
        Option<long?> rekeyBytes = CliOptions.Bytes("--rekey-bytes", "rekey after N bytes in either direction (at least 16K)", 16 * 1024);
        Option<double> keepAlive = CliOptions.Seconds("--keepalive", null,
            "after SECONDS without a packet from the server, ask it for an answer (ssh's ServerAliveInterval; default 0: never)", 0, 0, 24 * 3600);
        Option<int> keepAliveCount = CliOptions.WholeNumber("--keepalive-count", null, "N",
            "with --keepalive: give up after N unanswered (ssh's ServerAliveCountMax; default 3)", 3, 1, 1000);

        var command = new VerbCommand("exec", "[options] HOST COMMAND...",
            "run a command on an SSH server, as 'ssh HOST COMMAND' does: standard input, output and error copied, its exit status returned")
        {
            Description = """
                Connects, verifies the host key, logs in (publickey with the key files, then the agent's keys, then
                --password-file's password) and runs COMMAND, as 'ssh HOST COMMAND' does. Standard input is copied to
                the command, a terminal's too (its end is sent as EOF; give '< /dev/null' for none, as ssh -n); the
                command's standard output and standard error come back on exec's own, apart, byte for byte as they
                arrive. exec exits with the command's exit status. 255 means there is none, as with ssh: the
                connection, the host key check or the login failed (one line on stderr says why), the command was
                killed by a signal or its status never came (nothing more is said, as ssh says nothing), or exec was
                interrupted by SIGINT or SIGTERM (it disconnects at once, as ssh does; one line). A mistake on the
                command line exits 2: options, and -i, --password-file or --passphrase-file files that cannot be
                read, or an encrypted -i key without its passphrase.
                """,
            Notes = """
                Options may come before HOST and between HOST and COMMAND; from COMMAND's first word on, every word is
                COMMAND's (as with ssh: 'exec host ls -l' runs 'ls -l'). A LIST replaces the default list; N may end
                in K, M or G (powers of 1024).
                """,
            Examples = """
                ssh-transport exec build@ci.example.com 'make -C /src test'
                ssh-transport exec -p 2222 -i ~/.ssh/id_ed25519 127.0.0.1 uname -a
                tar cz ./site | ssh-transport exec web1 'tar xz -C /srv/www'
                ssh-transport exec db1 'pg_dump app' > app.sql
                ssh-transport exec 127.0.0.1 -p 2222 --known-hosts ./known_hosts --password-file ./pw -l tester 'echo hi'
                """,
            VerbatimAfterArguments = 1,
        };
        command.Arguments.Add(host);
        command.Arguments.Add(commandWords);
        command.Options.Add(port);
        command.Options.Add(user);
        command.Options.Add(identities);
        command.Options.Add(passwordFile);
        command.Options.Add(passphraseFile);
        command.Options.Add(knownHosts);
        command.Options.Add(acceptAny);
        var algorithms = new AlgorithmOptions(command);
        command.Options.Add(rekeyBytes);
        command.Options.Add(timeout);
        command.Options.Add(keepAlive);
        command.Options.Add(keepAliveCount);
        command.Validators.Add(result =>
        {
            if (result.GetValue(host) is not { } target)
            {
                result.AddError("missing HOST (see 'ssh-transport exec --help')");
            }
            else if (ParseTarget(target, result.GetValue(user), out _, out _) is { } mistake)
            {
                result.AddError(mistake);
            }
            else if (result.GetValue(commandWords) is not { Length: > 0 })
            {
                result.AddError("missing COMMAND (exec runs a command; it does not open an interactive shell)");
            }
            else if (result.GetResult(knownHosts) is not null && result.GetValue(acceptAny))
            {
                result.AddError("--known-hosts and --accept-any-host-key cannot be used together");
            }
            else if (result.GetResult(keepAliveCount) is { Implicit: false } && result.GetValue(keepAlive) <= 0)
            {
                result.AddError("--keepalive-count applies to keepalives: give --keepalive SECONDS too");
            }
        });
        command.SetAction((result, _) =>
        {
            if (StrayWord(result, host, commandWords) is { } stray)
            {
                throw new UsageException($"exec: {stray} (see 'ssh-transport exec --help')");
            }

            ParseTarget(result.GetValue(host)!, result.GetValue(user), out string userName, out string hostName);
            var settings = new ExecSettings
            {
                Host = hostName,
                Port = result.GetValue(port),
                User = userName,
                Command = string.Join(' ', result.GetValue(commandWords)!),
                IdentityFiles = result.GetValue(identities) ?? [],
                PasswordFile = result.GetValue(passwordFile),
                PassphraseFile = result.GetValue(passphraseFile),
                KnownHostsPath = result.GetValue(acceptAny) ? null : result.GetValue(knownHosts) ?? ProbeSettings.DefaultKnownHosts(),
                Algorithms = algorithms.Read(result),
                RekeyBytes = result.GetValue(rekeyBytes),
                Timeout = TimeSpan.FromSeconds(result.GetValue(timeout)),
                KeepAlive = TimeSpan.FromSeconds(result.GetValue(keepAlive)),
                KeepAliveCount = result.GetValue(keepAliveCount),
            };
            return RunAsync(settings, cli);
        });
        return command;
    }

    /// <summary>
    /// A word the parser gave HOST or COMMAND that is neither: the tool puts "--" before COMMAND's first word, so a
    /// COMMAND word before it, or a HOST that starts with '-', was an unknown option (or the value of one).
    /// </summary>
    private static string? StrayWord(ParseResult result, Argument<string?> host, Argument<string[]> commandWords)
    {
        IReadOnlyList<Token> tokens = result.Tokens;
        int doubleDash = tokens.Count;
        for (int i = tokens.Count - 1; i >= 0; i--)
        {
            doubleDash = tokens[i].Type == TokenType.DoubleDash ? i : doubleDash;
        }

        foreach (Token token in tokens.Take(doubleDash))
        {
            bool isHost = result.GetResult(host)?.Tokens.Any(t => ReferenceEquals(t, token)) == true;
            bool isCommand = result.GetResult(commandWords)?.Tokens.Any(t => ReferenceEquals(t, token)) == true;
            bool optionLike = token.Value.Length > 1 && token.Value[0] == '-';
            if ((isHost && optionLike) || isCommand)
            {
                return optionLike ? $"unknown option '{token.Value.Split('=')[0]}'" : $"unexpected argument '{token.Value}'";
            }
        }

        return null;
    }

    /// <summary>
    /// Splits USER@HOST (at the last '@', as ssh does) and removes the brackets of [::1]; the user is -l's, else
    /// USER@'s, else the local user's.
    /// </summary>
    /// <returns>Null, or the command line's mistake.</returns>
    internal static string? ParseTarget(string target, string? loginName, out string userName, out string hostName)
    {
        userName = loginName ?? Environment.UserName;
        hostName = target;
        int at = target.LastIndexOf('@');
        if (at >= 0)
        {
            string given = target[..at];
            hostName = target[(at + 1)..];
            if (given.Length == 0)
            {
                return $"'{target}' has an empty user name before '@'";
            }

            if (loginName is not null && loginName != given)
            {
                return $"-l {loginName} and {target} name different users";
            }

            userName = given;
        }

        if (hostName.Length > 2 && hostName[0] == '[' && hostName[^1] == ']')
        {
            hostName = hostName[1..^1];
        }

        if (hostName.Length == 0)
        {
            return $"'{target}' has no host name";
        }

        return loginName is { Length: 0 } ? "--user (-l) is empty" : null;
    }

    private static async Task<int> RunAsync(ExecSettings settings, CliContext cli)
    {
        // The files are the command line's: one that cannot be used is a mistake (exit 2), before any connection.
        using ExecCredentials credentials = ExecCredentials.Load(settings);
        SshClientSettings client = CreateClientSettings(settings, credentials, cli);
        StandardStreams streams = cli.Streams ?? StandardStreams.OpenConsole();
        string who = $"{settings.User}@{settings.Host}";

        SshClient connection;
        using (var deadline = new CancellationTokenSource(settings.Timeout))
        using (var connecting = CancellationTokenSource.CreateLinkedTokenSource(cli.Cancellation, deadline.Token))
        {
            try
            {
                connection = await SshClient.ConnectAsync(client, connecting.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cli.Cancellation.IsCancellationRequested)
            {
                return CliMain.Fail(cli, "interrupted", ExitNoStatus);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                return CliMain.Fail(cli, string.Create(CultureInfo.InvariantCulture,
                    $"connecting to {Endpoint(settings)} and logging in as {settings.User} did not complete within {settings.Timeout.TotalSeconds:0.###} s (--timeout)"), ExitNoStatus);
            }
            catch (SshAuthenticationException e)
            {
                return CliMain.Fail(cli, DescribeAuthentication(e, who, credentials), ExitNoStatus);
            }
            catch (Exception e) when (CliMain.IsExpected(e))
            {
                return CliMain.Fail(cli, CliMain.Describe(e), ExitNoStatus);
            }
        }

        // Disposing sends the DISCONNECT, then waits at most a short while for the server to close its side.
        await using (connection.ConfigureAwait(false))
        {
            return await RunCommandAsync(connection, settings.Command, streams, cli).ConfigureAwait(false);
        }
    }

    /// <summary>Runs the command on a connected client, with the standard streams, to its exit status.</summary>
    private static async Task<int> RunCommandAsync(SshClient client, string command, StandardStreams streams, CliContext cli)
    {
        SshClientSession session;
        try
        {
            session = await client.ExecuteAsync(command, null, cli.Cancellation).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cli.Cancellation.IsCancellationRequested)
        {
            return CliMain.Fail(cli, "interrupted", ExitNoStatus);
        }
        catch (Exception e) when (e is SshChannelOpenException or SshRequestFailedException || CliMain.IsExpected(e))
        {
            return CliMain.Fail(cli, CliMain.Describe(e), ExitNoStatus);
        }

        await using (session.ConfigureAwait(false))
        {
            Task stdout = ChannelPump.CopyOutAsync(session.StandardOutput, streams.Output, "standard output", streams.OutputNeverWaits);
            Task stderr = ChannelPump.CopyOutAsync(session.StandardError, streams.Error, "standard error", streams.ErrorNeverWaits);
            _ = ChannelPump.CopyInAsync(streams.Input, session.StandardInput, streams.InputNeverWaits); // not waited for: a terminal's read never ends
            try
            {
                // Both outputs to their end (the first to fail locally stops the command), then the status.
                Task first = await Task.WhenAny(stdout, stderr).WaitAsync(cli.Cancellation).ConfigureAwait(false);
                await first.ConfigureAwait(false);
                await (first == stdout ? stderr : stdout).WaitAsync(cli.Cancellation).ConfigureAwait(false);
                SshExitStatus status = await session.WaitForExitAsync(cli.Cancellation).ConfigureAwait(false);
                if (status.IsUnknown && !client.IsConnected)
                {
                    // The server closed the connection under the command (ssh: "Connection to HOST closed by remote host").
                    return CliMain.Fail(cli, "the server closed the connection before the command's exit status came", ExitNoStatus);
                }

                // As ssh: the status when there is one; 255, and nothing said, for a signal or no status at all.
                return status.ExitCode ?? ExitNoStatus;
            }
            catch (OperationCanceledException) when (cli.Cancellation.IsCancellationRequested)
            {
                await HangUpAsync(client, stdout, stderr).ConfigureAwait(false);
                return CliMain.Fail(cli, "interrupted", ExitNoStatus);
            }
            catch (LocalOutputException e)
            {
                await HangUpAsync(client, stdout, stderr).ConfigureAwait(false);
                return CliMain.Fail(cli, $"{e.Message}; disconnected", ExitNoStatus);
            }
            catch (Exception e) when (CliMain.IsExpected(e))
            {
                return CliMain.Fail(cli, CliMain.Describe(e), ExitNoStatus);
            }
        }
    }

    /// <summary>
    /// Ends the connection at once, as ssh does on a signal (a DISCONNECT, without waiting for the command: sshd does
    /// not answer a channel's CLOSE while its process runs), then lets the output copies end, bounded (one may be
    /// stuck in a write).
    /// </summary>
    private static async Task HangUpAsync(SshClient client, Task stdout, Task stderr)
    {
        await client.DisposeAsync().ConfigureAwait(false);
        await Task.WhenAny(Task.WhenAll(stdout, stderr), Task.Delay(s_closeTime)).ConfigureAwait(false);
    }

    private static SshClientSettings CreateClientSettings(ExecSettings settings, ExecCredentials credentials, CliContext cli)
    {
        var options = new SshClientOptions
        {
            HandshakeTimeout = settings.Timeout,
            Packetizer = new SshPacketizerOptions { RekeyBytes = settings.RekeyBytes ?? long.MaxValue },

            // One connection, whose channel readers only await or write to an output that never waits (ChannelPump).
            UnsafePreferInlineScheduling = true,
        };
        settings.Algorithms.ApplyTo(options);
        var client = new SshClientSettings(settings.Host, settings.Port)
        {
            UserName = settings.User,
            Password = credentials.Password,
            TransportOptions = options,
            ConnectTimeout = settings.Timeout,
            AuthenticationTimeout = settings.Timeout,
            KeepAliveInterval = settings.KeepAlive,
            KeepAliveCountMax = settings.KeepAliveCount,
            BannerReceived = text => cli.Error.Write(text), // as ssh shows it, on stderr
        };
        foreach (SshPrivateKey key in credentials.Keys)
        {
            client.PrivateKeys.Add(key);
        }

        if (settings.KnownHostsPath is { } path)
        {
            client.HostKeyVerifier = KnownHostsCheck(settings.Host, settings.Port, path);
        }
        else
        {
            client.AcceptAnyHostKey = true;
        }

        return client;
    }

    /// <summary>Checks the host key against the known_hosts file (read when the key arrives); a refusal names the key.</summary>
    private static SshHostKeyVerifier KnownHostsCheck(string host, int port, string path) => (key, _) =>
    {
        bool exists = File.Exists(path);
        KnownHostsVerifier known = exists ? KnownHostsVerifier.Load(path) : new KnownHostsVerifier();
        KnownHostsResult result = known.Verify(host, port, key);
        if (result == KnownHostsResult.Trusted)
        {
            return ValueTask.FromResult(true);
        }

        string name = port == SshClientSettings.DefaultPort ? host : $"[{host}]:{port}";
        string presented = $"its {key.KeyType} key {key.GetFingerprint()}";
        string why = result switch
        {
            KnownHostsResult.Changed => $"{presented} does not match the key on record in {path} (the host key has CHANGED; possible man-in-the-middle)",
            KnownHostsResult.Revoked => $"{presented} is marked @revoked in {path}",
            _ => $"{presented} is not in {path}{(exists ? "" : " (no such file)")}; check the fingerprint, then add the key (ssh-keyscan)",
        };
        throw new SshHostKeyRejectedException(key, $"host key verification failed for {name}: {why}");
    };

    /// <summary>"authentication failed for USER@HOST: the server accepts publickey,password; tried publickey".</summary>
    private static string DescribeAuthentication(SshAuthenticationException e, string who, ExecCredentials credentials)
    {
        string tried = e.TriedMethods.Count == 0 ? "nothing" : string.Join(", ", e.TriedMethods);
        if (e.InnerException is SshPeerDisconnectedException disconnected)
        {
            return $"authentication failed for {who}: {CliMain.Describe(disconnected)}; tried {tried}";
        }

        string allowed = e.AllowedMethods.Count == 0 ? "no method" : string.Join(',', e.AllowedMethods);
        string text = $"authentication failed for {who}: the server accepts {allowed}; tried {tried}";
        if (credentials.Keys.Count == 0 && e.AllowedMethods.Contains(SshAuthenticationMethods.PublicKey))
        {
            text += $" (no key: none of {string.Join(", ", ExecCredentials.DefaultKeyNames)} in ~/.ssh, no -i)";
        }

        if (credentials.Password is null && (e.AllowedMethods.Contains(SshAuthenticationMethods.Password) || e.AllowedMethods.Contains(SshAuthenticationMethods.KeyboardInteractive)))
        {
            text += " (no --password-file)";
        }

        return text;
    }

    private static string Endpoint(ExecSettings settings) =>
        settings.Host.Contains(':', StringComparison.Ordinal) ? $"[{settings.Host}]:{settings.Port}" : $"{settings.Host}:{settings.Port}";
}

/// <summary>exec's command line, checked.</summary>
internal sealed class ExecSettings
{
    public required string Host { get; init; }

    public int Port { get; init; } = SshClientSettings.DefaultPort;

    public required string User { get; init; }

    /// <summary>The command's words joined with spaces.</summary>
    public required string Command { get; init; }

    /// <summary>-i files, in order; empty for the default keys.</summary>
    public IReadOnlyList<string> IdentityFiles { get; init; } = [];

    public string? PasswordFile { get; init; }

    public string? PassphraseFile { get; init; }

    /// <summary>The known_hosts file, or null with --accept-any-host-key.</summary>
    public string? KnownHostsPath { get; init; }

    public AlgorithmChoices Algorithms { get; init; } = new(new Dictionary<SshAlgorithmCategory, IReadOnlyList<string>>());

    public long? RekeyBytes { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Zero for no keepalives.</summary>
    public TimeSpan KeepAlive { get; init; }

    public int KeepAliveCount { get; init; } = 3;
}

/// <summary>The keys and the password exec logs in with, read from the files the command line names.</summary>
internal sealed class ExecCredentials : IDisposable
{
    /// <summary>The key files tried when no -i is given, as ssh's defaults (those this library reads), in ssh's order.</summary>
    public static readonly string[] DefaultKeyNames = ["id_ed25519", "id_ecdsa", "id_rsa"];

    private ExecCredentials(List<SshPrivateKey> keys, string? password)
    {
        Keys = keys;
        Password = password;
    }

    /// <summary>The keys for publickey, in order (the agent's follow, when SSH_AUTH_SOCK is set).</summary>
    public IReadOnlyList<SshPrivateKey> Keys { get; }

    /// <summary>The password, or null.</summary>
    public string? Password { get; }

    /// <summary>
    /// Reads --password-file, --passphrase-file and the -i files (each must open), or the default key files (those
    /// that exist and open: an encrypted one without its passphrase is skipped, as ssh skips it without a prompt).
    /// </summary>
    /// <exception cref="UsageException">A file named on the command line cannot be used.</exception>
    public static ExecCredentials Load(ExecSettings settings)
    {
        string? password = settings.PasswordFile is { } passwordFile ? FirstLine("--password-file", passwordFile) : null;
        string? passphrase = settings.PassphraseFile is { } passphraseFile ? FirstLine("--passphrase-file", passphraseFile) : null;
        var keys = new List<SshPrivateKey>();
        try
        {
            foreach (string file in settings.IdentityFiles)
            {
                keys.Add(LoadIdentity(file, passphrase, settings.PassphraseFile));
            }

            if (settings.IdentityFiles.Count == 0)
            {
                string folder = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh");
                foreach (string name in DefaultKeyNames)
                {
                    string file = Path.Combine(folder, name);
                    if (TryLoadDefault(file, passphrase) is { } key)
                    {
                        keys.Add(key);
                    }
                }
            }
        }
        catch
        {
            foreach (SshPrivateKey key in keys)
            {
                key.Dispose();
            }

            throw;
        }

        return new ExecCredentials(keys, password);
    }

    public void Dispose()
    {
        foreach (SshPrivateKey key in Keys)
        {
            key.Dispose();
        }
    }

    private static SshPrivateKey LoadIdentity(string file, string? passphrase, string? passphraseFile)
    {
        try
        {
            return SshPrivateKey.Load(file, passphrase);
        }
        catch (SshKeyPassphraseException e)
        {
            throw new UsageException(e.PassphraseMissing
                ? $"exec: -i {file} is encrypted: give its passphrase with --passphrase-file"
                : $"exec: the passphrase of --passphrase-file {passphraseFile} does not open -i {file}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or NotSupportedException)
        {
            throw new UsageException($"exec: cannot use -i {file}: {CliMain.Describe(e)}", e);
        }
    }

    private static SshPrivateKey? TryLoadDefault(string file, string? passphrase)
    {
        if (!File.Exists(file))
        {
            return null;
        }

        try
        {
            return SshPrivateKey.Load(file, passphrase);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or NotSupportedException or System.Security.Cryptography.CryptographicException)
        {
            return null; // encrypted without (the right) passphrase, or a kind this library does not read: the agent may hold it
        }
    }

    private static string FirstLine(string option, string file)
    {
        try
        {
            using var reader = new StreamReader(file);
            return reader.ReadLine() ?? throw new UsageException($"exec: {option} {file} is empty");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"exec: cannot use {option} {file}: {CliMain.Describe(e)}", e);
        }
    }
}
