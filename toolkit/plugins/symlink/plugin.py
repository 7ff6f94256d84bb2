"""Hook implementations of the built-in symlink plugin (registered like any third party)."""
from __future__ import annotations

from toolkit.api import MenuLink, SettingsSchema, hookimpl, lazy_command

PLUGIN_NAME = "symlink"
COMMAND_HELP = "Find and clean up broken or damaged media symlinks."


@hookimpl
def toolkit_menu_links():
    return MenuLink(label="Symlink", href="/symlink", icon="🔗", order=10)


@hookimpl
def toolkit_register_models():
    from . import history  # noqa: F401  (declares the web tables on the plugin's metadata)
    from .schema import symlink_models  # the one place naming the migrations folder

    return symlink_models()


@hookimpl
def toolkit_settings_schema():
    # the Sonarr/Radarr connections the page shows are the host's (see service/arr_fields.py)
    from .settings import SymlinkOwnSettings

    return SettingsSchema(namespace="symlink", model=SymlinkOwnSettings, title="Symlink manager",
                          table="symlink_config")


@hookimpl
def toolkit_register_tasks():
    from .service.tasks import TASKS

    return TASKS


@hookimpl
def toolkit_register_schedules():
    from .service.tasks import SCHEDULES

    return SCHEDULES


@hookimpl
def toolkit_register_routes(app):
    from .web.lives import lives_api, lives_pages
    from .web.pages import pages
    from .web.repairs import repairs_api, repairs_pages
    from .web.retarget import retarget_bp
    from .web.routes import api

    return [api, pages, retarget_bp, lives_api, lives_pages, repairs_api, repairs_pages]


@hookimpl
def toolkit_startup(app, toolkit):
    """Publish the known mounts' status for other plugins; then, in the web app, scans whose
    job ended while the toolkit was down (a crash, a restart) take their job's final state
    now rather than looking "running" until someone opens the page."""
    from .service.mount_status import KnownMountStatus

    toolkit.services.setdefault("mounts", KnownMountStatus(toolkit.config.database_url))
    if app is None:
        return None
    from .service.records import reconcile_all

    return reconcile_all(toolkit)


@hookimpl
def toolkit_job_finished(app, job, toolkit):
    if app is None or not job.task.startswith("symlink:"):
        return None
    counter = _link_counter(toolkit)
    if job.task == "symlink:delete" and counter is not None:
        counter.invalidate()  # the folder picker must not show the links just deleted
    from .service.notifications import job_finished

    return job_finished(toolkit, job)


def _link_counter(toolkit):
    """The folder picker's link counter, when the web app made one."""
    from .service.directories import COUNTER_SERVICE

    return toolkit.services.get(COUNTER_SERVICE)


@hookimpl
def toolkit_shutdown(toolkit):
    counter = _link_counter(toolkit)
    if counter is not None:
        counter.cancel()


@hookimpl
def toolkit_register_commands(cli):
    # imported when run: the other commands do not load the engine, nor this the others
    cli.add_command(lazy_command("symlink", f"{__package__}.cli:symlink_cli",
                                 help=COMMAND_HELP))
