"""The symlink settings as the page and the seed's JSON API show them: the plugin's own
``symlink`` namespace plus the host's Sonarr/Radarr connections (the ``sonarr`` and ``radarr``
namespaces every plugin shares) in the seed's flat ``<kind>_enabled/_host/_port/_api_key``
fields. Reading joins them; saving splits a change and checks every part before writing any.
"""
from __future__ import annotations

from pydantic import ValidationError

from toolkit.api import MASK, SettingsError, Toolkit, field_errors

from ..settings import ConnectionFields, SymlinkSettings

NAMESPACE = "symlink"
KINDS = ("sonarr", "radarr")
FIELDS = frozenset(ConnectionFields.model_fields)
# the host setting behind each flat field
_HOST_FIELD = {"enabled": "enabled", "host": "url", "port": "url", "api_key": "api_key"}


async def load(tk: Toolkit) -> SymlinkSettings:
    """The joined settings (environment overrides of both sides applied)."""
    values = dict(await tk.settings.get(NAMESPACE))
    for kind in KINDS:
        arr = await tk.settings.get(kind)
        values.update({f"{kind}_enabled": arr.enabled, f"{kind}_host": arr.host,
                       f"{kind}_port": arr.port, f"{kind}_api_key": arr.api_key})
    # both sides were validated by their own models when read
    return SymlinkSettings.model_construct(**values)


def env_variables(tk: Toolkit) -> dict[str, str]:
    """Each shown field an environment variable sets, with that variable's name
    (``sonarr_host`` and ``sonarr_port`` come from ``TOOLKIT_SONARR__URL``)."""
    names = {name: f"TOOLKIT_SYMLINK__{name.upper()}" for name in tk.settings.overridden(NAMESPACE)}
    for kind in KINDS:
        for field in tk.settings.overridden(kind):
            for shown, host_field in _HOST_FIELD.items():
                if host_field == field:
                    names[f"{kind}_{shown}"] = f"TOOLKIT_{kind.upper()}__{field.upper()}"
    return names


async def save(tk: Toolkit, changes: dict) -> SymlinkSettings:
    """Validate ``changes`` and save them, the connections into the host's settings; raises
    :class:`SettingsError` naming the seed's fields, and saves nothing, when any is wrong."""
    if not isinstance(changes, dict):
        raise SettingsError({"__root__": "expected a JSON object"})
    own = {k: v for k, v in changes.items() if k not in FIELDS}
    flat = {k: v for k, v in changes.items() if k in FIELDS}
    errors: dict[str, str] = {}
    try:  # the form of each value, with the page's messages (the mask means "keep the key")
        shown = ConnectionFields(**{k: ("" if v == MASK else v) for k, v in flat.items()})
    except ValidationError as exc:
        errors.update(field_errors(exc))
        shown = None
    host_changes: dict[str, dict] = {}
    if shown is not None:
        for kind in KINDS:
            host_changes[kind] = await _host_change(tk, kind, flat, shown)
    checks = [(NAMESPACE, own, {})] + [
        (kind, change, {v: f"{kind}_{k}" for k, v in _HOST_FIELD.items() if k != "port"})
        for kind, change in host_changes.items()]
    for namespace, change, names in checks:
        try:
            await tk.settings.validate(namespace, change)
        except SettingsError as exc:
            errors.update({names.get(k, k): v for k, v in exc.fields.items()})
    if errors:
        raise SettingsError(errors)
    for namespace, change, _names in checks:
        if change or namespace == NAMESPACE:  # the plugin's own row is stored with defaults
            await tk.settings.update(namespace, change)
    return await load(tk)


async def _host_change(tk: Toolkit, kind: str, flat: dict, shown: ConnectionFields) -> dict:
    """The host setting's change for ``kind``'s flat fields: host and port edit the URL
    (keeping its scheme and URL base), so moving the server drops the stored key unless a
    new one comes with it (the host's rule for bound secrets)."""
    current = await tk.settings.get(kind)
    change: dict = {}
    if f"{kind}_enabled" in flat:
        change["enabled"] = getattr(shown, f"{kind}_enabled")
    host = getattr(shown, f"{kind}_host") if f"{kind}_host" in flat else current.host
    port = getattr(shown, f"{kind}_port") if f"{kind}_port" in flat else current.port
    if (host, port) != (current.host, current.port):
        change["url"] = current.url_with(host, port) if host else ""
    if f"{kind}_api_key" in flat:
        key = flat[f"{kind}_api_key"]
        change["api_key"] = key if key == MASK else getattr(shown, f"{kind}_api_key").get_secret_value()
    return change
