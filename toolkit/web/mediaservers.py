"""The media servers page (``/toolkit/mediaservers``): each Jellyfin, Emby and Plex
connection (address, key, path mappings) with **Save** and **Test**; and the connection test
itself, which the API's ``POST /api/toolkit/mediaservers/<kind>/test`` shares.

Plain forms posted to the server (like the Account page): the page comes back with what was
saved or what the server answered, in the card of that server. The key is never shown
(``********`` when one is stored; leaving it so keeps it, and changing the address without a
new key drops it: the settings store's rule)."""
from __future__ import annotations

from quart import Blueprint, Quart, Response, current_app, render_template, request

from toolkit.core.services.errors import ServiceError, ServiceTimeout, ServiceUnreachable
from toolkit.core.services.mediaserver import MediaServerClient, MediaServerKind
from toolkit.core.services.pathmap import mappings_text
from toolkit.core.settings import SettingsError, public
from toolkit.web.errors import ApiError
from toolkit.web.i18n import gettext as _

mediaserver_pages = Blueprint("toolkit_mediaservers", __name__, url_prefix="/toolkit")
KINDS = [kind.value for kind in MediaServerKind]
TITLES = {"jellyfin": "Jellyfin", "emby": "Emby", "plex": "Plex"}


def _toolkit():
    return current_app.extensions["toolkit"]


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ApiError(404, _("no media server %(kind)s (jellyfin, emby or plex)", kind=repr(kind)))
    return kind


async def test_connection(kind: str) -> dict:
    """Ask the configured server ``kind`` who it is: ``{"ok", "kind", "server_name",
    "version"}``. :class:`ApiError` 422 when it has no address or key, 503 unreachable, 502 an
    error answer (its body is never passed on: it may echo the key or be a login page)."""
    tk = _toolkit()
    settings = await tk.settings.get(_kind(kind))
    if not settings.configured:
        raise ApiError(422, _("%(kind)s has no address or key", kind=kind), fields={
            "url": _("give the server's address and its key")})
    client = MediaServerClient(settings, http=tk.http)
    try:
        return await client.test_connection()
    except (ServiceUnreachable, ServiceTimeout) as exc:
        raise ApiError(503, exc.message, code=exc.reason) from None
    except ServiceError as exc:
        raise ApiError(502, exc.message, code=exc.reason) from None
    finally:
        await client.aclose()


async def _page(status: int = 200, **outcome) -> Response:
    """The page; ``outcome``: ``kind`` and what happened to it (saved, errors, test)."""
    store = _toolkit().settings
    servers = []
    for kind in KINDS:
        values = public(await store.get(kind))
        servers.append({"kind": kind, "title": TITLES[kind], "current": values,
                        "secret_field": "token" if kind == "plex" else "api_key",
                        "mappings": mappings_text(values.get("path_mappings") or [], "; "),
                        "overridden": store.overridden(kind)})
    html = await render_template("toolkit/mediaservers.html", servers=servers, outcome=outcome)
    return Response(html, status)


@mediaserver_pages.get("/mediaservers")
async def page():
    return await _page()


@mediaserver_pages.post("/mediaservers/<kind>")
async def save(kind: str):
    _kind(kind)
    form = await request.form
    secret_field = "token" if kind == "plex" else "api_key"
    changes = {"url": form.get("url", ""), secret_field: form.get("secret", ""),
               "path_mappings": form.get("path_mappings", "")}
    if kind == "plex":  # an unticked box is not sent: off
        changes.update(empty_trash=form.get("empty_trash") == "on", empty_trash_max=form.get("empty_trash_max", ""))
    overridden = _toolkit().settings.overridden(kind)
    changes = {name: value for name, value in changes.items() if name not in overridden}
    try:
        await _toolkit().settings.update(kind, changes)
    except SettingsError as exc:
        return await _page(422, kind=kind, errors=exc.fields)
    except ValueError as exc:  # a mapping written without "="
        return await _page(422, kind=kind, errors={"path_mappings": str(exc)})
    return await _page(kind=kind, saved=True)


@mediaserver_pages.post("/mediaservers/<kind>/test")
async def test(kind: str):
    try:
        answer = await test_connection(kind)
    except ApiError as exc:
        return await _page(kind=kind, test_error=exc.message)
    return await _page(kind=kind, test=answer)


def install(app: Quart) -> None:
    app.register_blueprint(mediaserver_pages)
