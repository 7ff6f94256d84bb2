"""Phase 1 on local trees: the original's statuses and order, UNKNOWN, edge cases."""
from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan
from toolkit.plugins.symlink.engine.model import new_statistics
from toolkit.plugins.symlink.engine.walk import walk_links
from toolkit.plugins.symlink.engine.workers import TIMED_OUT, DeadlinePool, TooManyHungCalls

ORIGINAL_KEYS = ["total_analyzed", "phase1_ok", "phase1_broken", "phase1_inaccessible", "phase1_small",
                 "phase1_io_error", "phase2_analyzed", "phase2_corrupted", "files_deleted"]


def scan(paths, **options):
    problems = []
    result = run_scan(ScanOptions(paths=[str(p) for p in paths], **options), on_problem=problems.append)
    return result, {Path(p.path).name: p for p in problems}


def test_statistics_keep_the_original_names_first():
    assert list(new_statistics())[: len(ORIGINAL_KEYS)] == ORIGINAL_KEYS


def test_classifies_each_kind_of_link(tree):
    big = tree.file("Movies/movie.mkv", 4096)
    tree.link("ok.mkv", big)
    tree.link("relative ok é.mkv", os.path.relpath(big, tree.library))
    tree.link("broken.mkv", tree.targets / "gone.mkv")
    tree.link("broken relative.mkv", "../store/Movies/gone.mkv")
    tree.link("small.mkv", tree.file("small.mkv", 1023))
    tree.link("exactly 1024.mkv", tree.file("k.mkv", 1024))
    hop = tree.link("hop.mkv", big)
    tree.link("chain.mkv", hop)
    dangling_hop = tree.link("dangling hop.mkv", tree.targets / "nothing.mkv")
    tree.link("broken chain.mkv", dangling_hop)
    tree.link("loop-a", tree.library / "loop-b")
    tree.link("loop-b", tree.library / "loop-a")
    tree.link("self", "self")
    tree.link("season link", tree.targets / "Movies")
    tree.link("dead season link", tree.targets / "NoSuchSeason")
    tree.file("plain file in library.txt")  # not a link: not analyzed
    (tree.library / "real.txt").write_text("x")

    result, found = scan([tree.library])

    assert {name: p.status for name, p in found.items()} == {
        "broken.mkv": "BROKEN",
        "broken relative.mkv": "BROKEN",
        "dangling hop.mkv": "BROKEN",
        "broken chain.mkv": "BROKEN",
        "loop-a": "BROKEN",
        "loop-b": "BROKEN",
        "self": "BROKEN",
        "dead season link": "BROKEN",
        "small.mkv": "SMALL_FILE",
    }
    assert found["self"].reason == "symlink loop"
    assert found["small.mkv"].size == 1023
    assert found["broken relative.mkv"].target == "../store/Movies/gone.mkv"
    assert all(p.phase == 1 for p in found.values())
    stats = result.statistics
    assert stats["total_analyzed"] == 15
    assert stats["phase1_ok"] == 6  # ok, relative, 1024, hop, chain, season link
    assert stats["phase1_broken"] == 8
    assert stats["phase1_small"] == 1
    assert stats["media_links"] == 5
    assert result.mount_down is False and result.cancelled is False


def test_small_sidecars_are_ok_unless_all_small_files_are_asked_for(tree):
    tree.link("movie.nfo", tree.file("movie.nfo", 56))
    tree.link("movie.en.srt", tree.file("movie.en.srt", 300))
    tree.link("tiny.mkv", tree.file("tiny.mkv", 10))

    _, default = scan([tree.library])
    _, original = scan([tree.library], small_files="all")

    assert set(default) == {"tiny.mkv"}
    assert {n: p.status for n, p in original.items()} == {
        "movie.nfo": "SMALL_FILE", "movie.en.srt": "SMALL_FILE", "tiny.mkv": "SMALL_FILE"}


def test_links_to_directories_are_not_followed_by_the_walk(tree):
    season = tree.targets / "Show" / "Season 1"
    season.mkdir(parents=True)
    os.symlink(tree.file("ep1.mkv"), season / "inner link.mkv")
    tree.link("Show", tree.targets / "Show")
    assert list(walk_links([str(tree.library)])) == [str(tree.library / "Show")]


def test_a_path_given_as_a_link_is_checked_itself(tree):
    tree.file("other.mkv")
    link = tree.link("single.mkv", tree.targets / "missing.mkv")
    _, found = scan([link])
    assert found["single.mkv"].status == "BROKEN"


def test_a_library_path_that_is_a_link_to_a_folder_is_walked(tree):
    tree.link("broken.mkv", tree.targets / "missing.mkv")
    tree.link("ok.mkv", tree.file("ok.mkv"))
    alias = tree.root / "media-alias"
    os.symlink(tree.library, alias)
    result, found = scan([alias])
    assert {n: p.status for n, p in found.items()} == {"broken.mkv": "BROKEN"}
    assert result.statistics["total_analyzed"] == 2


def test_problems_stream_and_ok_links_are_not_reported(tree):
    for index in range(50):
        tree.link(f"ok{index}.mkv", tree.file(f"f{index}.mkv"))
    tree.link("bad.mkv", tree.targets / "missing.mkv")
    seen = []
    result = run_scan(ScanOptions(paths=[str(tree.library)]), on_problem=seen.append)
    assert [Path(p.path).name for p in seen] == ["bad.mkv"]
    assert result.statistics["phase1_ok"] == 50


def test_cancel_keeps_what_was_found_and_stops_early(tree):
    for index in range(3000):
        tree.link(f"gone{index}.mkv", tree.targets / f"missing{index}.mkv")
    found = []
    stop = threading.Event()

    def on_problem(problem):
        found.append(problem)
        if len(found) == 10:
            stop.set()

    result = run_scan(ScanOptions(paths=[str(tree.library)], workers=2), on_problem=on_problem,
                      should_abort=stop.is_set)
    assert result.cancelled is True
    assert 10 <= len(found) < 3000
    assert result.statistics["phase1_broken"] == len(found)


def test_progress_reports_phase_counts_and_rate(tree):
    for index in range(20):
        tree.link(f"l{index}.mkv", tree.targets / f"missing{index}.mkv")
    events = []
    run_scan(ScanOptions(paths=[str(tree.library)]), on_progress=events.append)
    assert [e.phase for e in events][:2] == ["mounts", "phase1"]
    final = events[-1]
    assert final.phase == "done" and final.done == 20 and final.counts == {"BROKEN": 20}


def test_an_empty_unmounted_target_root_means_unknown_not_broken(tree):
    mount_point = tree.root / "mnt" / "zurg"
    mount_point.mkdir(parents=True)  # what a mount point looks like when nothing is mounted
    tree.link("a.mkv", mount_point / "__all__" / "Movie (2020)" / "a.mkv")
    tree.link("b.mkv", mount_point / "__all__" / "Movie (2021)" / "b.mkv")

    result, found = scan([tree.library])

    assert {p.status for p in found.values()} == {"UNKNOWN"}
    assert "looks unmounted" in found["a.mkv"].reason
    assert result.statistics["phase1_unknown"] == 2 and result.statistics["phase1_broken"] == 0


def test_a_missing_file_in_a_populated_folder_is_broken(tree):
    tree.file("__all__/Other/other.mkv")
    tree.link("a.mkv", tree.targets / "__all__" / "Gone Movie" / "a.mkv")
    _, found = scan([tree.library])
    assert found["a.mkv"].status == "BROKEN"


def test_an_expected_mount_that_is_not_mounted_makes_its_links_unknown(tree):
    tree.file("Movies/a.mkv")
    tree.link("a.mkv", tree.targets / "Movies" / "a.mkv")
    tree.link("gone.mkv", tree.targets / "Movies" / "gone.mkv")

    result, found = scan([tree.library], expected_mounts=[str(tree.targets)])

    assert {n: p.status for n, p in found.items()} == {"a.mkv": "UNKNOWN", "gone.mkv": "UNKNOWN"}
    assert "not mounted" in found["gone.mkv"].reason
    assert result.mount_down is True
    assert any(m["mount_point"] == str(tree.targets) and not m["healthy"] for m in result.mounts)


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        ScanOptions(paths=["/tmp"], depth="quick")
    with pytest.raises(ValueError):
        ScanOptions(paths=[])


# ----------------------------------------------------------------------------- another uid


def _scan_as(uid: int, path: str) -> dict:
    """Scan in a forked child running as ``uid`` (root reads everything, so INACCESSIBLE
    needs a real unprivileged process)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            problems = []
            result = run_scan(ScanOptions(paths=[path], workers=1), on_problem=problems.append)
            payload = {"problems": {Path(p.path).name: [p.status, p.reason] for p in problems},
                       "stats": result.statistics}
            os.write(write_end, json.dumps(payload).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks) or b"{}")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another uid")
def test_unreadable_targets_are_inaccessible_for_another_uid():
    root = Path(tempfile.mkdtemp(prefix="symlink-perm-"))
    try:
        root.chmod(0o755)
        store, library = root / "store", root / "library"
        store.mkdir(mode=0o755)
        library.mkdir(mode=0o755)
        private = store / "private.mkv"
        private.write_bytes(b"x" * 4096)
        private.chmod(0o600)
        public = store / "public.mkv"
        public.write_bytes(b"x" * 4096)
        public.chmod(0o644)
        locked = store / "locked"
        locked.mkdir(mode=0o700)
        (locked / "inner.mkv").write_bytes(b"x" * 4096)
        for name, target in [("private.mkv", private), ("public.mkv", public), ("locked.mkv", locked / "inner.mkv")]:
            os.symlink(target, library / name)

        as_nobody = _scan_as(65534, str(library))
        as_root_problems = {}
        run_scan(ScanOptions(paths=[str(library)]), on_problem=lambda p: as_root_problems.setdefault(p.path, p))
    finally:
        import shutil

        shutil.rmtree(root)
    assert {name: status for name, (status, _) in as_nobody["problems"].items()} == {
        "private.mkv": "INACCESSIBLE", "locked.mkv": "INACCESSIBLE"}
    assert as_nobody["stats"]["phase1_inaccessible"] == 2 and as_nobody["stats"]["phase1_ok"] == 1
    assert as_root_problems == {}


# ----------------------------------------------------------------------------- deadline pool


def test_a_hung_call_times_out_and_the_pool_keeps_going():
    release = threading.Event()

    def work(item):
        if item == "hang":
            release.wait(30)
        return item.upper()

    pool = DeadlinePool(work, workers=2, deadline=0.3)
    try:
        outcomes = dict(pool.run(iter(["a", "hang", "b", "c", "d"])))
    finally:
        release.set()
    assert outcomes["hang"] is TIMED_OUT
    assert {k: v for k, v in outcomes.items() if k != "hang"} == {"a": "A", "b": "B", "c": "C", "d": "D"}


def test_too_many_hung_calls_stop_the_pool():
    release = threading.Event()
    pool = DeadlinePool(lambda item: release.wait(30), workers=2, deadline=0.2, max_abandoned=2)
    try:
        with pytest.raises(TooManyHungCalls):
            list(pool.run(iter(range(10))))
    finally:
        release.set()


def test_a_failing_call_is_returned_as_its_exception():
    def work(item):
        raise RuntimeError("boom")

    outcomes = list(DeadlinePool(work, workers=1, deadline=5).run(iter([1])))
    assert isinstance(outcomes[0][1], RuntimeError)


def test_quick_items_go_to_one_worker_even_when_many_workers_take_turns_on_the_gil():
    """A cached re-scan's links: a little CPU between calls that release the GIL. Timed by
    their wall time, 12 threads taking turns made each look slow, so all 12 kept running
    (and a re-scan took 1.5x as long as on one)."""
    second_half: Counter[int] = Counter()

    def work(item):
        for _ in range(4):
            time.sleep(0)  # a system call: the GIL is released and taken back
            sum(range(500))
        if item >= 2500:
            second_half[threading.get_ident()] += 1
        return item

    pool = DeadlinePool(work, workers=12, deadline=5)
    assert len(dict(pool.run(iter(range(5000))))) == 5000
    assert pool.item_seconds < 0.001
    assert second_half.most_common(1)[0][1] >= 0.75 * 2500, second_half


def _voluntary_switches(native_id: int) -> int:
    status = Path(f"/proc/self/task/{native_id}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("voluntary_ctxt_switches")).split()[1])


def test_idle_workers_sleep_until_told_instead_of_polling():
    """In one-worker mode the other workers wait without waking up: each wake-up of a
    polling thread took the GIL from the working one (a CPU-bound load ran 2x slower on
    one worker than on 12). Counted as the idle threads' context switches while the one
    working thread is busy on an item that waits for the test."""
    busy, release = threading.Event(), threading.Event()

    def work(item):
        if item == "last":
            busy.set()
            release.wait(30)
        return item

    pool = DeadlinePool(work, workers=6, deadline=60)
    outcomes: list = []
    runner = threading.Thread(target=lambda: outcomes.extend(pool.run(iter([*range(2000), "last"]))))
    runner.start()
    try:
        assert busy.wait(30)
        assert pool.item_seconds < 0.001  # one-worker mode: the others idle
        time.sleep(0.1)  # let every idle worker reach its wait
        idle = [w for w in pool.workers if w.index > 0 and w.batch is None]
        assert len(idle) >= 4
        before = {w.native_id: _voluntary_switches(w.native_id) for w in idle}
        time.sleep(0.5)  # polling every 20 ms: ~25 wake-ups each; sleeping until told: none
        woken = {tid: _voluntary_switches(tid) - count for tid, count in before.items()}
    finally:
        release.set()
        runner.join(30)
    assert max(woken.values()) <= 2, woken
    assert len(outcomes) == 2001


def test_items_waiting_on_io_use_every_worker():
    active, most = [0], [0]
    lock = threading.Lock()

    def work(item):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.03)  # a network round trip: no CPU, a long wall time
        with lock:
            active[0] -= 1
        return item

    pool = DeadlinePool(work, workers=4, deadline=5)
    assert sorted(item for item, _ in pool.run(iter(range(40)))) == list(range(40))
    assert pool.item_seconds > 0.01 and most[0] == 4
