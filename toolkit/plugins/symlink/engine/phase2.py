"""Phase 2 of a scan: the OK media links probed (depth ``full``: the header query with
PyAV in long-lived processes, or ffprobe in parity mode; ``deep``: ffprobe/ffmpeg), with
bounded concurrency, deadlines and the verdict cache.

The probes start while phase 1 runs (:class:`Phase2`, started when phase 1 spools its
first media link): on a mount, a first ``full`` scan is made of one paced request per
media link, and phase 1's own time (no request for a mount link whose folder rclone has
listed) would otherwise come before the first one. Their outcomes wait in memory and are
settled -- counted, reported, cached, late ones retried -- after phase 1, in the scan's
thread, as if phase 2 had started then; a scan that phase 1 stops (mount down,
cancelled) drops them.
"""
from __future__ import annotations

import os
import queue
import threading
from typing import Any

from .classify import describe_error, safe_readlink, unreadable
from .context import ScanContext
from .late import LATE_RETRY_FACTOR, Late, late_or_down, mount_feedback, target_of
from .model import CORRUPTED, IO_ERROR, OK, UNKNOWN, Problem
from .mounttable import lexical_target
from .phase1 import PHASE1_KEYS
from .probe import ProbeVerdict, probe
from .workers import TIMED_OUT, DeadlinePool, TooManyHungCalls


class Phase2:
    """Phase 2 of ``scan``: :meth:`start` (from phase 1, once) probes the spooled links as
    they come; :meth:`run` (after phase 1) settles them; :meth:`stop` drops them."""

    def __init__(self, scan: ScanContext) -> None:
        self.scan = scan
        options = scan.options
        samples = options.deep_samples if options.depth == "deep" else 0
        self.deadline = options.probe_timeout * (2 + samples) + options.fs_timeout
        self.workers = options.probe_workers or options.workers
        self.late = Late()
        self.verifier = _verifier(scan)
        self.outcomes: queue.Queue[Any] = queue.Queue()
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.lock:
            if self.thread is not None or self.stopped.is_set():
                return
            self.thread = threading.Thread(target=self._probe, daemon=True, name="symlink-phase2")
            self.thread.start()

    def stop(self) -> None:
        self.stopped.set()

    def _probe(self) -> None:
        scan, spool = self.scan, self.scan.spool
        assert spool is not None
        pool = DeadlinePool(self.verifier(1), workers=self.workers, deadline=self.deadline,
                            max_abandoned=scan.options.max_hung_calls, on_late_result=self.late.deliver,
                            **mount_feedback(scan.monitor))

        def tick() -> None:  # while phase 1 runs, its own pool watches the mounts
            if spool.sealed:
                scan.monitor.watch()

        try:
            for outcome in pool.run(spool.follow(), lambda: self.stopped.is_set() or scan.should_abort(), tick):
                self.outcomes.put(outcome)
        except BaseException as exc:  # TooManyHungCalls and bugs: raised in the scan's thread
            self.outcomes.put(exc)
        finally:
            self.outcomes.put(None)

    def run(self) -> bool:
        """Settle phase 2 (phase 1 has ended); True when the scan was cancelled."""
        self.start()  # phase 1 spooled nothing itself (links held back, late ones): start now
        return _settle_all(self.scan, self)


def _verifier(scan: ScanContext):
    options, monitor, store = scan.options, scan.monitor, scan.verdict_store
    depth = options.depth
    # the header query without a process start per file (see avprobe.py); its workers
    # were started with phase 1
    av_prober = scan.av_prober if depth == "full" and options.prober == "av" else None

    def verifier(factor: float):
        def verify(path: str) -> tuple[ProbeVerdict | Problem, bool, tuple[str, int, int] | None]:
            link = safe_readlink(path)
            target = lexical_target(path, link)
            health = monitor.health_of(target)
            if not health.healthy:
                return ProbeVerdict(UNKNOWN, f"mount {health.mount_point} is down: {health.reason}"), False, None
            with monitor.call_on(target) as call:
                try:
                    info = os.stat(path)
                    identity = (target, info.st_size, info.st_mtime_ns)  # the key of LinkClassifier._recent_verdict
                except OSError as exc:
                    call.failed = True
                    return ProbeVerdict(UNKNOWN, f"stat before probing failed: {describe_error(exc)}"), False, None
                if store is not None:
                    cached = store.get(*identity, depth, options.recheck_age_seconds)
                    if cached is not None:
                        return cached, True, identity
                if av_prober is not None:
                    try:  # phase 1 left the read check to this probe (LinkClassifier.defer_media_reads)
                        verdict = av_prober.probe(path, timeout=options.probe_timeout * factor, read_check=True)
                    except OSError as exc:
                        unread = unreadable(path, link, exc, info.st_size, monitor)
                        call.failed = True
                        call.remote = unread.status == IO_ERROR
                        return unread, False, identity
                else:
                    verdict = probe(path, depth, timeout=options.probe_timeout * factor, samples=options.deep_samples)
                call.failed = verdict.verdict == UNKNOWN
                call.remote = verdict.verdict != UNKNOWN  # the probe read the file
                call.local_seconds = verdict.local_seconds  # not the mount's latency (process start, CPU)
                if verdict.verdict == OK:
                    call.good = path
            if verdict.verdict == UNKNOWN and not verdict.late:
                monitor.report_failure(target)
            return verdict, False, identity
        return verify
    return verifier


def _settle_all(scan: ScanContext, phase: Phase2) -> bool:
    options, monitor, spool, result, reporter = scan.options, scan.monitor, scan.spool, scan.result, scan.reporter
    statistics, count, on_problem, should_abort = scan.statistics, scan.count, scan.on_problem, scan.should_abort
    store = scan.verdict_store
    assert spool is not None
    depth = options.depth
    total = spool.count
    reporter.start_phase("phase2", f"phase 2 ({depth}): {total} media files, original estimate {result.phase2_estimate}", total)
    late, deadline, workers = phase.late, phase.deadline, phase.workers
    done = 0

    def settle(path: str, outcome: Any, retried: bool) -> None:
        nonlocal done
        timed_out = outcome is TIMED_OUT
        if outcome is TIMED_OUT or isinstance(outcome, BaseException):
            down = late_or_down(path, monitor)[2] if outcome is TIMED_OUT else None
            why = down or ("probe hung past its deadline" if outcome is TIMED_OUT
                           else f"{type(outcome).__name__}: {outcome}")
            outcome = (ProbeVerdict(UNKNOWN, why, late=outcome is TIMED_OUT and down is None), False, None)
        verdict, cached, identity = outcome
        if isinstance(verdict, Problem):  # phase 1's read check failed: that link was not OK after all
            done += 1
            count(OK, "phase1_ok", -1)
            count(verdict.status, PHASE1_KEYS[verdict.status])
            on_problem(verdict)
            reporter.send(done, total, f"phase 2 ({depth}): {done}/{total}")
            return
        if verdict.late and not retried:
            monitor.note_late(target_of(path))
            if late.defer(path, in_flight=timed_out):
                return
        done += 1
        statistics["phase2_analyzed"] += 1
        statistics["skipped_cached" if cached else "phase2_probed"] += 1
        if store is not None and identity is not None and not cached and verdict.verdict != UNKNOWN:
            store.put(*identity, depth, verdict)
        if verdict.verdict == CORRUPTED:
            count(CORRUPTED, "phase2_corrupted")
        elif verdict.verdict == UNKNOWN:
            count(UNKNOWN, "phase2_unknown")
        if verdict.verdict != OK:
            # the size from the probe's own stat: the coordinator never touches the mount
            size = identity[1] if identity is not None else 0
            on_problem(Problem(path, safe_readlink(path), verdict.verdict, 2, size, verdict.reason))
        reporter.send(done, total, f"phase 2 ({depth}): {done}/{total}")

    try:
        while (outcome := phase.outcomes.get()) is not None:
            if isinstance(outcome, BaseException):
                raise outcome
            settle(*outcome, False)
        for path, outcome in late.retry(phase.verifier(LATE_RETRY_FACTOR), workers=workers,
                                        deadline=deadline * LATE_RETRY_FACTOR, wait=deadline * LATE_RETRY_FACTOR,
                                        max_abandoned=options.max_hung_calls,
                                        monitor=monitor, should_abort=should_abort, on_tick=monitor.watch):
            settle(path, outcome, True)
    except TooManyHungCalls as exc:
        result.stopped_reason = f"{exc}: the filesystem is not answering"
    finally:
        for path in late.open:
            settle(path, (ProbeVerdict(UNKNOWN, "probe passed its deadline; not retried (the scan stopped)"),
                          False, None), True)
    return should_abort()
