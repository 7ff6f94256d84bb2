"""One JSON error shape for every ``/api/`` answer:
``{"error": {"status": 422, "code": "invalid", "message": "...", "fields": {...}}}``."""
from __future__ import annotations

from quart import Quart, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from toolkit.core.errors import PluginError
from toolkit.core.jobs import JobError
from toolkit.core.schedule import ScheduleError
from toolkit.core.settings import SettingsError
from toolkit.web.i18n import N_, say
from toolkit.web.i18n import gettext as _

# werkzeug's answers for what a client gets wrong, in a few words of our own (its long English
# descriptions cannot be translated: they are not in our catalog)
HTTP_MESSAGES = {400: N_("bad request"), 401: N_("not logged in"), 403: N_("forbidden"),
                 404: N_("not found"), 405: N_("method not allowed"),
                 413: N_("the request is too large"), 415: N_("unsupported media type"),
                 429: N_("too many requests")}


class ApiError(PluginError):
    """The host's name for :class:`toolkit.core.errors.PluginError` (same arguments)."""


def error_response(status: int, message: str, code: str, fields: dict | None = None, **extra):
    """The JSON error; ``message`` and the field messages in the request's language (those
    made in English elsewhere, marked ``N_`` or pydantic's usual ones, are translated here;
    ``code`` and the field names stay as they are: programs read them)."""
    body = {"status": status, "code": code, "message": say(message), **extra}
    if fields:
        body["fields"] = {name: say(text) if isinstance(text, str) else text
                          for name, text in fields.items()}
    response = jsonify({"error": body})
    response.status_code = status
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(PluginError)
    async def _api_error(exc: PluginError):
        return error_response(exc.status, exc.message, exc.code, exc.fields, **exc.extra)

    @app.errorhandler(SettingsError)
    async def _settings_error(exc: SettingsError):
        return error_response(422, _("invalid settings"), "invalid", exc.fields)

    @app.errorhandler(ScheduleError)
    async def _schedule_error(exc: ScheduleError):
        return error_response(422, _("invalid schedule"), "invalid", exc.fields)

    @app.errorhandler(JobError)
    async def _job_error(exc: JobError):
        extra = {"job_id": exc.job_id} if hasattr(exc, "job_id") else {}
        code = {404: "not_found", 409: "already_running", 422: "invalid"}.get(exc.status,
                                                                               "bad_request")
        return error_response(exc.status, str(exc), code, getattr(exc, "fields", None), **extra)

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException):
        if not wants_json():
            if exc.code == 404:
                return await error_page(404, _("Page not found"),
                                        _("There is no page at %(path)s.", path=request.path))
            return exc
        default = exc.description == type(exc).description  # werkzeug's own words
        message = _(HTTP_MESSAGES[exc.code]) if default and exc.code in HTTP_MESSAGES else \
            exc.description or exc.name
        return error_response(exc.code or 500, message, exc.name.lower().replace(" ", "_"))

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        if not wants_json():
            return await error_page(500, _("Something went wrong"),
                                    _("The toolkit could not do this; the details are in its log."))
        return error_response(500, _("internal error"), "internal")


async def error_page(status: int, title: str, message: str):
    """An error as a page of the toolkit (its layout and menu), not the server's bare text."""
    try:
        return await render_template("toolkit/error.html", title=title, message=message), status
    except Exception:  # the layout itself failed: plain text still tells what happened
        return f"{title}: {message}", status
