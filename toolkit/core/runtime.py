"""The toolkit's running parts, shared by the web app and the CLI.

:class:`Toolkit` owns the database engine, the shared ``httpx.AsyncClient``, the job runner,
the scheduler and the settings store. ``start()`` upgrades the database (in a thread), then
starts the runner and the scheduler; ``stop()`` undoes it in reverse order.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from toolkit.core import auth, db, interface, migrate, notify
from toolkit.core.services import mediaserver
from toolkit.core.services.settings import ARR_SCHEMAS
from toolkit.core.config import ToolkitConfig
from toolkit.core.jobs import InProcessJobRunner, JobView
from toolkit.core.plugins import PluginConflict, PluginHost, Registry, build_plugin_host
from toolkit.core.schedule import Scheduler
from toolkit.core.settings import SettingsStore

log = logging.getLogger(__name__)


class Toolkit:
    """The running toolkit: ``config``, ``registry`` (what plugins declared), ``sessions``
    (async database sessions), ``settings``, ``notifier``, ``runner`` (jobs), ``scheduler``,
    ``http`` (the shared HTTP client, once started) and ``services`` (a dict plugins may
    publish into)."""

    def __init__(self, config: ToolkitConfig | None = None, host: PluginHost | None = None):
        self.config = config or ToolkitConfig.from_env()
        self.host = host or build_plugin_host(self.config)
        self.registry: Registry = self.host.collect()  # duplicates fail here, before startup
        for schema in (notify.SCHEMA, auth.SCHEMA, interface.SCHEMA, *mediaserver.SCHEMAS, *ARR_SCHEMAS):
            if schema.namespace in self.registry.settings:
                raise PluginConflict(f"settings namespace {schema.namespace!r} belongs to the host")
            self.registry.settings[schema.namespace] = schema
        self.engine = db.create_engine_async(self.config.database_url)
        self.sessions = db.session_factory(self.engine)
        self.settings = SettingsStore(self.sessions, self.registry.settings, {
            name: table for m in self.registry.models for name, table in m.metadata.tables.items()
        })
        self.notifier = notify.Notifier(self.settings, self.config.base_url)
        self.http: httpx.AsyncClient | None = None
        self.services: dict[str, Any] = {"toolkit": self, "notify": self.notifier}
        self.app: Any = None  # the web app, when there is one
        self.runner = InProcessJobRunner(
            self.sessions, self.registry.tasks, max_concurrent=self.config.max_jobs,
            services=self.services, on_finished=self._job_finished,
        )
        self.scheduler = Scheduler(
            self.sessions, self.runner, tasks=self.registry.tasks,
            defaults=self.registry.schedules,
        )
        self.started = False

    async def upgrade_database(self) -> None:
        await asyncio.to_thread(db.secure_data_dir, self.config.data_dir)
        await asyncio.to_thread(
            migrate.upgrade_heads, self.config.database_url, self.registry.models
        )

    async def start(self, *, background: bool = True) -> None:
        """``background=False`` (CLI commands) upgrades the database but runs no jobs."""
        await self.upgrade_database()
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        self.services["http"] = self.http
        if background:
            await self.runner.start()
            await self.scheduler.start()
        self.started = background
        # a plugin that cannot start loses its tasks, schedules, settings and menu entries
        # (its routes answer 503: see toolkit.web.app); the host and the others go on
        for plugin in await self.host.call_each("toolkit_startup", fail=True, app=self.app,
                                                toolkit=self):
            self.registry.drop(plugin)

    async def stop(self) -> None:
        await self.host.call_each("toolkit_shutdown", app=self.app, toolkit=self)
        if self.started:
            await self.scheduler.stop()
            await self.runner.stop()
        if self.http is not None:
            await self.http.aclose()
        await self.engine.dispose()

    async def _job_finished(self, job: JobView) -> None:
        await self.host.call_each("toolkit_job_finished", app=self.app, job=job,
                                  toolkit=self)
