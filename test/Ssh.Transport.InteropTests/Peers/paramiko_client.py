#!/usr/bin/python3
"""A paramiko SSH client for the interop tests: negotiates with the given algorithm lists, tries the "none"
authentication (which the test server refuses), optionally streams SSH_MSG_IGNORE first, and reports what was
agreed as JSON on stdout.

  paramiko_client.py --port N [--kex a,b] [--ciphers ...] [--macs ...] [--host-key-algs ...] [--compression ...]
                     [--ignore-bytes N]
"""
import argparse
import socket

import interop_common as common
import paramiko
from paramiko_server import RecordingTransport, configure


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ignore-bytes", type=int, default=0)
    parser.add_argument("--rekey-bytes", type=int)
    common.algorithm_arguments(parser)
    args = parser.parse_args()
    common.setup_logging("paramiko-client")

    connection = socket.create_connection(("127.0.0.1", args.port), timeout=30)
    transport = RecordingTransport(connection)
    configure(transport, args)
    transport.start_client(timeout=30)
    common.emit("negotiated", **transport.negotiated)

    sent = 0
    while sent < args.ignore_bytes:
        transport.send_ignore(32768)
        sent += 32768
    if sent:
        common.emit("ignored", bytes=sent)

    allowed = None
    try:
        transport.auth_none("interop")
    except paramiko.BadAuthenticationType as error:
        allowed = error.allowed_types
    common.emit("auth", allowed=allowed)
    transport.close()


if __name__ == "__main__":
    main()
