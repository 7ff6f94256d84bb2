"""Start a real ``rclone mount`` of a WebDAV URL (foreground process, so we own its pid)."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from fakes.webdav import WebDAVServer


def start_rclone_mount(server: WebDAVServer, mount_point: Path, *extra: str, log: Path | None = None) -> subprocess.Popen:
    """Mount with short caches for tests (later ``extra`` flags override: the last one wins)
    and wait until the mount point is mounted."""
    mount_point.mkdir(parents=True, exist_ok=True)
    log_file = open(log, "wb") if log else None
    try:
        process = subprocess.Popen(
            ["rclone", "mount", ":webdav:", str(mount_point), "--webdav-url", server.url, "--read-only",
             "--dir-cache-time", "1s", "--attr-timeout", "0s", "--low-level-retries", "1", *extra],
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
