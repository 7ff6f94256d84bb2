"""The docs' images, taken by the browser tests where they stand, when asked:

    TOOLKIT_SCREENSHOT_DIR=docs/screenshots .venv/bin/python -m pytest -m browser \\
        tests/symlink_web tests/symlink_schedule tests/redriva tests/queue_cleaner

``shoot(page, "symlink-scanner")`` writes ``symlink-scanner.png`` (the desktop window, 1280×900,
scrolled to the top) and ``symlink-scanner-phone.png`` (the same page at 375×740), with ``-fr``
before ``.png`` when the page is in French. Windows, not whole pages: the images stay small
and show what a person sees first. Without the variable nothing is taken (each image costs
the test time)."""
from __future__ import annotations

import os
from pathlib import Path

PHONE = {"width": 375, "height": 740}


def _directory() -> Path | None:
    chosen = os.environ.get("TOOLKIT_SCREENSHOT_DIR")
    if not chosen:
        return None
    directory = Path(chosen)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _suffix(page, language: str | None = None) -> str:
    return "-fr" if (language or page.evaluate("document.documentElement.lang")) == "fr" else ""


def shoot(page, name: str, *, phone: bool = True, language: str | None = None) -> None:
    """The page as a person sees it on a desktop and (``phone``) on a phone. ``language``: the
    toolkit's, when the page's ``<html lang>`` is someone else's (Redriva's layout)."""
    directory = _directory()
    if directory is None:
        return
    suffix = _suffix(page, language)
    page.evaluate("window.scrollTo(0, 0)")  # sticky lines sit where a person sees them
    page.screenshot(path=str(directory / f"{name}{suffix}.png"))
    if phone:
        desktop = page.viewport_size
        page.set_viewport_size(PHONE)
        try:
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(directory / f"{name}-phone{suffix}.png"))
        finally:
            page.set_viewport_size(desktop)


def shoot_part(locator, name: str) -> None:
    """One part of a page (a card, a dialog), at its own size."""
    directory = _directory()
    if directory is not None:
        locator.screenshot(path=str(directory / f"{name}{_suffix(locator.page)}.png"))
