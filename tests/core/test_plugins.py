"""Plugin discovery, failure isolation, block/allow lists, duplicate detection."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel
from quart import Blueprint
from sqlalchemy import Column, Integer, Table

from toolkit.core import hookspecs
from toolkit.core.db import new_metadata
from toolkit.core.hookspecs import Models, SettingsSchema, Task
from toolkit.core.plugins import PluginConflict, build_plugin_host, may_declare_entry_points
from toolkit.testing import make_app, make_config

from .plugin_kit import make_plugin

TESTS = Path(__file__).resolve().parents[1]
HELLO = TESTS / "plugins" / "hello"


async def noop(ctx):
    return None


def test_builtin_symlink_plugin_is_loaded(toolkit_config):
    host = build_plugin_host(toolkit_config, entry_points=False)
    info = host.infos["symlink"]
    assert (info.source, info.status, info.error) == ("builtin", "loaded", None)
    assert "toolkit_menu_links" in info.hooks


def test_broken_builtin_module_is_listed_and_host_still_builds(toolkit_config):
    host = build_plugin_host(toolkit_config, builtins=("toolkit.plugins.does_not_exist.plugin",
                                                       "toolkit.plugins.symlink.plugin"),
                             entry_points=False)
    assert host.infos["does_not_exist"].status == "failed"
    assert "ModuleNotFoundError" in host.infos["does_not_exist"].error
    assert host.infos["symlink"].status == "loaded"


def test_plugin_with_unknown_hook_is_failed_not_fatal(toolkit_config):
    bad = make_plugin("typo", toolkit_menu_linkz=lambda: None)
    host = build_plugin_host(toolkit_config, entry_points=False, extra=[("typo", bad)])
    assert host.infos["typo"].status == "failed"
    assert "toolkit_menu_linkz" in host.infos["typo"].error
    assert host.pm.get_plugin("typo") is None


def test_plugin_that_fails_to_register_is_listed(toolkit_config):
    # A hookimpl with an argument the hookspec does not have is refused by pluggy.
    bad = make_plugin("badargs", toolkit_menu_links=lambda surprise: None)
    host = build_plugin_host(toolkit_config, entry_points=False, extra=[("badargs", bad)])
    assert host.infos["badargs"].status == "failed"
    assert "surprise" in host.infos["badargs"].error


async def test_app_starts_with_a_failed_plugin(toolkit_config):
    bad = make_plugin("typo", toolkit_menu_linkz=lambda: None)
    app = make_app(toolkit_config, [("typo", bad)], entry_points=False)
    async with app.test_app():
        plugins = await (await app.test_client().get("/api/toolkit/plugins")).get_json()
    by_name = {p["name"]: p for p in plugins}
    assert by_name["typo"]["status"] == "failed"
    assert by_name["symlink"]["status"] == "loaded"


def test_block_and_allow_lists(tmp_path):
    blocked = build_plugin_host(make_config(tmp_path, plugins_block=frozenset({"symlink"})),
                                entry_points=False)
    assert blocked.infos["symlink"].status == "blocked"
    assert blocked.pm.get_plugin("symlink") is None
    allowed = build_plugin_host(make_config(tmp_path, plugins_allow=frozenset({"other"})),
                                entry_points=False, extra=[("other", make_plugin("other"))])
    assert allowed.infos["symlink"].status == "blocked"
    assert allowed.infos["other"].status == "loaded"


def test_block_list_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_PLUGINS_BLOCK", "symlink, other")
    host = build_plugin_host(make_config(tmp_path), entry_points=False)
    assert host.infos["symlink"].status == "blocked"


class XSettings(BaseModel):
    colour: str = "blue"


def _two(hook: str, make_value) -> list:
    return [(n, make_plugin(n, **{hook: make_value})) for n in ("one", "two")]


@pytest.mark.parametrize("hook,value,message", [
    ("toolkit_register_tasks", lambda: Task("x:run", noop), "duplicate task 'x:run'"),
    ("toolkit_settings_schema", lambda: SettingsSchema("x", XSettings), "duplicate settings namespace"),
])
def test_duplicate_declarations_are_startup_errors(toolkit_config, hook, value, message):
    host = build_plugin_host(toolkit_config, entry_points=False, extra=_two(hook, value))
    with pytest.raises(PluginConflict, match=message):
        host.collect()


def test_duplicate_tables_are_startup_errors(toolkit_config):
    def models():
        md = new_metadata()
        Table("x_items", md, Column("id", Integer, primary_key=True))
        return Models(md)

    host = build_plugin_host(toolkit_config, entry_points=False,
                             extra=_two("toolkit_register_models", models))
    with pytest.raises(PluginConflict, match="duplicate table 'x_items'"):
        host.collect()


def test_duplicate_routes_are_startup_errors(toolkit_config):
    def routes(app):
        bp = Blueprint(f"bp{id(object())}", __name__)
        bp.add_url_rule("/api/same", "same", lambda: "x")
        return bp

    with pytest.raises(PluginConflict, match="duplicate route GET /api/same"):
        make_app(toolkit_config, _two("toolkit_register_routes", routes), entry_points=False)


def test_every_hook_has_a_test():
    """Each hook in hookspecs.py needs a ``test_hook_<name>`` test somewhere in tests/."""
    hooks = sorted(n for n in dir(hookspecs) if n.startswith("toolkit_"))
    source = "\n".join(p.read_text() for p in TESTS.rglob("test_*.py"))
    tested = set(re.findall(r"def (test_hook_toolkit_\w+)", source))
    missing = [h for h in hooks if not any(t.startswith(f"test_hook_{h}") for t in tested)]
    assert len(hooks) >= 10
    assert missing == [], f"hooks without a test: {missing}"


def test_entry_points_are_read_only_when_a_distribution_may_declare_the_group(tmp_path, monkeypatch):
    """Every command line run asks for plugins; importlib.metadata is imported only when
    an installed distribution declares the group, or when a zip archive on the path could."""
    site = tmp_path / "site"
    (site / "other-1.0.dist-info").mkdir(parents=True)
    (site / "other-1.0.dist-info" / "entry_points.txt").write_text("[console_scripts]\nother = other:main\n")
    (site / "old.egg-info").write_text("Metadata-Version: 1.0\n")  # a distutils file, not a folder
    monkeypatch.setattr(sys, "path", [str(site), str(tmp_path / "missing")])
    assert not may_declare_entry_points("redriva_toolkit")

    (site / "plugin-2.0.dist-info").mkdir()
    (site / "plugin-2.0.dist-info" / "entry_points.txt").write_text("[redriva_toolkit]\nplug = plug.hooks\n")
    assert may_declare_entry_points("redriva_toolkit")

    archive = tmp_path / "plugins.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: what it holds is unknown here
    monkeypatch.setattr(sys, "path", [str(archive)])
    assert may_declare_entry_points("redriva_toolkit")


@pytest.fixture(scope="module")
def hello_installed():
    """Install the real third-party distribution under tests/plugins/hello into this venv."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", str(HELLO)],
                   check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", "redriva-toolkit-hello"], check=True,
                       capture_output=True)


async def test_third_party_plugin_is_discovered_through_its_entry_point(hello_installed,
                                                                        toolkit_config):
    app = make_app(toolkit_config)  # entry points on, nothing registered by hand
    async with app.test_app():
        client = app.test_client()
        plugins = {p["name"]: p for p in await (await client.get("/api/toolkit/plugins")).get_json()}
        assert plugins["hello"]["source"] == "entry_point"
        assert plugins["hello"]["version"] == "1.2.3"
        assert await (await client.get("/api/hello/ping")).get_json() == {"pong": True}
        page = await (await client.get("/hello")).get_data(as_text=True)
        assert "Hello from a third-party plugin." in page
        assert '<a href="/hello"' in page  # its menu link, in the shared layout
        job = await (await client.post("/api/toolkit/jobs", json={})).get_json()
        assert job["error"]["status"] in (404, 405)


def test_third_party_plugin_in_cli(hello_installed, tmp_path):
    env = {"TOOLKIT_DATA_DIR": str(tmp_path), "PATH": str(Path(sys.executable).parent)}
    exe = str(Path(sys.executable).parent / "redriva-toolkit")
    listing = subprocess.run([exe, "plugins"], env=env, capture_output=True, text=True,
                             check=True).stdout
    assert re.search(r"^hello\s+1\.2\.3\s+entry_point\s+loaded", listing, re.M)
    assert re.search(r"^symlink\s+\S+\s+builtin\s+loaded", listing, re.M)
    said = subprocess.run([exe, "hello"], env=env, capture_output=True, text=True, check=True)
    assert said.stdout.strip() == "hello from a plugin"


def _boom():
    raise RuntimeError("boom")


@pytest.mark.parametrize(("hooks", "error"), [
    ({"toolkit_menu_links": lambda: {"label": "Bad", "href": "/bad"}},
     "toolkit_menu_links: TypeError: returned dict, expected MenuLink"),
    ({"toolkit_register_tasks": _boom}, "toolkit_register_tasks: RuntimeError: boom"),
    ({"toolkit_settings_schema": lambda: SettingsSchema("bad", dict)},
     "toolkit_settings_schema: TypeError: SettingsSchema needs a namespace and a pydantic model"),
    ({"toolkit_register_routes": lambda app: "not a blueprint"},
     "toolkit_register_routes: TypeError: returned str, expected Blueprint"),
])
async def test_a_plugin_failing_any_declaration_is_failed_and_loses_all_it_declared(
        toolkit_config, hooks, error):
    from toolkit.core.hookspecs import MenuLink, Schedule

    declared = {"toolkit_register_tasks": lambda: Task("bad:run", noop, schedulable=True),
                "toolkit_menu_links": lambda: MenuLink("Bad", "/bad"),
                "toolkit_register_schedules": lambda: Schedule("bad nightly", "bad:run", "daily")}
    bad = make_plugin("bad", **{**declared, **hooks})
    good = make_plugin("good", toolkit_register_tasks=lambda: Task("good:run", noop),
                       toolkit_menu_links=lambda: MenuLink("Good", "/good"))
    app = make_app(toolkit_config, [("bad", bad), ("good", good)], entry_points=False)
    async with app.test_app():
        client = app.test_client()
        plugins = {p["name"]: p for p in await (await client.get("/api/toolkit/plugins")).get_json()}
        tasks = {t["name"] for t in await (await client.get("/api/toolkit/tasks")).get_json()}
        schedules = {s["name"] for s in await (await client.get("/api/toolkit/schedules")).get_json()}
        home = await (await client.get("/")).get_data(as_text=True)
    assert (plugins["bad"]["status"], plugins["bad"]["error"]) == ("failed", error)
    assert plugins["good"]["status"] == plugins["symlink"]["status"] == "loaded"
    assert "good:run" in tasks and "symlink:scan" in tasks and "bad:run" not in tasks
    assert "bad nightly" not in schedules
    assert 'href="/good"' in home and 'href="/bad"' not in home


def test_a_plugin_failing_to_add_commands_leaves_none_behind(toolkit_config):
    import click
    from click.testing import CliRunner

    from toolkit.cli import build_cli

    def half_done(cli):
        @cli.command("half")
        def half():
            click.echo("should not be here")
        raise RuntimeError("boom after one command")

    host = build_plugin_host(toolkit_config, entry_points=False,
                             extra=[("bad", make_plugin("bad", toolkit_register_commands=half_done))])
    cli = build_cli(host)
    assert "half" not in cli.commands and "symlink" in cli.commands
    assert host.infos["bad"].status == "failed" and "boom after one command" in host.infos["bad"].error
    assert CliRunner().invoke(cli, ["plugins"]).exit_code == 0


async def test_a_plugin_failing_to_start_is_failed_and_its_routes_answer_503(toolkit_config):
    from toolkit.core.hookspecs import MenuLink

    def boom(app):
        raise RuntimeError("cannot reach its backend")

    bad_bp, good_bp = Blueprint("bad", __name__), Blueprint("good", __name__)
    bad_bp.get("/api/bad/ping")(lambda: {"pong": True})
    good_bp.get("/api/good/ping")(lambda: {"pong": True})
    bad = make_plugin("bad", toolkit_startup=boom,
                      toolkit_register_routes=lambda app: bad_bp,
                      toolkit_register_tasks=lambda: Task("bad:run", noop),
                      toolkit_menu_links=lambda: MenuLink("Bad", "/bad"))
    good = make_plugin("good", toolkit_register_routes=lambda app: good_bp,
                       toolkit_menu_links=lambda: MenuLink("Good", "/good"))
    app = make_app(toolkit_config, [("bad", bad), ("good", good)], entry_points=False)
    async with app.test_app():
        client = app.test_client()
        plugins = {p["name"]: p for p in await (await client.get("/api/toolkit/plugins")).get_json()}
        tasks = {t["name"] for t in await (await client.get("/api/toolkit/tasks")).get_json()}
        refused = await client.get("/api/bad/ping")
        good_answer = await client.get("/api/good/ping")
        home = await (await client.get("/")).get_data(as_text=True)
    assert (plugins["bad"]["status"], plugins["bad"]["error"]) == (
        "failed", "toolkit_startup: RuntimeError: cannot reach its backend")
    assert plugins["good"]["status"] == plugins["symlink"]["status"] == "loaded"
    assert refused.status_code == 503
    assert "the plugin bad failed to start" in (await refused.get_data(as_text=True))
    assert good_answer.status_code == 200 and (await good_answer.get_json()) == {"pong": True}
    assert "bad:run" not in tasks and "symlink:scan" in tasks
    assert 'href="/good"' in home and 'href="/bad"' not in home
