"""Run alembic in-process: the core's branch in ``toolkit/core/migrations/`` plus one branch
per plugin.

Blocking: call it from a thread when an event loop is running.
"""
from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config

from toolkit.core import db
from toolkit.core.hookspecs import Models

# Inside the package, so that an installed wheel carries its alembic environment.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def core_models() -> Models:
    from toolkit.core.models import Base

    return Models(metadata=Base.metadata, migrations=MIGRATIONS_DIR / "versions")


def plugin_models() -> list[Models]:
    """Models declared by the default plugin set (used when no registry is given)."""
    from toolkit.core.plugins import build_plugin_host

    return build_plugin_host().collect().models


def alembic_config(url: str | None = None, models: list[Models] | None = None) -> Config:
    models = [core_models(), *(plugin_models() if models is None else models)]
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option(
        "version_locations",
        os.pathsep.join(str(m.migrations) for m in models if m.migrations),
    )
    cfg.set_main_option("sqlalchemy.url", db.sync_url(url or db.database_url()))
    cfg.attributes["target_metadata"] = [m.metadata for m in models]
    return cfg


def upgrade_heads(url: str | None = None, models: list[Models] | None = None) -> None:
    """Upgrade the core and every plugin branch to ``heads``."""
    engine = db.create_engine_sync(url)
    try:
        with engine.begin() as connection:
            cfg = alembic_config(url, models)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "heads")
    finally:
        engine.dispose()


def current_heads(url: str | None = None) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    engine = db.create_engine_sync(url)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
