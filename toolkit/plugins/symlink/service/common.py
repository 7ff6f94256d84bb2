"""What every part of the symlink service layer shares: the plugin's settings, blocking
filesystem work off the event loop, and id checks."""
from __future__ import annotations

import asyncio

from toolkit.api import MAX_ID, PluginError, Toolkit
from toolkit.api import gettext as _

from ..settings import SymlinkOwnSettings

NAMESPACE = "symlink"
FS_TIMEOUT = 10.0


async def settings_of(tk: Toolkit) -> SymlinkOwnSettings:
    """The plugin's own settings (the Sonarr/Radarr connections are the host's: see
    :mod:`.arr_fields`)."""
    return await tk.settings.get(NAMESPACE)


async def off_loop(fn, *args, timeout: float = FS_TIMEOUT):
    """Blocking filesystem work in a thread, with a deadline (a hung mount must not hang us)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args), timeout)
    except asyncio.TimeoutError:
        raise PluginError(503, _("the filesystem did not answer within %(seconds)s s", seconds=f"{timeout:g}")) from None


def is_id(value: object) -> bool:
    """A row id the database can hold (a larger integer would be a 500 there)."""
    return type(value) is int and 1 <= value <= MAX_ID
