"""Pytest fixtures for the toolkit and its plugins (a ``pytest11`` plugin: installed with the
toolkit, available in every test session, ours and third-party plugin authors').

- ``toolkit_config``: a configuration on a temporary data dir with a real SQLite file.
- ``toolkit_app``: the Quart app with its lifespan running (database upgraded, job runner
  and scheduler started). Plugins for one test: ``@pytest.mark.toolkit_plugin(obj, name="x")``.
- ``toolkit_app_factory``: ``async with toolkit_app_factory(plugins=[("x", obj)]) as app``.
- ``toolkit_client``: the app's test client.
- :func:`toolkit_of_app`: the running toolkit of a test app (settings, sessions, runner...),
  as ``toolkit.api.current_toolkit()`` gives it inside the app.
- ``toolkit_server``: the app served by a real hypercorn on 127.0.0.1; yields the base URL.
- ``browser_page``: a Playwright page in headless Chromium (Debian's ``/usr/bin/chromium``
  unless ``TOOLKIT_CHROMIUM`` says otherwise); skipped with a reason when there is none (a
  system package, like rclone), failed when Playwright is missing (a declared test dependency).

Every app made here is logged in, as a person would be: it starts with the admin account
``TEST_USER``/``TEST_PASSWORD``, the API key ``TEST_API_KEY`` and a fixed cookie signing key;
its test clients (``app.test_client()``) carry the admin's session cookie, and so does
``browser_page`` for every server on 127.0.0.1. Other HTTP clients send ``AUTH_HEADERS``.
``make_app(..., authenticate=False)`` gives an app as a new user finds it (no account,
fresh keys) and plain test clients.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import socket
import threading
from pathlib import Path
from typing import Any, AsyncIterator, Iterable

import pytest
import pytest_asyncio

from toolkit.core.config import ToolkitConfig
from toolkit.core.plugins import build_plugin_host

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "toolkit_plugin(obj, name=None): register a plugin for this test's app")


def make_config(data_dir: Path, **overrides: Any) -> ToolkitConfig:
    data_dir.mkdir(parents=True, exist_ok=True)
    values = dict(data_dir=data_dir,
                  database_url=f"sqlite+aiosqlite:///{data_dir / 'toolkit.db'}")
    values.update(overrides)
    return ToolkitConfig.from_env(**values)


TEST_USER = "admin"
TEST_PASSWORD = "test password of the admin"
TEST_API_KEY = "70be5ad0c0ffee0123456789abcdef01"
TEST_SECRET_KEY = "a fixed cookie signing key, for tests only"
AUTH_HEADERS = {"X-Api-Key": TEST_API_KEY}


@functools.cache
def _test_password_hash() -> str:
    from toolkit.core.auth import hash_password

    return hash_password(TEST_PASSWORD)  # argon2 is slow on purpose: once per session


def fixture_auth_state():
    from toolkit.core.auth import AuthState

    return AuthState(secret_key=TEST_SECRET_KEY, api_key=TEST_API_KEY, username=TEST_USER,
                     password_hash=_test_password_hash())


def session_cookie() -> tuple[str, str]:
    """``(name, value)`` of the admin's session cookie in every app made by :func:`make_app`."""
    from quart_auth.extension import _AuthSerializer

    from toolkit.web.auth import COOKIE_NAME, COOKIE_SALT

    token = _AuthSerializer(TEST_SECRET_KEY, COOKIE_SALT).dumps(fixture_auth_state().session_id)
    return COOKIE_NAME, token


def _logged_in_client_class(base):
    class LoggedInClient(base):
        """The app's test client with the admin's session cookie."""

        def __init__(self, app, use_cookies: bool = True):
            super().__init__(app, use_cookies)
            if self.cookie_jar is not None:
                name, value = session_cookie()
                self.set_cookie("localhost", name, value, httponly=True, samesite="Lax")

    return LoggedInClient


def make_app(config: ToolkitConfig, plugins: Iterable[tuple[str, Any]] = (),
             entry_points: bool = True, authenticate: bool = True):
    from toolkit.web import create_app

    host = build_plugin_host(config, entry_points=entry_points, extra=plugins)
    app = create_app(config, host)
    if authenticate:
        @app.before_serving  # after the toolkit's own start: the database is there
        async def _test_account():
            await app.extensions["toolkit_auth"].save(fixture_auth_state())

        app.test_client_class = _logged_in_client_class(app.test_client_class)
    return app


def toolkit_of_app(app) -> Any:
    """The running toolkit (:class:`toolkit.api.Toolkit`) of ``app``, an app of
    :func:`make_app` or the ``toolkit_app`` fixture: what ``toolkit.api.current_toolkit()``
    answers in its requests, for a test that drives it from outside a request."""
    return app.extensions["toolkit"]


@pytest.fixture
def toolkit_config(tmp_path: Path) -> ToolkitConfig:
    return make_config(tmp_path / "data")


def _marked_plugins(request) -> list[tuple[str, Any]]:
    plugins = []
    for marker in request.node.iter_markers("toolkit_plugin"):
        for obj in marker.args:
            name = marker.kwargs.get("name") or getattr(obj, "PLUGIN_NAME", None) \
                or getattr(obj, "__name__", type(obj).__name__)
            plugins.append((name, obj))
    return plugins


@pytest.fixture
def toolkit_app_factory(toolkit_config):
    @contextlib.asynccontextmanager
    async def factory(plugins: Iterable[tuple[str, Any]] = (), config: ToolkitConfig | None = None,
                      entry_points: bool = True) -> AsyncIterator[Any]:
        app = make_app(config or toolkit_config, plugins, entry_points)
        async with app.test_app():
            yield app

    return factory


@pytest_asyncio.fixture
async def toolkit_app(request, toolkit_app_factory):
    async with toolkit_app_factory(_marked_plugins(request)) as app:
        yield app


@pytest.fixture
def toolkit_client(toolkit_app):
    return toolkit_app.test_client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedApp:
    """An ASGI app served by hypercorn in a thread with its own event loop."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None):
        self.app, self.host, self.port = app, host, port or free_port()
        self.url = f"http://{host}:{self.port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="toolkit-server")
        self._ready = threading.Event()
        self.error: BaseException | None = None

    def _run(self) -> None:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"{self.host}:{self.port}"]
        config.accesslog = None
        config.graceful_timeout = 2
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        try:
            self._loop.run_until_complete(
                serve(self.app, config, shutdown_trigger=self._wait_stop))
        except BaseException as exc:  # reported to the test
            self.error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _wait_stop(self) -> None:
        self._ready.set()
        await self._stop.wait()

    def start(self, timeout: float = 30.0) -> "ServedApp":
        import httpx

        self._thread.start()
        self._ready.wait(timeout)
        if self.error:
            raise RuntimeError(f"server failed to start: {self.error!r}")
        for _ in range(int(timeout * 20)):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(self.url + "/api/toolkit/health", timeout=1)
                return self
            threading.Event().wait(0.05)
        raise RuntimeError("server did not answer in time")

    def stop(self) -> None:
        if self._loop and self._stop and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


@pytest.fixture
def toolkit_server(request, toolkit_config):
    served = ServedApp(make_app(toolkit_config, _marked_plugins(request))).start()
    try:
        yield served.url
    finally:
        served.stop()


def chromium_path() -> str | None:
    return os.environ.get("TOOLKIT_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")


@pytest.fixture
def browser_page():
    """Function-scoped on purpose: sync Playwright keeps an event loop running in this thread
    while it is open, which would break the async tests that follow."""
    path = chromium_path()
    if not path:
        pytest.skip("Chromium not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # a declared test dependency: a broken install fails, never skips
        pytest.fail(f"Playwright is not installed ({exc}): pip install -e '.[test]'", pytrace=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        name, value = session_cookie()  # logged in on every test server (cookies ignore ports)
        context.add_cookies([{"name": name, "value": value, "domain": "127.0.0.1", "path": "/",
                              "httpOnly": True, "sameSite": "Lax"}])
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
