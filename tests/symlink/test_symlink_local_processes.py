"""Phase 1 in worker processes for links into local filesystems (``QuickLocalPool``):
same verdicts as the in-process classifier, only plain OK links settled there, a worker
stuck on a blocking target abandoned (its batch goes back), nothing left running. The scan
process forks its workers before it imports anything (``quick_worker.fork_workers``,
scanstart's bootstrap) and settles batches in a thread of its own too."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest

from toolkit.plugins.symlink.engine import quick
from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan
from toolkit.plugins.symlink.engine.classify import SIDECAR_EXTENSIONS, open_proves_readable
from toolkit.plugins.symlink.engine.mounts import MountMonitor
from toolkit.plugins.symlink.engine.probe import MEDIA_EXTENSIONS
from toolkit.plugins.symlink.engine.quick import QuickLocalPool, QuickRules
from toolkit.plugins.symlink.engine.quick_worker import _QuickChecker
from toolkit.plugins.symlink.scanproc import ScanChild


def build_mixed_library(tree) -> dict[str, str]:
    """Every kind of link; returns the expected problem status per link name."""
    big = tree.file("Movies/movie.mkv", 4096)
    tree.file("Movies/notes.txt", 4096)
    for index in range(30):
        tree.link(f"ok {index}.mkv", big)
    tree.link("ok notes.txt", tree.targets / "Movies/notes.txt")
    tree.link("relative ok é.mkv", os.path.relpath(big, tree.library))
    tree.link("sidecar.nfo", tree.file("tiny.nfo", 10))  # small, but a sidecar: OK
    tree.link("season link", tree.targets / "Movies")  # a folder: left to the classifier, OK
    hop = tree.link("hop.mkv", big)
    tree.link("chain.mkv", hop)
    tree.link("broken.mkv", tree.targets / "gone.mkv")
    tree.link("small.mkv", tree.file("small.mkv", 1023))
    tree.link("loop-a", tree.library / "loop-a")
    return {"broken.mkv": "BROKEN", "small.mkv": "SMALL_FILE", "loop-a": "BROKEN"}


def scan(tree, **options):
    problems = []
    result = run_scan(ScanOptions(paths=[str(tree.library)], **options), on_problem=problems.append)
    return result, {Path(p.path).name: p.status for p in problems}


def rules(**overrides) -> QuickRules:
    fields = dict(
        mounts=MountMonitor().local_mount_table(), open_proves_readable=open_proves_readable(), small_files_all=False,
        sidecar_extensions=sorted(SIDECAR_EXTENSIONS), media_extensions=sorted(MEDIA_EXTENSIONS),
        media_to_caller=False, media_paths_wanted=True, small_bytes=1024, read_bytes=1024,
    )
    fields.update(overrides)
    return QuickRules(**fields)


def test_scan_with_worker_processes_matches_the_scan_without(tree, monkeypatch):
    expected = build_mixed_library(tree)
    monkeypatch.setattr(quick, "QUICK_BATCH", 4)  # small batches: several round trips, both workers

    with_processes, problems_with = scan(tree, local_processes=2)
    without, problems_without = scan(tree, local_processes=0)

    assert problems_with == problems_without == expected
    assert with_processes.statistics == without.statistics
    assert with_processes.statistics["phase1_ok"] == 36
    assert with_processes.statistics["media_links"] == 33
    assert [m["mount_point"] for m in with_processes.mounts] == [m["mount_point"] for m in without.mounts]


def test_workers_settle_only_plain_ok_links(tree, monkeypatch):
    build_mixed_library(tree)
    monkeypatch.setattr(quick, "QUICK_BATCH", 4)
    media: list[str] = []
    pool = QuickLocalPool(rules(), processes=2, deadline=10, on_media=media.extend)
    links = sorted(str(p) for p in tree.library.iterdir())

    unsettled = sorted(Path(p).name for p in pool.unsettled(links))
    tally = pool.take()

    # problems and folders go back to the full classifier; everything else is settled
    assert unsettled == ["broken.mkv", "loop-a", "season link", "small.mkv"]
    assert tally.ok == len(links) - 4
    assert tally.media == 33 and sorted(Path(p).name for p in media) == sorted(
        n for n in os.listdir(tree.library) if n.endswith(".mkv") and n not in ("broken.mkv", "small.mkv"))
    assert tally.touched == {MountMonitor().mount_of(str(tree.targets)).path}
    assert pool.given_up is None and pool.workers == []  # closed at the end


def test_the_calling_process_settles_batches_too_in_one_thread(tree, monkeypatch):
    """One worker is a thread of the scan process (one interpreter fewer: memory): it
    gets batches like the processes, settles them by the same rules, and ends with the pool."""
    build_mixed_library(tree)
    monkeypatch.setattr(quick, "QUICK_BATCH", 4)
    sent_to_thread: list[list[str]] = []
    send = quick._Thread.send
    monkeypatch.setattr(quick._Thread, "send", lambda self, batch: (sent_to_thread.append(batch), send(self, batch)))
    pool = QuickLocalPool(rules(), processes=1, deadline=10)
    links = sorted(str(p) for p in tree.library.iterdir())

    iterator = pool.unsettled(links)
    first = next(iterator)
    kinds = sorted(type(w).__name__ for w in pool.workers)
    unsettled = sorted(Path(p).name for p in [first, *iterator])

    assert kinds == ["_Process", "_Thread"]
    assert sent_to_thread  # the thread had its share
    assert unsettled == ["broken.mkv", "loop-a", "season link", "small.mkv"]
    assert pool.take().ok == len(links) - 4
    _wait_for_no_quick_thread()


def _wait_for_no_quick_thread() -> None:
    import threading

    deadline = time.monotonic() + 10
    while any(t.name == "symlink-quick-thread" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "symlink-quick-thread" for t in threading.enumerate())


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another uid")
def test_a_worker_without_access_calls_still_leaves_unreadable_targets_to_the_classifier(tmp_path_factory):
    """An unprivileged worker skips access() (its open() applies the same check): a file
    it cannot open is not settled, so the classifier says INACCESSIBLE as before. In a
    forked child as nobody (a worker process cannot be started as nobody here: the
    interpreter lives under /root)."""
    root = Path(tempfile.mkdtemp(prefix="symlink-quick-perm-"))  # pytest's folders are 0700
    root.chmod(0o755)
    links = []
    for name, mode in [("private.mkv", 0o600), ("public.mkv", 0o644)]:
        target = root / f"target-{name}"
        target.write_bytes(b"x" * 4096)
        target.chmod(mode)
        os.symlink(target, root / name)
        links.append(str(root / name))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            checker = _QuickChecker(SimpleNamespace(**asdict(rules(open_proves_readable=open_proves_readable()))))
            os.write(write_end, repr((checker.rules.open_proves_readable, [checker.settle(p) for p in links])).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 4096).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    shutil.rmtree(root)

    assert answer == repr((True, [None, True]))  # no access() call; private left to the classifier


def test_a_worker_reaches_the_target_the_kernel_follows_not_the_lexical_one(tree):
    """The worker names the target itself in its calls (one path walk fewer than through the
    link), as the kernel reaches it: ".." after a folder that is a symlink goes up from
    where that folder really is. Read lexically, the same link would name a small file."""
    tree.file("real/movie.mkv", 4096)
    tree.file("real/deep/placeholder", 1)
    os.symlink("../movie.mkv", tree.targets / "real/deep/up.mkv")
    tree.link("via", tree.targets / "real/deep")  # a folder of the library that is a link
    (tree.library / "movie.mkv").write_bytes(b"x" * 10)  # where ".." leads, read lexically
    checker = _QuickChecker(SimpleNamespace(**asdict(rules())))

    assert checker.settle(str(tree.library / "via/up.mkv")) is True  # OK media: the 4096-byte file
    assert checker.settle(str(tree.library / "movie.mkv")) is None  # not a link: left to the caller


def test_media_go_back_when_a_verdict_cache_applies(tree, monkeypatch):
    build_mixed_library(tree)
    monkeypatch.setattr(quick, "QUICK_BATCH", 4)
    pool = QuickLocalPool(rules(media_to_caller=True), processes=1, deadline=10)
    links = sorted(str(p) for p in tree.library.iterdir())

    unsettled = {Path(p).name for p in pool.unsettled(links)}

    assert {"ok 0.mkv", "chain.mkv", "broken.mkv"} <= unsettled
    assert pool.take().ok == 2  # ok notes.txt, sidecar.nfo


def test_targets_outside_local_filesystems_go_back(tree, monkeypatch):
    build_mixed_library(tree)
    monkeypatch.setattr(quick, "QUICK_BATCH", 4)
    not_local = [(path, False) for path, _ in MountMonitor().local_mount_table()]
    pool = QuickLocalPool(rules(mounts=not_local), processes=2, deadline=10)
    links = sorted(str(p) for p in tree.library.iterdir())

    assert sorted(pool.unsettled(links)) == links
    assert pool.take().ok == 0


@pytest.fixture
def blocking_sidecar(tree):
    """A link to a FIFO named like a sidecar: its size (0) passes the small-file rule and
    opening it blocks until a writer comes -- a local stand-in for a hung mount."""
    fifo = tree.targets / "pipe.nfo"
    os.mkfifo(fifo)
    yield tree.link("hangs.nfo", fifo)
    # release the threads and processes still blocked in open()
    for _ in range(20):
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            break
        time.sleep(0.05)


@pytest.mark.fuse  # the rclone_mount fixture skips with the reason when FUSE is missing
def test_a_worker_stuck_on_a_hung_mount_is_abandoned_and_its_batch_goes_back(rclone_mount, tree, monkeypatch):
    build_mixed_library(tree)
    (rclone_mount.remote_root / "far.mkv").write_bytes(b"\x42" * 8192)
    # the link's own target is local; the hop behind it is on the mount, which stops answering
    hop = tree.link("../store/hop to mount.mkv", rclone_mount.mount_point / "far.mkv")
    stuck = tree.link("via hop.mkv", hop)
    rclone_mount.server.faults.latency = 3.0
    monkeypatch.setattr(quick, "QUICK_BATCH", 4)
    pool = QuickLocalPool(rules(), processes=2, deadline=0.5)
    links = sorted(str(p) for p in tree.library.iterdir())

    unsettled = list(pool.unsettled(links))
    tally = pool.take()

    assert str(stuck) in unsettled
    assert pool.given_up is not None and "0.5s" in pool.given_up
    assert tally.ok + len(unsettled) == len(links)  # every link counted once: settled or given back
    assert pool.workers == []


def test_scan_reports_the_stuck_link_unknown_and_every_other_verdict(tree, monkeypatch, blocking_sidecar):
    expected = build_mixed_library(tree)
    monkeypatch.setattr(quick, "QUICK_BATCH", 4)

    result, problems = scan(tree, local_processes=2, fs_timeout=0.5)

    assert problems == {**expected, "hangs.nfo": "UNKNOWN"}
    assert result.statistics["phase1_ok"] == 36
    assert result.statistics["total_analyzed"] == 36 + len(problems)


def test_a_short_walk_starts_no_process(tree):
    build_mixed_library(tree)  # fewer links than one batch
    pool = QuickLocalPool(rules(), processes=2, deadline=10)
    links = sorted(str(p) for p in tree.library.iterdir())

    assert sorted(pool.unsettled(links)) == links
    assert pool.take().ok == 0


def test_cancel_stops_the_worker_processes(tree, monkeypatch):
    build_mixed_library(tree)
    monkeypatch.setattr(quick, "QUICK_BATCH", 4)
    pool = QuickLocalPool(rules(), processes=2, deadline=10)
    iterator = pool.unsettled(sorted(str(p) for p in tree.library.iterdir()))
    next(iterator)  # workers started, some batches out
    children = [w.popen for w in pool.workers if isinstance(w, quick._Process)]
    assert len(children) == 2

    pool.close()

    for child in children:
        child.wait(timeout=5)
        assert child.returncode is not None
    assert list(iterator) is not None and pool.workers == []
    _wait_for_no_quick_thread()


def test_media_settled_by_the_workers_reach_phase_2(tree, monkeypatch):
    build_mixed_library(tree)
    monkeypatch.setattr(quick, "QUICK_BATCH", 8)

    with_processes, problems = scan(tree, local_processes=2, depth="full")

    # the targets are not real media: every spooled link is probed and found CORRUPTED
    assert with_processes.statistics["phase2_analyzed"] == 33
    assert sum(status == "CORRUPTED" for status in problems.values()) == 33


def test_the_workers_frame_functions_name_only_what_they_import():
    """Their hints resolve (they named an unimported ``BinaryIO``; the worker cannot afford
    ``typing``), and the frame round-trips through a real pipe."""
    import io
    import typing

    from toolkit.plugins.symlink.engine import quick_worker

    for function in (quick_worker._send_frame, quick_worker._read_frame):
        assert typing.get_type_hints(function)["stream"] is io.BufferedIOBase
    read, write = os.pipe()
    with os.fdopen(write, "wb") as sender:
        quick_worker._send_frame(sender, b"/media/a.mkv\0/media/b.mkv")
    with os.fdopen(read, "rb") as receiver:
        assert quick_worker._read_frame(receiver) == b"/media/a.mkv\0/media/b.mkv"
        assert quick_worker._read_frame(receiver) is None


def test_processes_started_ahead_are_the_ones_the_pool_uses(tree, monkeypatch):
    """The scan process starts its workers before it imports the engine (quick.prestart):
    the first pool takes them, configured with its rules, and settles the same links."""
    build_mixed_library(tree)
    monkeypatch.setattr(quick, "QUICK_BATCH", 4)
    monkeypatch.setattr(quick, "_SPARES", [])
    quick.prestart(2)
    ahead = {process.popen.pid for process in quick._SPARES}
    pool = QuickLocalPool(rules(), processes=2, deadline=10)
    links = sorted(str(p) for p in tree.library.iterdir())

    iterator = pool.unsettled(links)
    first = next(iterator)
    used = {w.popen.pid for w in pool.workers if isinstance(w, quick._Process)}
    unsettled = sorted(Path(p).name for p in [first, *iterator])

    assert len(ahead) == 2 and used == ahead and quick._SPARES == []
    assert unsettled == ["broken.mkv", "loop-a", "season link", "small.mkv"]
    assert pool.take().ok == len(links) - 4


def test_a_process_started_ahead_and_not_needed_ends_when_its_input_closes(monkeypatch):
    """A scan of fewer links than one batch never takes them: they end with the scan
    process, whose exit closes their input (closed here by hand)."""
    monkeypatch.setattr(quick, "_SPARES", [])
    quick.prestart(1)
    (spare,) = quick._SPARES

    spare.stdin.close()

    assert spare.popen.wait(timeout=10) == 0


def test_the_workers_extension_is_splitexts():
    """The worker's quicker extension test gives what the classifier's
    ``os.path.splitext(path)[1].lower()`` does, on every name of dots, slashes and letters
    up to 6 characters (hidden files, trailing dots, dotted folders) and a few real ones."""
    import itertools

    from toolkit.plugins.symlink.engine.quick_worker import _extension

    names = ["/tv/Show/S01E01.MKV", "/tv/.hidden.mkv", "/tv/.mkv", "/tv/a..", "/tv.d/noext", "/x/é.Nfo",
             *("".join(t) for n in range(1, 7) for t in itertools.product("a.K/", repeat=n))]
    assert [name for name in names if _extension(name) != os.path.splitext(name)[1].lower()] == []


def _nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_the_scan_process_starts_its_workers_at_its_own_niceness(tree, blocking_sidecar):
    """The web's scan job runs niced; the workers started ahead inherit the niceness only
    when it is applied before them. (The FIFO keeps the scan, and so its workers, alive.)"""
    build_mixed_library(tree)
    child = ScanChild(ScanOptions(paths=[str(tree.library)], fs_timeout=0.5, local_processes=2), niceness=5)
    try:
        workers = _wait_for_workers(child)
        niceness = {pid: _nice(pid) for pid in [child.child.pid, *workers]}
        result = child.follow()
    finally:
        child.close()

    assert len(workers) == 2 and set(niceness.values()) == {min(19, _nice(os.getpid()) + 5)}  # 19: the kernel's cap
    assert result.statistics["phase1_ok"] == 36


def _wait_for_workers(child: ScanChild, count: int = 2) -> list[int]:
    """The scan process's worker processes, once ``count`` of them are there (20 s at most)."""
    workers: list[int] = []
    deadline = time.monotonic() + 20
    while len(workers) < count and time.monotonic() < deadline:
        workers = _children(child.child.pid)
        time.sleep(0.005)
    return workers


def _children(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()]


def test_a_scan_process_forks_its_workers_and_they_settle_its_links(tree):
    """Forked, not started: a worker's command line is its parent's (a fork shares it), and
    the scan of more than one batch finds every verdict."""
    expected = build_mixed_library(tree)
    for index in range(1100):  # more than one batch (1024 links): the pool takes the workers
        tree.link(f"many/{index}.mkv", tree.targets / "Movies/movie.mkv")
    problems: dict[str, str] = {}
    child = ScanChild(ScanOptions(paths=[str(tree.library)], local_processes=2))
    try:
        workers = _wait_for_workers(child)
        command_lines = {Path(f"/proc/{pid}/cmdline").read_bytes() for pid in [child.child.pid, *workers]}
        result = child.follow(on_problem=lambda problem: problems.update({Path(problem.path).name: problem.status}))
    finally:
        child.close()

    assert len(workers) == 2 and len(command_lines) == 1
    assert problems == expected
    assert result.statistics["phase1_ok"] == 36 + 1100


STUCK_WORKER = """
import json, os, signal, sys, time
from toolkit.plugins.symlink.engine import quick
from toolkit.plugins.symlink.engine.quick_worker import fork_workers

forked = fork_workers(1)  # first, as the bootstrap does: this process has no thread yet
quick.QUICK_BATCH = 4
quick.adopt(forked)
(pid, _, _), = forked
os.kill(pid, signal.SIGSTOP)  # it takes its batch and never answers
rules = quick.QuickRules(**json.loads(sys.argv[2]))
pool = quick.QuickLocalPool(rules, processes=1, deadline=0.5)
links = sorted(os.path.join(sys.argv[1], name) for name in os.listdir(sys.argv[1]))
unsettled = list(pool.unsettled(links))
settled = pool.take().ok
for _ in range(200):  # killed, then reaped by the pool's reaper thread: /proc/PID is gone
    if not os.path.exists(f"/proc/{pid}"):
        break
    time.sleep(0.025)
reaped = not os.path.exists(f"/proc/{pid}")
print(json.dumps({"given_up": pool.given_up, "links": len(links), "accounted": settled + len(unsettled),
                  "workers": len(pool.workers), "reaped": reaped}))
"""


def test_a_forked_worker_past_its_deadline_is_killed_and_reaped_and_its_batch_goes_back(tree):
    build_mixed_library(tree)
    run = subprocess.run([sys.executable, "-c", STUCK_WORKER, str(tree.library), json.dumps(asdict(rules()))],
                         capture_output=True, text=True, timeout=60)
    outcome = json.loads(run.stdout.strip().splitlines()[-1])

    assert "0.5s" in outcome["given_up"]
    assert outcome["accounted"] == outcome["links"]  # every link settled or given back, once
    assert outcome["workers"] == 0 and outcome["reaped"]


def test_forked_workers_end_with_the_scan(tree):
    """A short walk never takes them: they end when the scan process does (their input
    closes), and are not left behind as processes."""
    build_mixed_library(tree)
    child = ScanChild(ScanOptions(paths=[str(tree.library)], local_processes=2))
    try:
        workers = _wait_for_workers(child)
        child.follow()
    finally:
        child.close()

    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(workers) == 2 and not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
