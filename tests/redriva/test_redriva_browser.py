"""In real headless Chromium: open Redriva's page, follow "🔗 Symlink" from Redriva's menu to
the toolkit (inside Redriva's own layout), and come back to Redriva.

Screenshots go to ``$TOOLKIT_SCREENSHOT_DIR`` when set (tests/screenshots.py)."""
from __future__ import annotations

import re

import pytest
from screenshots import shoot

pytestmark = pytest.mark.browser

REDRIVA_HEADER_BG = "rgb(44, 62, 80)"  # #2c3e50




def background(locator) -> str:
    return locator.evaluate("element => getComputedStyle(element).backgroundColor")


def test_redriva_to_symlink_and_back(mounted, browser_page):
    """The seed era's header, with the documented menu include."""
    page = browser_page
    from playwright.sync_api import expect
    page.goto(mounted + "/torrents")
    expect(page.locator(".nav h1")).to_have_text("🚀 Redriva Web")
    assert background(page.locator(".header")) == REDRIVA_HEADER_BG
    shoot(page, "redriva-menu", phone=False, language="en")

    page.locator(".nav").get_by_role("link", name="🔗 Symlink").click()
    expect(page).to_have_url(mounted + "/symlink")
    expect(page.get_by_role("heading", name="🔗 Symlink manager")).to_be_visible()
    # Redriva's own header, styles and menu around the toolkit's page
    expect(page.locator(".nav h1")).to_have_text("🚀 Redriva Web")
    assert background(page.locator(".header")) == REDRIVA_HEADER_BG
    # the toolkit's htmx tabs still work inside Redriva's page
    page.get_by_role("tab", name="Settings").click()
    expect(page).to_have_url(re.compile(r"/symlink\?tab=settings$"))
    shoot(page, "redriva-symlink", phone=False, language="en")

    page.locator(".nav").get_by_role("link", name="📁 Torrents").click()
    expect(page).to_have_url(mounted + "/torrents")
    expect(page.locator("td.torrent-name").first).to_have_text("Show.S01E01.mkv")

    page.locator(".nav").get_by_role("link", name="🔗 Symlink").click()
    page.locator(".nav").get_by_role("link", name="🏠 Dashboard").click()
    expect(page).to_have_url(mounted + "/")
    expect(page.get_by_role("heading", name="📊 Dashboard")).to_be_visible()


def test_todays_redriva_menu_leads_to_the_toolkit(mounted_today, browser_page):
    """Today's header links /symlink itself: no change to Redriva, and the toolkit's page is
    one of Redriva's — its menu marks the current link, its hamburger opens on a phone."""
    page = browser_page
    from playwright.sync_api import expect
    page.goto(mounted_today + "/")
    page.locator(".nav-links").get_by_role("link", name="🔗 Symlink").click()
    expect(page).to_have_url(mounted_today + "/symlink")
    expect(page.get_by_role("heading", name="🔗 Symlink manager")).to_be_visible()
    expect(page.locator(".nav-links a.active")).to_have_text("🔗 Symlink")  # Redriva's script
    assert background(page.locator(".header")) == REDRIVA_HEADER_BG
    page.get_by_role("tab", name="Scanner").click()
    expect(page).to_have_url(re.compile(r"/symlink\?tab=scanner$"))
    shoot(page, "redriva-today-symlink", language="en")

    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator(".nav-links")).to_be_hidden()
    page.get_by_role("button", name="Toggle navigation").click()
    expect(page.locator(".nav-links").get_by_role("link", name="⚙️ Settings")).to_be_visible()
