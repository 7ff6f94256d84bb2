"""Re-pointing links, over HTTP: the JSON API (``/api/symlink/.../retarget``) and the Scanner's
htmx fragments ("Look for moved files" on a scan's results, the "Moved mount" form), both
calling :mod:`..service.retarget`."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt
from quart import Blueprint, render_template, request

from toolkit.api import MAX_ID, PathText, PluginError, body, current_toolkit, query

from ..service import retarget

retarget_bp = Blueprint("symlink_retarget", __name__)

StrictId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Token = Annotated[str, Field(max_length=64)]


class ProposeBody(BaseModel):
    problem_ids: Annotated[list[StrictId], Field(max_length=retarget.MAX_LINKS)] | None = None


class PrefixBody(BaseModel):
    from_: PathText = Field(alias="from")
    to: PathText


class ApplyBody(BaseModel):
    token: Token
    paths: Annotated[list[PathText], Field(max_length=retarget.MAX_LINKS)] | None = None


class UndoBody(BaseModel):
    journal_ids: Annotated[list[StrictId], Field(max_length=retarget.MAX_LINKS)] | None = None
    batch: Token | None = None


class JournalQuery(BaseModel):
    state: Literal["retargeted", "undone", "failed", "pending", "skipped", "all"] = "retargeted"
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, ge=1, le=500)


# ------------------------------------------------------------------------ JSON API

@retarget_bp.post("/api/symlink/scans/<scan_id>/retarget")
@body(ProposeBody)
async def propose_api(scan_id: str, body: ProposeBody):
    """Look for the files of a completed scan's BROKEN links elsewhere on their mount: one
    proposal per link (``new_target`` or why not) and the plan's ``token`` to apply it."""
    return await retarget.propose_for_scan(current_toolkit(), scan_id, body.problem_ids)


@retarget_bp.post("/api/symlink/retarget/prefix")
@body(PrefixBody)
async def prefix_api(body: PrefixBody):
    """Preview a moved mount (``{"from": "/mnt/zurg/__all__", "to": "/mnt/remote/__all__"}``):
    how many links would change (only those whose new target exists), a sample, and the
    ``token`` to apply it. 409 when the new mount is down."""
    return await retarget.propose_prefix(current_toolkit(), {"from": body.from_, "to": body.to})


@retarget_bp.post("/api/symlink/retarget/apply")
@body(ApplyBody)
async def apply_api(body: ApplyBody):
    """Re-point the links of a reviewed plan (``token``; ``paths``: only some of them),
    each re-checked and journaled first; 409 when the plan is stale or a mount is down."""
    return await retarget.apply(current_toolkit(), body.model_dump(exclude_none=True))


@retarget_bp.post("/api/symlink/retarget/undo")
@body(UndoBody)
async def undo_api(body: UndoBody):
    """Point re-targeted links back at their old targets: ``journal_ids`` or a ``batch``."""
    return await retarget.undo(current_toolkit(), body.model_dump(exclude_none=True))


@retarget_bp.get("/api/symlink/retargets")
@query(JournalQuery)
async def journal_api(query: JournalQuery):
    """The re-pointing journal, newest first (``state``: default ``retargeted``, the undoable)."""
    return await retarget.journal_page(current_toolkit(), state=None if query.state == "all" else query.state,
                                       page=query.page, per_page=query.per_page)


# ------------------------------------------------------------------------ page fragments

async def _shown(key: str, work) -> str:
    """The answer of ``work`` (a service call) shown as ``key`` in the fragment, or its error."""
    try:
        answer = await work
    except PluginError as exc:
        return await _error(exc)
    media_path = (await current_toolkit().settings.get("symlink")).media_path
    return await render_template("symlink/_retarget.html", media_path=media_path, **{key: answer})


async def _error(exc: PluginError) -> str:
    return await render_template("symlink/_error.html", message=exc.message, fields=exc.fields)


@retarget_bp.get("/symlink/fragments/retargets")
async def journal_fragment():
    """The Dashboard's "Re-pointed links" (loaded after the page: nothing when there is none)."""
    try:
        page = max(1, min(int(request.args.get("page", 1)), 100_000))
    except ValueError:
        page = 1
    journal = await retarget.journal_page(current_toolkit(), page=page, per_page=10)
    return await render_template("symlink/_retargets.html", journal=journal)


@retarget_bp.post("/symlink/scans/<scan_id>/retarget")
async def propose_fragment(scan_id: str):
    return await _shown("plan", retarget.propose_for_scan(current_toolkit(), scan_id))


@retarget_bp.post("/symlink/retarget/prefix")
async def prefix_fragment():
    form = await request.form
    return await _shown("preview", retarget.propose_prefix(current_toolkit(), {"from": form.get("from", ""),
                                                                               "to": form.get("to", "")}))


@retarget_bp.post("/symlink/retarget/apply")
async def apply_fragment():
    form = await request.form
    data = {"token": form.get("token", "")}
    if form.getlist("path"):
        data["paths"] = form.getlist("path")[:retarget.MAX_LINKS]
    return await _shown("applied", retarget.apply(current_toolkit(), data))


@retarget_bp.post("/symlink/retarget/undo")
async def undo_fragment():
    form = await request.form
    try:
        ids = [int(i) for i in form.getlist("journal_id")][:retarget.MAX_LINKS]
    except ValueError:
        return await _error(PluginError(400, "journal ids must be integers"))
    return await _shown("undone", retarget.undo(current_toolkit(), {"journal_ids": ids} if ids else
                                                {"batch": form.get("batch", "")}))
