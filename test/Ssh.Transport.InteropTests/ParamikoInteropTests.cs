using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests;

/// <summary>The Paramiko matrix: our client against its server, its client against our server.</summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed partial class ParamikoInteropTests
{
    private static ParamikoPeer Peer => ParamikoPeer.Instance;

    private static IEnumerable<TestCaseData> OurClientCases() => Matrix.Cases(Peer, InteropRole.OurClient);

    private static IEnumerable<TestCaseData> OurServerCases() => Matrix.Cases(Peer, InteropRole.OurServer);

    [TestCaseSource(nameof(OurClientCases))]
    public Task OurClient_vs_Paramiko(InteropCase interopCase) => Runner.OurClientAsync(Peer, interopCase);

    [TestCaseSource(nameof(OurServerCases))]
    public Task Paramiko_vs_OurServer(InteropCase interopCase) => Runner.OurServerAsync(Peer, interopCase);
}

/// <summary>Rekeys started by us, and by paramiko (its Packetizer.REKEY_BYTES lowered to 64 KiB counts what it reads).</summary>
public sealed partial class ParamikoInteropTests
{
    [Test]
    public Task OurClient_vs_Paramiko_Rekey() => RekeyScenarios.OurClientFloodAsync(Peer, peerInitiated: false);

    [Test]
    public Task OurClient_vs_Paramiko_PeerRekey() => RekeyScenarios.OurClientFloodAsync(Peer, peerInitiated: true);

    [Test]
    public Task Paramiko_vs_OurServer_Rekey() => RekeyScenarios.OurServerFloodAsync(Peer);

    [Test]
    public Task Paramiko_vs_OurServer_RekeyWhileClientStreams() => RekeyScenarios.OurServerFloodAsync(Peer, clientFloods: true);
}
