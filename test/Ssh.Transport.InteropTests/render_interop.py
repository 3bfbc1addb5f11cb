#!/usr/bin/python3
"""Renders docs/interop.md from the interop tests' results (TestResults/interop-results.jsonl).

    dotnet test test/Ssh.Transport.InteropTests -c Release
    /usr/bin/python3 test/Ssh.Transport.InteropTests/render_interop.py

Everything in the tables comes from the last run; the explanations of known incompatibilities are kept here, in
REASONS and NOTES, next to the code that renders them.
"""
import collections
import datetime
import fnmatch
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "TestResults" / "interop-results.jsonl"
DOC = HERE.parent.parent / "docs" / "interop.md"

PEERS = ["OpenSsh", "Dropbear", "Paramiko", "AsyncSsh"]
PEER_TITLES = {"OpenSsh": "OpenSSH", "Dropbear": "Dropbear", "Paramiko": "paramiko", "AsyncSsh": "AsyncSSH"}
DIMENSIONS = ["Default", "Kex", "HostKey", "Cipher", "Mac", "Compression"]
MARK = {"pass": "✅ pass", "fail": "❌ FAIL", "skipped": "⏭ skipped"}

# Why an algorithm one side has is missing on the other: first matching pattern wins.
REASONS = [
    ("*-cert-v01@openssh.com", "OpenSSH certificates are not implemented (plain keys only)"),
    ("sk-*", "FIDO security-key algorithms sign user keys, never host keys"),
    ("webauthn-sk-*", "FIDO security-key algorithms sign user keys, never host keys"),
    ("ssh-dss", "DSA: obsolete (disabled by OpenSSH 7.0), not implemented"),
    ("umac-*", "UMAC is not implemented; the SHA-2 EtM MACs cover the same ground"),
    ("hmac-md5*", "MD5 MACs: obsolete, not implemented"),
    ("*-96*", "truncated MACs: obsolete, not implemented"),
    ("hmac-sha224@ssh.com", "SSH.com vendor MAC, not implemented"),
    ("hmac-sha256@ssh.com", "SSH.com vendor MAC, not implemented"),
    ("hmac-sha384@ssh.com", "SSH.com vendor MAC, not implemented"),
    ("hmac-sha512@ssh.com", "SSH.com vendor MAC, not implemented"),
    ("hmac-sha256-2@ssh.com", "SSH.com vendor MAC, not implemented"),
    ("curve448-sha512", "Curve448 is not implemented"),
    ("ssh-ed448", "Ed448 is not implemented"),
    ("ecdh-sha2-1.3.132.0.10", "secp256k1 ECDH is not implemented"),
    ("ecdsa-sha2-1.3.132.0.10", "secp256k1 ECDSA is not implemented"),
    ("ssh-rsa-sha*@ssh.com", "SSH.com vendor RSA signatures, not implemented"),
    ("rsa2048-sha256", "RSA key exchange (RFC 4432) is not implemented"),
    ("rsa1024-sha1", "RSA key exchange (RFC 4432) is not implemented"),
    ("diffie-hellman-group15-sha512", "groups 15 and 17 are rarely offered; not implemented"),
    ("diffie-hellman-group17-sha512", "groups 15 and 17 are rarely offered; not implemented"),
    ("diffie-hellman-*@ssh.com", "SSH.com vendor DH methods, not implemented"),
    ("blowfish-cbc", "64-bit block legacy cipher, not implemented"),
    ("cast128-cbc", "64-bit block legacy cipher, not implemented"),
    ("seed-cbc@ssh.com", "vendor legacy cipher, not implemented"),
    ("arcfour*", "RC4 is broken; not implemented"),
    ("kexguess2@matt.ucc.asn.au", "Dropbear's guessed-kex signal, not a method"),
    ("mlkem768x25519-sha256", "ML-KEM hybrid: in OpenSSH from 9.9; the peer's version predates it"),
    ("sntrup761x25519-sha512*", "sntrup761 hybrid: the peer's version lacks it"),
]

# Known behaviours of real peers that shape the matrix, and what the tests do about each.
NOTES = [
    ("OpenSSH sshd takes no key re-exchange before user authentication",
     "sshd answers our KEXINIT with SSH_MSG_UNIMPLEMENTED (its dispatch table during authentication has no "
     "KEXINIT handler; OpenSSH's own client never rekeys before authentication). Our transport used to wait "
     "for an answer forever; it now fails at once with KeyExchangeFailed (library fix, "
     "`OurClient_vs_OpenSsh_Rekey(before authentication: refused)` checks it). The rekey tests against sshd "
     "authenticate first (public key)."),
    ("The OpenSSH client takes no key exchange during authentication",
     "ssh exits with \"input_userauth_error: bad message during authentication: type 20\" when a server "
     "starts a rekey before USERAUTH_SUCCESS. `OpenSsh_vs_OurServer_Rekey` therefore has our server accept "
     "the \"none\" authentication of `ssh -N` and rekey afterwards."),
    ("sshd offers no plain zlib",
     "sshd's Compression option is yes/delayed/no and, since OpenSSH 7.4, \"yes\" means zlib@openssh.com "
     "(after authentication). Against sshd only zlib@openssh.com is tested (negotiation in the matrix, "
     "activation after public-key authentication in `OurClient_vs_OpenSsh_CompressionAfterAuth`)."),
    ("paramiko sends SERVICE_REQUEST in the middle of a key exchange",
     "When our server's rekey crosses paramiko's authentication, paramiko sends SERVICE_REQUEST right after "
     "its KEXINIT (RFC 4253 §7.1 forbids it). Our server's reader used to await the SERVICE_ACCEPT write, which "
     "waits for the end of the exchange that only the reader can finish: a deadlock (library fix; "
     "`Paramiko_vs_OurServer_Rekey(64 KiB limit, client streams)` and a unit test cover it)."),
    ("paramiko's server offers group exchange only with a moduli file",
     "paramiko_server.py loads OpenSSH's /etc/ssh/moduli; without it the GEX cases leave the matrix."),
    ("paramiko disconnects after 10 refused authentication attempts",
     "The peer-initiated rekey test paces its flood with 8 refused \"none\" requests."),
    ("Dropbear cannot list or restrict its algorithms, nor log what it agreed",
     "Its lists are the KEXINIT each side sends (probed; the server once per ECDSA curve, since it loads one "
     "ECDSA key); kex and host-key cases are narrowed on our side only, ciphers and MACs on both with dbclient "
     "-c/-m. Debian's build logs no negotiation details, so the peer column is \"the refused authentication "
     "went through\": our encrypted USERAUTH_FAILURE or DISCONNECT read by the peer."),
    ("dbclient retries a refused password forever",
     "With DROPBEAR_PASSWORD set it retries; our test server disconnects after 6 refusals, as sshd does after "
     "MaxAuthTries."),
    ("AsyncSSH's rekey_bytes counts only what it sends",
     "So it cannot be made to start rekeys while we stream; our side starts them in the AsyncSSH rekey tests."),
    ("IGNORE is not held back during a key exchange",
     "RFC 4253 §7.1 allows SSH_MSG_IGNORE between KEXINIT and NEWKEYS, so a bare SendIgnoreAsync loop pushes "
     "everything out under the first keys while the first rekey is on its way. The floods wait for RekeyAsync "
     "when our limit is reached, and make a round trip every 256 KiB when the peer's limit starts the exchanges."),
]


def reason(name):
    for pattern, why in REASONS:
        if fnmatch.fnmatch(name, pattern):
            return why
    return None


def load():
    records = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    run = next((r for r in records if r["type"] == "run"), {})
    end = next((r for r in records if r["type"] == "end"), {})
    peers = {(r["peer"], r["role"]): r for r in records if r["type"] == "peer"}
    cases = [r for r in records if r["type"] == "case"]
    return run, end, peers, cases


def main():
    if not RESULTS.exists():
        sys.exit(f"{RESULTS} not found: run the interop tests first")
    run, end, peers, cases = load()
    out = []
    w = out.append

    w("# Interoperability matrix")
    w("")
    w("Generated by `test/Ssh.Transport.InteropTests/render_interop.py` from the results the interop tests wrote in "
      "their last run (`dotnet test test/Ssh.Transport.InteropTests -c Release`). Do not edit by hand.")
    w("")
    started, finished = run.get("started"), end.get("finished")
    duration = ""
    if started and finished:
        seconds = (datetime.datetime.fromisoformat(finished.replace("Z", "")) - datetime.datetime.fromisoformat(started.replace("Z", ""))).total_seconds()
        duration = f", {seconds / 60:.1f} minutes"
    w(f"Run: {started or '?'} on {run.get('os', '?')}, .NET {run.get('dotnet', '?')}, {run.get('cores', '?')} cores{duration}.")
    w("")
    w("Each case starts a real peer on 127.0.0.1 and varies one dimension from both sides' defaults: both sides are "
      "restricted to the algorithm where the peer can be told, our side alone where it cannot. Our client runs the "
      "handshake, requests ssh-userauth and is refused a \"none\" authentication; the peer's client is refused by our "
      "server. A case passes when both ends agree on the algorithm (our `SshTransport.Algorithms` and the peer's own "
      "debug log or JSON), strict kex is on exactly when the peer offers it, and the refusal made it through the new "
      "keys. A MAC case runs under aes128-ctr, since AEAD ciphers use no MAC.")
    w("")

    w("## Peers")
    w("")
    w("| peer | version | its lists come from | strict kex |")
    w("|---|---|---|---|")
    for peer in PEERS:
        for role in ("OurClient", "OurServer"):
            r = peers.get((peer, role))
            if not r:
                continue
            side = "server" if role == "OurClient" else "client"
            version = r.get("unavailable") or r["version"]
            w(f"| {PEER_TITLES[peer]} {side} | {version} | {r['source']} | {'yes' if r['strict'] else 'no'} |")
    w("")

    counts = collections.OrderedDict()
    for c in cases:
        key = (c["peer"], c["role"])
        counts.setdefault(key, collections.Counter())[c["outcome"]] += 1
    w("## Summary")
    w("")
    w("| peer | our client → their server | their client → our server |")
    w("|---|---|---|")
    total = collections.Counter()
    for peer in PEERS:
        cells = []
        for role in ("OurClient", "OurServer"):
            n = counts.get((peer, role), collections.Counter())
            total.update(n)
            text = f"{n['pass']} passed"
            if n["fail"]:
                text += f", **{n['fail']} failed**"
            if n["skipped"]:
                text += f", {n['skipped']} skipped"
            cells.append(text)
        w(f"| {PEER_TITLES[peer]} | {cells[0]} | {cells[1]} |")
    w("")
    w(f"Total: {total['pass']} passed, {total['fail']} failed, {total['skipped']} skipped.")
    w("")

    failures = [c for c in cases if c["outcome"] == "fail"]
    if failures:
        w("## Failures")
        w("")
        for c in failures:
            w(f"- `{c['test']}`: {c['detail']}")
        w("")

    for peer in PEERS:
        title = PEER_TITLES[peer]
        w(f"## {title}")
        w("")
        mine = [c for c in cases if c["peer"] == peer and c["dimension"] in DIMENSIONS]
        by_key = {}
        for c in mine:
            by_key.setdefault((c["dimension"], c["algorithm"]), {})[c["role"]] = c
        w(f"| dimension | algorithm | our client → {title} server | {title} client → our server |")
        w("|---|---|---|---|")
        for dimension in DIMENSIONS:
            keys = [k for k in by_key if k[0] == dimension]
            for key in keys:
                row = by_key[key]
                cells = [MARK.get(row[r]["outcome"], row[r]["outcome"]) if r in row else "— (not both)" for r in ("OurClient", "OurServer")]
                w(f"| {dimension} | {key[1] or '(defaults)'} | {cells[0]} | {cells[1]} |")
        w("")
        defaults = {c["role"]: c for c in mine if c["dimension"] == "Default"}
        for role, label in (("OurClient", f"our client → {title} server"), ("OurServer", f"{title} client → our server")):
            c = defaults.get(role)
            if c and c.get("ours"):
                w(f"Defaults, {label}: {c['ours']}.")
                w("")
        extra = [c for c in cases if c["peer"] == peer and c["dimension"] not in DIMENSIONS]
        if extra:
            w("Rekeying and after-authentication cases:")
            w("")
            w("| test | result | what happened |")
            w("|---|---|---|")
            for c in extra:
                w(f"| `{c['test']}` | {MARK.get(c['outcome'], c['outcome'])} | {c.get('note') or c.get('detail') or ''} |")
            w("")

    w("## Known incompatibilities and gaps")
    w("")
    w("### Behaviours of real peers")
    w("")
    for title, text in NOTES:
        w(f"- **{title}.** {text}")
    w("")
    w("### Algorithms only one side has")
    w("")
    w("From each peer's lists as the run read them (not tested, since one side lacks them).")
    w("")
    w("| peer | side | dimension | only the peer | only us |")
    w("|---|---|---|---|---|")
    unexplained = set()
    for peer in PEERS:
        for role in ("OurClient", "OurServer"):
            r = peers.get((peer, role))
            if not r or r.get("unavailable"):
                continue
            side = "server" if role == "OurClient" else "client"
            for dimension in DIMENSIONS[1:]:
                d = r.get(dimension, {})
                peer_only = d.get("peerOnly", [])
                ours_only = d.get("oursOnly", [])
                if not peer_only and not ours_only:
                    continue
                for name in peer_only:
                    if reason(name) is None:
                        unexplained.add(name)
                w(f"| {PEER_TITLES[peer]} | {side} | {dimension} | {', '.join(peer_only) or '—'} | {', '.join(ours_only) or '—'} |")
    w("")
    w("Why:")
    w("")
    seen = collections.OrderedDict()
    for pattern, why in REASONS:
        seen.setdefault(why, []).append(pattern)
    for why, patterns in seen.items():
        w(f"- {', '.join('`' + p + '`' for p in patterns)}: {why}.")
    w("- Anything else in \"only us\": the peer's version does not implement it (e.g. paramiko 2.12 has no AEAD "
      "ciphers, Dropbear's build no CBC, 3DES, SHA-512 MACs or EtM MACs, OpenSSH's server no plain zlib).")
    if unexplained:
        w(f"- Not yet explained: {', '.join(sorted(unexplained))}.")
    w("")
    DOC.write_text("\n".join(out))
    print(f"wrote {DOC} ({total['pass']} passed, {total['fail']} failed, {total['skipped']} skipped)")


if __name__ == "__main__":
    main()
