"""The architecture contracts of pyproject.toml ([tool.importlinter], said in words in
docs/ARCHITECTURE.md) hold: the core imports no web or plugin code, the queue plugin reaches
the host only through toolkit.api, plugins do not import each other, no import cycles."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import toolkit

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def contracts() -> dict[str, dict]:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def test_every_architecture_contract_is_kept():
    # the command a person runs (installed next to this Python); no cache folder left behind
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.exists(), "import-linter is missing: pip install -e '.[test]' (the test extras)"
    run = subprocess.run([lint_imports, PYPROJECT, "--no-cache"], cwd=PYPROJECT.parent,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(contracts())} kept, 0 broken" in run.stdout


def test_plugin_contracts_forbid_every_private_part_of_the_host():
    """A new top-level module of the toolkit is private unless it is toolkit.api: the
    plugin contracts must name it, or a plugin could import it unnoticed."""
    private = {f"toolkit.{m.name}" for m in pkgutil.iter_modules(toolkit.__path__)} \
        - {"toolkit.api", "toolkit.plugins", "toolkit.__main__"}
    for contract_id in ("queue-api", "symlink-api"):
        assert private <= set(contracts()[contract_id]["forbidden_modules"]), contract_id
