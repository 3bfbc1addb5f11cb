"""AsyncSSH helpers of the interop scripts: what a connection agreed on, and the library's algorithm tables."""
import inspect
import struct

import asyncssh
import asyncssh.connection
import asyncssh.public_key
from asyncssh import compression, encryption, kex, mac, public_key

import interop_common as common

_original_get_kex = asyncssh.connection.get_kex
_original_verify = asyncssh.public_key.SSHKey.verify
_verified_host_key_algorithms = []


def _recording_get_kex(conn, alg):
    """The connection looks get_kex up at each KEXINIT: remember the method it agreed on."""
    conn._interop_kex = alg.decode("ascii")
    conn._interop_kex_count = getattr(conn, "_interop_kex_count", 0) + 1
    return _original_get_kex(conn, alg)


def _recording_verify(self, data, sig):
    """A client verifies the server's exchange-hash signature here: remember its algorithm name."""
    (length,) = struct.unpack(">I", sig[:4])
    _verified_host_key_algorithms.append(sig[4:4 + length].decode("ascii"))
    return _original_verify(self, data, sig)


asyncssh.connection.get_kex = _recording_get_kex
asyncssh.public_key.SSHKey.verify = _recording_verify


def negotiated(conn) -> dict:
    if conn.is_client():
        host_key = _verified_host_key_algorithms[0] if _verified_host_key_algorithms else None
    else:
        keypair = conn._server_host_key
        host_key = (getattr(keypair, "sig_algorithm", None) or keypair.algorithm).decode("ascii") if keypair else None
    send = (conn.get_extra_info("send_cipher"), conn.get_extra_info("send_mac"), conn.get_extra_info("send_compression"))
    recv = (conn.get_extra_info("recv_cipher"), conn.get_extra_info("recv_mac"), conn.get_extra_info("recv_compression"))
    cs, sc = (send, recv) if conn.is_client() else (recv, send)
    return dict(
        kex=getattr(conn, "_interop_kex", None),
        host_key=host_key,
        cipher_cs=cs[0], cipher_sc=sc[0],
        mac_cs=cs[1], mac_sc=sc[1],
        compression_cs=cs[2], compression_sc=sc[2],
        strict=bool(getattr(conn, "_strict_kex", False)),
        kex_count=getattr(conn, "_interop_kex_count", 0),
    )


def list_algorithms() -> None:
    def names(values):
        return [v.decode("ascii") for v in values]

    common.emit(
        "supported",
        version=asyncssh.__version__,
        kex=[k for k in names(kex.get_kex_algs()) if not k.startswith("gss-")],
        host_key=names(public_key.get_public_key_algs()),
        ciphers=names(encryption.get_encryption_algs()),
        macs=names(mac.get_mac_algs()),
        compression=names(compression.get_compression_algs()),
        strict="kex-strict-" in inspect.getsource(asyncssh.connection),
    )


def algorithm_options(args) -> dict:
    """create_server/create_connection keyword arguments; omitted lists keep AsyncSSH's defaults."""
    options = {}
    for option, value in (("kex_algs", args.kex), ("encryption_algs", args.ciphers), ("mac_algs", args.macs),
                          ("compression_algs", args.compression)):
        if value:
            options[option] = common.split(value)
    return options
