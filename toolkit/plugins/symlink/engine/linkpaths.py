"""Pure path arithmetic on links (no system call), apart from :mod:`.mounttable` so that a
quick worker process (:mod:`.quick_worker`) imports nothing but the standard library's
smallest modules."""
from __future__ import annotations

import os


def lexical_target(link_path: str, target: str) -> str:
    """The absolute path a link's first hop names, without touching the filesystem."""
    if target.startswith("/"):
        if "/." in target or "//" in target or target.endswith("/"):
            return os.path.normpath(target)
        return target
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(link_path)), target))


def is_under(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root.rstrip("/") + "/")
