"""The CLI's scan process starts before the command line is parsed (``scanstart``,
``toolkit.cli.EARLY_STARTS``): the scan takes that process; one nobody takes ends."""
from __future__ import annotations

import os

import pytest

from toolkit.cli import _start_early
from toolkit.plugins.symlink import scanstart
from toolkit.plugins.symlink.engine.model import ScanOptions
from toolkit.plugins.symlink.scanproc import ScanChild


@pytest.fixture(autouse=True)
def _no_early_process_left():
    yield
    left = scanstart.take_early(-1, 0)  # ends one a failed test left (no scan has -1 processes)
    assert left is None


def test_the_scan_takes_the_process_started_before_the_command_line_was_parsed(tree):
    tree.link("movie.mkv", tree.file("movie.mkv", 4096))
    tree.link("gone.mkv", tree.targets / "gone.mkv")
    _start_early(["-v", "symlink", "scan", str(tree.library)])  # as `redriva-toolkit -v symlink scan ...`
    assert scanstart._early is not None
    early_pid = scanstart._early[2].pid

    child = ScanChild(ScanOptions(paths=[str(tree.library)]))
    try:
        problems = []
        result = child.follow(on_problem=problems.append)
    finally:
        child.close()

    assert child.child.pid == early_pid and scanstart._early is None
    assert result.statistics["total_analyzed"] == 2 and result.statistics["phase1_ok"] == 1
    assert [(os.path.basename(p.path), p.status) for p in problems] == [("gone.mkv", "BROKEN")]


def test_other_commands_start_nothing_early():
    for arguments in (["symlink", "journal"], ["serve"], ["symlink"], []):
        _start_early(arguments)
        assert scanstart._early is None


def test_an_early_scan_process_nobody_takes_ends_without_an_error():
    """A command that ends before its scan (bad options, --help), or a scan that wants other
    arguments: the early process reads the end of its input and exits, quietly."""
    scanstart.start_early()
    child, errors = scanstart._early[2], scanstart._early[3]
    written = os.dup(errors.fileno())  # its stderr, which take_early closes

    assert scanstart.take_early(scanstart.default_processes(), niceness=5) is None  # not these arguments

    assert child.wait(timeout=30) == 0
    assert os.pread(written, 65536, 0) == b""
    os.close(written)
    assert scanstart._early is None
