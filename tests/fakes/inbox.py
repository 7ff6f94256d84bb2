"""A webhook receiver on 127.0.0.1 for Apprise's ``json://`` URLs: what the toolkit sends
lands in ``messages`` (``title``, ``message``, ``type`` and the request ``path``)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Inbox:
    """A webhook receiver: Apprise's json:// posts land in ``messages``."""

    def __init__(self, status: int = 200):
        self.messages: list[dict] = []
        self.status = status
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                inbox.messages.append({"path": self.path, **json.loads(body)})
                self.send_response(inbox.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[dict]:
        """The messages once at least ``count`` arrived (delivery runs in another thread)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.messages)
