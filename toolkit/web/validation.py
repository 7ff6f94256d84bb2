"""Request bodies and query strings checked against pydantic models, and what the OpenAPI
document says of them (from the same models).

``@body(Model)`` reads the request's JSON object (not valid UTF-8 JSON: 400) into ``Model``
(wrong types, numbers out of range, oversized strings: 422 naming each field) and passes it
to the view as ``body``; ``@query(Model)`` does the same for the query string (``query``).
``@declares(202, 503, ...)`` lists the statuses a view may answer besides 200 and the 4xx
every route may answer (a success status other than 200 replaces 200). Only the HTTP layer uses these; the functions behind it take plain dicts.
"""
from __future__ import annotations

import functools
import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from quart import request

from toolkit.core.db import MAX_ID  # SQLite's INTEGER
from toolkit.web.errors import ApiError
from toolkit.web.i18n import gettext as _, say

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Note = Annotated[str, Field(max_length=500)]  # notes stay short (scans.MAX_NOTE)
Name = Annotated[str, Field(max_length=200)]
PathText = Annotated[str, Field(max_length=4096)]


def field_messages(exc: ValidationError, prefix: str) -> dict[str, str]:
    # pydantic's English, in the request's language (say() knows its usual messages)
    return {".".join([prefix, *map(str, err["loc"])]): say(err["msg"].removeprefix("Value error, "))
            for err in exc.errors()}


class AnyObject(BaseModel):
    """A JSON object whose keys the view checks itself (a plugin's settings)."""

    model_config = ConfigDict(extra="allow")


async def json_object(*, optional: bool = False) -> dict:
    """The request's JSON object, or a clear 400 (not UTF-8, not JSON, not an object).
    ``optional``: an empty body is ``{}``."""
    raw = await request.get_data()
    if optional and not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):  # invalid UTF-8 is a client's error too
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, _("expected a JSON object body"))
    return data


def _validated(model: type[BaseModel], data: Any, prefix: str, status: int) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = field_messages(exc, prefix)
        raise ApiError(status, _("invalid %(fields)s", fields=", ".join(fields)), fields=fields) from None


def body(model: type[BaseModel], *, optional: bool = False):
    def decorate(view):
        @functools.wraps(view)
        async def wrapper(*args, **kwargs):
            data = await json_object(optional=optional)
            return await view(*args, body=_validated(model, data, "body", 422), **kwargs)

        wrapper.openapi_body = model
        wrapper.openapi_body_optional = optional
        return wrapper

    return decorate


def query(model: type[BaseModel]):
    def decorate(view):
        @functools.wraps(view)
        async def wrapper(*args, **kwargs):
            return await view(*args, query=_validated(model, request.args.to_dict(), "query", 400),
                              **kwargs)

        wrapper.openapi_query = model
        return wrapper

    return decorate


def declares(*statuses: int, array: bool = False):
    """Statuses a view answers besides the 4xx of every route: its success status when it
    is not 200 (201, 202), and those it answers when something outside the request fails
    (502, 503). ``array``: its success body is a JSON array (else an object)."""
    def decorate(view):
        view.openapi_statuses = statuses
        view.openapi_array = array
        return view

    return decorate
