"""``symlink:follow-repairs``: one look at the pending repair searches (see :mod:`.follow`),
run by the ``symlink-follow-repairs`` schedule (every 30 minutes; it costs nothing when no
search is pending) or by hand from the Dashboard and the CLI."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from toolkit.api import JobContext, Schedule, Task


class FollowParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


async def follow_task(ctx: JobContext) -> dict:
    from .follow import follow_repairs

    ctx.report_progress(None, "follow", message="reading Sonarr/Radarr history")
    return await follow_repairs(ctx.services["toolkit"], should_abort=ctx.should_abort)


FOLLOW_TASK = Task(name="symlink:follow-repairs", func=follow_task,
                   exclusive_key=lambda params: "symlink:follow-repairs", keep_last=10,
                   description="Follow the repair searches in Sonarr/Radarr's history: grabbed, imported, "
                               "repaired, or still missing",
                   params=FollowParams, schedulable=True)
FOLLOW_SCHEDULE = Schedule(name="symlink-follow-repairs", task="symlink:follow-repairs", cron="*/30 * * * *",
                           params={}, enabled=True)
