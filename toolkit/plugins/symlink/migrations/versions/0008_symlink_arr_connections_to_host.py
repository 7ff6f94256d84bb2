"""symlink: the Sonarr/Radarr connections move to the host's settings (one place for every plugin)

The ``symlink_config`` row's ``<kind>_enabled/_host/_port/_api_key`` columns become the
host's ``sonarr`` and ``radarr`` settings namespaces (rows of ``toolkit_settings``,
``{"enabled", "url", "api_key"}``), then the columns are dropped so that no second copy of
an API key stays behind. A namespace already saved in the host is left as it is.
Downgrade puts the values back into the columns (the host's rows are removed).

Revision ID: symlink_0008
Revises: symlink_0007
Create Date: 2026-11-30
"""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "symlink_0008"
down_revision = "symlink_0007"
branch_labels = None
# No depends_on the core's revision: alembic would then stop recording the core's head in
# alembic_version (what engine.store._schema_is_current reads). A database holding a
# symlink_config row was upgraded with the core before, so toolkit_settings is there.
depends_on = None

KINDS = ("sonarr", "radarr")
DEFAULT_PORTS = {"sonarr": 8989, "radarr": 7878}

_settings = sa.table("toolkit_settings", sa.column("namespace", sa.String), sa.column("values", sa.JSON),
                     sa.column("updated_at", sa.DateTime(timezone=True)))


def _columns(kind: str) -> list[sa.Column]:
    return [sa.Column(f"{kind}_enabled", sa.Boolean(), nullable=True),
            sa.Column(f"{kind}_host", sa.Text(), nullable=True),
            sa.Column(f"{kind}_port", sa.Integer(), nullable=True),
            sa.Column(f"{kind}_api_key", sa.Text(), nullable=True)]


def _config_table() -> sa.Table:
    return sa.table("symlink_config", sa.column("id", sa.Integer),
                    *[sa.column(c.name, c.type) for kind in KINDS for c in _columns(kind)])


def upgrade() -> None:
    bind = op.get_bind()
    config = _config_table()
    row = bind.execute(sa.select(config).where(config.c.id == 1)).mappings().first()
    for kind in KINDS:
        host = ((row or {}).get(f"{kind}_host") or "").strip()
        if not host or bind.execute(sa.select(_settings.c.namespace)
                                    .where(_settings.c.namespace == kind)).first():
            continue  # nothing to move, or the host already holds a connection
        port = row.get(f"{kind}_port") or DEFAULT_PORTS[kind]
        address = f"[{host}]" if ":" in host else host
        values = {"enabled": bool(row.get(f"{kind}_enabled")), "url": f"http://{address}:{port}",
                  "api_key": row.get(f"{kind}_api_key") or ""}
        bind.execute(sa.insert(_settings).values(namespace=kind, values=values,
                                                 updated_at=datetime.now(timezone.utc)))
    with op.batch_alter_table("symlink_config") as batch:
        for kind in KINDS:
            for column in _columns(kind):
                batch.drop_column(column.name)


def downgrade() -> None:
    with op.batch_alter_table("symlink_config") as batch:
        for kind in KINDS:
            for column in _columns(kind):
                batch.add_column(column)
    bind = op.get_bind()
    config = _config_table()
    values: dict = {}
    for kind in KINDS:
        stored = bind.execute(sa.select(_settings.c["values"])
                              .where(_settings.c.namespace == kind)).scalar()
        url = (stored or {}).get("url") or ""
        parts = urlsplit(url) if url else None
        if parts is None or not parts.hostname:
            continue
        values.update({f"{kind}_enabled": bool(stored.get("enabled", True)),
                       f"{kind}_host": parts.hostname,
                       f"{kind}_port": parts.port or DEFAULT_PORTS[kind],
                       f"{kind}_api_key": stored.get("api_key") or ""})
        bind.execute(sa.delete(_settings).where(_settings.c.namespace == kind))
    if values and bind.execute(sa.select(config.c.id).where(config.c.id == 1)).first():
        bind.execute(sa.update(config).where(config.c.id == 1).values(**values))
