#!/usr/bin/python3
"""End-to-end benchmark: Ssh.Transport against OpenSSH on the same work, on this machine.

    bench/e2e/e2e.py [--size 2G] [--reps 3] [--ciphers ...] [--scenarios client,server,ours,wan,cost] [--out FILE]
                     [--serve-arg=--inline-io ...] [--tool PATH] [--baseline-tool PATH]

Whole processes, not BenchmarkDotNet: real `ssh`, `sshd` and our `ssh-transport exec`/`serve` move a file held in
/dev/shm (`cat FILE` down, `cat > /dev/null` up), runs of ours and OpenSSH's interleaved, the same cipher on both.
For each run: MB/s over the wall time, and CPU-seconds per GiB of the client's process (os.wait4: children
included), of the server's processes (its listener's utime+stime plus the reaped children's, from /proc/PID/stat:
sshd's per-connection processes and the `cat` of either server), and of the whole machine (/proc/stat, all cores).
Medians over --reps. Scenarios:
  client  our exec vs ssh, both against the same sshd, down and up
  server  ssh against our serve vs ssh against sshd, down and up (and against a second build's serve with
          --baseline-tool: a change beside what it changed, run for run)
  ours    our exec against our serve
  wan     the same through bench/e2e/delay_relay.py (50 ms each way, --wan-size), both clients, both servers
  cost    server CPU per handshake (ssh connects, authenticates and closes; for each --cost-kex) and per session
          (ssh runs `true`), each over --handshakes connections after --warmup, and memory per idle authenticated
          connection (PSS of the server's processes: the growth from a second batch of --idle `ssh -N` connections
          held on top of a first; the first batch's own figure is kept too)
Needs: root (sshd logs in root with a generated key), openssh-server/client, a Release build of the tool
(dotnet build src/Ssh.Transport.Cli -c Release). Everything listens on 127.0.0.1; every process started is stopped.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "src", "Ssh.Transport.Cli", "bin", "Release", "net10.0", "ssh-transport.dll")
TOOL_ARGV = ["dotnet", TOOL]  # --tool replaces it
CLK_TCK = os.sysconf("SC_CLK_TCK")
GIB = 1024 ** 3

SUITES = {
    "aes128-gcm": ("aes128-gcm@openssh.com", None),
    "chacha20-poly1305": ("chacha20-poly1305@openssh.com", None),
    "aes128-ctr+hmac-sha2-256-etm": ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
}


def tool_argv(path):
    """How to run a build of the tool: a .dll through dotnet, a native executable (Native AOT) itself."""
    return ["dotnet", path] if path.endswith(".dll") else [path]


def parse_size(text):
    units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
    return int(text[:-1]) * units[text[-1].upper()] if text[-1].upper() in units else int(text)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def machine_busy_seconds():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def children(pid):
    """Direct children of a process, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                    found.append(int(entry))
            except (OSError, ValueError):
                pass
    return found


def descendants(pid):
    result, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            result.append(child)
            todo.append(child)
    return result


def process_cpu_seconds(pid):
    """utime + stime of the process and of its reaped children."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def pss_bytes(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Servers:
    """sshd and our serve, each with a pid to account CPU to, started and stopped here."""

    def __init__(self, work, sshd_path, start_ours=True, serve_args=(), baseline_argv=None):
        self.work = work
        self.procs = []
        key = os.path.join(work, "id_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        host_key = os.path.join(work, "host_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key], check=True)
        shutil.copy(key + ".pub", os.path.join(work, "authorized_keys"))
        self.key = key
        self.sshd_port = free_port()
        config = os.path.join(work, "sshd_config")
        version = subprocess.run([sshd_path, "-V"], capture_output=True, text=True).stderr
        with open(config, "w") as f:
            f.write(f"""Port {self.sshd_port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {work}/sshd.pid
AuthorizedKeysFile {work}/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 200:30:400
MaxSessions 200
LogLevel ERROR
Subsystem sftp /usr/lib/openssh/sftp-server
""")
            if "OpenSSH_9.2" not in version:
                f.write("PerSourcePenalties no\n")
        if sshd_path == "/usr/sbin/sshd":
            os.makedirs("/run/sshd", exist_ok=True)  # Debian's privilege-separation folder; its init scripts make it
        self.sshd = self._start([sshd_path, "-D", "-e", "-f", config], self.sshd_port)
        self.ours_port = free_port()
        self.ours = None

        def serve(tool_argv, port):
            return self._start([*tool_argv, "serve", "--listen", f"127.0.0.1:{port}", "--host-key", host_key,
                                "--authorized-keys", os.path.join(work, "authorized_keys"), "--allow-exec", *serve_args], port)

        if start_ours:
            self.ours = serve(TOOL_ARGV, self.ours_port)
        # Another build of our serve (--baseline-tool), to compare a change against what it changed, run for run.
        self.baseline_port = free_port()
        self.baseline = serve(baseline_argv, self.baseline_port) if baseline_argv else None

    def _start(self, argv, port):
        log = open(os.path.join(self.work, f"server-{port}.log"), "w")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        wait_port(port)
        return proc

    def settle(self, proc, timeout=10.0):
        """Waits until the server has reaped the connection's processes (so their CPU is in its counters)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kids = [c for c in children(proc.pid)]
            if not kids or proc in (self.ours, self.baseline) and all(not is_command(c) for c in kids):
                return
            time.sleep(0.02)

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def is_command(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() in ("cat", "sh", "bash", "dash", "true", "head")
    except OSError:
        return False


def client_argv(kind, port, key, cipher, mac, command, extra=()):
    if kind == "ssh":
        argv = ["ssh", "-p", str(port), "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "Compression=no", "-o", f"Ciphers={cipher}"]
        if mac:
            argv += ["-o", f"MACs={mac}"]
        return argv + list(extra) + ["root@127.0.0.1", command]
    argv = [*TOOL_ARGV, "exec", "-p", str(port), "-l", "root", "-i", key, "--accept-any-host-key", "--cipher", cipher]
    if mac:
        argv += ["--mac", mac]
    return argv + list(extra) + ["127.0.0.1", command]


def run_transfer(servers, client, server, port, suite, direction, data_file, size):
    cipher, mac = SUITES[suite]
    server_proc = {"sshd": servers.sshd, "ours": servers.ours, "baseline": servers.baseline}[server]
    command = f"cat {data_file}" if direction == "down" else "cat > /dev/null"
    argv = client_argv(client, port, servers.key, cipher, mac, command)
    stdin = open(data_file, "rb") if direction == "up" else subprocess.DEVNULL
    server_cpu0 = process_cpu_seconds(server_proc.pid)
    machine0 = machine_busy_seconds()
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    error = proc.stderr.read().decode(errors="replace").strip()
    if stdin is not subprocess.DEVNULL:
        stdin.close()
    servers.settle(server_proc)
    machine1 = machine_busy_seconds()
    server_cpu1 = process_cpu_seconds(server_proc.pid)
    if proc.returncode != 0:
        raise RuntimeError(f"{client} -> {server} {suite} {direction}: exit {proc.returncode}: {error}")
    gib = size / GIB
    return {
        "mbps": size / elapsed / 1e6,
        "client_cpu_per_gib": (usage.ru_utime + usage.ru_stime) / gib,
        "server_cpu_per_gib": (server_cpu1 - server_cpu0) / gib,
        "machine_cpu_per_gib": (machine1 - machine0) / gib,
        "seconds": elapsed,
    }


def median_row(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def handshake_argv(port, key, kex):
    """ssh that authenticates and then kills itself (LocalCommand runs once the login succeeded): a whole handshake
    (identification, key exchange, host-key proof, user authentication) and nothing after it."""
    argv = client_argv("ssh", port, key, "aes128-gcm@openssh.com", None, "", extra=["-N", "-o", "PermitLocalCommand=yes",
                                                                                   "-o", "LocalCommand=kill $PPID"])[:-1]
    return argv[:1] + ["-o", f"KexAlgorithms={kex}"] + argv[1:] if kex else argv


def run_handshake(argv):
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    if proc.returncode != -signal.SIGTERM:  # killed by its LocalCommand: authenticated
        raise RuntimeError(f"handshake failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace').strip()}")


def measure_cost(servers, handshakes, idle, warmup, kexes):
    """Server CPU per handshake and per session, and memory per idle authenticated connection, ssh as the client of both.

    Per handshake: connections that authenticate and close, for each key exchange in `kexes` (None: ssh's default).
    Per session: connections that run `true`, which adds what each server does to start a command, and the login
    shell's own start-up: that is the account's (its rc files), not the server's, and it can dwarf both servers (on
    this machine root's .bashrc runs `pyenv init`, about 120 CPU-ms per session under either server).
    The first `warmup` connections to each server (each kind in turn) are not counted: a long-running server has loaded
    and compiled its code before the connections that matter (ours: the JIT's tiers, which promote a method after 30
    calls; sshd: the page cache), and both get the same warm-up. A cold server's first connections cost more: about
    13 CPU-ms each for ours over its first 70 (measured 2026-12-04)."""
    results = {}
    for server, proc, port in (("sshd", servers.sshd, servers.sshd_port), ("ours", servers.ours, servers.ours_port)):
        if proc is None:
            continue
        row = {}

        session_argv = client_argv("ssh", port, servers.key, "aes128-gcm@openssh.com", None, "true")

        def session():
            subprocess.run(session_argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=30)

        for i in range(warmup):  # every kind of connection measured below, in turn
            if i % (len(kexes) + 1) == len(kexes):
                session()
            else:
                run_handshake(handshake_argv(port, servers.key, kexes[i % (len(kexes) + 1)]))

        def cpu_per_connection(run, count):
            servers.settle(proc)
            cpu0 = process_cpu_seconds(proc.pid)
            start = time.monotonic()
            for _ in range(count):
                run()
            servers.settle(proc)
            time.sleep(0.2)  # the last connection's teardown
            return (process_cpu_seconds(proc.pid) - cpu0) / count * 1000, (time.monotonic() - start) / count * 1000

        for kex in kexes:
            argv = handshake_argv(port, servers.key, kex)
            row[f"handshake_cpu_ms[{kex or 'default'}]"], _ = cpu_per_connection(lambda: run_handshake(argv), handshakes)
        row["session_cpu_ms"], row["session_wall_ms"] = cpu_per_connection(session, handshakes)

        def server_pss():
            return pss_bytes(proc.pid) + sum(pss_bytes(p) for p in descendants(proc.pid))

        holders = []

        def hold_batch():
            for _ in range(idle):
                holders.append(subprocess.Popen(client_argv("ssh", port, servers.key, "aes128-gcm@openssh.com", None, "", extra=["-N"])[:-1],
                                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            # -N: no command; authenticated once the server holds a session process (sshd) or the count settles (ours).
            time.sleep(3.0 + idle * 0.05)
            return server_pss()

        time.sleep(1.0)
        pss0 = server_pss()
        pss1 = hold_batch()
        # A second batch on top of the first: its growth is the connections' own. The first batch's also holds what the
        # process's heap did since the sample before it (a Native AOT server's heap can shrink there, after the
        # handshakes above, and the difference then comes out negative).
        pss2 = hold_batch()
        for h in holders:
            h.terminate()
        for h in holders:
            h.wait(timeout=10)
        servers.settle(proc)
        row["kib_per_idle_connection"] = (pss2 - pss1) / idle / 1024
        row["kib_per_idle_connection_first_batch"] = (pss1 - pss0) / idle / 1024
        results[server] = row
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="2G")
    parser.add_argument("--wan-size", default="256M")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--ciphers", default=",".join(SUITES))
    parser.add_argument("--scenarios", default="client,server,ours,wan,cost")
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--handshakes", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=100, help="connections to each server before any is counted")
    parser.add_argument("--cost-kex", default="default,curve25519-sha256,sntrup761x25519-sha512@openssh.com",
                        help="key exchanges of the cost scenario's handshakes (default: ssh's own choice)")
    parser.add_argument("--idle", type=int, default=50)
    parser.add_argument("--sshd", default="/usr/sbin/sshd")
    parser.add_argument("--out", default=None, help="JSON results file")
    parser.add_argument("--tool", default=None,
                        help="our tool: a native executable (Native AOT publish, docs/performance.md) or a .dll run by dotnet; default the Release build")
    parser.add_argument("--baseline-tool", default=None,
                        help="another build of the tool: the server scenario also runs ssh against its serve (rows 'ssh -> baseline')")
    parser.add_argument("--serve-arg", action="append", default=[], help="an option for our serve, e.g. --serve-arg=--inline-io (may be repeated)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("e2e.py: run as root (sshd logs in root with a generated key)")
    tool = os.path.abspath(args.tool) if args.tool else TOOL
    if not os.path.exists(tool):
        sys.exit(f"e2e.py: build the tool first: dotnet build src/Ssh.Transport.Cli -c Release ({tool} is missing)")
    TOOL_ARGV[:] = tool_argv(tool)
    baseline_argv = None
    if args.baseline_tool:
        baseline = os.path.abspath(args.baseline_tool)
        if not os.path.exists(baseline):
            sys.exit(f"e2e.py: {baseline} is missing")
        baseline_argv = tool_argv(baseline)
    scenarios = set(args.scenarios.split(","))
    suites = args.ciphers.split(",")
    size, wan_size = parse_size(args.size), parse_size(args.wan_size)
    work = tempfile.mkdtemp(prefix="ssh-e2e-")
    data_file = os.path.join("/dev/shm", f"ssh-e2e-{os.getpid()}")
    relays = []
    servers = None
    try:
        with open(data_file, "wb") as f:
            remaining = size
            while remaining:
                n = min(remaining, 64 * 1024 * 1024)
                f.write(os.urandom(n))
                remaining -= n
        servers = Servers(work, args.sshd, start_ours=bool(scenarios & {"server", "ours", "wan", "cost"}), serve_args=args.serve_arg,
                          baseline_argv=baseline_argv if "server" in scenarios else None)
        plan = []  # (label, client, server, port key, suite, direction, bytes)
        for suite in suites:
            for direction in ("down", "up"):
                if scenarios & {"client", "server"}:
                    plan.append(("ssh -> sshd", "ssh", "sshd", "sshd", suite, direction, size))
                if "client" in scenarios:
                    plan.append(("ours -> sshd", "ours", "sshd", "sshd", suite, direction, size))
                if "server" in scenarios:
                    plan.append(("ssh -> ours", "ssh", "ours", "ours", suite, direction, size))
                    if baseline_argv:
                        plan.append(("ssh -> baseline", "ssh", "baseline", "baseline", suite, direction, size))
                if "ours" in scenarios:
                    plan.append(("ours -> ours", "ours", "ours", "ours", suite, direction, size))
        ports = {"sshd": servers.sshd_port, "ours": servers.ours_port, "baseline": servers.baseline_port}
        if "wan" in scenarios:
            for target in ("sshd", "ours"):
                relay_port = free_port()
                relay = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "e2e", "delay_relay.py"), str(relay_port),
                                          str(ports[target]), "--delay-ms", str(args.delay_ms)], stdout=subprocess.PIPE, text=True)
                relays.append(relay)
                relay.stdout.readline()
                ports["wan-" + target] = relay_port
            wan_file_size = min(wan_size, size)
            for direction in ("down", "up"):
                for client in ("ssh", "ours"):
                    for target in ("sshd", "ours"):
                        plan.append((f"{client} -> {target}, {2 * args.delay_ms:g} ms RTT", client, target, "wan-" + target, "aes128-gcm", direction, wan_file_size))
        results = {}
        for rep in range(args.reps):
            for label, client, server, port_key, suite, direction, nbytes in plan:
                file_for_run = data_file
                if nbytes != size:
                    file_for_run = data_file + f"-{nbytes}"
                    if not os.path.exists(file_for_run):
                        with open(data_file, "rb") as src, open(file_for_run, "wb") as dst:
                            dst.write(src.read(nbytes))
                run = run_transfer(servers, client, server, ports[port_key], suite, direction, file_for_run, nbytes)
                results.setdefault((label, suite, direction), []).append(run)
                print(f"rep {rep + 1}: {label:<28} {suite:<30} {direction:<4} {run['mbps']:8.1f} MB/s  client {run['client_cpu_per_gib']:.2f}  "
                      f"server {run['server_cpu_per_gib']:.2f}  machine {run['machine_cpu_per_gib']:.2f} CPU-s/GiB", flush=True)
        table = []
        print()
        print(f"| work | suite | dir | MB/s | client CPU-s/GiB | server CPU-s/GiB | machine CPU-s/GiB |")
        print(f"|---|---|---|---:|---:|---:|---:|")
        for (label, suite, direction), runs in results.items():
            m = median_row(runs)
            table.append({"work": label, "suite": suite, "direction": direction, **m, "runs": len(runs), "samples": runs})
            print(f"| {label} | {suite} | {direction} | {m['mbps']:.0f} | {m['client_cpu_per_gib']:.2f} | {m['server_cpu_per_gib']:.2f} | {m['machine_cpu_per_gib']:.2f} |")
        if args.reps > 1:
            # The spread: on a small virtual machine runs of the same work can differ by half (docs/performance.md).
            print()
            print("| work | suite | dir | MB/s min–max | client CPU-s/GiB min–max | server CPU-s/GiB min–max |")
            print("|---|---|---|---:|---:|---:|")
            for (label, suite, direction), runs in results.items():
                cells = []
                for key, digits in (("mbps", 0), ("client_cpu_per_gib", 2), ("server_cpu_per_gib", 2)):
                    values = [r[key] for r in runs]
                    cells.append(f"{min(values):.{digits}f}–{max(values):.{digits}f}")
                print(f"| {label} | {suite} | {direction} | " + " | ".join(cells) + " |")
        cost = None
        if "cost" in scenarios:
            kexes = [None if k == "default" else k for k in args.cost_kex.split(",")]
            cost = measure_cost(servers, args.handshakes, args.idle, args.warmup, kexes)
            columns = list(next(iter(cost.values())).keys())
            print()
            print("| server | " + " | ".join(columns) + " |")
            print("|---|" + "---:|" * len(columns))
            for server, c in cost.items():
                print(f"| {server} | " + " | ".join(f"{c[k]:.1f}" for k in columns) + " |")
            if "sshd" in cost and "ours" in cost:
                print()
                for k in columns:
                    if cost["sshd"][k]:
                        print(f"ours / sshd, {k}: {cost['ours'][k] / cost['sshd'][k]:.2f}x")
        if args.out:
            with open(args.out, "w") as f:
                json.dump({"size": size, "reps": args.reps, "tool": TOOL_ARGV, "baseline_tool": baseline_argv, "serve_args": args.serve_arg, "transfers": table, "cost": cost,
                           "sshd": subprocess.run([args.sshd, "-V"], capture_output=True, text=True).stderr.strip()}, f, indent=2)
    finally:
        for relay in relays:
            relay.terminate()
            relay.wait(timeout=10)
        if servers:
            servers.stop()
        for name in os.listdir("/dev/shm"):
            if name.startswith(f"ssh-e2e-{os.getpid()}"):
                os.remove(os.path.join("/dev/shm", name))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
