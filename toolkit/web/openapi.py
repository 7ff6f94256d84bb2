"""An OpenAPI 3.1 document built from the app's URL map: every ``/api/`` rule, its methods and
the first docstring line of its view as summary. Plugins' endpoints appear without extra work;
the request bodies, query strings and extra statuses declared with
:mod:`toolkit.web.validation` are described from the same pydantic models that check them."""
from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from quart import Quart
from werkzeug.routing.converters import IntegerConverter, NumberConverter, UnicodeConverter

from toolkit import __version__
from toolkit.web.auth import PUBLIC_ENDPOINTS

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "required": ["status", "code", "message"],
                             "properties": {"status": {"type": "integer"},
                                            "code": {"type": "string"},
                                            "message": {"type": "string"},
                                            "fields": {"type": "object"}}}},
}


SECURITY_SCHEMES = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key",
               "description": "The API key shown on the Account page "
                              "(redriva-toolkit auth api-key)"},
    "session": {"type": "apiKey", "in": "cookie", "name": "redriva_toolkit_session",
                "description": "The session cookie the login page gives"},
}
DEFAULT_SECURITY = [{"apiKey": []}, {"session": []}]


def _path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _path_parameter(name: str, converter: Any) -> dict:
    schema: dict[str, Any] = {"type": "string"}
    if isinstance(converter, NumberConverter):
        schema = {"type": "integer" if isinstance(converter, IntegerConverter) else "number",
                  "minimum": converter.min if converter.min is not None else 0}
        if converter.max is not None:
            schema["maximum"] = converter.max
    elif isinstance(converter, UnicodeConverter):
        schema["minLength"] = 1
        schema["pattern"] = "^[^/]+$"
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _model_schema(model: type, components: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    return schema


def _query_parameters(model: type, components: dict) -> list[dict]:
    schema = _model_schema(model, components)
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required, "schema": field}
            for name, field in schema.get("properties", {}).items()]


def _responses(declared: tuple[int, ...], array: bool, error: dict) -> dict:
    """200 (or the success statuses the view declares, 201/202) with a JSON object (or
    array), the error statuses it declares, and the error shape for every other answer."""
    success = [status for status in declared if status < 400] or [200]
    ok = {"content": {"application/json": {"schema": {"type": "array" if array else "object"}}}}
    return {**{str(status): {"description": HTTPStatus(status).phrase, **ok} for status in success},
            **{str(status): error for status in declared if status >= 400},
            "default": error}


def openapi_document(app: Quart) -> dict:
    paths: dict[str, dict] = {}
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    error = {"description": "Error",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        doc = (view.__doc__ or "").strip()
        parameters = [_path_parameter(name, converter)
                      for name, converter in rule._converters.items()]
        if getattr(view, "openapi_query", None):
            parameters += _query_parameters(view.openapi_query, components)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": doc.splitlines()[0] if doc else rule.endpoint,
                "tags": [rule.endpoint.split(".")[0]],
                "parameters": parameters,
                "responses": _responses(getattr(view, "openapi_statuses", ()),
                                        getattr(view, "openapi_array", False), error),
            }
            if getattr(view, "openapi_body", None):
                operation["requestBody"] = {
                    "required": not getattr(view, "openapi_body_optional", False),
                    "content": {"application/json": {
                    "schema": _model_schema(view.openapi_body, components)}}}
            if rule.endpoint in PUBLIC_ENDPOINTS:  # answers without credentials too
                operation["security"] = [{}, *DEFAULT_SECURITY]
            paths.setdefault(_path(rule.rule), {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Redriva Toolkit API", "version": __version__},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
        "security": DEFAULT_SECURITY,
    }
