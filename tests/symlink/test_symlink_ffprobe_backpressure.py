"""The ffprobe prober (parity mode) and the per-mount back-pressure: a process start that is
slow because this machine is busy is not the mount's latency; a slow mount still is.

The machine's slowness is made real: an ``ffprobe`` first on PATH that burns CPU before
exec'ing the real one (as ffprobe's own start-up does, ~64 ms of CPU here, on a busy
2-core machine several times that in wall time)."""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan
from toolkit.plugins.symlink.engine.probe import run_timed

_BURN_AND_SLEEP = """
import time
started = time.process_time()
while time.process_time() - started < 0.3:
    pass
time.sleep(0.4)
"""


def test_a_process_local_cost_is_its_start_and_cpu_not_the_time_it_was_blocked():
    started = time.monotonic()
    finished = run_timed([sys.executable, "-c", _BURN_AND_SLEEP], timeout=30)
    wall = time.monotonic() - started

    assert finished.returncode == 0
    assert finished.local_seconds >= 0.3  # its CPU (and any wait for a CPU) is this machine's
    assert 0.35 <= wall - finished.local_seconds < 0.4 + 0.3  # the sleep (a read on the mount) is not


def test_a_process_that_times_out_is_killed():
    from toolkit.plugins.symlink.engine.probe import ProbeTimeout

    started = time.monotonic()
    with pytest.raises(ProbeTimeout):
        run_timed([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert time.monotonic() - started < 5


def _slow_starting_ffprobe(folder: Path, cpu_seconds: float) -> Path:
    """A folder with an ``ffprobe`` that burns ``cpu_seconds`` of CPU, then is the real one."""
    real = shutil.which("ffprobe")
    if real is None:
        pytest.skip("ffprobe not installed (apt-get install ffmpeg)")
    folder.mkdir()
    wrapper = folder / "ffprobe"
    wrapper.write_text(f"#!{sys.executable} -S\n"
                       "import os, sys, time\n"
                       "started = time.process_time()\n"
                       f"while time.process_time() - started < {cpu_seconds}:\n"
                       "    pass\n"
                       f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n")
    wrapper.chmod(0o755)
    return folder


def _library(rclone_mount, tree, media, count: int) -> list[str]:
    names = [f"movie{i}.mkv" for i in range(count)]
    store = rclone_mount.remote_root / "__all__"
    store.mkdir(parents=True)
    for name in names:
        (store / name).write_bytes(media["ok.mkv"].read_bytes())
        tree.link(name, rclone_mount.mount_point / "__all__" / name)
    return names


def _fuse_figures(result) -> dict:
    return next(m for m in result.mounts if m["fstype"].startswith("fuse"))


@pytest.mark.fuse
def test_slow_process_starts_on_a_healthy_mount_do_not_cut_the_concurrency(rclone_mount, tree, media, tmp_path,
                                                                           monkeypatch):
    """Every probe takes > 0.6 s, all of it this machine's CPU: before, the back-pressure
    took that for a mount 100 times slower than in phase 1 and halved the concurrency
    down to 1; the mount answered in milliseconds all along."""
    names = _library(rclone_mount, tree, media, 8)
    monkeypatch.setenv("PATH", f"{_slow_starting_ffprobe(tmp_path / 'bin', 0.6)}{os.pathsep}{os.environ['PATH']}")
    problems = []

    result = run_scan(ScanOptions(paths=[str(tree.library)], depth="full", prober="ffprobe", workers=4),
                      on_problem=problems.append)

    assert problems == [] and result.statistics["phase2_probed"] == len(names)
    fuse = _fuse_figures(result)
    assert fuse["concurrency_lowest"] == 4, fuse
    assert fuse["latency_max_ms"] < 500, fuse  # the mount's part of a probe, not the process's
    assert not result.mount_down


@pytest.mark.fuse
def test_a_mount_that_slows_down_in_phase_2_still_cuts_the_ffprobe_concurrency(rclone_mount, tree, media, tmp_path,
                                                                               monkeypatch):
    """Slow process starts, and the server goes from 0 to 1 s per request as phase 2
    begins: the probes' reads are the mount's, and the concurrency is halved."""
    names = _library(rclone_mount, tree, media, 8)
    monkeypatch.setenv("PATH", f"{_slow_starting_ffprobe(tmp_path / 'bin', 0.2)}{os.pathsep}{os.environ['PATH']}")

    def on_progress(progress) -> None:
        if progress.phase == "phase2":
            rclone_mount.server.faults.latency = 1.0

    problems = []
    result = run_scan(ScanOptions(paths=[str(tree.library)], depth="full", prober="ffprobe", workers=4,
                                  mount_timeout=30),
                      on_problem=problems.append, on_progress=on_progress)

    assert rclone_mount.server.faults.latency == 1.0, "phase 2 never began"
    assert problems == [] and result.statistics["phase2_probed"] == len(names)
    fuse = _fuse_figures(result)
    assert fuse["concurrency_lowest"] <= 2, fuse
    assert fuse["latency_max_ms"] >= 1000, fuse
    assert not result.mount_down
