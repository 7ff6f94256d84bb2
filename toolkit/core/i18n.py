"""English and French for the whole toolkit: the catalogs, the lookup and the language.

Strings are marked with ``_()`` / ``ngettext()`` / ``N_()`` in Python and templates. The
catalog is ``toolkit/translations/<lang>/LC_MESSAGES/messages.po``, read with Babel and
compiled in memory once per process and language: a clone and a wheel need no build step, and
no compiled ``.mo`` can go stale (the one cached per user is named by the catalog's hash). ``scripts/translations`` extracts the strings and updates
the catalog; ``tests/core/test_i18n.py`` fails when a marked string has no French translation.

This module is the cheap half, on the standard library alone (Babel is imported the first
time a French string is looked up): the command line uses it without the web stack. The web
layer (``toolkit.web.i18n``) installs a resolver that knows the request's language; without
one (a command-line run) the language is :func:`command_line_language`.

The language setting is the host setting ``interface.language`` (``auto``, ``en``, ``fr``;
``toolkit.core.interface``), overridden by the environment variable ``TOOLKIT_LANGUAGE``.
"""
from __future__ import annotations

import functools
import gettext as stdlib_gettext
import io
import os
from pathlib import Path
from typing import Callable

LANGUAGES = ("en", "fr")
DEFAULT = "en"
CHOICES = ("auto", *LANGUAGES)  # the setting's values: auto follows the browser / Redriva
NAMESPACE = "interface"
CATALOGS = Path(__file__).resolve().parent.parent / "translations"
_resolver: dict[str, Callable[[], str] | None] = {"current": None}


def normalize(value: str | None) -> str | None:
    """``fr_FR.UTF-8``, ``fr-FR``, ``FR`` → ``fr``; a language we have no catalog for → None."""
    code = (value or "").strip().lower().replace("-", "_").split(".")[0].split("_")[0]
    return code if code in LANGUAGES else None


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "redriva-toolkit"


def _compiled(po: Path, language: str) -> bytes:
    """The catalog compiled to .mo by Babel (~0.2 s), kept in the user's cache folder under the
    catalog's hash so that a command in French starts fast; an unwritable cache only costs
    the compilation each time."""
    import hashlib  # here: OpenSSL's library is ~4.5 MiB and 25 ms that an English command never needs

    source = po.read_bytes()
    cached = _cache_dir() / f"messages-{language}-{hashlib.sha256(source).hexdigest()[:16]}.mo"
    try:
        return cached.read_bytes()
    except OSError:
        pass
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(io.BytesIO(source), locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(compiled.getvalue())
        partial.replace(cached)  # whole or not at all, whoever else compiles at the same time
    except OSError:
        pass
    return compiled.getvalue()


@functools.cache
def translations(language: str) -> stdlib_gettext.NullTranslations:
    po = CATALOGS / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT or not po.is_file():
        return stdlib_gettext.NullTranslations()
    return stdlib_gettext.GNUTranslations(io.BytesIO(_compiled(po, language)))


def set_resolver(resolver: Callable[[], str] | None) -> None:
    """The web app's way to say which language a message is for (the request's, else the
    configured one); ``None`` goes back to the command line's."""
    _resolver["current"] = resolver


def stored_language(environ=os.environ) -> str | None:
    """The ``interface.language`` setting as saved in the toolkit's SQLite database, read with
    ``sqlite3`` (no SQLAlchemy, no migration): ``None`` for ``auto``, nothing saved, another
    database, or a file that cannot be read."""
    url = environ.get("TOOLKIT_DATABASE_URL", "")
    if url:
        if not url.startswith(("sqlite:///", "sqlite+aiosqlite:///")):
            return None
        path = url.split(":///", 1)[1].split("?", 1)[0]
    else:
        path = str(Path(environ.get("TOOLKIT_DATA_DIR", "./data")) / "toolkit.db")
    if not path or path == ":memory:" or not os.path.isfile(path):
        return None
    import sqlite3  # the database exists: only then (the library, ~1 MiB)

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.5) as connection:
            row = connection.execute("SELECT json_extract(\"values\", '$.language') FROM "
                                     "toolkit_settings WHERE namespace = ?", (NAMESPACE,)).fetchone()
    except sqlite3.Error:
        return None
    return normalize(row[0]) if row else None


@functools.cache
def command_line_language() -> str:
    """A command's language: ``TOOLKIT_LANGUAGE`` (or ``TOOLKIT_INTERFACE__LANGUAGE``), else the
    saved setting, else the locale (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``, as
    gettext reads them), else English."""
    environ = os.environ
    for name in ("TOOLKIT_LANGUAGE", "TOOLKIT_INTERFACE__LANGUAGE"):
        if chosen := normalize(environ.get(name)):
            return chosen
    if chosen := stored_language(environ):
        return chosen
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:  # the first one set decides, as in gettext; LANGUAGE is a list
            return normalize(value.split(":")[0]) or DEFAULT
    return DEFAULT


def current_language() -> str:
    resolver = _resolver["current"]
    return (resolver() if resolver else None) or command_line_language()


def gettext(message: str, **values) -> str:
    """``message`` in the current language, ``%(name)s`` placeholders filled from ``values``."""
    text = translations(current_language()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, num: int, **values) -> str:
    text = translations(current_language()).ngettext(singular, plural, num)
    return text % {"num": num, **values}


_ = gettext


def N_(message: str) -> str:
    """Marks a message for the catalog where it is made (a validator, a constant); it is
    translated with :func:`gettext` where it is shown."""
    return message
