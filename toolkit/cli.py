"""``redriva-toolkit`` command line. Plugins add sub-commands through
``toolkit_register_commands(cli)``."""
from __future__ import annotations

import sys

# Work a command starts before its command line is parsed, by the command's first two words
# ("module:function", imported only for that command): click, the plugins and the settings
# take ~60 ms to load, which the symlink scan's own process (an interpreter, its worker,
# the engine's imports: ~0.1 s) spends starting meanwhile (issue 9: the command's speed).
EARLY_STARTS = {("symlink", "scan"): "toolkit.plugins.symlink.scanstart:start_early"}


def _start_early(arguments: list[str]) -> None:
    target = EARLY_STARTS.get(tuple(word for word in arguments if not word.startswith("-"))[:2])
    if target is None:
        return
    import importlib

    module, _, function = target.partition(":")
    try:
        getattr(importlib.import_module(module), function)()
    except Exception:  # noqa: BLE001  the command starts it later, or says why it cannot
        pass


_start_early(sys.argv[1:])

import logging  # noqa: E402  (after the early start, on purpose)

import click  # noqa: E402

from toolkit import __version__  # noqa: E402
from toolkit.core.config import ToolkitConfig  # noqa: E402
from toolkit.core.i18n import gettext as _  # noqa: E402
from toolkit.core.plugins import PluginHost, build_plugin_host  # noqa: E402


def _serve(app, host: str, port: int) -> None:
    import asyncio

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
        app.config["TOOLKIT_BIND_HOSTS"] = [host]  # loopback only: no account needed
        if redriva:
            from toolkit.web.redriva import mount_redriva

            app = mount_redriva(app, redriva)
        click.echo(_("Redriva Toolkit on %(url)s (database: %(database)s)", url=f"http://{host}:{port}/",
                     database=plugin_host.config.database_url))
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
        click.echo(_("database at %(heads)s", heads=", ".join(sorted(heads))))

    def with_toolkit(work):
        """Run ``work(toolkit)`` on a started toolkit (database upgraded, no jobs)."""
        from toolkit.core.runtime import Toolkit

        async def run():
            toolkit = Toolkit(plugin_host.config, plugin_host)
            await toolkit.start(background=False)
            try:
                return await work(toolkit)
            finally:
                await toolkit.stop()

        import asyncio  # here: a symlink scan starts without it

        return asyncio.run(run())

    @cli.group("auth")
    def auth_group() -> None:
        """The admin account and the API key (whoever runs this owns the data folder)."""

    @auth_group.command("set-password")
    @click.option("--username", default=None, help="Account name (default: the current one, "
                  "else admin).")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard "
                  "input instead of asking.")
    def auth_set_password(username: str | None, password_stdin: bool) -> None:
        """Create the admin account or change its password; every session ends."""
        from toolkit.core.auth import AuthStore, PasswordError

        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt(_("New password"), hide_input=True, confirmation_prompt=True)

        async def work(toolkit):
            store = AuthStore(toolkit.sessions)
            name = username or (await store.load()).username or "admin"
            return await store.set_password(name, password)

        try:
            state = with_toolkit(work)
        except PasswordError as exc:
            raise click.ClickException(_(str(exc))) from None  # the N_-marked messages of core.auth
        click.echo(_("password of %(user)s saved; every session was ended", user=repr(state.username)))

    @auth_group.command("api-key")
    @click.option("--rotate", is_flag=True, help="Replace the key: the old one stops working.")
    def auth_api_key(rotate: bool) -> None:
        """Print the API key (sent by scripts in the X-Api-Key header)."""
        from toolkit.core.auth import AuthStore

        async def work(toolkit):
            store = AuthStore(toolkit.sessions)
            return await (store.rotate_api_key() if rotate else store.load())

        click.echo(with_toolkit(work).api_key)

    @cli.group("jobs")
    def jobs_group() -> None:
        """Background jobs."""

    @jobs_group.command("list")
    @click.option("--task", default=None, help="Only this task.")
    @click.option("--limit", default=20, show_default=True, type=int)
    def jobs_list(task: str | None, limit: int) -> None:
        """Recent jobs, newest first."""
        views = with_toolkit(lambda toolkit: toolkit.runner.list(task=task, limit=limit))
        if not views:
            click.echo(_("no jobs"))
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
