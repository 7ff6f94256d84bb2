"""Through a real rclone FUSE mount of a local WebDAV server (TESTING.md)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan
from toolkit.plugins.symlink.cli import symlink_cli
from toolkit.plugins.symlink.engine.deletion import delete_problems
from toolkit.plugins.symlink.store import DeletionJournal

pytestmark = pytest.mark.fuse


def _populate(mount, tree, names, size=8192):
    """Files on the server, links in the library pointing into the mount."""
    for name in names:
        remote = mount.remote_root / "__all__" / name
        remote.parent.mkdir(parents=True, exist_ok=True)
        remote.write_bytes(b"\x42" * size)
        tree.link(name, mount.mount_point / "__all__" / name)


def _scan(tree, **options):
    problems = []
    result = run_scan(ScanOptions(paths=[str(tree.library)], **options), on_problem=problems.append)
    return result, {Path(p.path).name: p for p in problems}


def _wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_healthy_mount_scans_ok(rclone_mount, tree):
    _populate(rclone_mount, tree, ["a.mkv", "b.mkv"])
    result, found = _scan(tree)
    assert found == {}
    assert result.statistics["phase1_ok"] == 2
    assert any(m["fstype"].startswith("fuse") and m["healthy"] for m in result.mounts)


def test_file_removed_on_the_server_is_broken(rclone_mount, tree):
    _populate(rclone_mount, tree, ["keep.mkv", "removed.mkv"])
    (rclone_mount.remote_root / "__all__" / "removed.mkv").unlink()
    assert _wait_until(lambda: not os.path.exists(rclone_mount.mount_point / "__all__" / "removed.mkv"))
    _, found = _scan(tree)
    assert {n: p.status for n, p in found.items()} == {"removed.mkv": "BROKEN"}


def test_server_error_on_read_is_io_error_with_the_error_text(rclone_mount, tree):
    _populate(rclone_mount, tree, ["fine.mkv", "failing.mkv"])
    rclone_mount.server.faults.failing_paths.add("/__all__/failing.mkv")
    result, found = _scan(tree)
    assert {n: p.status for n, p in found.items()} == {"failing.mkv": "IO_ERROR"}
    assert "Input/output error" in found["failing.mkv"].reason
    assert result.statistics["phase1_io_error"] == 1


def test_io_error_is_rechecked_and_kept_when_the_server_recovers(rclone_mount, tree, engine):
    _populate(rclone_mount, tree, ["flaky.mkv"])
    rclone_mount.server.faults.failing_paths.add("/__all__/flaky.mkv")
    _, found = _scan(tree)
    assert found["flaky.mkv"].status == "IO_ERROR"
    rclone_mount.server.faults.failing_paths.clear()  # a passing hiccup

    outcomes = delete_problems(found.values(), journal=DeletionJournal(engine), scan_id=None, io_error_delay=0)

    assert [(o.outcome, o.reason) for o in outcomes] == [("skipped", "the link is fine now")]
    assert os.path.islink(tree.library / "flaky.mkv")


def test_killed_rclone_gives_unknown_and_real_mode_deletes_nothing(rclone_mount, tree, database_url, tmp_path):
    _populate(rclone_mount, tree, [f"movie{i}.mkv" for i in range(10)])
    rclone_mount.kill()  # by pid; the mount stays in the table and answers ENOTCONN

    result, found = _scan(tree)
    cli = CliRunner(env={"COLUMNS": "400"}).invoke(
        symlink_cli, ["scan", str(tree.library), "--mode", "real", "--yes", "--force"], catch_exceptions=False)

    assert {p.status for p in found.values()} == {"UNKNOWN"} and len(found) == 10
    assert "Transport endpoint is not connected" in found["movie0.mkv"].reason
    assert result.mount_down and result.statistics["phase1_broken"] == 0
    assert cli.exit_code == 4, cli.output
    assert sorted(os.listdir(tree.library)) == sorted(f"movie{i}.mkv" for i in range(10))


def test_unmounted_mount_point_gives_unknown_not_broken(rclone_mount, tree):
    _populate(rclone_mount, tree, ["a.mkv", "b.mkv"])
    rclone_mount.kill()
    rclone_mount.unmount()  # now an empty directory, like a mount that never came up
    assert _wait_until(lambda: not os.path.ismount(rclone_mount.mount_point))

    result, found = _scan(tree)

    assert {p.status for p in found.values()} == {"UNKNOWN"}
    assert "looks unmounted" in found["a.mkv"].reason
    assert result.statistics["phase1_broken"] == 0


def test_slow_server_past_the_deadline_is_unknown_and_the_scan_finishes(rclone_mount, tree):
    _populate(rclone_mount, tree, ["slow1.mkv", "slow2.mkv", "slow3.mkv"])
    rclone_mount.server.faults.latency = 4.0  # every WebDAV request (~12 s a link); the deadline is 0.2 s, then 6 s more

    result, found = _scan(tree, fs_timeout=0.2, workers=2, mount_timeout=60)

    assert {n: p.status for n, p in found.items()} == {n: "UNKNOWN" for n in ["slow1.mkv", "slow2.mkv", "slow3.mkv"]}
    assert all("no answer within 0.2s, nor in 6s more at the end of the phase" in p.reason for p in found.values())
    assert result.statistics["phase1_broken"] == 0 and result.statistics["phase1_io_error"] == 0
    assert not result.mount_down  # slow is not down: calls kept completing
    assert [m["late"] for m in result.mounts if m["fstype"].startswith("fuse")] == [3]


def test_a_late_link_is_retried_with_a_longer_deadline(rclone_mount, tree):
    _populate(rclone_mount, tree, ["late.mkv"])
    _populate(rclone_mount, tree, ["tiny.mkv"], size=100)
    rclone_mount.server.faults.latency = 0.4  # a link's checks take ~1.2 s: past 0.5 s, within 15 s more

    result, found = _scan(tree, fs_timeout=0.5, workers=2, mount_timeout=10)

    assert {n: p.status for n, p in found.items()} == {"tiny.mkv": "SMALL_FILE"}
    assert result.statistics["phase1_ok"] == 1 and not result.mount_down
    fuse = next(m for m in result.mounts if m["fstype"].startswith("fuse"))
    assert fuse["late"] == 2 and fuse["degraded"] is True


def test_latency_below_the_deadline_gives_correct_verdicts(rclone_mount, tree):
    _populate(rclone_mount, tree, ["ok1.mkv", "ok2.mkv", "ok3.mkv"])
    _populate(rclone_mount, tree, ["tiny.mkv"], size=100)
    rclone_mount.server.faults.latency = 0.02

    result, found = _scan(tree, workers=4)

    assert {n: p.status for n, p in found.items()} == {"tiny.mkv": "SMALL_FILE"}
    assert result.statistics["phase1_ok"] == 3


def test_cancel_returns_promptly_while_calls_hang(rclone_mount, tree):
    _populate(rclone_mount, tree, [f"hang{i}.mkv" for i in range(6)])
    rclone_mount.server.faults.latency = 4.0
    asked = []

    def should_abort():
        asked.append(1)
        return len(asked) > 3  # polled about ten times a second

    result, found = _scan_with_abort(tree, should_abort)

    assert result.cancelled is True
    assert result.statistics["total_analyzed"] == 0 and found == {}


def _scan_with_abort(tree, should_abort):
    problems = []
    result = run_scan(ScanOptions(paths=[str(tree.library)], fs_timeout=60, mount_timeout=60, workers=2),
                      on_problem=problems.append, should_abort=should_abort)
    return result, {Path(p.path).name: p for p in problems}


def test_full_scan_through_the_mount_finds_the_corrupted_file(rclone_mount, tree, media):
    for name in ["ok.mkv", "ok.mp3", "zerohead.mkv"]:
        remote = rclone_mount.remote_root / "__all__" / name
        remote.parent.mkdir(parents=True, exist_ok=True)
        remote.write_bytes(media[name].read_bytes())
        tree.link(name, rclone_mount.mount_point / "__all__" / name)
    rclone_mount.server.faults.latency = 0.02

    result, found = _scan(tree, depth="full")

    assert {n: (p.status, p.phase) for n, p in found.items()} == {"zerohead.mkv": ("CORRUPTED", 2)}
    assert result.statistics["phase2_analyzed"] == 3


def test_rescan_skips_the_phase1_read_of_recently_verified_files(rclone_mount, tree, media, engine):
    from toolkit.plugins.symlink.verdicts import SqlVerdictStore

    remote = rclone_mount.remote_root / "__all__" / "ok.mkv"
    remote.parent.mkdir(parents=True)
    remote.write_bytes(media["ok.mkv"].read_bytes())
    tree.link("ok.mkv", rclone_mount.mount_point / "__all__" / "ok.mkv")
    store = SqlVerdictStore(engine)
    first = run_scan(ScanOptions(paths=[str(tree.library)], depth="full"), verdict_store=store)
    rclone_mount.server.faults.failing_paths.add("/__all__/ok.mkv")  # any read would now fail

    cached = run_scan(ScanOptions(paths=[str(tree.library)], depth="full"), verdict_store=store)
    _, uncached = _scan(tree, depth="basic")

    assert first.statistics["phase2_probed"] == 1
    assert cached.statistics["phase1_ok"] == 1 and cached.statistics["skipped_cached"] == 1
    assert uncached["ok.mkv"].status == "IO_ERROR"  # without the cache the read is done and fails


@pytest.mark.parametrize("prober, reads", [("av", 1), ("ffprobe", 2)])
def test_a_full_scan_reads_each_media_file_once_through_the_mount_with_the_av_prober(rclone_mount, tree, media,
                                                                                      prober, reads):
    """Phase 1's read check is made on the handle the PyAV probe reads: one request to the
    server per media link, where phase 1 then ffprobe make one each."""
    names = ["ok.mkv", "ok.mp4", "ok.mp3", "zerohead.mkv"]
    for name in names:
        remote = rclone_mount.remote_root / "__all__" / name
        remote.parent.mkdir(parents=True, exist_ok=True)
        remote.write_bytes(media[name].read_bytes())
        tree.link(name, rclone_mount.mount_point / "__all__" / name)
    os.listdir(rclone_mount.mount_point / "__all__")  # the listing's own request, before counting
    rclone_mount.server.faults.gets.clear()

    result, found = _scan(tree, depth="full", prober=prober)

    assert {n: p.status for n, p in found.items()} == {"zerohead.mkv": "CORRUPTED"}
    assert result.statistics["phase1_ok"] == 4 and result.statistics["phase2_analyzed"] == 4
    assert dict(rclone_mount.server.faults.gets) == {f"/__all__/{name}": reads for name in names}


def test_a_failed_read_found_by_the_probe_is_phase_1s_io_error(rclone_mount, tree, media):
    """With the PyAV prober the read check of a media file happens in phase 2: a read the
    server refuses is still phase 1's IO_ERROR, counted as such, never probed."""
    for name in ("fine.mkv", "failing.mkv"):
        remote = rclone_mount.remote_root / "__all__" / name
        remote.parent.mkdir(parents=True, exist_ok=True)
        remote.write_bytes(media["ok.mkv"].read_bytes())
        tree.link(name, rclone_mount.mount_point / "__all__" / name)
    rclone_mount.server.faults.failing_paths.add("/__all__/failing.mkv")

    result, found = _scan(tree, depth="full", prober="av")

    assert {n: (p.status, p.phase) for n, p in found.items()} == {"failing.mkv": ("IO_ERROR", 1)}
    assert "Input/output error" in found["failing.mkv"].reason
    statistics = result.statistics
    assert (statistics["phase1_ok"], statistics["phase1_io_error"], statistics["phase2_analyzed"]) == (1, 1, 1)
