"""The queue cleaner's JSON API under ``/api/queue``."""
from __future__ import annotations

from quart import Blueprint, jsonify

from toolkit.api import PluginError, current_toolkit, json_body

from .. import service

api = Blueprint("queue_api", __name__, url_prefix="/api/queue")


def plan_body(plan: dict | None) -> dict:
    if plan is None:
        return {"plan": None}
    return {"plan": {**plan, "created_at": plan["created_at"].isoformat(),
                     "applied_at": plan["applied_at"].isoformat() if plan["applied_at"] else None}}


@api.get("/plan")
async def latest():
    """The last check's plan with its token (``plan: null`` before the first check)."""
    return plan_body(await service.latest_plan(current_toolkit()))


@api.post("/check")
async def check():
    """Read the queues now, count strikes and make a plan (nothing is changed)."""
    return plan_body(await service.check(current_toolkit(), source="api"))


@api.post("/apply")
async def apply():
    """Apply a plan: ``{plan_id, token}`` as given with the plan."""
    data = await json_body()
    try:
        plan_id = int(data.get("plan_id"))
    except (TypeError, ValueError):
        raise PluginError(422, "plan_id must be a number", fields={"plan_id": "a number"}) from None
    applied = await service.apply(current_toolkit(), plan_id, str(data.get("token") or ""))
    return {"applied": applied}


@api.get("/journal")
async def journal():
    """Every action taken, newest first, with the *arr's answer and undo state."""
    rows = await service.journal_rows(current_toolkit())
    return jsonify([{**r, "at": r["at"].isoformat(),
                     "undone_at": r["undone_at"].isoformat() if r["undone_at"] else None}
                    for r in rows])


@api.post("/journal/<int:journal_id>/undo")
async def undo(journal_id: int):
    """Remove the blocklist entry of an action and search its episodes/movie again."""
    return await service.undo(current_toolkit(), journal_id)
