"""Real HTTP servers on 127.0.0.1 that speak the part of the Jellyfin / Emby / Plex APIs the
toolkit uses, as their documentation describes it.

Jellyfin and Emby (``kind="jellyfin"`` / ``"emby"``; Jellyfin's OpenAPI ``LibraryController``,
Emby's REST API documentation, same shapes):

- ``GET /System/Info``: the server's info (name, version, id, and more the toolkit must not
  pass on);
- ``POST /Library/Media/Updated``: a JSON ``MediaUpdateInfoDto`` body
  ``{"Updates": [{"Path": str, "UpdateType": "Created"|"Modified"|"Deleted"}]}``, answered 204.

Plex (``kind="plex"``; the Plex Media Server URL commands):

- ``GET /``: the server's ``MediaContainer`` (``friendlyName``, ``version``,
  ``machineIdentifier``);
- ``GET /library/sections``: each section's ``key`` and ``Location`` paths, as JSON when the
  request accepts ``application/json``, else as XML like the real server;
- ``GET /library/sections/{key}/refresh?path=<folder>``: a partial scan, answered 200;
- ``GET /library/sections/{key}/all?trash=1&X-Plex-Container-Start=0&X-Plex-Container-Size=0``:
  how many items the section's trash holds (``totalSize``; ``trash`` sets it), and
  ``PUT /library/sections/{key}/emptyTrash``: empties it.

The key must come in the ``X-Emby-Token`` / ``X-Plex-Token`` header (else 401, as the real
servers answer). Every request is recorded in ``calls``; what is off the documented API (an
unknown path or method, a body of another shape, a refresh of an unknown section or
without ``path``, a key in the URL, where access logs keep it) is recorded in ``violations``
and answered 400/404. ``fail_status`` makes every authenticated request fail with that
status and an error page holding ``SECRET_MARKER``, which nothing may pass on.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

SECRET_MARKER = "internal-detail-7f3a"  # in every answer part the toolkit must not show
UPDATE_TYPES = {"Created", "Modified", "Deleted"}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any = None


@dataclass
class FakeMediaServer:
    kind: str  # jellyfin, emby or plex
    token: str = "media-key-123"
    #: Plex: section key -> location paths
    sections: dict[str, list[str]] = field(default_factory=lambda: {"1": ["/data/movies"], "2": ["/data/tv"]})
    fail_status: int | None = None
    #: Plex: section key -> items in its trash (items whose files went missing)
    trash: dict[str, int] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakeMediaServer":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def refreshes(self) -> list[Any]:
        """What was asked to be scanned: Jellyfin/Emby the ``Updates`` lists, Plex
        ``(section, path)`` pairs."""
        if self.kind == "plex":
            return [(c.path.split("/")[3], c.query["path"][0]) for c in self.calls if c.path.endswith("/refresh")]
        return [c.body["Updates"] for c in self.calls if c.path == "/Library/Media/Updated"]

    # -- answering ----------------------------------------------------------------------
    def _off(self, message: str, status: int = 400) -> tuple[int, Any]:
        with self._lock:
            self.violations.append(message)
        return status, {"error": message}

    def answer(self, method: str, raw_path: str, headers, raw_body: bytes) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        body = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                return self._off(f"{method} {path}: the body is not JSON")
        with self._lock:
            self.calls.append(Call(method, path, query, body))
        if {"X-Plex-Token", "X-Emby-Token", "api_key", "ApiKey"} & set(query):
            return self._off(f"{method} {path}: the key is in the URL")
        header = "X-Plex-Token" if self.kind == "plex" else "X-Emby-Token"
        if headers.get(header) != self.token:
            return 401, f"<html>Unauthorized {SECRET_MARKER}</html>"
        if self.fail_status:
            return self.fail_status, f"<html>error page {SECRET_MARKER} token={self.token}</html>"
        if self.kind == "plex":
            return self._plex(method, path, query, headers)
        return self._emby(method, path, headers, body)

    def _emby(self, method: str, path: str, headers, body: Any) -> tuple[int, Any]:
        if path == "/System/Info" and method == "GET":
            return 200, {"ServerName": f"fake {self.kind}", "Version": "10.10.7", "Id": "abc123",
                         "OperatingSystem": "Linux", "LocalAddress": f"http://10.0.0.5:8096/{SECRET_MARKER}"}
        if path == "/Library/Media/Updated" and method == "POST":
            if "application/json" not in headers.get("Content-Type", ""):
                return self._off("POST /Library/Media/Updated: Content-Type is not application/json")
            updates = body.get("Updates") if isinstance(body, dict) else None
            if not isinstance(updates, list) or not updates or set(body) != {"Updates"}:
                return self._off(f"POST /Library/Media/Updated: not a MediaUpdateInfoDto: {body!r:.200}")
            for update in updates:
                if (not isinstance(update, dict) or not isinstance(update.get("Path"), str)
                        or not update["Path"].startswith("/") or update.get("UpdateType") not in UPDATE_TYPES
                        or set(update) - {"Path", "UpdateType"}):
                    return self._off(f"POST /Library/Media/Updated: bad update {update!r:.200}")
            return 204, None
        return self._off(f"{method} {path}: not in the {self.kind} API", 404)

    def _plex(self, method: str, path: str, query: dict, headers) -> tuple[int, Any]:
        segments = path.split("/")
        section = segments[3] if len(segments) == 5 and segments[1:3] == ["library", "sections"] else None
        if section is not None and segments[4] == "emptyTrash":  # PUT, as Plex Web sends it
            if method != "PUT":
                return self._off(f"{method} {path}: emptyTrash is a PUT", 405)
            if section not in self.sections:
                return self._off(f"PUT {path}: no section {section}", 404)
            with self._lock:
                self.trash[section] = 0
            return 200, ""
        if method != "GET":
            return self._off(f"{method} {path}: the toolkit only reads, refreshes and empties the trash", 405)
        if section is not None and segments[4] == "all":
            if section not in self.sections:
                return self._off(f"GET {path}: no section {section}", 404)
            if query.get("trash") != ["1"] or query.get("X-Plex-Container-Size") != ["0"]:
                return self._off(f"GET {path}: the toolkit only counts the trash ({query!r})")
            return 200, {"MediaContainer": {"size": 0, "totalSize": self.trash.get(section, 0),
                                            "librarySectionID": section}}
        if path == "/":
            return 200, {"MediaContainer": {"friendlyName": "fake plex", "version": "1.41.3.9314",
                                            "machineIdentifier": "m123", "myPlexUsername": SECRET_MARKER}}
        if path == "/library/sections":
            directories = [{"key": key, "type": "movie", "title": f"Section {key}",
                            "Location": [{"id": i, "path": p} for i, p in enumerate(paths, 1)]}
                           for key, paths in self.sections.items()]
            if "application/json" in headers.get("Accept", ""):
                return 200, {"MediaContainer": {"size": len(directories), "Directory": directories}}
            root = ElementTree.Element("MediaContainer", size=str(len(directories)))
            for d in directories:
                node = ElementTree.SubElement(root, "Directory", key=d["key"], type=d["type"], title=d["title"])
                for loc in d["Location"]:
                    ElementTree.SubElement(node, "Location", id=str(loc["id"]), path=loc["path"])
            return 200, ElementTree.tostring(root, encoding="unicode")
        segments = path.split("/")
        if len(segments) == 5 and segments[1:3] == ["library", "sections"] and segments[4] == "refresh":
            if segments[3] not in self.sections:
                return self._off(f"GET {path}: no section {segments[3]}", 404)
            paths = query.get("path", [])
            if len(paths) != 1 or not paths[0].startswith("/"):
                return self._off(f"GET {path}: a partial scan takes one absolute path= ({paths!r})")
            if set(query) - {"path", "force"}:
                return self._off(f"GET {path}: unknown parameters {sorted(set(query) - {'path', 'force'})}")
            return 200, ""
        return self._off(f"GET {path}: not in the Plex API the toolkit uses", 404)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeMediaServer

    def log_message(self, *args) -> None:  # quiet tests
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, payload = self.fake.answer(self.command, self.path, self.headers, raw)
        if payload is None:
            data, kind = b"", "application/json"
        elif isinstance(payload, str):
            data = payload.encode()
            kind = "text/xml" if payload.startswith("<MediaContainer") else "text/html"
        else:
            data, kind = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _handle
