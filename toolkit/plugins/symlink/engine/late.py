"""Items past their deadline: a second chance at the end of their phase (see :class:`Late`)."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from .classify import safe_readlink
from .mounts import MountMonitor
from .mounttable import lexical_target
from .workers import DeadlinePool

# A link whose checks passed their deadline gets a second chance at the end of its phase
# before it is UNKNOWN: a flaky mount answers late at times, and one slow call must not
# make a verdict. A call still in flight is waited for up to LATE_WAIT_FACTOR times the
# deadline (5 min by default, rclone's own --timeout) as long as its mount is alive: a
# read that rclone retries with its default flags takes ~25 s alone, and k of them at
# once take ~k x 25 s (they share rclone's pacer). A call that ended (a probe killed at
# its timeout) is made again with LATE_RETRY_FACTOR times the deadline.
LATE_RETRY_FACTOR = 3
LATE_WAIT_FACTOR = 30
_MAX_LATE = 10_000  # late links kept in memory for that retry; past this they are UNKNOWN


def mount_feedback(monitor: MountMonitor) -> dict[str, Any]:
    """What a pool learns from the mounts: threads to give up (hung mount), the concurrency
    limit (back-pressure) and the deadline (observed latency)."""
    return {"stuck": monitor.stuck_threads, "concurrency": monitor.concurrency_limit, "deadline_for": monitor.deadline}


class Late:
    """Items that passed their deadline, settled at the end of the phase with a longer one.

    The call that passed its deadline is usually still running (its thread was given up,
    not stopped): through rclone a second request for the same file would only queue
    behind the first one's retries, on the pacer every call shares. So an item whose call
    is still in flight gets its answer from that call, if it comes within the longer
    deadline (:meth:`deliver`, from the pool's ``on_late_result``); an item whose call
    ended (a probe killed at its timeout) is called again, with the longer deadline."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bool]] = []  # (path, its call still in flight)
        self.open: set[str] = set()
        self.answers: dict[str, Any] = {}
        self.lock = threading.Lock()

    def defer(self, path: str, in_flight: bool) -> bool:
        if len(self.items) >= _MAX_LATE:
            return False
        self.items.append((path, in_flight))
        self.open.add(path)
        return True

    def deliver(self, path: str, outcome: Any) -> None:
        with self.lock:
            self.answers[path] = outcome

    def retry(self, fn, *, workers: int, deadline: float, wait: float, max_abandoned: int, monitor: MountMonitor,
              should_abort, on_tick) -> Iterator[tuple[str, Any]]:
        """Every deferred item's answer: ``fn`` again with ``deadline`` for an item whose call
        ended, the call in flight for up to ``wait`` from now (while its mount is not hung)."""
        ends = time.monotonic() + wait
        again = [path for path, in_flight in self.items if not in_flight]
        if again:
            pool = DeadlinePool(fn, workers=workers, deadline=deadline, max_abandoned=max_abandoned,
                                **mount_feedback(monitor))
            for path, outcome in pool.run(iter(again), should_abort, on_tick):
                self.open.discard(path)
                yield path, outcome
        waiting = [path for path, in_flight in self.items if in_flight]
        while waiting and not should_abort():
            with self.lock:
                arrived = [path for path in waiting if path in self.answers]
            for path in arrived:
                waiting.remove(path)
                self.open.discard(path)
                yield path, self.answers.pop(path)
            if not waiting or time.monotonic() > ends or all(monitor.is_hung(target_of(p)) for p in waiting):
                break
            on_tick()
            time.sleep(0.1)


def target_of(path: str) -> str:
    return lexical_target(path, safe_readlink(path))


def late_or_down(path: str, monitor: MountMonitor) -> tuple[str, str, str | None]:
    """(target, absolute target, why UNKNOWN now) for an item past its deadline. Never
    blocks: the mount's last known health, and a re-check started in the background."""
    target = safe_readlink(path)  # the link itself is local: lstat-level, no hang
    absolute_target = lexical_target(path, target)
    known = monitor.recheck_soon(absolute_target)
    if known is not None and not known.healthy:
        return target, absolute_target, f"mount {known.mount_point} is down: {known.reason}"
    return target, absolute_target, None
