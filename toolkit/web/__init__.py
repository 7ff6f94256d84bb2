"""The web shell: Quart app factory, layout and menu, core API, Redriva mount."""
from toolkit.web.app import create_app, current_toolkit

__all__ = ["create_app", "current_toolkit"]
