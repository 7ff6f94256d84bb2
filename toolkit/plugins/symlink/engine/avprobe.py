"""Phase 2's header query in long-lived PyAV processes (``prober="av"``).

Spawning ``ffprobe`` costs ~64 ms of CPU per file (measured on this project's 2-core
machine): at a few dozen probes a second that alone fills both cores. Each
:class:`AvProber` keeps a few worker processes (:mod:`avworker`, one probe at a time
each, started on demand up to the phase's concurrency) that open the file with PyAV
(FFmpeg's libraries in the ``av`` wheel) and list its streams: the original's query
``ffprobe -v error -show_entries stream=codec_type -of csv=p=0`` without the process
start. The verdict is made by :func:`probe._header_verdict` from the same two texts
(codec types, error output), so the rule is ffprobe's; ``prober="ffprobe"`` (parity
mode) runs the real ffprobe. Differences measured on the damaged-media corpus are in
docs/symlink-engine.md.

A worker past its timeout is killed (SIGKILL, never waited for in the calling thread:
a process stuck in a FUSE read cannot die before the read returns) and the probe is
UNKNOWN (``late``), as a killed ffprobe is. A worker that dies during a probe is
replaced and the file probed once more in a fresh one; dying again is what a crashing
ffprobe gives: no stream listed, CORRUPTED.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from .probe import UNKNOWN, ProbeTimeout, ProbeVerdict, ToolMissing, _header_verdict, av_location

_WORKER = str(Path(__file__).with_name("avworker.py"))
_START_TIMEOUT = 30.0  # importing av on a busy 2-core machine: ~0.15 s of CPU
# The read check's one read: what the worker's buffered reader (avworker._BUFFER_BYTES)
# asked of the mount when the worker opened the file itself, kept so that a file whose
# first 64 KiB cannot be read is IO_ERROR as before.
CHECK_READ_BYTES = 64 * 1024


class _WorkerDied(RuntimeError):
    pass


class _Worker:
    """One probe process, spoken to over a Unix socket (requests, which can carry an open
    file) and a pipe (answers): a process we started (``process``), or one its first
    worker forked after importing PyAV (see :func:`_Worker.start_many`; the kernel reaps
    those)."""

    def __init__(self, requests: socket.socket, answers: int, process: subprocess.Popen | None = None) -> None:
        self.requests, self.answers, self.process = requests, answers, process
        self.pid = process.pid if process is not None else 0  # a forked one's: from its hello
        self._buffer = b""

    @classmethod
    def start_many(cls, site: str, program: str, count: int) -> list[_Worker]:
        """``count`` workers: one process, which forks the others once PyAV is imported."""
        ours, theirs = [], []  # per worker: (requests, answers) on our side, on its side
        for _ in range(count):
            # a message per request, and the file descriptor it carries
            requests_ours, requests_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            answers_read, answers_write = os.pipe()
            ours.append((requests_ours, answers_read))
            theirs.append((requests_theirs.detach(), answers_write))
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", program, site, *(f"{r},{w}" for r, w in theirs[1:])],
                stdin=theirs[0][0], stdout=theirs[0][1], stderr=subprocess.DEVNULL,
                close_fds=True, pass_fds=[fd for pair in theirs[1:] for fd in pair], start_new_session=True,
            )
        except BaseException:
            for requests, answers in ours:
                requests.close()
                os.close(answers)
            raise
        finally:
            for fd in (fd for pair in theirs for fd in pair):
                os.close(fd)
        return [cls(*ours[0], process), *(cls(requests, answers) for requests, answers in ours[1:])]

    def ready(self) -> _Worker:
        """Wait for the worker's hello (PyAV imported); ToolMissing when it cannot start."""
        try:
            hello = self._reply(_START_TIMEOUT)
        except (ProbeTimeout, _WorkerDied, ValueError) as exc:
            self.kill()
            raise ToolMissing(f"the PyAV probe process did not start: {exc}") from None
        if not hello.get("ready"):
            self.kill()
            raise ToolMissing(hello.get("error") or "the PyAV probe process did not start")
        self.pid = hello.get("pid") or self.pid
        return self

    def ask(self, path: str, timeout: float, fd: int | None) -> dict:
        """Probe ``path``, through ``fd`` (an open descriptor of it, handed over) if given."""
        message = json.dumps({"path": path}).encode()
        try:
            if fd is None:
                self.requests.send(message)
            else:
                socket.send_fds(self.requests, [message], [fd])
        except OSError as exc:
            raise _WorkerDied(f"the probe process is gone ({exc})") from None
        return self._reply(timeout)

    def _reply(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProbeTimeout(f"the PyAV probe timed out after {timeout:g}s and was killed")
            readable, _, _ = select.select([self.answers], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self.answers, 65536)
            if not chunk:
                raise _WorkerDied(f"the probe process died ({self._end()})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _end(self) -> str:
        if self.process is None:
            return "it closed its output"
        try:
            code = self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "it closed its output"
        return f"signal {-code}" if code < 0 else f"exit {code}"

    def kill(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None:
            # reaped in the background: a process in an uninterruptible FUSE read dies only
            # when the read returns, and nobody should wait for that
            threading.Thread(target=self.process.wait, daemon=True, name="avprobe-reaper").start()
        self._close()

    def stop(self) -> None:
        """Ask it to leave: its loop ends on end of file (then :meth:`reap`)."""
        self._close(requests=True)

    def reap(self, timeout: float = 1.0) -> None:
        try:
            self._reply(timeout)  # nothing comes but the end of its output when it leaves
        except _WorkerDied:
            self._close()
            return
        except (ProbeTimeout, ValueError):
            pass
        self.kill()

    def close(self) -> None:
        self.stop()
        self.reap()

    def _close(self, *, requests: bool = False) -> None:
        """Close our ends once each: a number closed twice may by then be another file's."""
        self.requests.close()  # a socket object: closing it again does nothing
        if not requests and self.answers >= 0:
            os.close(self.answers)
            self.answers = -1


class AvProber:
    """Thread-safe: each call takes an idle worker (or starts one) for the probe's time."""

    def __init__(self) -> None:
        site = av_location()
        if site is None:
            raise ToolMissing("PyAV is not installed (pip install av): use the ffprobe prober")
        self._site = site
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.started = 0  # workers started, for tests and figures
        self.program = _WORKER
        self._starter: threading.Thread | None = None

    def __enter__(self) -> AvProber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def probe(self, path: str, *, timeout: float, read_check: bool = False) -> ProbeVerdict:
        """The header query's verdict. With ``read_check``, this thread first opens the file
        and reads its start (phase 1's check; its OSError is raised as such), then hands
        the open file to the worker, whose probe reads that handle: through rclone both are
        one request, and it is on its way while the workers start. That read is bounded by
        the caller's deadline (a phase-2 pool's), not by ``timeout``, the probe's own."""
        fd = _open_and_check(path) if read_check else None
        try:
            for attempt in (1, 2):
                try:
                    worker = self._take()
                except ProbeTimeout as exc:  # closed: the scan ended under this call
                    return ProbeVerdict(UNKNOWN, str(exc))
                try:
                    reply = worker.ask(path, timeout, fd)
                except ProbeTimeout as exc:
                    self._drop(worker)
                    return ProbeVerdict(UNKNOWN, str(exc), late=True)
                except _WorkerDied as exc:
                    self._drop(worker)
                    if attempt == 2:  # what a crashing ffprobe gives: no stream listed
                        return _verdict({"error": f"{path}: {exc}"})
                    continue
                self._give_back(worker)
                if "read_error" in reply:
                    number, message = reply["read_error"]
                    raise OSError(number, message, path)
                return _verdict(reply)
            raise AssertionError("unreachable")
        finally:
            if fd is not None:
                os.close(fd)  # the worker's copy (or its death) closes the file on its side

    def start(self, count: int) -> None:
        """Start ``count`` workers at once, before the first probe: their imports overlap,
        and no probe's time (which drives the mount's back-pressure) includes a start."""
        for worker in _Worker.start_many(self._site, self.program, count) if count else []:
            try:
                worker.ready()
            except ToolMissing:
                continue  # the probes start their own and say why
            with self._lock:
                self.started += 1
                if self._closed:
                    worker.kill()
                else:
                    self._idle.append(worker)

    def start_in_background(self, count: int) -> None:
        """:meth:`start` in a thread: the scan starts the workers when phase 1 spools its
        first file to probe, so that their start-up overlaps phase 1's waits on the mount;
        the first probe waits for them."""
        self._starter = threading.Thread(target=self.start, args=(count,), daemon=True, name="avprobe-start")
        self._starter.start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, busy = self._idle, list(self._busy)
            self._idle, self._busy = [], set()
        for worker in idle:  # all told at once: they leave together
            worker.stop()
        if idle:  # and the scan's end does not wait for it (~10 ms for 12 of them)
            threading.Thread(target=lambda: [worker.reap() for worker in idle], daemon=True,
                             name="avprobe-reaper").start()
        for worker in busy:  # a probe still running at the end: abandoned, as by a deadline
            worker.kill()

    def _take(self) -> _Worker:
        if self._starter is not None:
            self._starter.join()
        with self._lock:
            if self._closed:
                raise ProbeTimeout("the scan's probes were stopped")
            if self._idle:
                worker = self._idle.pop()
                self._busy.add(worker)
                return worker
            self.started += 1
        worker = _Worker.start_many(self._site, self.program, 1)[0].ready()  # outside the lock: ~0.1 s of CPU
        with self._lock:
            self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if not self._closed:
                self._idle.append(worker)
                return
        worker.close()

    def _drop(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
        worker.kill()


def _open_and_check(path: str) -> int:
    """An open descriptor of ``path`` whose start was read (:data:`CHECK_READ_BYTES`);
    the OSError of either call, with the path, as the worker reported it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, path) from None
    try:
        os.read(fd, CHECK_READ_BYTES)
    except OSError as exc:
        os.close(fd)
        raise OSError(exc.errno, exc.strerror, path) from None
    return fd


def _verdict(reply: dict) -> ProbeVerdict:
    """ffprobe's two outputs rebuilt from the worker's answer, judged by the same rule."""
    stderr = "\n".join([*reply.get("log", []), *([reply["error"]] if reply.get("error") else [])])
    verdict = _header_verdict("\n".join(reply.get("types", [])), stderr)
    if verdict.reason and verdict.reason.startswith("ffprobe: "):
        return ProbeVerdict(verdict.verdict, "libav: " + verdict.reason[len("ffprobe: "):], verdict.late)
    return verdict
