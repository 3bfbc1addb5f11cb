using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests;

/// <summary>The OpenSsh matrix: our client against its server, its client against our server.</summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed partial class OpenSshInteropTests
{
    private static OpenSshPeer Peer => OpenSshPeer.Instance;

    private static IEnumerable<TestCaseData> OurClientCases() => Matrix.Cases(Peer, InteropRole.OurClient);

    private static IEnumerable<TestCaseData> OurServerCases() => Matrix.Cases(Peer, InteropRole.OurServer);

    [TestCaseSource(nameof(OurClientCases))]
    public Task OurClient_vs_OpenSsh(InteropCase interopCase) => Runner.OurClientAsync(Peer, interopCase);

    [TestCaseSource(nameof(OurServerCases))]
    public Task OpenSsh_vs_OurServer(InteropCase interopCase) => Runner.OurServerAsync(Peer, interopCase);
}
