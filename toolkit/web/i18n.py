"""The interface in English and French: gettext catalogs, as Flask-Babel does it, on Quart.

Strings are marked with ``_()`` / ``ngettext()`` in Python and templates (Jinja's
``jinja2.ext.i18n``, new style: ``_("Delete %(n)s links", n=3)``, values escaped). The
catalog is ``toolkit/translations/<lang>/LC_MESSAGES/messages.po``, read with Babel and
compiled in memory once per process: a clone and a wheel need no build step, and no compiled
``.mo`` can go stale. ``scripts/translations`` extracts the strings and updates the catalog;
``tests/core/test_i18n.py`` fails when a marked string has no French translation.

The language of a request: the ``TOOLKIT_LANGUAGE`` setting (``en``/``fr``), else Redriva's
language when the toolkit is mounted in Redriva (French), else the browser's
``Accept-Language``. Outside a request (notifications, jobs): the setting, else Redriva's,
else English.
"""
from __future__ import annotations

import functools
import re
import gettext as stdlib_gettext
import io
from pathlib import Path

from quart import current_app, g, has_app_context, has_request_context, request

LANGUAGES = ("en", "fr")
DEFAULT = "en"
REDRIVA_LANGUAGE = "fr"  # Redriva's interface: <html lang="fr">
CATALOGS = Path(__file__).resolve().parent.parent / "translations"
_outside_request = {"language": DEFAULT}  # the serving app's choice, for jobs and notifications


@functools.cache
def translations(language: str) -> stdlib_gettext.NullTranslations:
    po = CATALOGS / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT or not po.is_file():
        return stdlib_gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return stdlib_gettext.GNUTranslations(compiled)


def configured_language(app) -> str | None:
    """The language the app is set to, whatever the browser asks."""
    chosen = (app.config.get("TOOLKIT_LANGUAGE") or "").strip().lower()
    if chosen in LANGUAGES:
        return chosen
    if app.config.get("REDRIVA_MOUNTED"):
        return app.config.get("REDRIVA_LANGUAGE", REDRIVA_LANGUAGE)
    return None


def get_language() -> str:
    if has_request_context():
        language = g.get("toolkit_language")
        if language is None:
            language = configured_language(current_app) or \
                request.accept_languages.best_match(LANGUAGES) or DEFAULT
            g.toolkit_language = language
        return language
    if has_app_context():
        return configured_language(current_app) or DEFAULT
    return _outside_request["language"]


def gettext(message: str, **values) -> str:
    text = translations(get_language()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, num: int, **values) -> str:
    text = translations(get_language()).ngettext(singular, plural, num)
    return text % {"num": num, **values}


_ = gettext


def N_(message: str) -> str:
    """Marks a message for the catalog where it is made (a validator, the engine); the page
    translates it where it is shown (:func:`say`)."""
    return message


# pydantic's own messages, as the settings page shows them
PYDANTIC = ((re.compile(r"Input should be greater than or equal to (\S+)"), N_("must be at least %(n)s")),
            (re.compile(r"Input should be less than or equal to (\S+)"), N_("must be at most %(n)s")),
            (re.compile(r"Input should be greater than (\S+)"), N_("must be more than %(n)s")),
            (re.compile(r"Input should be a valid integer"), N_("must be a whole number")),
            (re.compile(r"Input should be a valid number"), N_("must be a number")),
            (re.compile(r"String should have at most (\S+) characters?"), N_("at most %(n)s characters")))


def say(message: str) -> str:
    """A message made in English elsewhere (a validator, pydantic), in the page's language."""
    for pattern, text in PYDANTIC:
        if match := pattern.match(message):
            return gettext(text, n=match.group(1)) if match.groups() else gettext(text)
    return gettext(message) if message else message


def init_app(app) -> None:
    """Templates get ``_``, ``gettext``, ``ngettext`` (Jinja fills in and escapes the values)
    and ``html_lang``."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.filters["say"] = say
    app.jinja_env.install_gettext_callables(
        lambda message: translations(get_language()).gettext(message),
        lambda singular, plural, num: translations(get_language()).ngettext(singular, plural, num),
        newstyle=True)

    @app.context_processor
    async def _language():
        return {"html_lang": get_language()}

    @app.before_serving
    async def _remember_language():
        _outside_request["language"] = configured_language(app) or DEFAULT
