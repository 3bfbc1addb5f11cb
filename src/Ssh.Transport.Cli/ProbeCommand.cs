using System.CommandLine;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Ssh.Transport.Cli;

/// <summary>
/// probe: connects to an SSH server, runs the handshake, verifies the host key, requests ssh-userauth, optionally
/// streams SSH_MSG_IGNORE data with rekeys, and reports what was negotiated.
/// </summary>
internal static class ProbeCommand
{
    private const int ChunkSize = 32 * 1024;

    /// <summary>The probe verb: its argument, options, help and action.</summary>
    public static VerbCommand Create(CliContext cli)
    {
        var host = new Argument<string?>("HOST")
        {
            Description = "the server: a host name or an IP address ([::1] as well as ::1)",
            Arity = ArgumentArity.ZeroOrOne, // missing: the validator's line below, not System.CommandLine's
        };
        Option<int> port = CliOptions.WholeNumber("--port", "-p", "PORT", "TCP port (default 22)", 22, 1, 65535);
        Option<string?> knownHosts = CliOptions.Text("--known-hosts", null, "FILE", "verify the host key against this known_hosts file (default ~/.ssh/known_hosts)");
        Option<bool> acceptAny = CliOptions.Flag("--accept-any-host-key", "do not verify the host key (testing only)");
        Option<double> timeout = CliOptions.Seconds("--timeout", null, "for connecting, the handshake, and each wait (default 30)", 30, 0.1, 24 * 3600);
        Option<long?> sendBytes = CliOptions.Bytes("--send-bytes", "after the handshake, send N bytes as SSH_MSG_IGNORE (32 KiB each)", 0);
        Option<long?> rekeyBytes = CliOptions.Bytes("--rekey-bytes", "rekey after N bytes in either direction (at least 16K)", 16 * 1024);
        Option<bool> json = CliOptions.Flag("--json", "print the report as one JSON object");

        var command = new VerbCommand("probe", "HOST [options]",
            "connect to an SSH server, handshake, verify its host key, request ssh-userauth, optionally stream data with rekeys, and report what was negotiated (text or --json)")
        {
            Description = """
                Connects to an SSH server, runs the key exchange, verifies the host key, requests the ssh-userauth
                service and reports the negotiated algorithms, the host key fingerprint (as ssh-keygen -l prints it),
                the extensions the server sent, and timings. Exit code 0 when SERVICE_ACCEPT arrived and every requested
                byte was sent; otherwise one line on stderr and a non-zero exit code.
                """,
            Notes = "A LIST replaces the default list; N may end in K, M or G (powers of 1024).",
            Examples = """
                ssh-transport probe github.com
                ssh-transport probe 127.0.0.1 -p 2222 --accept-any-host-key --cipher aes256-gcm@openssh.com --json
                ssh-transport probe localhost --send-bytes 64M --rekey-bytes 8M
                """,
        };
        command.Arguments.Add(host);
        command.Options.Add(port);
        var algorithms = new AlgorithmOptions(command);
        command.Options.Add(knownHosts);
        command.Options.Add(acceptAny);
        command.Options.Add(timeout);
        command.Options.Add(sendBytes);
        command.Options.Add(rekeyBytes);
        command.Options.Add(json);
        command.Validators.Add(result =>
        {
            if (result.GetValue(host) is null)
            {
                result.AddError("missing HOST (see 'ssh-transport probe --help')");
            }
            else if (result.GetResult(knownHosts) is not null && result.GetValue(acceptAny))
            {
                result.AddError("--known-hosts and --accept-any-host-key cannot be used together");
            }
        });
        command.SetAction((result, _) =>
        {
            string name = result.GetValue(host)!;
            var settings = new ProbeSettings
            {
                Host = name.Length > 2 && name[0] == '[' && name[^1] == ']' ? name[1..^1] : name, // [::1] as well as ::1
                Port = result.GetValue(port),
                Timeout = TimeSpan.FromSeconds(result.GetValue(timeout)),
                SendBytes = result.GetValue(sendBytes) ?? 0,
                RekeyBytes = result.GetValue(rekeyBytes),
                Json = result.GetValue(json),
                KnownHostsPath = result.GetValue(acceptAny) ? null : result.GetValue(knownHosts) ?? ProbeSettings.DefaultKnownHosts(),
                Algorithms = algorithms.Read(result),
            };
            return RunAsync(settings, cli);
        });
        return command;
    }

    private static async Task<int> RunAsync(ProbeSettings settings, CliContext cli)
    {
        ProbeReport report;
        try
        {
            report = await ProbeAsync(settings, cli.Cancellation).ConfigureAwait(false);
        }
        catch (HostKeyRejectedException e)
        {
            return CliMain.Fail(cli, e.Message);
        }

        if (settings.Json)
        {
            WriteJson(cli.Out, report);
        }
        else
        {
            WriteText(cli.Out, report);
        }

        if (report.BytesSent < settings.SendBytes)
        {
            return CliMain.Fail(cli, $"sent only {report.BytesSent} of {settings.SendBytes} bytes: {report.SendError ?? "stopped"}");
        }

        if (report.SendError is not null)
        {
            return CliMain.Fail(cli, report.SendError);
        }

        return 0;
    }

    /// <summary>Runs the probe; throws on any failure before the report is complete.</summary>
    internal static async Task<ProbeReport> ProbeAsync(ProbeSettings settings, CancellationToken cancellationToken)
    {
        var options = new SshClientOptions
        {
            HandshakeTimeout = settings.Timeout,
            Packetizer = new SshPacketizerOptions { RekeyBytes = settings.RekeyBytes ?? long.MaxValue },
        };
        settings.Algorithms.ApplyTo(options);

        KnownHostsVerifier? knownHosts = settings.LoadKnownHosts();
        string? rejection = null;
        string hostKeyStatus = knownHosts is null ? "not verified (--accept-any-host-key)" : "trusted";
        options.HostKeyVerifier = (key, _) =>
        {
            if (knownHosts is null)
            {
                return ValueTask.FromResult(true);
            }

            KnownHostsResult result = knownHosts.Verify(settings.Host, settings.Port, key);
            string presented = $"{key.KeyType} key {key.GetFingerprint()}";
            rejection = result switch
            {
                KnownHostsResult.Trusted => null,
                KnownHostsResult.Unknown => $"{presented} is not known",
                KnownHostsResult.Changed => $"{presented} does not match the key on record (the host key has CHANGED; possible man-in-the-middle)",
                _ => $"{presented} is marked @revoked",
            };
            return ValueTask.FromResult(rejection is null);
        };

        var total = Stopwatch.StartNew();
        SshTransport transport;
        try
        {
            transport = await SshClientConnector.ConnectAsync(settings.Host, settings.Port, options, settings.Timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (SshHostKeyRejectedException e) when (rejection is not null)
        {
            string name = settings.Port == 22 ? settings.Host : $"[{settings.Host}]:{settings.Port}";
            throw new HostKeyRejectedException(
                $"host key verification failed: {name}: {rejection} in {settings.KnownHostsPath}{(File.Exists(settings.KnownHostsPath) ? "" : " (no such file)")}", e);
        }

        double handshakeMs = total.Elapsed.TotalMilliseconds;
        await using (transport.ConfigureAwait(false))
        {
            using var exchanges = new KeyExchangeTracker(transport);

            // The transport carries key exchanges on its own; this loop only takes what the layers above would (a
            // USERAUTH_BANNER, say), so that nothing piles up in front of a KEXINIT from the server.
            Task reading = ReadLoopAsync(transport, cancellationToken);

            using (var serviceTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                serviceTimeout.CancelAfter(settings.Timeout);
                try
                {
                    await transport.RequestServiceAsync(SshTransportOptions.UserAuthService, serviceTimeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"no answer to the ssh-userauth service request within {settings.Timeout.TotalSeconds:0.#} s");
                }
            }

            double serviceMs = total.Elapsed.TotalMilliseconds;
            long sent = 0;
            string? sendError = null;
            var sending = Stopwatch.StartNew();
            if (settings.SendBytes > 0)
            {
                (sent, sendError) = await SendIgnoreAsync(transport, exchanges, settings.SendBytes, settings.Timeout, cancellationToken).ConfigureAwait(false);
            }

            // A rekey may be in flight (started by our writes or by the server): let it finish before hanging up.
            if (sendError is null)
            {
                try
                {
                    if (await exchanges.WaitForIdleAsync(settings.Timeout, cancellationToken).ConfigureAwait(false) is { Error: { } error })
                    {
                        sendError = $"the last key exchange did not finish: {CliMain.Describe(error)}";
                    }
                }
                catch (TimeoutException e)
                {
                    sendError = $"the last key exchange did not finish: {CliMain.Describe(e)}";
                }
            }

            double sendSeconds = sending.Elapsed.TotalSeconds;

            // What the report needs, before the transport goes; the key-exchange counts stop with the DISCONNECT.
            long wireBytes = transport.BytesWritten;
            SshAlgorithms algorithms = transport.Algorithms;
            SshPublicKey hostKey = transport.HostKey;
            bool rekeyRefused = transport.Completion.IsCompleted && IsRefusedRekey(transport.Completion.Result, exchanges);
            await HangUpAsync(transport, reading, "probe finished").ConfigureAwait(false);

            return new ProbeReport
            {
                Host = settings.Host,
                Port = settings.Port,
                Identification = transport.RemoteIdentification,
                LocalIdentification = transport.LocalIdentification,
                Algorithms = algorithms,
                StrictKex = transport.IsStrictKeyExchange,
                Extensions = [.. transport.RemoteExtensions.Keys.Order(StringComparer.Ordinal)],
                ServerSignatureAlgorithms = transport.ServerSignatureAlgorithms,
                HostKeyType = hostKey.KeyType,
                HostKeyBits = hostKey.KeySize,
                Fingerprint = hostKey.GetFingerprint(),
                HostKeyStatus = hostKeyStatus,
                Service = transport.Service,
                KeyExchanges = exchanges.Completed,
                RekeysByClient = exchanges.RekeysByUs,
                RekeysByServer = exchanges.RekeysByPeer,
                RekeyRefused = rekeyRefused,
                BytesRequested = settings.SendBytes,
                BytesSent = sent,
                WireBytesSent = wireBytes,
                SendSeconds = settings.SendBytes > 0 ? sendSeconds : 0,
                SendError = sendError,
                HandshakeMs = handshakeMs,
                ServiceMs = serviceMs,
                ElapsedMs = total.Elapsed.TotalMilliseconds,
            };
        }
    }

    /// <summary>
    /// OpenSSH's sshd answers a KEXINIT before user authentication with SSH_MSG_UNIMPLEMENTED; the transport then
    /// fails the connection itself with KeyExchangeFailed. So: we had started a rekey, and the connection ended on our
    /// side with that reason, not for a deadline, a host key or the algorithms (which have types of their own).
    /// </summary>
    private static bool IsRefusedRekey(SshConnectionClosedEventArgs closed, KeyExchangeTracker exchanges) =>
        exchanges.RekeyStartedByUs
        && closed is { ClosedBy: SshInitiator.Local, Reason: SshDisconnectReason.KeyExchangeFailed, Error: SshProtocolException error }
        && error is not (SshTimeoutException or SshHostKeyRejectedException or SshAlgorithmNegotiationException or SshPeerDisconnectedException);

    /// <summary>Reads until the connection ends; how it ended is <see cref="SshTransport.Completion"/>'s to say.</summary>
    private static async Task ReadLoopAsync(SshTransport transport, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            while (true)
            {
                SshPacket packet = await transport.ReadMessageAsync(cancellationToken).ConfigureAwait(false);
                if (packet.IsCompleted)
                {
                    return;
                }

                // Messages of the layers above (e.g. a USERAUTH_BANNER) are not the probe's business.
            }
        }
        catch (Exception e) when (CliMain.IsExpected(e))
        {
            // The connection failed, or the probe was interrupted.
        }
    }

    /// <summary>DISCONNECT, which waits for the server to close its side, then the end of the read loop.</summary>
    private static async Task HangUpAsync(SshTransport transport, Task reading, string description)
    {
        try
        {
            using var sendTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await transport.DisconnectAsync(SshDisconnectReason.ByApplication, description, sendTimeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (CliMain.IsExpected(e))
        {
            // The server may already have gone.
        }

        // Disposing ends the read loop whatever state the connection is in (DisconnectAsync does nothing on a
        // connection that has already ended).
        await transport.DisposeAsync().ConfigureAwait(false);
        await reading.ConfigureAwait(false);
    }

    private static async Task<(long Sent, string? Error)> SendIgnoreAsync(SshTransport transport, KeyExchangeTracker exchanges, long count, TimeSpan timeout, CancellationToken cancellationToken)
    {
        byte[] chunk = new byte[(int)Math.Min(ChunkSize, count)];
        RandomNumberGenerator.Fill(chunk); // incompressible, so that zlib does not flatter the numbers
        long sent = 0;
        try
        {
            while (sent < count)
            {
                // As an SSH client holds its channel data while keys change, wait for a key exchange in progress (ours,
                // started by the write before, or the server's) before sending more; IGNORE alone would not have to.
                if (await exchanges.WaitForIdleAsync(timeout, cancellationToken).ConfigureAwait(false) is { } closed)
                {
                    return (sent, DescribeEnd(closed));
                }

                int length = (int)Math.Min(chunk.Length, count - sent);
                await transport.SendIgnoreAsync(chunk.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                sent += length;
            }

            return (sent, null);
        }
        catch (Exception e) when (CliMain.IsExpected(e) && !cancellationToken.IsCancellationRequested)
        {
            // A write fails once the connection has ended: what ended it is the story.
            return (sent, transport.Completion.IsCompleted ? DescribeEnd(transport.Completion.Result) : CliMain.Describe(e));
        }
    }

    private static string DescribeEnd(SshConnectionClosedEventArgs closed) =>
        closed.Error is { } error ? CliMain.Describe(error) : "the server closed the connection";

    private static void WriteText(TextWriter output, ProbeReport r)
    {
        var text = new StringBuilder();
        SshAlgorithms a = r.Algorithms;
        Line(text, "server", $"{r.Host} port {r.Port}");
        Line(text, "identification", r.Identification);
        Line(text, "kex", a.KeyExchange);
        Line(text, "host key algorithm", a.HostKey);
        Line(text, "host key", $"{r.HostKeyBits} {r.Fingerprint} ({Algorithms.KeyLabel(r.HostKeyType)}), {r.HostKeyType}, {r.HostKeyStatus}");
        Line(text, "cipher", Directions(a.CipherClientToServer, a.CipherServerToClient));
        Line(text, "mac", Directions(a.MacClientToServer ?? "<implicit>", a.MacServerToClient ?? "<implicit>"));
        Line(text, "compression", Directions(a.CompressionClientToServer, a.CompressionServerToClient));
        Line(text, "strict kex", r.StrictKex ? "on" : "off");
        Line(text, "extensions", r.Extensions.Count == 0 ? "(none)" : string.Join(", ", r.Extensions));
        if (r.ServerSignatureAlgorithms is not null)
        {
            Line(text, "server-sig-algs", string.Join(',', r.ServerSignatureAlgorithms));
        }

        Line(text, "service", $"{r.Service} accepted");
        string rekeys = r.KeyExchanges > 1 ? $" ({r.KeyExchanges - 1} rekeys: {r.RekeysByClient} started by us, {r.RekeysByServer} by the server)" : "";
        Line(text, "key exchanges", r.RekeyRefused
            ? $"{r.KeyExchanges}{rekeys} (the server refused to rekey, as OpenSSH's sshd does before user authentication)"
            : $"{r.KeyExchanges}{rekeys}");
        string sent = r.BytesRequested == 0
            ? "0 bytes (no --send-bytes)"
            : $"{r.BytesSent} of {r.BytesRequested} bytes as SSH_MSG_IGNORE in {r.SendSeconds:0.000} s ({Throughput(r.BytesSent, r.SendSeconds)})";
        Line(text, "sent", sent);
        Line(text, "bytes on the wire", $"{r.WireBytesSent} sent");
        Line(text, "elapsed", $"{r.ElapsedMs:0.0} ms (handshake {r.HandshakeMs:0.0} ms, service accepted at {r.ServiceMs:0.0} ms)");
        output.Write(text.ToString());
        output.Flush();

        static string Directions(string c2s, string s2c) => c2s == s2c ? $"{c2s} (both directions)" : $"client->server {c2s}, server->client {s2c}";

        static void Line(StringBuilder text, string label, string value) =>
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{label + ":",-20}{value}\n");
    }

    private static string Throughput(long bytes, double seconds) =>
        seconds <= 0 ? "-" : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / seconds / 1e6:0.0} MB/s");

    private static void WriteJson(TextWriter output, ProbeReport r)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Indented = true,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // "SHA256:a+b/c" as is: the output is not embedded in HTML
        }))
        {
            SshAlgorithms a = r.Algorithms;
            json.WriteStartObject();
            json.WriteString("host", r.Host);
            json.WriteNumber("port", r.Port);
            json.WriteString("identification", r.Identification);
            json.WriteString("localIdentification", r.LocalIdentification);
            json.WriteString("kex", a.KeyExchange);
            json.WriteString("hostKeyAlgorithm", a.HostKey);
            json.WriteStartObject("hostKey");
            json.WriteString("type", r.HostKeyType);
            json.WriteNumber("bits", r.HostKeyBits);
            json.WriteString("fingerprint", r.Fingerprint);
            json.WriteString("label", Algorithms.KeyLabel(r.HostKeyType));
            json.WriteString("verification", r.HostKeyStatus);
            json.WriteEndObject();
            WriteDirection(json, "clientToServer", a.CipherClientToServer, a.MacClientToServer, a.CompressionClientToServer);
            WriteDirection(json, "serverToClient", a.CipherServerToClient, a.MacServerToClient, a.CompressionServerToClient);
            json.WriteBoolean("strictKex", r.StrictKex);
            json.WriteStartArray("extensions");
            foreach (string name in r.Extensions)
            {
                json.WriteStringValue(name);
            }

            json.WriteEndArray();
            if (r.ServerSignatureAlgorithms is null)
            {
                json.WriteNull("serverSigAlgs");
            }
            else
            {
                json.WriteStartArray("serverSigAlgs");
                foreach (string name in r.ServerSignatureAlgorithms)
                {
                    json.WriteStringValue(name);
                }

                json.WriteEndArray();
            }

            json.WriteString("service", r.Service);
            json.WriteNumber("keyExchanges", r.KeyExchanges);
            json.WriteNumber("rekeysByClient", r.RekeysByClient);
            json.WriteNumber("rekeysByServer", r.RekeysByServer);
            json.WriteBoolean("rekeyRefused", r.RekeyRefused);
            json.WriteNumber("bytesRequested", r.BytesRequested);
            json.WriteNumber("bytesSent", r.BytesSent);
            json.WriteNumber("wireBytesSent", r.WireBytesSent);
            json.WriteNumber("sendSeconds", Math.Round(r.SendSeconds, 6));
            json.WriteNumber("handshakeMs", Math.Round(r.HandshakeMs, 3));
            json.WriteNumber("serviceMs", Math.Round(r.ServiceMs, 3));
            json.WriteNumber("elapsedMs", Math.Round(r.ElapsedMs, 3));
            json.WriteEndObject();
        }

        output.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        output.Flush();

        static void WriteDirection(Utf8JsonWriter json, string name, string cipher, string? mac, string compression)
        {
            json.WriteStartObject(name);
            json.WriteString("cipher", cipher);
            if (mac is null)
            {
                json.WriteNull("mac");
            }
            else
            {
                json.WriteString("mac", mac);
            }

            json.WriteString("compression", compression);
            json.WriteEndObject();
        }
    }
}

/// <summary>The probe's command line, checked.</summary>
internal sealed class ProbeSettings
{
    public required string Host { get; init; }

    public int Port { get; init; } = 22;

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    public long SendBytes { get; init; }

    public long? RekeyBytes { get; init; }

    public bool Json { get; init; }

    /// <summary>The known_hosts file, or null with --accept-any-host-key.</summary>
    public string? KnownHostsPath { get; init; }

    /// <summary>The algorithm lists given.</summary>
    public AlgorithmChoices Algorithms { get; init; } = new(new Dictionary<SshAlgorithmCategory, IReadOnlyList<string>>());

    /// <summary>Reads the known_hosts file; a missing file knows no hosts (every key is then unknown).</summary>
    public KnownHostsVerifier? LoadKnownHosts()
    {
        if (KnownHostsPath is null)
        {
            return null;
        }

        return File.Exists(KnownHostsPath) ? KnownHostsVerifier.Load(KnownHostsPath) : new KnownHostsVerifier();
    }

    internal static string DefaultKnownHosts() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh", "known_hosts");
}

/// <summary>What a probe found.</summary>
internal sealed class ProbeReport
{
    public required string Host { get; init; }

    public required int Port { get; init; }

    public required string Identification { get; init; }

    public required string LocalIdentification { get; init; }

    public required SshAlgorithms Algorithms { get; init; }

    public required bool StrictKex { get; init; }

    public required IReadOnlyList<string> Extensions { get; init; }

    public required IReadOnlyList<string>? ServerSignatureAlgorithms { get; init; }

    public required string HostKeyType { get; init; }

    public required int HostKeyBits { get; init; }

    public required string Fingerprint { get; init; }

    public required string HostKeyStatus { get; init; }

    public required string? Service { get; init; }

    public required int KeyExchanges { get; init; }

    /// <summary>Completed rekeys the probe started (its --rekey-bytes).</summary>
    public required int RekeysByClient { get; init; }

    /// <summary>Completed rekeys the server started.</summary>
    public required int RekeysByServer { get; init; }

    /// <summary>The connection failed with KeyExchangeFailed over a rekey of ours (OpenSSH's sshd answers one before user authentication with SSH_MSG_UNIMPLEMENTED).</summary>
    public required bool RekeyRefused { get; init; }

    public required long BytesRequested { get; init; }

    public required long BytesSent { get; init; }

    public required long WireBytesSent { get; init; }

    public required double SendSeconds { get; init; }

    public required string? SendError { get; init; }

    public required double HandshakeMs { get; init; }

    public required double ServiceMs { get; init; }

    public required double ElapsedMs { get; init; }
}

/// <summary>The known_hosts file did not trust the server's key.</summary>
internal sealed class HostKeyRejectedException : Exception
{
    public HostKeyRejectedException()
    {
    }

    public HostKeyRejectedException(string message)
        : base(message)
    {
    }

    public HostKeyRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
