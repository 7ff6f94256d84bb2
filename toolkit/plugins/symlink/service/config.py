"""The plugin's settings as the API and the page save and show them (with the host's
Sonarr/Radarr connections, :mod:`.arr_fields`): a media path is checked on the filesystem
before it is saved."""
from __future__ import annotations

from pydantic import ValidationError

from toolkit.api import MASK, SettingsError, Toolkit, field_errors, public_settings

from ..settings import SymlinkSettings, check_media_path
from . import arr_fields
from .common import NAMESPACE, off_loop, settings_of
from .directories import link_counter


async def save_config(tk: Toolkit, changes: dict):
    """Validate and save; ``media_path`` must exist, be a folder and be readable when it
    changes. Raises ``SettingsError`` (422) and saves nothing when any field is wrong."""
    if not isinstance(changes, dict):
        raise SettingsError({"__root__": "expected a JSON object"})
    current = await settings_of(tk)  # the plugin's own settings: the media path
    media_error = None
    if "media_path" in changes and isinstance(changes["media_path"], str):
        try:
            candidate = type(current).model_validate(
                {"media_path": changes["media_path"]}).media_path
        except ValidationError:
            candidate = None  # the model's own message comes from update() below
        if candidate and candidate != current.media_path:
            media_error = await off_loop(check_media_path, candidate)
    if media_error:
        # refuse the whole change, with every other field's message too, before any write
        fields = {}
        candidate_values = {k: v for k, v in changes.items() if v != MASK}
        try:
            SymlinkSettings.model_validate({**current.model_dump(), **candidate_values})
        except ValidationError as exc:
            fields = field_errors(exc)
        raise SettingsError({**fields, "media_path": media_error})
    settings = await arr_fields.save(tk, changes)
    if settings.media_path != current.media_path:
        link_counter(tk).invalidate()
    return settings


async def config_body(tk: Toolkit, settings=None) -> dict:
    if settings is None:
        await tk.settings.ensure_defaults(NAMESPACE)
        settings = await arr_fields.load(tk)
    variables = arr_fields.env_variables(tk)
    return {**public_settings(settings), "overridden_by_env": sorted(variables), "env_variables": variables,
            "media_path_problem": await off_loop(check_media_path, settings.media_path)}
