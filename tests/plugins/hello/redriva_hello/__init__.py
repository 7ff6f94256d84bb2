"""A complete small plugin: a page, an API route, a menu link, a task, settings, a command."""
from __future__ import annotations

import click
from pydantic import BaseModel, Field
from quart import Blueprint, render_template

from toolkit.api import MenuLink, SettingsSchema, Task, hookimpl

bp = Blueprint("hello", __name__, template_folder="templates")


class HelloSettings(BaseModel):
    greeting: str = Field("Hello", min_length=1, max_length=40)


@bp.get("/hello")
async def page():
    return await render_template("hello/page.html")


@bp.get("/api/hello/ping")
async def ping():
    """Answer pong."""
    return {"pong": True}


async def count_task(ctx, upto: int = 3):
    for i in range(upto):
        ctx.report_progress(fraction=(i + 1) / upto, message=f"{i + 1}/{upto}")
    return {"counted": upto}


@hookimpl
def toolkit_register_routes(app):
    return bp


@hookimpl
def toolkit_menu_links():
    return MenuLink(label="Hello", href="/hello", icon="👋", order=50)


@hookimpl
def toolkit_register_tasks():
    return Task(name="hello:count", func=count_task, description="Counts to N.")


@hookimpl
def toolkit_settings_schema():
    return SettingsSchema(namespace="hello", model=HelloSettings, title="Hello")


@hookimpl
def toolkit_register_commands(cli):
    @cli.command("hello")
    def hello_cmd():
        """Say hello."""
        click.echo("hello from a plugin")
