"""Mount the toolkit into Redriva, and Redriva's side of the menu integration.

Redriva is a Flask (WSGI) app with one global ``app`` in ``src/web.py``. :func:`mount_redriva`
makes one ASGI application, served by hypercorn, out of the toolkit's Quart app and Redriva's
app: a request whose path lies in one of the toolkit's URL namespaces goes to Quart, every
other request goes to Redriva, unchanged. The namespaces come from the Quart app's URL map
(``/symlink``, ``/api/symlink``, ``/api/toolkit``, ``/toolkit``, and whatever other plugins
registered), so a new plugin is routed without touching this module. Lifespan events go to the
toolkit (Redriva has none).

:func:`init_redriva` is the one call a Redriva install adds to ``src/web.py``: it registers a
Flask context processor that provides the toolkit's menu links (read from the plugin host,
without starting the toolkit) and a template folder holding ``toolkit_menu.html``, which
Redriva's ``base.html`` includes inside its ``<div class="nav">``.
"""
from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import click
from hypercorn.app_wrappers import WSGIWrapper

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates" / "redriva"
EXTENSION = "redriva_toolkit"  # key of the menu source in ``flask_app.extensions``
TOOLKIT_URL_ENV = "REDRIVA_TOOLKIT_URL"
# Redriva runs under gunicorn with a few sync threads; the same here, in a pool of its own so
# a slow Redriva page never takes the threads the toolkit uses for blocking work.
REDRIVA_THREADS = 8
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
        self._threads = threads
        self._executor: ThreadPoolExecutor | None = None

    def routes_to_toolkit(self, path: str) -> bool:
        return _in_namespaces(path, self.namespaces)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self.toolkit_app(scope, receive, self._lifespan_send(send))
        elif self.routes_to_toolkit(scope.get("path", "")):
            await self.toolkit_app(scope, receive, send)
        else:
            await self._wsgi(scope, receive, send, self._run_in_thread, self._loop_caller())

    def _run_in_thread(self, func: Callable, *args: Any):
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="redriva")
        return asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

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
            if message["type"] == "lifespan.shutdown.complete" and self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
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
                  brand: str = REDRIVA_BRAND,
                  links: Sequence[HeaderLink] = REDRIVA_LINKS,
                  max_body_size: int | None = None) -> RedrivaMount:
    """One ASGI app serving the toolkit and Redriva side by side.

    ``redriva`` is ``"module:attr"`` (e.g. ``"src.web:app"``) or the Flask app. The toolkit's
    pages then show Redriva's header: ``brand`` and those of ``links`` that Redriva serves,
    followed by every plugin's menu links. ``max_body_size`` bounds a request body sent to
    Redriva (default: Flask's ``MAX_CONTENT_LENGTH``, else 16 MiB)."""
    redriva_app = load_wsgi_app(redriva)
    flask_config = getattr(redriva_app, "config", {}) or {}
    body_limit = max_body_size or flask_config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_BODY
    mount = RedrivaMount(toolkit_app, redriva_app, max_body_size=body_limit)
    _warn_shadowed(redriva_app, mount)

    header_links = [link for link in links if _serves(redriva_app, link.href)]
    toolkit_app.config["REDRIVA_MOUNTED"] = True

    @toolkit_app.context_processor
    async def _redriva_header():
        return {"redriva_brand": brand, "redriva_links": header_links}

    toolkit = toolkit_app.extensions.get("toolkit")
    menu_source = getattr(redriva_app, "extensions", {}).get(EXTENSION)
    if menu_source is not None and toolkit is not None:
        # same process and site: the running toolkit's own links, never another host's
        menu_source.use(toolkit.registry.menu, base_url="")
    return mount


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
