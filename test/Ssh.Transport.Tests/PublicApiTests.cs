using System.Reflection;

namespace Ssh.Transport.Tests;

/// <summary>
/// Rules for the public surface that the declared API does not enforce. The list of public symbols itself is
/// src/Ssh.Transport/PublicAPI.*.txt, checked at build time by the PublicApiAnalyzers (eng/update-public-api.sh).
/// </summary>
public class PublicApiTests
{
    [Test]
    public void PublicApi_EveryPublicTypeHasFewMembersOfTheWrongKind()
    {
        // No public mutable fields anywhere: state goes through properties.
        var fields = typeof(SshTransport).Assembly.GetExportedTypes()
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(f => !f.IsLiteral && !f.IsInitOnly && !f.DeclaringType!.IsEnum)
            .Select(f => $"{f.DeclaringType!.Name}.{f.Name}");
        Assert.That(fields, Is.Empty);
    }
}
