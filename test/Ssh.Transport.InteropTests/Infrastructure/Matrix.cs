namespace Ssh.Transport.InteropTests.Infrastructure;

/// <summary>
/// The cases of one peer in one role: the default combination, then every algorithm of each dimension that both
/// the peer and we support, one dimension at a time. The lists come from the peer itself, so the matrix grows with it.
/// </summary>
internal static class Matrix
{
    public static IReadOnlyList<Dimension> Dimensions { get; } = [Dimension.Kex, Dimension.HostKey, Dimension.Cipher, Dimension.Mac, Dimension.Compression];

    /// <summary>The cases of each generation of a peer, one after the other.</summary>
    public static IEnumerable<TestCaseData> Cases(IEnumerable<Peer> generations, InteropRole role) =>
        generations.SelectMany(peer => Cases(peer, role));

    public static IEnumerable<TestCaseData> Cases(Peer peer, InteropRole role)
    {
        var cases = new List<InteropCase> { new(peer, role, Dimension.Default, null) };
        if (peer.Unavailable is null)
        {
            PeerAlgorithms theirs = peer.Algorithms(role);
            foreach (Dimension dimension in Dimensions)
            {
                IReadOnlyList<string> other = theirs.For(dimension);
                foreach (string algorithm in OurSide.Supported.For(dimension).Where(other.Contains))
                {
                    cases.Add(new InteropCase(peer, role, dimension, algorithm));
                }
            }

            foreach (string algorithm in OurSide.Supported.Compression.Where(theirs.ServerToClientOnlyCompression.Contains))
            {
                cases.Add(new InteropCase(peer, role, Dimension.CompressionServerToClient, algorithm));
            }
        }

        return cases.Select(c => new TestCaseData(c).SetName(c.TestName).SetCategory("Interop"));
    }
}
