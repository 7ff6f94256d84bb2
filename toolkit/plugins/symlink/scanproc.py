"""Run the scan engine in a child process that the caller can walk away from.

A call into a hung FUSE mount blocks its thread in the kernel, uninterruptibly once
rclone has the request: neither ``SIGKILL`` nor ``os._exit`` ends such a process before
rclone answers (it stays a zombie, and its parent's ``wait`` waits). So the CLI and the
web job never touch the targets' mounts themselves: :func:`run_scan_in_child` starts a
scan process (:mod:`.scanstart`; the CLI's is started before its command line is parsed),
which runs :func:`engine.checker.run_scan` and streams problems, progress and the result
back as JSON lines on its stdout. When the result is in, the caller goes on (prints,
exits with its code, ends the job) and never waits for the child: a child with threads
stuck on a hung mount ends when the mount answers again, on its own. The child holds
none of the caller's output streams (its stderr goes to a temporary file), so a shell
capturing the CLI's output is not kept waiting either.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import IO, Any

from .engine.model import Problem, Progress, ScanOptions, ScanResult
from .scanstart import PACKAGE_ROOT, start, take_early

_POLL_SECONDS = 0.1
_PROBLEMS_FLUSH_SECONDS = 0.2


class ScanProcessFailed(RuntimeError):
    pass


def run_scan_in_child(
    options: ScanOptions,
    *,
    on_problem: Callable[[Problem], None] = lambda problem: None,
    on_progress: Callable[[Progress], None] | None = None,
    should_abort: Callable[[], bool] = lambda: False,
    on_warning: Callable[[str], None] = lambda text: None,
    database_url: str | None = None,
    migrate: bool = False,
    verdicts: bool = False,
    mount_memory: bool = False,
    database_required: bool = True,
    prune_verdicts: bool = False,
    niceness: int = 0,
) -> ScanResult:
    """:func:`engine.checker.run_scan` in a child process (see the module docstring).

    For the verdict cache (``verdicts``) and the remembered mounts (``mount_memory``) the
    child opens the toolkit's database (``database_url``, default the toolkit's; ``migrate``:
    upgrading the symlink branch first, as the CLI does). When it cannot and the database
    is not ``database_required``, the scan goes on without (``on_warning`` says why).
    ``prune_verdicts``: afterwards, forget verdicts expired twice over (of no use any more).
    Callbacks run in the calling thread."""
    child = ScanChild(options, database_url=database_url, migrate=migrate, verdicts=verdicts,
                      mount_memory=mount_memory, database_required=database_required,
                      prune_verdicts=prune_verdicts, niceness=niceness)
    try:
        return child.follow(on_problem=on_problem, on_progress=on_progress, should_abort=should_abort,
                            on_warning=on_warning)
    finally:
        child.close()


class ScanChild:
    """The scan process of :func:`run_scan_in_child`, started (or taken from the CLI's early
    start, :func:`.scanstart.start_early`) and given its options at once, followed later: the
    CLI imports what shows the progress and the report meanwhile. Its messages queue up.
    :meth:`close` (always) ends the relation; a child still scanning reads it as "abort"."""

    def __init__(self, options: ScanOptions, *, database_url: str | None = None, migrate: bool = False,
                 verdicts: bool = False, mount_memory: bool = False, database_required: bool = True,
                 prune_verdicts: bool = False, niceness: int = 0) -> None:
        config = {"options": asdict(options), "database_url": database_url, "migrate": migrate,
                  "verdicts": verdicts, "mount_memory": mount_memory, "database_required": database_required,
                  "prune_verdicts": prune_verdicts, "niceness": niceness}
        # the caller's import path, in its order (the standard library before site-packages:
        # an old backport there must not shadow it), and the package's folder, which an
        # editable install reaches through a finder rather than the path
        config["sys_path"] = [*sys.path, PACKAGE_ROOT]
        self.child, self.errors = (take_early(options.local_processes, niceness)
                                   or start(options.local_processes, niceness))
        assert self.child.stdin is not None and self.child.stdout is not None
        self.messages: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=_read_messages, args=(self.child.stdout, self.messages), daemon=True,
                         name="symlink-scan-reader").start()
        _send(self.child.stdin, config)

    def follow(self, *, on_problem: Callable[[Problem], None] = lambda problem: None,
               on_progress: Callable[[Progress], None] | None = None,
               should_abort: Callable[[], bool] = lambda: False,
               on_warning: Callable[[str], None] = lambda text: None) -> ScanResult:
        """Pass the child's messages to the callbacks (in this thread) until its result."""
        child, messages = self.child, self.messages
        assert child.stdin is not None
        aborted = False
        while True:
            if not aborted and should_abort():
                aborted = True
                _send(child.stdin, {"abort": True})
            try:
                message = messages.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if message is None:  # the child's stdout closed without a result
                child.wait(5)
                self.errors.seek(0)
                detail = self.errors.read()[-2000:].decode("utf-8", "replace").strip()
                raise ScanProcessFailed(f"the scan process stopped unexpectedly (exit code {child.poll()})"
                                        + (f": {detail.splitlines()[-1]}" if detail else ""))
            kind, payload = message
            if kind == "problem":
                on_problem(Problem(**payload))
            elif kind == "progress" and on_progress is not None:
                on_progress(Progress(**payload))
            elif kind == "warning":
                on_warning(payload)
            elif kind == "result":
                return ScanResult(**payload)
            elif kind == "error":
                raise ScanProcessFailed(payload)

    def close(self) -> None:
        self.errors.close()
        try:
            self.child.stdin.close()  # the child reads it as "abort" if it is still running
        except OSError:
            pass
        # never wait for the child: one stuck on a hung mount ends when the mount answers


def _send(stream: IO[bytes], message: dict[str, Any]) -> None:
    try:
        stream.write(json.dumps(message).encode() + b"\n")
        stream.flush()
    except (OSError, ValueError):
        pass  # the child is gone; its output says why


def _read_messages(stream: IO[bytes], messages: queue.Queue[Any]) -> None:
    for line in stream:
        messages.put(json.loads(line))
    messages.put(None)


# ----------------------------------------------------------------------------- the child


def _child_main(forked: list[tuple[int, int, int]] | None = None) -> None:
    """The scan process; ``forked``: the quick worker processes its bootstrap forked (when
    run with ``-m`` instead, it applies its niceness and starts its workers itself)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the CLI, which asks us to stop
    line = sys.stdin.buffer.readline()  # sent as soon as the caller wants a scan
    if not line:  # started early by a command that ended first (bad options, --help)
        os._exit(0)
    config = json.loads(line)
    if config.get("sys_path"):
        sys.path[:] = config["sys_path"]
    from .engine.quick import adopt, prestart

    if forked is None:
        if config["niceness"]:
            os.nice(config["niceness"])  # first: the worker processes inherit it
        # the quick worker processes start while this one imports the engine and checks mounts
        prestart(config["options"].get("local_processes", 0))
    else:
        adopt(forked)
    from .engine.checker import run_scan

    out = sys.stdout.buffer
    lock = threading.Lock()
    abort = threading.Event()
    unflushed = threading.Event()

    encoder = json.JSONEncoder(ensure_ascii=False, default=str)  # one for all: json.dumps makes one per call

    def send(kind: str, payload: Any) -> None:
        line = encoder.encode([kind, payload]).encode("utf-8", "surrogateescape")
        with lock:
            out.write(line + b"\n")
            # problems travel in bunches (a write per problem costs both processes a
            # wake-up: 2,000 problems in a 100k-link scan); anything else at once
            if kind == "problem":
                unflushed.set()
            else:
                out.flush()
                unflushed.clear()

    def flush_problems() -> None:  # a problem waits _PROBLEMS_FLUSH_SECONDS at most
        while not abort.wait(_PROBLEMS_FLUSH_SECONDS):
            if unflushed.is_set():
                with lock:
                    out.flush()
                    unflushed.clear()

    threading.Thread(target=flush_problems, daemon=True, name="symlink-scan-flush").start()

    def watch_parent() -> None:  # an abort message, or our stdin closing (the parent is gone)
        for line in sys.stdin.buffer:
            if json.loads(line).get("abort"):
                break
        abort.set()

    threading.Thread(target=watch_parent, daemon=True, name="symlink-scan-parent").start()
    verdict_store = memory = None
    try:
        url = None
        if config["verdicts"] or config["mount_memory"]:
            try:
                url = _prepare_database(config["database_url"], config["migrate"])
            except Exception as exc:
                if config["database_required"]:
                    raise
                send("warning", f"{type(exc).__name__}: {exc}")
        if url is not None and config["mount_memory"]:
            from .mount_memory import SqlMountMemory  # sqlite3 only: a plain scan imports no SQLAlchemy

            memory = SqlMountMemory(url)
        if url is not None and config["verdicts"]:
            from .verdicts import SqlVerdictStore  # sqlite3 only: neither does a full scan import SQLAlchemy

            verdict_store = SqlVerdictStore(url)
        options = ScanOptions(**config["options"])
        result = run_scan(options,
                          on_problem=lambda problem: send("problem", problem.as_dict()),
                          on_progress=lambda progress: send("progress", asdict(progress)),
                          should_abort=abort.is_set, verdict_store=verdict_store, mount_memory=memory)
        if verdict_store is not None and config["prune_verdicts"]:
            verdict_store.prune(2 * options.recheck_age_seconds)
        send("result", result.as_dict())
    except BaseException as exc:  # reported to the parent, which fails with it
        send("error", f"{type(exc).__name__}: {exc}")
    out.flush()
    # threads may be stuck on a hung mount: exit without waiting for them (the process
    # itself ends when their calls return; the parent does not wait for that)
    os._exit(0)


def _prepare_database(url: str | None, migrate: bool) -> str:
    """The database URL, upgraded first with ``migrate`` (alembic only when not at its heads)."""
    from .schema import ensure_schema

    if url is None:  # the CLI gives it: toolkit.api (pluggy, logging...) stays out of its start-up
        from toolkit.api import database_url

        url = database_url()
    return ensure_schema(url) if migrate else url


if __name__ == "__main__":
    _child_main()
