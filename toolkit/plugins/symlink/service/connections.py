"""Sonarr/Radarr connections from the settings page: test them, find them through Docker
and save what Docker proposes."""
from __future__ import annotations

import asyncio

from pydantic import ValidationError

from toolkit.api import (DockerUnavailable, PluginError, ServiceError, Toolkit, arr_client,
                         detect_docker_services, field_errors)
from toolkit.api import gettext as _

from . import arr_fields
from .config import save_config


async def test_services(tk: Toolkit, which: list[str]) -> dict:
    """Test the enabled (or named) Sonarr/Radarr connections with the services layer:
    each answer says the version found, or why it failed."""
    settings = await arr_fields.load(tk)
    results = {}
    for kind in ("sonarr", "radarr"):
        if which and kind not in which:
            continue
        host, enabled = getattr(settings, f"{kind}_host"), getattr(settings, f"{kind}_enabled")
        if not host or not (enabled or which):
            results[kind] = {"ok": False, "reason": "not_configured",
                             "message": _("%(app)s is not configured: enable it and give its "
                                          "host and API key", app=kind.capitalize())}
            continue
        try:
            connection = (await tk.settings.get(kind)).connection(timeout=10)
            async with arr_client(tk, connection) as client:
                results[kind] = (await client.test_connection()).to_dict()
        except ServiceError as exc:
            results[kind] = {"ok": False, **exc.to_dict()}
        except ValidationError as exc:  # the connection model refused a value: say which
            results[kind] = {"ok": False, "reason": "invalid",
                             "message": "; ".join(field_errors(exc).values())}
        except ValueError as exc:
            results[kind] = {"ok": False, "reason": "invalid", "message": str(exc)}
    return results


async def detect_services() -> dict:
    """Proposals for Sonarr/Radarr found through Docker (keys masked); 503 with a clear
    message when Docker cannot be reached."""
    try:
        result = await asyncio.wait_for(asyncio.to_thread(detect_docker_services), 30)
    except DockerUnavailable as exc:
        raise PluginError(503, str(exc), code="docker_unavailable") from None
    except asyncio.TimeoutError:
        raise PluginError(503, _("Docker did not answer within 30 s"), code="docker_unavailable") from None
    body = result.to_dict()
    body["proposals"] = [p for p in body["proposals"] if p["kind"] in ("sonarr", "radarr")]
    return body


async def apply_detected(tk: Toolkit, container_id: str):
    """Save the connection Docker detection proposes for one container (detected again
    now, so the API key never travels through the browser)."""
    if not isinstance(container_id, str) or not container_id:
        raise PluginError(400, _("give the container_id of a detected service"))
    try:
        result = await asyncio.wait_for(asyncio.to_thread(detect_docker_services), 30)
    except (DockerUnavailable, asyncio.TimeoutError) as exc:
        raise PluginError(503, str(exc) or _("Docker did not answer"), code="docker_unavailable") from None
    # the full id only: a prefix could pick another container, and give it this one's key
    proposal = next((p for p in result.proposals if p.container_id == container_id
                     and p.kind.value in ("sonarr", "radarr")), None)
    if proposal is None or not proposal.host:
        raise PluginError(404, _("no usable Sonarr/Radarr proposal for container %(id)s", id=container_id))
    kind = proposal.kind.value
    changes: dict = {f"{kind}_enabled": True, f"{kind}_host": proposal.host}
    if proposal.port:
        changes[f"{kind}_port"] = proposal.port
    if proposal.api_key is not None:
        changes[f"{kind}_api_key"] = proposal.api_key.get_secret_value()
    return await save_config(tk, changes)
