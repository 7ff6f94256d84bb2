"""An existing database (symlink branch at 0005, with its last scans and problems) upgrades:
the lives and the trend rows are back-filled from what it holds."""
from __future__ import annotations

import json
import sqlite3

from alembic import command

from toolkit.core import db, migrate
from toolkit.core.plugins import build_plugin_host


def test_an_existing_database_upgrades_and_keeps_its_history(toolkit_config):
    url = toolkit_config.database_url
    models = build_plugin_host(toolkit_config, entry_points=False).collect().models
    engine = db.create_engine_sync(url)
    try:
        with engine.begin() as connection:
            cfg = migrate.alembic_config(url, models)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "symlink_0005")
    finally:
        engine.dispose()
    path = toolkit_config.data_dir / "toolkit.db"
    stats = ", ".join(["0"] * 13)
    with sqlite3.connect(path) as old:
        for scan_id, day, results in (
                ("s1", "2026-11-01 04:00:00.000000", {"mounts": [{"mount_point": "/mnt/zurg", "healthy": True}]}),
                ("s2", "2026-11-08 04:00:00.000000", {"mount_down": True})):
            old.execute(
                "INSERT INTO symlink_scans (id, scan_date, finished_at, mode, selected_paths, verification_depth,"
                " total_analyzed, phase1_ok, phase1_broken, phase1_inaccessible, phase1_small, phase1_io_error,"
                " phase2_analyzed, phase2_corrupted, files_deleted, phase1_error, phase1_unknown, phase2_unknown,"
                f" problems_found, duration, status, results_json) VALUES (?, ?, ?, 'real', '[\"/m\"]', 'basic',"
                f" {stats}, 2.5, 'completed', ?)", (scan_id, day, day, json.dumps(results)))
        problems = [("s1", "/m/a.mkv", "BROKEN", 0, None), ("s1", "/m/b.mkv", "SMALL_FILE", 0, "deleted"),
                    ("s2", "/m/a.mkv", "BROKEN", 0, None), ("s2", "/m/c.mkv", "BROKEN", 1, None)]
        old.executemany("INSERT INTO symlink_problems (scan_id, path, target, status, phase, size, ignored, outcome)"
                        " VALUES (?, ?, '/t', ?, 1, 0, ?, ?)", problems)
    migrate.upgrade_heads(url, models)
    # at symlink_0006 or a later revision (the branch goes on)
    assert any(h.startswith("symlink_") and h >= "symlink_0006" for h in migrate.current_heads(url))
    with sqlite3.connect(path) as new:
        lives = new.execute("SELECT path, state, times_seen, first_seen, last_seen FROM symlink_problem_lives"
                            " ORDER BY path").fetchall()
        trends = new.execute("SELECT scan_id, problems_found, new_problems, tracked_problems, counts, mount_health,"
                             " duration FROM symlink_scan_trends ORDER BY scan_date").fetchall()
    assert lives == [
        ("/m/a.mkv", "seen", 2, "2026-11-01 04:00:00.000000", "2026-11-08 04:00:00.000000"),
        ("/m/b.mkv", "deleted", 1, "2026-11-01 04:00:00.000000", "2026-11-01 04:00:00.000000"),
        ("/m/c.mkv", "ignored", 1, "2026-11-08 04:00:00.000000", "2026-11-08 04:00:00.000000")]
    assert [(s, p, n, t, json.loads(c), m, d) for s, p, n, t, c, m, d in trends] == [
        ("s1", 0, 2, 2, {"BROKEN": 1, "SMALL_FILE": 1}, "healthy", 2.5),
        ("s2", 0, 1, 2, {"BROKEN": 2}, "down", 2.5)]
