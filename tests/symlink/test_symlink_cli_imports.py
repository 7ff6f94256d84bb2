"""A dry-run ``redriva-toolkit symlink scan`` loads none of the web stack, the database
layer, the notifier or the HTTP client: not in the command's process, not in its scan
process (issue 9, item 5: the command starts fast). Checked on sys.modules of real
processes, not on timings."""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

# quart: the web app; alembic and sqlalchemy: migrations and the ORM; apprise: notifications;
# httpx: Sonarr/Radarr and media servers; pydantic: settings; asyncio: none of it runs
NOT_FOR_A_DRY_RUN = {"quart", "hypercorn", "alembic", "sqlalchemy", "apprise", "httpx", "pydantic", "asyncio"}

# runs the command as `redriva-toolkit` does, then prints what it imported
COMMAND = """
import json, sys
from toolkit.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""

# the scan process as run_scan_in_child starts it; its os._exit is wrapped to print its modules
SCAN_PROCESS = """
import json, os, runpy, sys
exit_now = os._exit
def report(code):
    sys.stderr.write(json.dumps(sorted({m.split(".")[0] for m in sys.modules})) + "\\n")
    sys.stderr.flush()
    exit_now(code)
os._exit = report
runpy.run_module("toolkit.plugins.symlink.scanproc", run_name="__main__")
"""


def _environment(tmp_path: Path) -> dict[str, str]:
    environment = {**os.environ, "TOOLKIT_DATA_DIR": str(tmp_path / "data")}
    environment.pop("TOOLKIT_DATABASE_URL", None)
    return environment


def _scan(folder: Path, environment: dict[str, str]) -> dict:
    run = subprocess.run([sys.executable, "-c", COMMAND, "symlink", "scan", str(folder)], env=environment,
                         capture_output=True, text=True, timeout=120)
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_dry_run_scan_of_an_empty_folder_imports_no_heavy_package(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    environment = _environment(tmp_path)
    first = _scan(empty, environment)  # creates and migrates the database (in the scan process)
    again = _scan(empty, environment)

    assert (first["code"], again["code"]) == (0, 0)
    assert NOT_FOR_A_DRY_RUN & set(first["modules"]) == set()
    assert NOT_FOR_A_DRY_RUN & set(again["modules"]) == set()
    assert "toolkit" in again["modules"] and "click" in again["modules"]  # it did run the command


@pytest.mark.parametrize("depth", ["basic", "full"])
def test_the_scan_process_uses_the_database_without_sqlalchemy(tmp_path, depth):
    """The remembered mounts (every scan) and the verdict cache (depth full) are read and
    written with sqlite3: the probe's verdict is stored, and SQLAlchemy never imported."""
    library = tmp_path / "library"
    library.mkdir()
    (tmp_path / "movie.mkv").write_bytes(b"\x1a" * 4096)  # no media inside: CORRUPTED
    (library / "movie.mkv").symlink_to(tmp_path / "movie.mkv")
    environment = _environment(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    _scan(empty, environment)  # the database at its heads, as from a user's second run on
    config = {"options": {"paths": [str(library)], "depth": depth}, "database_url": None, "migrate": True,
              "verdicts": depth == "full", "mount_memory": True, "database_required": True,
              "prune_verdicts": depth == "full", "niceness": 0}
    child = subprocess.Popen([sys.executable, "-c", SCAN_PROCESS], env=environment, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child.stdin.write(json.dumps(config) + "\n")
    child.stdin.flush()
    messages = [json.loads(line) for line in child.stdout]  # until it exits
    child.stdin.close()
    modules = json.loads(child.stderr.read().strip().splitlines()[-1])
    child.wait(30)
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "toolkit.db")) as database:
        cached = database.execute("SELECT target, verdict FROM symlink_verdicts").fetchall()

    kind, result = messages[-1]
    assert kind == "result" and not result["cancelled"]
    assert "sqlite3" in modules and "toolkit" in modules
    assert NOT_FOR_A_DRY_RUN & set(modules) == set()
    assert cached == ([(str(tmp_path / "movie.mkv"), "CORRUPTED")] if depth == "full" else [])
