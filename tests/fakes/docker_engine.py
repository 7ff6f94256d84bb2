"""A fake Docker Engine API on a unix socket, for the docker SDK (``DOCKER_HOST=unix://...``).

It serves recorded-shape payloads from ``data/docker/``: ``inspect-<name>.json`` are
``docker inspect`` documents (moby ``ContainerInspectResponse``), ``version.json`` is
``GET /version``, ``config-<name>.xml`` is the ``/config/config.xml`` of container
``<name>`` (served as a tar stream by ``GET /containers/{id}/archive``, with the
``X-Docker-Container-Path-Stat`` header like the engine). ``GET /containers/json``
answers ``ContainerSummary`` objects derived from the inspect documents. Requests are
recorded in ``requests``; an unknown route answers 404 and is recorded in ``unknown``.
"""
from __future__ import annotations

import base64
import io
import json
import re
import socketserver
import tarfile
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DATA_DIR = Path(__file__).resolve().parent / "data" / "docker"


def load_containers(names: list[str] | None = None) -> dict[str, dict]:
    """Inspect documents by container name (all recorded ones, or just ``names``)."""
    found = {p.stem.removeprefix("inspect-"): json.loads(p.read_text()) for p in sorted(DATA_DIR.glob("inspect-*.json"))}
    return found if names is None else {n: found[n] for n in names}


def summary(inspect: dict) -> dict:
    """``ContainerSummary`` (``GET /containers/json``) built from an inspect document."""
    settings = inspect["NetworkSettings"]
    ports = []
    for key, bindings in (settings.get("Ports") or {}).items():
        private, kind = key.split("/")
        for binding in bindings or [None]:
            entry = {"PrivatePort": int(private), "Type": kind}
            if binding:
                entry.update(IP=binding["HostIp"], PublicPort=int(binding["HostPort"]))
            ports.append(entry)
    config = inspect["Config"]
    return {
        "Id": inspect["Id"], "Names": [inspect["Name"]], "Image": config["Image"], "ImageID": inspect["Image"],
        "Command": " ".join((config.get("Entrypoint") or []) + (config.get("Cmd") or [])),
        "Created": 1748772000, "Ports": ports, "Labels": config.get("Labels") or {},
        "State": inspect["State"]["Status"], "Status": "Up 2 days" if inspect["State"]["Running"] else "Exited (0) 1 day ago",
        "HostConfig": {"NetworkMode": inspect["HostConfig"]["NetworkMode"]},
        "NetworkSettings": {"Networks": settings["Networks"]}, "Mounts": inspect["Mounts"],
    }


class FakeDockerEngine:
    def __init__(self, socket_path: Path, containers: dict[str, dict] | None = None,
                 configs: dict[str, bytes] | None = None):
        self.socket_path = Path(socket_path)
        self.containers = load_containers() if containers is None else containers
        self.configs = configs if configs is not None else {
            p.stem.removeprefix("config-"): p.read_bytes() for p in DATA_DIR.glob("config-*.xml")}
        self.version = json.loads((DATA_DIR / "version.json").read_text())
        self.requests: list[tuple[str, str]] = []
        self.unknown: list[str] = []
        self._server: socketserver.ThreadingUnixStreamServer | None = None

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> "FakeDockerEngine":
        handler = type("Handler", (_Handler,), {"engine": self})
        self._server = socketserver.ThreadingUnixStreamServer(str(self.socket_path), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True, name="fake-docker").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self.socket_path.unlink(missing_ok=True)

    def _find(self, ref: str) -> tuple[str, dict] | None:
        for name, inspect in self.containers.items():
            if ref in (name, inspect["Id"]) or (len(ref) >= 12 and inspect["Id"].startswith(ref)):
                return name, inspect
        return None

    def answer(self, method: str, raw_path: str) -> tuple[int, dict[str, str], bytes]:
        self.requests.append((method, raw_path))
        parts = urlsplit(raw_path)
        path = re.sub(r"^/v\d+\.\d+", "", parts.path)  # the SDK prefixes the API version
        query = parse_qs(parts.query)
        if path == "/_ping":
            return 200, {"Content-Type": "text/plain; charset=utf-8", "Api-Version": self.version["ApiVersion"]}, b"OK"
        if path == "/version":
            return _json(200, self.version)
        if path == "/containers/json":
            running_only = query.get("all", ["0"])[0] in ("0", "false")
            return _json(200, [summary(c) for c in self.containers.values()
                               if not running_only or c["State"]["Running"]])
        match = re.fullmatch(r"/containers/([^/]+)/(json|archive)", path)
        if match and method in ("GET", "HEAD"):
            found = self._find(match.group(1))
            if found is None:
                return _json(404, {"message": f"No such container: {match.group(1)}"})
            name, inspect = found
            if match.group(2) == "json":
                return _json(200, inspect)
            return self._archive(name, query.get("path", [""])[0])
        self.unknown.append(f"{method} {raw_path}")
        return _json(404, {"message": "page not found"})

    def _archive(self, name: str, path: str) -> tuple[int, dict[str, str], bytes]:
        content = self.configs.get(name)
        if path != "/config/config.xml" or content is None:
            return _json(404, {"message": f"Could not find the file {path} in container {name}"})
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            info = tarfile.TarInfo("config.xml")
            info.size, info.mode, info.mtime = len(content), 0o644, 1748772000
            archive.addfile(info, io.BytesIO(content))
        stat = {"name": "config.xml", "size": len(content), "mode": 420,
                "mtime": "2025-06-01T10:00:00Z", "linkTarget": ""}
        headers = {"Content-Type": "application/x-tar",
                   "X-Docker-Container-Path-Stat": base64.b64encode(json.dumps(stat).encode()).decode()}
        return 200, headers, buffer.getvalue()


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    engine: FakeDockerEngine
    protocol_version = "HTTP/1.1"
    server_version = "Docker/27.5.1 (linux)"
    sys_version = ""
    wbufsize = 1 << 16

    def address_string(self) -> str:  # unix sockets have no peer address
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, body = self.engine.answer(self.command, self.path)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_DELETE = _serve
