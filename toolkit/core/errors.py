"""The error a plugin raises to answer a request with an HTTP error, and the base of the
core's "these fields are wrong" errors.

It lives in the core (not in the web layer) so that service code raises it without
importing web types; the web app turns it into ``{"error": {status, code, message,
fields?}}`` with that status.
"""
from __future__ import annotations

DEFAULT_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict",
                 422: "invalid"}


class PluginError(Exception):
    """``PluginError(404, "no plan 12")``: the web layer answers with ``status``, a short
    machine-readable ``code`` (derived from the status unless given), the ``message`` and,
    for invalid input, ``fields`` mapping a field name to its message. ``extra`` keys are
    added to the error object."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 fields: dict | None = None, **extra):
        super().__init__(message)
        self.status, self.message, self.fields, self.extra = status, message, fields, extra
        self.code = code or DEFAULT_CODES.get(status, "error")


class FieldsError(ValueError):
    """Input refused field by field: ``fields`` maps a (dotted) field name to its message.
    The base of :class:`~toolkit.core.settings.SettingsError` and
    :class:`~toolkit.core.schedule.ScheduleError`; the web layer answers both with 422."""

    def __init__(self, fields: dict[str, str]):
        self.fields = fields
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
