"""Every hook a plugin may implement, one docstring each.

Hooks stay synchronous and cheap: they *declare* things (tables, blueprints, tasks...). The host
collects every declaration before startup and refuses duplicates with a clear error. Only
``toolkit_startup`` / ``toolkit_shutdown`` may return an awaitable; the host awaits it.
Each hook returns one item, a list of items, or ``None``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import pluggy

from toolkit import PROJECT

hookspec = pluggy.HookspecMarker(PROJECT)


@dataclass(frozen=True)
class Models:
    """A plugin's tables: its SQLAlchemy ``MetaData`` and the folder holding its alembic
    revisions (a branch of its own, labelled with the plugin's name)."""

    metadata: Any
    migrations: Path | None = None


@dataclass(frozen=True)
class MenuLink:
    """An entry of the toolkit's menu (and of Redriva's menu when mounted)."""

    label: str
    href: str
    icon: str = ""
    order: int = 100


@dataclass(frozen=True)
class Task:
    """A named background task. ``func`` is ``async def func(ctx, **params) -> dict | None``;
    ``ctx`` is a :class:`toolkit.core.jobs.JobContext`. Names are namespaced (``symlink:scan``).
    ``exclusive_key(params)`` returns a resource key: two jobs with the same key never run at
    once. ``keep_last`` is how many finished jobs of this task the history keeps.

    ``params`` is a pydantic model of the parameters (give it ``extra="forbid"``): they are
    validated whenever a job is enqueued (API, schedule, CLI, another task) and again when
    it starts, and the task receives the validated values. Without a model, any JSON object
    is passed as is. ``schedulable``: whether a schedule may start it (off by default: a task
    that deletes or changes things should only start after a person confirmed)."""

    name: str
    func: Callable[..., Awaitable[Any]]
    exclusive_key: Callable[[dict], str | None] | None = None
    keep_last: int = 50
    description: str = ""
    params: type | None = None
    schedulable: bool = False


@dataclass(frozen=True)
class SettingsSchema:
    """A plugin's settings: a pydantic model with defaults for every field. ``namespace`` is
    where they are stored and the prefix of their environment overrides
    (``TOOLKIT_<NAMESPACE>__<FIELD>``). ``pydantic.SecretStr`` fields are never shown in clear.
    ``table`` (optional) names one of the plugin's own tables to keep the values in: one row
    ``id=1`` with a column per model field plus ``created_at``/``updated_at``; without it the
    values are kept as JSON in the host's ``toolkit_settings`` table."""

    namespace: str
    model: type
    title: str = ""
    table: str | None = None


@dataclass(frozen=True)
class Schedule:
    """A default cron schedule for a task, created (disabled unless ``enabled``) the first time
    the host sees it; the user may then change or disable it."""

    name: str
    task: str
    cron: str
    params: dict = field(default_factory=dict)
    enabled: bool = False


@hookspec
def toolkit_register_models() -> Models | list[Models] | None:
    """Declare the plugin's SQLAlchemy metadata and the location of its alembic revisions.

    Table names must be prefixed with the plugin's namespace (``symlink_*``); a table name
    declared twice is a startup error. The host upgrades every branch to ``heads`` at startup.
    """


@hookspec
def toolkit_register_routes(app) -> Any:
    """Return the plugin's Quart blueprints (one or a list): its pages and ``/api/...``
    endpoints, templates and static files. Two plugins declaring the same URL rule and method,
    or the same blueprint name, is a startup error."""


@hookspec
def toolkit_menu_links() -> MenuLink | list[MenuLink] | None:
    """Return entries for the menu of the toolkit's layout (and of Redriva's menu when the
    toolkit is mounted into it)."""


@hookspec
def toolkit_register_tasks() -> Task | list[Task] | None:
    """Return the named background tasks the job runner may run. A name declared twice is a
    startup error."""


@hookspec
def toolkit_settings_schema() -> SettingsSchema | None:
    """Return the plugin's settings schema (a pydantic model). Values are stored in the
    database, validated on write (HTTP 422 with field messages) and secrets masked on read."""


@hookspec
def toolkit_register_schedules() -> Schedule | list[Schedule] | None:
    """Return default cron schedules for the plugin's tasks."""


@hookspec
def toolkit_register_commands(cli) -> None:
    """Add click commands or groups to the ``redriva-toolkit`` command line (``cli`` is the
    root ``click.Group``)."""


@hookspec
def toolkit_startup(app, toolkit) -> Awaitable[None] | None:
    """Called once the toolkit has started (database upgraded; in the web app the job runner
    runs too). ``toolkit`` is the running :class:`toolkit.api.Toolkit`; ``app`` is the web
    app, or ``None`` in a command-line run. May return an awaitable."""


@hookspec
def toolkit_shutdown(app, toolkit) -> Awaitable[None] | None:
    """Called when the toolkit stops, before the job runner and database are closed. May
    return an awaitable."""


@hookspec
def toolkit_job_finished(app, job, toolkit) -> Awaitable[None] | None:
    """Called when a job ends (completed, failed, cancelled) with its final
    :class:`toolkit.core.jobs.JobView`, for example to send notifications. May return an
    awaitable; its errors are logged and never change the job."""
