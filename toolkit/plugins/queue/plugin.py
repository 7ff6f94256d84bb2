"""Hook implementations of the built-in queue cleaner."""
from __future__ import annotations

from pathlib import Path

from toolkit.api import MenuLink, Models, SettingsSchema, hookimpl, lazy_command

PLUGIN_NAME = "queue"
COMMAND_HELP = "Clean up Sonarr/Radarr download queues."
MIGRATIONS = Path(__file__).resolve().parent / "migrations" / "versions"


@hookimpl
def toolkit_menu_links():
    return MenuLink(label="Queue", href="/queue", icon="🧹", order=20)


@hookimpl
def toolkit_register_models():
    from .models import metadata

    return Models(metadata=metadata, migrations=MIGRATIONS)


@hookimpl
def toolkit_settings_schema():
    from .settings import QueueSettings

    return SettingsSchema(namespace="queue", model=QueueSettings, title="Queue cleaner")


@hookimpl
def toolkit_register_tasks():
    from .tasks import TASKS

    return TASKS


@hookimpl
def toolkit_register_schedules():
    from .tasks import SCHEDULES

    return SCHEDULES


@hookimpl
def toolkit_register_routes(app):
    from .web.pages import pages
    from .web.routes import api

    return [api, pages]


@hookimpl
def toolkit_register_commands(cli):
    # imported when run: its services (httpx, SQLAlchemy) stay out of the other commands
    cli.add_command(lazy_command("queue", f"{__package__}.cli:queue_cli", help=COMMAND_HELP))
