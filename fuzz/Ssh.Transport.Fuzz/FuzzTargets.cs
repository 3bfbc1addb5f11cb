using Ssh.Transport.Fuzz.Targets;

namespace Ssh.Transport.Fuzz;

/// <summary>A fuzz target: runs one input; any exception that escapes is a finding.</summary>
public sealed record FuzzTarget(string Description, Action<byte[]> Run);

/// <summary>Every target by name (the names fuzz/run.sh takes, the corpus and dictionary folders use).</summary>
public static class FuzzTargets
{
    public static IReadOnlyDictionary<string, FuzzTarget> All { get; } = new Dictionary<string, FuzzTarget>(StringComparer.Ordinal)
    {
        ["identification"] = new("identification line (RFC 4253 §4.2), both roles, any split into segments", IdentificationTarget.Run),
        ["packet-none"] = new("packet reader, cipher none then zlib after NEWKEYS; input = the wire", PacketTargets.None),
        ["packet-aes-gcm"] = new("packet reader, aes256-gcm@openssh.com with fixed keys; input = the wire", PacketTargets.AesGcm),
        ["packet-chacha20-poly1305"] = new("packet reader, chacha20-poly1305@openssh.com with fixed keys; input = the wire", PacketTargets.ChaChaPoly),
        ["packet-ctr-etm"] = new("packet reader, aes128-ctr + hmac-sha2-256-etm@openssh.com with fixed keys; input = the wire", PacketTargets.CtrEtm),
        ["packet-ctr-mte"] = new("packet reader, aes128-ctr + hmac-sha2-256 (MAC-then-encrypt) with fixed keys; input = the wire", PacketTargets.CtrMte),
        ["packet-cbc-mte"] = new("packet reader, aes128-cbc + hmac-sha1 (OpenSSH's discard on a bad length); input = the wire", PacketTargets.CbcMte),
        ["kexinit"] = new("KEXINIT parsing and algorithm negotiation against our client's and server's lists", KexInitTarget.Run),
        ["kex-agreement"] = new("the peer's key-exchange value for every method and role with fixed private keys; DH group-exchange offers", KexAgreementTarget.Run),
        ["kex-client"] = new("a client SshTransport against a scripted server: KEXINIT, then the input's key-exchange messages", TransportTargets.KexClient),
        ["kex-server"] = new("a server SshTransport against a scripted client: KEXINIT, then the input's key-exchange messages", TransportTargets.KexServer),
        ["host-key"] = new("public key blobs (FromBlob, Parse of their text form) and signature verification", HostKeyTarget.Run),
        ["private-key"] = new("OpenSSH (incl. encrypted, bcrypt rounds capped) and PEM private key files", PrivateKeyTarget.Run),
        ["known-hosts"] = new("known_hosts text: parsing and lookups", TextTargets.KnownHosts),
        ["authorized-keys"] = new("authorized_keys text: parsing, options, from= and expiry checks", TextTargets.AuthorizedKeys),
        ["userauth-server"] = new("server user authentication (every method) over an SshTransport; input = the client's messages", ConnectionTargets.UserAuthServer),
        ["channel"] = new("SshConnection (server side) over an SshTransport; input = the peer's connection-protocol messages", ConnectionTargets.Channel),
        ["session-wire"] = new("the SessionWire parsers of channel-request and forwarding data", SessionWireTarget.Run),
    };
}
