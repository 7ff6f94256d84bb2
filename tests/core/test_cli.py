"""The command line, through the installed console script."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from toolkit.testing import free_port

EXE = str(Path(sys.executable).parent / "redriva-toolkit")


def run(*args, env_dir: Path, check=True):
    return subprocess.run([EXE, *args], env={**os.environ, "TOOLKIT_DATA_DIR": str(env_dir)},
                          capture_output=True, text=True, check=check)


def test_plugins_prints_one_line_per_plugin(tmp_path):
    out = run("plugins", env_dir=tmp_path).stdout
    assert re.search(r"^symlink\s+\S+\s+builtin\s+loaded$", out, re.M)


def test_plugins_shows_blocked_plugins(tmp_path):
    out = subprocess.run([EXE, "plugins"], capture_output=True, text=True, check=True,
                         env={**os.environ, "TOOLKIT_DATA_DIR": str(tmp_path),
                              "TOOLKIT_PLUGINS_BLOCK": "symlink"}).stdout
    assert re.search(r"^symlink\s+\S+\s+builtin\s+blocked$", out, re.M)


def test_jobs_list_on_a_fresh_database(tmp_path):
    assert run("jobs", "list", env_dir=tmp_path).stdout.strip() == "no jobs"


def test_serve_answers_health_and_stops_cleanly(tmp_path):
    port = free_port()
    proc = subprocess.Popen([EXE, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env={**os.environ, "TOOLKIT_DATA_DIR": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = None
        for _ in range(200):
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/api/toolkit/health").json()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        assert body and body["status"] == "ok"
        assert (tmp_path / "toolkit.db").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, output


def test_unknown_command_is_a_clear_error(tmp_path):
    result = run("frobnicate", env_dir=tmp_path, check=False)
    assert result.returncode == 2 and "No such command 'frobnicate'" in result.stderr
