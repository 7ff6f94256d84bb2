"""The whole HTTP API under Schemathesis, driven by the app's own OpenAPI document: every
operation gets generated requests, valid and invalid ones (bounded examples), and no answer may be a server error
the document does not declare, nor differ from the document (status code, content type,
body schema)."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, response_schema_conformance,
                                 status_code_conformance)

from fakes.library import build_library

from toolkit.testing import AUTH_HEADERS

MAX_EXAMPLES = int(os.environ.get("TOOLKIT_FUZZ_EXAMPLES", "20"))  # valid requests; half as many invalid


@pytest.fixture
def fuzz_env(tmp_path, monkeypatch):
    """A small library as the media path and no notification URL, both fixed by the
    environment so that what the generated requests save cannot point the app elsewhere
    (a scan of '/', a message to a random address)."""
    library = build_library(tmp_path / "library", shows=2, episodes=3)
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(library.media))
    monkeypatch.setenv("TOOLKIT_NOTIFY__URLS", "")
    return library


@schemathesis.check
def no_undeclared_status(ctx, response, case):
    """A 5xx is a failure unless the operation declares that status (a service the app
    depends on is down: 502/503), never because of the request's content; a success is
    the one the document names (200, or the 201/202 the operation declares)."""
    status = response.status_code
    if (status >= 500 or 200 <= status < 300) and \
            str(status) not in case.operation.definition.raw.get("responses", {}):
        raise AssertionError(f"{case.method} {case.path} answered {status}: {response.text[:300]}")


CHECKS = [no_undeclared_status, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def test_every_operation_answers_as_documented_and_never_with_a_server_error(fuzz_env, toolkit_server):
    schema = schemathesis.openapi.from_url(f"{toolkit_server}/api/toolkit/openapi.json",
                                           headers=AUTH_HEADERS)
    failures, operations = {}, 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        modes = [(GenerationMode.POSITIVE, MAX_EXAMPLES)]
        if operation.body or operation.query:  # something a client can get wrong
            modes.append((GenerationMode.NEGATIVE, max(MAX_EXAMPLES // 2, 1)))
        for mode, examples in modes:

            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(mode))
            def exercise(case):
                case.call_and_validate(checks=CHECKS, headers=AUTH_HEADERS)

            try:
                exercise()
            except (Exception, BaseExceptionGroup) as exc:  # every operation is tried
                failures[f"{operation.label} ({mode.value})"] = f"{type(exc).__name__}: {exc}"[:2000]
    assert operations > 30  # the document lists the core's and the symlink plugin's routes
    assert not failures, "\n\n".join(f"{label}\n{error}" for label, error in failures.items())


async def test_bodies_that_are_not_utf8_json_objects_are_a_400_everywhere(toolkit_app, toolkit_client):
    from toolkit.web.openapi import openapi_document

    document = openapi_document(toolkit_app)
    posts = [path for path, operations in document["paths"].items()
             if "requestBody" in operations.get("post", {})]
    assert len(posts) >= 12
    for path in posts:
        url = path.replace("{", "").replace("}", "")  # any value for a path parameter
        for raw in (b"\xff\xfe{", b'{"a": "\xc3\x28"}', b"[1, 2]", b"not json"):
            response = await toolkit_client.post(url, data=raw, headers={"Content-Type": "application/json"})
            assert response.status_code == 400, (path, raw, response.status_code)
            assert (await response.get_json())["error"]["message"] == "expected a JSON object body"


@pytest.mark.parametrize(("method", "url", "json", "field"), [
    ("delete", f"/api/symlink/ignores/{2**63}", None, None),
    ("get", f"/api/symlink/deletions?page={2**63}", None, "query.page"),
    ("get", "/api/symlink/deletions?per_page=-1", None, "query.per_page"),
    ("get", f"/api/toolkit/jobs?limit={2**64}", None, "query.limit"),
    ("post", "/api/symlink/ignores", {"problem_id": 2**63}, "body.problem_id"),
    ("post", "/api/symlink/ignores", {"path": "/x", "note": {"an": "object"}}, "body.note"),
    ("post", "/api/symlink/ignores", {"path": "/x", "note": "n" * 501}, "body.note"),
    ("post", "/api/symlink/restore", {"journal_ids": [2**63]}, "body.journal_ids.0"),
    ("post", "/api/symlink/restore", {"scan_id": ""}, None),
    ("post", "/api/symlink/scans/x/delete", {"ids": [2**70]}, "body.ids.0"),
    ("post", "/api/symlink/test/services", {"services": [[]]}, "body.services.0"),
    ("post", "/api/symlink/scan/start", {"paths": ["a" * 5000]}, "body.paths.0"),
    ("post", "/api/toolkit/schedules", {"name": "x", "task": "symlink:scan", "cron": "daily",
                                        "params": "abc"}, "body.params"),
])
async def test_out_of_range_or_wrong_input_is_refused_with_the_field_named(toolkit_client, method, url, json, field):
    response = await getattr(toolkit_client, method)(url, json=json)
    assert 400 <= response.status_code < 500, await response.get_data(as_text=True)
    if field:
        assert field in (await response.get_json())["error"]["fields"]
