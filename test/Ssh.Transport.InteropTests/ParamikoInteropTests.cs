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
