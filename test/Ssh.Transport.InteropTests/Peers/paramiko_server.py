#!/usr/bin/python3
"""A paramiko SSH server for the interop tests: negotiates with the given algorithm lists, reports what was
agreed as JSON on stdout, and refuses every authentication attempt.

  paramiko_server.py --list
  paramiko_server.py --port 0 --host-key ed25519:/path ... [--kex a,b] [--ciphers ...] [--macs ...]
                     [--host-key-algs ...] [--compression ...] [--rekey-bytes N]
"""
import argparse
import inspect
import socket
import threading

import interop_common as common
import paramiko


class RecordingTransport(paramiko.Transport):
    """Records the outcome of each negotiation (paramiko forgets the kex method once the exchange is over)."""

    negotiated = None
    kex_count = 0

    def _parse_kex_init(self, m):
        super()._parse_kex_init(m)
        self.kex_count += 1
        local = (self.local_cipher, self.local_mac, self.local_compression)
        remote = (self.remote_cipher, self.remote_mac, self.remote_compression)
        cs, sc = (remote, local) if self.server_mode else (local, remote)
        self.negotiated = dict(
            kex=next(n for n, c in self._kex_info.items() if isinstance(self.kex_engine, c) and type(self.kex_engine) is c),
            host_key=self.host_key_type,
            cipher_cs=cs[0], cipher_sc=sc[0],
            mac_cs=cs[1], mac_sc=sc[1],
            compression_cs=cs[2], compression_sc=sc[2],
            strict=False,
        )


def supports_strict_kex() -> bool:
    return "kex-strict-" in inspect.getsource(paramiko.transport)


def list_algorithms() -> None:
    t = paramiko.Transport
    kex = [k for k in t._kex_info if not k.startswith("gss-")]
    # A paramiko server offers group exchange only with a moduli file (OpenSSH's /etc/ssh/moduli) loaded.
    server_kex = kex if t.load_server_moduli() else [k for k in kex if "group-exchange" not in k]
    common.emit(
        "supported",
        version=paramiko.__version__,
        kex=kex,
        server_kex=server_kex,
        host_key=list(t._preferred_keys),
        ciphers=list(t._cipher_info),
        macs=list(t._mac_info),
        compression=list(t._compression_info),
        strict=supports_strict_kex(),
    )


def configure(transport: paramiko.Transport, args) -> None:
    options = transport.get_security_options()
    if args.kex:
        options.kex = common.split(args.kex)
    if args.ciphers:
        options.ciphers = common.split(args.ciphers)
    if args.macs:
        options.digests = common.split(args.macs)
    if args.host_key_algs:
        options.key_types = common.split(args.host_key_algs)
    if args.compression:
        options.compression = common.split(args.compression)
    if args.rekey_bytes:
        # Both directions' counters are compared with this (paramiko's Packetizer.need_rekey).
        transport.packetizer.REKEY_BYTES = args.rekey_bytes


class RefuseAll(paramiko.ServerInterface):
    def get_allowed_auths(self, username):
        return "publickey,password"

    def check_auth_none(self, username):
        common.emit("auth", method="none", username=username)
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username, password):
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        return paramiko.AUTH_FAILED


KEY_CLASSES = {"ed25519": paramiko.Ed25519Key, "ecdsa": paramiko.ECDSAKey, "rsa": paramiko.RSAKey}


def serve(connection: socket.socket, keys, args) -> None:
    transport = RecordingTransport(connection)
    for key in keys:
        transport.add_server_key(key)
    configure(transport, args)
    try:
        transport.start_server(server=RefuseAll())
        common.emit("negotiated", **transport.negotiated)
        while transport.is_active():
            transport.join(0.2)
        common.emit("closed", kex_count=transport.kex_count)
    except Exception as error:  # reported, then the connection ends
        common.emit("error", error=repr(error))
    finally:
        transport.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host-key", action="append", default=[])
    parser.add_argument("--rekey-bytes", type=int)
    common.algorithm_arguments(parser)
    args = parser.parse_args()
    if args.list:
        list_algorithms()
        return

    common.setup_logging("paramiko-server")
    paramiko.Transport.load_server_moduli()
    keys = []
    for spec in args.host_key:
        kind, path = spec.split(":", 1)
        keys.append(KEY_CLASSES[kind].from_private_key_file(path))

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(8)
    common.emit("listening", port=listener.getsockname()[1], version=paramiko.__version__)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve, args=(connection, keys, args), daemon=True).start()


if __name__ == "__main__":
    main()
