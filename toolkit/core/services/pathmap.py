"""Path mappings between what the toolkit sees and what an *arr sees.

The toolkit may run on the host (``/srv/media/tv/...``) while Sonarr runs in a container
(``/tv/...``), or even on Windows (``D:\\TV\\...``). A mapping swaps one prefix for the
other. Prefixes match whole path components only: ``/tv/Show`` covers ``/tv/Show/x.mkv``
but never ``/tv/Show 2/x.mkv``.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _separator(path: str) -> str:
    """Windows paths (``C:\\...`` or ``\\\\server\\share``) use backslashes."""
    return "\\" if "\\" in path and "/" not in path else "/"


def _strip_trailing(path: str) -> str:
    sep = _separator(path)
    stripped = path.rstrip(sep)
    return stripped if stripped else sep  # keep "/" itself


def is_under(path: str, folder: str) -> bool:
    """True when ``path`` equals ``folder`` or lies below it (component-wise).

    Windows-style folders compare case-insensitively, as their file systems do.
    """
    folder = _strip_trailing(folder)
    sep = _separator(folder)
    if sep == "\\":
        path, folder = path.lower(), folder.lower()
    if folder == sep:
        return path.startswith(sep)
    return path == folder or path.startswith(folder + sep)


def _replace_prefix(path: str, old: str, new: str) -> str:
    """Swap prefix ``old`` of ``path`` (already known to match) for ``new``, converting
    the separators of the remainder to the style of ``new``."""
    old, new = _strip_trailing(old), _strip_trailing(new)
    parts = [p for p in path[len(old):].split(_separator(old)) if p]
    sep = _separator(new)
    if not parts:
        return new
    return new.rstrip(sep) + sep + sep.join(parts)


class PathMapping(BaseModel):
    """One prefix pair: ``toolkit_prefix`` (as the toolkit sees it) ↔ ``arr_prefix``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    toolkit_prefix: str = Field(..., min_length=1, description="e.g. /data/media/tv")
    arr_prefix: str = Field(..., min_length=1, description="e.g. /tv")

    @field_validator("toolkit_prefix")
    @classmethod
    def _absolute_toolkit(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("/"):
            raise ValueError("the toolkit path must be absolute (start with /)")
        return _strip_trailing(value)

    @field_validator("arr_prefix")
    @classmethod
    def _absolute_arr(cls, value: str) -> str:
        value = value.strip()
        windows = len(value) >= 2 and value[1] == ":" or value.startswith("\\\\")
        if not (value.startswith("/") or windows):
            raise ValueError("the *arr path must be absolute (/tv, D:\\TV or \\\\server\\share)")
        return _strip_trailing(value)


class PathMapper:
    """Translate paths with the longest matching prefix; unmatched paths pass unchanged."""

    def __init__(self, mappings: Iterable[PathMapping | dict] = ()):
        parsed = [m if isinstance(m, PathMapping) else PathMapping.model_validate(m) for m in mappings]
        self.mappings: Sequence[PathMapping] = tuple(parsed)

    def _best(self, path: str, side: str) -> PathMapping | None:
        candidates = [m for m in self.mappings if is_under(path, getattr(m, side))]
        return max(candidates, key=lambda m: len(getattr(m, side)), default=None)

    def to_arr(self, toolkit_path: str) -> str:
        mapping = self._best(toolkit_path, "toolkit_prefix")
        if mapping is None:
            return toolkit_path
        return _replace_prefix(toolkit_path, mapping.toolkit_prefix, mapping.arr_prefix)

    def to_toolkit(self, arr_path: str) -> str:
        mapping = self._best(arr_path, "arr_prefix")
        if mapping is None:
            return arr_path
        return _replace_prefix(arr_path, mapping.arr_prefix, mapping.toolkit_prefix)


def parse_mappings_text(value: Any, *, example: str = "/path/in/the/server") -> Any:
    """Mappings written as text (a settings form, an environment variable): a JSON list, or
    ``/path/in/toolkit = /path/on/the/other/side`` pairs, one per line or separated by ``;``.
    Anything else (a list already) is returned as is. ``example``: the other side's path in
    the message of a pair without ``=`` (:class:`ValueError`)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    pairs = []
    for number, part in enumerate(text.replace("\n", ";").split(";"), start=1):
        if not part.strip():
            continue
        toolkit_prefix, separator, other_prefix = part.partition("=")
        if not separator:
            raise ValueError(f"mapping {number}: write /path/in/toolkit = {example}")
        pairs.append({"toolkit_prefix": toolkit_prefix.strip(), "arr_prefix": other_prefix.strip()})
    return pairs


def mappings_text(mappings: Iterable[dict], separator: str = "\n") -> str:
    """The text :func:`parse_mappings_text` reads back."""
    return separator.join(f"{m['toolkit_prefix']} = {m['arr_prefix']}" for m in mappings)
