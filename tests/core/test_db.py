"""Database location, per-connection pragmas, migrations matching the models."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from toolkit.core import db, migrate
from toolkit.core.plugins import build_plugin_host


def test_default_database_is_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("TOOLKIT_DATABASE_URL", raising=False)
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path / "d"))
    assert db.database_url() == f"sqlite+aiosqlite:///{tmp_path / 'd' / 'toolkit.db'}"
    assert (tmp_path / "d").is_dir()
    monkeypatch.setenv("TOOLKIT_DATABASE_URL", "sqlite+aiosqlite:////elsewhere/x.db")
    assert db.database_url() == "sqlite+aiosqlite:////elsewhere/x.db"


async def test_every_connection_gets_wal_foreign_keys_and_busy_timeout(toolkit_config):
    engine = db.create_engine_async(toolkit_config.database_url)
    try:
        for _ in range(2):  # two pooled connections
            async with engine.connect() as conn:
                mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
                fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
                busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
                assert (mode, fks, busy) == ("wal", 1, db.BUSY_TIMEOUT_MS)
    finally:
        await engine.dispose()


def test_migrations_create_exactly_what_the_models_declare(toolkit_config):
    """Core and every built-in plugin: upgrade to heads, then autogenerate finds no diff."""
    models = build_plugin_host(toolkit_config, entry_points=False).collect().models
    migrate.upgrade_heads(toolkit_config.database_url, models)
    engine = db.create_engine_sync(toolkit_config.database_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            metadatas = [migrate.core_models().metadata, *(m.metadata for m in models)]
            diffs = compare_metadata(ctx, metadatas)
        assert diffs == []
    finally:
        engine.dispose()
    heads = migrate.current_heads(toolkit_config.database_url)
    assert "0001_core" in heads and len(heads) == 1 + len([m for m in models if m.migrations])


def test_db_upgrade_command(tmp_path):
    exe = str(Path(sys.executable).parent / "redriva-toolkit")
    out = subprocess.run([exe, "db", "upgrade"], env={"TOOLKIT_DATA_DIR": str(tmp_path)},
                         capture_output=True, text=True, check=True).stdout
    assert "0001_core" in out
    tables = {r[0] for r in sqlite3.connect(tmp_path / "toolkit.db").execute(
        "select name from sqlite_master where type='table'")}
    assert {"toolkit_jobs", "toolkit_settings", "toolkit_schedules"} <= tables
