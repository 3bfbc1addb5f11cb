using System.Text.Json;
using Ssh.Transport.InteropTests.Infrastructure;

namespace Ssh.Transport.InteropTests.Peers;

/// <summary>
/// A Python SSH library driven by our scripts in this folder: a server script and a client script that take
/// algorithm lists on the command line and print JSON events (listening, negotiated, auth, closed) on stdout,
/// the library's own debug log on stderr. The supported lists come from the library's tables (`--list`).
/// </summary>
internal abstract class PythonPeer : Peer
{
    private readonly string? _python = Tools.Find("/usr/bin/python3") ?? Tools.Find("python3");
    private readonly Lazy<(PeerAlgorithms? Algorithms, PeerAlgorithms? Server, string Version, string? Error)> _list;

    protected PythonPeer()
    {
        _list = new(List);
    }

    /// <summary>The Debian package that brings the library.</summary>
    protected abstract string Package { get; }

    protected abstract string ServerScript { get; }

    protected abstract string ClientScript { get; }

    /// <summary>How the server script names a host key file of <paramref name="kind"/>.</summary>
    protected abstract string HostKeyArgument(string kind, string path);

    public override string? Unavailable =>
        _python is null ? $"python3 is not installed (apt install python3 {Package})."
        : Tools.Find("ssh-keygen") is null ? $"ssh-keygen is needed for the {Name} server's host keys (apt install openssh-client)."
        : _list.Value.Error is { } error ? $"{Name} is not usable ({error}); apt install {Package}."
        : null;

    public override string Version => _list.Value.Version;

    public override PeerAlgorithms Algorithms(InteropRole role) =>
        (role == InteropRole.OurClient ? _list.Value.Server : _list.Value.Algorithms) ?? PeerAlgorithms.Empty;

    private (PeerAlgorithms?, PeerAlgorithms?, string, string?) List()
    {
        if (_python is null)
        {
            return (null, null, "not installed", "no python3");
        }

        (int exitCode, string output, string error) = Tools.Run(_python, [Path.Combine(Tools.PeersDirectory, ServerScript), "--list"], TimeSpan.FromSeconds(60));
        if (exitCode != 0)
        {
            return (null, null, "not installed", Tools.Tail(error.Split('\n'), 3));
        }

        using JsonDocument json = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        JsonElement root = json.RootElement;
        string[] Names(string property) => [.. root.GetProperty(property).EnumerateArray().Select(e => e.GetString()!)];
        var algorithms = new PeerAlgorithms(Names("kex"), Names("host_key"), Names("ciphers"), Names("macs"),
            [.. Names("compression").Where(c => c != "none")], root.GetProperty("strict").GetBoolean(), $"{ServerScript} --list (the library's tables)");
        // The server role may support less (paramiko: group exchange needs a moduli file).
        PeerAlgorithms server = root.TryGetProperty("server_kex", out _) ? algorithms with { Kex = Names("server_kex") } : algorithms;
        return (algorithms, server, root.GetProperty("version").GetString()!, null);
    }

    private static IEnumerable<string> AlgorithmArguments(AlgorithmChoice choice)
    {
        if (choice.Kex is not null)
        {
            yield return "--kex=" + choice.Kex;
        }

        if (choice.HostKey is not null)
        {
            yield return "--host-key-algs=" + choice.HostKey;
        }

        if (choice.Cipher is not null)
        {
            yield return "--ciphers=" + choice.Cipher;
        }

        if (choice.Mac is not null)
        {
            yield return "--macs=" + choice.Mac;
        }

        if (choice.Compression is not null)
        {
            yield return "--compression=" + choice.Compression;
        }

        if (choice.RekeyLimit is not null)
        {
            yield return "--rekey-bytes=" + choice.RekeyLimit;
        }
    }

    public override async Task<ServerHandle> StartServerAsync(CaseContext context, AlgorithmChoice choice)
    {
        var arguments = new List<string> { Path.Combine(Tools.PeersDirectory, ServerScript), "--port", "0" };
        foreach ((string kind, string path) in PeerKeys.OpenSsh)
        {
            arguments.Add("--host-key=" + HostKeyArgument(kind, path));
        }

        arguments.AddRange(AlgorithmArguments(choice));
        PeerProcess process = context.Track(PeerProcess.Start(_python!, arguments, context.LogPath(Name.ToLowerInvariant() + "-server"), Tools.PeersDirectory));
        string? listening = await process.WaitForLineAsync(l => l.Contains("\"listening\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30), stdoutOnly: true);
        if (listening is null)
        {
            throw new InvalidOperationException($"The {Name} server did not start:\n{process.Tail(30)}");
        }

        using JsonDocument json = JsonDocument.Parse(listening);
        return new ServerHandle(process, json.RootElement.GetProperty("port").GetInt32(), p => Negotiated(p.OutputLines));
    }

    public override async Task<ClientHandle> RunClientAsync(CaseContext context, int port, AlgorithmChoice choice) =>
        await RunClientAsync(context, port, choice, []);

    /// <summary>Runs the client script with extra arguments (e.g. --ignore-bytes).</summary>
    public async Task<ClientHandle> RunClientAsync(CaseContext context, int port, AlgorithmChoice choice, IEnumerable<string> extra)
    {
        var arguments = new List<string> { Path.Combine(Tools.PeersDirectory, ClientScript), "--port", port.ToString() };
        arguments.AddRange(AlgorithmArguments(choice));
        arguments.AddRange(extra);
        PeerProcess process = context.Track(PeerProcess.Start(_python!, arguments, context.LogPath(Name.ToLowerInvariant() + "-client"), Tools.PeersDirectory));
        int? exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        IReadOnlyList<string> output = process.OutputLines;
        return new ClientHandle
        {
            Process = process,
            ExitCode = exitCode,
            View = Negotiated(output),
            SawAuthRefusal = Events(output, "auth").Any(e => e.TryGetProperty("allowed", out JsonElement allowed) &&
                allowed.ValueKind == JsonValueKind.Array && allowed.EnumerateArray().Any(a => a.GetString() == "password")),
        };
    }

    /// <summary>The JSON events named <paramref name="name"/> among stdout lines.</summary>
    public static IEnumerable<JsonElement> Events(IReadOnlyList<string> lines, string name)
    {
        foreach (string line in lines)
        {
            if (!line.StartsWith('{'))
            {
                continue;
            }

            using JsonDocument json = JsonDocument.Parse(line);
            if (json.RootElement.TryGetProperty("event", out JsonElement e) && e.GetString() == name)
            {
                yield return json.RootElement.Clone();
            }
        }
    }

    /// <summary>The first "negotiated" event, or null.</summary>
    public static NegotiatedView? Negotiated(IReadOnlyList<string> lines)
    {
        JsonElement? found = Events(lines, "negotiated").Cast<JsonElement?>().FirstOrDefault();
        if (found is not { } e)
        {
            return null;
        }

        string? S(string property) => e.TryGetProperty(property, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return new NegotiatedView
        {
            Kex = S("kex"),
            HostKey = S("host_key"),
            CipherClientToServer = S("cipher_cs"),
            CipherServerToClient = S("cipher_sc"),
            MacClientToServer = S("mac_cs"),
            MacServerToClient = S("mac_sc"),
            CompressionClientToServer = S("compression_cs"),
            CompressionServerToClient = S("compression_sc"),
            Strict = e.TryGetProperty("strict", out JsonElement strict) ? strict.GetBoolean() : null,
        };
    }
}

/// <summary>paramiko (python3-paramiko): paramiko_server.py and paramiko_client.py.</summary>
internal sealed class ParamikoPeer : PythonPeer
{
    public static ParamikoPeer Instance { get; } = new();

    public override string Name => "Paramiko";

    protected override string Package => "python3-paramiko";

    protected override string ServerScript => "paramiko_server.py";

    protected override string ClientScript => "paramiko_client.py";

    protected override string HostKeyArgument(string kind, string path) => (kind.StartsWith("ecdsa", StringComparison.Ordinal) ? "ecdsa" : kind) + ":" + path;
}

/// <summary>AsyncSSH (python3-asyncssh): asyncssh_server.py and asyncssh_client.py.</summary>
internal sealed class AsyncSshPeer : PythonPeer
{
    public static AsyncSshPeer Instance { get; } = new();

    public override string Name => "AsyncSsh";

    protected override string Package => "python3-asyncssh";

    protected override string ServerScript => "asyncssh_server.py";

    protected override string ClientScript => "asyncssh_client.py";

    protected override string HostKeyArgument(string kind, string path) => path;
}
