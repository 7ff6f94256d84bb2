"""The folders a scan may cover: under the media path, also once every symlink is resolved.
Blocking (filesystem): call through :func:`.common.off_loop`."""
from __future__ import annotations

import os


def resolve_under_media(media_path: str, path: str) -> str:
    """Blocking. ``path`` (absolute, or relative to the media path) as an absolute path that
    lies under the media path, also once every symlink is resolved. Raises ``ValueError``."""
    if not isinstance(path, str) or not path.strip() or "\0" in path:
        raise ValueError("empty or invalid path")
    if ".." in path.replace("\\", "/").split("/"):
        raise ValueError(f"{path!r}: '..' is not allowed")
    media = os.path.normpath(media_path)
    candidate = os.path.normpath(path if os.path.isabs(path) else os.path.join(media, path))
    if candidate != media and not candidate.startswith(media.rstrip("/") + "/"):
        raise ValueError(f"{path!r} is not under the media path {media}")
    real_media = os.path.realpath(media)
    real = os.path.realpath(candidate)
    if real != real_media and not real.startswith(real_media.rstrip("/") + "/"):
        raise ValueError(f"{path!r} leads outside the media path through a symlink")
    if not os.path.isdir(candidate):
        raise ValueError(f"{path!r} is not an existing folder")
    return candidate


def resolve_all(media_path: str, paths: list[str]) -> tuple[list[str], dict[str, str]]:
    """Blocking. The folders resolved under the media path (nested ones dropped) and an error
    per refused one (``paths.<index>``)."""
    resolved, errors = [], {}
    for index, path in enumerate(paths):
        try:
            resolved.append(resolve_under_media(media_path, path))
        except ValueError as exc:
            errors[f"paths.{index}"] = str(exc)
    # a path inside another selected one would be scanned twice
    unique = sorted(set(resolved))
    kept = [p for p in unique if not any(p != o and p.startswith(o.rstrip("/") + "/") for o in unique)]
    return kept, errors


def overlaps(a: list[str], b: list[str]) -> bool:
    def under(x: str, y: str) -> bool:
        return x == y or x.startswith(y.rstrip("/") + "/")
    return any(under(x, y) or under(y, x) for x in a for y in b)
