namespace Ssh.Transport.Connection.Tests.Infrastructure;

/// <summary>
/// A doc's code block is compiled code: the block after <c>&lt;!-- example:NAME --&gt;</c> in a doc equals the region
/// between <c>// &lt;example:NAME&gt;</c> and <c>// &lt;/example:NAME&gt;</c> of a source file (whitespace aside).
/// </summary>
internal static class DocExamples
{
    public static string RepositoryRoot
    {
        get
        {
            string root = TestContext.CurrentContext.TestDirectory;
            while (!File.Exists(Path.Combine(root, "Ssh.Transport.sln")))
            {
                root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("Ssh.Transport.sln not found.");
            }

            return root;
        }
    }

    /// <summary>Asserts that <paramref name="doc"/> shows the <paramref name="name"/> region of <paramref name="source"/>.</summary>
    /// <param name="doc">The doc, relative to the repository root.</param>
    /// <param name="name">The example's name.</param>
    /// <param name="source">The source file, relative to the repository root.</param>
    public static void AssertDocShows(string doc, string name, string source)
    {
        string root = RepositoryRoot;
        string code = Between(File.ReadAllLines(Path.Combine(root, source)), $"// <example:{name}>", $"// </example:{name}>");
        string[] lines = File.ReadAllLines(Path.Combine(root, doc));
        int marker = Array.FindIndex(lines, l => l.Trim() == $"<!-- example:{name} -->");
        Assert.That(marker, Is.GreaterThanOrEqualTo(0), $"{doc} has its <!-- example:{name} --> marker");
        Assert.That(Normalize(Between(lines[(marker + 1)..], "```csharp", "```")), Is.EqualTo(Normalize(code)), $"{doc}'s example {name} is {source}'s");
    }

    private static string Between(string[] lines, string begin, string end)
    {
        int start = Array.FindIndex(lines, l => l.Trim() == begin);
        int stop = start < 0 ? -1 : Array.FindIndex(lines, start + 1, l => l.Trim() == end);
        Assert.That((start >= 0, stop > start), Is.EqualTo((true, true)), begin);
        return string.Join('\n', lines[(start + 1)..stop]);
    }

    private static string Normalize(string text) =>
        string.Join('\n', text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
}
