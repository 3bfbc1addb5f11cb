#!/usr/bin/python3
"""Pre-authentication behaviour of 'ssh-transport serve' with its default defences (docs/security.md).

  trickle: N connections (default 200) opened at once from 127.0.0.1, each sending its identification line one byte
           a second: how many are closed before the banner (MaxStartups), how long the others last, the server's
           memory while they are held (its --stats-interval line and /proc/PID/status).
  retry:   a client that retries a refused password, connection after connection (paramiko): the answers per
           connection (bounded by MaxAuthTries) and the connection at which PerSourcePenalties refuses the address.

Loopback only; the server is started here on 127.0.0.1:0 with a generated host key and stopped with SIGTERM.
Usage: /usr/bin/python3 bench/load/preauth.py [trickle|retry|both] [--serve src/Ssh.Transport.Cli/bin/Release/net10.0/ssh-transport.dll]
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

STATS = re.compile(r"stats: (\d+) connection\(s\), (\d+) unauthenticated, (\d+) penalised source\(s\); gc heap (\d+) KiB, rss (\d+) KiB")


class Serve:
    """serve as a child process; its output is read on a thread, stats lines kept."""

    def __init__(self, dll, extra):
        self.folder = tempfile.mkdtemp(prefix="ssh-preauth-")
        self.passwords = os.path.join(self.folder, "passwords")
        with open(self.passwords, "w") as f:
            f.write("alice:right\n")
        args = ["dotnet", dll, "serve", "--listen", "127.0.0.1:0", "--password-file", self.passwords, "--stats-interval", "1"] + extra
        self.command = " ".join(args)
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.stats = []
        self.port = None
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(60):
            raise SystemExit("serve did not start:\n" + "\n".join(self.lines))

    def _read(self):
        for line in self.process.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            m = STATS.search(line)
            if m:
                self.stats.append(tuple(int(g) for g in m.groups()) + (time.monotonic(),))
            m = re.match(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                self.ready.set()

    def rss_kib(self):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def latest(self):
        return self.stats[-1] if self.stats else None

    def count(self, text):
        return sum(1 for line in self.lines if text in line)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def trickle(dll, n):
    serve = Serve(dll, [])
    time.sleep(2.5)
    base = serve.latest()
    base_rss = serve.rss_kib()
    print(f"server: {serve.command}")
    print(f"baseline: {base[0]} connections, gc heap {base[3]} KiB, rss {base_rss} KiB")

    results = [None] * n  # (banner received, seconds until closed)
    line = b"SSH-2.0-trickle_" + b"x" * 200 + b"\r\n"

    def one(i):
        start = time.monotonic()
        s = socket.create_connection(("127.0.0.1", serve.port))
        s.settimeout(1.0)
        banner = False
        try:
            for b in line:
                try:
                    data = s.recv(4096)
                    if not data:
                        break
                    banner = banner or data.startswith(b"SSH-2.0-")
                except socket.timeout:
                    pass
                s.sendall(bytes([b]))
        except OSError:
            pass
        finally:
            results[i] = (banner, time.monotonic() - start)
            s.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    time.sleep(10)
    held = serve.latest()
    held_rss = serve.rss_kib()
    print(f"after 10 s: {held[0]} connections held ({held[1]} unauthenticated), gc heap {held[3]} KiB, rss {held_rss} KiB")
    for t in threads:
        t.join(400)
    early = [r for r in results if r and not r[0]]
    admitted = [r for r in results if r and r[0]]
    print(f"{n} trickling connections: {len(early)} closed before the banner (MaxStartups; "
          f"{serve.count('refused before the banner: MaxStartups')} logged), {len(admitted)} admitted")
    if admitted:
        durations = sorted(r[1] for r in admitted)
        print(f"admitted ones closed after {durations[0]:.1f} s .. {durations[-1]:.1f} s (median {durations[len(durations) // 2]:.1f} s)")
    per = (held[3] - base[3]) / max(1, held[0])
    per_rss = (held_rss - base_rss) / max(1, held[0])
    print(f"memory while held: {per:.1f} KiB gc heap, {per_rss:.1f} KiB rss per held connection")
    time.sleep(1.5)
    print(f"after: {serve.latest()[2]} penalised source(s)")
    try:
        s = socket.create_connection(("127.0.0.1", serve.port))
        s.settimeout(5)
        data = s.recv(100)
        print("a new connection right after:", "refused (closed before the banner)" if not data else data.decode(errors="replace").strip())
        s.close()
    except OSError as e:
        print("a new connection right after: refused", e)
    serve.stop()


def retry(dll, tries, seconds=20):
    import logging
    import paramiko
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    serve = Serve(dll, ["--max-auth-tries", str(tries)])
    print(f"server: {serve.command}")
    per_connection = []
    refusals = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        sock = socket.create_connection(("127.0.0.1", serve.port))
        transport = paramiko.Transport(sock)
        try:
            transport.start_client(timeout=10)
        except (paramiko.SSHException, EOFError, OSError):
            refusals.append(time.monotonic() - start)
            transport.close()
            time.sleep(0.1)
            continue
        answers = 0
        while True:
            try:
                transport.auth_password("alice", "wrong", fallback=False)
            except paramiko.AuthenticationException:
                answers += 1
                continue
            except (paramiko.SSHException, EOFError, OSError):
                break
        transport.close()
        per_connection.append(answers)
    print(f"in {seconds} s: {len(per_connection)} connection(s) got answers, per connection {per_connection} "
          f"(MaxAuthTries {tries}); {sum(per_connection)} answers in all")
    if refusals:
        print(f"{len(refusals)} connection(s) refused before the banner, the first after {refusals[0]:.1f} s "
              f"({serve.count('refused before the banner: PerSourcePenalties')} refusal(s) logged)")
    serve.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", nargs="?", default="both", choices=["trickle", "retry", "both"])
    parser.add_argument("--serve", default=os.path.join(os.path.dirname(__file__), "../../src/Ssh.Transport.Cli/bin/Release/net10.0/ssh-transport.dll"))
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--max-auth-tries", type=int, default=6)
    a = parser.parse_args()
    if not 1 <= a.connections <= 1000:
        sys.exit("--connections: 1 to 1000")
    if a.scenario in ("trickle", "both"):
        trickle(a.serve, a.connections)
    if a.scenario in ("retry", "both"):
        retry(a.serve, a.max_auth_tries)


if __name__ == "__main__":
    main()
