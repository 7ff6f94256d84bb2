"""Fixtures for the symlink engine: local link trees, ffmpeg-made media (damaged in known
ways), the toolkit database, and rclone FUSE mounts of a WebDAV server process with
rclone's default flags (``user_mount``; ``rclone_mount`` is in tests/conftest.py)."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from fakes.rclone_mount import WebDAVProcess, fuse_missing_reason, start_rclone_mount, stop_rclone_mount


class Tree:
    """A media folder (``targets``) and a library of links into it (``library``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.targets = root / "store"
        self.library = root / "library"
        self.targets.mkdir(parents=True, exist_ok=True)
        self.library.mkdir(parents=True, exist_ok=True)
        # an empty target folder looks like an unmounted mount point (UNKNOWN): keep one file
        (self.targets / ".keep").write_bytes(b"")

    def file(self, name: str, size: int = 4096, content: bytes | None = None) -> Path:
        path = self.targets / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if content is not None else b"\x1a" * size)
        return path

    def link(self, name: str, target: str | Path) -> Path:
        path = self.library / name
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(str(target), path)
        return path


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TOOLKIT_DATABASE_URL", raising=False)
    from toolkit.core.db import database_url as url

    return url()


@pytest.fixture
def engine(database_url: str):
    from toolkit.plugins.symlink.store import open_database

    engine = open_database(database_url)
    yield engine
    engine.dispose()


# ----------------------------------------------------------------------------- media

def _ffmpeg(*arguments: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *arguments], check=True, timeout=60)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny 3-second files, healthy and damaged copies: ``{name: path}``.

    Damage: ``trunc50``/``trunc90`` (cut at that share of the bytes), ``zerohead`` (first
    4 KiB zeroed), ``midrand`` (the middle fifth replaced by random bytes).
    """
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe not installed (apt-get install ffmpeg)")
    folder = tmp_path_factory.mktemp("media")
    video = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi", "-i", "sine", "-t", "3"]
    audio = ["-f", "lavfi", "-i", "sine", "-t", "3"]
    _ffmpeg(*video, "-c:v", "mpeg4", "-c:a", "mp2", str(folder / "ok.mkv"))
    _ffmpeg(*video, "-c:v", "mpeg4", "-c:a", "aac", "-movflags", "+faststart", str(folder / "ok.mp4"))
    _ffmpeg(*audio, "-c:a", "libmp3lame", str(folder / "ok.mp3"))
    _ffmpeg(*audio, "-c:a", "flac", str(folder / "ok.flac"))
    rng = random.Random(1)
    files = {}
    for healthy in sorted(folder.iterdir()):
        data = healthy.read_bytes()
        ext = healthy.suffix
        files[f"ok{ext}"] = healthy
        damaged = {
            "trunc50": data[: len(data) // 2],
            "trunc90": data[: len(data) * 9 // 10],
            "zerohead": b"\0" * 4096 + data[4096:],
        }
        middle = bytearray(data)
        start, end = len(data) * 2 // 5, len(data) * 3 // 5
        middle[start:end] = rng.randbytes(end - start)
        damaged["midrand"] = bytes(middle)
        for kind, content in damaged.items():
            path = folder / f"{kind}{ext}"
            path.write_bytes(content)
            files[f"{kind}{ext}"] = path
    random_path = folder / "random.mkv"
    random_path.write_bytes(rng.randbytes(50_000))
    files["random.mkv"] = random_path
    return files


# ----------------------------------------------------------------------------- rclone mount


@dataclass
class UserMount:
    server: WebDAVProcess
    remote_root: Path
    mount_point: Path
    rclone: subprocess.Popen


@pytest.fixture
def user_mount(tmp_path: Path):
    """``user_mount(files, fail500=(), fail503=(), latency=0, flags=())``: the files
    ({relative path: bytes}) served by a WebDAV server process and mounted by rclone with
    its default flags (``flags`` adds to them)."""
    reason = fuse_missing_reason()
    if reason:
        pytest.skip(reason)
    started: list[UserMount] = []

    def start(files: dict[str, bytes], *, fail500=(), fail503=(), latency=0.0, flags=()) -> UserMount:
        remote_root = tmp_path / "remote"
        for name, content in files.items():
            (remote_root / name).parent.mkdir(parents=True, exist_ok=True)
            (remote_root / name).write_bytes(content)
        server = WebDAVProcess(remote_root, latency=latency, fail500=tuple(fail500), fail503=tuple(fail503))
        mount_point = tmp_path / "mnt"
        try:
            rclone = start_rclone_mount(server, mount_point, *flags, flags=(), log=tmp_path / "rclone.log")
        except BaseException:
            server.stop()
            raise
        started.append(UserMount(server, remote_root, mount_point, rclone))
        return started[-1]

    yield start
    for mount in started:
        mount.server.resume()
        stop_rclone_mount(mount.rclone, mount.mount_point)
        mount.server.stop()
