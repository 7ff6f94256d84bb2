"""A thread pool whose calls have a deadline, for filesystem calls that can hang.

A ``stat`` on a hung FUSE mount blocks in the kernel and cannot be interrupted, so
``concurrent.futures`` would let a few such calls hold every worker forever. Here the
coordinating thread watches how long each worker has been busy: past the deadline it
gives up on that item (reports it as :data:`TIMED_OUT`), abandons the worker thread (a
daemon; it exits if the call ever returns) and starts a replacement. After
``max_abandoned`` abandoned threads the pool stops with :class:`TooManyHungCalls`.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

TIMED_OUT = object()
_POLL_SECONDS = 0.1
_DONE = object()


class TooManyHungCalls(RuntimeError):
    pass


class _Worker(threading.Thread):
    def __init__(self, pool: DeadlinePool) -> None:
        super().__init__(daemon=True, name="symlink-worker")
        self.pool = pool
        self.current: tuple[Any, float] | None = None
        self.abandoned = False

    def run(self) -> None:
        pool = self.pool
        while not self.abandoned and not pool.stop.is_set():
            try:
                item = pool.tasks.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if item is _DONE:
                pool.tasks.put(_DONE)  # let the other workers see it too
                return
            self.current = (item, time.monotonic())
            try:
                result: Any = pool.fn(item)
            except BaseException as exc:  # the fn classifies errors itself; this is a bug guard
                result = exc
            with pool.lock:
                self.current = None
                if self.abandoned:
                    return
                pool.results.put((item, result))


class DeadlinePool:
    """Run ``fn(item)`` on ``workers`` threads; yield ``(item, result)`` in completion order.

    ``result`` is what ``fn`` returned, the exception it raised, or :data:`TIMED_OUT`.
    Items are pulled from the iterable by a feeder thread through a bounded queue, so a
    streaming walk is never held in memory.
    """

    def __init__(
        self,
        fn: Callable[[Any], Any],
        *,
        workers: int,
        deadline: float,
        max_abandoned: int = 64,
    ) -> None:
        self.fn = fn
        self.workers_count = max(1, workers)
        self.deadline = deadline
        self.max_abandoned = max_abandoned
        self.tasks: queue.Queue[Any] = queue.Queue(maxsize=self.workers_count * 64)
        self.results: queue.Queue[tuple[Any, Any]] = queue.Queue()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.abandoned = 0

    def run(self, items: Iterable[Any], should_abort: Callable[[], bool] = lambda: False) -> Iterator[tuple[Any, Any]]:
        fed = [0]
        feeding_done = threading.Event()
        feed_error: list[BaseException] = []

        def feed() -> None:
            try:
                for item in items:
                    while not self.stop.is_set():
                        try:
                            self.tasks.put(item, timeout=_POLL_SECONDS)
                            break
                        except queue.Full:
                            continue
                    if self.stop.is_set():
                        return
                    fed[0] += 1
            except BaseException as exc:  # surfaced to the caller below
                feed_error.append(exc)
            finally:
                feeding_done.set()
                try:
                    self.tasks.put(_DONE, timeout=1)
                except queue.Full:
                    pass

        workers = [_Worker(self) for _ in range(self.workers_count)]
        feeder = threading.Thread(target=feed, daemon=True, name="symlink-feeder")
        feeder.start()
        for worker in workers:
            worker.start()
        finished = 0
        try:
            while True:
                if should_abort():
                    return
                try:
                    item, result = self.results.get(timeout=_POLL_SECONDS)
                    finished += 1
                    yield item, result
                except queue.Empty:
                    pass
                now = time.monotonic()
                for index, worker in enumerate(workers):
                    with self.lock:
                        current = worker.current
                        late = current is not None and now - current[1] > self.deadline and not worker.abandoned
                        if late:
                            worker.abandoned = True
                            worker.current = None
                    if not late:
                        continue
                    self.abandoned += 1
                    if self.abandoned > self.max_abandoned:
                        raise TooManyHungCalls(f"{self.abandoned} filesystem calls hung past {self.deadline:g}s")
                    replacement = _Worker(self)
                    workers[index] = replacement
                    replacement.start()
                    finished += 1
                    yield current[0], TIMED_OUT
                if feed_error:
                    raise feed_error[0]
                if feeding_done.is_set() and finished >= fed[0] and self.results.empty():
                    return
        finally:
            self.stop.set()
