"""The queue cleaner's tables (alembic branch ``queue``)."""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Integer, String, Table, Text

from toolkit.api import UTCDateTime, new_metadata

metadata = new_metadata()

#: every download seen in the last check, with its strikes (forgotten when it leaves)
items = Table(
    "queue_items", metadata,
    Column("app", String(16), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("queue_id", Integer, nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("problem", String(64)),
    Column("state", String(64), nullable=False),
    Column("sizeleft", Integer, nullable=False, default=0),
    Column("strikes", Integer, nullable=False, default=0),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("checked_at", UTCDateTime(), nullable=False),
)

#: one row per check: what it saw, what it proposes, the token that applies it
plans = Table(
    "queue_plans", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("source", String(16), nullable=False),
    Column("token", String(64), nullable=False),
    Column("observed", JSON, nullable=False),
    Column("entries", JSON, nullable=False),
    Column("errors", JSON, nullable=False),
    Column("held", Text),
    Column("applied_at", UTCDateTime()),
)

#: every action taken, with its reason, strikes and the *arr's answer; undo state
journal = Table(
    "queue_journal", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("plan_id", Integer),
    Column("app", String(16), nullable=False),
    Column("queue_id", Integer, nullable=False),
    Column("download_id", String(255), nullable=False, default=""),
    Column("title", Text, nullable=False, default=""),
    Column("rule", String(64), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("strikes", Integer, nullable=False),
    Column("action", String(32), nullable=False),
    Column("episode_ids", JSON, nullable=False),
    Column("movie_id", Integer),
    Column("series_id", Integer),
    Column("album_ids", JSON),  # Lidarr (queue_0002)
    Column("artist_id", Integer),
    Column("ok", Boolean, nullable=False),
    Column("answer", Text, nullable=False, default=""),
    Column("blocklist_id", Integer),
    Column("undone_at", UTCDateTime()),
    Column("undo_answer", Text),
)
