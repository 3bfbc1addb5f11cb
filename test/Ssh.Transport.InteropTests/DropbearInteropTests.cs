using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests;

/// <summary>
/// The Dropbear matrix, for each generation (Debian's 2022.83 and the newest built from source): our client against
/// its server, its client against our server.
/// </summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed partial class DropbearInteropTests
{
    private static IEnumerable<TestCaseData> OurClientCases() => Matrix.Cases(DropbearPeer.All, InteropRole.OurClient);

    private static IEnumerable<TestCaseData> OurServerCases() => Matrix.Cases(DropbearPeer.All, InteropRole.OurServer);

    private static IEnumerable<PeerGeneration> Generations() => DropbearPeer.All.Select(p => p.Generation);

    [TestCaseSource(nameof(OurClientCases))]
    public Task OurClient_vs_Dropbear(InteropCase interopCase) => Runner.OurClientAsync(DropbearPeer.Of(interopCase.Generation), interopCase);

    [TestCaseSource(nameof(OurServerCases))]
    public Task Dropbear_vs_OurServer(InteropCase interopCase) => Runner.OurServerAsync(DropbearPeer.Of(interopCase.Generation), interopCase);
}

/// <summary>Rekeys: Dropbear's own limit (1 GB) cannot be lowered, so our side starts every exchange.</summary>
public sealed partial class DropbearInteropTests
{
    [TestCaseSource(nameof(Generations))]
    public Task OurClient_vs_Dropbear_Rekey(PeerGeneration generation) => RekeyScenarios.OurClientFloodAsync(DropbearPeer.Of(generation), peerInitiated: false);

    [TestCaseSource(nameof(Generations))]
    public Task Dropbear_vs_OurServer_Rekey(PeerGeneration generation) => RekeyScenarios.OurServerFloodAsync(DropbearPeer.Of(generation));
}
