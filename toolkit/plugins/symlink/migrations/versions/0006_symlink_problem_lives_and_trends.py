"""symlink: a life per problem link across scans, and a trend row per scan (never rotated)

The rows are back-filled from what an existing database still holds: the last scans
(rotation keeps 3) and their problems.

Revision ID: symlink_0006
Revises: symlink_0005
Create Date: 2026-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "symlink_0006"
down_revision = "symlink_0005"
branch_labels = None
depends_on = None

FINISHED = ("completed", "error", "cancelled", "interrupted")


def upgrade() -> None:
    lives = op.create_table(
        "symlink_problem_lives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("times_seen", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("last_scan_id", sa.String(length=32), nullable=True),
        sa.Column("state_changed_at", sa.DateTime(), nullable=False),
        sa.Column("fixed_at", sa.DateTime(), nullable=True),
        sa.Column("fixed_how", sa.String(length=16), nullable=True),
        sa.Column("times_back", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=True),
        sa.Column("check_result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_symlink_problem_lives"),
        sa.UniqueConstraint("path", name="uq_symlink_problem_lives_path"),
    )
    op.create_index("ix_symlink_problem_lives_state", "symlink_problem_lives", ["state"])
    op.create_index("ix_symlink_problem_lives_fixed_at", "symlink_problem_lives", ["fixed_at"])
    trends = op.create_table(
        "symlink_scan_trends",
        sa.Column("scan_id", sa.String(length=32), nullable=False),
        sa.Column("scan_date", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("depth", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in (
            "total_analyzed", "problems_found")],
        sa.Column("counts", sa.JSON(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in (
            "new_problems", "back_problems", "fixed_problems", "tracked_problems",
            "resolved_problems", "deleted", "repaired")],
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("mount_health", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("scan_id", name="pk_symlink_scan_trends"),
    )
    op.create_index("ix_symlink_scan_trends_scan_date", "symlink_scan_trends", ["scan_date"])
    _backfill(op.get_bind(), lives, trends)


def _backfill(connection, lives: sa.Table, trends: sa.Table) -> None:
    """The existing scans (oldest first) replayed: each problem path's first and last
    sighting, how often, and one trend row per finished scan."""
    scans = sa.table("symlink_scans", *(sa.column(n) for n in (
        "id", "mode", "verification_depth", "status", "total_analyzed", "problems_found",
        "files_deleted", "duration")), sa.column("scan_date", sa.DateTime()),
        sa.column("finished_at", sa.DateTime()), sa.column("results_json", sa.JSON()))
    problems = sa.table("symlink_problems", *(sa.column(n) for n in (
        "scan_id", "path", "target", "status", "phase", "reason", "outcome")),
        sa.column("ignored", sa.Boolean()))
    seen: dict[str, dict] = {}
    trend_rows = []
    for scan in connection.execute(sa.select(scans).order_by(scans.c.scan_date)).mappings():
        counts: dict[str, int] = {}
        new = 0
        for problem in connection.execute(sa.select(problems).where(problems.c.scan_id == scan["id"])).mappings():
            counts[problem["status"]] = counts.get(problem["status"], 0) + 1
            if problem["status"] == "UNKNOWN":
                continue  # not checked (a mount was down): no life of its own
            life = seen.get(problem["path"])
            if life is None:
                new += 1
                life = seen[problem["path"]] = {
                    "path": problem["path"], "first_seen": scan["scan_date"], "times_seen": 0,
                    "times_back": 0, "fixed_at": None, "fixed_how": None, "checked_at": None,
                    "check_result": None}
            life.update(target=problem["target"], status=problem["status"], phase=problem["phase"], reason=problem["reason"],
                        last_seen=scan["scan_date"], last_scan_id=scan["id"], times_seen=life["times_seen"] + 1,
                        state_changed_at=scan["scan_date"],
                        state=("ignored" if problem["ignored"] else
                               "deleted" if problem["outcome"] == "deleted" else
                               "seen" if life["times_seen"] else "new"))
        if scan["status"] not in FINISHED:
            continue
        results = scan["results_json"] or {}
        trend_rows.append({
            "scan_id": scan["id"], "scan_date": scan["scan_date"], "finished_at": scan["finished_at"],
            "recorded_at": scan["finished_at"] or scan["scan_date"],
            "mode": scan["mode"], "depth": scan["verification_depth"], "status": scan["status"],
            "total_analyzed": scan["total_analyzed"] or 0, "problems_found": scan["problems_found"] or 0,
            "counts": counts, "new_problems": new, "back_problems": 0, "fixed_problems": 0,
            "tracked_problems": sum(life["state"] != "ignored" for life in seen.values()), "resolved_problems": 0, "deleted": scan["files_deleted"] or 0,
            "repaired": 0, "duration": scan["duration"],
            "mount_health": _mount_health(results)})
    if seen:
        op.bulk_insert(lives, list(seen.values()))
    if trend_rows:
        op.bulk_insert(trends, trend_rows)


def _mount_health(results: dict) -> str:
    # frozen here (a migration does not import the plugin's code, which may change)
    mounts = results.get("mounts") or []
    if results.get("mount_down") or any(not m.get("healthy", True) for m in mounts):
        return "down"
    if any(m.get("was_down") or m.get("degraded") for m in mounts):
        return "degraded"
    return "healthy" if mounts else "none"


def downgrade() -> None:
    op.drop_index("ix_symlink_scan_trends_scan_date", table_name="symlink_scan_trends")
    op.drop_table("symlink_scan_trends")
    op.drop_index("ix_symlink_problem_lives_fixed_at", table_name="symlink_problem_lives")
    op.drop_index("ix_symlink_problem_lives_state", table_name="symlink_problem_lives")
    op.drop_table("symlink_problem_lives")
