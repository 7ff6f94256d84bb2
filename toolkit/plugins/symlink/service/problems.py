"""A scan's problems, page by page and filtered, and the paths the user chose to ignore (in
this scan and the next ones)."""
from __future__ import annotations

import os

from sqlalchemy import func, select, update

from toolkit.api import PluginError, Toolkit
from toolkit.api import gettext as _

from ..history import SymlinkIgnore, SymlinkProblem
from ..schema import utcnow
from .common import is_id
from .deletions import deletable_filter
from .lifecycle import record_problem_event
from .records import get_scan

PROBLEM_FILTERS = ("BROKEN", "INACCESSIBLE", "SMALL_FILE", "IO_ERROR", "CORRUPTED", "UNKNOWN", "ERROR")
MAX_PER_PAGE = 500
MAX_PAGE = 10**9  # beyond, the database's offset would overflow
MAX_NOTE = 500  # a note says why in a sentence or two; longer is refused, not stored


def parse_page(args) -> tuple[int, int]:
    try:
        page = min(max(int(args.get("page", 1)), 1), MAX_PAGE)
        per_page = min(max(int(args.get("per_page", 50)), 1), MAX_PER_PAGE)
    except (TypeError, ValueError):
        raise PluginError(400, _("page and per_page must be integers")) from None
    return page, per_page


async def problems_page(tk: Toolkit, scan_id: str, *, status: str | None = None,
                        ignored: str = "exclude", outcome: str | None = None,
                        deletable_only: bool = False, ids: list[int] | None = None,
                        page: int = 1, per_page: int = 50) -> dict:
    await get_scan(tk, scan_id)
    conditions = list(deletable_filter(scan_id)) if deletable_only else [SymlinkProblem.scan_id == scan_id]
    if ids is not None:
        conditions.append(SymlinkProblem.id.in_(ids))
    if status:
        statuses = [s.strip().upper() for s in status.split(",") if s.strip()]
        bad = [s for s in statuses if s not in PROBLEM_FILTERS]
        if bad:
            raise PluginError(400, _("unknown status %(bad)s; use %(known)s", bad=", ".join(bad), known=", ".join(PROBLEM_FILTERS)))
        conditions.append(SymlinkProblem.status.in_(statuses))
    if ignored not in ("exclude", "include", "only"):
        raise PluginError(400, _("ignored must be exclude, include or only"))
    if ignored != "include":
        conditions.append(SymlinkProblem.ignored.is_(ignored == "only"))
    if outcome:
        conditions.append(SymlinkProblem.outcome == outcome if outcome != "none"
                          else SymlinkProblem.outcome.is_(None))
    async with tk.sessions() as session:
        total = (await session.execute(select(func.count()).select_from(SymlinkProblem)
                                       .where(*conditions))).scalar_one()
        rows = (await session.execute(select(SymlinkProblem).where(*conditions)
                                      .order_by(SymlinkProblem.path, SymlinkProblem.id)
                                      .offset((page - 1) * per_page).limit(per_page))).scalars().all()
        by_status = dict((await session.execute(
            select(SymlinkProblem.status, func.count()).where(
                SymlinkProblem.scan_id == scan_id, SymlinkProblem.ignored.is_(False))
            .group_by(SymlinkProblem.status))).all())
        ignored_count = (await session.execute(select(func.count()).select_from(SymlinkProblem).where(
            SymlinkProblem.scan_id == scan_id, SymlinkProblem.ignored.is_(True)))).scalar_one()
    return {"scan_id": scan_id, "page": page, "per_page": per_page, "total": total,
            "pages": max((total + per_page - 1) // per_page, 1),
            "counts_by_status": by_status, "ignored_count": ignored_count,
            "items": [row.as_dict() for row in rows]}


async def ignore_path(tk: Toolkit, *, path: str | None = None, problem_id: int | None = None,
                      note: str | None = None) -> dict:
    if problem_id is not None and not is_id(problem_id):
        raise PluginError(404, _("no problem %(id)s", id=problem_id))
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise PluginError(422, _("the note must be text of at most %(n)s characters", n=MAX_NOTE),
                       fields={"note": f"at most {MAX_NOTE} characters"})
    async with tk.sessions() as session:
        status = None
        if problem_id is not None:
            problem = await session.get(SymlinkProblem, problem_id)
            if problem is None:
                raise PluginError(404, _("no problem %(id)s", id=problem_id))
            path, status = problem.path, problem.status
        if not path or not isinstance(path, str) or not os.path.isabs(path):
            raise PluginError(400, _("give a problem_id or an absolute path to ignore"))
        existing = (await session.execute(select(SymlinkIgnore).where(
            SymlinkIgnore.path == path))).scalar_one_or_none()
        if existing is None:
            existing = SymlinkIgnore(path=path, status=status, note=note, created_at=utcnow())
            session.add(existing)
        await session.execute(update(SymlinkProblem).where(SymlinkProblem.path == path)
                              .values(ignored=True))
        await record_problem_event(session, path, "ignored")
        await session.commit()
        return existing.as_dict()


async def unignore(tk: Toolkit, ignore_id: int) -> dict:
    async with tk.sessions() as session:
        row = await session.get(SymlinkIgnore, ignore_id)
        if row is None:
            raise PluginError(404, _("no ignored path %(id)s", id=ignore_id))
        await session.delete(row)
        await session.execute(update(SymlinkProblem).where(SymlinkProblem.path == row.path)
                              .values(ignored=False))
        await record_problem_event(session, row.path, "seen")
        await session.commit()
        return row.as_dict()


async def unignore_problem(tk: Toolkit, problem_id: int) -> dict:
    """Stop ignoring the path of one of a scan's problems (the page's "Undo")."""
    async with tk.sessions() as session:
        problem = await session.get(SymlinkProblem, problem_id)
        if problem is None:
            raise PluginError(404, _("no problem %(id)s", id=problem_id))
        ignore_id = (await session.execute(select(SymlinkIgnore.id).where(
            SymlinkIgnore.path == problem.path))).scalar_one_or_none()
    if ignore_id is None:
        raise PluginError(404, _("%(path)s is not ignored", path=problem.path))
    return await unignore(tk, ignore_id)


async def list_ignores(tk: Toolkit) -> list[dict]:
    async with tk.sessions() as session:
        rows = (await session.execute(select(SymlinkIgnore).order_by(SymlinkIgnore.path))).scalars()
        return [row.as_dict() for row in rows]
