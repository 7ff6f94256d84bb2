"""The raw ceiling of the test rig and of rclone, without the toolkit.

    .venv/bin/python bench/rclone_ceiling.py [--latency 0.02] [--files 400] [--server rclone|wsgidav]
        [--server-threads 16] [--rclone-flag=--tpslimit=10 ...]

Serves ``files`` files of 256 KiB, ``latency`` seconds per request, from ``rclone serve
webdav`` behind ``bench/latency_proxy.py`` (``--server rclone``, the default: see
``bench/rig.py``) or from the WsgiDAV fake (``--server wsgidav``: its own process,
``server-threads`` threads), and measures, at concurrency 1…32:
- **http**: ranged GETs of the first 1 KiB straight to the server (the rig alone);
- **open+1K**: open + read 1 KiB through ``rclone mount`` with its default flags (what
  phase 1 does per link);
- **probe 32K**: open + read 32 KiB, what ffprobe (and the PyAV prober) read of the
  phase-2 bench's 3-second MKV/MP4/MP3 files (one ``read(32768)``, seen with strace);
- **probe-like**: open + read 64 KiB at the start + 64 KiB at the end (a container
  whose index is at the end: two range requests).
Files are read again across measures: with rclone's default ``--vfs-cache-mode off`` no
data is cached, every open asks the server again. Prints files per second.
"""
from __future__ import annotations

import argparse
import http.client
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from fakes.rclone_mount import WebDAVProcess, start_rclone_mount, stop_rclone_mount  # noqa: E402
from rig import SlowRemote  # noqa: E402

SIZE = 256 * 1024


def rate(function, names: list[str], concurrency: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(function, names))
    return len(names) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--server", choices=("rclone", "wsgidav"), default="rclone")
    parser.add_argument("--server-threads", type=int, default=16, help="wsgidav only")
    parser.add_argument("--concurrency", type=int, action="append", help="default 1 2 4 8 16 32")
    parser.add_argument("--rclone-flag", action="append", default=[], help="an extra rclone mount flag (repeatable)")
    arguments = parser.parse_args()
    print(f"load average: {os.getloadavg()}; latency {arguments.latency:g} s; server {arguments.server}"
          f"{f' ({arguments.server_threads} threads)' if arguments.server == 'wsgidav' else ''}; "
          f"rclone flags {arguments.rclone_flag or 'defaults'}")
    with tempfile.TemporaryDirectory(prefix="rclone-ceiling-") as temporary:
        remote, mount_point = Path(temporary) / "remote", Path(temporary) / "mnt"
        (remote / "d").mkdir(parents=True)
        content = os.urandom(SIZE)
        for index in range(arguments.files):
            (remote / "d" / f"f{index}.bin").write_bytes(content)
        if arguments.server == "rclone":
            server = SlowRemote(remote, arguments.latency)
        else:
            server = WebDAVProcess(remote, latency=arguments.latency, threads=arguments.server_threads)
        rclone = start_rclone_mount(server, mount_point, *arguments.rclone_flag, flags=())
        try:
            os.listdir(mount_point / "d")
            address = urlparse(server.url)

            def http_get(name: str) -> None:
                connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
                connection.request("GET", f"/d/{name}", headers={"Range": "bytes=0-1023"})
                connection.getresponse().read()
                connection.close()

            def open_read(name: str) -> None:
                with open(mount_point / "d" / name, "rb") as handle:
                    handle.read(1024)

            def probe_32k(name: str) -> None:
                with open(mount_point / "d" / name, "rb") as handle:
                    handle.read(32768)

            def probe_like(name: str) -> None:
                with open(mount_point / "d" / name, "rb") as handle:
                    handle.read(65536)
                    handle.seek(-65536, os.SEEK_END)
                    handle.read(65536)

            print("concurrency | http GET 1K /s | rclone open+1K /s | rclone probe 32K /s | rclone probe-like /s")
            names = [f"f{i}.bin" for i in range(arguments.files)]
            for concurrency in arguments.concurrency or (1, 2, 4, 8, 16, 32):
                count = min(len(names), max(20, concurrency * 8))
                figures = [rate(function, names[:count], concurrency)
                           for function in (http_get, open_read, probe_32k, probe_like)]
                print(f"{concurrency:>11} | {figures[0]:>14.1f} | {figures[1]:>17.1f} | {figures[2]:>18.1f} | "
                      f"{figures[3]:>20.1f}", flush=True)
        finally:
            stop_rclone_mount(rclone, mount_point)
            server.stop()


if __name__ == "__main__":
    main()
