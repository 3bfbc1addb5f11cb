using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests;

/// <summary>The Dropbear matrix: our client against its server, its client against our server.</summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed partial class DropbearInteropTests
{
    private static DropbearPeer Peer => DropbearPeer.Instance;

    private static IEnumerable<TestCaseData> OurClientCases() => Matrix.Cases(Peer, InteropRole.OurClient);

    private static IEnumerable<TestCaseData> OurServerCases() => Matrix.Cases(Peer, InteropRole.OurServer);

    [TestCaseSource(nameof(OurClientCases))]
    public Task OurClient_vs_Dropbear(InteropCase interopCase) => Runner.OurClientAsync(Peer, interopCase);

    [TestCaseSource(nameof(OurServerCases))]
    public Task Dropbear_vs_OurServer(InteropCase interopCase) => Runner.OurServerAsync(Peer, interopCase);
}

/// <summary>Rekeys: Dropbear's own limit (1 GB) cannot be lowered, so our side starts every exchange.</summary>
public sealed partial class DropbearInteropTests
{
    [Test]
    public Task OurClient_vs_Dropbear_Rekey() => RekeyScenarios.OurClientFloodAsync(Peer, peerInitiated: false);

    [Test]
    public Task Dropbear_vs_OurServer_Rekey() => RekeyScenarios.OurServerFloodAsync(Peer);
}
