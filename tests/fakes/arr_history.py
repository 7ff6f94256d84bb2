"""The history of a fake Sonarr/Radarr (:class:`fakes.arr_server.FakeArr` mixes it in): what
was grabbed and imported, as ``GET /history/series`` (Sonarr), ``GET /history/movie``
(Radarr), ``GET /history`` and ``GET /history/since`` answer it. A test writes the events
(``grab``, ``import_file``) as the application would after a search; the answers are
checked against the vendored OpenAPI documents like every other answer of the fake."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

# the document's enums name the event types (EpisodeHistoryEventType, MovieHistoryEventType)
GRABBED, IMPORTED, FAILED = "grabbed", "downloadFolderImported", "downloadFailed"


def _iso(moment: datetime | None) -> str:
    return (moment or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class HistoryMixin:
    """Events newest first, like the applications list them."""

    history: list[dict]

    def _init_history(self) -> None:
        self.history = []
        self._history_ids = itertools.count(701)

    def add_event(self, event_type: str, *, episode: dict | None = None, movie: dict | None = None,
                  when: datetime | None = None, source_title: str = "Release.1080p-GRP",
                  download_id: str = "ABCDEF0123", data: dict[str, str] | None = None) -> dict:
        """One history record for an episode (Sonarr) or a movie (Radarr)."""
        record: dict[str, Any] = {"id": next(self._history_ids), "sourceTitle": source_title,
                                  "date": _iso(when), "downloadId": download_id, "eventType": event_type,
                                  "data": dict(data or {}), "qualityCutoffNotMet": False,
                                  "customFormats": [], "customFormatScore": 0}
        if episode is not None:
            record.update(episodeId=episode["id"], seriesId=episode["seriesId"])
        if movie is not None:
            record["movieId"] = movie["id"]
        with self.lock:  # type: ignore[attr-defined]
            self.history.insert(0, record)
        return record

    def grab(self, *, episode: dict | None = None, movie: dict | None = None,
             when: datetime | None = None) -> dict:
        return self.add_event(GRABBED, episode=episode, movie=movie, when=when,
                              data={"indexer": "Fake Indexer", "downloadClient": "Fake Client"})

    def import_file(self, path: str, *, episode: dict | None = None, movie: dict | None = None,
                    when: datetime | None = None) -> dict:
        """The downloaded file imported to ``path`` (as the application sees it): a history
        record and the file record the application then lists."""
        record = self.add_event(IMPORTED, episode=episode, movie=movie, when=when,
                                data={"importedPath": path, "droppedPath": f"/downloads/{path.rsplit('/', 1)[-1]}"})
        with self.lock:  # type: ignore[attr-defined]
            if episode is not None:
                series = self.items["series"][episode["seriesId"]]  # type: ignore[attr-defined]
                file_id = max(self.items["episodefile"], default=0) + 1000  # type: ignore[attr-defined]
                self.items["episodefile"][file_id] = {  # type: ignore[attr-defined]
                    "id": file_id, "seriesId": series["id"], "seasonNumber": episode["seasonNumber"],
                    "relativePath": path[len(series["path"]) + 1:], "path": path, "size": 1_500_000_000,
                    "dateAdded": record["date"], "languages": [], "customFormats": [], "customFormatScore": 0}
                episode.update(episodeFileId=file_id, hasFile=True)
            if movie is not None:
                movie.update(hasFile=True)
        return record

    def _history_listing(self, route: str, params: dict) -> tuple[int, Any] | None:
        if not route.startswith("/history"):
            return None
        with self.lock:  # type: ignore[attr-defined]
            records = list(self.history)
        wanted = params.get("eventType")
        if route == "/history/series":
            records = [r for r in records if r.get("seriesId") == params.get("seriesId")]
            if "seasonNumber" in params:
                episodes = self.items["episode"]  # type: ignore[attr-defined]
                records = [r for r in records if episodes.get(r["episodeId"], {}).get("seasonNumber")
                           == params["seasonNumber"]]
        elif route == "/history/movie":
            records = [r for r in records if r.get("movieId") == params.get("movieId")]
        elif route == "/history/since":
            records = [r for r in records if r["date"] >= _iso(datetime.fromisoformat(
                params["date"].replace("Z", "+00:00")))]
        elif route == "/history":
            if "episodeId" in params:
                records = [r for r in records if r.get("episodeId") == params["episodeId"]]
            if params.get("seriesIds"):
                records = [r for r in records if r.get("seriesId") in params["seriesIds"]]
            if params.get("movieIds"):
                records = [r for r in records if r.get("movieId") in params["movieIds"]]
            if wanted:  # /history takes the event types as numbers (the enum's order)
                names = self._event_names()
                records = [r for r in records if names.index(r["eventType"]) in wanted]
            page, size = params.get("page", 1), params.get("pageSize", 10)
            return 200, {"page": page, "pageSize": size, "totalRecords": len(records),
                         "records": records[(page - 1) * size:page * size]}
        else:
            return None
        if wanted:
            records = [r for r in records if r["eventType"] == wanted]
        return 200, records

    def _event_names(self) -> list[str]:
        name = "EpisodeHistoryEventType" if self.kind == "sonarr" else "MovieHistoryEventType"  # type: ignore[attr-defined]
        return self.document.components["schemas"][name]["enum"]  # type: ignore[attr-defined]
