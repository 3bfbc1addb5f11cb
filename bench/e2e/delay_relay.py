#!/usr/bin/python3
"""A TCP relay that adds a fixed one-way delay in each direction: a long path on loopback.

    delay_relay.py LISTEN_PORT TARGET_PORT [--delay-ms 50] [--max-in-flight-mib 512]

Listens on 127.0.0.1:LISTEN_PORT and connects each client to 127.0.0.1:TARGET_PORT. Every chunk read from one side is
written to the other DELAY ms after it was read, in order: a round trip through the relay takes 2*DELAY more. The
bandwidth is not limited; what is in flight per direction is bounded (reading pauses at the bound), which is the
path's buffer, far above any bandwidth-delay product this machine reaches at 50 ms. Loopback only. Prints "ready PORT"
when listening; stops at SIGTERM/SIGINT.
"""
import argparse
import asyncio
import collections
import signal
import time

CHUNK = 256 * 1024


async def pump(reader, writer, delay, max_in_flight):
    """Moves reader -> writer, each chunk released `delay` seconds after it was read."""
    queue = collections.deque()
    in_flight = 0
    arrived = asyncio.Event()
    drained = asyncio.Event()
    drained.set()
    done = False

    async def receive():
        nonlocal in_flight, done
        try:
            while True:
                while in_flight >= max_in_flight:
                    drained.clear()
                    await drained.wait()
                data = await reader.read(CHUNK)
                if not data:
                    break
                queue.append((time.monotonic() + delay, data))
                in_flight += len(data)
                arrived.set()
        except (ConnectionError, OSError):
            pass
        finally:
            done = True
            arrived.set()

    async def send():
        nonlocal in_flight
        try:
            while True:
                while not queue:
                    if done:
                        return
                    arrived.clear()
                    await arrived.wait()
                due, data = queue.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
                in_flight -= len(data)
                drained.set()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                if writer.can_write_eof():
                    writer.write_eof()
            except (ConnectionError, OSError):
                pass

    await asyncio.gather(receive(), send())


async def serve(listen_port, target_port, delay, max_in_flight):
    async def on_client(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(
                pump(client_reader, server_writer, delay, max_in_flight),
                pump(server_reader, client_writer, delay, max_in_flight))
        except asyncio.CancelledError:
            pass  # the relay is stopping
        finally:
            for w in (client_writer, server_writer):
                try:
                    w.close()
                except OSError:
                    pass

    server = await asyncio.start_server(on_client, "127.0.0.1", listen_port)
    port = server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    async with server:
        await stop.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("listen_port", type=int)
    parser.add_argument("target_port", type=int)
    parser.add_argument("--delay-ms", type=float, default=50.0, help="one-way delay (default 50 ms: 100 ms round trip)")
    parser.add_argument("--max-in-flight-mib", type=int, default=512, help="bytes held per direction before reading pauses")
    args = parser.parse_args()
    asyncio.run(serve(args.listen_port, args.target_port, args.delay_ms / 1000.0, args.max_in_flight_mib * 1024 * 1024))


if __name__ == "__main__":
    main()
