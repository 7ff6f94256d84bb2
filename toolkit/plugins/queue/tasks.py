"""The ``queue:check`` task and its default schedule (every 5 minutes; it applies its plan
only when the user opted in with ``apply_scheduled``)."""
from __future__ import annotations

from toolkit.api import JobContext, Schedule, Task, toolkit_of

from . import service
from .engine.plan import actionable, summary


async def run_check(tk, *, source: str, apply: bool) -> dict:
    """One check, applied when asked: the summary shared by the task and the CLI."""
    plan = await service.check(tk, source=source)
    applied: list[dict] = []
    if apply and not plan["held"] and any(actionable(e) for e in plan["entries"]):
        applied = await service.apply(tk, plan["id"], plan["token"])
    return summary(plan, applied)


async def check_task(ctx: JobContext, scheduled: bool = False, apply: bool = False) -> dict:
    tk = toolkit_of(ctx)
    if scheduled:
        apply = (await tk.settings.get(service.NAMESPACE)).apply_scheduled
    ctx.report_progress(message="reading the queues")
    result = await run_check(tk, source="schedule" if scheduled else "job", apply=apply)
    ctx.report_progress(fraction=1.0, message=f"{len(result['plan'])} planned, "
                                              f"{len(result['applied'])} applied")
    return result


TASKS = [Task(name="queue:check", func=check_task, exclusive_key=lambda _params: "queue",
              keep_last=50, description="Check the Sonarr/Radarr download queues.")]
SCHEDULES = [Schedule(name="queue:check", task="queue:check", cron="*/5 * * * *",
                      params={"scheduled": True}, enabled=True)]
