"""Which problem a download is in, from the *arr's structured fields first.

Messages are read only where the structured fields do not say enough: the user's own
wildcard/regular-expression rules (any language) first, then the few English messages the
applications and the debrid clients are known to send (RDT-client and Decypharr pose as
qBittorrent and report a debrid failure as "qBittorrent is reporting an error")."""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import datetime

from .items import QueueItem

DEBRID_ERROR = re.compile(r"is reporting an error|debrid|torrent.*(?:dead|not cached|error)", re.I)
NO_FILES = re.compile(r"no files found are eligible|no video files|no eligible files|"
                      r"not a valid media file|found archive file", re.I)
# Sonarr/Radarr say failed/failedPending, Lidarr downloadFailed/downloadFailedPending
FAILED_STATES = {"failed", "failedPending", "downloadFailed", "downloadFailedPending"}
ACTIVE_STATUSES = {"downloading", "warning"}


@dataclass(frozen=True)
class Previous:
    """What the last check remembered of a download."""

    problem: str | None
    state: str
    sizeleft: float
    strikes: int
    checked_at: datetime


@dataclass(frozen=True)
class Finding:
    rule: str
    reason: str


def _matches(rule, text: str) -> bool:
    if rule.regex:
        return re.search(rule.pattern, text, re.I) is not None
    pattern = rule.pattern if any(c in rule.pattern for c in "*?[") else f"*{rule.pattern}*"
    return fnmatch.fnmatchcase(text.lower(), pattern.lower())


def _first(texts: list[str], default: str) -> str:
    return texts[0] if texts else default


def classify(item: QueueItem, previous: Previous | None, settings, now: datetime) -> Finding | None:
    """The first rule the item breaks, or ``None`` when it is fine."""
    texts = item.texts()
    if item.status == "failed" or item.tracked_state in FAILED_STATES:
        return Finding("failed", _first(texts, "the download failed"))
    for rule in settings.message_rules:
        hit = next((t for t in texts if _matches(rule, t)), None)
        if hit is not None:
            return Finding(rule.name, hit)
    if item.tracked_status in ("warning", "error") or item.status == "warning":
        hit = next((t for t in texts if DEBRID_ERROR.search(t)), None)
        if hit is not None:
            return Finding("debrid_error", hit)
    # Lidarr also says importFailed where Sonarr/Radarr keep importBlocked
    if item.tracked_state in ("importBlocked", "importFailed") or (
            item.tracked_state == "importPending" and item.tracked_status != "ok"):
        hit = next((t for t in texts if NO_FILES.search(t)), None)
        if hit is not None:
            return Finding("missing_files", hit)
        return Finding("import_blocked", _first(texts, "import blocked"))
    if item.protocol == "torrent" and item.size == 0 and item.status in ("queued", "downloading"):
        return Finding("metadata_stuck", "no size known yet: still fetching the torrent's metadata")
    progress = _progress(item, previous, now)
    if item.status in ACTIVE_STATUSES and item.sizeleft > 0 and progress is not None:
        moved, seconds = progress
        if moved <= 0:
            return Finding("stalled", f"no progress for {seconds / 60:.0f} min")
        speed = moved / seconds / 1024
        if settings.slow_below_kbps and speed < settings.slow_below_kbps:
            return Finding("slow", f"{speed:.1f} KiB/s (minimum {settings.slow_below_kbps})")
    if item.monitored is False:
        return Finding("unmonitored", "the episode or movie is not monitored")
    if not item.known:
        return Finding("unknown_item", "not matched to a series or movie")
    return None


def _progress(item: QueueItem, previous: Previous | None, now: datetime) -> tuple[float, float] | None:
    """(bytes done since the last check, seconds since it) when comparable."""
    if previous is None or previous.state != item.state:
        return None
    seconds = (now - previous.checked_at).total_seconds()
    if seconds <= 0:
        return None
    return previous.sizeleft - item.sizeleft, seconds


def next_strikes(item: QueueItem, finding: Finding | None, previous: Previous | None) -> int:
    """Consecutive checks in the same problem state, this one included: 0 when fine, back to
    1 when the problem or the state changed or the download progressed."""
    if finding is None:
        return 0
    if previous is None or previous.problem != finding.rule or previous.state != item.state:
        return 1
    progressed = item.sizeleft < previous.sizeleft
    if progressed and finding.rule != "slow":  # a slow download progresses, slowly
        return 1
    return previous.strikes + 1
