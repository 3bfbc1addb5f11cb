using Ssh.Transport.Compression;
using Ssh.Transport.Crypto;
using Ssh.Transport.HostKeys;
using Ssh.Transport.KeyExchange;
using Ssh.Transport.Tests.HostKeys;

namespace Ssh.Transport.Tests;

/// <summary>The public catalog is a view of the internal tables the transport negotiates with, nothing more.</summary>
public class SshAlgorithmCatalogTests
{
    private static SshAlgorithmCategory[] Categories() => Enum.GetValues<SshAlgorithmCategory>();

    private static IEnumerable<TestCaseData> Legacy()
    {
        yield return new TestCaseData(SshAlgorithmCategory.KeyExchange, new[] { "diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1", "diffie-hellman-group-exchange-sha1" });
        yield return new TestCaseData(SshAlgorithmCategory.HostKey, new[] { "ssh-rsa" });
        yield return new TestCaseData(SshAlgorithmCategory.Cipher, new[] { "aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc" });
        yield return new TestCaseData(SshAlgorithmCategory.Mac, new[] { "hmac-sha1-etm@openssh.com", "hmac-sha1" });
        yield return new TestCaseData(SshAlgorithmCategory.Compression, Array.Empty<string>());
    }

    [Test]
    public void GetSupported_KeyExchange_IsTheKexTable()
    {
        IReadOnlyList<string> names = SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.KeyExchange);
        Assert.That(names, Is.EqualTo(KexAlgorithm.All.Select(a => a.Name)));
        Assert.That(names.Select(n => KexAlgorithm.Find(n)?.Name), Is.EqualTo(names));
    }

    [Test]
    public void GetSupported_Cipher_IsTheCipherTable()
    {
        IReadOnlyList<string> names = SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.Cipher);
        Assert.That(names, Is.EqualTo(CipherAlgorithm.All.Select(a => a.Name)));
        Assert.That(names.Select(n => CipherAlgorithm.Find(n)?.Name), Is.EqualTo(names));
    }

    [Test]
    public void GetSupported_Mac_IsTheMacTable()
    {
        IReadOnlyList<string> names = SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.Mac);
        Assert.That(names, Is.EqualTo(MacAlgorithm.All.Select(a => a.Name)));
        Assert.That(names.Select(n => MacAlgorithm.Find(n)?.Name), Is.EqualTo(names));
    }

    [Test]
    public void GetSupported_Compression_IsEveryMethodTheCompressorKnows()
    {
        IReadOnlyList<string> names = SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.Compression);
        Assert.That(names, Is.EquivalentTo(new[] { "none", "zlib", "zlib@openssh.com" }));
        Assert.That(names.Select(CompressionMethods.Parse), Has.None.Null);
        Assert.That(names.Select(n => CompressionMethods.Parse(n)!.Value).Distinct().Count(), Is.EqualTo(Enum.GetValues<CompressionMethod>().Length));
    }

    [Test]
    public void GetSupported_HostKey_IsEverySignatureAlgorithmOfEveryKeyType()
    {
        IReadOnlyList<string> names = SshAlgorithmCatalog.GetSupported(SshAlgorithmCategory.HostKey);
        Assert.That(names.Select(SshHostKeyAlgorithms.GetKeyType), Has.None.Null);

        // Every key this library makes signs with catalog names only, and together they cover the catalog.
        string[] signable = [.. Enum.GetValues<SshHostKeyType>().SelectMany(t => HostKeyTestKeys.Get(t).SignatureAlgorithms).Distinct()];
        Assert.That(signable, Is.EquivalentTo(names));
        Assert.That(HostKeyTestKeys.Algorithms().Select(d => (string)d.Arguments[1]!), Is.EquivalentTo(names));
    }

    [TestCaseSource(nameof(Categories))]
    public void GetSupported_EveryName_IsSupportedUniqueAndWellFormed(SshAlgorithmCategory category)
    {
        IReadOnlyList<string> names = SshAlgorithmCatalog.GetSupported(category);
        Assert.That(names, Is.Not.Empty.And.Unique);
        foreach (string name in names)
        {
            Assert.That(SshAlgorithmCatalog.IsSupported(category, name), Is.True, name);
            Assert.That(name.Length, Is.InRange(1, 64), name);
            Assert.That(name.All(c => c is > ' ' and <= '~' and not ','), Is.True, name);
        }
    }

    [TestCaseSource(nameof(Categories))]
    public void GetDefaults_AreSupportedUniqueAndNotLegacy(SshAlgorithmCategory category)
    {
        IReadOnlyList<string> defaults = SshAlgorithmCatalog.GetDefaults(category);
        Assert.That(defaults, Is.Not.Empty.And.Unique);
        Assert.That(defaults, Is.SubsetOf(SshAlgorithmCatalog.GetSupported(category)));
        Assert.That(defaults.Where(n => SshAlgorithmCatalog.IsLegacy(category, n)), Is.Empty);
    }

    [Test]
    public void GetDefaults_AreWhatNewOptionsOffer()
    {
        var client = new SshClientOptions();
        Assert.That(client.KeyExchangeAlgorithms, Is.EqualTo(SshAlgorithmCatalog.GetDefaults(SshAlgorithmCategory.KeyExchange)));
        Assert.That(client.HostKeyAlgorithms, Is.EqualTo(SshAlgorithmCatalog.GetDefaults(SshAlgorithmCategory.HostKey)));
        Assert.That(client.Ciphers, Is.EqualTo(SshAlgorithmCatalog.GetDefaults(SshAlgorithmCategory.Cipher)));
        Assert.That(client.Macs, Is.EqualTo(SshAlgorithmCatalog.GetDefaults(SshAlgorithmCategory.Mac)));
        Assert.That(client.CompressionAlgorithms, Is.EqualTo(SshAlgorithmCatalog.GetDefaults(SshAlgorithmCategory.Compression)));

        // The one difference of the server: it also offers delayed compression, as OpenSSH does.
        Assert.That(new SshServerOptions().CompressionAlgorithms, Is.EqualTo(new[] { "none", "zlib@openssh.com" }));
    }

    [TestCaseSource(nameof(Legacy))]
    public void IsLegacy_IsExactlyTheWeakNames(SshAlgorithmCategory category, string[] legacy)
    {
        Assert.That(SshAlgorithmCatalog.GetSupported(category).Where(n => SshAlgorithmCatalog.IsLegacy(category, n)), Is.EquivalentTo(legacy));

        // Legacy names come last in the supported list and are never offered unless named.
        IReadOnlyList<string> supported = SshAlgorithmCatalog.GetSupported(category);
        Assert.That(supported.Skip(supported.Count - legacy.Length), Is.EquivalentTo(legacy));
        Assert.That(SshAlgorithmCatalog.GetDefaults(category).Intersect(legacy), Is.Empty);
    }

    [Test]
    public void IsLegacy_MatchesTheTables()
    {
        foreach (KexAlgorithm a in KexAlgorithm.All)
        {
            Assert.That(SshAlgorithmCatalog.IsLegacy(SshAlgorithmCategory.KeyExchange, a.Name), Is.EqualTo(a.IsLegacy), a.Name);
        }

        foreach (CipherAlgorithm a in CipherAlgorithm.All)
        {
            Assert.That(SshAlgorithmCatalog.IsLegacy(SshAlgorithmCategory.Cipher, a.Name), Is.EqualTo(a.IsLegacy), a.Name);
        }

        foreach (MacAlgorithm a in MacAlgorithm.All)
        {
            Assert.That(SshAlgorithmCatalog.IsLegacy(SshAlgorithmCategory.Mac, a.Name), Is.EqualTo(a.IsLegacy), a.Name);
        }
    }

    [TestCase(SshAlgorithmCategory.KeyExchange, "ext-info-c")]
    [TestCase(SshAlgorithmCategory.KeyExchange, "ext-info-s")]
    [TestCase(SshAlgorithmCategory.KeyExchange, "kex-strict-c-v00@openssh.com")]
    [TestCase(SshAlgorithmCategory.KeyExchange, "kex-strict-s-v00@openssh.com")]
    [TestCase(SshAlgorithmCategory.KeyExchange, "CURVE25519-SHA256")]
    [TestCase(SshAlgorithmCategory.KeyExchange, "ssh-ed25519")]
    [TestCase(SshAlgorithmCategory.HostKey, "ssh-dss")]
    [TestCase(SshAlgorithmCategory.HostKey, "ssh-ed25519-cert-v01@openssh.com")]
    [TestCase(SshAlgorithmCategory.Cipher, "aes128-gcm")]
    [TestCase(SshAlgorithmCategory.Cipher, "none")]
    [TestCase(SshAlgorithmCategory.Mac, "hmac-md5")]
    [TestCase(SshAlgorithmCategory.Mac, "none")]
    [TestCase(SshAlgorithmCategory.Compression, "gzip")]
    [TestCase(SshAlgorithmCategory.Compression, "")]
    public void IsSupported_OtherNames_False(SshAlgorithmCategory category, string name)
    {
        Assert.That(SshAlgorithmCatalog.IsSupported(category, name), Is.False);
        Assert.That(SshAlgorithmCatalog.IsLegacy(category, name), Is.False);
    }

    [Test]
    public void Arguments_NullNameOrUndefinedCategory_Throw()
    {
        Assert.Throws<ArgumentNullException>(() => SshAlgorithmCatalog.IsSupported(SshAlgorithmCategory.Cipher, null!));
        Assert.Throws<ArgumentNullException>(() => SshAlgorithmCatalog.IsLegacy(SshAlgorithmCategory.Cipher, null!));
        var undefined = (SshAlgorithmCategory)42;
        Assert.Throws<ArgumentOutOfRangeException>(() => SshAlgorithmCatalog.GetSupported(undefined));
        Assert.Throws<ArgumentOutOfRangeException>(() => SshAlgorithmCatalog.GetDefaults((SshAlgorithmCategory)(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => SshAlgorithmCatalog.IsSupported(undefined, "none"));
        Assert.Throws<ArgumentOutOfRangeException>(() => SshAlgorithmCatalog.IsLegacy(undefined, "none"));
    }

    [TestCaseSource(nameof(Categories))]
    public void Lists_CannotBeChangedThroughACast(SshAlgorithmCategory category)
    {
        foreach (IReadOnlyList<string> list in new[] { SshAlgorithmCatalog.GetSupported(category), SshAlgorithmCatalog.GetDefaults(category) })
        {
            Assert.That(list, Is.Not.InstanceOf<string[]>().And.Not.InstanceOf<List<string>>());
            var asList = (IList<string>)list;
            Assert.That(asList.IsReadOnly, Is.True);
            Assert.Throws<NotSupportedException>(() => asList[0] = "tampered");
        }
    }
}
