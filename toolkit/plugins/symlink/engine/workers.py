"""Calls with a deadline, for filesystem calls that can hang: one call in a thread
(:func:`call_with_deadline`), or many on a thread pool (:class:`DeadlinePool`).

A ``stat`` on a hung FUSE mount blocks in the kernel and cannot be interrupted, so
``concurrent.futures`` would let a few such calls hold every worker forever. Here the
coordinating thread watches how long each worker has been on its current item: past the
deadline it gives up on that item (reports it as :data:`TIMED_OUT`), abandons the worker
thread (a daemon; it exits if the call ever returns), puts the rest of its batch back in
the queue and starts a replacement. After ``max_abandoned`` abandoned threads the pool
stops with :class:`TooManyHungCalls`.

Items travel in batches when they are quick (one queue operation per item costs more
than checking a local link does) and one by one when they are slow (network mounts), so
that every worker gets a share; the measured time per item decides.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
TIMED_OUT = object()
_POLL_SECONDS = 0.1
_QUICK_ITEM_SECONDS = 0.001  # below this per item, batching pays and one worker is enough
# An item shorter than a network round trip is costed by its wall time shared among the
# busy workers: that short, it mostly waited for the GIL, which n busy workers take in
# turns (12 of them made a cached re-scan's ~0.2 ms links look 1-7 ms long, so all 12
# kept running, and it took 0.25 s for 1,000 links instead of 0.17 s on fewer threads).
_WAITED_SECONDS = 0.01
# a worker this long on one item no longer counts against the concurrency limit: a read that
# rclone retries for 20 s must not keep the other links of the mount waiting
_STRAGGLER_SECONDS = 1.0


class TooManyHungCalls(RuntimeError):
    pass


class CallTimeout(TimeoutError):
    pass


def call_with_deadline(fn: Callable[..., T], *args: Any, timeout: float) -> T:
    """Run ``fn(*args)`` in a daemon thread; raise :class:`CallTimeout` past ``timeout``.

    The thread is abandoned if it hangs (a blocked syscall cannot be interrupted).
    """
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append((True, fn(*args)))
        except BaseException as exc:  # handed to the caller
            outcome.append((False, exc))

    thread = threading.Thread(target=target, daemon=True, name="symlink-deadline-call")
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise CallTimeout(f"no answer within {timeout:g}s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value




class _Worker(threading.Thread):
    def __init__(self, pool: DeadlinePool, index: int) -> None:
        super().__init__(daemon=True, name=f"symlink-worker-{index}")
        self.pool = pool
        self.index = index
        self.lock = threading.Lock()
        self.batch: list[Any] | None = None
        self.position = 0
        self.started = 0.0
        self.finished: list[tuple[Any, Any]] = []
        self.abandoned = False

    def run(self) -> None:
        pool = self.pool
        fn = pool.fn
        while not self.abandoned and not pool.stop.is_set():  # the coordinator sets stop at the end
            if not pool.may_work(self.index):
                # quick (local) items are CPU-bound under the GIL: one thread beats many;
                # past the mount's concurrency limit (back-pressure), wait. Asleep until
                # told: a thread polling here took the GIL from the working one at every
                # wake-up (one worker ran a CPU-bound load 2x slower with 11 polling)
                with pool.gate:
                    pool.gate.wait_for(lambda: pool.may_work(self.index) or pool.stop.is_set())
                continue
            try:
                batch = pool.tasks.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            with self.lock:
                self.batch, self.finished = batch, []
            for position, item in enumerate(batch):
                if pool.stop.is_set():
                    return
                self.position, self.started = position, time.monotonic()
                try:
                    result: Any = fn(item)
                except Exception as exc:  # the fn classifies errors itself; this is a bug guard
                    result = exc
                wall = time.monotonic() - self.started
                cost = wall if wall >= _WAITED_SECONDS else wall / max(1, pool.busy())
                # moving average of the cost per item (races between workers are harmless)
                pool.set_item_seconds(pool.item_seconds + (cost - pool.item_seconds) * 0.1)
                with self.lock:
                    if self.abandoned:
                        # given up on, but it answered after all: the caller may still want it
                        pool.on_late_result(item, result)
                        return
                    self.finished.append((item, result))
            with self.lock:
                finished, self.batch, self.finished = self.finished, None, []
            pool.results.put(finished)

    def give_up(self, stuck: set[int]) -> tuple[list[tuple[Any, Any]], Any, list[Any]] | None:
        """If the current item is past the deadline, or this thread is in ``stuck``:
        (done so far, late item, rest of batch)."""
        with self.lock:
            if self.batch is None or self.abandoned:
                return None
            if time.monotonic() - self.started <= self.pool.current_deadline and self.ident not in stuck:
                return None
            self.abandoned = True
            late = self.batch[self.position]
            return self.finished, late, self.batch[self.position + 1:]


class DeadlinePool:
    """Run ``fn(item)`` on ``workers`` threads; yield ``(item, result)`` in completion order.

    ``result`` is what ``fn`` returned, the exception it raised, or :data:`TIMED_OUT`.
    Items are pulled from the iterable by a feeder thread through a bounded queue, so a
    streaming walk is never held in memory. ``stuck()`` names threads to give up at once
    (their calls wait on a mount declared hung), whatever their deadline. ``concurrency()``
    is how many items may be in progress (back-pressure; workers long on one item do not
    count), ``deadline_for(deadline)`` the deadline as the observed latency calls for it.
    An abandoned call that returns after all is passed to ``on_late_result(item, result)``.
    """

    def __init__(self, fn: Callable[[Any], Any], *, workers: int, deadline: float, max_abandoned: int = 64,
                 batch_size: int = 32, stuck: Callable[[], set[int]] = set,
                 concurrency: Callable[[], int] | None = None,
                 deadline_for: Callable[[float], float] | None = None,
                 on_late_result: Callable[[Any, Any], None] = lambda item, result: None) -> None:
        self.fn = fn
        self.on_late_result = on_late_result  # called from the abandoned worker's thread
        self.stuck = stuck
        self.concurrency = concurrency
        self.deadline_for = deadline_for
        self.current_deadline = deadline
        self.allowed = workers
        self.workers_count = max(1, workers)
        self.deadline = deadline
        self.max_abandoned = max_abandoned
        self.batch_size = max(1, batch_size)
        self.tasks: queue.Queue[Any] = queue.Queue(maxsize=self.workers_count * 4)
        self.results: queue.Queue[list[tuple[Any, Any]]] = queue.Queue()
        self.stop = threading.Event()
        self.gate = threading.Condition()  # idle workers wait on it; told when they may work or stop
        self.abandoned = 0
        self.item_seconds = 1.0  # assume slow until measured: start one item at a time
        self.workers: list[_Worker] = []

    def may_work(self, index: int) -> bool:
        return index == 0 or (self.item_seconds >= _QUICK_ITEM_SECONDS and index < self.allowed)

    def set_item_seconds(self, seconds: float) -> None:
        quick = self.item_seconds < _QUICK_ITEM_SECONDS
        self.item_seconds = seconds
        if quick and seconds >= _QUICK_ITEM_SECONDS:
            self._wake()

    def set_allowed(self, allowed: int) -> None:
        if allowed != self.allowed:
            self.allowed = allowed
            self._wake()

    def _wake(self) -> None:
        with self.gate:
            self.gate.notify_all()

    def busy(self) -> int:
        return sum(1 for worker in self.workers if worker.batch is not None)

    def _put(self, batch: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.tasks.put(batch, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def run(self, items: Iterable[Any], should_abort: Callable[[], bool] = lambda: False,
            on_tick: Callable[[], None] = lambda: None) -> Iterator[tuple[Any, Any]]:
        """``on_tick`` is called from the coordinating thread at least every ``_POLL_SECONDS``."""
        fed = [0]
        feeding_done = threading.Event()
        feed_error: list[BaseException] = []

        def feed() -> None:
            batch: list[Any] = []
            try:
                for item in items:
                    batch.append(item)
                    if len(batch) >= (self.batch_size if self.item_seconds < _QUICK_ITEM_SECONDS else 1):
                        fed[0] += len(batch)
                        if not self._put(batch):
                            return
                        batch = []
                if batch:
                    fed[0] += len(batch)
                    self._put(batch)
            except BaseException as exc:  # surfaced to the caller below
                feed_error.append(exc)
            finally:
                feeding_done.set()
                self.results.put([])  # wake the coordinator now, not at its next poll (an empty walk: 0.1 s)

        workers = self.workers = [_Worker(self, index) for index in range(self.workers_count)]
        feeder = threading.Thread(target=feed, daemon=True, name="symlink-feeder")
        feeder.start()
        for worker in workers:
            worker.start()
        finished = 0
        last_watch = time.monotonic()
        try:
            while True:
                if should_abort():
                    return
                try:
                    done = self.results.get(timeout=_POLL_SECONDS)
                    finished += len(done)
                    yield from done
                except queue.Empty:
                    pass
                on_tick()
                now = time.monotonic()
                if now - last_watch >= _POLL_SECONDS:
                    last_watch = now
                    if self.deadline_for is not None:
                        self.current_deadline = self.deadline_for(self.deadline)
                    if self.concurrency is not None:
                        stragglers = sum(1 for w in workers if w.batch is not None
                                         and now - w.started > _STRAGGLER_SECONDS)
                        self.set_allowed(self.concurrency() + stragglers)
                    stuck = self.stuck()
                    for index, worker in enumerate(workers):
                        late = worker.give_up(stuck)
                        if late is None:
                            continue
                        done_so_far, late_item, rest = late
                        self.set_item_seconds(self.current_deadline)  # items are not quick here: wake every worker
                        self.abandoned += 1
                        if self.abandoned > self.max_abandoned:
                            raise TooManyHungCalls(f"{self.abandoned} filesystem calls hung past "
                                                   f"{self.current_deadline:g}s")
                        workers[index] = _Worker(self, index)
                        workers[index].start()
                        if rest:
                            # back in the queue from another thread: the feeder may be blocked on a full queue
                            threading.Thread(target=self._put, args=(rest,), daemon=True).start()
                        finished += len(done_so_far) + 1
                        yield from done_so_far
                        yield late_item, TIMED_OUT
                if feed_error:
                    raise feed_error[0]
                if feeding_done.is_set() and finished >= fed[0] and self.results.empty():
                    return
        finally:
            self.stop.set()
            self._wake()
