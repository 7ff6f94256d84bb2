"""End to end in real headless Chromium (Playwright) against the app served by hypercorn:
a new user sets the media path, runs a dry run on a generated library, filters the results,
runs a real-mode scan, confirms the deletion, checks the links are gone, restores one.

Screenshots of each tab, desktop and phone, go to ``$TOOLKIT_SCREENSHOT_DIR`` when set
(tests/screenshots.py)."""
from __future__ import annotations

import os
import re

import pytest
from screenshots import shoot

pytestmark = pytest.mark.browser




def wait_for_scan_end(page) -> None:
    page.wait_for_selector('.sl-scan[data-status="completed"]', timeout=30_000)
    page.wait_for_selector("#sl-results table, #sl-results .tk-empty", timeout=15_000)


def test_walk_scan_filter_delete_restore(toolkit_server, browser_page, library, tmp_path):
    page = browser_page
    from playwright.sync_api import expect
    page.goto(f"{toolkit_server}/symlink")

    # Dashboard: a new user is told the media path is missing, and there is no history yet.
    expect(page.locator("#tab-dashboard")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text("No scan yet")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("does not exist")

    # Settings: set the media path; autosave says so; reload keeps the tab (it is in the URL).
    page.get_by_role("tab", name="Settings").click()
    expect(page).to_have_url(re.compile(r"tab=settings"))
    media_input = page.locator('input[name="media_path"]')
    media_input.fill(str(tmp_path / "missing"))
    media_input.dispatch_event("change")
    expect(page.locator("#sl-save-state")).to_have_attribute("data-state", "error")
    expect(page.locator("#err-media_path")).to_contain_text("does not exist")
    media_input.fill(str(library.media))
    media_input.dispatch_event("change")
    expect(page.locator("#sl-save-state")).to_have_attribute("data-state", "saved")
    shoot(page, "symlink-settings")
    page.reload()
    expect(page.locator("#tab-settings")).to_have_attribute("aria-selected", "true")
    expect(page.locator('input[name="media_path"]')).to_have_value(str(library.media))

    # Keyboard: arrow keys move between tabs, Enter opens one.
    page.locator("#tab-settings").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#tab-schedules")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#tab-scanner")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"tab=scanner"))

    # Scanner: folders with their link counts (computed in the background), select all.
    expect(page.locator("#dir-tree")).to_contain_text("Show 3")
    expect(page.locator("#dir-tree .sl-count[data-count]")).to_have_count(4, timeout=15_000)
    page.locator("#sl-select-all").check()
    expect(page.locator(".sl-dir:checked")).to_have_count(4)
    page.locator("#sl-start").click()
    wait_for_scan_end(page)
    expect(page.locator("#sl-total")).to_have_text(str(len(library.healthy + library.problems + library.sidecars)))
    shoot(page, "symlink-scanner")

    # Filter the results by type.
    rows = page.locator(".sl-problems tbody tr")
    expect(rows).to_have_count(len(library.problems))
    page.locator("#sl-filter-status").select_option("BROKEN")
    expect(rows).to_have_count(len(library.broken))
    for row in rows.all():
        expect(row).to_have_attribute("data-status", "BROKEN")
    assert all(os.path.islink(p) for p in library.problems)  # a dry run deletes nothing

    # Back to the dashboard with the browser's back button: the history shows the scan.
    page.get_by_role("tab", name="Dashboard").click()
    expect(page.locator(".sl-history tbody tr")).to_have_count(1)
    page.go_back()
    expect(page).to_have_url(re.compile(r"tab=scanner"))
    page.get_by_role("tab", name="Dashboard").click()

    # A real-mode scan of the whole media path: nothing is deleted before the confirmation.
    page.get_by_role("link", name="New scan").click()
    root = page.locator(".sl-root .sl-dir")
    root.check()
    page.locator('input[name="mode"][value="real"]').check()
    page.locator("#sl-start").click()
    wait_for_scan_end(page)
    assert all(os.path.islink(p) for p in library.problems)
    page.locator("#sl-review-delete").click()
    dialog = page.locator("#sl-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Delete {len(library.problems)} symlinks?")
    for problem in library.problems:
        expect(dialog).to_contain_text(str(problem))
    shoot(page, "symlink-confirm")
    page.locator("#sl-confirm-delete").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".sl-deletion-done")).to_contain_text(f"{len(library.problems)} deleted", timeout=30_000)
    expect(page.locator(".sl-restore")).to_have_count(len(library.problems))
    assert not any(os.path.lexists(p) for p in library.problems)
    assert all(os.path.islink(p) for p in library.healthy + library.sidecars)
    shoot(page, "symlink-deleted", phone=False)

    # Restore one link from the journal.
    first_row = page.locator(".sl-problems tbody tr").first
    restored_path = first_row.get_attribute("data-path")
    first_row.locator(".sl-restore").click()
    expect(first_row).to_contain_text("restored")
    assert os.path.islink(restored_path)

    # The dashboard's history now holds both scans, the newest first.
    page.get_by_role("tab", name="Dashboard").click()
    history = page.locator(".sl-history tbody tr")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("real")
    expect(history.first).to_contain_text(f"{len(library.problems)} deleted")
    shoot(page, "symlink-dashboard")


def test_phone_sized_screen_keeps_every_tab_usable(toolkit_server, browser_page, media_env, tmp_path):
    page = browser_page
    from playwright.sync_api import expect
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{toolkit_server}/symlink?tab=scanner")
    expect(page.locator("#sl-start")).to_be_visible()
    expect(page.locator("#dir-tree")).to_contain_text("Show 1")
    expect(page.locator("#dir-tree .sl-count[data-count]")).to_have_count(4, timeout=15_000)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways on a phone ({width}px)"


def test_a_failed_request_is_reported_not_silent(toolkit_server, browser_page, media_env):
    page = browser_page
    from playwright.sync_api import expect
    page.goto(f"{toolkit_server}/symlink?tab=scanner")
    expect(page.locator("#dir-tree")).to_contain_text("Show 1")
    # a fragment URL that does not exist: the server answers 404
    page.evaluate("htmx.ajax('GET', '/symlink/scans/nope/deletion-missing', '#scan-area')")
    expect(page.locator("#sl-toast")).to_be_visible()
    expect(page.locator("#sl-toast")).to_contain_text("Error 404")
