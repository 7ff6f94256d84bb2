"""Re-check one problem link now, with the engine's own checks, and mark one fixed by hand.

The check runs in a thread (never on the event loop) under a deadline: a link into a hung
mount answers "could not check" instead of holding the request.
"""
from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass

from toolkit.api import MAX_ID, PluginError, Toolkit
from toolkit.api import gettext as _

from ..engine.checker import UNKNOWN, Problem, ScanOptions
from ..engine.classify import LinkClassifier
from ..engine.mounts import MountMonitor
from ..engine.probe import probe
from ..engine.workers import CallTimeout, call_with_deadline
from ..history import SymlinkProblemLife as Life
from ..schema import utcnow
from .lifecycle import record_problem_event

# the whole re-check's deadline, on top of the engine's own per-call ones
RECHECK_SECONDS = 60.0


@dataclass(frozen=True)
class Recheck:
    verdict: str  # healthy, gone, problem, unknown
    status: str | None = None
    reason: str | None = None
    target: str | None = None


def recheck_blocking(path: str, *, phase: int = 1, small_files: str = "media") -> Recheck:
    """Blocking. Phase 1 on the link (as a scan would), and ffprobe when the problem was
    found by ffprobe (phase 2) and phase 1 passes."""
    depth = "full" if phase == 2 and shutil.which("ffprobe") else "basic"
    options = ScanOptions(paths=[os.path.dirname(path) or "/"], depth=depth, small_files=small_files)
    monitor = MountMonitor(timeout=options.mount_timeout, interval=options.mount_check_interval)
    outcome = LinkClassifier(options, monitor).classify(path)
    if outcome is None:
        return Recheck("gone")
    if isinstance(outcome, Problem):
        verdict = "unknown" if outcome.status == UNKNOWN else "problem"
        return Recheck(verdict, outcome.status, outcome.reason, outcome.target)
    if depth == "full" and outcome.is_media:
        result = probe(path, depth, timeout=options.probe_timeout)
        if result.verdict == UNKNOWN:
            return Recheck("unknown", UNKNOWN, result.reason)
        if result.verdict != "OK":
            return Recheck("problem", result.verdict, result.reason)
    return Recheck("healthy")


async def _life(session, life_id: int) -> Life:
    # an id past what the database holds would overflow there (a 500): it is simply not there
    life = await session.get(Life, life_id) if 1 <= life_id <= MAX_ID else None
    if life is None:
        raise PluginError(404, _("no tracked problem %(id)s", id=life_id))
    return life


async def recheck_life(tk: Toolkit, life_id: int, *, small_files: str = "media") -> dict:
    """Re-check the link of one tracked problem now and move its life on: healthy or gone
    is fixed (``recheck``); still a problem keeps its state with the new status; could not
    check (mount down, no answer) changes nothing but says so."""
    async with tk.sessions() as session:
        life = await _life(session, life_id)
        path, phase = life.path, life.phase
    try:
        result = await asyncio.to_thread(call_with_deadline, lambda: recheck_blocking(
            path, phase=phase, small_files=small_files), timeout=RECHECK_SECONDS)
    except CallTimeout:
        result = Recheck("unknown", UNKNOWN, f"no answer within {RECHECK_SECONDS:g}s")
    except OSError as exc:
        result = Recheck("unknown", UNKNOWN, str(exc))
    now = utcnow()
    async with tk.sessions() as session:
        life = await _life(session, life_id)
        life.checked_at = now
        life.check_result = result.verdict if result.reason is None else f"{result.verdict}: {result.reason}"
        if result.verdict in ("healthy", "gone"):
            await record_problem_event(session, path, "fixed", how="recheck")
        elif result.verdict == "problem":
            life.status, life.reason = result.status or life.status, result.reason
            life.target = result.target or life.target
            if life.state == "fixed":  # a hand fix that did not hold
                life.state, life.state_changed_at, life.fixed_at, life.fixed_how = "back", now, None, None
                life.times_back += 1
        await session.commit()
        await session.refresh(life)
        return {**life.as_dict(), "verdict": result.verdict, "verdict_status": result.status,
                "verdict_reason": result.reason}


async def mark_fixed(tk: Toolkit, life_id: int) -> dict:
    """The person says it is fixed; a later scan that finds it again says "coming back"."""
    async with tk.sessions() as session:
        life = await _life(session, life_id)
        await record_problem_event(session, life.path, "fixed", how="hand")
        await session.commit()
        await session.refresh(life)
        return life.as_dict()
