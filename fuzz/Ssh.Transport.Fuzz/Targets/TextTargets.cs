using System.Net;
using System.Text;
using Ssh.Transport.Connection;

namespace Ssh.Transport.Fuzz.Targets;

/// <summary>The text files: known_hosts (client) and authorized_keys (server). The input is the file's bytes.</summary>
internal static class TextTargets
{
    private static readonly Lazy<SshPublicKey[]> s_keys = new(() => [.. FuzzKeys.HostKeys.Select(k => k.PublicKey)]);

    private static readonly (string Host, int Port)[] s_hosts =
        [("example.com", 22), ("EXAMPLE.com", 2222), ("192.0.2.1", 22), ("::1", 22), ("a.b.example.org", 65535), ("[x]", 1)];

    private static readonly EndPoint?[] s_clients =
        [new IPEndPoint(IPAddress.Parse("192.0.2.7"), 5000), new IPEndPoint(IPAddress.Parse("2001:db8::7"), 5000),
         new IPEndPoint(IPAddress.Parse("::ffff:10.1.2.3"), 1), new DnsEndPoint("host.example.com", 22), null];

    /// <summary>Never throws for any text; lookups of our keys for a few hosts, and an Add that must be found again.</summary>
    public static void KnownHosts(byte[] input)
    {
        KnownHostsVerifier verifier = KnownHostsVerifier.Parse(Encoding.UTF8.GetString(input));
        foreach ((string host, int port) in s_hosts)
        {
            foreach (SshPublicKey key in s_keys.Value)
            {
                _ = verifier.Verify(host, port, key);
            }
        }

        verifier.Add("added.example.net", 2200, s_keys.Value[0]);
        KnownHostsResult result = verifier.Verify("added.example.net", 2200, s_keys.Value[0]);
        if (result is not (KnownHostsResult.Trusted or KnownHostsResult.Revoked))
        {
            throw new FuzzFindingException($"A key just added is {result}.");
        }
    }

    /// <summary>Never throws for any text; each entry's from= and expiry checks for a few clients and times.</summary>
    public static void AuthorizedKeys(byte[] input)
    {
        SshAuthorizedKeys keys = SshAuthorizedKeys.Parse(Encoding.UTF8.GetString(input));
        DateTimeOffset[] times = [DateTimeOffset.UnixEpoch, new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), DateTimeOffset.MaxValue];
        foreach (SshAuthorizedKey entry in keys.Keys)
        {
            foreach (EndPoint? client in s_clients)
            {
                foreach (DateTimeOffset now in times)
                {
                    _ = entry.IsAllowed(client, now, out _);
                }
            }

            _ = keys.Find(entry.Key, s_clients[0], times[1]);
            _ = SshAuthorizedKey.Parse(entry.Key.ToString());
        }
    }
}
