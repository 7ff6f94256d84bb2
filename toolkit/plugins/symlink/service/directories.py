"""The folder picker's side: one level of the media path's tree with each folder's link
count, counted in the background and cached (one counter per running toolkit)."""
from __future__ import annotations

import os

from toolkit.api import PluginError, Toolkit
from toolkit.api import gettext as _

from ..engine.directories import LinkCounter, list_subdirs, node
from ..settings import check_media_path
from .common import off_loop, settings_of
from .paths import resolve_under_media

COUNTER_SERVICE = "symlink_counter"


def link_counter(tk: Toolkit) -> LinkCounter:
    counter = tk.services.get(COUNTER_SERVICE)
    if counter is None:
        counter = tk.services[COUNTER_SERVICE] = LinkCounter()
    return counter


async def directory_level(tk: Toolkit, relative: str) -> dict:
    settings = await settings_of(tk)
    media = settings.media_path
    problem = await off_loop(check_media_path, media)
    if problem:
        raise PluginError(404, _("media path %(path)s: %(problem)s", path=media, problem=_(problem)), code="media_path")
    try:
        path = await off_loop(resolve_under_media, media, relative or media)
    except ValueError as exc:
        raise PluginError(400, str(exc)) from None
    try:
        names, truncated = await off_loop(list_subdirs, path)
    except OSError as exc:
        raise PluginError(404, _("cannot list %(path)s: %(error)s", path=path, error=exc.strerror or exc)) from None
    counter = link_counter(tk)
    body = node(counter, media, path)
    body["subdirs"] = [node(counter, media, os.path.join(path, name)) for name in names]
    body["truncated"] = truncated
    body["media_path"] = media
    return body


def expected_links(tk: Toolkit, paths: list[str]) -> int | None:
    """The cached counts of the chosen folders, for a phase-1 progress bar."""
    counter = link_counter(tk)
    counts = [counter.cached(os.path.normpath(p)) for p in paths if os.path.isabs(p)]
    if not counts or any(c is None or c < 0 for c in counts):
        return None
    return sum(counts)  # type: ignore[arg-type]
