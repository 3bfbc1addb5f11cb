"""A real paramiko server for the client tests: exec runs the command in a shell, with stdin, stdout, stderr and the
exit status carried through; publickey against an authorized_keys file, password. Listens on 127.0.0.1 port 0,
prints "listening PORT", and serves each connection on a thread.

    python3 paramiko_server.py HOST_KEY AUTHORIZED_KEYS USER PASSWORD [DISABLED_PUBKEY_ALGORITHM ...]
"""
import base64
import socket
import subprocess
import sys
import threading
import warnings

warnings.filterwarnings("ignore")
import paramiko  # noqa: E402

HOST_KEY, AUTHORIZED_KEYS, USER, PASSWORD = sys.argv[1:5]
DISABLED = [a for a in sys.argv[5:] if not a.startswith("--")]
# --rekey-bytes=N: the server starts a key exchange after N bytes either way (paramiko's Packetizer limit)
REKEY_BYTES = next((int(a.split("=", 1)[1]) for a in sys.argv[5:] if a.startswith("--rekey-bytes=")), None)


def authorized_blobs():
    blobs = set()
    with open(AUTHORIZED_KEYS) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                blobs.add(base64.b64decode(parts[1]))
    return blobs


class Server(paramiko.ServerInterface):
    def get_allowed_auths(self, username):
        return "publickey,password"

    def check_auth_publickey(self, username, key):
        ok = username == USER and key.asbytes() in authorized_blobs()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_password(self, username, password):
        ok = username == USER and password == PASSWORD
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        threading.Thread(target=run, args=(channel, command.decode()), daemon=True).start()
        return True


def run(channel, command):
    proc = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def feed():
        try:
            while True:
                data = channel.recv(65536)
                if not data:
                    break
                proc.stdin.write(data)
                proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    def drain(source, send):
        while True:
            data = source.read1(65536)
            if not data:
                break
            send(data)

    threading.Thread(target=feed, daemon=True).start()
    err = threading.Thread(target=drain, args=(proc.stderr, channel.sendall_stderr), daemon=True)
    err.start()
    drain(proc.stdout, channel.sendall)
    err.join()
    code = proc.wait()
    channel.send_exit_status(code)
    channel.shutdown_write()
    channel.close()


def serve(sock):
    transport = paramiko.Transport(sock, disabled_algorithms={"pubkeys": DISABLED} if DISABLED else None)
    if REKEY_BYTES:
        transport.packetizer.REKEY_BYTES = REKEY_BYTES
    transport.add_server_key(paramiko.Ed25519Key(filename=HOST_KEY))
    transport.start_server(server=Server())
    # Accepted channels are kept: paramiko closes a Channel object that is garbage-collected.
    channels = []
    while transport.is_active():
        channel = transport.accept(1)
        if channel is not None:
            channels.append(channel)


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print(f"listening {listener.getsockname()[1]}", flush=True)
while True:
    client, _ = listener.accept()
    threading.Thread(target=serve, args=(client,), daemon=True).start()
