"""``redriva-toolkit serve --redriva src.web:app`` run from Redriva's directory, as a user
would: one process, one port, Redriva and the toolkit side by side."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from toolkit.testing import free_port

from .conftest import REDRIVA_DIR, torrent_names

EXE = str(Path(sys.executable).parent / "redriva-toolkit")


def _env(tmp_path: Path, redriva_db: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLKIT_", "REDRIVA_"))}
    env.update(TOOLKIT_DATA_DIR=str(tmp_path / "toolkit-data"), REDRIVA_DB=str(redriva_db))
    return env


def _wait_ready(process: subprocess.Popen, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited early: {process.communicate()[1]}")
        try:
            httpx.get(url + "/api/toolkit/health", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail("serve did not answer")


def test_serve_with_redriva(tmp_path, redriva_db):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [EXE, "serve", "--port", str(port), "--redriva", "src.web:app"], cwd=REDRIVA_DIR,
        env=_env(tmp_path, redriva_db), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        _wait_ready(process, url)
        dashboard = httpx.get(url + "/")
        assert 'data-status="downloaded">downloaded: 1' in dashboard.text  # Redriva's db
        assert '<a href="/symlink" data-toolkit-link>🔗 Symlink</a>' in dashboard.text
        page = httpx.get(url + "/symlink")
        # inside Redriva the toolkit speaks Redriva's language, French
        assert "Gestionnaire de liens symboliques" in page.text and "🚀 Redriva Web" in page.text
        # a Redriva page calling sys.exit inside its request does not stop the server
        assert httpx.get(url + "/api/check_token").status_code == 500
        assert process.poll() is None
        assert httpx.post(url + "/torrents", data={"name": "Via.CLI.mkv"}).status_code == 302
        assert torrent_names(redriva_db)[-1] == "Via.CLI.mkv"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert (tmp_path / "toolkit-data" / "toolkit.db").exists()  # the toolkit started


def test_serve_with_a_wrong_redriva_target_says_why(tmp_path, redriva_db):
    result = subprocess.run([EXE, "serve", "--port", str(free_port()), "--redriva",
                             "src.web:application"], cwd=REDRIVA_DIR,
                            env=_env(tmp_path, redriva_db), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "Error: module 'src.web' has no attribute 'application'" in result.stderr
    assert "Traceback" not in result.stderr
