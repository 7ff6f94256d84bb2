"""A real WebDAV server (WsgiDAV on cheroot, 127.0.0.1) with fault injection in front.

It stands in for zurg / a debrid WebDAV service under an rclone mount. A test can add
latency per request, answer 500 for chosen paths, or answer 503 for everything.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

from cheroot import wsgi
from wsgidav.wsgidav_app import WsgiDAVApp


class FaultInjector:
    """WSGI middleware: ``latency`` seconds per request, 500 for ``failing_paths``, 503 for
    ``unavailable_paths`` (a debrid service's "try later"), 503 for everything when
    ``unavailable``."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.latency = 0.0
        self.failing_paths: set[str] = set()
        self.unavailable_paths: set[str] = set()
        self.failing_methods: set[str] = {"GET"}
        self.unavailable = False
        self.requests = 0
        self.gets: Counter[str] = Counter()  # GET requests per path: what a scan reads
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        with self._lock:
            self.requests += 1
            if environ["REQUEST_METHOD"] == "GET":
                self.gets[path] += 1
        if self.latency:
            time.sleep(self.latency)
        failing = environ["REQUEST_METHOD"] in self.failing_methods
        if self.unavailable or (failing and path in self.unavailable_paths):
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Content-Length", "5")])
            return [b"later"]
        if failing and path in self.failing_paths:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain"), ("Content-Length", "5")])
            return [b"error"]
        return self.app(environ, start_response)


class WebDAVServer:
    def __init__(self, root: Path, *, threads: int = 16) -> None:
        self.root = root
        config = {
            "host": "127.0.0.1",
            "port": 0,
            "provider_mapping": {"/": str(root)},
            "simple_dc": {"user_mapping": {"*": True}},
            "http_authenticator": {"domain_controller": None},
            "verbose": 0,
            "logging": {"enable": False, "enable_loggers": []},
            "property_manager": True,
            "lock_storage": True,
        }
        self.faults = FaultInjector(WsgiDAVApp(config))
        self.server = wsgi.Server(("127.0.0.1", 0), self.faults, numthreads=threads)
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.bind_addr[:2]
        return f"http://{host}:{port}/"

    def start(self) -> WebDAVServer:
        self.server.prepare()
        self.thread = threading.Thread(target=self.server.serve, daemon=True, name="webdav")
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        if self.thread:
            self.thread.join(5)


def main() -> None:
    """``python tests/fakes/webdav.py ROOT [LATENCY] [--fail500 PATH]... [--fail503 PATH]...``:
    serve in this process, print the URL. Benchmarks run the server apart from the engine
    (both would share one GIL), and tests that hang the server stop this process
    (SIGSTOP by its pid)."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("latency", nargs="?", type=float, default=0.0)
    parser.add_argument("--fail500", action="append", default=[], help="a path answered 500 (repeatable)")
    parser.add_argument("--fail503", action="append", default=[], help="a path answered 503 (repeatable)")
    parser.add_argument("--threads", type=int, default=16)
    arguments = parser.parse_args()
    server = WebDAVServer(Path(arguments.root), threads=arguments.threads)
    server.faults.latency = arguments.latency
    server.faults.failing_paths.update(arguments.fail500)
    server.faults.unavailable_paths.update(arguments.fail503)
    server.start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
