"""Phase 2 on real media made by ffmpeg and damaged in known ways (real ffprobe)."""
from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan
from toolkit.plugins.symlink.engine.probe import ProbeTimeout, ToolMissing, original_estimate, probe, run_timed
from toolkit.plugins.symlink.verdicts import SqlVerdictStore

# Measured with Debian's ffmpeg 5.1 (docs/symlink-engine.md): what each tier says.
FULL_MISSES = ["trunc50.mkv", "trunc90.mkv", "midrand.mkv", "trunc50.mp4", "trunc90.mp4", "midrand.mp4",
               "trunc50.flac", "trunc90.flac", "trunc50.mp3", "midrand.mp3"]
FULL_CATCHES = ["zerohead.mkv", "random.mkv", "zerohead.mp4"]
DEEP_CATCHES = FULL_CATCHES + FULL_MISSES + ["zerohead.flac"]
HEALTHY = ["ok.mkv", "ok.mp4", "ok.mp3", "ok.flac"]


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_files_pass_both_tiers(media, name):
    assert probe(str(media[name]), "full").verdict == "OK"
    assert probe(str(media[name]), "deep").verdict == "OK"


def test_the_header_query_catches_broken_headers_only(media):
    verdicts = {name: probe(str(media[name]), "full").verdict for name in FULL_CATCHES + FULL_MISSES}
    assert {n for n, v in verdicts.items() if v == "CORRUPTED"} == set(FULL_CATCHES)


def test_the_deep_tier_catches_truncation_and_damage_the_header_query_misses(media):
    verdicts = {name: probe(str(media[name]), "deep") for name in DEEP_CATCHES}
    missed = {n: v for n, v in verdicts.items() if v.verdict != "CORRUPTED"}
    assert missed == {}
    assert all(v.reason for v in verdicts.values())


def test_a_timed_out_probe_is_killed_with_its_children(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    script = textwrap.dedent(f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(60)
    """)
    with pytest.raises(ProbeTimeout):
        run_timed([sys.executable, "-c", script], timeout=1.5)
    grandchild = int(pid_file.read_text())
    for _ in range(50):  # the kernel reaps asynchronously; SIGKILL was sent to the group
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        status = Path(f"/proc/{grandchild}/stat").read_text().split()[2] if Path(f"/proc/{grandchild}").exists() else "X"
        if status in ("Z", "X"):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the probe's grandchild survived the timeout")


def test_original_estimate_format():
    assert [original_estimate(n) for n in (0, 29, 60, 1800, 1830, 3750)] == [
        "~1 min", "~1 min", "~2 min", "~1h0m", "~1h1m", "~2h5m"]


def _library_of(tree, media, names):
    for name in names:
        tree.link(name, media[name])
    tree.link("notes.txt", tree.file("notes.txt", 5000))  # not media: never probed


def test_full_scan_probes_ok_media_links_concurrently_and_streams_corrupted(tree, media):
    _library_of(tree, media, HEALTHY + FULL_CATCHES + ["trunc50.mkv"])
    problems, events = [], []
    result = run_scan(ScanOptions(paths=[str(tree.library)], depth="full", workers=3),
                      on_problem=problems.append, on_progress=events.append)
    assert {Path(p.path).name for p in problems if p.status == "CORRUPTED"} == set(FULL_CATCHES)
    assert all(p.phase == 2 for p in problems)
    stats = result.statistics
    assert stats["media_links"] == 8 and stats["phase2_analyzed"] == 8 and stats["phase2_corrupted"] == 3
    assert result.phase2_estimate == "~1 min"
    phase2 = [e for e in events if e.phase == "phase2"]
    assert phase2[0].total == 8 and "~1 min" in phase2[0].message


def test_deep_scan_finds_what_full_misses(tree, media):
    _library_of(tree, media, ["ok.mkv", "trunc90.mkv", "midrand.mp3"])
    problems = []
    run_scan(ScanOptions(paths=[str(tree.library)], depth="deep"), on_problem=problems.append)
    assert {Path(p.path).name: p.status for p in problems} == {"trunc90.mkv": "CORRUPTED", "midrand.mp3": "CORRUPTED"}


def test_rescan_uses_cached_verdicts_until_the_file_changes(tree, media, engine, tmp_path):
    copies = {}
    for name in ["ok.mkv", "ok.mp3", "random.mkv"]:
        copy = tree.file(name, content=media[name].read_bytes())
        copies[name] = copy
        tree.link(name, copy)
    store = SqlVerdictStore(engine)
    options = dict(paths=[str(tree.library)], depth="full")

    first_problems, second_problems = [], []
    first = run_scan(ScanOptions(**options), verdict_store=store, on_problem=first_problems.append)
    second = run_scan(ScanOptions(**options), verdict_store=store, on_problem=second_problems.append)
    copies["ok.mp3"].write_bytes(b"\0" * 5000)  # changed (and now bad)
    third_problems = []
    third = run_scan(ScanOptions(**options), verdict_store=store, on_problem=third_problems.append)
    expired = run_scan(ScanOptions(**options, recheck_age_seconds=0), verdict_store=store)

    assert (first.statistics["phase2_probed"], first.statistics["skipped_cached"]) == (3, 0)
    assert (second.statistics["phase2_probed"], second.statistics["skipped_cached"]) == (0, 3)
    assert [(Path(p.path).name, p.status) for p in second_problems] == [("random.mkv", "CORRUPTED")]
    assert (third.statistics["phase2_probed"], third.statistics["skipped_cached"]) == (1, 2)
    assert {Path(p.path).name for p in third_problems} == {"random.mkv", "ok.mp3"}
    assert expired.statistics["phase2_probed"] == 3


def test_full_depth_without_ffprobe_is_a_clear_error_in_parity_mode(tree, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing, match="ffprobe not found"):
        run_scan(ScanOptions(paths=[str(tree.library)], depth="full", prober="ffprobe"))
    with pytest.raises(ToolMissing, match="ffprobe not found"):
        run_scan(ScanOptions(paths=[str(tree.library)], depth="deep", prober="av"))


def test_old_verdicts_are_pruned(engine):
    from toolkit.plugins.symlink.engine.probe import ProbeVerdict

    store = SqlVerdictStore(engine)
    store.put("/m/a.mkv", 10, 1, "full", ProbeVerdict("OK"))
    store.flush()
    assert store.prune(3600) == 0 and store.get("/m/a.mkv", 10, 1, "full", 3600) is not None
    assert store.prune(-1) == 1 and store.get("/m/a.mkv", 10, 1, "full", 3600) is None


def test_the_verdict_cache_reads_what_it_wrote_by_exact_identity_depth_and_age(engine):
    import threading

    from toolkit.plugins.symlink.engine.probe import ProbeVerdict

    store = SqlVerdictStore(engine)
    store.put("/m/a.mkv", 10, 1, "full", ProbeVerdict("OK"))
    store.put("/m/b.mkv", 20, 2, "deep", ProbeVerdict("CORRUPTED", "nothing decodes"))
    store.flush()

    assert store.get("/m/a.mkv", 10, 1, "full", 3600) == ProbeVerdict("OK")
    assert store.get("/m/a.mkv", 10, 1, "deep", 3600) is None  # a full verdict does not answer deep
    assert store.get("/m/b.mkv", 20, 2, "full", 3600) == ProbeVerdict("CORRUPTED", "nothing decodes")
    assert store.get("/m/a.mkv", 10, 2, "full", 3600) is None  # changed mtime
    assert store.get("/m/a.mkv", 11, 1, "full", 3600) is None  # changed size
    assert store.get("/m/a.mkv", 10, 1, "full", -1) is None  # older than allowed
    # another thread (its own reader) sees a later flush
    store.put("/m/c.mkv", 30, 3, "full", ProbeVerdict("OK"))
    store.flush()
    seen = []
    reader = threading.Thread(target=lambda: seen.append(store.get("/m/c.mkv", 30, 3, "full", 3600)))
    reader.start()
    reader.join()
    assert seen == [ProbeVerdict("OK")]
