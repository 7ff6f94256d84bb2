"""Access control: every route behind the gate, the account, the API key, the access modes,
the host allow-list and the data folder's modes."""
from __future__ import annotations

import os
import re
import stat

import pytest
from quart import Blueprint
from quart.testing import QuartClient

from toolkit import hookimpl
from toolkit.core.auth import AuthStore
from toolkit.testing import (AUTH_HEADERS, TEST_API_KEY, TEST_PASSWORD, TEST_USER, make_app,
                             make_config, toolkit_of_app)
from toolkit.web.auth import LOGIN_ATTEMPTS, PUBLIC_ENDPOINTS

LOCAL = {"client": ("127.0.0.1", 50123)}
extra = Blueprint("extra", __name__)


@extra.get("/extra")
async def extra_page():
    return "the extra plugin's page"


@extra.post("/api/extra/<int:number>/things")
async def extra_action(number: int):
    return {"done": number}


class ExtraPlugin:
    """A plugin that does nothing about access control."""

    @hookimpl
    def toolkit_register_routes(self, app):
        return extra


def concrete(rule: str) -> str:
    return re.sub(r"<(?:(int|path|string):)?([^<>]+)>",
                  lambda m: {"int": "1", "path": "a/b"}.get(m.group(1), "x"), rule)


def anonymous(app) -> QuartClient:
    return QuartClient(app)


async def create_account(app, username: str = "admin", password: str = "a long password"):
    gate = app.extensions["toolkit_auth"]
    await gate.store.set_password(username, password)
    await gate.refresh()


@pytest.fixture
async def new_app(toolkit_config):
    """The app as a new user finds it: no account, keys of its own, no fixture login."""
    app = make_app(toolkit_config, authenticate=False)
    async with app.test_app():
        yield app


@pytest.fixture
async def account_app(new_app):
    await create_account(new_app)
    return new_app


@pytest.mark.parametrize("account", [False, True], ids=["first start", "with account"])
async def test_every_route_refuses_a_caller_without_credentials(toolkit_config, account):
    app = make_app(toolkit_config, [("extra", ExtraPlugin())], authenticate=False)
    async with app.test_app():
        if account:
            await create_account(app)
        target = "/toolkit/login" if account else "/toolkit/setup"
        endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
        assert PUBLIC_ENDPOINTS <= endpoints  # the allow-list names real routes only
        assert {"extra.extra_page", "extra.extra_action", "symlink_api.scan_start"} <= endpoints
        client, checked = anonymous(app), []
        for rule in app.url_map.iter_rules():
            if rule.endpoint in PUBLIC_ENDPOINTS:
                continue
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = await client.open(concrete(rule.rule), method=method)
                where = (method, rule.rule, response.status_code)
                if response.status_code in (302, 303):
                    assert response.headers["Location"].startswith(target), where
                else:
                    assert response.status_code == 401, where
                checked.append(where)
        assert len(checked) > 40
        assert await toolkit_of_app(app).runner.list() == []  # nothing was started


async def test_the_few_open_routes_say_nothing(account_app):
    client = anonymous(account_app)
    health = await client.get("/api/toolkit/health")
    assert health.status_code == 200 and await health.get_json() == {"status": "ok"}
    login = await client.get("/toolkit/login")
    assert login.status_code == 200 and "Log in" in await login.get_data(as_text=True)
    css = await client.get("/toolkit/static/toolkit.css")
    assert css.status_code == 200
    setup = await client.get("/toolkit/setup")  # the account exists: no second one
    assert setup.status_code == 302 and setup.headers["Location"].startswith("/toolkit/login")


async def test_pages_lead_to_the_login_and_htmx_is_sent_there(account_app):
    client = anonymous(account_app)
    page = await client.get("/symlink?tab=scanner")
    assert page.status_code == 302
    assert page.headers["Location"] == "/toolkit/login?next=/symlink%3Ftab%3Dscanner"
    fragment = await client.get("/symlink?tab=scanner", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"] == "/toolkit/login"
    api = await client.get("/api/symlink/config")
    error = (await api.get_json())["error"]
    assert api.status_code == 401 and error["code"] == "unauthorized"
    assert "X-Api-Key" in error["message"]


async def test_first_start_creates_the_admin_account_once(new_app):
    app = new_app
    client = anonymous(app)
    assert (await client.get("/")).headers["Location"].startswith("/toolkit/setup")
    api = await client.get("/api/toolkit/jobs")
    assert "create the admin account" in (await api.get_json())["error"]["message"]
    differ = await client.post("/toolkit/setup", form={
        "username": "me", "password": "a long password", "confirm": "another one"})
    assert differ.status_code == 422
    assert "The two passwords differ" in await differ.get_data(as_text=True)
    short = await client.post("/toolkit/setup", form={
        "username": "me", "password": "short", "confirm": "short"})
    assert "at least 8 characters" in await short.get_data(as_text=True)
    created = await client.post("/toolkit/setup?next=/symlink", form={
        "username": "me", "password": "a long password", "confirm": "a long password"})
    assert created.status_code == 303 and created.headers["Location"] == "/symlink"
    assert (await client.get("/symlink")).status_code == 200  # logged in by the cookie
    # nobody takes the account over afterwards
    other = anonymous(app)
    again = await other.post("/toolkit/setup", form={
        "username": "evil", "password": "evil password", "confirm": "evil password"})
    assert again.headers["Location"].startswith("/toolkit/login")
    assert await AuthStore(toolkit_of_app(app).sessions).verify("me", "a long password")


async def test_api_key_in_the_header_only(toolkit_app):
    client = anonymous(toolkit_app)
    good = await client.get("/api/toolkit/jobs", headers=AUTH_HEADERS)
    assert good.status_code == 200
    assert (await client.get("/api/symlink/config", headers=AUTH_HEADERS)).status_code == 200
    assert (await client.get(f"/api/toolkit/jobs?apikey={TEST_API_KEY}")).status_code == 401
    wrong = await client.get("/api/toolkit/jobs", headers={"X-Api-Key": "0" * 32})
    assert wrong.status_code == 401
    # a wrong key is refused even next to a valid session cookie
    logged_in = toolkit_app.test_client()
    assert (await logged_in.get("/api/toolkit/jobs")).status_code == 200
    assert (await logged_in.get("/api/toolkit/jobs",
                                headers={"X-Api-Key": "0" * 32})).status_code == 401
    health = await (await client.get("/api/toolkit/health", headers=AUTH_HEADERS)).get_json()
    assert health["version"] and "plugins" in health


async def test_a_new_api_key_replaces_the_old_one(toolkit_app):
    client = toolkit_app.test_client()
    page = await (await client.get("/toolkit/account")).get_data(as_text=True)
    assert TEST_API_KEY in page
    rotated = await (await client.post("/toolkit/account/api-key")).get_data(as_text=True)
    new_key = re.search(r'id="api-key"[^>]*>([0-9a-f]{32})<', rotated).group(1)
    assert new_key != TEST_API_KEY and "the old one no longer works" in rotated
    other = anonymous(toolkit_app)
    assert (await other.get("/api/toolkit/jobs", headers=AUTH_HEADERS)).status_code == 401
    assert (await other.get("/api/toolkit/jobs",
                            headers={"X-Api-Key": new_key})).status_code == 200


async def test_a_new_password_ends_the_other_sessions(toolkit_app):
    mine, elsewhere = toolkit_app.test_client(), toolkit_app.test_client()
    wrong = await mine.post("/toolkit/account/password", form={
        "current": "not it", "password": "the new password", "confirm": "the new password"})
    assert wrong.status_code == 422
    assert "The current password is wrong." in await wrong.get_data(as_text=True)
    saved = await mine.post("/toolkit/account/password", form={
        "username": TEST_USER, "current": TEST_PASSWORD, "password": "the new password",
        "confirm": "the new password"})
    assert "Password saved" in await saved.get_data(as_text=True)
    assert (await mine.get("/symlink")).status_code == 200  # this browser got a new cookie
    assert (await elsewhere.get("/symlink")).status_code == 302


async def test_login_attempts_are_limited_per_address(toolkit_app):
    client = anonymous(toolkit_app)
    for _ in range(LOGIN_ATTEMPTS):
        wrong = await client.post("/toolkit/login", form={"username": TEST_USER,
                                                          "password": "guess"}, scope_base=LOCAL)
        assert wrong.status_code == 401
        assert "Wrong user name or password." in await wrong.get_data(as_text=True)
    limited = await client.post("/toolkit/login", form={"username": TEST_USER,
                                                        "password": TEST_PASSWORD},
                                scope_base=LOCAL)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "Too many failed attempts" in await limited.get_data(as_text=True)
    other = await client.post("/toolkit/login?next=/symlink", form={
        "username": TEST_USER, "password": TEST_PASSWORD},
        scope_base={"client": ("127.0.0.2", 50124)})
    assert other.status_code == 303 and other.headers["Location"] == "/symlink"
    assert "HttpOnly" in other.headers["Set-Cookie"] and "SameSite=Lax" in other.headers["Set-Cookie"]


@pytest.mark.parametrize("host", ["evil.example:5050", "evil.example", "127.0.0.1.evil.example"])
async def test_dns_rebinding_is_refused(toolkit_app, host):
    client = toolkit_app.test_client()
    read = await client.get("/api/symlink/config", headers={"Host": host, **AUTH_HEADERS})
    assert read.status_code == 400 and "TOOLKIT_ALLOWED_HOSTS" in await read.get_data(as_text=True)
    write = await client.post("/api/symlink/config", json={"media_path": "/"},
                              headers={"Host": host, "Origin": f"http://{host}"})
    assert write.status_code == 400
    page = await client.get("/symlink", headers={"Host": host})
    assert page.status_code == 400


@pytest.mark.parametrize("host", ["127.0.0.1:5050", "[::1]:5050", "localhost:5050",
                                  "192.168.1.20:5050", "toolkit.localhost"])
async def test_addresses_and_localhost_are_allowed_hosts(toolkit_app, host):
    response = await toolkit_app.test_client().get("/api/toolkit/jobs", headers={"Host": host})
    assert response.status_code == 200


async def test_allowed_hosts_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TOOLKIT_ALLOWED_HOSTS", "Toolkit.Example.com, .lan")
    app = make_app(make_config(tmp_path / "data"))
    async with app.test_app():
        client = app.test_client()
        for host, status in (("toolkit.example.com", 200), ("nas.lan:5050", 200),
                             ("example.com", 400), ("evil-lan", 400)):
            response = await client.get("/api/toolkit/jobs", headers={"Host": host})
            assert response.status_code == status, host


async def test_origin_null_is_cross_site(toolkit_app):
    client = toolkit_app.test_client()
    refused = await client.post("/api/toolkit/schedules", json={}, headers={"Origin": "null"})
    assert refused.status_code == 403 and (await refused.get_json())["error"]["code"] == "csrf"


async def test_loopback_only_server_works_before_the_account_exists(new_app):
    app = new_app
    client = anonymous(app)
    app.config["TOOLKIT_BIND_HOSTS"] = ["127.0.0.1"]
    assert (await client.get("/api/toolkit/jobs", scope_base=LOCAL)).status_code == 200
    # through a reverse proxy on this machine it is not local
    proxied = await client.get("/api/toolkit/jobs", scope_base=LOCAL,
                               headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 401
    app.config["TOOLKIT_BIND_HOSTS"] = ["0.0.0.0"]
    assert (await client.get("/api/toolkit/jobs", scope_base=LOCAL)).status_code == 401
    app.config["TOOLKIT_BIND_HOSTS"] = ["127.0.0.1"]
    await create_account(app)  # from now on, the account is needed here too
    assert (await client.get("/api/toolkit/jobs", scope_base=LOCAL)).status_code == 401


async def test_external_mode_trusts_the_proxy_header_from_the_proxy_only(monkeypatch, tmp_path):
    monkeypatch.setenv("TOOLKIT_AUTH__MODE", "external")
    monkeypatch.setenv("TOOLKIT_AUTH__PROXIES", "10.0.0.2, 172.18.0.0/16")
    app = make_app(make_config(tmp_path / "data"), authenticate=False)
    async with app.test_app():
        client = anonymous(app)
        proxy = {"client": ("172.18.0.5", 40000)}
        page = await client.get("/symlink", headers={"Remote-User": "alice"}, scope_base=proxy)
        assert page.status_code == 200 and "alice" in await page.get_data(as_text=True)
        assert (await client.get("/api/toolkit/jobs", scope_base=proxy)).status_code == 401
        direct = await client.get("/api/toolkit/jobs", headers={"Remote-User": "alice"},
                                  scope_base={"client": ("192.168.1.7", 40000)})
        assert direct.status_code == 401
        # the API key works in every mode
        assert (await client.get("/api/toolkit/jobs", headers={
            "X-Api-Key": (await app.extensions["toolkit_auth"].current())[0].api_key},
            scope_base=LOCAL)).status_code == 200


async def test_external_mode_needs_a_proxy_address(toolkit_client):
    response = await toolkit_client.post("/api/toolkit/settings/auth", json={"mode": "external"})
    assert response.status_code == 422
    assert "reverse proxy" in str((await response.get_json())["error"]["fields"])


async def test_disabled_for_local_addresses(monkeypatch, tmp_path):
    monkeypatch.setenv("TOOLKIT_AUTH__MODE", "disabled_for_local_addresses")
    app = make_app(make_config(tmp_path / "data"), authenticate=False)
    async with app.test_app():
        await create_account(app)
        client = anonymous(app)
        lan = {"client": ("192.168.1.20", 40000)}
        assert (await client.get("/api/toolkit/jobs", scope_base=LOCAL)).status_code == 200
        assert (await client.get("/api/toolkit/jobs", scope_base=lan)).status_code == 401
        forwarded = await client.get("/api/toolkit/jobs", scope_base=LOCAL,
                                     headers={"X-Forwarded-For": "127.0.0.1"})
        assert forwarded.status_code == 401  # a proxy nobody declared: not local
        saved = await client.post("/api/toolkit/settings/auth", scope_base=LOCAL,
                                  json={"local_networks": ["192.168.1.0/24"]})
        assert saved.status_code == 200
        assert (await client.get("/api/toolkit/jobs", scope_base=lan)).status_code == 200


async def test_data_folder_and_database_are_owner_only(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    config = make_config(data)
    async with make_app(config).test_app():
        pass
    database = data / "toolkit.db"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    # an install made before: narrowed at the next start
    os.chmod(data, 0o755)
    os.chmod(database, 0o644)
    async with make_app(config).test_app() as app:
        await (await app.test_client().get("/api/toolkit/jobs")).get_data()
        for file in data.iterdir():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_log_in_and_out_in_a_real_browser(browser_page, toolkit_server):
    from playwright.sync_api import expect

    page = browser_page
    page.context.clear_cookies()  # a visitor without a session
    page.goto(f"{toolkit_server}/symlink")
    expect(page).to_have_url(re.compile(r"/toolkit/login\?next=/symlink$"))
    page.get_by_label("User name").fill(TEST_USER)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{toolkit_server}/symlink")
    expect(page.get_by_role("heading", name="Symlink manager")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "redriva_toolkit_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.get_by_role("link", name=f"👤 {TEST_USER}").click()
    expect(page.locator("#api-key")).to_have_text(TEST_API_KEY)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto(f"{toolkit_server}/symlink")
    expect(page).to_have_url(re.compile(r"/toolkit/login"))


async def test_cli_sets_the_password_and_shows_or_rotates_the_api_key(tmp_path):
    import subprocess

    from .test_cli import EXE, run

    def set_password(password: str):
        return subprocess.run([EXE, "auth", "set-password", "--password-stdin"],
                              input=password + "\n", capture_output=True, text=True,
                              env={**os.environ, "TOOLKIT_DATA_DIR": str(tmp_path)})

    short = set_password("short")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    saved = set_password("a long password")
    assert saved.returncode == 0 and "password of 'admin' saved" in saved.stdout
    key = run("auth", "api-key", env_dir=tmp_path).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert run("auth", "api-key", env_dir=tmp_path).stdout.strip() == key
    rotated = run("auth", "api-key", "--rotate", env_dir=tmp_path).stdout.strip()
    assert rotated != key and run("auth", "api-key", env_dir=tmp_path).stdout.strip() == rotated
    # the web app takes what the CLI set
    app = make_app(make_config(tmp_path), authenticate=False)
    async with app.test_app():
        client = anonymous(app)
        assert (await client.get("/api/toolkit/jobs", headers={"X-Api-Key": rotated})).status_code == 200
        assert (await client.get("/api/toolkit/jobs", headers={"X-Api-Key": key})).status_code == 401
        login = await client.post("/toolkit/login", form={"username": "admin",
                                                          "password": "a long password"})
        assert login.status_code == 303


async def test_openapi_declares_the_api_key_as_security_scheme(toolkit_client):
    document = await (await toolkit_client.get("/api/toolkit/openapi.json")).get_json()
    scheme = document["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-Api-Key")
    assert {"apiKey": []} in document["security"]
    assert {} in document["paths"]["/api/toolkit/health"]["get"]["security"]
    assert "security" not in document["paths"]["/api/toolkit/jobs"]["get"]  # the default


async def test_the_access_mode_is_set_on_the_account_page(toolkit_app):
    client = toolkit_app.test_client()
    refused = await client.post("/toolkit/account/access", form={
        "mode": "external", "proxies": "", "local_networks": ""})
    assert refused.status_code == 422
    assert "External mode needs the address of the reverse proxy" in await refused.get_data(as_text=True)
    saved = await client.post("/toolkit/account/access", form={
        "mode": "disabled_for_local_addresses", "proxies": "", "local_networks": "10.1.0.0/16"})
    assert "Access settings saved." in await saved.get_data(as_text=True)
    anonymous_lan = await anonymous(toolkit_app).get("/api/toolkit/jobs",
                                                     scope_base={"client": ("10.1.2.3", 4000)})
    assert anonymous_lan.status_code == 200
    settings = await (await client.get("/api/toolkit/settings/auth")).get_json()
    assert settings["values"]["local_networks"] == ["10.1.0.0/16"]


async def test_guessing_the_current_password_is_limited_too(toolkit_app):
    client = toolkit_app.test_client()
    form = {"password": "the new password", "confirm": "the new password"}
    for _ in range(LOGIN_ATTEMPTS):
        wrong = await client.post("/toolkit/account/password", scope_base=LOCAL,
                                  form={**form, "current": "guess"})
        assert wrong.status_code == 422
    limited = await client.post("/toolkit/account/password", scope_base=LOCAL,
                                form={**form, "current": TEST_PASSWORD})
    assert limited.status_code == 429
    assert "Too many failed attempts" in await limited.get_data(as_text=True)


async def test_account_messages_in_french(new_app):
    client = anonymous(new_app)
    differ = await client.post("/toolkit/setup", headers={"Accept-Language": "fr"}, form={
        "username": "me", "password": "a long password", "confirm": "another one"})
    assert "Les deux mots de passe diffèrent." in await differ.get_data(as_text=True)
    short = await client.post("/toolkit/setup", headers={"Accept-Language": "fr"}, form={
        "username": "me", "password": "short", "confirm": "short"})
    assert "Le mot de passe doit avoir au moins 8 caractères." in await short.get_data(as_text=True)
