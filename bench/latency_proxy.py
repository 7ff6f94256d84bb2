"""A TCP proxy that delays every client->server chunk by LATENCY seconds.

    python bench/latency_proxy.py LISTEN_PORT UPSTREAM_PORT LATENCY [REQUEST_LOG]

HTTP clients send each request as one small write, so this approximates "latency per
request" in front of a fast server (``rclone serve webdav``, written in Go), without the
per-request CPU cost of a Python WebDAV server. Prints ``ready`` when listening.
With ``REQUEST_LOG``, each request is written there as it arrives, one line
``UNIX_TIME METHOD PATH RANGE`` (``time.time()``: comparable with other processes'
timestamps, strace's ``-ttt`` included), for traces (``bench/symlink_trace.py``).
"""
from __future__ import annotations

import asyncio
import sys
import time

_METHODS = (b"GET ", b"HEAD ", b"PROPFIND ", b"OPTIONS ", b"PUT ", b"POST ")
log = None


def note(chunk: bytes) -> None:
    """Log the request line(s) a client->server chunk starts (or holds, pipelined)."""
    at = time.time()
    for request in chunk.split(b"\r\n\r\n"):
        if not request.startswith(_METHODS):
            continue
        lines = request.split(b"\r\n")
        method, path = lines[0].split(b" ")[:2]
        ranges = [line.split(b":", 1)[1].strip() for line in lines[1:] if line.lower().startswith(b"range:")]
        log.write(f"{at:.6f} {method.decode()} {path.decode()} {(ranges or [b'-'])[0].decode()}\n")
    log.flush()


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float,
               requests: bool = False) -> None:
    try:
        while chunk := await reader.read(65536):
            if requests and log is not None:
                note(chunk)
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
        await asyncio.gather(pipe(client_reader, upstream_writer, latency, True), pipe(upstream_reader, client_writer, 0))

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) > 4:
        log = open(sys.argv[4], "w", encoding="utf-8")
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
