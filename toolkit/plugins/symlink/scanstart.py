"""Starting the scan process of :mod:`.scanproc`, also before the command line is parsed.

The scan process starts as a bare interpreter (-I -S: no site, no .pth file runs) that
forks its quick worker processes before it imports anything else: they share its few pages
(~7.5 MiB each instead of a new interpreter's ~9; issue 9 sums a scan's processes). Then it
takes the caller's import path and runs ``scanproc._child_main``, which waits for its
options on its stdin. Arguments: the folder holding the top package, the worker
processes, the niceness (applied first: the workers inherit it).

``redriva-toolkit symlink scan`` starts it first thing (:func:`start_early`, listed in
``toolkit.cli.EARLY_STARTS``), before click, the plugins and the settings are loaded, so
that its start-up overlaps the command's: a first scan's first request through a mount
comes ~70 ms sooner. This module imports only what that takes.
"""
from __future__ import annotations

import subprocess
import sys
from typing import IO

from .engine.quick_worker import default_processes, package_root
from .engine.scratch import scratch_file

PACKAGE_ROOT = package_root()
_BOOTSTRAP = f"""
import os, sys
root, processes, niceness = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if niceness:
    os.nice(niceness)
sys.path.append(root)
from {__package__}.engine.quick_worker import fork_workers
forked = fork_workers(processes)
from {__package__}.scanproc import _child_main
_child_main(forked)
"""

_early: tuple[int, int, subprocess.Popen, IO[bytes]] | None = None  # processes, niceness, the child, its stderr


def start(processes: int, niceness: int) -> tuple[subprocess.Popen, IO[bytes]]:
    """A scan process waiting for its options, and the file its stderr goes to."""
    errors = scratch_file()
    child = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _BOOTSTRAP, PACKAGE_ROOT, str(processes), str(niceness)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, close_fds=True,
    )
    return child, errors


def start_early() -> None:
    """Start the scan process a CLI scan takes (the engine's default number of worker
    processes, no niceness). Unused, it ends when this process does: its stdin closes."""
    global _early
    _early = (default_processes(), 0, *start(default_processes(), 0))


def take_early(processes: int, niceness: int) -> tuple[subprocess.Popen, IO[bytes]] | None:
    """The process :func:`start_early` started, if it has these arguments (else it ends)."""
    global _early
    early, _early = _early, None
    if early is None:
        return None
    started_with, child, errors = early[:2], early[2], early[3]
    if started_with == (processes, niceness):
        return child, errors
    child.stdin.close()
    errors.close()
    return None
