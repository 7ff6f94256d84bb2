"""The language picker: the Account page's "Language" form saves the host setting
``interface.language`` (``auto``, ``en``, ``fr``) and goes back to the page it came from, now
in the chosen language. ``TOOLKIT_LANGUAGE`` in the environment wins: the picker is then shown
disabled and the route refuses."""
from __future__ import annotations

from quart import Blueprint, Quart, current_app, redirect, request, url_for

from toolkit.core.i18n import CHOICES, NAMESPACE, normalize
from toolkit.core.settings import SettingsError
from toolkit.web.errors import error_page
from toolkit.web.i18n import SETTING
from toolkit.web.i18n import gettext as _

language_pages = Blueprint("toolkit_language", __name__, url_prefix="/toolkit")


def _local(target: str) -> str:
    """A path on this site only (never //other.example)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("toolkit_auth.account")
    return target


@language_pages.post("/language")
async def choose_language():
    form = await request.form
    if normalize(current_app.config.get("TOOLKIT_LANGUAGE")):
        return await error_page(409, _("The language is set by TOOLKIT_LANGUAGE"),
                                _("Change or remove that environment variable to choose it here."))
    try:
        await current_app.extensions["toolkit"].settings.update(
            NAMESPACE, {"language": form.get("language", "")})
    except SettingsError:
        return await error_page(422, _("Unknown language"),
                                _("Choose one of: %(choices)s.", choices=", ".join(CHOICES)))
    return redirect(_local(form.get("next", "")), 303)


def install(app: Quart) -> None:
    app.register_blueprint(language_pages)

    @app.context_processor
    async def _language_choice():
        return {"language_setting": app.config.get(SETTING) or "auto",
                "language_locked": bool(normalize(app.config.get("TOOLKIT_LANGUAGE")))}
