"""Redriva Toolkit: a plugin-based maintenance toolkit for self-hosted media libraries.

Plugin authors import the host only through ``toolkit.api`` (``hookimpl``, the hook types,
the running toolkit...): see docs/plugins.md and docs/ARCHITECTURE.md.
"""
import pluggy

__version__ = "0.1.0"
PROJECT = "redriva_toolkit"  # pluggy project name == entry-point group

hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["hookimpl", "__version__", "PROJECT"]
