"""Small in-test plugins built from hook functions."""
from __future__ import annotations

import types

from toolkit import hookimpl


def make_plugin(name: str, **hooks) -> types.SimpleNamespace:
    """A plugin object whose hooks are the given functions (wrapped as hookimpls)."""
    plugin = types.SimpleNamespace(PLUGIN_NAME=name)
    for hook_name, fn in hooks.items():
        setattr(plugin, hook_name, hookimpl(fn))
    return plugin
