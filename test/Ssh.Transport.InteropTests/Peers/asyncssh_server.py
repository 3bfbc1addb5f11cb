#!/usr/bin/python3
"""An AsyncSSH server for the interop tests: negotiates with the given algorithm lists, reports what was agreed
as JSON on stdout when the client begins authentication, and refuses every authentication attempt.

  asyncssh_server.py --list
  asyncssh_server.py --port 0 --host-key /path ... [--kex a,b] [--ciphers ...] [--macs ...] [--compression ...]
"""
import argparse
import asyncio

import asyncssh

import asyncssh_common
import interop_common as common


class RefuseAll(asyncssh.SSHServer):
    def connection_made(self, conn):
        self._conn = conn

    def connection_lost(self, exc):
        common.emit("closed", error=repr(exc) if exc else None, kex_count=getattr(self._conn, "_interop_kex_count", 0))

    def begin_auth(self, username):
        common.emit("negotiated", **asyncssh_common.negotiated(self._conn))
        return True

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        return False

    def public_key_auth_supported(self):
        return True

    def validate_public_key(self, username, key):
        return False


async def serve(args) -> None:
    keys = [asyncssh.read_private_key(path) for path in args.host_key]
    options = asyncssh_common.algorithm_options(args)
    if args.host_key_algs:
        # The server offers the signature algorithms of its keys; keep only the keys that can make the asked ones.
        wanted = set(common.split(args.host_key_algs))
        keys = [k for k in keys if wanted.intersection(a.decode("ascii") for a in k.sig_algorithms)]
    server = await asyncssh.create_server(RefuseAll, "127.0.0.1", args.port, server_host_keys=keys, **options)
    common.emit("listening", port=server.sockets[0].getsockname()[1], version=asyncssh.__version__)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host-key", action="append", default=[])
    common.algorithm_arguments(parser)
    args = parser.parse_args()
    if args.list:
        asyncssh_common.list_algorithms()
        return
    common.setup_logging("asyncssh-server")
    asyncssh.set_debug_level(2)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
