"""``redriva-toolkit`` command line. Plugins add sub-commands through
``toolkit_register_commands(cli)``."""
from __future__ import annotations

import asyncio
import logging
import sys

import click

from toolkit import __version__
from toolkit.core.config import ToolkitConfig
from toolkit.core.plugins import PluginHost, build_plugin_host


def _serve(app, host: str, port: int) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.graceful_timeout = 5
    logging.getLogger("hypercorn.error").propagate = False  # it has its own handler
    asyncio.run(serve(app, config))


def build_cli(host: PluginHost | None = None) -> click.Group:
    plugin_host = host or build_plugin_host()

    @click.group(help="Redriva Toolkit: maintenance tools for media libraries.")
    @click.version_option(__version__, prog_name="redriva-toolkit")
    @click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
    def cli(verbose: bool) -> None:
        logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if not verbose:
            logging.getLogger("alembic").setLevel(logging.WARNING)

    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", default=5050, show_default=True, type=int)
    @click.option("--redriva", metavar="MODULE:APP", default=None,
                  help="Also serve Redriva's Flask app (e.g. src.web:app) in the same process.")
    def serve(host: str, port: int, redriva: str | None) -> None:
        """Run the web app with hypercorn."""
        from toolkit.web import create_app

        app = create_app(plugin_host.config, plugin_host)
        if redriva:
            from toolkit.web.redriva import mount_redriva

            app = mount_redriva(app, redriva)
        click.echo(f"Redriva Toolkit on http://{host}:{port}/ (database: "
                   f"{plugin_host.config.database_url})")
        _serve(app, host, port)

    @cli.command("plugins")
    def plugins_cmd() -> None:
        """List plugins: name, version, source, status (and error)."""
        for info in plugin_host.infos.values():
            line = f"{info.name:20} {info.version:10} {info.source:12} {info.status}"
            if info.error:
                line += f"  {info.error}"
            click.echo(line)

    @cli.group("db")
    def db_group() -> None:
        """Database maintenance."""

    @db_group.command("upgrade")
    def db_upgrade() -> None:
        """Upgrade the core and every plugin's tables to the latest revision."""
        from toolkit.core import migrate

        models = plugin_host.collect().models
        migrate.upgrade_heads(plugin_host.config.database_url, models)
        heads = migrate.current_heads(plugin_host.config.database_url)
        click.echo(f"database at {', '.join(sorted(heads))}")

    @cli.group("jobs")
    def jobs_group() -> None:
        """Background jobs."""

    @jobs_group.command("list")
    @click.option("--task", default=None, help="Only this task.")
    @click.option("--limit", default=20, show_default=True, type=int)
    def jobs_list(task: str | None, limit: int) -> None:
        """Recent jobs, newest first."""
        from toolkit.core.runtime import Toolkit

        async def run():
            toolkit = Toolkit(plugin_host.config, plugin_host)
            await toolkit.start(background=False)
            try:
                return await toolkit.runner.list(task=task, limit=limit)
            finally:
                await toolkit.stop()

        views = asyncio.run(run())
        if not views:
            click.echo("no jobs")
        for v in views:
            created = v.created_at.strftime("%Y-%m-%d %H:%M:%S") if v.created_at else ""
            click.echo(f"{v.id}  {v.task:24} {v.state:11} {created}  "
                       f"{v.error or (v.progress or {}).get('message', '')}")

    plugin_host.add_commands(cli)
    return cli


def main(argv: list[str] | None = None) -> None:
    cli = build_cli(build_plugin_host(ToolkitConfig.from_env()))
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="redriva-toolkit")


if __name__ == "__main__":
    main()
