#!/usr/bin/env python3
"""Python SSH clients against our server: CHANNELS sessions at once on one connection, each running `cat`, each sent
SIZE random bytes while reading them back; the SHA-256 of what went up and came back must agree, and every exit
status be 0. The client rekeys every REKEY bytes (0: at its default), the server as it is set up.

    python_clients.py paramiko|asyncssh PORT KEYFILE CHANNELS SIZE REKEY

Prints "N channels OK" and exits 0, or prints what went wrong and exits 1.
"""

import asyncio
import hashlib
import os
import sys
import threading

CHUNK = 32 * 1024


def paramiko_main(port, key_file, channels, size, rekey):
    import paramiko

    if os.environ.get("PARAMIKO_LOG"):
        paramiko.util.log_to_file(os.environ["PARAMIKO_LOG"], level="DEBUG")
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=port, username="alice", key_filename=key_file, allow_agent=False,
                   look_for_keys=False, timeout=30, banner_timeout=30, auth_timeout=30)
    transport = client.get_transport()
    if rekey:
        transport.packetizer.REKEY_BYTES = rekey
    results = [None] * channels

    def one(index):
        data = os.urandom(size)
        channel = transport.open_session(timeout=30)
        channel.settimeout(120)
        channel.exec_command("cat")
        received = hashlib.sha256()
        count = [0]

        def reader():
            while True:
                block = channel.recv(65536)
                if not block:
                    return
                count[0] += len(block)
                received.update(block)

        thread = threading.Thread(target=reader)
        thread.start()
        for offset in range(0, size, CHUNK):
            channel.sendall(data[offset:offset + CHUNK])
        channel.shutdown_write()
        thread.join(180)
        status = channel.recv_exit_status()
        channel.close()
        results[index] = (hashlib.sha256(data).hexdigest(), received.hexdigest(), count[0], status)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(channels)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    client.close()
    return results


async def asyncssh_session(conn, size):
    data = os.urandom(size)
    process = await conn.create_process("cat", encoding=None)
    received = hashlib.sha256()
    count = 0

    async def write():
        for offset in range(0, size, CHUNK):
            process.stdin.write(data[offset:offset + CHUNK])
            await process.stdin.drain()
        process.stdin.write_eof()

    writing = asyncio.ensure_future(write())
    while True:
        block = await process.stdout.read(65536)
        if not block:
            break
        count += len(block)
        received.update(block)
    await writing
    completed = await process.wait()
    return hashlib.sha256(data).hexdigest(), received.hexdigest(), count, completed.exit_status


async def asyncssh_main(port, key_file, channels, size, rekey):
    import asyncssh

    async with asyncssh.connect("127.0.0.1", port, username="alice", client_keys=[key_file], known_hosts=None,
                                agent_path=None, rekey_bytes=rekey or (1 << 30), connect_timeout=30) as conn:
        return await asyncio.wait_for(asyncio.gather(*(asyncssh_session(conn, size) for _ in range(channels))), 240)


def main():
    client, port, key_file, channels, size, rekey = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), \
        int(sys.argv[5]), int(sys.argv[6])
    if client == "paramiko":
        results = paramiko_main(port, key_file, channels, size, rekey)
    else:
        results = asyncio.run(asyncssh_main(port, key_file, channels, size, rekey))
    failures = [f"channel {i}: {r}" for i, r in enumerate(results) if r is None or r[0] != r[1] or r[2] != size or r[3] != 0]
    if failures:
        print("\n".join(failures))
        return 1
    print(f"{channels} channels OK, {size} bytes each way each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
