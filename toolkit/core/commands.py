"""Plugin commands registered by name, imported only when run.

Every command line run loads every plugin and calls its ``toolkit_register_commands``: if
that imported the plugin's command module, ``redriva-toolkit symlink scan`` would import the
queue plugin's services (httpx, SQLAlchemy) and the reverse. :func:`lazy_command` gives the
command line a stand-in that knows the name and the help line; the module is imported
when the command (or its ``--help``) is run.
"""
from __future__ import annotations

import importlib
from typing import Any

import click


class LazyCommand(click.Command):
    """A stand-in for the click command (or group) at ``"module:attribute"``."""

    def __init__(self, name: str, target: str, *, help: str) -> None:
        module, _, attribute = target.partition(":")
        if not (module and attribute):
            raise ValueError(f"expected 'module:attribute', got {target!r}")
        super().__init__(name, help=help)
        self.target = target
        self._command: click.Command | None = None

    def load(self) -> click.Command:
        if self._command is None:
            module, _, attribute = self.target.partition(":")
            try:
                command = getattr(importlib.import_module(module), attribute)
            except Exception as exc:  # a broken plugin: this command fails, not the others
                raise click.ClickException(
                    f"the command {self.name!r} cannot be loaded ({self.target}): "
                    f"{type(exc).__name__}: {exc}") from exc
            if not isinstance(command, click.Command):
                raise click.ClickException(f"{self.target} is not a click command")
            self._command = command
        return self._command

    # the parent group calls make_context then ``sub_ctx.command.invoke``: from here on the
    # real command parses its own options and runs
    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        return self.load().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        return self.load().invoke(ctx)

    def to_info_dict(self, ctx: click.Context) -> dict[str, Any]:
        return self.load().to_info_dict(ctx)


def lazy_command(name: str, target: str, *, help: str) -> click.Command:
    """For ``toolkit_register_commands``: ``cli.add_command(lazy_command("queue",
    "my_plugin.cli:queue_cli", help="..."))`` adds the command ``name`` whose click command
    (or group) is ``target`` (``"module:attribute"``), imported only when it runs; ``help``
    is the line ``redriva-toolkit --help`` shows for it."""
    return LazyCommand(name, target, help=help)
