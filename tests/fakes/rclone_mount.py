"""Start a real ``rclone mount`` of a WebDAV URL (foreground process, so we own its pid),
and the WebDAV server in a process of its own when a test must hang it (SIGSTOP)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fakes.webdav import WebDAVServer

# short caches and no retries: what tests that do not care about timing use
TEST_FLAGS = ("--dir-cache-time", "1s", "--attr-timeout", "0s", "--low-level-retries", "1")


class HasUrl(Protocol):
    url: str


class WebDAVProcess:
    """``tests/fakes/webdav.py`` in its own process: a test can stop it (SIGSTOP, by its
    pid) to hang the mount, and must resume it (SIGCONT) in a ``finally``."""

    def __init__(self, root: Path, *, latency: float = 0.0, fail500: tuple[str, ...] = (),
                 fail503: tuple[str, ...] = (), threads: int = 16) -> None:
        command = [sys.executable, str(Path(__file__).with_name("webdav.py")), str(root), str(latency),
                   "--threads", str(threads)]
        for path in fail500:
            command += ["--fail500", path]
        for path in fail503:
            command += ["--fail503", path]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url:
            raise RuntimeError("the WebDAV server process did not start")

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        self.resume()
        self.process.kill()
        self.process.wait(10)


def start_rclone_mount(server: HasUrl, mount_point: Path, *extra: str, log: Path | None = None,
                       flags: tuple[str, ...] = TEST_FLAGS) -> subprocess.Popen:
    """Mount with ``flags`` (default: short caches and no retries; ``()`` for rclone's
    defaults, as users have them), then ``extra`` (the last one wins), and wait until the
    mount point is mounted."""
    mount_point.mkdir(parents=True, exist_ok=True)
    log_file = open(log, "wb") if log else None
    try:
        process = subprocess.Popen(
            ["rclone", "mount", ":webdav:", str(mount_point), "--webdav-url", server.url, "--read-only",
             *flags, *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file or subprocess.DEVNULL,
        )
    finally:
        if log_file:
            log_file.close()
    deadline = time.monotonic() + 20
    while not os.path.ismount(mount_point):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"rclone mount did not come up (exit {process.poll()})")
        time.sleep(0.05)
    return process


def stop_rclone_mount(process: subprocess.Popen, mount_point: Path) -> None:
    """Stop our rclone (by its process) and detach the mount point."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
    subprocess.run(["fusermount3", "-uz", str(mount_point)], capture_output=True, timeout=20)


def fuse_missing_reason() -> str | None:
    if not shutil.which("rclone"):
        return "rclone not installed (apt-get install rclone)"
    if not shutil.which("fusermount3"):
        return "fusermount3 not installed (apt-get install fuse3)"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse missing: FUSE is not available here"
    return None


@dataclass
class RcloneMount:
    server: WebDAVServer
    remote_root: Path  # what the WebDAV server serves
    mount_point: Path
    process: subprocess.Popen

    def kill(self) -> None:
        """Kill our rclone by pid: the mount stays in the table and answers ENOTCONN."""
        self.process.kill()
        self.process.wait(10)

    def unmount(self) -> None:
        subprocess.run(["fusermount3", "-uz", str(self.mount_point)], capture_output=True, timeout=20)
