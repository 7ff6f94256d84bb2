"""Queue records as the cleaner sees them: one :class:`QueueItem` per download.

Sonarr lists a season pack once per episode, each record with its own queue id and the same
``downloadId``: records are grouped by download, so an action is taken once and a search
asks for every affected episode (never a queue id matched inside a title)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone


@dataclass
class QueueItem:
    app: str  # "sonarr" / "radarr" / "lidarr"
    queue_id: int  # the lowest queue id of the download's records (the one acted upon)
    download_id: str
    title: str
    status: str = "unknown"
    tracked_status: str = "ok"
    tracked_state: str = "downloading"
    messages: list[str] = field(default_factory=list)
    error_message: str = ""
    download_client: str = ""
    protocol: str = "unknown"
    size: float = 0.0
    sizeleft: float = 0.0
    added: datetime | None = None
    series_id: int | None = None
    episode_ids: list[int] = field(default_factory=list)
    movie_id: int | None = None
    artist_id: int | None = None  # Lidarr: one record per album, grouped like a pack
    album_ids: list[int] = field(default_factory=list)
    monitored: bool | None = None
    tags: list[int] = field(default_factory=list)
    queue_ids: list[int] = field(default_factory=list)

    @property
    def key(self) -> str:
        """What identifies the download across checks (queue ids change on restarts)."""
        return self.download_id or f"queue:{self.queue_id}"

    @property
    def state(self) -> str:
        return f"{self.status}/{self.tracked_state}"

    @property
    def known(self) -> bool:
        return self.series_id is not None or self.movie_id is not None or self.artist_id is not None

    def texts(self) -> list[str]:
        return [t for t in (*self.messages, self.error_message) if t]


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _messages(record: dict) -> list[str]:
    found = []
    for message in record.get("statusMessages") or []:
        for text in [message.get("title"), *(message.get("messages") or [])]:
            if text and text not in found:
                found.append(str(text))
    return found


def _monitored(record: dict) -> bool | None:
    for key in ("episode", "movie", "album"):
        media = record.get(key)
        if isinstance(media, dict) and "monitored" in media:
            return bool(media["monitored"])
    return None


def _tags(record: dict) -> list[int]:
    for key in ("series", "movie", "artist"):
        media = record.get(key)
        if isinstance(media, dict):
            return [int(t) for t in media.get("tags") or []]
    return []


def group_records(app: str, records: list[dict]) -> list[QueueItem]:
    """One item per download, in queue order."""
    items: dict[str, QueueItem] = {}
    for record in records:
        queue_id = int(record["id"])
        download_id = str(record.get("downloadId") or "")
        key = download_id or f"queue:{queue_id}"
        item = items.get(key)
        if item is None:
            item = items[key] = QueueItem(
                app=app, queue_id=queue_id, download_id=download_id,
                title=str(record.get("title") or ""),
                status=str(record.get("status") or "unknown"),
                tracked_status=str(record.get("trackedDownloadStatus") or "ok"),
                tracked_state=str(record.get("trackedDownloadState") or "downloading"),
                error_message=str(record.get("errorMessage") or ""),
                download_client=str(record.get("downloadClient") or ""),
                protocol=str(record.get("protocol") or "unknown"),
                size=float(record.get("size") or 0), sizeleft=float(record.get("sizeleft") or 0),
                added=parse_time(record.get("added")),
                series_id=record.get("seriesId") or None,
                movie_id=record.get("movieId") or None,
                artist_id=record.get("artistId") or None,
                monitored=_monitored(record), tags=_tags(record))
        item.queue_ids.append(queue_id)
        item.queue_id = min(item.queue_ids)
        for text in _messages(record):
            if text not in item.messages:
                item.messages.append(text)
        episode_id = record.get("episodeId")
        if episode_id and episode_id not in item.episode_ids:
            item.episode_ids.append(int(episode_id))
        album_id = record.get("albumId")
        if album_id and album_id not in item.album_ids:
            item.album_ids.append(int(album_id))
        if _monitored(record) is True:
            item.monitored = True  # a pack is wanted while any of its episodes is
    return list(items.values())
