"""How long a scan's after-step takes (issue 16: each problem's life, the trend row) when
the scan found many problems: ``after_scan_blocking`` on a real SQLite file, with
synthetic problem rows (no filesystem walk; the "fixed" step checks each missing link on
disk, here paths that do not exist).

    .venv/bin/python bench/symlink_lives.py --problems 100000

Three scans of the same folder: all new, all seen again, then half of them gone (fixed).
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from toolkit.core import db, migrate
from toolkit.testing import make_config
from toolkit.core.plugins import build_plugin_host
from toolkit.plugins.symlink.history import STATISTICS_COLUMNS, SymlinkProblem, SymlinkScan
from toolkit.plugins.symlink.service.lifecycle import after_scan_blocking


def record_scan(engine, day: int, paths: list[str]) -> str:
    scan_id = uuid.uuid4().hex[:16]
    with engine.begin() as connection:
        connection.execute(insert(SymlinkScan).values(
            id=scan_id, scan_date=datetime(2026, 11, 1) + timedelta(days=day), mode="dry-run",
            selected_paths=["/bench/media"], verification_depth="basic", status="running",
            problems_found=len(paths), **{name: 0 for name in STATISTICS_COLUMNS}))
        for start in range(0, len(paths), 5000):
            connection.execute(insert(SymlinkProblem), [
                {"scan_id": scan_id, "path": path, "target": "/bench/store/x.mkv", "status": "BROKEN",
                 "phase": 1, "size": 0, "reason": "target missing", "ignored": False}
                for path in paths[start:start + 5000]])
    return scan_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = make_config(Path(folder))
        models = build_plugin_host(config, entry_points=False).collect().models
        migrate.upgrade_heads(config.database_url, models)
        engine = db.create_engine_sync(config.database_url)
        paths = [f"/bench/media/Show {i // 100}/Season 1/E{i:06d}.mkv" for i in range(args.problems)]
        for day, label, found in ((0, "all new", paths), (7, "all seen again", paths),
                                  (14, "half gone (fixed)", paths[: len(paths) // 2])):
            scan_id = record_scan(engine, day, found)
            started = time.perf_counter()
            tally = after_scan_blocking(config.database_url, scan_id, "completed")
            elapsed = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{label:20} {elapsed:7.2f} s  {tally}  peak RSS {peak:.0f} MiB")
        engine.dispose()


if __name__ == "__main__":
    main()
