"""A real HTTP server on 127.0.0.1 that speaks the Sonarr v3 / Radarr v3 / Lidarr v1 API.

Every request is checked against the application's official OpenAPI document
(``tests/contracts/*.openapi.json``, copied from the applications' repositories): the path and method must
exist, query parameters must be declared and of the declared type, JSON bodies must match
the request schema, and ``X-Api-Key`` must be the configured key (``/ping`` is anonymous,
as in the applications). Command bodies are checked against the command table of
``tests/contracts/COMMANDS.md`` instead, because the documents' ``CommandResource`` forbids the fields
real commands carry. Anything off is recorded in ``violations`` (the test fixture fails
the test on teardown) and answered 400.

The server's own answers are validated against the document's response schemas too, so
the bodies it serves stay shaped like the real ones.

Commands are recorded (``commands``), answered 201 with a command resource and progress
one step per ``GET /command/{id}`` poll: queued -> started -> completed (or failed when
asked). A completed rescan drops the file records whose file is missing, as the *arr's
disk scan does: a file is missing when its path is in ``missing_paths`` or, for paths
below a ``disk_map`` prefix, when the real file does not exist.

The download queue (``add_queue_item``: one record per episode, as Sonarr lists a season
pack), the blocklist it feeds (``DELETE queue/{id}?blocklist=true``), ``health`` and
``tag`` are served from plain lists (``queue``, ``blocklist``, ``health_items``, ``tags``);
queue removals are recorded in ``queue_removals``.

Failures to inject: ``inject(status, times, method=, path=, retry_after=)``, ``latency``
(seconds before each answer), a different ``api_key``, ``fail_commands[name] = message``,
``root_folder_missing`` (DELETE of a file answers 409, the *arr's failsafe).
"""
from __future__ import annotations

import copy
import functools
import itertools
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema

from fakes.arr_history import HistoryMixin

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"
DOCUMENTS = {"sonarr": "sonarr-v3.openapi.json", "radarr": "radarr-v3.openapi.json",
             "lidarr": "lidarr-v1.openapi.json"}
API_PREFIX = {"sonarr": "/api/v3", "radarr": "/api/v3", "lidarr": "/api/v1"}
VERSIONS = {"sonarr": "4.0.15.2941", "radarr": "5.26.2.10099", "lidarr": "2.13.3.4711"}

# COMMANDS.md, per application: name -> {field: (json type, required)}
_INT, _INTS, _STRS, _STR = "integer", "integer[]", "string[]", "string"
COMMAND_TABLE: dict[str, dict[str, dict[str, tuple[str, bool]]]] = {
    "sonarr": {
        "RescanSeries": {"seriesId": (_INT, False)},
        "RefreshSeries": {"seriesId": (_INT, False), "seriesIds": (_INTS, False)},
        "EpisodeSearch": {"episodeIds": (_INTS, True)},
        "SeasonSearch": {"seriesId": (_INT, True), "seasonNumber": (_INT, True)},
        "SeriesSearch": {"seriesId": (_INT, True)},
        "MissingEpisodeSearch": {},
    },
    "radarr": {
        "RescanMovie": {"movieId": (_INT, False)},
        "RefreshMovie": {"movieIds": (_INTS, False)},
        "MoviesSearch": {"movieIds": (_INTS, True)},
        "MissingMoviesSearch": {},
    },
    "lidarr": {
        "RescanFolders": {"folders": (_STRS, False), "filter": (_STR, False), "artistIds": (_INTS, False)},
        "RefreshArtist": {"artistIds": (_INTS, False)},
        "AlbumSearch": {"albumIds": (_INTS, True)},
    },
}
_JSON_TYPES = {
    _INT: {"type": "integer"},
    _STR: {"type": "string"},
    _INTS: {"type": "array", "items": {"type": "integer"}},
    _STRS: {"type": "array", "items": {"type": "string"}},
}


def _slug(title: str) -> str:
    return re.sub(r"\W+", "-", title.lower()).strip("-")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- OpenAPI 3.0 -> JSON Schema ------------------------------------------------------------
def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` is not JSON Schema: turn it into ``anyOf null``."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if isinstance(converted.get("type"), str):  # keeps validation messages readable
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
            return converted
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


class OpenApiDocument:
    """Routes and schemas of one official document, ready to validate requests."""

    def __init__(self, path: Path):
        raw = json.loads(path.read_text())
        self.paths: dict[str, dict] = raw["paths"]
        self.components = _json_schema(raw["components"])
        self._validators: dict[int, jsonschema.Draft202012Validator] = {}
        self._routes = []
        for template in self.paths:
            literal = "{" not in template
            self._routes.append((not literal, -len(template), template, _template_regex(template)))
        self._routes.sort()  # literal paths first, then the most specific template

    def route(self, path: str) -> tuple[str, dict[str, str]] | None:
        for _, _, template, regex in self._routes:
            match = regex.match(path)
            if match:
                return template, match.groupdict()
        return None

    def validate(self, schema: dict, value: Any) -> list[str]:
        validator = self._validators.get(id(schema))
        if validator is None:  # schemas are parts of the parsed document: stable ids
            root = {**_json_schema(schema), "components": self.components}
            validator = self._validators[id(schema)] = jsonschema.Draft202012Validator(root)
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in validator.iter_errors(value)]


@functools.lru_cache(maxsize=None)
def load_document(kind: str) -> OpenApiDocument:
    """Parsed once per test session: the documents are large."""
    return OpenApiDocument(CONTRACTS_DIR / DOCUMENTS[kind])


def _template_regex(template: str) -> re.Pattern:
    """``/api/v3/command/{id}`` -> a regex with one named group per path parameter."""
    pattern, position = "", 0
    for match in re.finditer(r"\{([^/}]+)\}", template):
        pattern += re.escape(template[position:match.start()]) + f"(?P<{match.group(1)}>[^/]+)"
        position = match.end()
    return re.compile("^" + pattern + re.escape(template[position:]) + "$")


def _coerce(raw: str, schema: dict) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return int(raw)
    if kind == "number":
        return float(raw)
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise ValueError(raw)
        return raw.lower() == "true"
    return raw


@dataclass
class RecordedCommand:
    id: int
    name: str
    body: dict
    polls: int = 0
    status: str = "queued"
    result: str = "unknown"
    message: str = ""
    queued: str = field(default_factory=_now)
    unfinished_at_post: int = 0  # commands still queued/started when this one arrived


@dataclass
class Fault:
    status: int
    times: int
    method: str | None
    path: str | None
    retry_after: str | None


class FakeArr(HistoryMixin):
    """One fake application. Build its library with ``add_*`` then ``start()``."""

    def __init__(self, kind: str, *, api_key: str = "0123456789abcdef0123456789abcdef",
                 url_base: str = "", instance_name: str | None = None,
                 disk_map: dict[str, str] | None = None, polls_to_complete: int = 2):
        if kind not in DOCUMENTS:
            raise ValueError(kind)
        self.kind = kind
        self.app_name = kind.capitalize()
        self.api_key = api_key
        self.url_base = url_base.rstrip("/")
        self.instance_name = instance_name or self.app_name
        self.disk_map = disk_map or {}
        self.polls_to_complete = polls_to_complete
        self.document = load_document(kind)
        self.prefix = API_PREFIX[kind]
        self.lock = threading.RLock()
        self.violations: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, path with query)
        self.commands: list[RecordedCommand] = []
        self.fail_commands: dict[str, str] = {}
        self.missing_paths: set[str] = set()
        self.latency = 0.0
        self.root_folder_missing = False
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._command_ids = itertools.count(1001)
        self.root_folders: list[dict] = []
        # download queue (one record per episode, as Sonarr lists a pack), blocklist, health
        self.queue: list[dict] = []
        self.blocklist: list[dict] = []
        self.health_items: list[dict] = []
        self.tags: list[dict] = []
        self.queue_removals: list[tuple[int, dict]] = []  # (queue id, query parameters)
        self._queue_ids = itertools.count(501)
        self._blocklist_ids = itertools.count(301)
        # library: resource name -> id -> resource
        self.items: dict[str, dict[int, dict]] = {name: {} for name in (
            "series", "episode", "episodefile", "movie", "moviefile", "artist", "album", "track", "trackfile")}
        self._init_history()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- library builders ---------------------------------------------------------------
    def add_root_folder(self, path: str) -> dict:
        folder = {"id": len(self.root_folders) + 1, "path": path, "accessible": True,
                  "freeSpace": 1_000_000_000_000, "unmappedFolders": []}
        self.root_folders.append(folder)
        return folder

    def add_series(self, title: str, path: str, *, monitored: bool = True, seasons: int = 1) -> dict:
        sid = next(self._ids)
        root = path.rstrip("/").rsplit("/", 1)[0]
        self.items["series"][sid] = {
            "id": sid, "title": title, "sortTitle": title.lower(), "status": "continuing",
            "ended": False, "overview": f"{title} overview", "network": "HBO", "airTime": "21:00",
            "images": [], "seasons": [{"seasonNumber": n, "monitored": monitored} for n in range(1, seasons + 1)],
            "year": 2020, "path": path, "qualityProfileId": 1, "seasonFolder": True,
            "monitored": monitored, "monitorNewItems": "all", "useSceneNumbering": False,
            "runtime": 45, "tvdbId": 70000 + sid, "tvRageId": 0, "tvMazeId": 0, "tmdbId": 0,
            "seriesType": "standard", "cleanTitle": re.sub(r"\W", "", title.lower()),
            "titleSlug": _slug(title), "rootFolderPath": root + "/",
            "genres": ["Drama"], "tags": [], "added": "2024-01-01T00:00:00Z",
            "ratings": {"votes": 10, "value": 8.1},
        }
        return self.items["series"][sid]

    def add_episode_file(self, series: dict, season: int, episodes: list[int], *,
                         monitored: bool = True, name: str | None = None) -> tuple[dict, list[dict]]:
        """One file of ``series`` holding ``episodes`` (several for a multi-episode file)."""
        fid = next(self._ids)
        code = "".join(f"E{n:02d}" for n in episodes)
        relative = f"Season {season:02d}/{name or series['title']} - S{season:02d}{code}.mkv"
        episode_file = {
            "id": fid, "seriesId": series["id"], "seasonNumber": season, "relativePath": relative,
            "path": f"{series['path']}/{relative}", "size": 1_500_000_000, "dateAdded": "2024-02-01T00:00:00Z",
            "releaseGroup": "GRP", "languages": [{"id": 1, "name": "English"}],
            "quality": {"quality": {"id": 7, "name": "Bluray-1080p", "source": "bluray", "resolution": 1080},
                        "revision": {"version": 1, "real": 0, "isRepack": False}},
            "customFormats": [], "customFormatScore": 0, "indexerFlags": 0, "releaseType": "singleEpisode",
            "qualityCutoffNotMet": False,
        }
        self.items["episodefile"][fid] = episode_file
        made = []
        for number in episodes:
            eid = next(self._ids)
            self.items["episode"][eid] = {
                "id": eid, "seriesId": series["id"], "tvdbId": 900000 + eid, "episodeFileId": fid,
                "seasonNumber": season, "episodeNumber": number, "title": f"Episode {number}",
                "airDate": "2020-01-01", "airDateUtc": "2020-01-01T21:00:00Z", "runtime": 45,
                "overview": "", "hasFile": True, "monitored": monitored,
                "unverifiedSceneNumbering": False,
            }
            made.append(self.items["episode"][eid])
        return episode_file, made

    def add_movie(self, title: str, path: str, *, monitored: bool = True, year: int = 2020,
                  with_file: bool = True) -> tuple[dict, dict | None]:
        mid = next(self._ids)
        root = path.rstrip("/").rsplit("/", 1)[0]
        movie = {
            "id": mid, "title": title, "originalTitle": title, "sortTitle": title.lower(),
            "sizeOnDisk": 0, "status": "released", "overview": "", "images": [], "year": year,
            "path": path, "qualityProfileId": 1, "hasFile": False, "movieFileId": 0,
            "monitored": monitored, "minimumAvailability": "released", "isAvailable": True,
            "folderName": path, "runtime": 120, "cleanTitle": re.sub(r"\W", "", title.lower()),
            "imdbId": f"tt{1000000 + mid}", "tmdbId": 10000 + mid,
            "titleSlug": f"{_slug(title)}-{10000 + mid}", "rootFolderPath": root + "/",
            "genres": ["Action"], "tags": [], "added": "2024-01-01T00:00:00Z", "popularity": 1.5,
        }
        self.items["movie"][mid] = movie
        movie_file = None
        if with_file:
            fid = next(self._ids)
            relative = f"{title} ({year}) Bluray-1080p.mkv"
            movie_file = {
                "id": fid, "movieId": mid, "relativePath": relative, "path": f"{path}/{relative}",
                "size": 8_000_000_000, "dateAdded": "2024-02-01T00:00:00Z", "releaseGroup": "GRP",
                "edition": "", "languages": [{"id": 1, "name": "English"}],
                "quality": {"quality": {"id": 7, "name": "Bluray-1080p", "source": "bluray",
                                        "resolution": 1080, "modifier": "none"},
                            "revision": {"version": 1, "real": 0, "isRepack": False}},
                "customFormats": [], "customFormatScore": 0, "indexerFlags": 0, "qualityCutoffNotMet": False,
            }
            self.items["moviefile"][fid] = movie_file
            movie.update(hasFile=True, movieFileId=fid, sizeOnDisk=movie_file["size"])
        return movie, movie_file

    def add_artist(self, name: str, path: str, *, monitored: bool = True) -> dict:
        aid = next(self._ids)
        root = path.rstrip("/").rsplit("/", 1)[0]
        self.items["artist"][aid] = {
            "id": aid, "status": "continuing", "ended": False, "artistName": name,
            "foreignArtistId": f"00000000-0000-0000-0000-{aid:012d}", "path": path,
            "qualityProfileId": 1, "metadataProfileId": 1, "monitored": monitored,
            "monitorNewItems": "all", "rootFolderPath": root + "/", "genres": [], "tags": [],
            "cleanName": re.sub(r"\W", "", name.lower()), "sortName": name.lower(),
            "added": "2024-01-01T00:00:00Z",
        }
        return self.items["artist"][aid]

    def add_track_file(self, artist: dict, album_title: str, track_number: int, *,
                       monitored: bool = True) -> tuple[dict, dict]:
        album = next((a for a in self.items["album"].values()
                      if a["artistId"] == artist["id"] and a["title"] == album_title), None)
        if album is None:
            album = self.add_album(artist, album_title, monitored=monitored)
        fid, tid = next(self._ids), next(self._ids)
        path = f"{artist['path']}/{album_title}/{track_number:02d} - Track {track_number}.flac"
        self.items["trackfile"][fid] = {
            "id": fid, "artistId": artist["id"], "albumId": album["id"], "path": path,
            "size": 30_000_000, "dateAdded": "2024-02-01T00:00:00Z", "qualityWeight": 1,
            "customFormats": [], "customFormatScore": 0, "indexerFlags": 0, "qualityCutoffNotMet": False,
        }
        self.items["track"][tid] = {
            "id": tid, "artistId": artist["id"], "trackFileId": fid, "albumId": album["id"],
            "explicit": False, "absoluteTrackNumber": track_number, "trackNumber": str(track_number),
            "title": f"Track {track_number}", "duration": 200000, "mediumNumber": 1, "hasFile": True,
        }
        return self.items["trackfile"][fid], self.items["track"][tid]

    # -- download queue ----------------------------------------------------------------
    def add_tag(self, label: str) -> dict:
        tag = {"id": len(self.tags) + 1, "label": label}
        self.tags.append(tag)
        return tag

    def add_album(self, artist: dict, title: str, *, monitored: bool = True) -> dict:
        """An album without files (what a Lidarr queue item downloads)."""
        album_id = next(self._ids)
        self.items["album"][album_id] = {"id": album_id, "artistId": artist["id"], "title": title,
                                         "monitored": monitored}
        return self.items["album"][album_id]

    def add_queue_item(self, title: str, *, series: dict | None = None, episodes: list[dict] | None = None,
                       movie: dict | None = None, artist: dict | None = None, album: dict | None = None,
                       download_id: str | None = None, status: str = "downloading",
                       tracked_status: str = "ok", tracked_state: str = "downloading",
                       messages: list[tuple[str, list[str]]] | None = None, error_message: str | None = None,
                       size: float = 2_000_000_000, sizeleft: float = 1_000_000_000,
                       added: str = "2024-03-01T00:00:00Z", protocol: str = "torrent",
                       client: str = "qBittorrent", indexer: str = "Torrentio") -> list[dict]:
        """A download in the queue: one record per episode for Sonarr (a season pack is
        several records sharing ``downloadId``), one record otherwise (Lidarr: one per
        ``album`` of ``artist``); without series, movie or artist it is an unknown item."""
        download_id = download_id or f"HASH{next(self._ids):036d}"
        common = {
            "title": title, "size": size, "sizeleft": sizeleft, "added": added, "status": status,
            "trackedDownloadStatus": tracked_status, "trackedDownloadState": tracked_state,
            "statusMessages": [{"title": t, "messages": m} for t, m in messages or []],
            "errorMessage": error_message, "downloadId": download_id, "protocol": protocol,
            "downloadClient": client, "downloadClientHasPostImportCategory": False, "indexer": indexer,
            "outputPath": f"/downloads/{title}", "languages": [{"id": 1, "name": "English"}],
            # Lidarr's Quality has neither source nor resolution
            "quality": {"quality": {"id": 6, "name": "FLAC"} if self.kind == "lidarr" else
                        {"id": 7, "name": "Bluray-1080p", "source": "bluray", "resolution": 1080},
                        "revision": {"version": 1, "real": 0, "isRepack": False}},
            "customFormats": [], "customFormatScore": 0,
        }
        made = []
        for episode in episodes or [None]:
            record = dict(common, id=next(self._queue_ids))
            if series is not None:
                record.update(seriesId=series["id"], seasonNumber=episode["seasonNumber"] if episode else None)
            if episode is not None:
                record.update(episodeId=episode["id"], episodeHasFile=episode["hasFile"])
            if movie is not None:
                record["movieId"] = movie["id"]
            if artist is not None:
                record["artistId"] = artist["id"]
            if album is not None:
                record["albumId"] = album["id"]
            self.queue.append(record)
            made.append(record)
        return made

    def add_episodes(self, series: dict, season: int, numbers: list[int], *, monitored: bool = True) -> list[dict]:
        """Episodes without a file (what a queue item downloads)."""
        made = []
        for number in numbers:
            eid = next(self._ids)
            self.items["episode"][eid] = {
                "id": eid, "seriesId": series["id"], "tvdbId": 900000 + eid, "episodeFileId": 0,
                "seasonNumber": season, "episodeNumber": number, "title": f"Episode {number}",
                "airDate": "2020-01-01", "airDateUtc": "2020-01-01T21:00:00Z", "runtime": 45,
                "overview": "", "hasFile": False, "monitored": monitored, "unverifiedSceneNumbering": False,
            }
            made.append(self.items["episode"][eid])
        return made

    def update_queue(self, download_id: str, **fields: Any) -> None:
        """Change every record of a download (e.g. ``sizeleft`` as it progresses)."""
        with self.lock:
            for record in self.queue:
                if record["downloadId"] == download_id:
                    record.update(fields)

    def _queue_record(self, record: dict, params: dict) -> dict:
        answer = {k: v for k, v in record.items() if k in self.document.components["schemas"]["QueueResource"]["properties"]}
        if params.get("includeSeries") and record.get("seriesId") in self.items["series"]:
            answer["series"] = self.items["series"][record["seriesId"]]
        if params.get("includeEpisode") and record.get("episodeId") in self.items["episode"]:
            answer["episode"] = self.items["episode"][record["episodeId"]]
        if params.get("includeMovie") and record.get("movieId") in self.items["movie"]:
            answer["movie"] = self.items["movie"][record["movieId"]]
        if params.get("includeArtist") and record.get("artistId") in self.items["artist"]:
            answer["artist"] = self.items["artist"][record["artistId"]]
        if params.get("includeAlbum") and record.get("albumId") in self.items["album"]:
            answer["album"] = self.items["album"][record["albumId"]]
        return answer

    def _queue_listing(self, params: dict) -> dict:
        unknown_key = {"sonarr": "includeUnknownSeriesItems", "radarr": "includeUnknownMovieItems",
                       "lidarr": "includeUnknownArtistItems"}[self.kind]
        records = [r for r in self.queue
                   if params.get(unknown_key) or r.get("seriesId") or r.get("movieId") or r.get("artistId")]
        return self._paged(records, params, lambda r: self._queue_record(r, params))

    @staticmethod
    def _paged(records: list[dict], params: dict, render=lambda r: r) -> dict:
        page, size = max(params.get("page", 1), 1), max(params.get("pageSize", 10), 1)
        chunk = records[(page - 1) * size:page * size]
        return {"page": page, "pageSize": size, "sortKey": params.get("sortKey") or "timeleft",
                "sortDirection": params.get("sortDirection") or "ascending",
                "totalRecords": len(records), "records": [render(r) for r in chunk]}

    def _remove_queue_item(self, queue_id: int, params: dict) -> tuple[int, Any]:
        record = next((r for r in self.queue if r["id"] == queue_id), None)
        if record is None:
            return 404, {"message": "NotFound"}
        self.queue_removals.append((queue_id, {k: v for k, v in params.items() if k != "id"}))
        gone = [r for r in self.queue if r["downloadId"] == record["downloadId"]]
        self.queue = [r for r in self.queue if r["downloadId"] != record["downloadId"]]
        if params.get("blocklist"):
            entry = {"id": next(self._blocklist_ids),
                     "sourceTitle": record["title"], "languages": record["languages"],
                     "quality": record["quality"], "customFormats": [], "date": _now(),
                     "protocol": record["protocol"], "indexer": record["indexer"],
                     "message": record.get("errorMessage") or "Manually marked as failed"}
            if record.get("seriesId") is not None:
                entry.update(seriesId=record["seriesId"],
                             episodeIds=[r["episodeId"] for r in gone if r.get("episodeId")])
            if record.get("movieId") is not None:
                entry["movieId"] = record["movieId"]
            if record.get("artistId") is not None:  # Lidarr: the artist and its albums
                entry.update(artistId=record["artistId"],
                             albumIds=[r["albumId"] for r in gone if r.get("albumId")])
            known = self.document.components["schemas"]["BlocklistResource"]["properties"]
            self.blocklist.insert(0, {k: v for k, v in entry.items() if k in known})  # newest first
        return 200, None

    def _blocklist_listing(self, params: dict) -> dict:
        records = [b for b in self.blocklist
                   if (not params.get("seriesIds") or b.get("seriesId") in params["seriesIds"])
                   and (not params.get("movieIds") or b.get("movieId") in params["movieIds"])]
        return self._paged(records, params)

    def _delete_blocklist(self, blocklist_id: int) -> tuple[int, Any]:
        if not any(b["id"] == blocklist_id for b in self.blocklist):
            return 404, {"message": "NotFound"}
        self.blocklist = [b for b in self.blocklist if b["id"] != blocklist_id]
        return 200, None

    # -- control ------------------------------------------------------------------------
    def inject(self, status: int, times: int = 1, *, method: str | None = None,
               path: str | None = None, retry_after: str | None = None) -> None:
        """Answer the next ``times`` matching requests with ``status`` (``path`` is matched
        as a prefix of the path below the API prefix, e.g. ``/command``)."""
        with self.lock:
            self._faults.append(Fault(status, times, method, path, retry_after))

    def command_names(self) -> list[str]:
        return [c.name for c in self.commands]

    def command_calls(self) -> list[tuple]:
        """Commands as ``(name, {fields})`` without the name, in the order received."""
        return [(c.name, {k: v for k, v in c.body.items() if k != "name"}) for c in self.commands]

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.url_base}"

    def start(self) -> "FakeArr":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=f"fake-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- request handling -----------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict]:
        """Validate and answer one request: (status, json body or None, extra headers)."""
        if self.latency:
            time.sleep(self.latency)
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        with self.lock:
            self.requests.append((method, raw_path))
        if self.url_base:
            if not (path == self.url_base or path.startswith(self.url_base + "/")):
                return 404, None, {}
            path = path[len(self.url_base):] or "/"
        routed = self.document.route(path)
        if routed is None:
            return self._violation(f"{method} {path}: no such path in the {self.app_name} document", 404)
        template, path_params = routed
        operation = self.document.paths[template].get(method.lower())
        if operation is None:
            return self._violation(f"{method} {path}: method not in the document for {template}", 405)
        if template != "/ping" and headers.get("x-api-key") != self.api_key:
            return 401, None, {}
        fault = self._take_fault(method, path)
        if fault is not None:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return fault.status, {"message": f"injected {fault.status}"}, extra
        problems = self._check_parameters(operation, path_params, query)
        payload = None
        if body:
            if "json" not in headers.get("content-type", ""):
                problems.append(f"body sent as {headers.get('content-type')!r}, not JSON")
            else:
                try:
                    payload = json.loads(body)
                except ValueError:
                    problems.append("body is not valid JSON")
        if template.endswith("/command") and method == "POST":
            problems += self._check_command(payload)
        elif payload is not None:
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if schema is None:
                problems.append("a body was sent where the document takes none")
            else:
                problems += self.document.validate(schema, payload)
        if problems:
            return self._violation(f"{method} {raw_path}: " + "; ".join(problems), 400)
        params = {name: value for name, value in self._typed_query(operation, query).items()}
        params.update({k: int(v) if v.isdigit() else v for k, v in path_params.items()})
        status, answer = self._answer(method, template, params, payload)
        if status < 300 and answer is not None:
            self._check_response(operation, answer)
        return status, answer, {}

    def _violation(self, message: str, status: int) -> tuple[int, Any, dict]:
        with self.lock:
            self.violations.append(message)
        return status, {"message": message}, {}

    def _take_fault(self, method: str, path: str) -> Fault | None:
        below_api = path[len(self.prefix):] if path.startswith(self.prefix) else path
        with self.lock:
            for fault in self._faults:
                if fault.times > 0 and fault.method in (None, method) and (
                        fault.path is None or below_api.startswith(fault.path)):
                    fault.times -= 1
                    return fault
        return None

    def _check_parameters(self, operation: dict, path_params: dict, query: dict[str, list[str]]) -> list[str]:
        problems = []
        declared = {p["name"]: p for p in operation.get("parameters", [])}
        for name, value in path_params.items():
            spec = declared.get(name)
            try:
                _coerce(value, spec["schema"]) if spec else None
            except ValueError:
                problems.append(f"path parameter {name}={value!r} is not {spec['schema'].get('type')}")
        for name, values in query.items():
            spec = declared.get(name)
            if spec is None or spec.get("in") != "query":
                problems.append(f"query parameter {name!r} is not in the document")
                continue
            schema = spec["schema"]
            try:
                if schema.get("type") == "array":
                    value: Any = [_coerce(v, schema.get("items", {})) for v in values]
                elif len(values) > 1:
                    problems.append(f"query parameter {name!r} given {len(values)} times")
                    continue
                else:
                    value = _coerce(values[0], schema)
            except ValueError:
                problems.append(f"query parameter {name}={values!r} is not {schema.get('type')}")
                continue
            problems += [f"query {name}: {p}" for p in self.document.validate(schema, value)]
        for name, spec in declared.items():
            if spec.get("required") and spec.get("in") == "query" and name not in query:
                problems.append(f"required query parameter {name!r} missing")
        return problems

    def _typed_query(self, operation: dict, query: dict[str, list[str]]) -> dict[str, Any]:
        declared = {p["name"]: p["schema"] for p in operation.get("parameters", [])}
        typed = {}
        for name, values in query.items():
            schema = declared[name]
            if schema.get("type") == "array":
                typed[name] = [_coerce(v, schema.get("items", {})) for v in values]
            else:
                typed[name] = _coerce(values[0], schema)
        return typed

    def _check_command(self, payload: Any) -> list[str]:
        if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
            return ["a command body must be an object with a string 'name'"]
        table = COMMAND_TABLE[self.kind]
        name = next((known for known in table if known.lower() == payload["name"].lower()), None)
        if name is None:
            return [f"unknown {self.app_name} command {payload['name']!r}"]
        fields = table[name]
        problems = [f"{name}: field {key!r} is not in the command table" for key in payload
                    if key != "name" and key not in fields]
        for key, (kind, required) in fields.items():
            if key not in payload:
                if required:
                    problems.append(f"{name}: required field {key!r} missing")
                continue
            errors = list(jsonschema.Draft202012Validator(_JSON_TYPES[kind]).iter_errors(payload[key]))
            if errors or (kind == _INTS and not payload[key] and required):
                problems.append(f"{name}: field {key!r} must be a non-empty {kind}: {payload[key]!r}")
        return problems

    def _check_response(self, operation: dict, answer: Any) -> None:
        content = operation.get("responses", {}).get("200", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            return
        checked = copy.deepcopy(answer)
        for resource in checked if isinstance(checked, list) else [checked]:
            if isinstance(resource, dict) and isinstance(resource.get("body"), dict):
                # the document's Command schema lists no command-specific fields (see COMMANDS.md)
                allowed = self.document.components["schemas"]["Command"]["properties"]
                resource["body"] = {k: v for k, v in resource["body"].items() if k in allowed}
        problems = self.document.validate(schema, checked)
        if problems:
            with self.lock:
                self.violations.append("fake answered off-document: " + "; ".join(problems[:5]))

    # -- answers --------------------------------------------------------------------------
    def _answer(self, method: str, template: str, params: dict, payload: Any) -> tuple[int, Any]:
        route = template[len(self.prefix):] if template.startswith(self.prefix) else template
        with self.lock:
            if route == "/ping":
                return 200, {"status": "OK"}
            if route == "/system/status":
                return 200, self._status()
            if route == "/rootfolder" and method == "GET":
                return 200, self.root_folders
            if route == "/command" and method == "POST":
                return 201, self._queue_command(payload)
            if route == "/command" and method == "GET":
                return 200, [self._command_resource(c) for c in self.commands]
            if route == "/command/{id}" and method == "GET":
                command = next((c for c in self.commands if c.id == params["id"]), None)
                if command is None:
                    return 404, {"message": "NotFound"}
                self._advance(command)
                return 200, self._command_resource(command)
            listing = self._listing(route, params)
            if listing is not None and method == "GET":
                return 200, listing
            if route in ("/episodefile/{id}", "/moviefile/{id}") and method == "DELETE":
                return self._delete_file(route.split("/")[1], params["id"])
            if route == "/queue" and method == "GET":
                return 200, self._queue_listing(params)
            if route == "/queue/{id}" and method == "DELETE":
                return self._remove_queue_item(params["id"], params)
            if route == "/blocklist" and method == "GET":
                return 200, self._blocklist_listing(params)
            if route == "/blocklist/{id}" and method == "DELETE":
                return self._delete_blocklist(params["id"])
            if route == "/health" and method == "GET":
                return 200, self.health_items
            if route == "/tag" and method == "GET":
                return 200, self.tags
            history = self._history_listing(route, params) if method == "GET" else None
            if history is not None:
                return history
        with self.lock:
            self.violations.append(f"fake does not implement {method} {template}")
        return 501, {"message": "not implemented by the fake"}

    def _status(self) -> dict:
        """The union of the three applications' fields, cut to this one's document."""
        known = self.document.components["schemas"]["SystemResource"]["properties"]
        return {key: value for key, value in self._all_status_fields().items() if key in known}

    def _all_status_fields(self) -> dict:
        return {
            "appName": self.app_name, "instanceName": self.instance_name, "version": VERSIONS[self.kind],
            "buildTime": "2025-06-01T00:00:00Z", "isDebug": False, "isProduction": True, "isAdmin": False,
            "isUserInteractive": False, "startupPath": f"/app/{self.kind}/bin", "appData": "/config",
            "osName": "alpine", "osVersion": "3.21", "isNetCore": True, "isLinux": True, "isOsx": False,
            "isWindows": False, "isDocker": True, "mode": "console", "branch": "main",
            "authentication": "forms", "sqliteVersion": "3.48.0", "migrationVersion": 220,
            "urlBase": self.url_base, "runtimeVersion": "8.0.12", "runtimeName": ".NET",
            "startTime": "2025-06-01T00:00:00Z", "packageVersion": VERSIONS[self.kind],
            "packageAuthor": "[linuxserver.io](https://linuxserver.io)", "packageUpdateMechanism": "docker",
            "databaseType": "sqLite", "databaseVersion": "3.48.0",
        }

    def _listing(self, route: str, params: dict) -> list[dict] | None:
        items = self.items
        if route == "/series":
            return list(items["series"].values())
        if route == "/episodefile":
            return [f for f in items["episodefile"].values() if f["seriesId"] == params.get("seriesId", f["seriesId"])]
        if route == "/episode":
            if "episodeFileId" in params:
                return [e for e in items["episode"].values() if e["episodeFileId"] == params["episodeFileId"]]
            if "seriesId" in params:
                return [e for e in items["episode"].values() if e["seriesId"] == params["seriesId"]]
            return None  # Sonarr answers 400 without a filter; the fake does not model that
        if route == "/movie":
            return list(items["movie"].values())
        if route == "/moviefile":
            wanted = set(params.get("movieId", []))
            return [f for f in items["moviefile"].values() if not wanted or f["movieId"] in wanted]
        if route == "/artist":
            return list(items["artist"].values())
        if route == "/trackfile":
            return [f for f in items["trackfile"].values() if f["artistId"] == params.get("artistId")]
        if route == "/track":
            return [t for t in items["track"].values() if t["artistId"] == params.get("artistId")]
        return None

    def _delete_file(self, resource: str, file_id: int) -> tuple[int, Any]:
        if self.root_folder_missing:
            return 409, {"message": "Root folder is missing or empty"}
        if self.items[resource].pop(file_id, None) is None:
            return 404, {"message": "NotFound"}
        self._forget_file(resource, file_id)
        return 200, None

    def _forget_file(self, resource: str, file_id: int) -> None:
        if resource == "episodefile":
            for episode in self.items["episode"].values():
                if episode["episodeFileId"] == file_id:
                    episode.update(episodeFileId=0, hasFile=False)
        elif resource == "moviefile":
            for movie in self.items["movie"].values():
                if movie["movieFileId"] == file_id:
                    movie.update(movieFileId=0, hasFile=False, sizeOnDisk=0)
        elif resource == "trackfile":
            for track in self.items["track"].values():
                if track["trackFileId"] == file_id:
                    track.update(trackFileId=0, hasFile=False)

    # -- commands -------------------------------------------------------------------------
    def _queue_command(self, payload: dict) -> dict:
        table = COMMAND_TABLE[self.kind]
        name = next(known for known in table if known.lower() == payload["name"].lower())
        command = RecordedCommand(id=next(self._command_ids), name=name, body=dict(payload, name=name),
                                  unfinished_at_post=sum(c.status in ("queued", "started") for c in self.commands))
        self.commands.append(command)
        return self._command_resource(command)

    def _advance(self, command: RecordedCommand) -> None:
        if command.status in ("completed", "failed"):
            return
        command.polls += 1
        if command.polls < self.polls_to_complete:
            command.status = "started"
            return
        failure = self.fail_commands.get(command.name) or self._run(command)
        if failure:
            command.status, command.result, command.message = "failed", "unsuccessful", failure
        else:
            command.status, command.result, command.message = "completed", "successful", "Completed"

    def _run(self, command: RecordedCommand) -> str | None:
        """Apply a finished command; returns an error message when it fails."""
        body = command.body
        if command.name == "RescanSeries":
            ids = [body["seriesId"]] if "seriesId" in body else list(self.items["series"])
            return self._rescan("series", "episodefile", "seriesId", ids)
        if command.name == "RescanMovie":
            ids = [body["movieId"]] if "movieId" in body else list(self.items["movie"])
            return self._rescan("movie", "moviefile", "movieId", ids)
        if command.name == "RescanFolders":
            folders = body.get("folders") or [a["path"] for a in self.items["artist"].values()]
            ids = [a["id"] for a in self.items["artist"].values()
                   if any(a["path"] == f.rstrip("/") or a["path"].startswith(f.rstrip("/") + "/") for f in folders)]
            return self._rescan("artist", "trackfile", "artistId", ids)
        for key, resource in (("episodeIds", "episode"), ("movieIds", "movie"), ("albumIds", "album"),
                              ("seriesId", "series")):
            wanted = body.get(key)
            wanted = [wanted] if isinstance(wanted, int) else wanted or []
            unknown = [i for i in wanted if i not in self.items[resource]]
            if unknown:
                return f"{resource} {unknown} not found"
        return None

    def _rescan(self, owner: str, resource: str, key: str, owner_ids: list[int]) -> str | None:
        unknown = [i for i in owner_ids if i not in self.items[owner]]
        if unknown:
            return f"{owner} with ID {unknown[0]} does not exist"
        for file_id, record in list(self.items[resource].items()):
            if record[key] in owner_ids and self._missing_on_disk(record["path"]):
                del self.items[resource][file_id]
                self._forget_file(resource, file_id)
        return None

    def _missing_on_disk(self, path: str) -> bool:
        if path in self.missing_paths:
            return True
        for prefix, real in self.disk_map.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return not os.path.exists(real.rstrip("/") + path[len(prefix.rstrip("/")):])
        return False

    def _command_resource(self, command: RecordedCommand) -> dict:
        started = command.status != "queued"
        ended = command.status in ("completed", "failed")
        return {
            "id": command.id, "name": command.name, "commandName": re.sub(r"(?<!^)(?=[A-Z])", " ", command.name),
            "message": command.message or None,
            "body": {**command.body, "sendUpdatesToClient": True, "updateScheduledTask": True,
                     "requiresDiskAccess": command.name.startswith("Rescan"), "isExclusive": False,
                     "isTypeExclusive": False, "isLongRunning": False, "trigger": "manual",
                     "suppressMessages": False},
            "priority": "normal", "status": command.status, "result": command.result,
            "queued": command.queued, "started": command.queued if started else None,
            "ended": _now() if ended else None, "trigger": "manual",
            "stateChangeTime": command.queued, "sendUpdatesToClient": True, "updateScheduledTask": True,
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeArr
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body leave in one segment (no delayed-ACK stalls)
    disable_nagle_algorithm = True
    server_version = "Kestrel"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, answer, extra = self.fake.handle(self.command, self.path, headers, body)
        except Exception as exc:  # a bug in the fake must fail the test, not hang it
            with self.fake.lock:
                self.fake.violations.append(f"fake crashed on {self.command} {self.path}: {exc!r}")
            status, answer, extra = 500, {"message": repr(exc)}, {}
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status, HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "")
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve
