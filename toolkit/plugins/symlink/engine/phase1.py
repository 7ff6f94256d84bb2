"""Phase 1 of a scan: every link classified (quick local ones in worker processes, the
rest on the deadline pool), late links retried, links under missing folders held back."""
from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

from .classify import (LOOKS_UNMOUNTED, READ_BYTES, SIDECAR_EXTENSIONS, SMALL_FILE_BYTES, Healthy, LinkClassifier,
                       MissingFolder, open_proves_readable, safe_readlink)
from .context import ScanContext
from .late import LATE_RETRY_FACTOR, LATE_WAIT_FACTOR, Late, late_or_down, mount_feedback
from .model import BROKEN, CORRUPTED, ERROR, INACCESSIBLE, IO_ERROR, OK, SMALL_FILE, UNKNOWN, Problem
from .mounts import MountMonitor
from .mounttable import lexical_target
from .probe import MEDIA_EXTENSIONS
from .quick import QuickLocalPool, QuickRules
from .scratch import scratch_file
from .walk import walk_links
from .workers import TIMED_OUT, DeadlinePool, TooManyHungCalls

PHASE1_KEYS = {
    OK: "phase1_ok",
    BROKEN: "phase1_broken",
    INACCESSIBLE: "phase1_inaccessible",
    SMALL_FILE: "phase1_small",
    IO_ERROR: "phase1_io_error",
    ERROR: "phase1_error",
    UNKNOWN: "phase1_unknown",
}


def run_phase1(scan: ScanContext) -> bool:
    """Phase 1 of ``scan``; True when it was cancelled."""
    options, monitor, spool, result, reporter = scan.options, scan.monitor, scan.spool, scan.result, scan.reporter
    statistics, count, on_problem, should_abort = scan.statistics, scan.count, scan.on_problem, scan.should_abort
    store = scan.verdict_store
    classifier = LinkClassifier(options, monitor, store, defer_media_reads=scan.av_prober is not None and spool is not None)
    reporter.start_phase("phase1", "phase 1: checking links")
    late = Late()
    pool = DeadlinePool(
        classifier.classify_for_scan, workers=options.workers, deadline=options.fs_timeout,
        max_abandoned=options.max_hung_calls, on_late_result=late.deliver, **mount_feedback(monitor),
    )
    hung_folders: list[str] = []

    def folder_hung(folder: str) -> None:  # called by the walk, in the pool's feeder thread
        hung_folders.append(folder)
        monitor.recheck_soon(folder)

    links = walk_links(options.paths, result.walk_errors, deadline=options.fs_timeout, on_hung=folder_hung)
    quick = QuickLocalPool(
        QuickRules(
            mounts=monitor.local_mount_table(), open_proves_readable=open_proves_readable(),
            small_files_all=options.small_files == "all", sidecar_extensions=sorted(SIDECAR_EXTENSIONS),
            media_extensions=sorted(MEDIA_EXTENSIONS), media_to_caller=classifier.verdict_store is not None,
            media_paths_wanted=spool is not None, small_bytes=SMALL_FILE_BYTES, read_bytes=READ_BYTES,
        ),
        processes=options.local_processes, deadline=options.fs_timeout,
        on_media=spool.add_many if spool is not None else lambda paths: None,
    )
    held_back = _HeldBack()
    mounts_seen: set[str] = set()

    def report(problem: Problem) -> None:
        count(problem.status, PHASE1_KEYS[problem.status])
        on_problem(problem)

    def count_settled() -> None:
        """Count the links the worker processes found OK (none of them is a problem)."""
        tally = quick.take()
        if tally.ok:
            count(OK, "phase1_ok", tally.ok)
            statistics["total_analyzed"] += tally.ok
            statistics["media_links"] += tally.media
            reporter.send(statistics["total_analyzed"], None, f"phase 1: {statistics['total_analyzed']} links")
        for mount_point in tally.touched - mounts_seen:  # a mount is a finding once its targets are checked
            mounts_seen.add(mount_point)
            monitor.health(monitor.mount_of(mount_point))

    def tick() -> None:
        count_settled()
        monitor.watch()

    def settle(path: str, outcome: Any, retried: bool) -> None:
        if outcome is None:
            return  # vanished or not a link any more
        if outcome is TIMED_OUT:
            target, absolute_target, down = late_or_down(path, monitor)
            if down is None and not retried:
                monitor.note_late(absolute_target)
                if late.defer(path, in_flight=True):
                    return
            outcome = Problem(path, target, UNKNOWN, 1, 0, down or f"no answer within {options.fs_timeout:g}s"
                              + (f", nor in {options.fs_timeout * LATE_WAIT_FACTOR:g}s more at the end of the phase"
                                 if retried else ""))
        elif isinstance(outcome, BaseException):
            outcome = Problem(path, safe_readlink(path), ERROR, 1, 0, f"{type(outcome).__name__}: {outcome}")
        statistics["total_analyzed"] += 1
        if isinstance(outcome, Healthy):
            count(OK, "phase1_ok")
            if outcome.is_media:
                statistics["media_links"] += 1
                if outcome.cached is not None:
                    _count_cached_verdict(scan, path, outcome)
                elif spool is not None:
                    spool.add(path)
        elif isinstance(outcome, MissingFolder):
            held_back.add(outcome)
        else:
            report(outcome)
        done = statistics["total_analyzed"]
        reporter.send(done, None, f"phase 1: {done} links")

    try:
        for path, outcome in pool.run(quick.unsettled(links), should_abort, tick):
            settle(path, outcome, False)
        for path, outcome in late.retry(classifier.classify_for_scan, workers=options.workers,
                                        deadline=options.fs_timeout * LATE_RETRY_FACTOR,
                                        wait=options.fs_timeout * LATE_WAIT_FACTOR,
                                        max_abandoned=options.max_hung_calls, monitor=monitor,
                                        should_abort=should_abort, on_tick=tick):
            settle(path, outcome, True)
    except TooManyHungCalls as exc:
        result.stopped_reason = f"{exc}: the filesystem is not answering"
    finally:
        quick.close()
        count_settled()
        for path in late.open:  # not retried: the scan stopped first
            settle(path, TIMED_OUT, True)
        held_back.release(statistics["total_analyzed"], monitor, report)
    for folder in hung_folders:
        statistics["total_analyzed"] += 1
        report(Problem(folder, "", UNKNOWN, 1, 0,
                       f"library folder did not answer within {options.fs_timeout:g}s: its links were not checked"))
    return should_abort()


# when this share of a scan's links point under missing folders of one parent folder on a
# local filesystem, the mount that should be there is not visible (a container without the
# rclone bind, say), rather than the whole library being broken
NOT_VISIBLE_SHARE = 0.8


class _HeldBack:
    """BROKEN links under missing local folders, spooled to disk until phase 1 ends."""

    def __init__(self) -> None:
        self.file: Any = None
        self.by_parent: dict[str, Counter[str]] = {}  # parent -> missing folder -> links
        # parent -> folders the links point into (2 at most: one folder is one lost release,
        # as in a real debrid breakage; several are a whole tree gone)
        self.target_folders: dict[str, set[str]] = {}
        self.empty_parents: set[str] = set()  # parents that exist but are empty (local folders)

    def add(self, held: MissingFolder) -> None:
        if self.file is None:
            self.file = scratch_file("w+", encoding="utf-8")
        self.file.write(json.dumps([held.missing, held.problem.as_dict()], ensure_ascii=False) + "\n")
        self.by_parent.setdefault(os.path.dirname(held.missing), Counter())[held.missing] += 1
        if held.in_empty_folder:
            self.empty_parents.add(os.path.dirname(held.missing))
        folders = self.target_folders.setdefault(os.path.dirname(held.missing), set())
        if len(folders) < 2:
            folders.add(os.path.dirname(lexical_target(held.problem.path, held.problem.target)))

    def release(self, analyzed: int, monitor: MountMonitor, report: Callable[[Problem], None]) -> None:
        """Report the held links: UNKNOWN when their parent's missing folders hold most of
        the scan's links (and say so at the scan level), BROKEN otherwise."""
        if self.file is None:
            return
        not_visible: dict[str, str] = {}
        for parent, missing in self.by_parent.items():
            links = sum(missing.values())
            if parent in self.empty_parents:
                # an empty folder that lost one entry (a file, a release folder) after the
                # links were made is one lost release; several entries gone, or some of its
                # links older than its last change, is what an unmounted mount point looks like
                if len(missing) > 1 or monitor.is_not_visible(parent):
                    monitor.note_not_visible(parent, LOOKS_UNMOUNTED)
                    not_visible[parent] = f"target root {parent} is empty and not a mount point: looks unmounted"
                continue
            if links >= NOT_VISIBLE_SHARE * analyzed and len(self.target_folders[parent]) > 1:
                why = (f"{links} of the scan's {analyzed} links point into it, under {parent} which exists: "
                       "the mount that should be there is not visible here")
                for folder, _ in missing.most_common(3):
                    monitor.note_not_visible(folder, f"does not exist; {why}")
                not_visible[parent] = why
        self.file.seek(0)
        for line in self.file:
            missing, fields = json.loads(line)
            problem = Problem(**fields)
            why = not_visible.get(os.path.dirname(missing))
            if why is not None:
                problem = Problem(problem.path, problem.target, UNKNOWN, 1, problem.size,
                                  why if os.path.dirname(missing) in self.empty_parents
                                  else f"target folder {missing} does not exist; {why}")
            report(problem)
        self.file.close()
        self.file = None


def _count_cached_verdict(scan: ScanContext, path: str, healthy: Healthy) -> None:
    scan.statistics["phase2_analyzed"] += 1
    scan.statistics["skipped_cached"] += 1
    if healthy.cached is not None and healthy.cached.verdict == CORRUPTED:
        scan.count(CORRUPTED, "phase2_corrupted")
        scan.on_problem(Problem(path, healthy.target, CORRUPTED, 2, healthy.size, healthy.cached.reason))
