"""Plex's "empty trash", only when it is safe.

A Plex section's trash holds the items whose files Plex found missing; emptying it removes
them from the library (watch history, metadata and all). While a debrid mount is down every
file looks missing, and an empty trash then wipes the library (debridmediamanager/zurg-public#7,
Cloudbox/autoscan#52). So the toolkit empties it only when the user turned it on for the
server, no mount is down or degraded (the caller, :func:`.mediaserver.refresh_folders`, sends
nothing at all otherwise), and the number of items it would remove, counted first, is at most
the user's limit (default small). Otherwise nothing is emptied and the report says why.

Jellyfin and Emby have no trash: their library scan removes missing items itself, which is
why they are only ever asked to scan the changed folders.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import BadResponse

if TYPE_CHECKING:
    from .mediaserver import MediaServerClient

DEFAULT_MAX_ITEMS = 5


async def trash_counts(client: MediaServerClient) -> dict[str, int]:
    """``{section key: items in its trash}`` for every section, read as a count only
    (``X-Plex-Container-Size=0``: the listing itself is not fetched). An answer without
    ``totalSize`` is an error, never a zero (fail closed)."""
    sections = client._plex_sections(client._json(await client._request("GET", "/library/sections"),
                                                  "the library list"))
    counts = {}
    for key in sections:
        body = client._json(await client._request("GET", f"/library/sections/{key}/all", params={
            "trash": "1", "X-Plex-Container-Start": "0", "X-Plex-Container-Size": "0"}), "the trash count")
        total = body.get("MediaContainer", {}).get("totalSize") if isinstance(body, dict) else None
        if isinstance(total, str) and total.isdigit():
            total = int(total)
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise client._error(BadResponse, f"section {key}'s trash count is not a number")
        counts[key] = total
    return counts


async def empty_trash_if_safe(client: MediaServerClient, *, max_items: int) -> dict:
    """Empty every section's trash when all of them together hold at most ``max_items``
    items: ``{"emptied": n, "counts": {...}}``, or ``{"skipped": why, "counts": {...}}``."""
    counts = await trash_counts(client)
    total = sum(counts.values())
    if total > max_items:
        return {"emptied": 0, "counts": counts,
                "skipped": f"{total} items would be removed from the trash, more than the limit of "
                           f"{max_items}: not emptied (check the mounts, then empty it in Plex)"}
    for key, count in counts.items():
        if count:
            await client._request("PUT", f"/library/sections/{key}/emptyTrash")
    return {"emptied": total, "counts": counts, "skipped": None}
