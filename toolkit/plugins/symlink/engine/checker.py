"""The symlink scan engine: pure Python, blocking, meant to run in a worker thread.

Driven like this (the CLI and the job runner do exactly this)::

    options = ScanOptions(paths=["/media/tv"], depth="full", workers=6)
    result = run_scan(
        options,
        on_problem=lambda problem: ...,      # streamed, one call per problem found
        on_progress=lambda progress: ...,    # throttled Progress events
        should_abort=lambda: False,          # polled several times a second
        verdict_store=SqlVerdictStore(engine),  # optional phase-2 verdict cache
    )
    result.statistics["phase1_broken"], result.mounts, result.cancelled, ...

Phase 1 classifies every link in the original script's order (first match wins):
BROKEN (target missing), INACCESSIBLE (not readable), SMALL_FILE (< 1024 bytes),
IO_ERROR (reading the first 1024 bytes fails), ERROR (anything else), OK -- plus
UNKNOWN ("cannot tell") when the target's mount is down or unmounted, an errno says the
filesystem cannot answer (ENOTCONN, ESTALE, EHOSTDOWN...), or a call passes its
deadline. Phase 2 (depth ``full``/``deep``) probes OK media links with ffprobe/ffmpeg,
with bounded concurrency and a verdict cache. Problems are streamed; OK links leave only
counters behind (phase-2 candidates are spooled to a temporary file).

All callbacks are called from the thread that called :func:`run_scan`.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from .context import ProgressReporter, ScanContext, Spool
from .model import (
    BROKEN,
    CORRUPTED,
    DELETABLE_STATUSES,
    DEPTHS,
    ERROR,
    INACCESSIBLE,
    IO_ERROR,
    OK,
    SMALL_FILE,
    UNKNOWN,
    MountMemory,
    Problem,
    Progress,
    ScanOptions,
    ScanResult,
    VerdictStore,
    new_statistics,
)
from .mounts import MountMonitor
from .mounttable import is_network_fstype, is_under
from .phase1 import run_phase1
from .phase2 import Phase2
from .probe import ToolMissing, av_available, original_estimate, tool_path

# The engine's entry point: what a caller (the CLI, the service layer) needs comes from here.
__all__ = [
    "BROKEN", "CORRUPTED", "DELETABLE_STATUSES", "DEPTHS", "ERROR", "INACCESSIBLE", "IO_ERROR", "OK", "SMALL_FILE",
    "UNKNOWN", "MountMemory", "Problem", "Progress", "ScanOptions", "ScanResult", "VerdictStore", "run_scan",
]


def run_scan(
    options: ScanOptions,
    *,
    on_problem: Callable[[Problem], None] = lambda problem: None,
    on_progress: Callable[[Progress], None] | None = None,
    should_abort: Callable[[], bool] = lambda: False,
    verdict_store: VerdictStore | None = None,
    monitor: MountMonitor | None = None,
    mount_memory: MountMemory | None = None,
) -> ScanResult:
    """Scan ``options.paths``; see the module docstring. Never deletes anything.

    With ``mount_memory``, a mount point where earlier scans saw targets answering is
    "down" when it is missing now (its links UNKNOWN, ``mount_down`` set), and the FUSE /
    network mounts seen answering by this scan are remembered."""
    if options.depth == "deep" or (options.depth == "full" and options.prober == "ffprobe"):
        tool_path("ffprobe")
        if options.depth == "deep":
            tool_path("ffmpeg")
    elif options.depth == "full" and not av_available():
        raise ToolMissing("PyAV is not installed (pip install av): use the ffprobe prober")
    started = time.monotonic()
    statistics = new_statistics()
    reporter = ProgressReporter(on_progress, {})
    monitor = monitor or MountMonitor(
        timeout=options.mount_timeout, interval=options.mount_check_interval, expected_mounts=options.expected_mounts,
        known_mounts=mount_memory.known() if mount_memory is not None else None,
        concurrency=max(options.workers, options.probe_workers or 0),
    )
    result = ScanResult(options.scan_id or "", statistics, [], 0.0, False, False)

    reporter.start_phase("mounts", "checking mounts")
    for health in monitor.check_all(options.paths):
        if not health.healthy and any(is_under(p, health.mount_point) for p in options.paths):
            result.stopped_reason = f"the scanned path's mount {health.mount_point} is down: {health.reason}"

    av_prober = None
    if options.depth == "full" and options.prober == "av":
        from .avprobe import AvProber  # PyAV's machinery (sockets, processes) for this depth only

        av_prober = AvProber()

    def phase2_ahead() -> None:
        # phase 2 starts when phase 1 finds the first file to probe (none on a re-scan
        # answered by the verdict cache), its probes and the PyAV workers' start-up (~0.1 s,
        # one PyAV import then forks) overlapping phase 1 (see phase2.py)
        if av_prober is not None:
            av_prober.start_in_background(options.probe_workers or options.workers)
        phase2.start()

    spool = Spool(on_first=phase2_ahead) if options.depth != "basic" else None
    scan = ScanContext(options, monitor, result, reporter, on_problem, should_abort, verdict_store, spool, av_prober)
    phase2 = Phase2(scan)
    try:
        if result.stopped_reason is None:
            result.cancelled = run_phase1(scan)
        if spool is not None:
            spool.seal()
        if spool is not None and spool.count and not result.cancelled and result.stopped_reason is None:
            result.phase2_estimate = original_estimate(spool.count)
            result.cancelled = phase2.run()
    finally:
        phase2.stop()  # a scan phase 1 stopped drops what phase 2 probed meanwhile
        if spool is not None:
            spool.seal()
        if av_prober is not None:
            av_prober.close()
        if spool is not None:
            spool.close()
        if verdict_store is not None:
            verdict_store.flush()
    monitor.wait_for_rechecks(options.mount_timeout + 1)  # a hung folder's mount check decides mount_down
    findings = monitor.findings()
    if mount_memory is not None:
        mount_memory.remember([h for h in findings if h.healthy and not h.was_down and is_network_fstype(h.fstype)])
    result.mounts = [h.as_dict() for h in findings]
    result.mount_down = any(h.was_down for h in findings)
    result.duration_seconds = round(time.monotonic() - started, 3)
    reporter.phase = "done"
    reporter.send(statistics["total_analyzed"], None, "cancelled" if result.cancelled else "finished", force=True)
    return result
