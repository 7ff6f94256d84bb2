"""One test per hook: what a plugin declares through it really takes effect."""
from __future__ import annotations

import asyncio
from pathlib import Path

import click
from click.testing import CliRunner
from pydantic import BaseModel
from quart import Blueprint
from sqlalchemy import Column, Integer, String, Table, inspect

from toolkit.cli import build_cli
from toolkit.core.db import create_engine_sync, new_metadata
from toolkit.core.hookspecs import MenuLink, Models, Schedule, SettingsSchema, Task
from toolkit.core.plugins import build_plugin_host
from toolkit.testing import toolkit_of_app

from .plugin_kit import make_plugin

MIGRATIONS = Path(__file__).parent / "kit_migrations"


async def sleeper(ctx, seconds: float = 0.0):
    await asyncio.sleep(seconds)
    return {"slept": seconds}


async def test_hook_toolkit_register_models(toolkit_app_factory, toolkit_config):
    md = new_metadata()
    Table("kit_notes", md, Column("id", Integer, primary_key=True), Column("text", String(50)))
    plugin = make_plugin("kit", toolkit_register_models=lambda: Models(md, MIGRATIONS))
    async with toolkit_app_factory([("kit", plugin)], entry_points=False):
        pass
    engine = create_engine_sync(toolkit_config.database_url)
    try:
        names = inspect(engine).get_table_names()
        with engine.connect() as c:
            versions = {r[0] for r in c.exec_driver_sql("select version_num from alembic_version")}
    finally:
        engine.dispose()
    assert "kit_notes" in names and "toolkit_jobs" in names
    assert "kit_0001" in versions  # its own branch, beside the core's


async def test_hook_toolkit_register_routes(toolkit_app_factory):
    bp = Blueprint("kitroutes", __name__)
    bp.add_url_rule("/api/kit/echo", "echo", lambda: {"echo": "kit"})
    plugin = make_plugin("kit", toolkit_register_routes=lambda app: bp)
    async with toolkit_app_factory([("kit", plugin)], entry_points=False) as app:
        response = await app.test_client().get("/api/kit/echo")
        assert await response.get_json() == {"echo": "kit"}
        doc = await (await app.test_client().get("/api/toolkit/openapi.json")).get_json()
        assert "get" in doc["paths"]["/api/kit/echo"]


async def test_hook_toolkit_menu_links(toolkit_app_factory):
    plugin = make_plugin("kit", toolkit_menu_links=lambda: [
        MenuLink("Zeta tool", "/zeta", "Z", order=200), MenuLink("Alpha tool", "/alpha", order=1)])
    async with toolkit_app_factory([("kit", plugin)], entry_points=False) as app:
        html = await (await app.test_client().get("/")).get_data(as_text=True)
    nav = html[html.index('class="nav'):html.index("</nav>")]
    assert nav.index("/alpha") < nav.index("/symlink") < nav.index("/zeta")


async def test_hook_toolkit_register_tasks(toolkit_app_factory):
    plugin = make_plugin("kit", toolkit_register_tasks=lambda: Task("kit:sleep", sleeper))
    async with toolkit_app_factory([("kit", plugin)], entry_points=False) as app:
        runner = toolkit_of_app(app).runner
        job = await runner.enqueue("kit:sleep", {"seconds": 0.01})
        done = await runner.wait(job.id, timeout=10)
    assert (done.state, done.result) == ("completed", {"slept": 0.01})


class KitSettings(BaseModel):
    colour: str = "blue"


async def test_hook_toolkit_settings_schema(toolkit_app_factory):
    plugin = make_plugin("kit", toolkit_settings_schema=lambda: SettingsSchema("kit", KitSettings))
    async with toolkit_app_factory([("kit", plugin)], entry_points=False) as app:
        client = app.test_client()
        assert (await (await client.get("/api/toolkit/settings/kit")).get_json())["values"] == \
            {"colour": "blue"}
        await client.post("/api/toolkit/settings/kit", json={"colour": "red"})
        assert (await toolkit_of_app(app).settings.get("kit")).colour == "red"


async def test_hook_toolkit_register_schedules(toolkit_app_factory):
    plugin = make_plugin(
        "kit",
        toolkit_register_tasks=lambda: Task("kit:sleep", sleeper, schedulable=True),
        toolkit_register_schedules=lambda: Schedule("kit nightly", "kit:sleep", "daily",
                                                    enabled=True))
    async with toolkit_app_factory([("kit", plugin)], entry_points=False) as app:
        schedules = await (await app.test_client().get("/api/toolkit/schedules")).get_json()
    (kit,) = [s for s in schedules if s["name"] == "kit nightly"]
    assert (kit["task"], kit["cron"], kit["enabled"]) == ("kit:sleep", "0 3 * * *", True)
    assert kit["next_run_at"] is not None


def test_hook_toolkit_register_commands(toolkit_config):
    def commands(cli):
        @cli.command("kit-hello")
        @click.argument("who")
        def kit_hello(who):
            click.echo(f"hi {who}")

    host = build_plugin_host(toolkit_config, entry_points=False,
                             extra=[("kit", make_plugin("kit", toolkit_register_commands=commands))])
    result = CliRunner().invoke(build_cli(host), ["kit-hello", "you"])
    assert (result.exit_code, result.output) == (0, "hi you\n")


async def test_hook_toolkit_startup(toolkit_app_factory):
    events: list[str] = []

    async def startup(app):
        # the database is ready when startup runs
        tk = toolkit_of_app(app)
        events.append(f"start:{(await tk.runner.list()) == []}")

    plugin = make_plugin("kit", toolkit_startup=lambda app: startup(app),
                         toolkit_shutdown=lambda app: events.append("stop"))
    async with toolkit_app_factory([("kit", plugin)], entry_points=False):
        assert events == ["start:True"]
    assert events == ["start:True", "stop"]


async def test_hooks_run_with_the_toolkit_receive_it(toolkit_app_factory, toolkit_config):
    """startup, shutdown and job_finished may take the running toolkit itself (and leave out
    the arguments they do not use); in a command-line run ``app`` is None."""
    from toolkit.api import Toolkit

    seen: list[tuple] = []

    def finished(job, toolkit):
        seen.append(("finished", job.task, toolkit))

    plugin = make_plugin("kit", toolkit_register_tasks=lambda: Task("kit:sleep", sleeper),
                         toolkit_startup=lambda app, toolkit: seen.append(("start", app, toolkit)),
                         toolkit_shutdown=lambda toolkit: seen.append(("stop", toolkit)),
                         toolkit_job_finished=finished)
    async with toolkit_app_factory([("kit", plugin)], entry_points=False) as app:
        tk = toolkit_of_app(app)
        await tk.runner.wait((await tk.runner.enqueue("kit:sleep", {})).id, timeout=10)
    assert seen == [("start", app, tk), ("finished", "kit:sleep", tk), ("stop", tk)]
    seen.clear()
    cli_toolkit = Toolkit(toolkit_config, build_plugin_host(
        toolkit_config, entry_points=False, extra=[("kit", plugin)]))
    await cli_toolkit.start(background=False)  # what a command-line run does
    await cli_toolkit.stop()
    assert seen == [("start", None, cli_toolkit), ("stop", cli_toolkit)]






async def test_hook_toolkit_job_finished(toolkit_app_factory):
    seen = []

    async def finished(app, job):
        seen.append((job.task, job.state, job.result))

    def broken(app, job):
        raise RuntimeError("a broken listener must not change the job")

    plugins = [("kit", make_plugin("kit", toolkit_register_tasks=lambda: Task("kit:sleep", sleeper),
                                   toolkit_job_finished=finished)),
               ("broken", make_plugin("broken", toolkit_job_finished=broken))]
    async with toolkit_app_factory(plugins, entry_points=False) as app:
        runner = toolkit_of_app(app).runner
        job = await runner.enqueue("kit:sleep", {})
        final = await runner.wait(job.id, timeout=10)
    assert final.state == "completed"
    assert seen == [("kit:sleep", "completed", {"slept": 0.0})]


async def test_hook_toolkit_shutdown(toolkit_app_factory):
    """Shutdown hooks run while the database is still open, and one failing does not stop
    the others."""
    events: list[str] = []

    async def shutdown(app):
        events.append(f"jobs:{len(await toolkit_of_app(app).runner.list())}")

    def failing(app):
        raise RuntimeError("boom")

    plugins = [("kit", make_plugin("kit", toolkit_shutdown=shutdown)),
               ("bad", make_plugin("bad", toolkit_shutdown=failing))]
    async with toolkit_app_factory(plugins, entry_points=False) as app:
        assert events == []
    assert events == ["jobs:0"]
    assert "boom" in toolkit_of_app(app).host.infos["bad"].error

