"""Build the plugin manager: built-ins, then entry points, then check and collect.

Never built at import time (tests and apps each build their own). A plugin that fails to import
or register is logged and listed with its error; the host still starts. Everything plugins
declare is collected into a :class:`Registry` up front, and duplicates are a startup error.

Every hook is called plugin by plugin. A plugin that raises, or returns something of the
wrong type, from any hook is marked failed with its error, unregistered, and everything it
declared is dropped; the host and the other plugins start.
"""
from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
from dataclasses import dataclass, field
from importlib.machinery import PathFinder
from typing import Any, Iterable

import pluggy

from toolkit import PROJECT, __version__
from toolkit.core import hookspecs
from toolkit.core.config import ToolkitConfig
from toolkit.core.hookspecs import MenuLink, Models, Schedule, SettingsSchema, Task

log = logging.getLogger(__name__)

BUILTIN_PLUGINS: tuple[str, ...] = ("toolkit.plugins.symlink.plugin", "toolkit.plugins.queue.plugin")
ENTRY_POINT_GROUP = PROJECT


class PluginConflict(RuntimeError):
    """Two plugins declared the same name (route, task, table, settings namespace...)."""


@dataclass
class PluginInfo:
    name: str
    version: str = ""
    source: str = "builtin"  # builtin | entry_point | test
    status: str = "loaded"  # loaded | failed | blocked
    error: str | None = None
    hooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "status": self.status,
            "hooks": self.hooks,
            "error": self.error,
        }


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _plugin_name(obj: Any, default: str) -> str:
    return getattr(obj, "PLUGIN_NAME", None) or default


class PluginHost:
    """The plugin manager plus what the host knows about each plugin."""

    def __init__(self, config: ToolkitConfig | None = None):
        self.config = config or ToolkitConfig.from_env()
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}

    @property
    def hook(self):
        return self.pm.hook

    def _allowed(self, name: str) -> bool:
        if name in self.config.plugins_block:
            return False
        return not self.config.plugins_allow or name in self.config.plugins_allow

    def register(self, obj: Any, name: str, *, source: str, version: str = "") -> PluginInfo:
        """Register a plugin object (module or instance); failures are recorded, not raised."""
        info = PluginInfo(name=name, source=source, version=version or __version__)
        self.infos[name] = info
        if not self._allowed(name):
            info.status = "blocked"
            log.info("plugin %s is blocked by configuration", name)
            return info
        try:
            self.pm.register(obj, name=name)
            info.hooks = sorted(h.name for h in self.pm.get_hookcallers(obj) or [])
        except Exception as exc:  # a broken plugin must not stop the host
            info.status, info.error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("plugin %s failed to register", name)
        return info

    def load_builtins(self, modules: Iterable[str] = BUILTIN_PLUGINS) -> None:
        for module_name in modules:
            default = module_name.split(".")[-2] if module_name.endswith(".plugin") else module_name
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                self.infos[default] = PluginInfo(
                    default, __version__, "builtin", "failed", f"{type(exc).__name__}: {exc}"
                )
                log.exception("built-in plugin %s failed to import", module_name)
                continue
            self.register(module, _plugin_name(module, default), source="builtin")

    def load_entry_points(self) -> None:
        if not may_declare_entry_points(ENTRY_POINT_GROUP):
            return
        from importlib import metadata as importlib_metadata

        for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
            version = ep.dist.version if ep.dist else ""
            if not self._allowed(ep.name):
                self.infos[ep.name] = PluginInfo(ep.name, version, "entry_point", "blocked")
                continue
            try:
                obj = ep.load()
            except Exception as exc:
                self.infos[ep.name] = PluginInfo(
                    ep.name, version, "entry_point", "failed", f"{type(exc).__name__}: {exc}"
                )
                log.exception("plugin entry point %s failed to load", ep.name)
                continue
            self.register(obj, ep.name, source="entry_point", version=version)

    def fail(self, name: str, error: str) -> None:
        """Mark a plugin failed and unregister it (no more hook calls)."""
        log.error("plugin %s failed: %s", name, error)
        info = self.infos.setdefault(name, PluginInfo(name))
        info.status, info.error = "failed", error
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)

    def failed(self) -> set[str]:
        return {name for name, info in self.infos.items() if info.status == "failed"}

    def declarations(self, hook_name: str, expected: type, **kwargs: Any) -> list[tuple[str, Any]]:
        """``(plugin, item)`` for every item each plugin returns from ``hook_name``; a plugin
        that raises or returns anything but ``expected`` items (or ``None``) is failed, and
        none of its items is returned."""
        found: list[tuple[str, Any]] = []
        for impl in reversed(getattr(self.hook, hook_name).get_hookimpls()):  # load order
            try:
                items = _as_list(impl.function(**{a: kwargs[a] for a in impl.argnames}))
                for item in items:
                    _check_item(item, expected)
            except Exception as exc:
                self.fail(impl.plugin_name, f"{hook_name}: {type(exc).__name__}: {exc}")
                continue
            found.extend((impl.plugin_name, item) for item in items)
        return found

    def add_commands(self, cli: Any) -> None:
        """``toolkit_register_commands`` plugin by plugin: the commands a failing plugin
        added before it failed are removed again."""
        for impl in reversed(self.hook.toolkit_register_commands.get_hookimpls()):
            before = dict(cli.commands)
            try:
                returned = impl.function(cli=cli)
                if returned is not None:
                    raise TypeError(f"returned {type(returned).__name__}, expected None")
            except Exception as exc:
                cli.commands.clear()
                cli.commands.update(before)
                self.fail(impl.plugin_name, f"toolkit_register_commands: {type(exc).__name__}: {exc}")

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.infos.pop(name, None)

    async def call_each(self, hook_name: str, *, fail: bool = False, **kwargs: Any) -> set[str]:
        """Call one hook on every plugin, one at a time, awaiting awaitable results; a plugin
        that raises is logged and recorded in its info, and the others still run. With
        ``fail`` (startup), a plugin that raises is failed; the names of those are returned."""
        failed: set[str] = set()
        for impl in reversed(getattr(self.hook, hook_name).get_hookimpls()):
            try:
                await await_me_maybe(impl.function(**{a: kwargs[a] for a in impl.argnames}))
            except Exception as exc:
                log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)
                error = f"{hook_name}: {type(exc).__name__}: {exc}"
                if fail:
                    self.fail(impl.plugin_name, error)
                    failed.add(impl.plugin_name)
                elif (info := self.infos.get(impl.plugin_name)) is not None:
                    info.error = error
        return failed

    def check(self) -> None:
        """A plugin implementing an unknown hook (a typo, or a newer host's hook) is
        unregistered and listed with the error instead of stopping the host."""
        known = {name for name in dir(hookspecs) if name.startswith("toolkit_")}
        for name, plugin in list(self.pm.list_name_plugin()):
            unknown = sorted(
                attr for attr in dir(plugin)
                if attr.startswith("toolkit_") and attr not in known
                and self.pm.parse_hookimpl_opts(plugin, attr) is not None
            )
            if unknown:
                self.pm.unregister(plugin)
                info = self.infos[name]
                info.status, info.hooks = "failed", []
                info.error = f"implements unknown hook(s): {', '.join(unknown)}"
                log.error("plugin %s: %s", name, info.error)
        self.pm.check_pending()

    def collect(self) -> "Registry":
        return Registry.collect(self)


def may_declare_entry_points(group: str) -> bool:
    """Whether an installed distribution may declare entry points in ``group``: a look at
    the ``entry_points.txt`` of each distribution in the folders of ``sys.path``. Every
    command line run asks; importing :mod:`importlib.metadata` to answer costs ~25 ms and
    ~4.5 MiB (e-mail headers, zip files), for nothing when no third-party plugin is
    installed. True whenever unsure (a zip archive on the path, another finder that lists
    distributions): then importlib.metadata decides."""
    if any(hasattr(finder, "find_distributions") and finder is not PathFinder for finder in sys.meta_path):
        return True
    header = f"[{group}]"
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except NotADirectoryError:
            return True
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(folder, name, "entry_points.txt"), encoding="utf-8") as declared:
                    if any(line.strip() == header for line in declared):
                        return True
            except (OSError, UnicodeDecodeError):
                continue
    return False


def build_plugin_host(
    config: ToolkitConfig | None = None,
    *,
    builtins: Iterable[str] = BUILTIN_PLUGINS,
    entry_points: bool = True,
    extra: Iterable[tuple[str, Any]] = (),
) -> PluginHost:
    """The factory: built-ins from a tuple of modules, then entry points, then ``extra``
    ``(name, plugin)`` pairs (tests), then the pending-hook check."""
    host = PluginHost(config)
    host.load_builtins(builtins)
    if entry_points:
        host.load_entry_points()
    for name, obj in extra:
        host.register(obj, name, source="test")
    host.check()
    return host


def _by_name(items: Iterable[Any], key, kind: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for item in items:
        name = key(item)
        if name in seen:
            raise PluginConflict(f"duplicate {kind} {name!r} declared by two plugins")
        seen[name] = item
    return seen


def _check_item(item: Any, expected: type) -> None:
    """Raise ``TypeError`` unless ``item`` is an ``expected`` fit for use."""
    if not isinstance(item, expected):
        raise TypeError(f"returned {type(item).__name__}, expected {expected.__name__}")
    problem = None
    if isinstance(item, Models) and not hasattr(item.metadata, "tables"):
        problem = "Models.metadata is not a SQLAlchemy MetaData"
    elif isinstance(item, Task) and not (isinstance(item.name, str) and callable(item.func)):
        problem = "Task needs a name and a function"
    elif isinstance(item, MenuLink) and not (isinstance(item.label, str) and isinstance(item.href, str)
                                             and isinstance(item.order, int)):
        problem = "MenuLink needs a text label, an href and an integer order"
    elif isinstance(item, Schedule) and not (isinstance(item.params, dict)
                                             and all(isinstance(v, str) for v in (item.name, item.task, item.cron))):
        problem = "Schedule needs a name, a task, a cron and params as a dict"
    elif isinstance(item, SettingsSchema) and not (isinstance(item.namespace, str)
                                                   and hasattr(item.model, "model_validate")):
        problem = "SettingsSchema needs a namespace and a pydantic model"
    if problem:
        raise TypeError(problem)


# the hooks that declare things, and the type of each item they return
DECLARATIONS: dict[str, type] = {
    "toolkit_register_models": Models,
    "toolkit_register_tasks": Task,
    "toolkit_settings_schema": SettingsSchema,
    "toolkit_register_schedules": Schedule,
    "toolkit_menu_links": MenuLink,
}


@dataclass
class Registry:
    """Everything the plugins declared, validated once before startup."""

    models: list[Models]
    tasks: dict[str, Task]
    settings: dict[str, SettingsSchema]
    schedules: dict[str, Schedule]
    menu: list[MenuLink]
    owners: dict[int, str] = field(default_factory=dict)  # id(item) -> plugin

    @classmethod
    def collect(cls, host: PluginHost) -> "Registry":
        declared = {hook: host.declarations(hook, kind) for hook, kind in DECLARATIONS.items()}
        failed = host.failed()  # a plugin failing one hook loses all it declared
        owners = {id(item): plugin for found in declared.values() for plugin, item in found}

        def kept(hook: str) -> list:
            return [item for plugin, item in declared[hook] if plugin not in failed]

        models = kept("toolkit_register_models")
        _by_name(
            (table for m in models for table in m.metadata.tables),
            key=lambda t: t,
            kind="table",
        )
        tasks = _by_name(kept("toolkit_register_tasks"), lambda t: t.name, "task")
        settings = _by_name(
            kept("toolkit_settings_schema"), lambda s: s.namespace, "settings namespace"
        )
        schedules = _by_name(
            kept("toolkit_register_schedules"), lambda s: s.name, "schedule"
        )
        for schedule in schedules.values():
            if schedule.task not in tasks:
                raise PluginConflict(
                    f"schedule {schedule.name!r} names unknown task {schedule.task!r}"
                )
            if not tasks[schedule.task].schedulable:
                raise PluginConflict(
                    f"schedule {schedule.name!r} names task {schedule.task!r}, which may not "
                    "be scheduled")
        menu = sorted(kept("toolkit_menu_links"), key=lambda m: (m.order, m.label))
        return cls(models, tasks, settings, schedules, menu, owners)

    def drop(self, plugin: str) -> None:
        """Forget everything ``plugin`` declared (it failed in a later hook), in place: the
        runner, scheduler and settings store hold these same containers."""
        mine = lambda item: self.owners.get(id(item)) == plugin  # noqa: E731
        self.models[:] = [m for m in self.models if not mine(m)]
        self.menu[:] = [m for m in self.menu if not mine(m)]
        for table in (self.tasks, self.settings, self.schedules):
            for key in [k for k, item in table.items() if mine(item)]:
                del table[key]


async def await_me_maybe(value: Any) -> Any:
    """Hooks are synchronous but may return an awaitable: resolve it."""
    if inspect.isawaitable(value):
        value = await value
    return value
