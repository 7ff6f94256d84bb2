"""Quart app factory.

The host owns the lifespan (``before_serving``/``after_serving``): database upgrade, shared
HTTP client, job runner and scheduler start and stop with the server. Plugins' blueprints,
menu links, templates and static files are registered here, after every declaration was
collected and checked for duplicates.
"""
from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

from quart import Quart, request
from werkzeug.routing.converters import IntegerConverter

from toolkit import __version__
from toolkit.api import current_toolkit  # noqa: F401  (plugins still import it from here)
from toolkit.core.config import ToolkitConfig
from toolkit.core.plugins import PluginConflict, PluginHost
from toolkit.core.runtime import Toolkit
from toolkit.web import i18n, language, mediaservers
from toolkit.web.errors import ApiError, register_error_handlers
from toolkit.web.i18n import gettext as _
from toolkit.core.db import MAX_ID

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent
HTMX = "vendor/htmx-2.0.11.min.js"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BoundedInt(IntegerConverter):
    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _register_blueprints(app: Quart, toolkit: Toolkit) -> None:
    from quart import Blueprint

    found = toolkit.host.declarations("toolkit_register_routes", Blueprint, app=app)
    for plugin in toolkit.host.failed():
        toolkit.registry.drop(plugin)  # a plugin whose routes failed loses its tasks, menu...
    owners: dict[str, str] = {}  # blueprint name -> plugin
    for plugin, blueprint in found:
        if blueprint.name in app.blueprints:
            raise PluginConflict(f"duplicate blueprint name {blueprint.name!r}")
        app.register_blueprint(blueprint)
        owners[blueprint.name] = plugin

    @app.before_request
    async def _refuse_failed_plugins():
        # routes cannot be unregistered from a running app: a plugin that failed after
        # registering them (in its startup hook) answers 503 instead
        plugin = owners.get((request.blueprint or "").split(".")[0])
        if plugin is not None and plugin in toolkit.host.failed():
            raise ApiError(503, _("the plugin %(plugin)s failed to start (see /api/toolkit/plugins)", plugin=plugin),
                           code="plugin_failed")
        return None

    owners_by_rule: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            owner = owners_by_rule.setdefault((rule.rule, method), rule.endpoint)
            if owner != rule.endpoint:
                raise PluginConflict(f"duplicate route {method} {rule.rule}: "
                                     f"{owner!r} and {rule.endpoint!r}")


def _same_origin_guard(app: Quart) -> None:
    """Cross-site request protection for every state-changing request: browsers send
    ``Sec-Fetch-Site`` and ``Origin``; a request from another site is refused. Non-browser
    clients (CLI, curl) send neither and are allowed."""

    @app.before_request
    async def _check_origin():
        if request.method not in UNSAFE_METHODS:
            return None
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            raise ApiError(403, _("cross-site request refused"), code="csrf")
        origin = request.headers.get("Origin")
        # "null" comes from sandboxed frames, data: pages and cross-site redirects
        if origin and (origin == "null" or urlsplit(origin).netloc != request.host):
            raise ApiError(403, _("cross-origin request from %(origin)s refused", origin=origin), code="csrf")
        return None


def create_app(config: ToolkitConfig | None = None, host: PluginHost | None = None) -> Quart:
    toolkit = Toolkit(config, host)
    app = Quart(__name__, static_folder=str(WEB_DIR / "static"),
                static_url_path="/toolkit/static", template_folder=str(WEB_DIR / "templates"))
    app.config["JSON_SORT_KEYS"] = False
    # every <int:...> in a URL fits the database's INTEGER (a larger one would be a 500)
    app.url_map.converters["int"] = BoundedInt
    app.config["TOOLKIT_LANGUAGE"] = toolkit.config.language
    app.extensions["toolkit"] = toolkit
    toolkit.app = app
    i18n.init_app(app)  # also makes notifications follow the request's or the set language
    register_error_handlers(app)
    from toolkit.web import auth

    gate = auth.install(app, toolkit)  # first: the host check and the gate run before all
    _same_origin_guard(app)

    from toolkit.web.api import api, pages

    app.register_blueprint(api)
    app.register_blueprint(pages)
    language.install(app)
    mediaservers.install(app)
    _register_blueprints(app, toolkit)

    @app.context_processor
    async def _layout_context():
        return {
            "toolkit_menu": toolkit.registry.menu,
            "toolkit_version": __version__,
            "htmx_src": f"/toolkit/static/{HTMX}",
            "redriva": app.config.get("REDRIVA_MOUNTED", False),
        }

    @app.before_request
    async def _remember_public_url():
        # links in notifications point where users reach the app, unless configured
        if not toolkit.notifier.public_url:
            toolkit.notifier.public_url = request.url_root.rstrip("/")

    @app.before_serving
    async def _startup():
        await toolkit.start()
        await i18n.load_setting(app)
        await gate.start()  # creates the signing key and the API key on first start

    @app.after_serving
    async def _shutdown():
        await toolkit.stop()
        i18n.unload(app)

    return app
