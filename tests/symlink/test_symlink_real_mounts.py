"""Mounts as users have them: a real rclone FUSE mount with rclone's default retry flags
of a WebDAV server running in its own process, which a test can hang (SIGSTOP by its pid,
SIGCONT in a ``finally``) or make answer 500/503 for some files (TESTING.md)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.fuse


def _cli(*arguments: str, data_dir: Path, timeout: float) -> subprocess.CompletedProcess:
    """The real command, in a process of its own, its output captured through pipes (as a
    cron job's would be): it must exit, whatever its children are stuck on."""
    environment = {**os.environ, "TOOLKIT_DATA_DIR": str(data_dir), "COLUMNS": "300"}
    environment.pop("TOOLKIT_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "toolkit.cli", "symlink", "scan", *arguments],
                          capture_output=True, text=True, timeout=timeout, env=environment)


def test_hung_mount_the_cli_reports_unknown_deletes_nothing_and_exits(user_mount, tree, tmp_path):
    names = [f"movie{i}.mkv" for i in range(8)]
    mount = user_mount({f"__all__/{name}": b"\x42" * 8192 for name in names})
    for name in names:
        tree.link(name, mount.mount_point / "__all__" / name)
    assert len(os.listdir(mount.mount_point / "__all__")) == 8  # the listing is in rclone's cache now
    report = tmp_path / "report.json"

    mount.server.pause()
    try:
        run = _cli(str(tree.library), "--mode", "real", "--yes", "--force", "--mount-timeout", "3",
                   "--json", str(report), data_dir=tmp_path / "data", timeout=60)
    finally:
        mount.server.resume()

    assert run.returncode == 4, run.stdout + run.stderr
    document = json.loads(report.read_text())
    assert sorted(Path(p["path"]).name for p in document["problems_found"]) == names
    assert {p["status"] for p in document["problems_found"]} == {"UNKNOWN"}
    assert document["deleted_files"] == [] and document["deletions"] == []
    assert "hung" in document["stopped_by"]
    assert sorted(os.listdir(tree.library)) == names

    after = _cli(str(tree.library), "--json", str(report), data_dir=tmp_path / "data", timeout=120)

    assert after.returncode == 0, after.stdout + after.stderr
    assert json.loads(report.read_text())["statistics"]["phase1_ok"] == 8


async def test_hung_mount_the_web_scan_job_ends_and_the_web_answers(user_mount, tree, toolkit_client, monkeypatch):
    from toolkit.core.jobs import wait_until

    names = [f"Movies/movie{i}.mkv" for i in range(4)]
    mount = user_mount({f"__all__/{i}.mkv": b"\x42" * 8192 for i in range(4)})
    for index, name in enumerate(names):
        tree.link(name, mount.mount_point / "__all__" / f"{index}.mkv")
    os.listdir(mount.mount_point / "__all__")
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(tree.library))
    body: dict = {}

    async def finished() -> bool:
        nonlocal body
        response = await toolkit_client.get(f"/api/symlink/scan/status/{scan_id}")
        assert response.status_code == 200  # the web answers while the scan's calls hang
        body = await response.get_json()
        return body["status"] not in ("queued", "running", "cancelling")

    mount.server.pause()
    try:
        response = await toolkit_client.post("/api/symlink/scan/start", json={"paths": ["Movies"], "mode": "dry-run"})
        scan_id = (await response.get_json())["scan_id"]
        await wait_until(finished, timeout=60, interval=0.2)
    finally:
        mount.server.resume()

    assert body["status"] == "completed" and body["mount_down"] is True
    assert "hung" in " ".join(m["reason"] or "" for m in body["mounts"])
    problems = (await (await toolkit_client.get(f"/api/symlink/scans/{scan_id}")).get_json())["problems"]
    assert sorted(p["status"] for p in problems["items"]) == ["UNKNOWN"] * 4


def _flaky_library(user_mount, tree, media, *, healthy: int, latency: float):
    """A library over a mount with rclone's default flags where some files answer 500/503;
    returns (mount, ground truth {link name: status, OK included})."""
    files, truth = {}, {}
    for index in range(healthy):
        source = media["ok.mkv"] if index % 2 else media["ok.mp3"]
        name = f"healthy{index}{source.suffix}"
        files[f"__all__/{name}"], truth[name] = source.read_bytes(), "OK"
    files["__all__/show.nfo"], truth["show.nfo"] = b"<tvshow/>", "OK"  # a small sidecar is fine
    for name, source in [("zerohead.mkv", "zerohead.mkv"), ("random.mkv", "random.mkv")]:
        files[f"__all__/{name}"], truth[name] = media[source].read_bytes(), "CORRUPTED"
    files["__all__/tiny.mkv"], truth["tiny.mkv"] = b"\0" * 100, "SMALL_FILE"
    failing = {"error500.mkv": 500, "error503.mkv": 503}  # each costs rclone ~25 s of retries
    for name in failing:
        files[f"__all__/{name}"], truth[name] = media["ok.mkv"].read_bytes(), "IO_ERROR"
    mount = user_mount(files, latency=latency,
                       fail500=[f"/__all__/{n}" for n, code in failing.items() if code == 500],
                       fail503=[f"/__all__/{n}" for n, code in failing.items() if code == 503])
    for name in truth:
        tree.link(name, mount.mount_point / "__all__" / name)
    for name in ("gone1.mkv", "gone2.mkv"):  # removed from the debrid service
        tree.link(name, mount.mount_point / "__all__" / name)
        truth[name] = "BROKEN"
    return mount, truth


def _verdicts(report: Path, truth: dict[str, str]) -> dict[str, str]:
    found = {Path(p["path"]).name: p["status"] for p in json.loads(report.read_text())["problems_found"]}
    return {name: found.get(name, "OK") for name in truth}


def test_flaky_mount_with_rclone_defaults_every_verdict_is_the_truth(user_mount, tree, media, tmp_path):
    """rclone's default retries (each failing read takes many seconds and slows every
    other call on the mount): the scan finishes, the mount is degraded, not down, and
    every verdict is the ground truth; real mode deletes exactly the problems."""
    mount, truth = _flaky_library(user_mount, tree, media, healthy=10, latency=0.02)
    report = tmp_path / "report.json"

    dry = _cli(str(tree.library), "--depth", "full", "--json", str(report), data_dir=tmp_path / "data", timeout=300)

    assert dry.returncode == 2, dry.stdout + dry.stderr
    assert _verdicts(report, truth) == truth, report.read_text()
    document = json.loads(report.read_text())
    fuse = next(m for m in document["mounts"] if m["fstype"].startswith("fuse"))
    assert fuse["was_down"] is False and fuse["degraded"] is True and fuse["errors"] >= 2
    assert fuse["latency_median_ms"] is not None and fuse["latency_p95_ms"] >= fuse["latency_median_ms"]
    assert document["stopped_by"] is None

    real = _cli(str(tree.library), "--depth", "full", "--mode", "real", "--yes", "--no-repair", "--json", str(report),
                data_dir=tmp_path / "data", timeout=300)

    assert real.returncode == 3, real.stdout + real.stderr
    deleted = {Path(d["path"]).name for d in json.loads(report.read_text())["deleted_files"]}
    assert deleted == {name for name, status in truth.items() if status != "OK"}
    assert sorted(os.listdir(tree.library)) == sorted(name for name, status in truth.items() if status == "OK")


def test_slow_flaky_mount_at_200ms_per_request_every_verdict_is_the_truth(user_mount, tree, media, tmp_path):
    """200 ms per request (a far debrid server) with rclone's default flags, files answering
    500/503 among them: every call is ten times slower than at 20 ms and the failing reads'
    retries take longer still, yet the scan finishes with every verdict right and calls
    the mount degraded, never down."""
    mount, truth = _flaky_library(user_mount, tree, media, healthy=10, latency=0.2)
    report = tmp_path / "report.json"

    dry = _cli(str(tree.library), "--depth", "full", "--workers", "12", "--json", str(report),
               data_dir=tmp_path / "data", timeout=400)

    assert dry.returncode == 2, dry.stdout + dry.stderr
    assert _verdicts(report, truth) == truth, report.read_text()
    document = json.loads(report.read_text())
    fuse = next(m for m in document["mounts"] if m["fstype"].startswith("fuse"))
    assert fuse["was_down"] is False and fuse["errors"] >= 2
    assert fuse["latency_median_ms"] >= 200  # every answer needed the server
    assert document["stopped_by"] is None
    assert document["statistics"]["phase2_unknown"] == 0 and document["statistics"]["phase1_unknown"] == 0


def test_a_mount_that_hangs_during_phase_2_stops_the_pyav_probes(user_mount, tree, media):
    """The server stops when phase 2 begins: the PyAV workers block in their reads (in
    their own processes, not the scan's), the mount is found hung, every probe is UNKNOWN
    and the scan returns within about 2 x mount_timeout; a later scan works."""
    import time

    from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan

    names = [f"movie{i}.mkv" for i in range(6)]
    mount = user_mount({f"__all__/{name}": media["ok.mkv"].read_bytes() for name in names})
    for name in names:
        tree.link(name, mount.mount_point / "__all__" / name)
    paused: list[float] = []

    def on_progress(progress) -> None:
        if progress.phase == "phase2" and not paused:
            mount.server.pause()
            paused.append(time.monotonic())

    problems = []
    options = dict(paths=[str(tree.library)], depth="full", prober="av", mount_timeout=3, probe_timeout=30)
    try:
        result = run_scan(ScanOptions(**options), on_problem=problems.append, on_progress=on_progress)
        ended = time.monotonic()
    finally:
        mount.server.resume()

    assert paused, "phase 2 never began"
    assert ended - paused[0] < 2 * 3 + 4
    assert result.mount_down
    assert sorted(Path(p.path).name for p in problems) == names
    assert {(p.status, p.phase) for p in problems} == {("UNKNOWN", 2)}

    problems.clear()
    after = run_scan(ScanOptions(**options), on_problem=problems.append)
    assert problems == [] and not after.mount_down and after.statistics["phase2_analyzed"] == 6
