#!/usr/bin/python3
"""An AsyncSSH client for the interop tests: negotiates with the given algorithm lists, is refused at
authentication by the test server, and reports what was agreed as JSON on stdout.

  asyncssh_client.py --port N [--kex a,b] [--ciphers ...] [--macs ...] [--host-key-algs ...] [--compression ...]
"""
import argparse
import asyncio

import asyncssh

import asyncssh_common
import interop_common as common


class Client(asyncssh.SSHClient):
    conn = None
    reported = False

    def connection_made(self, conn):
        self.conn = conn

    def report(self):
        if not self.reported:
            self.reported = True
            common.emit("negotiated", **asyncssh_common.negotiated(self.conn))

    def public_key_auth_requested(self):
        self.report()
        return None

    def password_auth_requested(self):
        self.report()
        return None


async def run(args) -> int:
    client = Client()
    options = asyncssh_common.algorithm_options(args)
    if args.host_key_algs:
        options["server_host_key_algs"] = common.split(args.host_key_algs)
    try:
        conn, _ = await asyncssh.create_connection(
            lambda: client, "127.0.0.1", args.port, username="interop", known_hosts=None,
            client_keys=None, agent_path=None, password=None, preferred_auth="publickey,password", **options)
        conn.close()
        common.emit("auth", allowed=None, error="authentication unexpectedly succeeded")
        return 1
    except asyncssh.PermissionDenied as error:
        client.report()
        common.emit("auth", allowed=["publickey", "password"], error=str(error))
        return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    common.algorithm_arguments(parser)
    args = parser.parse_args()
    common.setup_logging("asyncssh-client")
    asyncssh.set_debug_level(2)
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
