"""A TCP proxy that delays every client->server chunk by LATENCY seconds.

    python bench/latency_proxy.py LISTEN_PORT UPSTREAM_PORT LATENCY

HTTP clients send each request as one small write, so this approximates "latency per
request" in front of a fast server (``rclone serve webdav``, written in Go), without the
per-request CPU cost of a Python WebDAV server. Prints ``ready`` when listening.
"""
from __future__ import annotations

import asyncio
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while chunk := await reader.read(65536):
            if delay:
                await asyncio.sleep(delay)
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(listen_port: int, upstream_port: int, latency: float) -> None:
    async def handle(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer, latency), pipe(upstream_reader, client_writer, 0))

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
