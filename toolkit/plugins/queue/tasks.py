"""The ``queue:check`` task and its default schedule (every 5 minutes). A job applies its
plan only when the user opted in with the ``apply_scheduled`` setting: no parameter can ask
for it, so a schedule never removes anything on its own authority."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from toolkit.api import JobContext, Schedule, Task, toolkit_of

from . import service
from .engine.plan import actionable, summary


class CheckParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


async def check_task(ctx: JobContext) -> dict:
    tk = toolkit_of(ctx)
    apply = (await tk.settings.get(service.NAMESPACE)).apply_scheduled
    ctx.report_progress(message="reading the queues")
    plan = await service.check(tk, source="schedule")
    applied: list[dict] = []
    if apply and not plan["held"] and any(actionable(e) for e in plan["entries"]):
        applied = await service.apply(tk, plan["id"], plan["token"])
    ctx.report_progress(fraction=1.0, message=f"{len(plan['entries'])} planned, "
                                              f"{len(applied)} applied")
    return summary(plan, applied)


TASKS = [Task(name="queue:check", func=check_task, exclusive_key=lambda _params: "queue",
              keep_last=50, description="Check the Sonarr/Radarr download queues "
                                        "(applies only with apply_scheduled on).",
              params=CheckParams, schedulable=True)]
SCHEDULE = Schedule(name="queue:check", task="queue:check", cron="*/5 * * * *", enabled=True)
SCHEDULES = [SCHEDULE]
