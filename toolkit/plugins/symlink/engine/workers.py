"""A thread pool whose calls have a deadline, for filesystem calls that can hang.

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

import json
import os
import queue
import select
import stat as stat_module
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any, BinaryIO

from .mounts import is_under, lexical_target

TIMED_OUT = object()
_POLL_SECONDS = 0.1
_QUICK_ITEM_SECONDS = 0.001  # below this per item, batching pays and one worker is enough
_IDLE_SECONDS = 0.02
# a worker this long on one item no longer counts against the concurrency limit: a read that
# rclone retries for 20 s must not keep the other links of the mount waiting
_STRAGGLER_SECONDS = 1.0


class TooManyHungCalls(RuntimeError):
    pass


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
            if self.index > 0 and (pool.item_seconds < _QUICK_ITEM_SECONDS or self.index >= pool.allowed):
                # quick (local) items are CPU-bound under the GIL: one thread beats many;
                # past the mount's concurrency limit (back-pressure), wait
                time.sleep(_IDLE_SECONDS)
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
                # moving average of the time per item (races between workers are harmless)
                pool.item_seconds += (time.monotonic() - self.started - pool.item_seconds) * 0.1
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
        self.abandoned = 0
        self.item_seconds = 1.0  # assume slow until measured: start one item at a time

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

        workers = [_Worker(self, index) for index in range(self.workers_count)]
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
                        self.allowed = self.concurrency() + stragglers
                    stuck = self.stuck()
                    for index, worker in enumerate(workers):
                        late = worker.give_up(stuck)
                        if late is None:
                            continue
                        done_so_far, late_item, rest = late
                        self.item_seconds = self.current_deadline  # items are not quick here: wake every worker
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


# ----------------------------------------------------------------------------- quick local processes
#
# Checking a local link is CPU-bound under the GIL, so threads cannot go faster than one
# core. Worker *processes* settle the plain cases -- a link whose target sits on a local
# filesystem and passes every phase-1 check -- and send back only counters, the media
# links (for phase 2) and the links they did not settle, which the caller classifies in
# full (problems are rare). They never decide a problem: anything unusual goes back.
# A worker whose batch passes the deadline (a chain of links into a hung mount, a FIFO)
# is killed and its whole batch goes back; processes are not used for the rest of the scan.

QUICK_BATCH = 1024  # links per hand-over; a walk shorter than one batch uses no process
_FRAME = struct.Struct("!Q")
# A worker imports this module and mounts.py only (standard library, no site-packages):
# the packages above are stand-ins, so their __init__ files (pluggy...) are not run; it
# keeps each worker at ~11 MiB.
_WORKER_BOOTSTRAP = """
import sys, types
for name in ("toolkit", "toolkit.plugins", "toolkit.plugins.symlink", "toolkit.plugins.symlink.engine"):
    package = types.ModuleType(name)
    package.__path__ = [sys.argv[1] + "/" + name.replace(".", "/")]
    sys.modules[name] = package
from toolkit.plugins.symlink.engine.workers import _quick_worker_main
_quick_worker_main()
"""


@dataclass
class QuickRules:
    """What a worker process needs to settle a link: the rules are the classifier's."""

    mounts: list[tuple[str, bool]]  # mount point, local (quick) or not; longest first
    root_reads_everything: bool
    small_files_all: bool
    sidecar_extensions: list[str]
    media_extensions: list[str]
    media_to_caller: bool  # media links go back unsettled (a verdict cache applies to them)
    media_paths_wanted: bool  # settled media links are sent back (phase 2 probes them)
    small_bytes: int
    read_bytes: int


def _send_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(_FRAME.pack(len(payload)) + payload)
    stream.flush()


def _read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(_FRAME.size)
    if len(header) < _FRAME.size:
        return None
    (size,) = _FRAME.unpack(header)
    payload = stream.read(size)
    return payload if len(payload) == size else None


def _join(paths: list[str]) -> bytes:
    return "\0".join(paths).encode("utf-8", "surrogateescape")


def _split(data: bytes) -> list[str]:
    return data.decode("utf-8", "surrogateescape").split("\0") if data else []


class _QuickChecker:
    """The subset of ``LinkClassifier`` that answers "OK" without any doubt."""

    def __init__(self, rules: QuickRules) -> None:
        self.rules = rules
        self.sidecar = frozenset(rules.sidecar_extensions)
        self.media = frozenset(rules.media_extensions)
        self.mount_of_folder: dict[str, str | None] = {}  # folder -> local mount point, None if not local
        self.touched: set[str] = set()

    def _local_mount(self, absolute_target: str) -> str | None:
        folder = absolute_target.rpartition("/")[0] or "/"
        if folder in self.mount_of_folder:
            return self.mount_of_folder[folder]
        found = None
        for mount_point, local in self.rules.mounts:
            # a target that is itself a mount point is left to the caller
            if absolute_target == mount_point:
                return None
            if is_under(absolute_target, mount_point):
                found = mount_point if local else None
                break
        if len(self.mount_of_folder) > 50_000:
            self.mount_of_folder.clear()
        self.mount_of_folder[folder] = found
        return found

    def settle(self, path: str) -> bool | None:
        """True: OK media link; False: OK other link; None: the caller decides."""
        rules = self.rules
        try:
            target = os.readlink(path)
        except OSError:
            return None
        mount_point = self._local_mount(lexical_target(path, target))
        if mount_point is None:
            return None
        self.touched.add(mount_point)
        try:
            info = os.stat(path)
        except OSError:
            return None
        if not stat_module.S_ISREG(info.st_mode):
            return None
        if not rules.root_reads_everything and not os.access(path, os.R_OK):
            return None
        extension = os.path.splitext(path)[1].lower()
        if info.st_size < rules.small_bytes and (rules.small_files_all or extension not in self.sidecar):
            return None
        is_media = extension in self.media
        if is_media and rules.media_to_caller:
            return None
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.read(descriptor, rules.read_bytes)
            finally:
                os.close(descriptor)
        except OSError:
            return None
        return is_media


def _quick_worker_main() -> None:
    """A worker process: frames of NUL-separated links in, one reply frame per batch out."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    config = _read_frame(stdin)
    if config is None:
        return
    checker = _QuickChecker(QuickRules(**json.loads(config)))
    while (frame := _read_frame(stdin)) is not None:
        ok = media_count = 0
        unsettled: list[str] = []
        media: list[str] = []
        for path in _split(frame):
            outcome = checker.settle(path)
            if outcome is None:
                unsettled.append(path)
            else:
                ok += 1
                if outcome:
                    media_count += 1
                    if checker.rules.media_paths_wanted:
                        media.append(path)
        header = json.dumps({"ok": ok, "media": media_count, "unsettled": len(unsettled),
                             "touched": sorted(checker.touched)})
        checker.touched.clear()
        _send_frame(stdout, header.encode() + b"\n" + _join(unsettled + media))


@dataclass
class QuickTally:
    ok: int = 0
    media: int = 0
    touched: set[str] = field(default_factory=set)


class _Process:
    def __init__(self, rules: QuickRules) -> None:
        package_root = str(Path(__file__).resolve().parents[4])
        self.popen = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WORKER_BOOTSTRAP, package_root], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, close_fds=True,
        )
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self.stdin, self.stdout = self.popen.stdin, self.popen.stdout
        self.batch: list[str] | None = None
        self.sent_at = 0.0
        _send_frame(self.stdin, json.dumps(asdict(rules)).encode())

    def send(self, batch: list[str]) -> None:
        self.batch, self.sent_at = batch, time.monotonic()
        _send_frame(self.stdin, _join(batch))

    def stop(self) -> None:
        """An idle worker exits when its input ends (so its resources are accounted);
        a busy or unresponsive one is killed."""
        if self.batch is None:
            try:
                self.stdin.close()
                self.popen.wait(timeout=1)
                return
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self) -> None:
        try:
            self.popen.kill()
        except OSError:
            pass
        # a process stuck in the kernel on a hung mount dies only when the call returns:
        # reap it in the background, never wait for it here
        threading.Thread(target=self.popen.wait, daemon=True, name="symlink-quick-reaper").start()


class QuickLocalPool:
    """Settle plain local links in ``processes`` worker processes (see above).

    :meth:`unsettled` runs in one thread (the deadline pool's feeder): it yields the links
    the workers did not settle; the settled ones are added to a tally that another thread
    collects with :meth:`take`, and media links are passed to ``on_media`` (same thread).
    """

    def __init__(self, rules: QuickRules, *, processes: int, deadline: float,
                 on_media: Callable[[list[str]], None] = lambda paths: None) -> None:
        self.rules = rules
        self.processes_count = processes
        self.deadline = deadline
        self.on_media = on_media
        self.processes: list[_Process] = []
        self.lock = threading.Lock()
        self.tally = QuickTally()
        self.closed = False
        self.given_up: str | None = None  # why processes stopped being used, if they did

    def take(self) -> QuickTally:
        with self.lock:
            tally, self.tally = self.tally, QuickTally()
        return tally

    def close(self) -> None:
        with self.lock:
            self.closed = True
            processes, self.processes = self.processes, []
        for process in processes:
            process.stop()

    def _give_up(self, why: str) -> None:
        if self.given_up is None:
            self.given_up = why

    def unsettled(self, links: Iterable[str]) -> Iterator[str]:
        iterator = iter(links)
        first = list(islice(iterator, QUICK_BATCH))
        if self.processes_count < 1 or len(first) < QUICK_BATCH:
            yield from first
            yield from iterator
            return
        try:
            for _ in range(self.processes_count):
                with self.lock:
                    if self.closed:
                        return
                    self.processes.append(_Process(self.rules))
        except OSError as exc:
            self._give_up(f"cannot start worker processes: {exc}")
            self.close()
            yield from first
            yield from iterator
            return
        batches = chain([first], iter(lambda: list(islice(iterator, QUICK_BATCH)), []))
        for batch in batches:
            idle = self._idle()
            while not idle and self.given_up is None and not self.closed:
                yield from self._collect()
                idle = self._idle()
            if self.given_up is not None or self.closed:
                yield from batch
                continue
            try:
                idle[0].send(batch)
            except (OSError, ValueError) as exc:  # ValueError: closed by close() meanwhile
                self._give_up(f"worker process failed: {exc}")
                self._drop(idle[0])
                yield from batch
        while any(p.batch is not None for p in self.processes):
            yield from self._collect()
        self.close()

    def _idle(self) -> list[_Process]:
        return [p for p in self.processes if p.batch is None]

    def _collect(self) -> Iterator[str]:
        """Wait a little for replies; yield what came back unsettled or from a failed worker."""
        busy = {p.stdout.fileno(): p for p in self.processes if p.batch is not None}
        if not busy:
            return
        try:
            ready, _, _ = select.select(list(busy), [], [], _POLL_SECONDS)
        except (OSError, ValueError):  # closed under us (the scan stopped)
            ready = []
            self._give_up("worker processes were stopped")
        for fd in ready:
            process = busy.pop(fd)
            batch, process.batch = process.batch, None
            reply = _read_frame(process.stdout)
            if reply is None:
                self._give_up("a worker process ended unexpectedly")
                self._drop(process)
                yield from batch or []
                continue
            header, _, body = reply.partition(b"\n")
            counts = json.loads(header)
            paths = _split(body)
            unsettled, media = paths[:counts["unsettled"]], paths[counts["unsettled"]:]
            if media:
                self.on_media(media)
            with self.lock:
                self.tally.ok += counts["ok"]
                self.tally.media += counts["media"]
                self.tally.touched.update(counts["touched"])
            yield from unsettled
        now = time.monotonic()
        for process in busy.values():
            if now - process.sent_at > self.deadline:
                self._give_up(f"a worker process took more than {self.deadline:g}s on one batch")
                batch, process.batch = process.batch, None
                self._drop(process)
                yield from batch or []

    def _drop(self, process: _Process) -> None:
        with self.lock:
            if process in self.processes:
                self.processes.remove(process)
        process.kill()

