"""Access control for every route of the app, plugins' included, enforced in one place.

:func:`install` adds, before any other request hook:

1. the **host allow-list** (DNS rebinding): a ``Host`` that is neither an IP address,
   ``localhost`` nor listed in ``TOOLKIT_ALLOWED_HOSTS`` gets 400. A rebinding attack needs a
   host *name* the attacker controls, so IP literals are always safe;
2. the **gate**: a request is let through when it carries the API key (``X-Api-Key``), a
   valid session cookie (quart-auth: signed, HttpOnly, SameSite=Lax), or when the access mode
   vouches for it (``external``: a trusted proxy's user header; ``disabled_for_local_addresses``:
   loopback or a listed network). Only :data:`PUBLIC_ENDPOINTS` answer without that. A plugin
   does nothing to be protected: its routes are behind the same gate.

First start: until the admin account exists, every page leads to ``/toolkit/setup`` — unless
the server listens on loopback only (``serve --host 127.0.0.1``), where only this machine's
users can reach it anyway.
"""
from __future__ import annotations

import ipaddress
import logging
import time
from collections import OrderedDict, deque
from urllib.parse import quote, urlsplit

from quart import (Blueprint, Quart, Response, current_app, g, has_request_context, redirect,
                   render_template, request, url_for)
from quart_auth import AuthUser, QuartAuth, current_user, login_user, logout_user

from toolkit.core import auth as core_auth
from toolkit.core.auth import AuthSettings, AuthState, AuthStore, PasswordError
from toolkit.core.settings import SettingsError
from toolkit.web.errors import error_response, wants_json
from toolkit.web.i18n import N_
from toolkit.web.i18n import gettext as _

log = logging.getLogger(__name__)

COOKIE_NAME = "redriva_toolkit_session"
COOKIE_SALT = "redriva-toolkit-session"
SESSION_DAYS = 30
API_KEY_HEADER = "X-Api-Key"
STATE_TTL = 1.0  # seconds: changes made by the CLI in another process apply this soon
LOGIN_ATTEMPTS = 5  # failed logins per address ...
LOGIN_WINDOW = 60.0  # ... within this many seconds, then 429
PUBLIC_ENDPOINTS = frozenset({
    "static",  # the login page's stylesheet and htmx
    "toolkit_auth.login", "toolkit_auth.login_post", "toolkit_auth.setup",
    "toolkit_auth.setup_post",
    "toolkit_api.health",  # status only, unless the caller is authenticated
})
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host")
LOOPBACK_NAMES = frozenset({"localhost"})

DIFFERENT_PASSWORDS = N_("the two passwords differ")

auth_pages = Blueprint("toolkit_auth", __name__, url_prefix="/toolkit")


class _QuartAuth(QuartAuth):
    """quart-auth with a ``Secure`` cookie exactly when the request came over https (a plain
    http install on a LAN would otherwise never keep its session)."""

    @property
    def cookie_secure(self) -> bool:
        return has_request_context() and (request.is_secure or _forwarded_https())

    @cookie_secure.setter
    def cookie_secure(self, _value) -> None:
        pass


def _forwarded_https() -> bool:
    gate: Gate | None = current_app.extensions.get("toolkit_auth")
    return bool(gate and gate.from_trusted_proxy()
                and request.headers.get("X-Forwarded-Proto", "").lower() == "https")


def _ip(value: str | None):
    try:
        return ipaddress.ip_address((value or "").strip().strip("[]"))
    except ValueError:
        return None


def _in(address, networks: list[str]) -> bool:
    return address is not None and any(address in ipaddress.ip_network(n) for n in networks)


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """``host`` as in the ``Host`` header (maybe with a port)."""
    try:
        name = urlsplit("//" + host).hostname
    except ValueError:
        return False
    if not name:
        return False
    if _ip(name) is not None or name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    return "*" in allowed or name in allowed or any(
        entry.startswith(".") and name.endswith(entry) for entry in allowed)


class LoginLimiter:
    """Failed logins per client address in a sliding window; bounded memory."""

    def __init__(self, attempts: int = LOGIN_ATTEMPTS, window: float = LOGIN_WINDOW,
                 max_addresses: int = 10_000):
        self.attempts, self.window, self.max_addresses = attempts, window, max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.get(address, deque())
        now = time.monotonic()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try again; 0 when it may now."""
        failures = self._recent(address)
        if len(failures) < self.attempts:
            return 0
        return max(1, int(failures[0] + self.window - time.monotonic()) + 1)

    def failed(self, address: str) -> None:
        failures = self._recent(address)
        failures.append(time.monotonic())
        self._failures[address] = failures
        self._failures.move_to_end(address)
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


class Gate:
    def __init__(self, app: Quart, toolkit):
        self.app, self.toolkit = app, toolkit
        self.store = AuthStore(toolkit.sessions)
        self.limiter = LoginLimiter()
        self._state: AuthState | None = None
        self._settings: AuthSettings = AuthSettings()
        self._loaded_at = 0.0

    # -- what is stored -------------------------------------------------------------
    async def refresh(self) -> None:
        self._state = await self.store.load()
        self._settings = await self.toolkit.settings.get(core_auth.NAMESPACE)
        self.app.secret_key = self._state.secret_key
        self._loaded_at = time.monotonic()

    async def start(self) -> None:
        """At server start: load (or create) the keys; say where to create the account."""
        await self.refresh()
        if (self._settings.mode == "forms" and not self._state.has_account
                and not self.loopback_only()):
            log.warning("no admin account yet: open /toolkit/setup in a browser to create "
                        "it, or run 'redriva-toolkit auth set-password'")

    def invalidate(self) -> None:
        self._loaded_at = 0.0

    async def current(self) -> tuple[AuthState, AuthSettings]:
        if self._state is None or time.monotonic() - self._loaded_at > STATE_TTL:
            await self.refresh()
        return self._state, self._settings

    async def save(self, state: AuthState) -> AuthState:
        await self.store.save(state)
        await self.refresh()
        return state

    # -- who is asking --------------------------------------------------------------
    def from_trusted_proxy(self) -> bool:
        return _in(_ip(request.remote_addr), self._settings.proxies)

    def client_address(self) -> str:
        """The peer, or the client a trusted proxy forwarded for (rightmost untrusted hop)."""
        peer = request.remote_addr or ""
        if not self.from_trusted_proxy():
            return peer
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            if not _in(_ip(hop), self._settings.proxies):
                return hop
        return peer

    def _local_client(self, settings: AuthSettings) -> bool:
        """Loopback or a listed network; a request forwarded by a proxy that is not trusted
        is never local (a reverse proxy on this machine would otherwise open everything)."""
        if not self.from_trusted_proxy() and any(h in request.headers for h in FORWARDING_HEADERS):
            return False
        address = _ip(self.client_address())
        return address is not None and (address.is_loopback
                                        or _in(address, settings.local_networks))

    def loopback_only(self) -> bool:
        binds = self.app.config.get("TOOLKIT_BIND_HOSTS") or []
        return bool(binds) and all(
            h in LOOPBACK_NAMES or (_ip(h) is not None and _ip(h).is_loopback) for h in binds)

    async def identify(self) -> str | None:
        """The caller's name, ``"api-key"``, ``"local"``, or None when not allowed."""
        state, settings = await self.current()
        key = request.headers.get(API_KEY_HEADER)
        if key is not None:  # a wrong key is refused, whatever else the request carries
            return "api-key" if state.api_key_matches(key) else None
        session = current_user.auth_id
        if session is not None and state.has_account and session == state.session_id:
            return state.username
        if settings.mode == "external" and self.from_trusted_proxy():
            name = request.headers.get(settings.user_header, "").strip()
            if name:
                return name
        if settings.mode == "disabled_for_local_addresses" and self._local_client(settings):
            return "local"
        if (settings.mode == "forms" and not state.has_account and self.loopback_only()
                and self._local_client(settings)):
            return "local"
        return None

    async def refuse(self) -> Response:
        state, settings = await self.current()
        setup = settings.mode == "forms" and not state.has_account
        target = url_for("toolkit_auth.setup" if setup else "toolkit_auth.login")
        if wants_json():
            message = ("create the admin account first (open /toolkit/setup)" if setup else
                       f"log in, or send the API key in the {API_KEY_HEADER} header")
            return error_response(401, message, "unauthorized")
        if request.headers.get("HX-Request"):  # htmx: make the whole page go there
            return Response("", 401, headers={"HX-Redirect": target})
        if request.method in ("GET", "HEAD"):
            return redirect(f"{target}?next={quote(request.full_path.rstrip('?'))}")
        return Response("Log in first.", 401, mimetype="text/plain")


def current_gate() -> Gate:
    return current_app.extensions["toolkit_auth"]


def install(app: Quart, toolkit) -> Gate:
    """Register the host check, the gate, the session cookie and the login pages."""
    gate = Gate(app, toolkit)
    app.extensions["toolkit_auth"] = gate
    _QuartAuth(app, cookie_name=COOKIE_NAME, cookie_samesite="Lax", cookie_http_only=True,
               duration=SESSION_DAYS * 86400, salt=COOKIE_SALT)
    allowed = frozenset(toolkit.config.allowed_hosts)

    @app.before_request
    async def _check_host():
        hosts = allowed | frozenset(h.lower() for h in app.config.get("TOOLKIT_BIND_HOSTS", ()))
        if not host_allowed(request.host, hosts):
            message = (f"host name {request.host!r} is not allowed: add it to "
                       f"TOOLKIT_ALLOWED_HOSTS")
            if wants_json():
                return error_response(400, message, "host_not_allowed")
            return Response(message, 400, mimetype="text/plain")
        return None

    @app.before_request
    async def _gate():
        g.toolkit_identity = await gate.identify()
        if g.toolkit_identity is None and request.endpoint not in PUBLIC_ENDPOINTS:
            return await gate.refuse()
        return None

    @app.context_processor
    async def _identity():
        return {"toolkit_identity": g.get("toolkit_identity")}

    app.register_blueprint(auth_pages)
    return gate


def identity() -> str | None:
    return g.get("toolkit_identity")


# -- pages ---------------------------------------------------------------------------------

def _next_url() -> str:
    """Where to go after logging in: a path on this site only (never //other.example)."""
    target = request.args.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("toolkit_pages.home")
    return target


@auth_pages.get("/login")
async def login():
    state, _settings = await current_gate().current()
    if not state.has_account and _settings.mode == "forms":
        return redirect(url_for("toolkit_auth.setup", next=_next_url()))
    return await render_template("toolkit/auth/login.html", next=_next_url())


@auth_pages.post("/login")
async def login_post():
    gate = current_gate()
    address = gate.client_address()
    wait = gate.limiter.retry_after(address)
    if wait:
        html = await render_template("toolkit/auth/login.html", next=_next_url(),
                                     error=_("Too many failed attempts. Try again in %(seconds)s s.", seconds=wait))
        return Response(html, 429, headers={"Retry-After": str(wait)})
    form = await request.form
    username, password = form.get("username", ""), form.get("password", "")
    if not await gate.store.verify(username, password):
        gate.limiter.failed(address)
        log.warning("failed login for %r from %s", username[:100], address)
        html = await render_template("toolkit/auth/login.html", next=_next_url(),
                                     username=username, error=_("Wrong user name or password."))
        return Response(html, 401)
    gate.limiter.succeeded(address)
    state, _settings = await gate.current()
    login_user(AuthUser(state.session_id), remember=True)
    return redirect(_next_url(), 303)


@auth_pages.post("/logout")
async def logout():
    logout_user()
    return redirect(url_for("toolkit_auth.login"), 303)


@auth_pages.get("/setup")
async def setup():
    state, _settings = await current_gate().current()
    if state.has_account:
        return redirect(url_for("toolkit_auth.login", next=_next_url()))
    return await render_template("toolkit/auth/setup.html", next=_next_url(), username="admin")


@auth_pages.post("/setup")
async def setup_post():
    gate = current_gate()
    state, _settings = await gate.current()
    if state.has_account:  # created meanwhile: nobody takes over an existing account here
        return redirect(url_for("toolkit_auth.login"), 303)
    form = await request.form
    username, password = form.get("username", "").strip(), form.get("password", "")
    try:
        if password != form.get("confirm", ""):
            raise PasswordError(DIFFERENT_PASSWORDS)
        state = await gate.store.set_password(username, password)
    except PasswordError as exc:
        html = await render_template("toolkit/auth/setup.html", next=_next_url(),
                                     username=username, error=str(exc))
        return Response(html, 422)
    await gate.refresh()
    login_user(AuthUser(state.session_id), remember=True)
    return redirect(_next_url(), 303)


async def _account_page(status: int = 200, **context):
    state, settings = await current_gate().current()
    html = await render_template(
        "toolkit/auth/account.html", state=state, settings=settings,
        overridden=current_gate().toolkit.settings.overridden(core_auth.NAMESPACE), **context)
    return Response(html, status)


@auth_pages.get("/account")
async def account():
    return await _account_page()


@auth_pages.post("/account/password")
async def change_password():
    gate = current_gate()
    state, _settings = await gate.current()
    form = await request.form
    username = form.get("username", "").strip() or state.username or "admin"
    new = form.get("password", "")
    address = gate.client_address()
    if gate.limiter.retry_after(address):  # the same limit as the login page
        return await _account_page(429, password_error=_("Too many failed attempts. Try again later."))
    if state.has_account and not await gate.store.verify(state.username,
                                                         form.get("current", "")):
        gate.limiter.failed(address)
        return await _account_page(422, password_error=_("The current password is wrong."))
    try:
        if new != form.get("confirm", ""):
            raise PasswordError(DIFFERENT_PASSWORDS)
        state = await gate.store.set_password(username, new)
    except PasswordError as exc:
        return await _account_page(422, password_error=_(str(exc)).capitalize() + ".")
    await gate.refresh()
    if current_user.auth_id is not None:  # this browser stays logged in; others are out
        login_user(AuthUser(state.session_id), remember=True)
    return await _account_page(password_saved=True)


@auth_pages.post("/account/access")
async def save_access():
    """The access mode and its networks, from the Account page's form."""
    gate = current_gate()
    form = await request.form
    changes = {name: form.get(name, "") for name in ("mode", "proxies", "local_networks")}
    overridden = gate.toolkit.settings.overridden(core_auth.NAMESPACE)
    try:
        await gate.toolkit.settings.update(
            core_auth.NAMESPACE, {k: v for k, v in changes.items() if k not in overridden})
    except SettingsError as exc:
        return await _account_page(422, access_error="; ".join(exc.fields.values()))
    await gate.refresh()
    return await _account_page(access_saved=True)


@auth_pages.post("/account/api-key")
async def rotate_api_key():
    gate = current_gate()
    await gate.store.rotate_api_key()
    await gate.refresh()
    return await _account_page(key_rotated=True)
