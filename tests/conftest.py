"""Shared test setup: fixtures more than one test folder uses. The toolkit's own fixtures
(toolkit_app, toolkit_client, toolkit_server, browser_page...) come from ``toolkit.testing``
through its pytest11 entry point."""
import logging
import subprocess
from pathlib import Path

import pytest

# tests/ is on the path (pytest's pythonpath setting)
from fakes.inbox import Inbox
from fakes.library import Library, build_library
from fakes.rclone_mount import RcloneMount, fuse_missing_reason, start_rclone_mount
from fakes.webdav import WebDAVServer

logging.getLogger("alembic").setLevel(logging.WARNING)


@pytest.fixture
def inbox():
    """A webhook inbox on 127.0.0.1 for Apprise's ``json://`` URL (notification tests)."""
    box = Inbox()
    yield box
    box.close()


@pytest.fixture
def library(tmp_path) -> Library:
    """A generated library of real symlinks (see ``fakes.library.build_library``)."""
    return build_library(tmp_path)


@pytest.fixture
def media_env(library, monkeypatch) -> Library:
    """The app's media path points at the generated library (through the documented
    environment override, so no test depends on another's settings)."""
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(library.media))
    return library


@pytest.fixture
def rclone_mount(tmp_path: Path):
    """``store`` served over WebDAV and mounted at ``mnt`` by a real rclone."""
    reason = fuse_missing_reason()
    if reason:
        pytest.skip(reason)
    remote_root = tmp_path / "remote"
    remote_root.mkdir()
    server = WebDAVServer(remote_root).start()
    mount_point = tmp_path / "mnt"
    process = start_rclone_mount(server, mount_point, log=tmp_path / "rclone.log")
    mount = RcloneMount(server, remote_root, mount_point, process)
    yield mount
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    mount.unmount()
    server.stop()
