"""Async clients for the Sonarr (API v3, Sonarr v3 and v4), Radarr (v3) and Lidarr (v1) APIs.

Usage::

    async with SonarrClient(SonarrConnection(host="sonarr", api_key="...")) as sonarr:
        status = await sonarr.test_connection()          # -> ConnectionResult
        cmd = await sonarr.send_command("RescanSeries", seriesId=3)
        cmd = await sonarr.wait_for_command(cmd.id)

Pass ``http=`` a shared ``httpx.AsyncClient`` (the host owns one pooled client for its
lifespan); without one the client opens its own and closes it on ``aclose()``.
Requests carry the key in the ``X-Api-Key`` header only (never in the URL, so it never
reaches access logs). 429 and 502/503/504 answers and refused connections are retried
with exponential backoff; every other failure becomes a typed ``ServiceError``.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from toolkit.core.services.errors import (
    BadResponse,
    ServiceAuthError,
    ServiceBusy,
    ServiceConflict,
    ServiceError,
    ServiceTimeout,
    ServiceUnreachable,
    WrongApplication,
)
from toolkit.core.services.settings import (
    ArrConnection,
    LidarrConnection,
    RadarrConnection,
    ServiceKind,
    SonarrConnection,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A POST answered 500 may have been executed already: only retry what surely was not.
RETRY_STATUSES_POST = frozenset({429, 502, 503, 504})
TERMINAL_COMMAND_STATUSES = frozenset({"completed", "failed", "aborted", "cancelled", "orphaned"})
MAX_RETRY_AFTER = 30.0
# applications a connection test may name when it finds one instead of the expected one
KNOWN_APPS = ("Sonarr", "Radarr", "Lidarr", "Readarr", "Prowlarr", "Whisparr")


@dataclass(frozen=True)
class ConnectionResult:
    """What "Test connection" reports."""

    kind: ServiceKind
    app_name: str
    version: str
    instance_name: str
    url: str
    url_base: str = ""
    is_docker: bool | None = None

    def to_dict(self) -> dict:
        return {"ok": True, "kind": self.kind.value, "app_name": self.app_name,
                "version": self.version, "instance_name": self.instance_name,
                "url": self.url, "url_base": self.url_base, "is_docker": self.is_docker}


@dataclass(frozen=True)
class CommandState:
    """One command as ``/command/{id}`` reports it."""

    id: int
    name: str
    status: str  # queued, started, completed, failed, aborted, cancelled, orphaned
    result: str = "unknown"  # unknown, successful, unsuccessful
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_COMMAND_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "completed" and self.result != "unsuccessful"

    @classmethod
    def from_resource(cls, body: dict) -> "CommandState":
        try:
            return cls(id=int(body["id"]), name=str(body.get("name") or body.get("commandName") or ""),
                       status=str(body.get("status") or "queued").lower(),
                       result=str(body.get("result") or "unknown").lower(),
                       message=str(body.get("message") or ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadResponse(f"unexpected command resource: {body!r:.200}") from exc

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "status": self.status,
                "result": self.result, "message": self.message}


class ArrClient:
    """Common part of the *arr clients. Subclasses fix ``kind`` and add resources."""

    kind: ServiceKind
    connection_model: type[ArrConnection]

    def __init__(self, connection: ArrConnection, *, http: httpx.AsyncClient | None = None,
                 retries: int = 3, backoff: float = 1.0):
        if connection.kind is not self.kind:
            raise TypeError(f"{type(self).__name__} needs a {self.kind.app_name} connection, "
                            f"got {connection.kind.app_name}")
        self.connection = connection
        self.retries = retries
        self.backoff = backoff
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(follow_redirects=False)

    def __repr__(self) -> str:  # never shows the key
        return f"{type(self).__name__}({self.connection.base_url!r})"

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    # -- transport -------------------------------------------------------------------
    def _error(self, cls: type[ServiceError], message: str, url: str, status: int | None = None) -> ServiceError:
        return cls(f"{self.kind.app_name} at {self.connection.base_url}: {message}",
                   service=self.kind.value, url=url, status_code=status)

    async def _request(self, method: str, path: str, *, params: dict | None = None,
                       json: Any = None, retry: bool = True) -> httpx.Response:
        """Send one API request (``path`` below ``/api/vN``), retrying what is safe."""
        url = f"{self.connection.api_url}{path}"
        retry_statuses = RETRY_STATUSES if method == "GET" else RETRY_STATUSES_POST
        attempts = 1 + (self.retries if retry else 0)
        headers = {"X-Api-Key": self.connection.api_key.get_secret_value(),
                   "Accept": "application/json"}
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._http.request(method, url, params=params, json=json,
                                                    headers=headers, timeout=self.connection.timeout)
            except httpx.ConnectTimeout as exc:
                if last:
                    raise self._error(ServiceUnreachable, f"connection timed out ({exc.__class__.__name__}); "
                                      "check the host and port", url) from exc
                await self._pause(attempt, None)
                continue
            except httpx.ConnectError as exc:
                if last:
                    raise self._error(ServiceUnreachable, f"cannot connect ({exc}); is it running, and "
                                      "are the host, port and ssl setting right?", url) from exc
                await self._pause(attempt, None)
                continue
            except httpx.TimeoutException as exc:
                raise self._error(ServiceTimeout, f"no answer within {self.connection.timeout:g} s", url) from exc
            except httpx.TransportError as exc:
                raise self._error(ServiceUnreachable, f"connection failed: {exc.__class__.__name__}: {exc}", url) from exc

            if response.status_code in retry_statuses and not last:
                log.info("%s answered %s to %s %s; retrying", self.kind.app_name,
                         response.status_code, method, path)
                await self._pause(attempt, response.headers.get("Retry-After"))
                continue
            self._raise_for_status(response, url)
            return response
        raise AssertionError("unreachable")  # the loop always returns or raises

    async def _pause(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2 ** attempt)
        if retry_after:
            try:
                delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
            except ValueError:
                pass
        await asyncio.sleep(delay)

    def _raise_for_status(self, response: httpx.Response, url: str) -> None:
        code = response.status_code
        if code < 300:
            return
        if code in (401, 403):
            raise self._error(ServiceAuthError, f"HTTP {code}: the API key was refused "
                              "(Settings > General > API Key)", url, code)
        if code == 409:
            raise self._error(ServiceConflict, f"HTTP 409: refused by its own safety check: "
                              f"{_excerpt(response)}", url, code)
        if code in RETRY_STATUSES:
            raise self._error(ServiceBusy, f"HTTP {code} after {self.retries + 1} attempts: "
                              f"{_excerpt(response)}", url, code)
        if 300 <= code < 400:
            raise self._error(WrongApplication, f"HTTP {code} redirect to "
                              f"{response.headers.get('Location', '?')!r}; check the URL base", url, code)
        if code == 404:
            raise self._error(BadResponse, f"HTTP 404 for {response.request.url.path}", url, code)
        raise self._error(BadResponse, f"HTTP {code}: {_excerpt(response)}", url, code)

    async def _json(self, method: str, path: str, **kwargs) -> Any:
        response = await self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise self._error(BadResponse, f"answer to {method} {path} is not JSON "
                              f"({response.headers.get('content-type', '?')})", str(response.url)) from exc

    # -- system ----------------------------------------------------------------------
    async def system_status(self, *, retry: bool = True) -> dict:
        """``GET system/status``; ``WrongApplication`` when it is not this kind of app."""
        try:
            body = await self._json("GET", "/system/status", retry=retry)
        except BadResponse as exc:
            raise self._error(WrongApplication, f"no {self.kind.app_name} API here ({exc.message.split(': ', 1)[-1]}); "
                              "check the port and URL base", exc.url, exc.status_code) from exc
        app_name = body.get("appName") if isinstance(body, dict) else None
        if not isinstance(app_name, str) or app_name.lower() != self.kind.app_name.lower():
            error = self._error(WrongApplication, f"this is {app_name or 'an unknown application'}, "
                                f"not {self.kind.app_name}", f"{self.connection.api_url}/system/status")
            # named again by test_connection only when it is one of the *arr applications
            error.found_app = next((k for k in KNOWN_APPS if k.lower() == str(app_name).lower()), None)
            raise error
        return body

    async def test_connection(self) -> ConnectionResult:
        """One quick attempt (no retries) at ``system/status``: app name and version, or a
        typed ``ServiceError`` (unreachable, timeout, unauthorized, wrong application) whose
        message never repeats what the server answered: the test must not become a way to
        read, or scan, whatever answers at an address."""
        try:
            body = await self.system_status(retry=False)
        except (ServiceAuthError, ServiceTimeout):
            raise  # their messages hold nothing the server sent
        except ServiceError as exc:
            raise self._error(type(exc), self._plain_failure(exc), exc.url,
                              exc.status_code) from None
        return ConnectionResult(kind=self.kind, app_name=body["appName"], version=str(body.get("version") or ""),
                                instance_name=str(body.get("instanceName") or ""),
                                url=self.connection.base_url, url_base=str(body.get("urlBase") or ""),
                                is_docker=body.get("isDocker"))

    def _plain_failure(self, exc: ServiceError) -> str:
        app = self.kind.app_name
        if isinstance(exc, ServiceUnreachable):
            return "cannot connect; is it running, and are the host, port and ssl setting right?"
        if getattr(exc, "found_app", None):
            return f"this is {exc.found_app}, not {app}"
        status = f"HTTP {exc.status_code}: " if exc.status_code else ""
        return f"{status}no {app} API answered here; check the port and URL base"

    async def root_folders(self) -> list[dict]:
        return await self._json("GET", "/rootfolder")

    # -- commands --------------------------------------------------------------------
    async def send_command(self, name: str, **fields: Any) -> CommandState:
        """``POST command`` with ``{"name": name, **fields}`` (see COMMANDS.md)."""
        body = await self._json("POST", "/command", json={"name": name, **fields})
        return CommandState.from_resource(body)

    async def get_command(self, command_id: int) -> CommandState:
        return CommandState.from_resource(await self._json("GET", f"/command/{int(command_id)}"))

    async def wait_for_command(self, command_id: int, *, poll_interval: float = 2.0,
                               timeout: float = 600.0,
                               should_abort: Callable[[], bool] | None = None) -> CommandState:
        """Poll until the command ends, ``timeout`` passes or ``should_abort()`` is true;
        returns the last state seen (check ``.finished``)."""
        deadline = time.monotonic() + timeout
        state = await self.get_command(command_id)
        while not state.finished and time.monotonic() < deadline:
            if should_abort is not None and should_abort():
                break
            await asyncio.sleep(poll_interval)
            state = await self.get_command(command_id)
        return state


    # -- download queue and blocklist -------------------------------------------------
    #: query parameters asking ``GET queue`` for every item, unknown ones and their media
    queue_include: dict[str, str] = {}

    async def queue_page(self, page: int = 1, page_size: int = 100) -> dict:
        """One page of ``GET queue`` (a paging resource: ``records``, ``totalRecords``)."""
        params = {"page": page, "pageSize": page_size, **self.queue_include}
        return await self._json("GET", "/queue", params=params)

    async def queue(self, *, page_size: int = 100, max_pages: int = 100) -> list[dict]:
        """Every item of the download queue, all pages (bounded by ``max_pages``)."""
        records: list[dict] = []
        for page in range(1, max_pages + 1):
            body = await self.queue_page(page, page_size)
            if not isinstance(body, dict):
                raise self._error(BadResponse, "the queue answer is not a paging resource",
                                  f"{self.connection.api_url}/queue")
            batch = body.get("records") or []
            records.extend(batch)
            if not batch or len(records) >= int(body.get("totalRecords") or 0):
                break
        return records

    async def remove_from_queue(self, queue_id: int, *, remove_from_client: bool,
                                blocklist: bool) -> None:
        """``DELETE queue/{id}``. ``skipRedownload`` is always set: a search, when wanted,
        is sent by the caller for exactly the affected items."""
        params = {"removeFromClient": _flag(remove_from_client), "blocklist": _flag(blocklist),
                  "skipRedownload": "true"}
        await self._request("DELETE", f"/queue/{int(queue_id)}", params=params, retry=False)

    async def blocklist_page(self, page: int = 1, page_size: int = 50, **filters: Any) -> dict:
        """One page of ``GET blocklist``, newest first; ``filters`` such as
        ``seriesIds=[3]`` or ``movieIds=[5]``."""
        params = {"page": page, "pageSize": page_size, "sortKey": "date",
                  "sortDirection": "descending", **filters}
        return await self._json("GET", "/blocklist", params=params)

    async def delete_blocklist(self, blocklist_id: int) -> None:
        """``DELETE blocklist/{id}``: the release may be grabbed again."""
        await self._request("DELETE", f"/blocklist/{int(blocklist_id)}", retry=False)

    async def health(self) -> list[dict]:
        """``GET health``: the application's own warnings and errors."""
        return await self._json("GET", "/health")

    async def tags(self) -> list[dict]:
        """``GET tag``: ``[{id, label}]``."""
        return await self._json("GET", "/tag")


class SonarrClient(ArrClient):
    kind = ServiceKind.SONARR
    connection_model = SonarrConnection
    queue_include = {"includeUnknownSeriesItems": "true", "includeSeries": "true",
                     "includeEpisode": "true"}

    async def series(self) -> list[dict]:
        return await self._json("GET", "/series")

    async def episode_files(self, series_id: int) -> list[dict]:
        return await self._json("GET", "/episodefile", params={"seriesId": series_id})

    async def episodes(self, *, episode_file_id: int | None = None, series_id: int | None = None) -> list[dict]:
        params = {k: v for k, v in (("episodeFileId", episode_file_id), ("seriesId", series_id)) if v is not None}
        if not params:
            raise ValueError("give episode_file_id or series_id")
        return await self._json("GET", "/episode", params=params)

    async def delete_episode_file(self, episode_file_id: int) -> None:
        """Let Sonarr delete a file and its record (``ServiceConflict`` on its failsafe)."""
        await self._request("DELETE", f"/episodefile/{int(episode_file_id)}", retry=False)

    async def history(self, series_id: int) -> list[dict]:
        """``GET history/series``: the series' events (grabbed, imported...), newest first."""
        return await self._json("GET", "/history/series", params={"seriesId": series_id})


class RadarrClient(ArrClient):
    kind = ServiceKind.RADARR
    connection_model = RadarrConnection
    queue_include = {"includeUnknownMovieItems": "true", "includeMovie": "true"}

    async def movies(self) -> list[dict]:
        return await self._json("GET", "/movie")

    async def movie_files(self, movie_id: int) -> list[dict]:
        return await self._json("GET", "/moviefile", params={"movieId": movie_id})

    async def history(self, movie_id: int) -> list[dict]:
        """``GET history/movie``: the movie's events (grabbed, imported...), newest first."""
        return await self._json("GET", "/history/movie", params={"movieId": movie_id})


class LidarrClient(ArrClient):
    kind = ServiceKind.LIDARR
    connection_model = LidarrConnection
    queue_include = {"includeUnknownArtistItems": "true", "includeArtist": "true",
                     "includeAlbum": "true"}

    async def artists(self) -> list[dict]:
        return await self._json("GET", "/artist")

    async def track_files(self, artist_id: int) -> list[dict]:
        return await self._json("GET", "/trackfile", params={"artistId": artist_id})

    async def tracks(self, artist_id: int) -> list[dict]:
        return await self._json("GET", "/track", params={"artistId": artist_id})


CLIENTS: dict[ServiceKind, type[ArrClient]] = {
    ServiceKind.SONARR: SonarrClient,
    ServiceKind.RADARR: RadarrClient,
    ServiceKind.LIDARR: LidarrClient,
}


def client_for(connection: ArrConnection, *, http: httpx.AsyncClient | None = None, **options: Any) -> ArrClient:
    """The right client class for a connection's kind."""
    return CLIENTS[connection.kind](connection, http=http, **options)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    text = response.text.strip().replace("\n", " ")
    return (text[:limit] + "…") if len(text) > limit else (text or response.reason_phrase)
