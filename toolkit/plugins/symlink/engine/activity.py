"""A scan's calls on one mount (:class:`MountActivity`): latency figures, failures, and
the mount's concurrency limit (AIMD back-pressure)."""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

# a mount is "degraded" (slow, yet answering) past these figures, or with any failed call
DEGRADED_P95_SECONDS = 1.0
DEGRADED_MEDIAN_SECONDS = 0.25
ACTIVITY_KEYS = ("calls", "errors", "late", "latency_median_ms", "latency_p95_ms", "latency_max_ms",
                 "concurrency_lowest")
_LATENCY_SAMPLES = 4096


@dataclass
class TrackedCall:
    failed: bool = False
    good: str | None = None  # a file this call read successfully
    # the call needed the server (it read data): only such answers prove the mount alive,
    # as rclone answers attributes and listings from its caches even when the server hangs
    remote: bool = False
    # of the call's time, what this machine spent (a probe process's start and its CPU,
    # see probe.run_timed): left out of the mount's latency, or a busy machine would read
    # as a slow mount and the back-pressure would cut the concurrency for nothing
    local_seconds: float = 0.0


# Back-pressure per mount (AIMD): a call slower than this many times the recent average
# (and than SLOW_FLOOR_SECONDS), or a failed one, halves the mount's concurrency (at most
# once per average round trip); every other call adds 1/limit (one more call in flight
# per round of calls).
SLOW_FACTOR = 3.0
SLOW_FLOOR_SECONDS = 0.5
# deadlines follow the latency: an item's deadline is at least this many times the p95
DEADLINE_P95_FACTOR = 4.0


class MountActivity:
    """The scan's calls on one mount: those in flight (for liveness), the latency of those
    that came back (a bounded random sample), failures, late calls, and the mount's
    concurrency limit (AIMD)."""

    def __init__(self, ceiling: int = 64) -> None:
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.average = 0.0  # exponential moving average of the latency
        self.last_decrease = 0.0
        self.lowest_limit = float(ceiling)
        self.pending: dict[int, tuple[float, int]] = {}  # token -> (start, thread ident)
        self.last_completion = time.monotonic()
        self.calls = self.errors = self.late = 0
        self.max_seconds = 0.0
        self.samples: list[float] = []
        self.good_file: str | None = None  # a file read successfully lately: the liveness probe's
        self.probe: threading.Thread | None = None

    def record(self, seconds: float, failed: bool, remote: bool = True) -> None:
        now = time.monotonic()
        if remote:
            self.last_completion = now
        slow = self.calls > 0 and seconds > max(SLOW_FLOOR_SECONDS, SLOW_FACTOR * self.average)
        if failed or slow:
            if now - self.last_decrease >= self.average:
                self.limit = max(1.0, self.limit / 2)
                self.lowest_limit = min(self.lowest_limit, self.limit)
                self.last_decrease = now
        else:
            self.limit = min(float(self.ceiling), self.limit + 1 / self.limit)
        self.average = seconds if self.calls == 0 else self.average + 0.1 * (seconds - self.average)
        self.calls += 1
        self.errors += failed
        self.max_seconds = max(self.max_seconds, seconds)
        if len(self.samples) < _LATENCY_SAMPLES:
            self.samples.append(seconds)
        else:  # reservoir sampling: every call has the same chance to be in the sample
            slot = random.randrange(self.calls)
            if slot < _LATENCY_SAMPLES:
                self.samples[slot] = seconds

    def quiet_since(self) -> float | None:
        """Since when nothing completed while calls were pending (None: nothing pending)."""
        if not self.pending:
            return None
        oldest = min(start for start, _ in self.pending.values())
        return max(oldest, self.last_completion)

    def percentile(self, share: float) -> float | None:
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def figures(self) -> dict[str, Any]:
        median, p95 = self.percentile(0.5), self.percentile(0.95)
        degraded = bool(self.errors or self.late or (median or 0) > DEGRADED_MEDIAN_SECONDS
                        or (p95 or 0) > DEGRADED_P95_SECONDS)
        milliseconds = lambda value: None if value is None else round(value * 1000, 1)  # noqa: E731
        return {"calls": self.calls, "errors": self.errors, "late": self.late,
                "concurrency_lowest": int(self.lowest_limit),
                "latency_median_ms": milliseconds(median), "latency_p95_ms": milliseconds(p95),
                "latency_max_ms": milliseconds(self.max_seconds if self.calls else None), "degraded": degraded}

