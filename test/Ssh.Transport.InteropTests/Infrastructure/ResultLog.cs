using System.Text.Json;

namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>
/// The matrix as the tests produce it: one JSON object per line in TestResults/interop-results.jsonl, which
/// render_interop.py turns into docs/interop.md.
/// </summary>
internal static class ResultLog
{
    private static readonly Lock s_gate = new();
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = false };

    public static string FilePath => Path.Combine(Tools.ResultsDirectory, "interop-results.jsonl");

    public static void Reset()
    {
        lock (s_gate)
        {
            File.Delete(FilePath);
        }
    }

    public static void Append(object record)
    {
        string line = JsonSerializer.Serialize(record, s_json);
        lock (s_gate)
        {
            File.AppendAllText(FilePath, line + "\n");
        }
    }

    public static void Case(CaseContext context, string outcome, string? detail, TimeSpan elapsed) => Append(new Dictionary<string, object?>
    {
        ["type"] = "case",
        ["test"] = context.Name,
        ["peer"] = context.Case.Peer,
        ["generation"] = context.Case.Generation.ToString(),
        ["label"] = context.Case.Label,
        ["role"] = context.Case.Role.ToString(),
        ["dimension"] = context.Case.Dimension.ToString(),
        ["algorithm"] = context.Case.Algorithm,
        ["outcome"] = outcome,
        ["ours"] = context.Ours?.ToString(),
        ["peerView"] = context.Peer?.ToString(),
        ["strict"] = context.Ours?.Strict,
        ["note"] = context.Note,
        ["detail"] = detail,
        ["seconds"] = Math.Round(elapsed.TotalSeconds, 2),
    });

    public static void Peer(Peer peer, InteropRole role)
    {
        PeerAlgorithms theirs = peer.Algorithms(role);
        PeerAlgorithms ours = OurSide.Supported;
        var record = new Dictionary<string, object?>
        {
            ["type"] = "peer",
            ["peer"] = peer.Name,
            ["generation"] = peer.Generation.ToString(),
            ["label"] = peer.Label,
            ["role"] = role.ToString(),
            ["version"] = peer.Version,
            ["unavailable"] = peer.Unavailable,
            ["source"] = theirs.Source,
            ["strict"] = theirs.StrictKex,
        };
        foreach (Dimension dimension in Matrix.Dimensions)
        {
            IReadOnlyList<string> mine = ours.For(dimension);
            IReadOnlyList<string> other = dimension == Dimension.Compression
                ? [.. theirs.Compression.Union(theirs.ServerToClientOnlyCompression)]
                : theirs.For(dimension);
            record[dimension.ToString()] = new Dictionary<string, object>
            {
                ["peerOnly"] = other.Except(mine).ToArray(),
                ["oursOnly"] = mine.Except(other).ToArray(),
                ["both"] = mine.Intersect(other).ToArray(),
            };
        }

        Append(record);
    }
}
