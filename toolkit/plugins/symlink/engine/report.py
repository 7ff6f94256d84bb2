"""Problems on disk while a scan runs, and the JSON report with the original's keys.

The report keeps ``scan_date, mode, statistics, problems_found, deleted_files`` (the
original script's keys and statistics names) and adds ``scan_id``, ``depth``, ``paths``,
``mounts``, ``duration_seconds``, ``cancelled``, ``stopped_by`` and ``deletions``.
It is written streaming, so a million problems never sit in memory at once.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from .model import Problem
from .scratch import scratch_file


class ProblemSpool:
    """Problems appended as JSON lines to a temporary file; iterate to read them back."""

    def __init__(self) -> None:
        self._file: TextIO = scratch_file("w+", encoding="utf-8")
        self.count = 0
        self.by_status: Counter[str] = Counter()

    def add(self, problem: Problem) -> None:
        self._file.write(json.dumps(problem.as_dict(), ensure_ascii=False) + "\n")
        self.count += 1
        self.by_status[problem.status] += 1

    def __iter__(self) -> Iterator[Problem]:
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield Problem(**json.loads(line))
        self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        self._file.close()


def write_report(
    destination: str,
    *,
    scan_date: str,
    mode: str,
    statistics: dict[str, int],
    problems: Iterable[Problem],
    deleted_files: Iterable[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the report atomically (temporary file, then rename)."""
    directory = os.path.dirname(os.path.abspath(destination))
    import tempfile  # a report written: only then (see scratch.py)

    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory, delete=False, suffix=".part")
    try:
        with handle:
            handle.write("{\n")
            handle.write(f'  "scan_date": {json.dumps(scan_date)},\n')
            handle.write(f'  "mode": {json.dumps(mode)},\n')
            handle.write(f'  "statistics": {json.dumps(statistics)},\n')
            _write_array(handle, "problems_found", (p.as_dict() for p in problems))
            handle.write(",\n")
            _write_array(handle, "deleted_files", deleted_files)
            for key, value in (extra or {}).items():
                handle.write(f",\n  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False, default=str)}")
            handle.write("\n}\n")
        os.replace(handle.name, destination)
    except BaseException:
        os.unlink(handle.name)
        raise


def _write_array(handle: TextIO, key: str, items: Iterable[dict[str, Any]]) -> None:
    handle.write(f"  {json.dumps(key)}: [")
    separator = "\n    "
    for item in items:
        handle.write(separator + json.dumps(item, ensure_ascii=False))
        separator = ",\n    "
    handle.write("\n  ]" if separator != "\n    " else "]")
