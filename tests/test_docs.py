"""Docs that cannot drift: every hook of toolkit/core/hookspecs.py is in docs/plugins.md's
hook table with its exact signature, and every public name of toolkit.api has a docstring."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import toolkit.api
from toolkit import PROJECT
from toolkit.core import hookspecs

PLUGINS_MD = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def hook_signatures() -> set[str]:
    """``name(arg, ...)`` of each function pluggy knows as a hook specification."""
    return {f"{name}({', '.join(inspect.signature(func).parameters)})"
            for name, func in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(func, f"{PROJECT}_spec")}


def documented_hooks() -> set[str]:
    """The first cell of each row of the hook table: ``| `toolkit_x(a, b)` | ...``."""
    return set(re.findall(r"^\| `(toolkit_\w+\([^)]*\))` \|", PLUGINS_MD.read_text(), re.MULTILINE))


def test_every_hook_is_documented_with_its_signature():
    specs = hook_signatures()
    assert len(specs) >= 10  # the marker attribute is found: the comparison below means something
    documented = documented_hooks()
    assert {"missing from docs/plugins.md": sorted(specs - documented),
            "documented but not a hook (or another signature)": sorted(documented - specs)} == \
        {"missing from docs/plugins.md": [], "documented but not a hook (or another signature)": []}


def test_every_public_name_of_toolkit_api_has_a_docstring():
    undocumented = [name for name in toolkit.api.__all__
                    if (inspect.isclass(obj := getattr(toolkit.api, name)) or inspect.isfunction(obj))
                    and not (inspect.getdoc(obj) or "").strip()]
    assert undocumented == []
    assert "MOUNTS_SERVICE" in toolkit.api.__all__ and toolkit.api.__doc__


def test_every_public_name_of_toolkit_api_is_in_docs_plugins_md():
    text = PLUGINS_MD.read_text()
    assert [name for name in toolkit.api.__all__ if f"`{name}" not in text and f" {name}" not in text] == []
