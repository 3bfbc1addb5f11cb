using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests;

/// <summary>Once per run: a fresh results file, the peers' versions and algorithm lists; removes the host keys at the end.</summary>
[SetUpFixture]
public sealed class InteropRun
{
    internal static IReadOnlyList<Peer> Peers { get; } = [.. OpenSshPeer.All, .. DropbearPeer.All, ParamikoPeer.Instance, AsyncSshPeer.Instance];

    [OneTimeSetUp]
    public void Start()
    {
        ResultLog.Reset();
        ResultLog.Append(new Dictionary<string, object?>
        {
            ["type"] = "run",
            ["started"] = DateTime.UtcNow.ToString("u"),
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["dotnet"] = Environment.Version.ToString(),
            ["cores"] = Environment.ProcessorCount,
        });
        var ours = new Dictionary<string, object?> { ["type"] = "ours" };
        foreach (Dimension dimension in Matrix.Dimensions)
        {
            ours[dimension.ToString()] = OurSide.Supported.For(dimension);
        }

        ResultLog.Append(ours);
        foreach (Peer peer in Peers)
        {
            ResultLog.Peer(peer, InteropRole.OurClient);
            ResultLog.Peer(peer, InteropRole.OurServer);
        }
    }

    [OneTimeTearDown]
    public void Finish()
    {
        ResultLog.Append(new Dictionary<string, object?> { ["type"] = "end", ["finished"] = DateTime.UtcNow.ToString("u") });
        PeerKeys.Cleanup();
    }
}
