"""The queue plugin is built on the public plugin API alone, and that API is documented."""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import toolkit.api
from toolkit.plugins import queue

PLUGIN_DIR = Path(queue.__file__).resolve().parent


def test_the_queue_plugin_imports_the_host_only_through_toolkit_api():
    offenders = []
    for path in PLUGIN_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{path.relative_to(PLUGIN_DIR)}: {n}" for n in names
                          if n.split(".")[0] == "toolkit" and n != "toolkit.api"
                          and not n.startswith("toolkit.plugins.queue")]
    assert offenders == []


def test_every_public_name_of_toolkit_api_has_a_docstring():
    undocumented = [name for name in toolkit.api.__all__
                    if (inspect.isclass(obj := getattr(toolkit.api, name)) or inspect.isfunction(obj))
                    and not (inspect.getdoc(obj) or "").strip()]
    assert undocumented == []
    assert "MOUNTS_SERVICE" in toolkit.api.__all__ and toolkit.api.__doc__
