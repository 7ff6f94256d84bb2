"""The benches' remote: ``rclone serve webdav`` (Go) behind ``bench/latency_proxy.py``.

A fast server in its own process with ``latency`` seconds added to every request: the
Python WsgiDAV fake (tests/fakes/webdav.py) costs ~10 ms of CPU per request and, with a
thread per request, caps at ``threads / latency`` requests per second (80/s with 16
threads at 200 ms): it would measure itself, not rclone.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from toolkit.testing import free_port

BENCH = Path(__file__).resolve().parent


def wait_for_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class SlowRemote:
    """``url`` serves ``root`` read-only with ``latency`` s per request; ``stop()``. With
    ``request_log``, every request is logged there (see ``latency_proxy.py``)."""

    def __init__(self, root: Path, latency: float, request_log: Path | None = None) -> None:
        server_port, proxy_port = free_port(), free_port()
        self.server = subprocess.Popen(["rclone", "serve", "webdav", str(root), "--addr", f"127.0.0.1:{server_port}",
                                        "--read-only"], stderr=subprocess.DEVNULL)
        self.proxy = subprocess.Popen([sys.executable, str(BENCH / "latency_proxy.py"), str(proxy_port),
                                       str(server_port), str(latency), *([str(request_log)] if request_log else [])],
                                      stdout=subprocess.PIPE, text=True)
        assert self.proxy.stdout is not None
        self.proxy.stdout.readline()
        wait_for_port(server_port)
        self.url = f"http://127.0.0.1:{proxy_port}/"

    def stop(self) -> None:
        for process in (self.proxy, self.server):
            process.terminate()
            process.wait(10)
