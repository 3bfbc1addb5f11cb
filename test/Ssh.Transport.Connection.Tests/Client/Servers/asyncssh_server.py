"""A real AsyncSSH server for the client tests: exec runs the command in a shell, with stdin, stdout, stderr and the
exit status carried through; publickey against an authorized_keys file, password; direct-tcpip and tcpip-forward
allowed. Listens on 127.0.0.1 port 0 and prints "listening PORT".

    python3 asyncssh_server.py HOST_KEY AUTHORIZED_KEYS USER PASSWORD
"""
import asyncio
import sys
import warnings

warnings.filterwarnings("ignore")
import asyncssh  # noqa: E402

HOST_KEY, AUTHORIZED_KEYS, USER, PASSWORD = sys.argv[1:5]
# --rekey-bytes=N: the server starts a key exchange after N bytes (its own limit)
REKEY_BYTES = next((int(a.split("=", 1)[1]) for a in sys.argv[5:] if a.startswith("--rekey-bytes=")), None)


class Server(asyncssh.SSHServer):
    def begin_auth(self, username):
        return True

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        return username == USER and password == PASSWORD

    def connection_requested(self, dest_host, dest_port, orig_host, orig_port):
        return True

    def server_requested(self, listen_host, listen_port):
        return True


async def pump_in(process, proc):
    try:
        while True:
            data = await process.stdin.read(65536)
            if not data:
                break
            proc.stdin.write(data)
            await proc.stdin.drain()
    except (asyncssh.BreakReceived, asyncssh.SignalReceived, asyncssh.TerminalSizeChanged, BrokenPipeError, ConnectionResetError):
        pass
    finally:
        try:
            proc.stdin.close()
        except Exception:
            pass


async def pump_out(source, sink):
    while True:
        data = await source.read(65536)
        if not data:
            break
        sink.write(data)
        await sink.drain()


async def handle(process):
    proc = await asyncio.create_subprocess_shell(
        process.command or "sh", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    feeder = asyncio.ensure_future(pump_in(process, proc))
    await asyncio.gather(pump_out(proc.stdout, process.stdout), pump_out(proc.stderr, process.stderr))
    code = await proc.wait()
    feeder.cancel()
    process.exit(code)


async def main():
    server = await asyncssh.create_server(
        Server, "127.0.0.1", 0, server_host_keys=[HOST_KEY], authorized_client_keys=AUTHORIZED_KEYS,
        process_factory=handle, encoding=None, allow_scp=False,
        **({"rekey_bytes": REKEY_BYTES} if REKEY_BYTES else {}))
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
