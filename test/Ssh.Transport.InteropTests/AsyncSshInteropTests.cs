using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests;

/// <summary>The AsyncSsh matrix: our client against its server, its client against our server.</summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed partial class AsyncSshInteropTests
{
    private static AsyncSshPeer Peer => AsyncSshPeer.Instance;

    private static IEnumerable<TestCaseData> OurClientCases() => Matrix.Cases(Peer, InteropRole.OurClient);

    private static IEnumerable<TestCaseData> OurServerCases() => Matrix.Cases(Peer, InteropRole.OurServer);

    [TestCaseSource(nameof(OurClientCases))]
    public Task OurClient_vs_AsyncSsh(InteropCase interopCase) => Runner.OurClientAsync(Peer, interopCase);

    [TestCaseSource(nameof(OurServerCases))]
    public Task AsyncSsh_vs_OurServer(InteropCase interopCase) => Runner.OurServerAsync(Peer, interopCase);
}

/// <summary>Rekeys started by us (AsyncSSH's rekey_bytes counts only what it sends, so it would not start them here).</summary>
public sealed partial class AsyncSshInteropTests
{
    [Test]
    public Task OurClient_vs_AsyncSsh_Rekey() => RekeyScenarios.OurClientFloodAsync(Peer, peerInitiated: false);

    [Test]
    public Task AsyncSsh_vs_OurServer_Rekey() => RekeyScenarios.OurServerFloodAsync(Peer);
}
