"""The queue cleaner's JSON API under ``/api/queue``."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt
from quart import Blueprint, jsonify

from toolkit.api import MAX_ID, body, current_toolkit, declares

from .. import service

api = Blueprint("queue_api", __name__, url_prefix="/api/queue")


class ApplyBody(BaseModel):
    """A plan to apply, with the token it was given with."""

    model_config = ConfigDict(extra="forbid")

    plan_id: Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
    token: str = Field(max_length=200)


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
@body(ApplyBody)
async def apply(body: ApplyBody):
    """Apply a plan: ``{plan_id, token}`` as given with the plan."""
    return {"applied": await service.apply(current_toolkit(), body.plan_id, body.token)}


@api.get("/journal")
@declares(array=True)
async def journal():
    """Every action taken, newest first, with the *arr's answer and undo state."""
    rows = await service.journal_rows(current_toolkit())
    return jsonify([{**r, "at": r["at"].isoformat(),
                     "undone_at": r["undone_at"].isoformat() if r["undone_at"] else None}
                    for r in rows])


@api.post(f"/journal/<int(max={MAX_ID}):journal_id>/undo")
@declares(502)
async def undo(journal_id: int):
    """Remove the blocklist entry of an action and search its episodes/movie again."""
    return await service.undo(current_toolkit(), journal_id)
