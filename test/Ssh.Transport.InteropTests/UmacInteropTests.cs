using Ssh.Transport.InteropTests.Infrastructure;
using Ssh.Transport.InteropTests.Peers;

namespace Ssh.Transport.InteropTests;

/// <summary>
/// UMAC against real OpenSSH: the matrix (<see cref="OpenSshInteropTests"/>) runs every MAC both sides support with
/// aes128-ctr, in both roles and against both generations, and checks that both ends agreed on it in both
/// directions; this makes sure the four UMAC cases are among them, so they cannot drop out of the matrix unnoticed
/// (Dropbear has no UMAC).
/// </summary>
[TestFixture]
[Category("Interop")]
public sealed class UmacInteropTests
{
    private static readonly string[] s_umacs =
        ["umac-64@openssh.com", "umac-128@openssh.com", "umac-64-etm@openssh.com", "umac-128-etm@openssh.com"];

    [TestCaseSource(typeof(UmacInteropTests), nameof(Generations))]
    public void OpenSshMatrix_HasEveryUmacInBothRoles(PeerGeneration generation)
    {
        OpenSshPeer peer = OpenSshPeer.Of(generation);
        peer.RequireAvailable();
        foreach (InteropRole role in Enum.GetValues<InteropRole>())
        {
            Assert.That(peer.Algorithms(role).Macs, Is.SupersetOf(s_umacs), $"{peer.Label} {role}: the peer's MACs");
            string[] names = [.. Matrix.Cases(peer, role).Select(c => ((InteropCase)c.Arguments[0]!).TestName)];
            foreach (string mac in s_umacs)
            {
                InteropCase expected = new(peer, role, Dimension.Mac, mac);
                Assert.That(names, Does.Contain(expected.TestName));
                Assert.That(expected.Choice.Cipher, Is.EqualTo("aes128-ctr"));
            }
        }
    }

    private static IEnumerable<PeerGeneration> Generations() => OpenSshPeer.All.Select(p => p.Generation);
}
