"""An OpenAPI 3.1 document built from the app's URL map: every ``/api/`` rule, its methods and
the first docstring line of its view as summary. Plugins' endpoints appear without extra work."""
from __future__ import annotations

import re

from quart import Quart

from toolkit import __version__

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "required": ["status", "code", "message"],
                             "properties": {"status": {"type": "integer"},
                                            "code": {"type": "string"},
                                            "message": {"type": "string"},
                                            "fields": {"type": "object"}}}},
}


def _path(rule: str) -> tuple[str, list[str]]:
    params = re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule)
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule), params


def openapi_document(app: Quart) -> dict:
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/"):
            continue
        path, params = _path(rule.rule)
        view = app.view_functions[rule.endpoint]
        doc = (view.__doc__ or "").strip()
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": doc.splitlines()[0] if doc else rule.endpoint,
                "tags": [rule.endpoint.split(".")[0]],
                "parameters": [{"name": p, "in": "path", "required": True,
                                "schema": {"type": "string"}} for p in params],
                "responses": {
                    "200": {"description": "OK",
                            "content": {"application/json": {"schema": {}}}},
                    "default": {"description": "Error",
                                "content": {"application/json": {
                                    "schema": {"$ref": "#/components/schemas/Error"}}}},
                },
            }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Redriva Toolkit API", "version": __version__},
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }
