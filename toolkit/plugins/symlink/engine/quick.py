"""Phase 1 in worker *processes* for links into local filesystems (:class:`QuickLocalPool`).

Checking a local link is CPU-bound under the GIL, so threads cannot go faster than one
core. Worker *processes* (and one thread of the calling process, :class:`_Thread`)
settle the plain cases -- a link whose target sits on a local
filesystem and passes every phase-1 check -- and send back only counters, the media
links (for phase 2) and the links they did not settle, which the caller classifies in
full (problems are rare). They never decide a problem: anything unusual goes back.
A worker whose batch passes the deadline (a chain of links into a hung mount, a FIFO)
is killed and its whole batch goes back; processes are not used for the rest of the scan.
"""
from __future__ import annotations

import marshal
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import chain, islice
from typing import BinaryIO

from .quick_worker import _join, _read_frame, _send_frame, _split, package_root, serve

_POLL_SECONDS = 0.1

QUICK_BATCH = 1024  # links per hand-over; a walk shorter than one batch uses no process
# A worker imports quick_worker.py only (standard library, no site-packages): the packages
# holding it are stand-ins, so their __init__ files (pluggy...) are not run; it keeps each
# worker at ~10 MiB. The package names and the folder holding the top package come from
# this module's own name and file, so that the plugin works wherever it is installed or
# renamed.
_PACKAGES = __name__.split(".")[:-1]  # toolkit, plugins, symlink, engine
_PACKAGE_ROOT = package_root()
_WORKER_MODULE = ".".join([*_PACKAGES, "quick_worker"])
_WORKER_BOOTSTRAP = """
import sys, types
root, module = sys.argv[1], sys.argv[2]
parts = module.split(".")[:-1]
for depth in range(1, len(parts) + 1):
    package = types.ModuleType(".".join(parts[:depth]))
    package.__path__ = [root + "/" + "/".join(parts[:depth])]
    sys.modules[package.__name__] = package
__import__(module)
sys.modules[module]._quick_worker_main()
"""


@dataclass
class QuickRules:
    """What a worker process needs to settle a link: the rules are the classifier's."""

    mounts: list[tuple[str, bool]]  # mount point, local (quick) or not; longest first
    open_proves_readable: bool  # classify.open_proves_readable(): access() adds nothing
    small_files_all: bool
    sidecar_extensions: list[str]
    media_extensions: list[str]
    media_to_caller: bool  # media links go back unsettled (a verdict cache applies to them)
    media_paths_wanted: bool  # settled media links are sent back (phase 2 probes them)
    small_bytes: int
    read_bytes: int


@dataclass
class QuickTally:
    ok: int = 0
    media: int = 0
    touched: set[str] = field(default_factory=set)


class _Worker:
    """One quick worker seen from the pool: a batch out on ``stdin``, its reply back on
    ``stdout`` (a pipe either way, so that the pool waits on all of them with one select)."""

    stdin: BinaryIO
    stdout: BinaryIO

    def __init__(self) -> None:
        self.batch: list[str] | None = None
        self.sent_at = 0.0

    def configure(self, rules: QuickRules) -> None:
        _send_frame(self.stdin, marshal.dumps(asdict(rules)))  # the worker imports no json

    def send(self, batch: list[str]) -> None:
        self.batch, self.sent_at = batch, time.monotonic()
        _send_frame(self.stdin, _join(batch))

    def end_input(self) -> None:
        try:
            self.stdin.close()
        except OSError:
            pass


class _Process(_Worker):
    def __init__(self) -> None:
        super().__init__()
        self.popen = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WORKER_BOOTSTRAP, _PACKAGE_ROOT, _WORKER_MODULE], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, close_fds=True,
        )
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self.stdin, self.stdout = self.popen.stdin, self.popen.stdout

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


class _Forked(_Worker):
    """A worker process forked by the scan process's bootstrap (quick_worker.fork_workers)."""

    def __init__(self, pid: int, batches: int, replies: int) -> None:
        super().__init__()
        self.pid = pid
        self.stdin, self.stdout = open(batches, "wb"), open(replies, "rb")

    def stop(self) -> None:
        """As :meth:`_Process.stop`."""
        if self.batch is None:
            self.end_input()
            deadline = time.monotonic() + 1
            while time.monotonic() < deadline:
                if self._reaped(os.WNOHANG):
                    return
                time.sleep(0.005)
        self.kill()

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)  # not reaped yet (this process reaps it): still ours
        except OSError:
            pass
        threading.Thread(target=self._reaped, args=(0,), daemon=True, name="symlink-quick-reaper").start()

    def _reaped(self, flags: int) -> bool:
        try:
            return os.waitpid(self.pid, flags)[0] != 0
        except ChildProcessError:
            return True


class _Thread(_Worker):
    """A worker in a thread of the calling process, over pipes like a process. The scan
    process is otherwise idle while its workers settle links: as one of them it takes a
    core's share, and the scan holds one interpreter fewer (~9 MiB of RSS). A thread stuck
    in the kernel cannot be killed: it is abandoned (daemon), and ends on a closed pipe
    once its call returns."""

    def __init__(self) -> None:
        super().__init__()
        batches, self.stdin = _pipe()
        self.stdout, replies = _pipe()
        threading.Thread(target=_serve, args=(batches, replies), daemon=True, name="symlink-quick-thread").start()

    def stop(self) -> None:
        """Its input ends: an idle thread ends at once, a busy one after its batch."""
        self.end_input()

    def kill(self) -> None:
        """Given up (a thread cannot be killed): its reply, if it ever comes, finds the
        pipe closed, and it ends."""
        self.end_input()
        self.stdout.close()


def _pipe() -> tuple[BinaryIO, BinaryIO]:
    read, write = os.pipe()
    return open(read, "rb"), open(write, "wb")


def _serve(batches: BinaryIO, replies: BinaryIO) -> None:
    try:
        serve(batches, replies)
    except (OSError, ValueError):  # the pool closed our pipes: it gave this batch up
        pass
    finally:
        for stream in (batches, replies):
            try:
                stream.close()
            except OSError:
                pass


_SPARES: list[_Worker] = []  # started ahead by prestart(), taken by the next pool using processes


def adopt(forked: Iterable[tuple[int, int, int]]) -> None:
    """Keep the worker processes the scan process forked first thing (see
    quick_worker.fork_workers) for the next pool, as :func:`prestart` does its own."""
    _SPARES.extend(_Forked(*worker) for worker in forked)


def prestart(count: int) -> None:
    """Start ``count`` worker processes now, before a pool needs them: the scan process
    does it first thing, so that their interpreters start (~15 ms each) while it imports
    the engine and checks the mounts. The next pool that uses processes takes them; unused
    ones (a scan of fewer than QUICK_BATCH links) end with this process: their input closes."""
    try:
        while len(_SPARES) < count:
            _SPARES.append(_Process())
    except OSError:
        pass  # the pool starts its own, or says why it cannot


class QuickLocalPool:
    """Settle plain local links in ``processes`` worker processes and a thread of this
    process (see above and :class:`_Thread`).

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
        self.workers: list[_Worker] = []
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
            workers, self.workers = self.workers, []
        for worker in workers:  # the idle ones all told first: they exit side by side
            if worker.batch is None:
                worker.end_input()
        for worker in workers:
            worker.stop()

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
            for index in range(self.processes_count + 1):
                with self.lock:
                    if self.closed:
                        return
                    worker = _Thread() if index == self.processes_count else _SPARES.pop() if _SPARES else _Process()
                    self.workers.append(worker)
                worker.configure(self.rules)
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
        while any(w.batch is not None for w in self.workers):
            yield from self._collect()
        self.close()

    def _idle(self) -> list[_Worker]:
        return [w for w in self.workers if w.batch is None]

    def _collect(self) -> Iterator[str]:
        """Wait a little for replies; yield what came back unsettled or from a failed worker."""
        busy = {w.stdout.fileno(): w for w in self.workers if w.batch is not None}
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
            counts = marshal.loads(reply)
            paths = _split(counts["paths"])
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

    def _drop(self, worker: _Worker) -> None:
        with self.lock:
            if worker in self.workers:
                self.workers.remove(worker)
        worker.kill()

