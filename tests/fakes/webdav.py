"""A real WebDAV server (WsgiDAV on cheroot, 127.0.0.1) with fault injection in front.

It stands in for zurg / a debrid WebDAV service under an rclone mount. A test can add
latency per request, answer 500 for chosen paths, or answer 503 for everything.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from cheroot import wsgi
from wsgidav.wsgidav_app import WsgiDAVApp


class FaultInjector:
    """WSGI middleware: ``latency`` seconds per request, 500 for ``failing_paths``."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.latency = 0.0
        self.failing_paths: set[str] = set()
        self.failing_methods: set[str] = {"GET"}
        self.unavailable = False
        self.requests = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            self.requests += 1
        if self.latency:
            time.sleep(self.latency)
        path = environ.get("PATH_INFO", "")
        if self.unavailable or (path in self.failing_paths and environ["REQUEST_METHOD"] in self.failing_methods):
            start_response("500 Internal Server Error", [("Content-Type", "text/plain"), ("Content-Length", "5")])
            return [b"error"]
        return self.app(environ, start_response)


class WebDAVServer:
    def __init__(self, root: Path) -> None:
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
        self.server = wsgi.Server(("127.0.0.1", 0), self.faults, numthreads=16)
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
    """``python tests/fakes/webdav.py ROOT [LATENCY]``: serve in this process (benchmarks run
    the server apart from the engine so both do not share one GIL); prints the URL."""
    import sys

    server = WebDAVServer(Path(sys.argv[1]))
    server.faults.latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    server.start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
