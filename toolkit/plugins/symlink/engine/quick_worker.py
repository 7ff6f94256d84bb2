"""The worker side of :mod:`.quick`: one process settling plain local links.

Run by quick.py's bootstrap with ``python -I -S`` and stand-in packages, it imports only
this module, :mod:`.linkpaths` and the standard library's smallest modules (no
``dataclasses``, ``typing``, ``subprocess``, ``pathlib``, ``json``): each worker holds ~9 MiB,
about what an idle interpreter does, which counts twice in the scan's memory.
"""
from __future__ import annotations

import io  # loaded by every interpreter at start-up (its standard streams): free here
import marshal  # built in: json would import re, enum, collections... (~1.1 MiB per worker)
import os
import stat as stat_module
import struct
import sys
from types import SimpleNamespace

from .linkpaths import is_under, lexical_target

_FRAME = struct.Struct("!Q")


def _send_frame(stream: io.BufferedIOBase, payload: bytes) -> None:
    stream.write(_FRAME.pack(len(payload)) + payload)
    stream.flush()


def _read_frame(stream: io.BufferedIOBase) -> bytes | None:
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

    def __init__(self, rules: SimpleNamespace) -> None:  # the fields of quick.QuickRules
        self.rules = rules
        self.sidecar = frozenset(rules.sidecar_extensions)
        self.media = frozenset(rules.media_extensions)
        self.mount_of_folder: dict[str, str | None] = {}  # folder -> local mount point, None if not local
        self.touched: set[str] = set()

    def _local_mount(self, absolute_target: str) -> str | None:
        folder = absolute_target.rpartition("/")[0] or "/"
        found = self.mount_of_folder.get(folder, _UNSEEN)
        if found is not _UNSEEN:
            return found
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

    # The checks below cost ~8.5 us of system calls per link and the Python around them
    # ~1.5 us more: that part is kept lean (one dict lookup per folder, no splitext).
    def settle(self, path: str) -> bool | None:
        """True: OK media link; False: OK other link; None: the caller decides."""
        rules = self.rules
        try:
            target = _readlink(path)
        except OSError:
            return None
        mount_point = self._local_mount(lexical_target(path, target))
        if mount_point is None:
            return None
        self.touched.add(mount_point)
        # the calls below name the target as the kernel reaches it through the link: the
        # link's folder as walked, then its target (so the same file whatever symlinks or
        # ".." they hold); through the link itself each call walks one path more (~0.9 us)
        followed = target if target[:1] == "/" else path[:path.rfind("/") + 1] + target
        try:
            info = _stat(followed)
        except OSError:
            return None
        if not _S_ISREG(info.st_mode):
            return None
        # a successful open below proves it readable when access() would apply the same
        # check (see classify.open_proves_readable): one path walk per link less
        if not rules.open_proves_readable and not os.access(followed, os.R_OK):
            return None
        extension = _extension(path)
        if info.st_size < rules.small_bytes and (rules.small_files_all or extension not in self.sidecar):
            return None
        is_media = extension in self.media
        if is_media and rules.media_to_caller:
            return None
        try:
            descriptor = _open(followed, _READ_FLAGS)
            try:
                _read(descriptor, rules.read_bytes)
            finally:
                _close(descriptor)
        except OSError:
            return None
        return is_media


_UNSEEN = object()
_readlink, _stat, _open, _read, _close, _S_ISREG = os.readlink, os.stat, os.open, os.read, os.close, stat_module.S_ISREG
_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC


def _extension(path: str) -> str:
    """``os.path.splitext(path)[1].lower()``, as the classifier takes it, in a third of
    the time: the last dot of the name, unless only dots come before it."""
    dot = path.rfind(".")
    name = path.rfind("/") + 1
    return path[dot:].lower() if dot > name and path[name:dot].strip(".") else ""


def default_processes() -> int:
    """Worker processes for local links by default: one, next to a thread of the scan
    process (see quick.py); none on a single core."""
    return 1 if (os.cpu_count() or 1) > 1 else 0


def package_root() -> str:
    """The folder holding the top package, wherever the toolkit is installed (a wheel's
    site-packages, an editable clone): what a bare interpreter (-I -S) puts on its path."""
    root = os.path.realpath(__file__)
    for _ in range(__name__.count(".") + 1):  # this file, then each package up to the top one
        root = os.path.dirname(root)
    return root


def _quick_worker_main() -> None:
    """A worker process (see serve)."""
    serve(sys.stdin.buffer, sys.stdout.buffer)


def fork_workers(count: int) -> list[tuple[int, int, int]]:
    """Fork ``count`` worker processes from this one: (pid, fd of its batches, fd of its
    replies) each. The scan process does it first thing, as a bare interpreter (scanstart's
    bootstrap): a forked child shares the pages its parent has, and touches few of its own,
    so it holds ~7.5 MiB where a new interpreter holds ~9 (every process of a scan counts in
    its memory). Fewer than ``count`` when the system refuses a fork."""
    forked: list[tuple[int, int, int]] = []
    for _ in range(count):
        batches_out, batches_in = os.pipe()
        replies_out, replies_in = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for descriptor in (batches_out, batches_in, replies_out, replies_in):
                os.close(descriptor)
            break
        if pid == 0:  # the worker: its pipes as stdin and stdout, nothing else of the parent's
            code = 1
            try:
                os.dup2(batches_out, 0)
                os.dup2(replies_in, 1)
                os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the siblings' and the parent's pipes too
                _quick_worker_main()
                code = 0
            finally:
                os._exit(code)
        os.close(batches_out)
        os.close(replies_in)
        forked.append((pid, batches_in, replies_out))
    return forked


def serve(stdin: io.BufferedIOBase, stdout: io.BufferedIOBase) -> None:
    """A worker: frames of NUL-separated links in, one reply frame per batch out (marshal,
    not json: both ends are the same interpreter), until ``stdin`` ends."""
    config = _read_frame(stdin)
    if config is None:
        return
    checker = _QuickChecker(SimpleNamespace(**marshal.loads(config)))
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
        reply = {"ok": ok, "media": media_count, "unsettled": len(unsettled), "touched": sorted(checker.touched),
                 "paths": _join(unsettled + media)}
        checker.touched.clear()
        _send_frame(stdout, marshal.dumps(reply))
