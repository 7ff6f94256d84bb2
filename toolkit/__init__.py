"""Redriva Toolkit: a plugin-based maintenance toolkit for self-hosted media libraries.

Plugin authors import the host only through ``toolkit.api`` (``hookimpl``, the hook types,
the running toolkit...): see docs/plugins.md and docs/ARCHITECTURE.md.
"""
__version__ = "0.1.0"
PROJECT = "redriva_toolkit"  # pluggy project name == entry-point group

__all__ = ["hookimpl", "__version__", "PROJECT"]


def __getattr__(name: str):  # noqa: ANN202  (typing is not imported here either)
    # pluggy on first use: a process that only runs part of a plugin (the symlink scan's
    # child process) imports this package without needing it
    if name == "hookimpl":
        import pluggy

        global hookimpl
        hookimpl = pluggy.HookimplMarker(PROJECT)
        return hookimpl
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
