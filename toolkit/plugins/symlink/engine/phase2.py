"""Phase 2 of a scan: the OK media links probed (depth ``full``: the header query with
PyAV in long-lived processes, or ffprobe in parity mode; ``deep``: ffprobe/ffmpeg), with
bounded concurrency, deadlines and the verdict cache."""
from __future__ import annotations

import os
from typing import Any

from .classify import describe_error, safe_readlink, unreadable
from .context import ScanContext
from .late import LATE_RETRY_FACTOR, Late, late_or_down, mount_feedback, target_of
from .model import CORRUPTED, IO_ERROR, OK, UNKNOWN, Problem
from .mounttable import lexical_target
from .phase1 import PHASE1_KEYS
from .probe import ProbeVerdict, probe
from .workers import TIMED_OUT, DeadlinePool, TooManyHungCalls


def run_phase2(scan: ScanContext) -> bool:
    """Phase 2 of ``scan`` on the media links phase 1 spooled; True when it was cancelled."""
    options, monitor, spool, result, reporter = scan.options, scan.monitor, scan.spool, scan.result, scan.reporter
    statistics, count, on_problem, should_abort = scan.statistics, scan.count, scan.on_problem, scan.should_abort
    store = scan.verdict_store
    assert spool is not None
    depth = options.depth
    total = spool.count
    reporter.start_phase("phase2", f"phase 2 ({depth}): {total} media files, original estimate {result.phase2_estimate}", total)
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

    samples = options.deep_samples if depth == "deep" else 0
    deadline = options.probe_timeout * (2 + samples) + options.fs_timeout
    late = Late()
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

    workers = options.probe_workers or options.workers
    pool = DeadlinePool(verifier(1), workers=workers, deadline=deadline, max_abandoned=options.max_hung_calls,
                        on_late_result=late.deliver, **mount_feedback(monitor))
    try:
        for path, outcome in pool.run(iter(spool), should_abort, monitor.watch):
            settle(path, outcome, False)
        for path, outcome in late.retry(verifier(LATE_RETRY_FACTOR), workers=workers,
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
