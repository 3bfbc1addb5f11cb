using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests;

/// <summary>
/// The OpenSSH matrix, for each generation (Debian's 9.2 and the newest built from source): our client against its
/// server, its client against our server.
/// </summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed partial class OpenSshInteropTests
{
    private static IEnumerable<TestCaseData> OurClientCases() => Matrix.Cases(OpenSshPeer.All, InteropRole.OurClient);

    private static IEnumerable<TestCaseData> OurServerCases() => Matrix.Cases(OpenSshPeer.All, InteropRole.OurServer);

    /// <summary>The generations, for the cases outside the matrix.</summary>
    private static IEnumerable<PeerGeneration> Generations() => OpenSshPeer.All.Select(p => p.Generation);

    [TestCaseSource(nameof(OurClientCases))]
    public Task OurClient_vs_OpenSsh(InteropCase interopCase) => Runner.OurClientAsync(OpenSshPeer.Of(interopCase.Generation), interopCase);

    [TestCaseSource(nameof(OurServerCases))]
    public Task OpenSsh_vs_OurServer(InteropCase interopCase) => Runner.OurServerAsync(OpenSshPeer.Of(interopCase.Generation), interopCase);
}
