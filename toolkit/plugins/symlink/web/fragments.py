"""What the page ``/symlink`` and its fragments share: the blueprint (templates, static
files), the template filters, and the answer that sets ``Vary: HX-Request``.

One URL serves the whole page or, for an htmx request, only the active tab's panel; the tab
is in the URL (``?tab=scanner``) so reload and the back button work. Fragments call the
same service functions as the JSON API; errors are shown in place. Progress polls every
second and stops with HTTP 286 (:data:`STOP_POLLING`).
"""
from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Response, render_template, request

from toolkit.api import gettext as _

from ..service import schedules
from ..service.reasons import reason_text

HERE = Path(__file__).resolve().parent
STOP_POLLING = 286
pages = Blueprint("symlink_pages", __name__, template_folder=str(HERE / "templates"),
                  static_folder=str(HERE / "static"), static_url_path="/symlink/static")


@pages.app_template_filter("seconds")
def human_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 0.1:
        return "< 0.1 s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min {seconds:02d} s"


@pages.app_template_filter("word")
def word(value: str | None) -> str:
    """The words for the codes a page shows: modes, depths, scan and job states."""
    words = {"dry-run": _("dry run"), "real": _("real"), "basic": _("basic"), "full": _("full"),
             "deep": _("deep"), "queued": _("queued"), "running": _("running"),
             "cancelling": _("cancelling"), "completed": _("completed"), "cancelled": _("cancelled"),
             "error": _("error"), "interrupted": _("interrupted"), "failed": _("failed"),
             "succeeded": _("succeeded")}
    return words.get(value or "", value or "")


# the engine's English reasons (a link's, a stopped scan's, a held-back deletion's) as read
pages.app_template_filter("reason")(reason_text)


@pages.app_template_filter("when")
def describe(cron: str) -> str:
    """A schedule's time in words (``schedules.describe``, in the page's language)."""
    form = schedules.form_values(cron)
    if form["frequency"] == "daily":
        return _("daily at %(time)s", time=form["time"])
    if form["frequency"] == "weekly":
        day = (_("Sunday"), _("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"),
               _("Saturday"))[int(form["weekday"])]
        return _("weekly on %(day)s at %(time)s", day=day, time=form["time"])
    return _("cron %(expression)s", expression=cron)


@pages.app_template_filter("under")
def relative_to(path: str, root: str | None) -> str:
    """A link's path as shown in tables: relative to the media path (full path in details)."""
    if root and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1:]
    return path


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and \
        request.headers.get("HX-History-Restore-Request") != "true"


async def fragment(template: str, status: int = 200, headers: dict | None = None, **context) -> Response:
    response = Response(await render_template(template, **context), status=status)
    response.headers["Vary"] = "HX-Request"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
