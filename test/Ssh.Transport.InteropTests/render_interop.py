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

# The implementations, in doc order; OpenSSH and Dropbear run in two generations (Debian's packages and the newest,
# built from source by .ci/run), the Python libraries in Debian's only.
PEERS = ["OpenSsh", "Dropbear", "Paramiko", "AsyncSsh"]
PEER_TITLES = {"OpenSsh": "OpenSSH", "Dropbear": "Dropbear", "Paramiko": "paramiko", "AsyncSsh": "AsyncSSH"}
GENERATIONS = ["Debian", "Newest"]
ROLES = ["OurClient", "OurServer"]
DIMENSIONS = ["Default", "Kex", "HostKey", "Cipher", "Mac", "Compression", "CompressionServerToClient"]
DIMENSION_TITLES = {"CompressionServerToClient": "Compression, s→c only"}
MARK = {"pass": "✅ pass", "fail": "❌ FAIL", "skipped": "⏭ skipped"}

# Why an algorithm one side has is missing on the other: first matching pattern wins.
REASONS = [
    ("*-cert-v01@openssh.com", "host certificates are negotiated when one side has a certificate and the other trusts its CA, not as matrix names (the HostCertificate cases); user certificates are not implemented"),
    ("sk-*", "FIDO security-key algorithms sign user keys, never host keys"),
    ("webauthn-sk-*", "FIDO security-key algorithms sign user keys, never host keys"),
    ("ssh-dss", "DSA: obsolete (disabled by OpenSSH 7.0), not implemented"),
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
    ("mlkem768x25519-sha256", "ML-KEM hybrid: in OpenSSH from 9.9 (its default from 10.0) and Dropbear from 2025.87; the peer's version predates it"),
    ("sntrup761x25519-sha512*", "sntrup761 hybrid: in OpenSSH from 8.5 and Dropbear from 2025.87; the peer's version lacks it"),
    ("mlkem768nistp256-sha256", "the ML-KEM-768 + NIST P-256 hybrid (OpenSSH 10.x) is not implemented; mlkem768x25519-sha256 is"),
    ("ssh-mldsa44-ed25519@openssh.com", "ML-DSA-44 + Ed25519 composite signatures (OpenSSH 10.x, experimental) are not implemented"),
]

# What differs between the generations of OpenSSH and Dropbear, as the newest ones showed it, and how the tests
# express it.
GENERATION_NOTES = [
    ("mlkem768x25519-sha256 is OpenSSH 10.x's first choice, and ours",
     "Our default list starts with it, so our client and OpenSSH 10.5's ssh both negotiate it by default against the "
     "other's server (`*Newest*_Default`), and the Kex(mlkem768x25519-sha256) cases pass both ways against OpenSSH "
     "10.5 and Dropbear 2026.94: the first real peers for our ML-KEM hybrid (BouncyCastle's ML-KEM here, since "
     "Debian 12's OpenSSL 3.0 has none). Dropbear 2026.94's dbclient prefers sntrup761x25519-sha512, which both "
     "generations of OpenSSH and Dropbear 2026.94 also pass both ways. Debian's 9.2 and 2022.83 lack ML-KEM; "
     "2022.83 lacks sntrup761 too."),
    ("OpenSSH 10.4+ disconnects a peer that sends non-transport messages during a key exchange",
     "Once sshd has the peer's KEXINIT it takes only transport messages until NEWKEYS (\"non-transport message N "
     "received from peer during key exchange\"); 9.2 let them pass. Our transport holds upper-layer writes from the "
     "moment it sends or receives a KEXINIT. `OurClient_vs_OpenSsh_RequestsDuringRekeys` writes a GLOBAL_REQUEST "
     "right behind each of our KEXINITs and the moment each of sshd's arrives: with the hold disabled the Newest "
     "case fails that way while the Debian one passes; with it both pass."),
    ("OpenSSH 10.3+ closes a connection whose rekey limits are reached before authentication",
     "Before authentication sshd never rekeys (it answers a KEXINIT with UNIMPLEMENTED, both generations), and 10.3+ "
     "closes the connection once the cipher's hard limit is reached (1 GiB under chacha20-poly1305, 2^32 blocks "
     "under AES). No case gets there: the rekey and flood cases against sshd authenticate first, and our own "
     "volume limit (1 GiB under chacha20-poly1305, counting the MAC bytes sshd does not) is always reached a little "
     "earlier, so before authentication our client's rekey is refused with KeyExchangeFailed "
     "(`OurClient_vs_OpenSsh_Rekey(before authentication: refused)`) before 10.3+ would close."),
    ("ssh-rsa (SHA-1) host keys: refused at the defaults, by both generations",
     "OpenSSH left ssh-rsa out of its default HostKeyAlgorithms in 8.8, and 10.5 still signs with it when its "
     "configuration names it (the HostKey(ssh-rsa) cases, which restrict both sides). "
     "`OurClient_vs_OpenSsh_SshRsaAtSshdDefaults` and `OpenSsh_vs_OurServer_SshRsaAtSshDefaults` check that both ends "
     "fail the negotiation with the reason when only ssh-rsa is offered. Dropbear 2026.94 is built without SHA-1 "
     "altogether (no ssh-rsa, hmac-sha1 or diffie-hellman-group14-sha1), so those cases are Debian's 2022.83 only."),
    ("DSA is gone",
     "OpenSSH 10.x lists no ssh-dss (Debian's 9.2 still has it, off by default); we never implemented it."),
    ("OpenSSH 9.8+ penalizes connections that end before a login",
     "PerSourcePenalties (on by default) would make sshd drop the next connections from 127.0.0.1 before its banner: "
     "the newest sshd's test configurations say `PerSourcePenalties no` (9.2 does not know the option)."),
    ("Compression in the newest Dropbear",
     "Since 2025.87 Dropbear's server decompresses nothing: it offers only \"none\" client to server, and zlib and "
     "zlib@openssh.com server to client; the Compression, s→c only rows have our side offer ALGORITHM,none and check "
     "the asymmetric result (plain zlib: the server's SERVICE_ACCEPT and USERAUTH_FAILURE arrive compressed). "
     "dbclient compresses since 2026.91 only with `-o Compression=yes`, which its probe and its compression cases "
     "pass. OpenSSH 10.5's client has no plain zlib any more (`ssh -Q compression`: none, zlib@openssh.com)."),
    ("Newer algorithms we do not implement",
     "OpenSSH 10.5 adds mlkem768nistp256-sha256 and ssh-mldsa44-ed25519@openssh.com (see below)."),
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
    ("Dropbear cannot restrict its kex or host-key algorithms, nor log what it agreed",
     "Its lists are the KEXINIT each side sends (probed; the server once per ECDSA curve, since it loads one "
     "ECDSA key; 2022.83 cannot list them, and 2026.94's `-Q` gives one list per kind where its server's two "
     "compression directions differ); kex and "
     "host-key cases are narrowed on our side only, ciphers and MACs on both with dbclient -c/-m. Neither build "
     "logs negotiation details, so the peer column is \"the refused authentication went through\": our encrypted "
     "USERAUTH_FAILURE or DISCONNECT read by the peer."),
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
    peers = {(r["peer"], r.get("generation", "Debian"), r["role"]): r for r in records if r["type"] == "peer"}
    cases = [r for r in records if r["type"] == "case"]
    for c in cases:
        c.setdefault("generation", "Debian")
    ours = next((r for r in records if r["type"] == "ours"), {})
    return run, end, peers, cases, ours


def short_version(record):
    """"OpenSSH_10.5p1, OpenSSL ..." -> "10.5p1"; "Dropbear v2026.94" -> "2026.94"; others as reported."""
    if not record or record.get("unavailable"):
        return None
    version = record["version"]
    for prefix in ("OpenSSH_", "Dropbear v"):
        if version.startswith(prefix):
            return version[len(prefix):].split(",")[0].split(" ")[0]
    return version


def generations_of(peers, peer):
    return [g for g in GENERATIONS if any((peer, g, role) in peers for role in ROLES)]


def title_of(peers, peer, generation):
    """E.g. "OpenSSH 10.5p1 (newest)", "Dropbear 2022.83 (Debian)", "paramiko 2.12.0"."""
    record = peers.get((peer, generation, "OurClient")) or peers.get((peer, generation, "OurServer"))
    version = short_version(record) or "not available"
    if len(generations_of(peers, peer)) < 2:
        return f"{PEER_TITLES[peer]} {version}"
    return f"{PEER_TITLES[peer]} {version} ({'Debian' if generation == 'Debian' else 'newest'})"


def cell(case):
    return MARK.get(case["outcome"], case["outcome"]) if case else "—"


def main():
    if not RESULTS.exists():
        sys.exit(f"{RESULTS} not found: run the interop tests first")
    run, end, peers, cases, ours = load()
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
    w("OpenSSH and Dropbear run in two generations: Debian 12's packages, and the newest releases, built from source "
      "snapshots into /opt/ssh-peers by `.ci/run` (`build-peers.sh`); every one of their cases runs against both "
      "(test names say which: `OpenSshDebian`, `OpenSshNewest`, `DropbearDebian`, `DropbearNewest`). Without the "
      "snapshots the newest peers' cases are skipped, with the reason.")
    w("")

    w("## Peers")
    w("")
    w("| peer | generation | version | its lists come from | strict kex |")
    w("|---|---|---|---|---|")
    for peer in PEERS:
        for generation in generations_of(peers, peer):
            for role in ROLES:
                r = peers.get((peer, generation, role))
                if not r:
                    continue
                side = "server" if role == "OurClient" else "client"
                version = r.get("unavailable") or r["version"]
                w(f"| {PEER_TITLES[peer]} {side} | {generation} | {version} | {r['source']} | {'yes' if r['strict'] else 'no'} |")
    w("")

    counts = collections.OrderedDict()
    for c in cases:
        counts.setdefault((c["peer"], c["generation"], c["role"]), collections.Counter())[c["outcome"]] += 1
    w("## Summary")
    w("")
    w("| peer | our client → their server | their client → our server |")
    w("|---|---|---|")
    total = collections.Counter()
    for peer in PEERS:
        for generation in generations_of(peers, peer):
            cells = []
            for role in ROLES:
                n = counts.get((peer, generation, role), collections.Counter())
                total.update(n)
                text = f"{n['pass']} passed"
                if n["fail"]:
                    text += f", **{n['fail']} failed**"
                if n["skipped"]:
                    text += f", {n['skipped']} skipped"
                cells.append(text)
            w(f"| {title_of(peers, peer, generation)} | {cells[0]} | {cells[1]} |")
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

    # The post-quantum hybrids: which peers have them, and how the cases went, in both roles.
    hybrids = ["mlkem768x25519-sha256", "sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com", "mlkem768nistp256-sha256"]
    pq_rows = []
    for peer in PEERS:
        for generation in generations_of(peers, peer):
            row = {}
            for kex in hybrids:
                found = {c["role"]: c for c in cases if c["peer"] == peer and c["generation"] == generation and c["dimension"] == "Kex" and c["algorithm"] == kex}
                row[kex] = found
            defaults = {c["role"]: c for c in cases if c["peer"] == peer and c["generation"] == generation and c["dimension"] == "Default"}
            if any(row[k] for k in hybrids):
                pq_rows.append((peer, generation, row, defaults))
    if pq_rows:
        w("## Post-quantum key exchange")
        w("")
        w("The hybrid methods, per peer that has them (our client → their server / their client → our server), and "
          "the key exchange each pair agrees on at both sides' defaults.")
        w("")
        w("| peer | " + " | ".join(hybrids) + " | default kex, our client → their server | default kex, their client → our server |")
        w("|---|" + "---|" * (len(hybrids) + 2))
        for peer, generation, row, defaults in pq_rows:
            cells = [" / ".join(cell(row[k].get(role)) for role in ROLES) if row[k] else "— (the peer lacks it)" for k in hybrids]

            def kex_of(case):
                if not case or not case.get("ours"):
                    return "—"
                return case["ours"].split(",")[0].replace("kex ", "")
            w(f"| {title_of(peers, peer, generation)} | {' | '.join(cells)} | {kex_of(defaults.get('OurClient'))} | {kex_of(defaults.get('OurServer'))} |")
        w("")

    for peer in PEERS:
        title = PEER_TITLES[peer]
        generations = generations_of(peers, peer)
        columns = [(g, role) for g in generations for role in ROLES]
        w(f"## {title}")
        w("")
        mine = [c for c in cases if c["peer"] == peer and c["dimension"] in DIMENSIONS]
        by_key = {}
        for c in mine:
            by_key.setdefault((c["dimension"], c["algorithm"]), {})[(c["generation"], c["role"])] = c
        headers = []
        for g, role in columns:
            who = f"{title} {short_version(peers.get((peer, g, role))) or g}"
            headers.append(f"our client → {who} server" if role == "OurClient" else f"{who} client → our server")
        w("| dimension | algorithm | " + " | ".join(headers) + " |")
        w("|---|---|" + "---|" * len(columns))
        for dimension in DIMENSIONS:
            # In our order of preference (the library's lists), whichever generation has the algorithm.
            order = ours.get("Compression" if dimension == "CompressionServerToClient" else dimension, [])
            keys = [k for k in by_key if k[0] == dimension]
            keys.sort(key=lambda k: order.index(k[1]) if k[1] in order else len(order))
            for key in keys:
                row = by_key[key]
                w(f"| {DIMENSION_TITLES.get(dimension, dimension)} | {key[1] or '(defaults)'} | " + " | ".join(cell(row.get(col)) for col in columns) + " |")
        w("")
        w("— : not a case for that peer and role (one side lacks the algorithm).")
        w("")
        defaults = {(c["generation"], c["role"]): c for c in mine if c["dimension"] == "Default"}
        for g, role in columns:
            c = defaults.get((g, role))
            who = title_of(peers, peer, g)
            label = f"our client → {who} server" if role == "OurClient" else f"{who} client → our server"
            if c and c.get("ours"):
                w(f"Defaults, {label}: {c['ours']}.")
                w("")
        extra = [c for c in cases if c["peer"] == peer and c["dimension"] not in DIMENSIONS]
        if extra:
            w("Rekeying, after-authentication and refusal cases:")
            w("")
            w("| test | result | what happened |")
            w("|---|---|---|")
            for c in sorted(extra, key=lambda c: (c["test"].replace(c.get("label") or "", ""), GENERATIONS.index(c["generation"]) if c["generation"] in GENERATIONS else 0)):
                w(f"| `{c['test']}` | {MARK.get(c['outcome'], c['outcome'])} | {c.get('note') or c.get('detail') or ''} |")
            w("")

    w("## Known incompatibilities and gaps")
    w("")
    w("### What the newest peers changed")
    w("")
    for heading, text in GENERATION_NOTES:
        w(f"- **{heading}.** {text}")
    w("")
    w("### Behaviours of real peers")
    w("")
    for heading, text in NOTES:
        w(f"- **{heading}.** {text}")
    w("")
    w("### Algorithms only one side has")
    w("")
    w("From each peer's lists as the run read them (not tested, since one side lacks them).")
    w("")
    w("| peer | side | dimension | only the peer | only us |")
    w("|---|---|---|---|---|")
    unexplained = set()
    for peer in PEERS:
        for generation in generations_of(peers, peer):
            for role in ROLES:
                r = peers.get((peer, generation, role))
                if not r or r.get("unavailable"):
                    continue
                side = "server" if role == "OurClient" else "client"
                for dimension in [d for d in DIMENSIONS[1:] if d in r]:
                    d = r.get(dimension, {})
                    peer_only = d.get("peerOnly", [])
                    ours_only = d.get("oursOnly", [])
                    if not peer_only and not ours_only:
                        continue
                    for name in peer_only:
                        if reason(name) is None:
                            unexplained.add(name)
                    w(f"| {title_of(peers, peer, generation)} | {side} | {dimension} | {', '.join(peer_only) or '—'} | {', '.join(ours_only) or '—'} |")
    w("")
    w("Why:")
    w("")
    seen = collections.OrderedDict()
    for pattern, why in REASONS:
        seen.setdefault(why, []).append(pattern)
    for why, patterns in seen.items():
        w(f"- {', '.join('`' + p + '`' for p in patterns)}: {why}.")
    w("- Anything else in \"only us\": the peer's version does not implement it (e.g. paramiko 2.12 has no AEAD "
      "ciphers; Dropbear's builds no CBC, 3DES, SHA-512 MACs or EtM MACs, and 2026.94's no SHA-1 at all; OpenSSH's "
      "server no plain zlib, nor 10.5's client).")
    if unexplained:
        w(f"- Not yet explained: {', '.join(sorted(unexplained))}.")
    w("")
    DOC.write_text("\n".join(out))
    print(f"wrote {DOC} ({total['pass']} passed, {total['fail']} failed, {total['skipped']} skipped)")


if __name__ == "__main__":
    main()
