"""Hook implementations of the built-in symlink plugin (registered like any third party)."""
from __future__ import annotations

from toolkit import hookimpl
from toolkit.core.hookspecs import MenuLink

PLUGIN_NAME = "symlink"


@hookimpl
def toolkit_menu_links():
    return MenuLink(label="Symlink", href="/symlink", icon="🔗", order=10)
