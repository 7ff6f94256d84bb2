"""The symlink page as a person reads it, in real headless Chromium (Playwright) against the
app served by hypercorn: each test walks one of the defects found by using the page and
checks the text on screen, not only that an element exists."""
from __future__ import annotations

import os
import re

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def expect():
    return pytest.importorskip("playwright.sync_api").expect


def change(page, field, value: str) -> None:
    """Type a value as a person does and wait for the autosave's answer."""
    field.fill(value)
    with page.expect_response(re.compile(r"/symlink/settings(/notifications)?$")):
        field.dispatch_event("change")


def real_scan(page, url: str, expect) -> str:
    """A real-mode basic scan of the whole media path from the Scanner tab; its id."""
    page.goto(f"{url}/symlink?tab=scanner")
    page.locator(".sl-root .sl-dir").check()
    page.locator('input[name="mode"][value="real"]').check()
    page.locator("#sl-start").click()
    expect(page.locator('.sl-scan[data-status="completed"]')).to_be_visible(timeout=30_000)
    expect(page.locator("#sl-results table")).to_be_visible()
    return re.search(r"scan=([\w-]+)", page.url).group(1)


def test_the_deletion_dialog_says_each_links_type_and_why(toolkit_server, browser_page, media_env, expect):
    page = browser_page
    real_scan(page, toolkit_server, expect)
    page.locator("#sl-review-delete").click()
    dialog = page.locator("#sl-dialog")
    expect(dialog).to_contain_text(f"Delete {len(media_env.problems)} symlinks?")
    expect(dialog).not_to_contain_text("XXX")
    for link in media_env.broken:
        row = dialog.locator(f'tr[data-path="{link}"]')
        expect(row.locator("td").nth(1)).to_have_text("BROKEN")
        expect(row.locator("td").nth(2)).to_contain_text("target missing")
    for link in media_env.small:
        row = dialog.locator(f'tr[data-path="{link}"]')
        expect(row.locator("td").nth(1)).to_have_text("SMALL_FILE")
        expect(row.locator("td").nth(2)).to_contain_text("100 bytes")


def test_an_empty_selection_never_becomes_all(toolkit_server, browser_page, media_env, expect):
    page = browser_page
    scan_id = real_scan(page, toolkit_server, expect)
    button = page.locator("#sl-delete-selected")
    expect(button).to_be_disabled()
    expect(page.locator("#sl-picked-count")).to_have_text("Tick the links to delete only some of them.")
    picks = page.locator(".sl-pick")
    picks.nth(0).check()
    picks.nth(1).check()
    expect(page.locator("#sl-picked-count")).to_have_text("2 links ticked.")
    expect(button).to_be_enabled()
    picks.nth(1).uncheck()
    expect(page.locator("#sl-picked-count")).to_have_text("1 link ticked.")
    button.click()
    dialog = page.locator("#sl-dialog")
    expect(dialog.locator("h2")).to_have_text("Delete 1 symlink?")
    dialog.get_by_role("button", name="Cancel").click()

    # the server refuses an empty selection too, whatever the page sends
    shown = page.request.get(f"{toolkit_server}/symlink/scans/{scan_id}/confirm?picked=1",
                             headers={"HX-Request": "true"}).text()
    assert "Tick the links to delete first." in shown and "Delete " not in shown
    refused = page.request.post(f"{toolkit_server}/symlink/scans/{scan_id}/delete",
                                form={"picked": "1", "token": ""}).text()
    assert "Tick the links to delete first." in refused
    assert all(os.path.islink(p) for p in media_env.problems)


def test_a_wrong_setting_says_not_saved_and_later_fields_still_save(toolkit_server, browser_page, tmp_path, expect):
    page = browser_page
    page.goto(f"{toolkit_server}/symlink?tab=settings")
    state = page.locator("#sl-save-state")
    expect(state).to_have_text("Changes are saved automatically.")
    workers = page.locator('input[name="max_workers"]')
    change(page, workers, "0")
    expect(state).to_contain_text("Not saved")
    expect(page.locator("#err-max_workers")).to_have_text("Input should be greater than or equal to 1")
    host = page.locator('input[name="sonarr_host"]')
    change(page, host, "sonarr.lan")
    # still not saved: the wrong field is still there, and said so
    expect(page.locator("#err-max_workers")).to_have_text("Input should be greater than or equal to 1")
    expect(state).to_contain_text("Not saved")
    expect(state).to_contain_text("the other settings are saved")
    media = page.locator('input[name="media_path"]')
    change(page, media, "relative/path")
    expect(page.locator("#err-media_path")).to_have_text("must be an absolute path (starting with /)")
    change(page, media, str(tmp_path))
    expect(page.locator("#err-media_path")).to_have_text("")
    change(page, workers, "4")
    expect(state).to_have_text("Saved ✓")
    expect(page.locator("#err-max_workers")).to_have_text("")
    page.reload()
    expect(page.locator('input[name="sonarr_host"]')).to_have_value("sonarr.lan")
    expect(page.locator('input[name="max_workers"]')).to_have_value("4")


def test_test_connection_answers_every_click(toolkit_server, browser_page, expect):
    from toolkit.testing import free_port

    page = browser_page
    page.goto(f"{toolkit_server}/symlink?tab=settings")
    test = page.locator("#sl-test-sonarr")
    result = page.locator("#sl-test-result-sonarr")
    test.click()
    expect(result).to_contain_text("Sonarr is not configured")
    expect(page.locator("#sl-save-state")).to_have_text("Changes are saved automatically.")
    section = page.locator("section", has=test)
    section.locator('input[name="sonarr_enabled"][type="checkbox"]').check()
    for name, value in (("sonarr_host", "127.0.0.1"), ("sonarr_port", str(free_port()))):
        change(page, section.locator(f'input[name="{name}"]'), value)
    expect(page.locator("#sl-save-state")).to_have_text("Saved ✓")
    test.click()
    expect(result).to_have_text("✗ Sonarr is enabled but api_key is empty")  # said plainly
    change(page, section.locator('input[name="sonarr_api_key"]'), "0123456789abcdef")
    expect(page.locator("#sl-save-state")).to_have_text("Saved ✓")
    test.click()  # the third click is answered, and the stale "not configured" goes
    expect(result).not_to_contain_text("not configured")
    expect(result).to_contain_text("✗")
    expect(result).to_contain_text("127.0.0.1")
    result.evaluate("node => node.textContent = ''")
    test.click()  # and a fourth
    expect(result).to_contain_text("127.0.0.1")
