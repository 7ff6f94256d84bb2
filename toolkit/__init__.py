"""Redriva Toolkit: a plugin-based maintenance toolkit for self-hosted media libraries.

Plugin authors need only ``from toolkit import hookimpl`` and the small types in
``toolkit.core.hookspecs`` (``Models``, ``MenuLink``, ``Task``, ``SettingsSchema``, ``Schedule``).
"""
import pluggy

__version__ = "0.1.0"
PROJECT = "redriva_toolkit"  # pluggy project name == entry-point group

hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["hookimpl", "__version__", "PROJECT"]
