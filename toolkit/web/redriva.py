"""Mount the toolkit into Redriva, and Redriva's side of the menu integration.

Redriva is a Flask (WSGI) app with one global ``app`` in ``src/web.py``. :func:`mount_redriva`
makes one ASGI application, served by hypercorn, out of the toolkit's Quart app and Redriva's
app: a request whose path lies in one of the toolkit's URL namespaces goes to Quart, every
other request goes to Redriva, unchanged. The namespaces come from the Quart app's URL map
(``/symlink``, ``/api/symlink``, ``/api/toolkit``, ``/toolkit``, and whatever other plugins
registered), so a new plugin is routed without touching this module. Lifespan events go to the
toolkit (Redriva has none). Mounted, the toolkit's pages are rendered inside Redriva's own base
template (:class:`RedrivaFrame`), Redriva's failures stay Redriva's (:func:`_guarded`), and on
the toolkit's first start its symlink settings and Sonarr/Radarr connections start from
Redriva's ``config.json`` (:func:`take_redriva_settings`).

:func:`init_redriva` is the one call a Redriva install adds to ``src/web.py``: it registers a
Flask context processor that provides the toolkit's menu links (read from the plugin host,
without starting the toolkit) and a template folder holding ``toolkit_menu.html``, which
Redriva's ``base.html`` includes inside its menu.
"""
from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import click
from hypercorn.app_wrappers import WSGIWrapper
from markupsafe import Markup
from quart import has_request_context

from toolkit.core.i18n import normalize

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates" / "redriva"
EXTENSION = "redriva_toolkit"  # key of the menu source in ``flask_app.extensions``
TOOLKIT_URL_ENV = "REDRIVA_TOOLKIT_URL"
# Redriva runs under gunicorn with a few sync threads; the same here, in a pool of its own so
# a slow Redriva page never takes the threads the toolkit uses for blocking work.
REDRIVA_THREADS = 8
REDRIVA_POOL = "redriva"
# Redriva's layout around the toolkit's pages runs Redriva's code too, in a small pool of its
# own (busy Redriva pages never queue the toolkit's), bounded in time (a Redriva that hangs
# leaves the toolkit's page its own header).
LAYOUT_POOL, LAYOUT_THREADS, LAYOUT_TIMEOUT = "redriva-layout", 2, 10.0
# hypercorn's WSGI bridge reads a request body into memory: bound it (Flask's default is no
# limit; Redriva only posts small forms).
DEFAULT_MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class HeaderLink:
    """A link of Redriva's own menu, repeated in the toolkit's header when mounted."""

    label: str
    href: str


REDRIVA_BRAND = "🚀 Redriva Web"
REDRIVA_LINKS: tuple[HeaderLink, ...] = (HeaderLink("🏠 Dashboard", "/"),
                                         HeaderLink("📁 Torrents", "/torrents"))


class RedrivaMountError(click.ClickException, ValueError):
    """Redriva's app could not be found or is not a WSGI application (the CLI prints the
    message and exits with status 1)."""


def load_wsgi_app(target: str | Callable) -> Callable:
    """``"module:attr"`` (as gunicorn takes it; the current directory is importable, as under
    gunicorn) or the app object itself."""
    if not isinstance(target, str):
        app = target
    else:
        module_name, sep, attr = target.partition(":")
        if not sep or not module_name or not attr:
            raise RedrivaMountError(f"expected MODULE:APP such as src.web:app, got {target!r}")
        cwd = os.getcwd()
        if cwd not in sys.path:
            sys.path.insert(0, cwd)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise RedrivaMountError(
                    f"cannot import {module_name!r} from {cwd}: run from Redriva's directory "
                    f"(the one holding src/)") from exc
            raise
        try:
            app = getattr(module, attr)
        except AttributeError:
            raise RedrivaMountError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not callable(app) or asyncio.iscoroutinefunction(getattr(app, "__call__", None)):
        raise RedrivaMountError(f"{target!r} is not a WSGI application")
    return app


def toolkit_namespaces(toolkit_app) -> list[str]:
    """The URL prefixes the toolkit owns, from its URL map: the first path segment of each
    rule (two under ``/api/``), e.g. ``/symlink``, ``/api/symlink``, ``/toolkit``. Everything
    in a namespace goes to the toolkit, so an unknown ``/api/symlink/...`` still gets the
    toolkit's JSON error. The toolkit's home page ``/`` stays Redriva's."""
    namespaces: set[str] = set()
    for rule in toolkit_app.url_map.iter_rules():
        static = rule.rule.split("<", 1)[0]
        segments = [s for s in static.split("/") if s]
        if not static.endswith("/") and "<" in rule.rule:
            segments = segments[:-1]  # "/x/y<z>" leaves "y" incomplete
        depth = 2 if segments[:1] == ["api"] else 1
        if len(segments) < depth:
            if rule.rule != "/":
                log.warning("toolkit route %s has no namespace of its own: Redriva keeps it",
                            rule.rule)
            continue
        namespaces.add("/" + "/".join(segments[:depth]))
    return sorted(namespaces, key=len, reverse=True)


def _in_namespaces(path: str, namespaces: Iterable[str]) -> bool:
    return any(path == ns or path.startswith(ns + "/") for ns in namespaces)


class RedrivaMount:
    """The ASGI application: the toolkit's namespaces to Quart, the rest to Redriva."""

    def __init__(self, toolkit_app, redriva_app: Callable, *, max_body_size: int,
                 threads: int = REDRIVA_THREADS):
        self.toolkit_app = toolkit_app
        self.redriva_app = redriva_app
        self.namespaces = toolkit_namespaces(toolkit_app)
        self._wsgi = WSGIWrapper(_guarded(redriva_app), max_body_size)
        self._pool_sizes = {REDRIVA_POOL: threads, LAYOUT_POOL: LAYOUT_THREADS}
        self._executors: dict[str, ThreadPoolExecutor] = {}

    def routes_to_toolkit(self, path: str) -> bool:
        return _in_namespaces(path, self.namespaces)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self.toolkit_app(scope, receive, self._lifespan_send(send))
        elif self.routes_to_toolkit(scope.get("path", "")):
            await self.toolkit_app(scope, receive, send)
        else:
            await self._wsgi(scope, receive, send, self._run_in_thread, self._loop_caller())

    def _run_in_thread(self, func: Callable, *args: Any, pool: str = REDRIVA_POOL):
        executor = self._executors.get(pool)
        if executor is None:
            executor = self._executors[pool] = ThreadPoolExecutor(
                self._pool_sizes[pool], thread_name_prefix=pool)
        return asyncio.get_running_loop().run_in_executor(executor, func, *args)

    @staticmethod
    def _loop_caller() -> Callable:
        """Redriva's thread sends each response chunk through the loop and waits for it, so
        a large page is streamed, never buffered whole."""
        loop = asyncio.get_running_loop()

        def call_soon(func: Callable, *args: Any) -> Any:
            return asyncio.run_coroutine_threadsafe(func(*args), loop).result()

        return call_soon

    def _lifespan_send(self, send):
        async def lifespan_send(message: dict) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                for executor in self._executors.values():
                    executor.shutdown(wait=False, cancel_futures=True)
                self._executors.clear()
            await send(message)

        return lifespan_send


def _guarded(app: Callable) -> Callable:
    """Redriva's app as the bridge runs it, with two changes:

    - any exception from Redriva, ``SystemExit`` and ``KeyboardInterrupt`` included (a
      Redriva version calls ``sys.exit(1)`` inside a request when its Real-Debrid token is
      invalid), becomes a 500 for that request: under gunicorn it would cost one worker,
      here it would end the server and the toolkit's jobs with it. After the first chunk
      is sent, the response just ends there;
    - hypercorn's bridge starts the response on the first body chunk, and werkzeug sends no
      chunk for HEAD, 204 and 304: those get one empty chunk so they are sent."""

    def failed(environ: dict, start_response: Callable, exc: BaseException) -> bytes:
        log.error("Redriva failed on %s %s: %s", environ.get("REQUEST_METHOD"),
                  environ.get("PATH_INFO"), type(exc).__name__, exc_info=exc)
        start_response("500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain; charset=utf-8")])
        return "Redriva failed on this request (see the server log).\n".encode()

    def wsgi(environ: dict, start_response: Callable):
        try:
            body = app(environ, start_response)
            chunks = iter(body)
        except BaseException as exc:  # noqa: BLE001 - SystemExit too: see above
            yield failed(environ, start_response, exc)
            return
        try:
            try:
                first = next(chunks, None)
            except BaseException as exc:  # noqa: BLE001
                yield failed(environ, start_response, exc)
                return
            yield b"" if first is None else first
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    return
                except BaseException as exc:  # noqa: BLE001 - headers are sent: end the body
                    log.error("Redriva failed while sending %s: %s", environ.get("PATH_INFO"),
                              type(exc).__name__, exc_info=exc)
                    return
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException as exc:  # noqa: BLE001
                    log.error("Redriva failed closing %s: %s", environ.get("PATH_INFO"),
                              type(exc).__name__, exc_info=exc)

    return wsgi


def mount_redriva(toolkit_app, redriva: str | Callable, *,
                  template: str | None = "base.html",
                  config_file: str | os.PathLike | None = None,
                  brand: str = REDRIVA_BRAND,
                  links: Sequence[HeaderLink] = REDRIVA_LINKS,
                  max_body_size: int | None = None) -> RedrivaMount:
    """One ASGI app serving the toolkit and Redriva side by side.

    ``redriva`` is ``"module:attr"`` (e.g. ``"src.web:app"``) or the Flask app. The toolkit's
    pages are rendered inside Redriva's own ``template`` (see :class:`RedrivaFrame`). When
    it cannot be used, or with ``template=None``, they show a copy of the seed-era header:
    ``brand`` and those of ``links`` that Redriva serves, then every plugin's menu links.
    ``config_file`` is Redriva's ``config/config.json`` (default: beside its ``src/``),
    read once on the toolkit's first start (:func:`take_redriva_settings`).
    ``max_body_size`` bounds a request body sent to Redriva (default: Flask's
    ``MAX_CONTENT_LENGTH``, else 16 MiB)."""
    redriva_app = load_wsgi_app(redriva)
    flask_config = getattr(redriva_app, "config", {}) or {}
    body_limit = max_body_size or flask_config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_BODY
    mount = RedrivaMount(toolkit_app, redriva_app, max_body_size=body_limit)
    _warn_shadowed(redriva_app, mount)

    header_links = [link for link in links if _serves(redriva_app, link.href)]
    toolkit_app.config["REDRIVA_MOUNTED"] = True
    if language := _language_of(redriva_app, template or "base.html"):
        toolkit_app.config["REDRIVA_LANGUAGE"] = language  # else French: Redriva's interface is
    frame = RedrivaFrame.load(redriva_app, template) if template else None

    async def redriva_frame(title: str, content: str) -> Markup | None:
        if not has_request_context():
            return None
        facts = _request_facts()
        try:
            html = await asyncio.wait_for(mount._run_in_thread(
                frame.render, title, content, facts, pool=LAYOUT_POOL), LAYOUT_TIMEOUT)
        except TimeoutError:
            log.warning("Redriva's layout took more than %s s for %s: this page keeps the "
                        "toolkit's own header", LAYOUT_TIMEOUT, facts["path"])
            return None
        return None if html is None else Markup(html)

    @toolkit_app.context_processor
    async def _redriva_header():
        context = {"redriva_brand": brand, "redriva_links": header_links}
        if frame is not None:
            context["redriva_frame"] = redriva_frame
        return context

    toolkit = toolkit_app.extensions.get("toolkit")
    menu_source = getattr(redriva_app, "extensions", {}).get(EXTENSION)
    if menu_source is not None and toolkit is not None:
        # same process and site: the running toolkit's own links, never another host's
        menu_source.use(toolkit.registry.menu, base_url="")

    if config_file is None and getattr(redriva_app, "root_path", None):
        config_file = Path(redriva_app.root_path).parent / "config" / "config.json"
    if config_file is not None and toolkit is not None:
        @toolkit_app.before_serving  # after the toolkit's own start: its database is ready
        async def _first_start_settings():
            await take_redriva_settings(toolkit.settings, Path(config_file))
    return mount


def _language_of(flask_app, name: str) -> str | None:
    """The language Redriva's pages declare (``<html lang="fr">`` in its base template), when
    the toolkit has a catalog for it; ``None`` when the template cannot be read."""
    try:
        source, _filename, _uptodate = flask_app.jinja_env.loader.get_source(flask_app.jinja_env, name)
    except Exception:  # no loader, no such template: Redriva's default stands
        return None
    found = re.search(r"<html[^>]*\blang=[\"']?([A-Za-z_-]+)", source)
    return normalize(found.group(1)) if found else None


# -- Redriva's own layout around the toolkit's pages -------------------------------------------

# Compiled in Redriva's Jinja environment; the base is the Template read at startup.
FRAME_CHILD = ("{% extends toolkit_frame_base %}"
               "{% block title %}{{ toolkit_title }}{% endblock %}"
               "{% block content %}{{ toolkit_content }}{% endblock %}")


class RedrivaFrame:
    """Redriva's base template, read from its template folder at startup, around the toolkit's
    pages: the toolkit renders a page (``toolkit/base.html`` hands its title and its content,
    with the toolkit's styles and scripts, to ``redriva_frame``), then Redriva's Flask app
    renders its base template around it, in a request context of its own for the same URL
    and cookies: its header and menu (whatever version: today's ``/symlink`` link then
    leads to the toolkit), its styles, scripts, context processors and ``url_for``."""

    def __init__(self, flask_app, base) -> None:
        self.flask_app = flask_app
        self.base = base
        self.child = flask_app.jinja_env.from_string(FRAME_CHILD)
        self.failure = ""  # why the last render failed

    @classmethod
    def load(cls, flask_app, name: str) -> RedrivaFrame | None:
        """The frame, or ``None`` with a log line saying why Redriva's template cannot be
        used (the toolkit's pages then keep their copy of the seed-era header)."""
        frame = reason = None
        if getattr(flask_app, "jinja_env", None) is None:
            reason = "Redriva's app is not a Flask app"
        else:
            try:
                base = flask_app.jinja_env.get_template(name)
                if "content" not in base.blocks:
                    reason = f"its {name} has no {{% block content %}}"
                else:
                    frame = cls(flask_app, base)
                    reason = frame._probe(name)
                    frame = None if reason else frame
            except Exception as exc:  # a missing template, a syntax error...
                reason = f"its {name} cannot be read: {type(exc).__name__}: {exc}"
        if frame is None:
            log.warning("the toolkit's pages keep their own copy of Redriva's header: %s", reason)
        else:
            log.info("the toolkit's pages are rendered inside Redriva's %s",
                     getattr(frame.base, "filename", None) or name)
        return frame

    def _probe(self, name: str) -> str | None:
        """Render once at startup, bounded in time: why the frame cannot be used, if so."""
        result: dict = {}
        probe = threading.Thread(target=lambda: result.update(html=self.render(
            "Redriva Toolkit", "", {"path": "/"}, log_failure=False)), daemon=True,
            name="redriva-layout-probe")
        probe.start()
        probe.join(LAYOUT_TIMEOUT)
        if probe.is_alive():
            return f"rendering its {name} took more than {LAYOUT_TIMEOUT} s"
        if result.get("html") is None:
            return f"rendering its {name} failed: {self.failure}"
        return None

    def render(self, title: str, content: str, request_facts: dict, *,
               log_failure: bool = True) -> str | None:
        """Blocking (a Redriva thread): the page, or ``None`` when Redriva's code failed —
        ``SystemExit`` included — and the toolkit's own layout is used for this page."""
        import flask

        try:
            with self.flask_app.test_request_context(**request_facts):
                return flask.render_template(self.child, toolkit_frame_base=self.base,
                                             toolkit_title=Markup(title),
                                             toolkit_content=Markup(content))
        except BaseException as exc:  # noqa: BLE001 - Redriva's failures stay Redriva's
            self.failure = f"{type(exc).__name__}: {exc}"
            if log_failure:
                log.error("rendering Redriva's layout for %s failed (%s): this page keeps the "
                          "toolkit's own header", request_facts.get("path"), self.failure,
                          exc_info=exc)
            return None


def _request_facts() -> dict:
    """What Redriva's request context needs of the toolkit's request: URL and headers
    (cookies: Redriva's session; Accept-Language...)."""
    from quart import request

    return {"path": request.path, "query_string": request.query_string.decode("latin-1"),
            "base_url": f"{request.scheme}://{request.host}{request.root_path}",
            "headers": [(k, v) for k, v in request.headers.items()
                        if k.lower() not in {"host", "content-length", "content-type"}]}


# -- Redriva's settings as the toolkit's first values ------------------------------------------

def settings_from_redriva(config: dict) -> tuple[dict, dict[str, dict]]:
    """The toolkit's first settings from Redriva's ``config.json``: the symlink namespace's
    from its Settings › Symlinks tab (``symlink``: ``media_path``, ``workers``), and the host's
    Sonarr/Radarr connections from the same tab's ``<kind>_url/_api_key/_enabled`` over its
    ``sonarr``/``radarr`` sections, as Redriva itself merges them. Only values Redriva holds
    are taken. Returns the symlink values and ``{kind: {"enabled", "url", "api_key"}}``."""
    def section(name: str) -> dict:
        value = config.get(name)
        return value if isinstance(value, dict) else {}

    symlink = section("symlink")
    values: dict[str, Any] = {}
    if symlink.get("media_path"):
        values["media_path"] = symlink["media_path"]
    if symlink.get("workers") is not None:
        values["max_workers"] = symlink["workers"]
    connections: dict[str, dict] = {}
    for kind in ("sonarr", "radarr"):
        connection = section(kind)
        url = str(symlink.get(f"{kind}_url") or connection.get("url") or "").strip()
        if not url:
            continue
        enabled = symlink.get(f"{kind}_enabled", connection.get("enabled", False))
        connections[kind] = {"enabled": bool(enabled), "url": url,
                             "api_key": symlink.get(f"{kind}_api_key") or connection.get("api_key") or ""}
    return values, connections


async def _take(store, namespace: str, values: dict) -> tuple[dict, list[str]]:
    """Save ``values`` into ``namespace``; a value the toolkit refuses is left out (a note
    each), the others are taken."""
    from toolkit.core.settings import SettingsError

    notes: list[str] = []
    for _ in range(2):
        if not values:
            break
        try:
            await store.update(namespace, values)
            return values, notes
        except SettingsError as exc:
            notes += [f"{namespace}.{field}: {message}" for field, message in exc.fields.items()]
            values = {k: v for k, v in values.items() if k not in exc.fields}
    return {}, notes


async def take_redriva_settings(store, config_file: Path, namespace: str = "symlink") -> None:
    """On the toolkit's first start inside Redriva (no symlink settings saved yet), start
    from the symlink settings and Sonarr/Radarr connections Redriva keeps (each connection
    only when the host holds none yet), and say so. From then on the toolkit keeps its own
    copy: later changes in Redriva are not read again."""
    if namespace not in store.schemas or await store.is_saved(namespace):
        return
    try:
        text = await asyncio.to_thread(config_file.read_text, encoding="utf-8")
        config = json.loads(text)
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        log.warning("cannot read Redriva's %s (%s): the symlink settings start from the "
                    "toolkit's defaults", config_file, exc)
        return
    values, connections = settings_from_redriva(config if isinstance(config, dict) else {})
    taken, notes = await _take(store, namespace, values)
    described = [f"{k}={v}" for k, v in taken.items()]
    keys = False
    for kind, connection in connections.items():
        if kind not in store.schemas or await store.is_saved(kind):
            continue
        saved, refused = await _take(store, kind, connection)
        notes += refused
        if saved.get("url"):
            described.append(f"{kind}={saved['url']}")
            keys = keys or bool(saved.get("api_key"))
    if described:
        log.warning("first start inside Redriva: the symlink settings start from Redriva's %s "
                    "(%s); from now on the toolkit's Settings tab is where they change",
                    config_file, ", ".join(described + (["API keys"] if keys else [])))
    for note in notes:
        log.warning("not taken from Redriva's %s: %s", config_file, note)


def _serves(flask_app, path: str) -> bool:
    """Whether Redriva has a route for ``path`` (any app without a URL map: assume yes)."""
    url_map = getattr(flask_app, "url_map", None)
    if url_map is None:
        return True
    from werkzeug.exceptions import HTTPException

    try:
        url_map.bind("localhost").match(path, method="GET")
    except HTTPException as exc:
        return getattr(exc, "code", None) != 404  # a redirect or 405 still means "served"
    return True


def _warn_shadowed(flask_app, mount: RedrivaMount) -> None:
    url_map = getattr(flask_app, "url_map", None)
    if url_map is None:
        return
    shadowed = sorted({r.rule for r in url_map.iter_rules()
                       if mount.routes_to_toolkit(r.rule.split("<", 1)[0].rstrip("/") or "/")})
    if shadowed:
        log.warning("the toolkit answers these Redriva routes from now on: %s",
                    ", ".join(shadowed))


# -- Redriva's side: the menu ------------------------------------------------------------------

@dataclass(frozen=True)
class MenuEntry:
    label: str
    href: str
    icon: str = ""


class ToolkitMenu:
    """The toolkit's menu links for Redriva's templates, read once from the plugin host
    (plugins are loaded, nothing is started: no database, no jobs). A failure is logged and
    gives an empty menu: the toolkit must never break Redriva's pages."""

    def __init__(self, host=None, base_url: str = ""):
        self._host = host
        self._base_url = base_url.rstrip("/")
        self._entries: list[MenuEntry] | None = None
        self._lock = threading.Lock()  # Redriva's first pages may render in several threads

    def use(self, links: Iterable[Any], *, base_url: str | None = None) -> None:
        """Take these links; ``base_url`` defaults to the one given at creation."""
        prefix = self._base_url if base_url is None else base_url.rstrip("/")
        self._entries = [MenuEntry(link.label, prefix + link.href, link.icon) for link in links]

    def entries(self) -> list[MenuEntry]:
        with self._lock:
            if self._entries is None:
                self._load()
        return self._entries

    def _load(self) -> None:
        try:
            host = self._host
            if host is None:
                from toolkit.core.config import ToolkitConfig
                from toolkit.core.plugins import build_plugin_host

                host = build_plugin_host(ToolkitConfig.from_env())
            self.use(host.collect().menu)
        except Exception:
            log.exception("cannot read the toolkit's menu links; Redriva's menu omits them")
            self._entries = []


def init_redriva(flask_app, *, host=None, base_url: str | None = None) -> ToolkitMenu:
    """Redriva's side, one call in ``src/web.py`` after ``app = Flask(__name__)``::

        from toolkit.web.redriva import init_redriva
        init_redriva(app)

    and one line in ``base.html``, inside ``<div class="nav">``::

        {% include "toolkit_menu.html" ignore missing %}

    ``base_url`` prefixes the links when the toolkit is served elsewhere than Redriva
    (default: ``$REDRIVA_TOOLKIT_URL``, else none: same site, the mounted case). ``host`` is a
    plugin host to read the links from (default: one built from the environment)."""
    from flask import Blueprint

    if EXTENSION in flask_app.extensions:  # called twice: keep the first
        return flask_app.extensions[EXTENSION]
    if base_url is None:
        base_url = os.environ.get(TOOLKIT_URL_ENV, "")
    menu = ToolkitMenu(host, base_url)
    flask_app.extensions[EXTENSION] = menu
    # a blueprint without routes: only its template folder, searched after Redriva's own
    flask_app.register_blueprint(Blueprint(EXTENSION, __name__, template_folder=str(TEMPLATES)))

    @flask_app.context_processor
    def _toolkit_menu() -> dict:
        return {"toolkit_menu_links": menu.entries()}

    return menu
