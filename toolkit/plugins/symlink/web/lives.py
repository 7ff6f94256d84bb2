"""The problems' lives across scans and the trends, on the page and in the API.

- API: ``GET /api/symlink/lives`` (by state), ``POST /api/symlink/lives/<id>/recheck``,
  ``POST /api/symlink/lives/<id>/fixed``, ``GET /api/symlink/trends``.
- Page: the Dashboard's "Problems across scans" card (counts per state, the list, re-check
  and mark fixed in place) and its trend chart, drawn here as SVG (no script, no CDN); the
  Scanner's results show each problem's life through :func:`lives_for`.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from quart import Blueprint, request

from toolkit.api import PluginError, ngettext, query
from toolkit.api import current_toolkit as toolkit
from toolkit.api import gettext as _

from ..history import LIFE_STATES
from ..service import lifecycle, recheck
from ..service.common import settings_of
from ..service.problems import MAX_PAGE, MAX_PER_PAGE, parse_page
from .fragments import fragment

lives_api = Blueprint("symlink_lives_api", __name__, url_prefix="/api/symlink")
lives_pages = Blueprint("symlink_lives_pages", __name__)

TREND_SCANS = 30  # scans drawn on the chart (the rows are all kept)
CHART = {"width": 640, "height": 240, "left": 44, "right": 48, "top": 24, "bottom": 40}


class LivesQuery(BaseModel):
    state: Literal[LIFE_STATES] | Literal["open"] = "open"  # type: ignore[valid-type]
    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


class TrendsQuery(BaseModel):
    limit: int = Field(TREND_SCANS, ge=1, le=1000)


# ------------------------------------------------------------------------ words

@lives_pages.app_template_filter("life_state")
def state_word(state: str) -> str:
    return {"new": _("new"), "seen": _("seen again"), "back": _("coming back"), "ignored": _("ignored"),
            "retargeted": _("re-targeted"), "deleted": _("deleted"),
            "researched": _("deleted and re-searched"), "fixed": _("fixed")}.get(state, state)


def life_story(life: dict) -> str:
    """One line a person reads: how often and since when, and how it was fixed."""
    since = (life.get("first_seen") or "")[:10]
    line = ngettext("seen once, on %(date)s", "seen %(num)d times since %(date)s", life["times_seen"], date=since)
    if life.get("times_back"):
        line += " · " + ngettext("came back once", "came back %(num)d times", life["times_back"])
    if life["state"] == "fixed":
        how = {"gone": _("gone on a later scan"), "healthy": _("replaced and healthy"),
               "hand": _("marked fixed by hand"), "recheck": _("fine on re-check"),
               "repaired": _("brought back by Sonarr/Radarr")}.get(life.get("fixed_how") or "", "")
        line += " · " + _("fixed on %(date)s", date=(life.get("fixed_at") or "")[:10]) + (f" ({how})" if how else "")
    return line


def check_words(life: dict) -> str | None:
    """What the last "re-check now" said."""
    if not life.get("check_result"):
        return None
    verdict, _sep, reason = life["check_result"].partition(": ")
    said = {"healthy": _("the link is fine"), "gone": _("the link is gone"),
            "problem": _("still a problem"), "unknown": _("could not check")}.get(verdict, verdict)
    return f"{said}: {reason}" if reason else said


# ------------------------------------------------------------------------ chart

def trend_chart(rows: list) -> dict | None:
    """Geometry of the trend chart: per completed scan, bars for the problems found and
    those fixed since the scan before, and a line for the resolution rate (fixed among the
    problems ever found, ignored ones aside). ``None`` before the first completed scan."""
    rows = [row for row in rows if row.status == "completed"]
    if not rows:
        return None
    c = CHART
    plot_w, plot_h = c["width"] - c["left"] - c["right"], c["height"] - c["top"] - c["bottom"]
    top = max(max(max(r.problems_found, r.fixed_problems) for r in rows), 1)
    step = _nice_step(top)
    scale_max = step * -(-top // step)
    slot = plot_w / len(rows)
    bar = max(min(slot * 0.35, 24), 2)
    base = c["top"] + plot_h

    def y(value: float) -> float:
        return round(base - plot_h * value / scale_max, 1)

    # scans over a day or more: their dates; within a day: their times
    spread = rows[-1].scan_date - rows[0].scan_date
    label_format = "%m-%d" if spread.days >= 1 else "%H:%M"
    scans, points = [], []
    every = max(len(rows) // 10, 1)  # at most ~10 date labels
    for index, row in enumerate(rows):
        middle = c["left"] + slot * (index + 0.5)
        rate = row.resolution_rate
        point = None
        if rate is not None:
            point = (round(middle, 1), round(base - plot_h * rate, 1))
            points.append(point)
        scans.append({
            "date": row.scan_date.strftime("%Y-%m-%d %H:%M"), "label": row.scan_date.strftime(label_format),
            "show_label": index % every == 0 or index == len(rows) - 1, "x": round(middle, 1),
            "found": {"value": row.problems_found, "x": round(middle - bar, 1), "y": y(row.problems_found),
                      "h": round(base - y(row.problems_found), 1)},
            "fixed": {"value": row.fixed_problems, "x": round(middle, 1), "y": y(row.fixed_problems),
                      "h": round(base - y(row.fixed_problems), 1)},
            "rate": None if rate is None else round(rate * 100), "point": point,
            # a mount down or struggling during the scan: its counts say less
            "mounts": {"down": _("a mount was down"), "degraded": _("a mount was slow or briefly down")}
            .get(row.mount_health)})
    last = rows[-1]
    return {**c, "bar": round(bar, 1), "base": base, "plot_right": c["width"] - c["right"], "scans": scans,
            "ticks": [{"value": v, "y": y(v)} for v in range(0, scale_max + 1, step)],
            "rate_ticks": [{"value": v, "y": round(base - plot_h * v / 100, 1)} for v in (0, 50, 100)],
            "line": " ".join(f"{x},{py}" for x, py in points),
            "last_rate": None if last.resolution_rate is None else round(last.resolution_rate * 100),
            "last_resolved": last.resolved_problems, "last_tracked": last.tracked_problems}


def _nice_step(top: int) -> int:
    """An axis step (1, 2, 5, 10, 20, 50...) giving at most 5 ticks above zero."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if top / (step * factor) <= 5:
                return step * factor
        step *= 10


# ------------------------------------------------------------------------ context

async def lives_for(session, paths: list[str]) -> dict[str, dict]:
    """The life of each of these problem paths (for the Scanner's results)."""
    found = await lifecycle.lives_by_path(session, paths)
    return {path: {**life.as_dict(), "story": life_story(life.as_dict()), "check": check_words(life.as_dict())}
            for path, life in found.items()}


async def dashboard_context(state: str = "open", page: int = 1) -> dict:
    state = state if state in LIFE_STATES else "open"
    async with toolkit().sessions() as session:
        counts = await lifecycle.state_counts(session)
        listed = await lifecycle.lives_page(session, state=None if state == "open" else state, page=page,
                                            per_page=20)
        trends = await lifecycle.trend_rows(session, TREND_SCANS)
    for life in listed["items"]:
        life["story"], life["check"] = life_story(life), check_words(life)
    return {"media_path": (await settings_of(toolkit())).media_path, "life_counts": counts,
            "open_count": sum(counts[s] for s in ("new", "seen", "back")),
            "lives": listed, "life_state": state, "life_states": LIFE_STATES, "chart": trend_chart(trends)}


# ------------------------------------------------------------------------ API

@lives_api.get("/lives")
@query(LivesQuery)
async def lives_list(query: LivesQuery):
    """Problems across scans: ``?state=open|new|seen|back|ignored|retargeted|deleted|researched|fixed``
    (default ``open``: new, seen again and coming back), ``page``, ``per_page``."""
    async with toolkit().sessions() as session:
        answer = await lifecycle.lives_page(session, state=None if query.state == "open" else query.state,
                                            page=query.page, per_page=query.per_page)
        answer["counts"] = await lifecycle.state_counts(session)
    return answer


@lives_api.post("/lives/<int:life_id>/recheck")
async def lives_recheck(life_id: int):
    """Re-check one problem's link now with the scan's checks; its life moves on (fine or
    gone: ``fixed``). ``verdict``: healthy, gone, problem, unknown (could not check)."""
    return await recheck.recheck_life(toolkit(), life_id, small_files=(await settings_of(toolkit())).small_files)


@lives_api.post("/lives/<int:life_id>/fixed")
async def lives_fixed(life_id: int):
    """Mark one problem fixed by hand (a later scan that finds it again says ``back``)."""
    return await recheck.mark_fixed(toolkit(), life_id)


@lives_api.get("/trends")
@query(TrendsQuery)
async def trends(query: TrendsQuery):
    """One row per finished scan, oldest first (``?limit=``, default 30): counts per status,
    new, fixed, coming back, resolution rate, deleted, repaired, duration, mount health."""
    async with toolkit().sessions() as session:
        rows = await lifecycle.trend_rows(session, query.limit)
    return {"items": [row.as_dict() for row in rows]}


# ------------------------------------------------------------------------ page fragments

@lives_pages.get("/symlink/lives")
async def lives_fragment():
    try:
        page, _per_page = parse_page(request.args)
    except PluginError as exc:
        return await fragment("symlink/_error.html", message=exc.message)
    return await fragment("symlink/_lives.html", **await dashboard_context(request.args.get("state", "open"), page))


@lives_pages.post("/symlink/lives/<int:life_id>/<action>")
async def life_action_fragment(life_id: int, action: str):
    """Re-check or mark fixed, then the life's cell again (Scanner and Dashboard alike)."""
    try:
        if action == "recheck":
            life = await recheck.recheck_life(toolkit(), life_id,
                                              small_files=(await settings_of(toolkit())).small_files)
        elif action == "fixed":
            life = await recheck.mark_fixed(toolkit(), life_id)
        else:
            raise PluginError(404, f"no action {action!r}")
    except PluginError as exc:
        return await fragment("symlink/_error.html", message=exc.message)
    life["story"], life["check"] = life_story(life), check_words(life)
    return await fragment("symlink/_life.html", life=life, just_checked=action == "recheck",
                          headers={"HX-Trigger": "symlink-life-changed"})
