"""Find Sonarr / Radarr / Lidarr containers through the Docker Engine API.

:func:`detect_services` is **blocking** (the docker SDK is): call it in a thread, e.g.
``await asyncio.to_thread(detect_services)``. It returns proposals for the user to
review; it never saves anything. When the engine cannot be used it raises
``DockerUnavailable`` with a message for humans.

How each proposal is worked out:

* kind: the image's repository name (``lscr.io/linuxserver/sonarr``, ``ghcr.io/hotio/radarr``,
  ``binhex/arch-lidarr`` …), else the container name;
* address: when the toolkit runs in a container sharing a user-defined network with the
  service, the container name and the internal port (Docker's DNS resolves it); otherwise
  the published host port (from the host: ``localhost``; from a container: its network
  gateway, i.e. the Docker host); a toolkit on the host may also use the container's IP.
  Services sharing another container's network (``container:<vpn>``) are reached
  through that container;
* API key: the ``<KIND>__AUTH__APIKEY`` environment variable, else ``<ApiKey>`` of
  ``config.xml`` read with ``container.get_archive`` (no shell, no host file access);
  ``config.xml`` also gives the port and the URL base.
"""
from __future__ import annotations

import io
import logging
import re
import socket
import tarfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from toolkit.core.services.errors import DockerUnavailable
from toolkit.core.services.settings import CONNECTION_MODELS, ArrConnection, ServiceKind

log = logging.getLogger(__name__)

CONFIG_XML_LIMIT = 1 << 20  # config.xml is ~1 KiB; never buffer more than this
DEFAULT_BRIDGE = "bridge"
UNSPECIFIED_HOSTS = ("", "0.0.0.0", "::")
# containers named after an *arr that are not one (metrics exporters, database sidecars)
COMPANION_WORDS = frozenset({"exporter", "exportarr", "db", "postgres", "backup"})


@dataclass
class ServiceProposal:
    """One service found in Docker, to be shown to the user (never saved silently)."""

    kind: ServiceKind
    container_name: str
    container_id: str
    image: str
    flavor: str                # linuxserver, hotio or other
    matched_by: str            # "image" or "name"
    state: str                 # running, exited, ...
    networks: list[str]
    host: str | None = None
    port: int | None = None
    url_base: str = ""
    address_source: str = ""   # how the address was worked out, in words
    api_key: SecretStr | None = None
    api_key_source: str = ""   # e.g. "environment SONARR__AUTH__APIKEY"
    warnings: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str | None:
        if self.host is None or self.port is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.url_base}"

    def connection(self) -> ArrConnection:
        """Settings the user may accept; left disabled until they do."""
        model = CONNECTION_MODELS[self.kind]
        values: dict[str, Any] = {"enabled": False, "url_base": self.url_base}
        if self.host:
            values["host"] = self.host
        if self.port:
            values["port"] = self.port
        if self.api_key is not None:
            values["api_key"] = self.api_key
        return model(**values)

    def to_dict(self) -> dict:
        """JSON for the web page: the key itself is masked."""
        return {"kind": self.kind.value, "container_name": self.container_name,
                "container_id": self.container_id, "short_id": self.container_id[:12],
                "image": self.image, "flavor": self.flavor,
                "matched_by": self.matched_by, "state": self.state, "networks": self.networks,
                "host": self.host, "port": self.port, "url_base": self.url_base,
                "base_url": self.base_url, "address_source": self.address_source,
                "api_key_found": self.api_key is not None,
                "api_key": "**********" if self.api_key is not None else None,
                "api_key_source": self.api_key_source, "warnings": self.warnings}


@dataclass
class DetectionResult:
    proposals: list[ServiceProposal]
    toolkit_container: str | None  # the container the toolkit runs in, if found
    docker_version: str

    def to_dict(self) -> dict:
        return {"proposals": [p.to_dict() for p in self.proposals],
                "toolkit_container": self.toolkit_container, "docker_version": self.docker_version}


def detect_services(*, client: Any = None, self_container: str | None = None,
                    read_config: bool = True) -> DetectionResult:
    """Blocking: list the containers and propose a connection for each *arr found.

    ``client`` defaults to ``docker.from_env()`` (which honours ``DOCKER_HOST``);
    ``self_container`` names the toolkit's own container (default: the one whose id or
    hostname is this machine's hostname); ``read_config=False`` skips ``config.xml``.
    """
    client = client or _connect()
    try:
        version = str(client.version().get("Version", ""))
        containers = client.containers.list(all=True, ignore_removed=True)
    except Exception as exc:  # docker.errors.DockerException / requests errors
        raise DockerUnavailable(f"Docker is not available: the engine did not answer ({exc})",
                                detail=repr(exc)) from exc
    by_id = {c.attrs["Id"]: c for c in containers}
    toolkit = _find_self(containers, self_container)
    proposals = []
    for container in containers:
        if toolkit is not None and container.attrs["Id"] == toolkit.attrs["Id"]:
            continue
        found = _kind_of(container.attrs)
        if found is None:
            continue
        kind, matched_by = found
        proposals.append(_propose(container, kind, matched_by, toolkit, by_id, read_config))
    proposals.sort(key=lambda p: (list(ServiceKind).index(p.kind), p.container_name))
    return DetectionResult(proposals, _name(toolkit.attrs) if toolkit else None, version)


def _connect() -> Any:
    import docker  # imported here: only detection needs it

    try:
        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        raise DockerUnavailable(_unavailable_message(exc), detail=str(exc)) from exc
    except Exception as exc:  # e.g. requests' ConnectionError from ping
        raise DockerUnavailable(_unavailable_message(exc), detail=str(exc)) from exc


def _unavailable_message(exc: BaseException) -> str:
    text = f"{exc!r} {exc}"
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        text += f" {cause!r}"
        cause = cause.__cause__ or cause.__context__
    if "PermissionError" in text or "Permission denied" in text:
        return ("Docker is not available: permission denied on the Docker socket. Give the "
                "toolkit access to it (e.g. mount /var/run/docker.sock and run with the docker group).")
    if "FileNotFoundError" in text or "No such file" in text:
        return ("Docker is not available: no Docker socket found. Mount /var/run/docker.sock "
                "into the toolkit's container or set DOCKER_HOST.")
    return f"Docker is not available: {exc}"


def _name(attrs: dict) -> str:
    return str(attrs.get("Name", "")).lstrip("/")


def _find_self(containers: list, wanted: str | None) -> Any:
    hostname = wanted or socket.gethostname()
    for container in containers:
        attrs = container.attrs
        if (_name(attrs) == hostname or attrs["Id"].startswith(hostname)
                or (not wanted and attrs.get("Config", {}).get("Hostname") == hostname)):
            return container
    return None


def _kind_of(attrs: dict) -> tuple[ServiceKind, str] | None:
    image = (attrs.get("Config") or {}).get("Image") or ""
    # "lscr.io/linuxserver/sonarr:latest" -> "sonarr" (a registry port never is in the last part)
    last = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0].lower()
    for kind in ServiceKind:
        if re.search(rf"(^|[-_.]){kind.value}$", last):  # sonarr, arch-sonarr; not sonarr-exporter
            return kind, "image"
    tokens = set(re.split(r"[-_.]", _name(attrs).lower()))
    if tokens & COMPANION_WORDS:
        return None
    for kind in ServiceKind:
        if kind.value in tokens:  # sonarr, sonarr-4k, media_radarr_1
            return kind, "name"
    return None


def _flavor(attrs: dict) -> str:
    image = ((attrs.get("Config") or {}).get("Image") or "").lower()
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    if "linuxserver" in image or str(labels.get("build_version", "")).startswith("Linuxserver.io"):
        return "linuxserver"
    if "hotio" in image:
        return "hotio"
    return "other"


def _env(attrs: dict) -> dict[str, str]:
    pairs = ((attrs.get("Config") or {}).get("Env") or [])
    return dict(item.split("=", 1) for item in pairs if "=" in item)


def _propose(container: Any, kind: ServiceKind, matched_by: str, toolkit: Any,
             by_id: dict[str, Any], read_config: bool) -> ServiceProposal:
    attrs = container.attrs
    env = _env(attrs)
    proposal = ServiceProposal(
        kind=kind, container_name=_name(attrs), container_id=attrs["Id"],
        image=(attrs.get("Config") or {}).get("Image", ""), flavor=_flavor(attrs), matched_by=matched_by,
        state=(attrs.get("State") or {}).get("Status", "unknown"),
        networks=sorted(((attrs.get("NetworkSettings") or {}).get("Networks") or {})))
    if proposal.state != "running":
        proposal.warnings.append(f"the container is {proposal.state}")
    prefix = kind.value.upper()
    config = _read_config(container, env, proposal) if read_config else {}
    internal_port = _internal_port(kind, env, config, attrs)
    proposal.url_base = _clean_url_base(env.get(f"{prefix}__SERVER__URLBASE") or config.get("UrlBase") or "")
    if env.get(f"{prefix}__AUTH__APIKEY"):
        proposal.api_key = SecretStr(env[f"{prefix}__AUTH__APIKEY"])
        proposal.api_key_source = f"environment {prefix}__AUTH__APIKEY"
    elif config.get("ApiKey"):
        proposal.api_key = SecretStr(config["ApiKey"])
        proposal.api_key_source = f"{config['_path']} (read through the Engine API)"
    else:
        proposal.warnings.append("no API key found: copy it from Settings > General")
    _choose_address(proposal, attrs, internal_port, toolkit, by_id)
    return proposal


def _config_dir(env: dict[str, str]) -> str:
    return (env.get("CONFIG_DIR") or "/config").rstrip("/")  # hotio sets CONFIG_DIR; linuxserver uses /config


def _read_config(container: Any, env: dict[str, str], proposal: ServiceProposal) -> dict[str, str]:
    """``config.xml`` through ``GET /containers/{id}/archive``: {tag: text} or {}."""
    path = f"{_config_dir(env)}/config.xml"
    try:
        stream, _stat = container.get_archive(path)
        data = bytearray()
        for chunk in stream:
            data += chunk
            if len(data) > CONFIG_XML_LIMIT + 10240:
                raise ValueError("archive larger than a config.xml can be")
        with tarfile.open(fileobj=io.BytesIO(bytes(data))) as archive:
            member = next((m for m in archive.getmembers() if m.isfile()), None)
            if member is None or member.size > CONFIG_XML_LIMIT:
                raise ValueError("no config.xml file in the archive")
            text = archive.extractfile(member).read()
        root = ElementTree.fromstring(text)
    except Exception as exc:  # missing file (404), not XML, engine refused: report, go on
        proposal.warnings.append(f"could not read {path}: {_short(exc)}")
        return {}
    values = {child.tag: (child.text or "").strip() for child in root}
    values["_path"] = path
    return values


def _short(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).splitlines()[0][:200]


def _internal_port(kind: ServiceKind, env: dict[str, str], config: dict[str, str], attrs: dict) -> int:
    if config.get("Port", "").isdigit():
        return int(config["Port"])
    webui = env.get("WEBUI_PORTS", "")  # hotio: "8989/tcp,8989/udp"
    match = re.match(r"\s*(\d+)", webui)
    if match:
        return int(match.group(1))
    return kind.default_port


def _clean_url_base(value: str) -> str:
    value = value.strip().strip("/")
    return f"/{value}" if value else ""


def _networks(attrs: dict) -> dict[str, dict]:
    return ((attrs.get("NetworkSettings") or {}).get("Networks") or {})


def _network_mode(attrs: dict) -> str:
    return str((attrs.get("HostConfig") or {}).get("NetworkMode") or "")


def _gateway(attrs: dict) -> str | None:
    return next((n.get("Gateway") for n in _networks(attrs).values() if n.get("Gateway")), None)


def _choose_address(proposal: ServiceProposal, attrs: dict, port: int, toolkit: Any,
                    by_id: dict[str, Any]) -> None:
    """Set host/port/address_source: same network > published port > container IP."""
    net_attrs, via = attrs, ""
    mode = _network_mode(attrs)
    if mode.startswith("container:"):
        target = mode.split(":", 1)[1]
        owner = by_id.get(target) or next((c for c in by_id.values() if _name(c.attrs) == target), None)
        if owner is None:
            proposal.warnings.append(f"it uses the network of container {target[:12]}, which was not found")
            return
        net_attrs, via = owner.attrs, f" through container '{_name(owner.attrs)}' whose network it shares"
        proposal.networks = sorted(_networks(net_attrs))
        mode = _network_mode(net_attrs)
    toolkit_attrs = toolkit.attrs if toolkit is not None else None

    if mode == "host":
        if toolkit_attrs is None or _network_mode(toolkit_attrs) == "host":
            proposal.host, proposal.port = "localhost", port
            proposal.address_source = f"host network{via}: localhost and its own port {port}"
        else:
            proposal.host, proposal.port = _gateway(toolkit_attrs), port
            proposal.address_source = f"host network{via}: the Docker host (gateway) and port {port}"
        return

    service_networks = _networks(net_attrs)
    if toolkit_attrs is not None:
        shared = sorted(set(service_networks) & set(_networks(toolkit_attrs)), key=lambda n: n == DEFAULT_BRIDGE)
        if shared and shared[0] != DEFAULT_BRIDGE:
            proposal.host, proposal.port = _name(net_attrs), port
            proposal.address_source = (f"same network '{shared[0]}' as the toolkit{via}: "
                                       f"container name and internal port {port}")
            return
        if shared:
            proposal.host, proposal.port = service_networks[DEFAULT_BRIDGE].get("IPAddress") or None, port
            proposal.address_source = (f"default bridge network shared with the toolkit{via}: container IP "
                                       f"(no name resolution there; the IP may change on restart)")
            return

    published = ((net_attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{port}/tcp") or []
    if published:
        binding = next((b for b in published if ":" not in (b.get("HostIp") or "")), published[0])
        host_ip = binding.get("HostIp") or ""
        if toolkit_attrs is None:
            proposal.host = host_ip if host_ip not in UNSPECIFIED_HOSTS else "localhost"
        else:
            proposal.host = _gateway(toolkit_attrs)
        proposal.port = int(binding["HostPort"])
        where = "localhost" if toolkit_attrs is None else "the Docker host (gateway of the toolkit's network)"
        proposal.address_source = f"published host port {proposal.port} -> {port}/tcp{via}, reached at {where}"
        return

    if toolkit_attrs is None:
        ip_network = next(((name, n["IPAddress"]) for name, n in service_networks.items() if n.get("IPAddress")), None)
        if ip_network:
            proposal.host, proposal.port = ip_network[1], port
            proposal.address_source = (f"container IP on network '{ip_network[0]}'{via} (reachable from the "
                                       f"Docker host only; it may change on restart)")
            return
    proposal.warnings.append(
        "not reachable from the toolkit: no shared network and no published port; attach the toolkit "
        f"to one of {proposal.networks or ['its networks']} or publish port {port}")
