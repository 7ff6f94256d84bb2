"""The follow-up of the repair searches (see :mod:`..service.follow`), on the page and in the API.

- API: ``GET /api/symlink/repairs`` (``?scan_id=``, ``?state=``): each item searched after
  a deletion and where it is (searching, grabbed, imported, repaired, missing), in words
  too; ``POST /api/symlink/repairs/follow`` looks now (the schedule does every 30 minutes).
- Page: the Dashboard's "Repairs followed" card, and the Scanner's under a deletion's
  outcome (the same fragment, ``/symlink/repairs?scan=``), with a "Check now" button.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from quart import Blueprint, request

from toolkit.api import JobConflict, PluginError, declares, query
from toolkit.api import current_toolkit as toolkit
from toolkit.api import gettext as _

from ..history import FOLLOW_STATES
from ..service.follow import follows_page
from ..service.follow_task import FOLLOW_TASK
from ..service.follow_words import follow_note, follow_text
from .fragments import fragment

WAIT_SECONDS = 20.0
repairs_api = Blueprint("symlink_repairs_api", __name__, url_prefix="/api/symlink")
repairs_pages = Blueprint("symlink_repairs_pages", __name__)


class RepairsQuery(BaseModel):
    scan_id: str | None = Field(None, min_length=1, max_length=64)
    state: Literal[FOLLOW_STATES] | None = None  # type: ignore[valid-type]
    limit: int = Field(50, ge=1, le=500)


@repairs_pages.app_template_filter("follow_state")
def state_word(state: str) -> str:
    return {"searching": _("searching"), "grabbed": _("grabbed"), "imported": _("imported"),
            "repaired": _("repaired"), "missing": _("still missing")}.get(state, state)


async def _listing(scan_id: str | None = None, state: str | None = None, limit: int = 50) -> dict:
    answer = await follows_page(toolkit(), scan_id=scan_id, state=state, limit=limit)
    for item in answer["items"]:
        item["text"] = follow_text(item, answer["missing_after_hours"])
        item["note"] = follow_note(item)
    return answer


async def _follow_now() -> dict:
    try:
        job = await toolkit().runner.enqueue(FOLLOW_TASK.name, {})
    except JobConflict:
        raise PluginError(409, _("the repairs are being checked already"), code="already_running") from None
    return {"job_id": job.id}


@repairs_api.get("/repairs")
@query(RepairsQuery)
async def repairs_list(query: RepairsQuery):
    """The items Sonarr/Radarr were asked to search after deletions, newest first, each with
    its follow-up ``state`` (searching, grabbed, imported, repaired, missing) and ``text``;
    ``counts`` per state; ``missing_after_hours`` (the setting)."""
    return await _listing(query.scan_id, query.state, query.limit)


@repairs_api.post("/repairs/follow")
@declares(202)
async def repairs_follow():
    """Look at the pending repairs now (``symlink:follow-repairs``); 409 when it runs already."""
    return await _follow_now(), 202


@repairs_pages.get("/symlink/repairs")
async def repairs_fragment():
    scan_id = request.args.get("scan") or None
    if scan_id is not None and len(scan_id) > 64:
        return await fragment("symlink/_error.html", message=_("no such scan"))
    return await fragment("symlink/_repairs.html", repairs=await _listing(scan_id), scan_id=scan_id)


@repairs_pages.post("/symlink/repairs/follow")
async def repairs_follow_fragment():
    scan_id = request.args.get("scan") or None
    try:
        started = await _follow_now()
    except PluginError as exc:
        return await fragment("symlink/_error.html", message=exc.message)
    try:  # a few items answer within seconds; many are paced (the page says so)
        await toolkit().runner.wait(started["job_id"], timeout=WAIT_SECONDS)
        checking = False
    except TimeoutError:
        checking = True
    scan_id = scan_id if scan_id and len(scan_id) <= 64 else None
    return await fragment("symlink/_repairs.html", repairs=await _listing(scan_id), scan_id=scan_id,
                          just_checked=not checking, checking=checking)
