"""The interface in English and French on Quart, as Flask-Babel does it: the request's
language, and ``_`` in templates. The catalogs and the lookup are ``toolkit.core.i18n``'s
(also used by the command line, without the web stack).

Strings are marked with ``_()`` / ``ngettext()`` in Python and templates (Jinja's
``jinja2.ext.i18n``, new style: ``_("Delete %(n)s links", n=3)``, values escaped).

The language of a request: the ``TOOLKIT_LANGUAGE`` environment variable, else the
``interface.language`` setting when it is not ``auto`` (the Account page's picker), else
Redriva's language when the toolkit is mounted in Redriva (French), else the browser's
``Accept-Language``, else English. Outside a request (notifications, jobs): the same without
the browser.
"""
from __future__ import annotations

import re

from quart import current_app, g, has_app_context, has_request_context, request

from toolkit.core import i18n as core
from toolkit.core.i18n import DEFAULT, LANGUAGES, N_, normalize, translations  # noqa: F401

REDRIVA_LANGUAGE = "fr"  # Redriva's interface: <html lang="fr">
SETTING = "TOOLKIT_LANGUAGE_SETTING"  # app.config key: the saved setting, kept in memory
_outside_request = {"language": DEFAULT}  # the serving app's choice, for jobs and notifications


def configured_language(app) -> str | None:
    """The language the app is set to, whatever the browser asks."""
    for chosen in (app.config.get("TOOLKIT_LANGUAGE"), app.config.get(SETTING)):
        if language := normalize(chosen):
            return language
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


gettext = core.gettext  # in the language get_language() gives, once init_app installed it
ngettext = core.ngettext
_ = gettext


# pydantic's own messages, as the settings page shows them
PYDANTIC = ((re.compile(r"Input should be greater than or equal to (\S+)"), N_("must be at least %(n)s")),
            (re.compile(r"Input should be less than or equal to (\S+)"), N_("must be at most %(n)s")),
            (re.compile(r"Input should be greater than (\S+)"), N_("must be more than %(n)s")),
            (re.compile(r"Input should be a valid integer"), N_("must be a whole number")),
            (re.compile(r"Input should be a valid number"), N_("must be a number")),
            (re.compile(r"String should have at most (\S+) characters?"), N_("at most %(n)s characters")),
            (re.compile(r"String should have at least (\S+) characters?"), N_("at least %(n)s characters")),
            (re.compile(r"Field required"), N_("required")),
            (re.compile(r"Extra inputs are not permitted"), N_("not a known field")),
            (re.compile(r"Input should be a valid boolean"), N_("must be true or false")),
            (re.compile(r"Input should be a valid string"), N_("must be text")),
            (re.compile(r"Input should be a valid list"), N_("must be a list")),
            (re.compile(r"Input should be a valid dictionary"), N_("must be an object")),
            (re.compile(r"Input should be ((?:'[^']*'(?:, | or )?)+)$"), N_("must be one of %(n)s")))


def say(message: str) -> str:
    """A message made in English elsewhere (a validator, pydantic), in the page's language."""
    for pattern, text in PYDANTIC:
        if match := pattern.match(message):
            # a list of choices ("'a', 'b' or 'c'") loses its English "or"
            return gettext(text, n=match.group(1).replace(" or ", ", ")) if match.groups() else gettext(text)
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

    core.set_resolver(get_language)

    def _remember(namespace: str, settings) -> None:
        if namespace == core.NAMESPACE:
            app.config[SETTING] = settings.language
            _outside_request["language"] = configured_language(app) or DEFAULT

    app.extensions["toolkit"].settings.listeners.append(_remember)
    _remember(core.NAMESPACE, type("Unread", (), {"language": None}))


def unload(app) -> None:
    """The app stopped: messages made afterwards in this process (a command, the next test's
    engine) no longer follow it."""
    core.set_resolver(None)
    _outside_request["language"] = DEFAULT


async def load_setting(app) -> None:
    """Read the saved language once the database is ready (the app's startup); later
    changes come through the settings store's listener."""
    toolkit = app.extensions["toolkit"]
    for listener in toolkit.settings.listeners:
        listener(core.NAMESPACE, await toolkit.settings.get(core.NAMESPACE))
