"""The user story in real headless Chromium against the app served by hypercorn: set a
nightly dry-run scan, give a notification URL, press Test, and the message arrives.

Screenshots go to ``$TOOLKIT_SCREENSHOT_DIR`` when set (tests/screenshots.py)."""
from __future__ import annotations

import re

import pytest
from screenshots import shoot_part

pytestmark = pytest.mark.browser




def test_set_a_nightly_dry_run_and_a_phone_notification(toolkit_server, browser_page, media_env, inbox):
    page = browser_page
    from playwright.sync_api import expect
    # Each section is opened by its URL: a full load means htmx has set up every form before
    # the test types (a tab swapped in by htmx gets its listeners a moment after it shows).
    page.goto(f"{toolkit_server}/symlink?tab=schedules")
    expect(page.locator("#tab-schedules")).to_have_attribute("aria-selected", "true")

    # Schedules: a nightly dry run of the whole library.
    form = page.locator("#sl-schedule-form")
    frequency = form.locator('select[name="frequency"]')
    frequency.select_option("weekly")
    expect(form.locator('select[name="weekday"]')).to_be_visible()  # the fields follow the frequency
    frequency.select_option("cron")
    expect(form.locator('input[name="cron"]')).to_be_visible()
    form.locator('input[name="cron"]').fill("every night")
    form.get_by_role("button", name="Save schedule").click()
    expect(page.locator("#sched-err-cron")).to_contain_text("not a valid cron expression")
    # htmx sets up swapped-in content when it removes "htmx-added" (after its settle delay)
    expect(page.locator(".htmx-added")).to_have_count(0)
    page.locator('#sl-schedule-form select[name="frequency"]').select_option("daily")
    page.locator('#sl-schedule-form input[name="time"]').fill("02:00")
    expect(page.locator('#sl-schedule-form input[name="mode"][value="dry-run"]')).to_be_checked()
    page.locator("#sl-schedule-form").get_by_role("button", name="Save schedule").click()
    expect(page.locator(".sl-flash")).to_contain_text("Schedule “nightly” saved: daily at 02:00, next run")
    row = page.locator('tr[data-schedule="nightly"]')
    expect(row).to_contain_text("daily at 02:00")
    expect(row.locator(".sl-next-run")).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d 02:00"))
    expect(row.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    shoot_part(page.locator("#symlink-panel"), "symlink-schedules")

    # Settings › Notifications: the phone's URL (here a webhook on 127.0.0.1), autosaved, then Test.
    page.goto(f"{toolkit_server}/symlink?tab=settings")
    urls = page.locator('#sl-notifications textarea[name="urls"]')
    urls.fill(inbox.url)
    urls.dispatch_event("change")
    expect(page.locator("#sl-notify-state")).to_have_attribute("data-state", "saved")
    page.get_by_role("button", name="Send a test").click()
    expect(page.locator("#sl-notify-test-result")).to_contain_text("Sent to 1 target", timeout=20_000)
    (message,) = inbox.wait_for(1)
    assert message["title"] == "Redriva Toolkit: test"
    assert message["message"].splitlines()[-1] == f"{toolkit_server}/symlink?tab=settings"
    shoot_part(page.locator("#sl-notifications"), "symlink-notifications")

    page.reload()  # stored, and shown masked
    expect(page.locator('#sl-notifications textarea[name="urls"]')).to_have_value("********")
