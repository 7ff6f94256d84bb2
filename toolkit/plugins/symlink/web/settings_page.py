"""The settings tab's fragments: save the plugin's settings field by field, test and detect
Sonarr/Radarr, and the notification settings (the host's ``notify`` namespace)."""
from __future__ import annotations

from urllib.parse import urlsplit

from quart import Response, request

from toolkit.api import NOTIFY_NAMESPACE, PluginError, SettingsError, current_toolkit, parse_mappings_text, public_settings
from toolkit.api import gettext as _

from ..service.common import off_loop
from ..service import arr_fields
from ..service.config import save_config
from ..service.connections import apply_detected, detect_services, test_services
from ..settings import SymlinkSettings, check_media_path
from .fragments import fragment, pages


def _form_changes(form) -> tuple[dict, dict]:
    """The settings the form sends, and a message per field that cannot even be parsed."""
    changes: dict = {}
    errors: dict = {}
    for name, field in SymlinkSettings.model_fields.items():
        if name not in form:
            continue
        values = form.getlist(name)
        if field.annotation is bool:
            changes[name] = "true" in values or "on" in values
        elif name == "path_mappings":
            try:
                changes[name] = parse_mappings_text(values[-1], example="/path/in/sonarr")
            except ValueError as exc:
                errors[name] = str(exc)
        else:
            changes[name] = values[-1]
    return changes, errors


async def save_valid(changes: dict, errors: dict):
    """Save every valid field; a wrong one is reported and left out, so a field fixed or
    changed later is still saved while another still holds a mistake."""
    for _attempt in range(2):
        try:
            return await save_config(current_toolkit(), changes), errors
        except SettingsError as exc:
            for name, message in exc.fields.items():  # "path_mappings.0.arr_prefix" -> its field
                field = name.split(".")[0]
                errors[field] = f"{errors[field]}; {message}" if field in errors else message
            changes = {k: v for k, v in changes.items() if k not in errors}
    return await arr_fields.load(current_toolkit()), errors


@pages.post("/symlink/settings")
async def save_settings_fragment():
    form = await request.form
    changes, errors = _form_changes(form)
    settings, errors = await save_valid({k: v for k, v in changes.items() if k not in errors}, errors)
    # the warning under the media path follows the value just saved
    problem = await off_loop(check_media_path, settings.media_path)
    return await fragment("symlink/_save_state.html", errors=errors, values=public_settings(settings),
                          fields=SymlinkSettings.model_fields, changed=form.get("_changed"),
                          config={"media_path_problem": problem})


@pages.post("/symlink/settings/test/<kind>")
async def test_service_fragment(kind: str):
    if kind not in ("sonarr", "radarr"):
        return await fragment("symlink/_error.html", message=_("Unknown service."))
    try:
        result = (await test_services(current_toolkit(), [kind]))[kind]
    except PluginError as exc:
        result = {"ok": False, "message": exc.message}
    return await fragment("symlink/_service_test.html", kind=kind, result=result)


@pages.post("/symlink/settings/detect")
async def detect_fragment():
    try:
        found, error = await detect_services(), None
    except PluginError as exc:
        found, error = None, exc.message
    except Exception as exc:  # Docker answered something unexpected: say so, change nothing
        found, error = None, _("Docker detection failed: %(error)s", error=exc)
    return await fragment("symlink/_detect.html", found=found, error=error)



@pages.post("/symlink/settings/detect/apply")
async def apply_detected_fragment():
    form = await request.form
    try:
        await apply_detected(current_toolkit(), form.get("container_id", ""))
    except (PluginError, SettingsError) as exc:
        message = exc.message if isinstance(exc, PluginError) else str(exc)
        return await fragment("symlink/_error.html", message=message)
    return Response("", headers={"HX-Redirect": "/symlink?tab=settings"})


NOTIFY_FIELDS = ("urls", "on_problems", "on_deleted", "on_guard", "on_failure")


def url_hint(url: str) -> str:
    """A stored Apprise URL as shown: its scheme and host when the host is a name or an
    address; a host that is really a token (``tgram://<bot token>/...``) stays hidden."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    if not (host == "localhost" or "." in host):
        host, port = "…", ""
    return f"{parts.scheme}://{host}{port}/…"


async def notification_values() -> dict:
    tk = current_toolkit()
    settings = await tk.settings.get(NOTIFY_NAMESPACE)
    return {**public_settings(settings), "overridden_by_env": tk.settings.overridden(NOTIFY_NAMESPACE),
            "hints": [url_hint(line.strip()) for line in settings.urls.get_secret_value().splitlines()
                      if line.strip()]}


@pages.post("/symlink/settings/notifications")
async def save_notifications_fragment():
    form = await request.form
    changes: dict = {}
    for name in NOTIFY_FIELDS:
        if name in form:
            values = form.getlist(name)
            changes[name] = values[-1] if name == "urls" else "true" in values
    try:
        await current_toolkit().settings.update(NOTIFY_NAMESPACE, changes)
        errors: dict = {}
    except SettingsError as exc:
        errors = {name.split(".")[0]: message for name, message in exc.fields.items()}
    return await fragment("symlink/_notify_state.html", errors=errors, fields=("urls",))


@pages.post("/symlink/settings/notifications/test")
async def test_notification_fragment():
    result = await current_toolkit().notifier.send(
        "test", _("Redriva Toolkit: test"),
        _("Notifications work: scheduled scans will report here."), link="/symlink?tab=settings",
        force=True)
    return await fragment("symlink/_notify_test.html", result=result)
